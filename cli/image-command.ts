/** `quarklab image build|inspect`. */
import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeImage, MAX_IMAGE_BYTES, parseImage } from '../emulator/flash-image.js';
import { checkBootImage } from '../scenarios/image-check.js';
import { buildFirmware } from '../scenarios/firmware.js';
import { DEFAULT_BOARD, DEFAULT_PROFILE, resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { formatBytes } from '../traces/budgets.js';
import { readInputFile } from '../scenarios/input-files.js';
import { fail, write } from './output.js';
import { checkOutputFile } from './output-place.js';

export const IMAGE_HELP = `usage: quarklab image build [--board B] [--profile P] [--costs FILE] -o FILE
       quarklab image inspect FILE [--board B] [--costs FILE]

build    write the firmware image for a board and profile: kernel core, the board's MAC
         driver, and each enabled Kconfig symbol's text, data and bss as its own section,
         plus the profile as msgpack; every section carries a CRC-32 (docs/image-format.md).
         Exit 1 when the image is larger than the board's flash.
inspect  verify the image as boot does and print the layout: every CRC, then the config
         section (known symbols, dependencies met), the cost table it was sized by (its
         SHA-256 is recorded; --costs names the table to check against, default the shipped
         calibration) and every section present with the size that table gives. The board
         defaults to the one the header names. Exit 2, one line, when any of it fails.`;

export function imageCommand(args: string[]): number {
  const [sub, ...rest] = args;
  if (sub === undefined) fail('missing subcommand (build or inspect)');
  if (sub === '-h' || sub === '--help') {
    write(IMAGE_HELP);
    return 0;
  }
  if (sub === 'build') return build(rest);
  if (sub === 'inspect') return inspect(rest);
  fail(`unknown image command "${sub}" (build or inspect)`);
}

function build(args: string[]): number {
  const { values } = parseArgs({ args, options: { board: { type: 'string' }, profile: { type: 'string' }, costs: { type: 'string' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    write(IMAGE_HELP);
    return 0;
  }
  if (!values.output) fail('image build needs -o FILE');
  const place = checkOutputFile(values.output, '-o');
  if (place) fail(place.error);
  const board = resolveBoard(values.board ?? DEFAULT_BOARD);
  if ('error' in board) fail(board.error);
  const profile = resolveProfile(values.profile ?? DEFAULT_PROFILE);
  if ('error' in profile) fail(profile.error);
  const table = resolveCostTable(values.costs);
  if ('error' in table) fail(table.error);
  const fw = buildFirmware(board, profile, table);
  if ('error' in fw) fail(fw.error);
  // Written whole or not at all: a reader never sees half an image.
  const tmp = `${values.output}.quarklab-${process.pid}`;
  writeFileSync(tmp, fw.image);
  renameSync(tmp, values.output);
  const fits = fw.image.length <= board.flashBytes;
  write(`${values.output}: ${fw.image.length} bytes (${formatBytes(fw.image.length)}) for ${board.name} with profile ${profile.name}, ${fw.sections.length} sections; flash ${formatBytes(board.flashBytes)}: ${fits ? 'fits' : `does NOT fit, by ${fw.image.length - board.flashBytes} bytes`}`);
  return fits ? 0 : 1;
}

function inspect(args: string[]): number {
  const { values, positionals } = parseArgs({ args, options: { board: { type: 'string' }, costs: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  if (values.help) {
    write(IMAGE_HELP);
    return 0;
  }
  if (positionals.length !== 1) fail('image inspect takes one FILE');
  const file = positionals[0]!;
  const bytes = readInputFile(file, { what: 'firmware image', maxBytes: MAX_IMAGE_BYTES, maxWhy: `the largest image the format allows (${MAX_IMAGE_BYTES} bytes)` });
  if ('error' in bytes) fail(bytes.error);
  const parsed = parseImage(bytes);
  if ('error' in parsed) fail(`${file}: ${parsed.error}`);
  const board = resolveBoard(values.board ?? parsed.board);
  if ('error' in board) fail(`${file}: ${board.error}${values.board === undefined ? '; give --board FILE for an image built for a board file' : ''}`);
  if (board.name !== parsed.board) fail(`${file}: flash image was built for board ${parsed.board}, not ${board.name}`);
  const table = resolveCostTable(values.costs);
  if ('error' in table) fail(table.error);
  // The same checks boot makes, so inspect passes exactly the images run --image boots.
  const config = checkBootImage(parsed, board, table);
  if ('error' in config) fail(`${file}: ${config.error}`);
  write(describeImage(parsed));
  write(`config: ${JSON.stringify(config)}`);
  return 0;
}
