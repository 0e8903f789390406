/** `quarklab profiles`: the built-in profiles with their flash and RAM cost on a board. */
import { parseArgs } from 'node:util';
import { buildFirmware } from '../scenarios/firmware.js';
import { DEFAULT_BOARD, resolveBoard, resolveCostTable } from '../scenarios/inputs.js';
import { builtinProfiles } from '../stack/kconfig/profiles.js';
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
  write(`${'profile'.padEnd(9)} ${'stack text'.padStart(11)} ${'data'.padStart(8)} ${'bss'.padStart(7)} ${'image'.padStart(11)} ${'RAM at boot'.padStart(12)} ${'left of RAM'.padStart(12)}  symbols`);
  for (const p of builtinProfiles()) {
    const fw = buildFirmware(board, p, table);
    if ('error' in fw) fail(fw.error);
    const resident = fw.sections.reduce((s, x) => s + (x.kind === 'config' || x.kind === 'init' || (x.kind === 'text' && board.executeInPlace) ? 0 : Math.ceil(x.size / 4096) * 4096), 0);
    const t = fw.stack.total;
    write(`${p.name.padEnd(9)} ${String(t.text).padStart(11)} ${String(t.data).padStart(8)} ${String(t.bss).padStart(7)} ${formatBytes(fw.image.length).padStart(11)} ${formatBytes(resident).padStart(12)} ${formatBytes(board.ramBytes - resident).padStart(12)}  ${p.enabled.join(' ')}`);
  }
  return 0;
}
