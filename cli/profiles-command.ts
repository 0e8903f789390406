/** `quarklab profiles`: the built-in profiles with their flash and RAM cost on a board. */
import { parseArgs } from 'node:util';
import { bootRequirement, MIN_HEAP_BYTES } from '../emulator/board.js';
import { programReservations } from '../scenarios/boot.js';
import { buildFirmware } from '../scenarios/firmware.js';
import { DEFAULT_SCENARIO, findScenario } from '../scenarios/registry.js';
import { DEFAULT_BOARD, resolveBoard, resolveCostTable } from '../scenarios/inputs.js';
import { builtinProfiles } from '../stack/kconfig/profiles.js';
import { profileCost } from '../stack/kconfig/cost-table.js';
import { ltoEstimate } from '../scripts/lto.js';
import { formatBytes } from '../traces/budgets.js';
import { fail, write } from './output.js';

export const PROFILES_HELP = `usage: quarklab profiles [--board B] [--costs FILE]

List the built-in profiles with their stack's text, data and bss (sums of the calibrated
objects), the image size, and the RAM the kernel, driver and stack take on the board at boot.`;

export function profilesCommand(args: string[]): number {
  const { values } = parseArgs({ args, options: { board: { type: 'string' }, costs: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    write(PROFILES_HELP);
    return 0;
  }
  const board = resolveBoard(values.board ?? DEFAULT_BOARD);
  if ('error' in board) fail(board.error);
  const table = resolveCostTable(values.costs);
  if ('error' in table) fail(table.error);
  write(`board ${board.name}: ${formatBytes(board.ramBytes)} RAM, ${formatBytes(board.flashBytes)} flash, kernel core '${board.kernelCore}'${board.executeInPlace ? ', execute in place' : ''}`);
  // Spare RAM is counted as boot counts it: every section (init ones too, freed only after
  // boot), the default scenario's programs, and the minimum heap the kernel needs.
  const scenario = findScenario(DEFAULT_SCENARIO);
  const programs = 'error' in scenario ? [] : programReservations(board, scenario.dutPrograms);
  write(`${'profile'.padEnd(9)} ${'stack text'.padStart(11)} ${'data'.padStart(8)} ${'bss'.padStart(7)} ${'image'.padStart(11)} ${'RAM at boot'.padStart(12)} ${'spare at boot'.padStart(14)}  symbols`);
  for (const p of builtinProfiles()) {
    const fw = buildFirmware(board, p, table);
    if ('error' in fw) fail(fw.error);
    const need = bootRequirement(board, fw.sections, programs);
    const spare = board.ramBytes - need - MIN_HEAP_BYTES;
    const t = fw.stack.total;
    write(`${p.name.padEnd(9)} ${String(t.text).padStart(11)} ${String(t.data).padStart(8)} ${String(t.bss).padStart(7)} ${formatBytes(fw.image.length).padStart(11)} ${formatBytes(need).padStart(12)} ${(spare < 0 ? `short ${formatBytes(-spare)}` : formatBytes(spare)).padStart(14)}  ${p.enabled.join(' ')}`);
  }
  write(`text after LTO: ${builtinProfiles().map((p) => `${p.name}: ${ltoEstimate(p, profileCost(p, table).total.text).note}`).join('; ')}`);
  write(`RAM at boot: kernel, driver and stack sections (init included) and the default scenario's programs (${programs.map((x) => x.name).join(', ') || 'none'}); spare at boot: what is left after them and the ${formatBytes(MIN_HEAP_BYTES)} minimum heap.`);
  return 0;
}
