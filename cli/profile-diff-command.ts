/** `quarklab profile diff A B`: what separates two profiles, bloat-o-meter style. */
import { parseArgs } from 'node:util';
import { buildFirmware, type Firmware } from '../scenarios/firmware.js';
import { DEFAULT_BOARD, resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { run } from '../scenarios/run.js';
import { compareProfiles, compareRuntime, formatProfileDiff, type RuntimeSide } from '../scripts/profile-diff.js';
import type { Profile } from '../stack/kconfig/kconfig.js';
import { fail, write } from './output.js';

export const PROFILE_HELP = `usage: quarklab profile diff A B [--board B] [--costs FILE] [--scenario S] [--json]

Compare two profiles (built-in names full, client, minimal, or Kconfig fragment paths) on one
board, as Linux's scripts/bloat-o-meter compares two kernels, B against A (delta = B − A):

  flash       image bytes per Kconfig symbol (its text and data sections), plus the image's
              header and section table (96 + 48 bytes per section) and the config section as
              rows of their own, so the rows add up exactly to the difference of the images
  static RAM  RAM reserved at boot per symbol: text (unless the board executes in place),
              data and bss, each section rounded up to a 4 KiB page
  objects     per calibrated object, the text/data/bss that differ
  runtime     with --scenario: run it on each profile and compare peak heap use and each
              slab cache's peak pages

Symbols only one profile enables are listed even when they cost nothing (BASE_SMALL).
"text after LTO" uses a profile's measured '# lto-factor:' line, if it has one.

options:
  --board NAME|FILE   board (default ${DEFAULT_BOARD})
  --costs FILE        cost table from 'quarklab calibrate' (default: Linux 6.1 i386, measured)
  --scenario NAME     also run this scenario on each profile and compare runtime RAM
  --json              print the comparison as JSON
  --fail-over BYTES   exit 1 when B's image is larger than A's by more than BYTES (a CI gate)
  -h, --help          this help

exit codes: 0 the comparison was printed (and B grew by at most --fail-over); 1 B's image grew
by more than --fail-over bytes; 2 bad usage or input.`;

export function profileCommand(args: string[]): number {
  const [sub, ...rest] = args;
  if (sub === undefined) fail("missing subcommand (diff); 'quarklab profile --help' shows its usage");
  if (sub === '-h' || sub === '--help') {
    write(PROFILE_HELP);
    return 0;
  }
  if (sub === 'diff') return diff(rest);
  fail(`unknown profile command "${sub}" (diff; 'quarklab profiles' lists the built-in profiles)`);
}

function diff(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    options: {
      board: { type: 'string' },
      costs: { type: 'string' },
      scenario: { type: 'string' },
      json: { type: 'boolean' },
      'fail-over': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    write(PROFILE_HELP);
    return 0;
  }
  if (positionals.length !== 2) fail(`profile diff takes two profiles, A and B (got ${positionals.length})`);
  const failOver = values['fail-over'];
  if (failOver !== undefined && !/^[0-9]{1,12}$/.test(failOver)) fail(`--fail-over must be a whole number of bytes, got "${failOver}"`);
  const board = resolveBoard(values.board ?? DEFAULT_BOARD);
  if ('error' in board) fail(board.error);
  const table = resolveCostTable(values.costs);
  if ('error' in table) fail(table.error);
  const sides = positionals.map((name) => {
    const profile = resolveProfile(name);
    if ('error' in profile) fail(profile.error);
    const fw = buildFirmware(board, profile, table);
    if ('error' in fw) fail(fw.error);
    return { profile, fw };
  }) as [{ profile: Profile; fw: Firmware }, { profile: Profile; fw: Firmware }];

  const side = ({ profile, fw }: { profile: Profile; fw: Firmware }) => ({ profile, imageBytes: fw.image.length, sections: fw.sections, stack: fw.stack });
  const result = compareProfiles(side(sides[0]), side(sides[1]), {
    board: board.name,
    executeInPlace: board.executeInPlace,
    costTable: values.costs ?? 'calibration/linux-6.1-i386.json',
  });

  if (values.scenario !== undefined) {
    const scenario = values.scenario;
    const measure = (name: string): RuntimeSide => {
      const outcome = run({ board: values.board ?? DEFAULT_BOARD, profile: name, scenario, costTablePath: values.costs });
      if (outcome.exitCode === 2) fail(outcome.error ?? `scenario ${scenario}: bad input`);
      const report = outcome.report!;
      const dut = report.boards.find((b) => b.role === 'dut');
      if (!dut?.memory) {
        const why = report.checks.find((c) => !c.pass)?.detail ?? 'the board did not boot';
        return { memory: null, verdict: report.verdict, detail: `did not run: ${why}` };
      }
      const m = dut.memory;
      return { memory: { staticBytes: m.staticBytes, peakUsedBytes: m.peakUsedBytes, peakBytes: m.peakBytes, caches: m.caches }, verdict: report.verdict };
    };
    result.runtime = compareRuntime(scenario, measure(positionals[0]!), measure(positionals[1]!));
  }

  write(values.json ? JSON.stringify(result, null, 2) : formatProfileDiff(result));
  if (failOver !== undefined) {
    const grown = result.b.imageBytes - result.a.imageBytes;
    if (grown > Number(failOver)) {
      process.stderr.write(`quarklab profile diff: ${positionals[1]} is ${grown} bytes larger than ${positionals[0]} in flash, over --fail-over ${failOver}\n`);
      return 1;
    }
  }
  return 0;
}
