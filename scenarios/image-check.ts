/**
 * What the boot loader and the kernel's own start-up checks would refuse in an image whose CRCs
 * are all good: a config section that does not describe a configuration Kconfig could produce,
 * sizes from another cost table, and sections missing, extra or of the wrong size for the
 * profile the config section names.
 *
 * The CRCs (emulator/flash-image.ts) prove the bytes are the ones written; this proves they are
 * the image of the profile they claim to be. Rebuilding the expected section list from the cost
 * table is exactly what `image build` does (scenarios/firmware.ts, firmwareSections), so a
 * hand-made or edited image — 258 bytes with nothing but a config section, a symbol Linux does
 * not have, INET_DIAG without NETLINK, a stack section shrunk to fit — is caught before any of
 * it is loaded. Every problem is one line starting "flash image:", as parse errors are.
 */
import type { BoardConfig } from '../emulator/board-config.js';
import { readConfigSection, type ParsedImage, type ParsedSection } from '../emulator/flash-image.js';
import { costTableHash, type CostTable } from '../stack/kconfig/cost-table.js';
import { checkEnabledSymbols, clip } from '../stack/kconfig/kconfig.js';
import { SYMBOLS } from '../stack/kconfig/symbols.js';
import { firmwareSections, type FirmwareConfig } from './firmware.js';

export function checkBootImage(
  parsed: ParsedImage,
  board: Pick<BoardConfig, 'name' | 'kernelCore'>,
  table: CostTable,
): FirmwareConfig | { error: string } {
  const fail = (msg: string): { error: string } => ({ error: `flash image: ${msg}` });
  const configs = parsed.sections.filter((s) => s.kind === 'config');
  if (configs.length !== 1 || configs[0]!.name !== 'config') {
    return fail(`expected one config section named "config", found ${configs.length === 0 ? 'none' : configs.map((s) => s.name).join(', ')}`);
  }
  const cfg = readConfigSection(parsed);
  if ('error' in cfg) return cfg;
  const v = cfg.value;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('config section is not a map');
  const c = v as Record<string, unknown>;
  for (const key of ['board', 'profile', 'kernelCore', 'costTable'] as const) {
    if (typeof c[key] !== 'string') return fail(`config section has no ${key} string`);
  }
  if (!Array.isArray(c['enabled'])) return fail('config section has no enabled symbol list');
  const config: FirmwareConfig = {
    board: c['board'] as string,
    profile: c['profile'] as string,
    enabled: c['enabled'] as string[],
    kernelCore: c['kernelCore'] as string,
    costTable: c['costTable'] as string,
  };
  if (config.board !== parsed.board) return fail(`config section says board ${clip(config.board)}, the header says ${parsed.board}`);
  if (config.profile !== parsed.profile) return fail(`config section says profile ${clip(config.profile)}, the header says ${parsed.profile}`);
  if (config.kernelCore !== board.kernelCore) {
    return fail(`built on kernel core ${clip(config.kernelCore)}, board ${board.name} boots ${board.kernelCore}`);
  }
  const symbolProblem = checkEnabledSymbols(config.enabled);
  if (symbolProblem) return fail(`config section: ${symbolProblem}`);
  const hash = costTableHash(table);
  if (config.costTable !== hash) {
    return fail(
      `sized by cost table ${clip(config.costTable).slice(0, 16)}…, not by ${table.source} (${hash.slice(0, 16)}…); ` +
        'rebuild the image or pass the table it was built with (--costs)',
    );
  }

  const on = new Set(config.enabled);
  const symbols: Record<string, boolean> = {};
  for (const s of SYMBOLS) symbols[s.name] = on.has(s.name);
  const expected = firmwareSections(board, { name: config.profile, symbols }, table);
  if ('error' in expected) return fail(expected.error);
  const byName = new Map<string, ParsedSection>(parsed.sections.map((s) => [s.name, s]));
  for (const want of expected.sections) {
    const got = byName.get(want.name);
    if (!got) return fail(`no section ${want.name}: profile ${config.profile} with this cost table has a ${want.size}-byte ${want.kind} section there`);
    if (got.kind !== want.kind) return fail(`section ${want.name} is ${got.kind}, expected ${want.kind}`);
    if (got.length !== want.size) return fail(`section ${want.name} is ${got.length} bytes, the cost table it was built with says ${want.size}`);
  }
  const known = new Set(expected.sections.map((s) => s.name));
  const extra = parsed.sections.find((s) => s.kind !== 'config' && !known.has(s.name));
  if (extra) return fail(`section ${extra.name} is not part of profile ${config.profile} (its symbol is not enabled, or no such symbol)`);
  return config;
}

