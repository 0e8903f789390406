// Test helpers that run Wireshark's command-line tools on captures we write.
// tshark is the reference reader our users have, so the capture tests depend
// on it and FAIL (never skip) when it is missing: CI installs it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TSHARK_MISSING =
  'tshark not found: install it (Debian/Ubuntu: apt-get install tshark, which also brings capinfos); ' +
  'CI installs it and these tests do not skip without it';

const TSHARK = process.env.TSHARK ?? 'tshark';
const CAPINFOS = process.env.CAPINFOS ?? 'capinfos';

export interface ToolResult {
  stdout: string;
  stderr: string;
  status: number;
}

function run(tool: string, args: string[]): ToolResult {
  // A fresh, empty personal configuration directory per run, so a developer's
  // Wireshark preferences (checksum checks, heuristics) cannot change results.
  const configDir = mkdtempSync(join(tmpdir(), 'quarklab-wireshark-'));
  try {
    // No shell: arguments (display filters, paths) are passed verbatim.
    const r = spawnSync(tool, args, {
      encoding: 'utf8',
      env: { ...process.env, WIRESHARK_CONFIG_DIR: configDir, LC_ALL: 'C' },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 30_000,
    });
    if (r.error !== undefined) {
      const code = (r.error as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `${tool}: ${TSHARK_MISSING}` : `${tool}: ${r.error.message}`);
    }
    return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
  } finally {
    rmSync(configDir, { recursive: true, force: true });
  }
}

