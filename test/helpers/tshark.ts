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

/** Text of `tshark -z expert -q` (Errors/Warnings/Notes/Chats/Comments sections). */
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

/**
 * What /Malformed|Errors \(/ matched in `tshark -z expert`, read from EXPERT_FIELDS starting at
 * `at`: an item of severity PI_ERROR, of group PI_MALFORMED, the _ws.malformed protocol, or a
 * summary saying Malformed.
 */
export function expertProblem(row: readonly string[], at: number): boolean {
  const f = (i: number): string => row[at + i] ?? '';
  return f(0).split(',').includes(PI_ERROR) || f(1).split(',').includes(PI_MALFORMED) || f(2) !== '' || f(3).includes('Malformed');
}
