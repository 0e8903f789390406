/** `quarklab fuzz`: the CLI face of fuzz/fuzz.ts. */
import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fuzz, type FuzzResult } from '../fuzz/fuzz.js';
import { DEFAULT_BOARD, DEFAULT_PROFILE } from '../scenarios/inputs.js';
import { formatBytes } from '../traces/budgets.js';
import { failAllocLine } from '../traces/report.js';
import { parseDecimalInteger } from './numbers.js';
import { fail, write } from './output.js';
import { readInputText } from '../scenarios/input-files.js';
import { checkOutputFile } from './output-place.js';
import { resolveFailAlloc } from '../scenarios/fail-alloc.js';

export const FUZZ_HELP = `usage: quarklab fuzz [--board B] [--profile P] [--frames N] [--seed S] [--batch N] [--case FILE]
                     [--fail-alloc prob=P|nth=N[,site=NAME][,times=T]]

Boot the board with the profile next to the lab host and send it N mutated frames of every
protocol the profile has (Ethernet, ARP, ICMP, IPv4 options and fragments, IGMP, UDP, DHCP, DNS,
TCP options, and segments for an established connection), from the lab host's MAC. After each
batch: no exception, RAM in use never above the board's RAM, the board answers ping and accepts a
TCP connection; at the end, once traffic stops and timers expire, live kernel objects are back to
the post-boot baseline. Seeded: the same inputs give the same frames and verdict.

options:
  --board NAME|FILE    board (default ${DEFAULT_BOARD})
  --profile NAME|FILE  stack profile (default ${DEFAULT_PROFILE})
  --frames N           frames to send (default 20000)
  --seed N             seed (default 1)
  --batch N            frames between checks (default 500)
  --fail-alloc prob=P|nth=N[,site=NAME][,times=T]
                       also make the board's slab and kmalloc allocations fail while the frames
                       are fed, as Linux's failslab (chance P drawn from --seed, or every Nth;
                       site= one cache, times= at most T); the ping and connect probes run
                       without it; failures are printed by site
  --case FILE          where a failure is written as a replayable case (default fuzz-case.json);
                       replay it with 'quarklab fuzz --replay FILE'
  --replay FILE        rerun a case file's board, profile, seed and frame count
  --costs FILE         cost table (default: Linux 6.1 i386, measured)
  -h, --help           this help

exit codes: 0 every check held; 1 one broke (the case file names it); 2 bad usage or input.`;

export interface FuzzCase {
  quarklabFuzzCase: 1;
  board: string;
  profile: string;
  seed: number;
  frames: number;
  batch: number;
  /** The --fail-alloc spec the run had, if any. */
  failAlloc?: string;
  problem: string;
  failingBatch: number;
  /** The failing batch's frames, hex, for reading; replay reruns the whole seeded sequence. */
  batchFrames: string[];
}

export function fuzzCommand(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      board: { type: 'string' },
      profile: { type: 'string' },
      frames: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      case: { type: 'string' },
      replay: { type: 'string' },
      costs: { type: 'string' },
      'fail-alloc': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    write(FUZZ_HELP);
    return 0;
  }
  let board = values.board ?? DEFAULT_BOARD;
  let profile = values.profile ?? DEFAULT_PROFILE;
  let frames = values.frames === undefined ? 20_000 : parseDecimalInteger(values.frames, '--frames', 1, 1_000_000_000);
  let seed = values.seed === undefined ? 1 : parseDecimalInteger(values.seed, '--seed', 0, 0xffffffff);
  let batch = values.batch === undefined ? 500 : parseDecimalInteger(values.batch, '--batch', 1, 100_000);
  let failAlloc = values['fail-alloc'];
  if (values.replay !== undefined) {
    const c = readCase(values.replay);
    ({ board, profile, seed, frames, batch } = c);
    failAlloc = c.failAlloc;
  }
  if (failAlloc !== undefined) {
    const spec = resolveFailAlloc(failAlloc);
    if ('error' in spec) fail(spec.error);
  }
  const casePath = values.case ?? 'fuzz-case.json';
  const place = checkOutputFile(casePath, '--case');
  if (place) fail(place.error);
  const t0 = performance.now();
  const r = fuzz({ board, profile, frames, seed, batch, costTablePath: values.costs, failAlloc });
  if ('error' in r) fail(r.error);
  const wallS = (performance.now() - t0) / 1000;
  write(summary(r, wallS));
  if (!r.failure) return 0;
  const c: FuzzCase = { quarklabFuzzCase: 1, board, profile, seed, frames, batch, ...(failAlloc !== undefined ? { failAlloc } : {}), problem: r.failure.problem, failingBatch: r.failure.batch, batchFrames: r.failure.frames };
  const tmp = `${casePath}.quarklab-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(c, null, 1) + '\n');
  renameSync(tmp, casePath);
  write(`wrote ${casePath}: replay with 'quarklab fuzz --replay ${casePath}'; add it to test/fuzz-cases/ as a regression test`);
  return 1;
}

function summary(r: FuzzResult, wallS: number): string {
  const protocols = Object.entries(r.byProtocol)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `quarklab fuzz on ${r.board} with profile ${r.profile} (seed ${r.seed}): ${r.frames} frames in ${wallS.toFixed(1)} s, ${Math.round(r.frames / Math.max(wallS, 1e-3))} frames/s, ${(r.virtualNs / 1e9).toFixed(1)} s virtual`,
    `frames by seed protocol: ${protocols}`,
    `peak RAM in use ${formatBytes(r.peakRamBytes)} of ${formatBytes(r.ramBytes)}; slowest TCP connect after a batch ${(r.slowestConnectNs / 1e9).toFixed(3)} s (${r.slowConnects} of ${Math.ceil(r.frames / r.batch)} over 1 s: SYN or request retransmitted while the heap was full)`,
    ...(r.failAlloc ? [failAllocLine(r.failAlloc)] : []),
    r.failure ? `verdict: FAIL ${r.failure.problem}` : `verdict: PASS no exception, RAM within the board, ping and TCP connect after every batch of ${r.batch}, back to baseline after traffic stopped`,
  ].join('\n');
}

function readCase(path: string): FuzzCase {
  let c: Partial<FuzzCase>;
  try {
    c = JSON.parse(readText(path)) as Partial<FuzzCase>;
  } catch (e) {
    fail(`${path}: not a fuzz case (${(e as Error).message.split('\n')[0]})`);
  }
  if (c?.quarklabFuzzCase !== 1 || (c.failAlloc !== undefined && typeof c.failAlloc !== 'string') || typeof c.board !== 'string' || typeof c.profile !== 'string' || !Number.isSafeInteger(c.seed) || !Number.isSafeInteger(c.frames) || !Number.isSafeInteger(c.batch)) {
    fail(`${path}: not a fuzz case (needs quarklabFuzzCase 1, board, profile, seed, frames, batch)`);
  }
  return c as FuzzCase;
}

function readText(path: string): string {
  const t = readInputText(path, { what: 'fuzz case', maxBytes: 64 * 1024 * 1024 });
  if (typeof t !== 'string') fail(t.error);
  return t;
}