function runOk(tool: string, args: string[]): string {
  const r = run(tool, args);
  if (r.status !== 0) {
    throw new Error(`${tool} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

export function hasTshark(): boolean {
  const r = spawnSync(TSHARK, ['--version'], { encoding: 'utf8' });
  return r.error === undefined && r.status === 0;
}

export function hasCapinfos(): boolean {
  const r = spawnSync(CAPINFOS, ['-h'], { encoding: 'utf8' });
  return r.error === undefined && r.status === 0;
}

/** Runs tshark; throws only if it cannot be started (e.g. not installed). */
export function tshark(args: string[]): ToolResult {
  return run(TSHARK, args);
}

/** Runs capinfos; throws only if it cannot be started. */
export function capinfos(args: string[]): ToolResult {
  return run(CAPINFOS, args);
}

/**
 * One row per displayed frame, one column per field; repeated occurrences of a
 * field in a frame are joined with ",". `extraArgs` is for "-o pref:value" or
 * "-X read_format:...". Throws if tshark exits non-zero.
 */
export function tsharkFields(file: string, fields: string[], filter?: string, extraArgs: string[] = []): string[][] {
  const args = ['-n', '-r', file, ...extraArgs, '-T', 'fields', '-E', 'separator=/t'];
  for (const f of fields) args.push('-e', f);
  if (filter !== undefined) args.push('-Y', filter);
  const out = runOk(TSHARK, args);
  return out.split('\n').filter((line) => line !== '').map((line) => line.split('\t'));
}

/** One frame of a tsharkPass: each field's text ("" when absent, occurrences joined with ","). */
export type TsharkRow = Readonly<Record<string, string>>;

/**
 * Everything a test reads from one capture in one tshark start (a start costs ~0.5 s of
 * dissector registration, however small the capture): one row per frame, every frame, keyed by
 * field name, for the test to pick rows in TypeScript where it would have started tshark again
 * with another -Y. frame.number is always printed first, so no row line is empty. With
 * `expert`, `-z expert` runs in the same pass: tshark prints the field rows, then the same text
 * `-q -z expert` prints, which begins with an empty line (the first one, as no row is empty).
 * Throws if tshark exits non-zero.
 */
export function tsharkPass(
  file: string,
  fields: readonly string[],
  opts: { extraArgs?: readonly string[]; expert?: boolean } = {},
): { rows: TsharkRow[]; expert: string } {
  const names = ['frame.number', ...fields.filter((f) => f !== 'frame.number')];
  const args = ['-n', '-r', file, ...(opts.extraArgs ?? []), '-T', 'fields', '-E', 'separator=/t'];
  for (const f of names) args.push('-e', f);
  if (opts.expert === true) args.push('-z', 'expert');
  const out = runOk(TSHARK, args);
  const cut = out.indexOf('\n\n');
  const expertAt = out.startsWith('\n') ? 0 : cut < 0 ? out.length : cut + 1;
  const rows = out.slice(0, expertAt).split('\n').filter((line) => line !== '').map((line) => {
    const cells = line.split('\t');
    // A line of another shape is expert text taken for a row: the split above went wrong.
    if (cells.length !== names.length) throw new Error(`tshark ${args.join(' ')}: not a row of ${names.length} fields: ${line}`);
    return Object.fromEntries(names.map((n, i) => [n, cells[i]!]));
  });
  return { rows, expert: out.slice(expertAt) };
}

/**
 * The occurrences of `field` in a tsharkPass row, [] when the frame lacks it: what a display
 * filter tests, as `f == v` in tshark 4.0 holds when ANY occurrence equals v. Throws when the
 * pass did not print the field, so a typo cannot pass for an absent field.
 */
export function values(row: TsharkRow, field: string): string[] {
  const v = row[field];
  if (v === undefined) throw new Error(`${field} is not a field of this tshark pass`);
  return v === '' ? [] : v.split(',');
}

/** The display filter `field == value` on a tsharkPass row (any occurrence; tshark prints booleans as 1/0). */
export const eq = (row: TsharkRow, field: string, value: string): boolean => values(row, field).includes(value);

/** The display filter `field` (the frame has it) on a tsharkPass row. */
export const present = (row: TsharkRow, field: string): boolean => values(row, field).length > 0;

/** The given fields of each row, in that order: the rows `tsharkFields` would have returned. */
export const columns = (rows: readonly TsharkRow[], fields: readonly string[]): string[][] => rows.map((r) => fields.map((f) => {
  if (r[f] === undefined) throw new Error(`${f} is not a field of this tshark pass`);
  return r[f];
}));

/** The display filter `proto` (e.g. `dns`, `udp`) on a tsharkPass row that printed frame.protocols. */
export const hasProtocol = (row: TsharkRow, proto: string): boolean => values(row, 'frame.protocols')[0]?.split(':').includes(proto) ?? false;

/** Text of `tshark -z expert -q`: sections Errors, Warns (tshark 4.0 spells it so), Notes, Chats, Comments. */
export function tsharkExpert(file: string, extraArgs: string[] = []): string {
  return runOk(TSHARK, ['-n', '-r', file, ...extraArgs, '-q', '-z', 'expert']);
}

/**
 * The fields that stand in for `tshark -z expert` in a fields pass, so one tshark start serves a
 * test's rows and its expert check. Append them to the field list and hand expertProblem() the
 * row with the index of the first.
 */
export const EXPERT_FIELDS = ['_ws.expert.severity', '_ws.expert.group', '_ws.malformed', '_ws.expert.message'] as const;

/** epan/proto.h: PI_ERROR severity, PI_MALFORMED group, as tshark prints them in fields. */
const PI_ERROR = String(0x800000);
const PI_MALFORMED = String(0x7000000);
/** epan/proto.h: PI_WARN, the severity "warning" names in a display filter. */
const PI_WARN = 0x600000;

/**
 * The display filter `_ws.malformed || _ws.expert.severity >= "warning"` on a tsharkPass row
 * that printed both fields (severities print as numbers).
 */
export const malformedOrWarning = (row: TsharkRow): boolean =>
  present(row, '_ws.malformed') || values(row, '_ws.expert.severity').some((s) => Number(s) >= PI_WARN);

/**
 * What /Malformed|Errors \(/ matched in `tshark -z expert`, read from EXPERT_FIELDS starting at
 * `at`: an item of severity PI_ERROR, of group PI_MALFORMED, the _ws.malformed protocol, or a
 * summary saying Malformed.
 */
export function expertProblem(row: readonly string[], at: number): boolean {
  const f = (i: number): string => row[at + i] ?? '';
  return f(0).split(',').includes(PI_ERROR) || f(1).split(',').includes(PI_MALFORMED) || f(2) !== '' || f(3).includes('Malformed');
}
