/**
 * Booting a board: write the image to flash, verify it as the boot loader does, lay out RAM,
 * bring up the stack the image's profile describes and open the interface. The RAM in use
 * once the interface is up is the post-boot baseline every run must return to.
 */
import { TCP_CONG_LIST } from '../stack/ipv4/tcp-cong-list.js';
import { checkBootSysctl } from '../stack/ipv4/tcp-sysctl.js';
import { bootDefaultQdisc } from '../stack/sched/sch-api.js';
import type { Board, BootSection, Flash, ProgramReservation } from '../emulator/board.js';
import type { BoardConfig } from '../emulator/board-config.js';
import { parseImage, type ParsedImage } from '../emulator/flash-image.js';
import type { BoardRam, Region, SlabAllocator } from '../emulator/ram/board-ram.js';
import type { World } from '../emulator/world.js';
import type { NetDevice } from '../stack/core/netdevice.js';
import type { CostTable } from '../stack/kconfig/cost-table.js';
import { NetStack, STACK_STRUCTS } from '../stack/net-stack.js';
import type { FirmwareConfig } from './firmware.js';
import { checkBootImage } from './image-check.js';
import { missingStackSymbol } from '../stack/kconfig/kconfig.js';

export interface BootedBoard {
  role: string;
  board: Board;
  stack: NetStack;
  dev: NetDevice;
  image: ParsedImage;
  config: FirmwareConfig;
  memoryMap: Region[];
  initFreed: number;
  /** Heap pages in use after the stack is up and the interface open (rings allocated), in bytes. */
  baselineUsed: number;
  /** Bytes of live kernel objects at that point: the figure a leak check compares. */
  baselineObjects: number;
}

/** Why boot failed: `fit` is a profile that does not fit (exit 1); `needs` is a profile without
 * the networking every scenario drives (exit 1); `input` is a bad image (exit 2). */
export type BootFailure = { error: string; kind: 'fit' | 'needs' | 'input' };


/** Read the image back from flash as the boot loader does: its own header gives its length. */
function readFlash(flash: Flash): ParsedImage | { error: string } {
  if (flash.length < 12) return { error: 'flash image: flash too small' };
  const head = flash.read(0, 12);
  // Erased flash reads 0xff: without the magic there is no image to take a length from.
  if (head[0] !== 0x51 || head[1] !== 0x4c || head[2] !== 0x46 || head[3] !== 0x57) return { error: 'flash image: no image in flash (no "QLFW" magic at offset 0)' };
  const length = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(8, true);
  if (length > flash.length) return { error: `flash image: header says ${length} bytes, larger than the ${flash.length}-byte flash` };
  return parseImage(flash.read(0, length));
}

export function bootBoard(
  world: World,
  role: string,
  boardConfig: BoardConfig,
  image: Uint8Array,
  table: CostTable,
  programs: readonly ProgramReservation[],
): BootedBoard | BootFailure {
  const noSize = STACK_STRUCTS.filter((n) => typeof table.structs[n] !== 'number');
  if (noSize.length > 0) {
    return { error: `${table.source}: no struct sizes for ${noSize.join(', ')} (add pahole output for them, or calibrate with --base-defaults)`, kind: 'input' };
  }
  const board = world.addBoard(role, boardConfig);
  const flashError = board.flashImage(image);
  if (flashError) return { error: flashError, kind: 'fit' };
  const parsed = readFlash(board.flash);
  if ('error' in parsed) return { error: parsed.error, kind: 'input' };
  if (parsed.board !== boardConfig.name) {
    return { error: `flash image was built for board ${parsed.board}, not ${boardConfig.name}`, kind: 'input' };
  }
  const config = checkBootImage(parsed, boardConfig, table);
  if ('error' in config) return { error: config.error, kind: 'input' };
  const missing = missingStackSymbol(config.enabled);
  if (missing) {
    const what = missing === 'NET' ? 'no network stack' : 'no IPv4';
    return { error: `profile ${parsed.profile} has CONFIG_${missing} off: ${what}, so nothing the scenario sends can leave ${boardConfig.name}`, kind: 'needs' };
  }
  const sections: BootSection[] = parsed.sections.map((s) => ({ name: s.name, kind: s.kind, size: s.length, bytes: s.kind === 'bss' ? undefined : s.payload }));
  const booted = board.boot(sections, programs, `profile ${parsed.profile}`, slabAllocator(config.enabled));
  if (!booted.ok) return { error: booted.error, kind: 'fit' };
  if (boardConfig.sysctl) {
    const bad = checkBootSysctl(boardConfig.sysctl, TCP_CONG_LIST.map((c) => c.name));
    if (bad) return { error: `board ${boardConfig.name}: ${bad}`, kind: 'input' };
    const qdisc = bootDefaultQdisc(new Set(config.enabled), boardConfig.sysctl);
    if ('error' in qdisc) return { error: `board ${boardConfig.name}: ${qdisc.error}`, kind: 'input' };
  }
  let stack: NetStack;
  try {
    stack = new NetStack({
      name: role,
      sim: world.sim,
      cpu: board.cpu,
      mem: board.ram,
      rng: board.rng.split('stack'),
      config: new Set(config.enabled),
      structs: table.structs,
      sysctl: boardConfig.sysctl,
    });
  } catch (e) {
    // Only boot-time allocations throw (Linux panics there too); report it as not fitting.
    return { error: `profile ${parsed.profile} on ${boardConfig.name}: ${(e as Error).message}`, kind: 'fit' };
  }
  const dev = stack.registerNetdev(board.mac, { napiWeight: boardConfig.mac.napiWeight, rxFrameBytes: boardConfig.mac.rxBufferBytes });
  if (!stack.devOpen(dev)) {
    return { error: `profile ${parsed.profile} on ${boardConfig.name}: not enough RAM to open ${dev.name} (RX ring of ${boardConfig.mac.rxRingSize} buffers)`, kind: 'fit' };
  }
  return { role, board, stack, dev, image: parsed, config, memoryMap: booted.regions, initFreed: booted.initFreed, baselineUsed: board.ram.usage().usedBytes, baselineObjects: liveObjectBytes(board.ram) };
}

/** The slab allocator the image's kernel was built with: SLUB when chosen, else SLOB (the
 * choice's default; checkBootImage has already held the image to exactly one of them). */
export function slabAllocator(enabled: readonly string[]): SlabAllocator {
  return enabled.includes('SLUB') ? 'slub' : 'slob';
}

/**
 * Bytes held by live kernel objects: every slab object in use at its slot size, plus
 * whole-page allocations. Unlike pages in use this does not move with slab fragmentation
 * (a half-empty slab page stays allocated), so it is what a leak shows in.
 */
export function liveObjectBytes(ram: BoardRam): number {
  return ram.liveObjectBytes();
}

/** RAM reservations for the named programs, from the board's documented defaults. */
export function programReservations(board: BoardConfig, names: readonly string[]): ProgramReservation[] {
  return names.map((name) => ({ name, ...board.programDefaults }));
}
