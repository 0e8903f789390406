/**
 * Firmware: the flash image for a board and a profile. The kernel core comes from the cost
 * table's measured build the board names, the MAC driver's objects belong to the board, and
 * each enabled Kconfig symbol contributes its objects' text, data and bss as sections of its
 * own, so the image is the real sum for that profile and `image inspect` shows where it goes.
 */
import type { BoardConfig } from '../emulator/board-config.js';
import { buildImage, configSection, type SectionSpec } from '../emulator/flash-image.js';
import { costTableHash, kernelCore, profileCost, type CostTable, type KernelCore, type ProfileCost, type SectionSizes } from '../stack/kconfig/cost-table.js';
import type { Profile } from '../stack/kconfig/kconfig.js';
import { driverObjects } from '../stack/kconfig/symbols.js';

/** What the image's config section holds: enough to boot the stack without the profile file. */
export interface FirmwareConfig {
  board: string;
  profile: string;
  enabled: string[];
  kernelCore: string;
  /** costTableHash of the table the section sizes came from (docs/image-format.md). */
  costTable: string;
}

export interface Firmware {
  image: Uint8Array;
  sections: SectionSpec[];
  core: KernelCore;
  driver: SectionSizes;
  stack: ProfileCost;
}

function addSizes(out: SectionSpec[], prefix: string, s: SectionSizes): void {
  if (s.text > 0) out.push({ name: `${prefix}.text`, kind: 'text', size: s.text });
  if (s.data > 0) out.push({ name: `${prefix}.data`, kind: 'data', size: s.data });
  if (s.bss > 0) out.push({ name: `${prefix}.bss`, kind: 'bss', size: s.bss });
}

export function driverCost(table: CostTable): SectionSizes {
  const sum: SectionSizes = { text: 0, data: 0, bss: 0 };
  for (const o of driverObjects) {
    const s = table.objects[o];
    if (!s) continue;
    sum.text += s.text;
    sum.data += s.data;
    sum.bss += s.bss;
  }
  return sum;
}

/** The image's sections for a board and a set of enabled symbols, sized from the table: what
 * buildFirmware writes and what boot (scenarios/image-check.ts) expects to find. */
export function firmwareSections(
  board: Pick<BoardConfig, 'name' | 'kernelCore'>,
  profile: Pick<Profile, 'name' | 'symbols'>,
  table: CostTable,
): { sections: SectionSpec[]; core: KernelCore; driver: SectionSizes; stack: ProfileCost } | { error: string } {
  const core = kernelCore(table, board.kernelCore);
  if ('error' in core) return { error: `${board.name}: kernelCore: ${core.error}` };
  const stack = profileCost(profile, table);
  const driver = driverCost(table);
  const initText = core.initSections['.init.text'] ?? 0;
  const initData = core.initSections['.init.data'] ?? 0;
  const sections: SectionSpec[] = [];
  // The kernel core: .init.* is loaded with it and freed after boot; .brk is returned at boot.
  addSizes(sections, 'kernel', { text: core.size.text - initText, data: core.size.data - initData, bss: core.size.bss - core.brk });
  if (core.init > 0) sections.push({ name: 'kernel.init', kind: 'init', size: core.init });
  addSizes(sections, 'driver:stmmac', driver);
  for (const s of stack.symbols) addSizes(sections, `net:${s.symbol}`, s);
  return { sections, core, driver, stack };
}

/**
 * Firmware a process has built, by what the image depends on (board name and kernel core,
 * profile name and symbols, cost table). A process that runs many cells — a `quarklab test`
 * worker, the test suite, a packetdrill suite — builds each image once. Images are never written
 * after they are built (flash keeps the buffer it is given; --flip-flash flips a copy), so
 * sharing one is safe. Bounded: the oldest entry goes when the map is full.
 */
const firmwareMemo = new Map<string, Firmware | { error: string }>();
const FIRMWARE_MEMO_ENTRIES = 16;

/** buildFirmware, built once per process for the same inputs (see firmwareMemo). */
export function cachedFirmware(board: BoardConfig, profile: Profile, table: CostTable): Firmware | { error: string } {
  const key = [board.name, board.kernelCore, profile.name, profile.enabled.join(','), costTableHash(table)].join('\0');
  let fw = firmwareMemo.get(key);
  if (!fw) {
    fw = buildFirmware(board, profile, table);
    if (firmwareMemo.size >= FIRMWARE_MEMO_ENTRIES) firmwareMemo.delete(firmwareMemo.keys().next().value!);
    firmwareMemo.set(key, fw);
  }
  return fw;
}

export function buildFirmware(board: BoardConfig, profile: Profile, table: CostTable): Firmware | { error: string } {
  const built = firmwareSections(board, profile, table);
  if ('error' in built) return built;
  const { sections, core, driver, stack } = built;
  const config: FirmwareConfig = {
    board: board.name,
    profile: profile.name,
    enabled: [...profile.enabled],
    kernelCore: board.kernelCore,
    costTable: costTableHash(table),
  };
  sections.push(configSection(config));
  const image = buildImage({ board: board.name, profile: profile.name, sections });
  return { image, sections, core, driver, stack };
}
