// Bulk TCP over a lossy wire: `bulk-tx:loss=0.01` (1 % of frames lost, each direction) on
// quark-4m with the full profile, whose PROC_FS counters (/proc/net/snmp's Tcp and TcpExt) are
// in the report. The upload must still arrive intact; the board must recover by fast
// retransmission (SACK/duplicate ACKs) and by its retransmission timer; the counters must agree
// with what Wireshark sees in the capture; and the same seed must give the same bytes again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../traces/report.js';
import { firstDifference, removeTempDirs, runToDir, type RunFiles } from './helpers/run.js';
import { FLAGGED_FIELDS, flaggedFrame } from './helpers/tcp-analysis.js';
import { eq, hasProtocol, present, tsharkPass, type TsharkRow } from './helpers/tshark.js';

const BOARD = 'quark-4m';
const PROFILE = 'full';
const SCENARIO = 'bulk-tx:loss=0.01';
const DUT = '192.0.2.2';
/** tcp_rto_min: no retransmission timer fires sooner, and nothing else waits that long. */
const RTO_MIN_S = 0.2;
const TIMEOUT_MS = 60_000;

function lossyRun(seed: number): RunFiles {
  return runToDir({ board: BOARD, profile: PROFILE, scenario: SCENARIO, seed });
}

function snmp(r: Report): { Tcp: Record<string, number>; TcpExt: Record<string, number> } {
  const s = r.boards[0]!.snmp;
  if (!s) throw new Error('the full profile has PROC_FS: the report must carry the DUT snmp counters');
  return { Tcp: s['Tcp']!, TcpExt: s['TcpExt']! };
}

/** The transfer began at once: the SYN was not lost, so any timeout happened with data in flight. */
function startedWithoutSynTimeout(r: Report): boolean {
  const t = (r.scenario.figures as { transfer: { startNs: number | null } }).transfer;
  return t.startNs !== null && t.startNs < 1e9; // the first SYN retransmission waits 1 s (TCP_TIMEOUT_INIT)
}

/**
 * The run for `preferred`, or — if that seed no longer has what the test needs (the stack or the
 * impairment model changed what a seed does) — the first of seeds 1..20 that does, so the test
 * keeps testing recovery instead of failing on a seed. The seed used is in the report.
 */
function runWith(preferred: number, wanted: (r: Report) => boolean): RunFiles {
  const first = lossyRun(preferred);
  if (wanted(first.report)) return first;
  for (let seed = 1; seed <= 20; seed++) {
    if (seed === preferred) continue;
    const r = lossyRun(seed);
    if (wanted(r.report)) return r;
  }
  throw new Error(`no seed in 1..20 gives ${SCENARIO} on ${BOARD} what this test needs`);
}

interface DutFrame {
  frame: number;
  time: number;
  len: number;
  flags: string;
  retransmission: boolean;
  fast: boolean;
  /** Seconds since the DUT's previous frame. */
  silenceBefore: number;
}

/**
 * A capture in one tshark pass (a start costs ~0.5 s): the fields of a FlaggedFrame, the two
 * retransmission flags (printed "1" when present) and frame.protocols, from which the tests
 * pick the rows the display filters `tcp.analysis.retransmission`,
 * `tcp.analysis.fast_retransmission` and `ip.src==DUT && tcp` would keep.
 */
function readCapture(capture: string): TsharkRow[] {
  return tsharkPass(capture, [...FLAGGED_FIELDS, 'frame.protocols', 'tcp.analysis.retransmission', 'tcp.analysis.fast_retransmission']).rows;
}

/** Every TCP frame the DUT sent, as tshark's analysis marks it. */
function dutFrames(rows: TsharkRow[]): DutFrame[] {
  let prev = 0;
  return rows.filter((r) => eq(r, 'ip.src', DUT) && hasProtocol(r, 'tcp')).map((r) => {
    const time = Number(r['frame.time_relative']);
    const f = { frame: Number(r['frame.number']), time, len: Number(r['tcp.len']), flags: r['tcp.flags.str']!, retransmission: present(r, 'tcp.analysis.retransmission'), fast: present(r, 'tcp.analysis.fast_retransmission'), silenceBefore: time - prev };
    prev = time;
    return f;
  });
}

/** The assertions every lossy run must pass; returns the timeout retransmissions tshark shows. */
function expectRecovered(run: RunFiles): DutFrame[] {
  const r = run.report;
  const failed = r.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.detail}`);
  expect(failed, `seed ${r.inputs.seed}`).toEqual([]);
  expect(run.outcome.exitCode).toBe(0);
  expect(r.checks.find((c) => c.name === 'transfer complete and intact')?.pass).toBe(true);
  const { Tcp, TcpExt } = snmp(r);
  expect(TcpExt['TCPFastRetrans']).toBeGreaterThanOrEqual(1);
  expect(TcpExt['TCPTimeouts']).toBeGreaterThanOrEqual(1);

  const rows = readCapture(run.capturePath!);
  // Tcp.RetransSegs counts every segment sent again, fast or not; tshark flags each of those frames
  // tcp.analysis.retransmission (a fast retransmission carries both flags).
  const retransmitted = rows.filter((r) => present(r, 'tcp.analysis.retransmission')).map(flaggedFrame);
  expect(retransmitted.every((f) => f.src === DUT), 'only the sender retransmits').toBe(true);
  expect(Tcp['RetransSegs'], `tshark: ${retransmitted.map((f) => `#${f.frame}`).join(' ')}`).toBe(retransmitted.length);
  expect(rows.filter((r) => present(r, 'tcp.analysis.fast_retransmission')).length).toBeGreaterThanOrEqual(1);

  // A retransmission tshark does not call fast, sent after the board had been silent for at least
  // the minimum RTO: the retransmission timer fired (nothing else makes TCP wait that long).
  const frames = dutFrames(rows);
  expect(frames.filter((f) => f.retransmission).length).toBe(retransmitted.length);
  const timeouts = frames.filter((f) => f.retransmission && !f.fast && f.silenceBefore >= RTO_MIN_S);
  expect(timeouts.length, frames.filter((f) => f.retransmission && !f.fast).map((f) => `#${f.frame} after ${(f.silenceBefore * 1e3).toFixed(1)} ms`).join(', ')).toBeGreaterThanOrEqual(1);
  return timeouts;
}

afterAll(removeTempDirs);

describe('bulk-tx over a wire losing 1 % of frames (quark-4m, full profile)', () => {
  let synTimeout: RunFiles;
  let dataTimeout: RunFiles;

  beforeAll(() => {
    // Seed 7 is the one known to include a retransmission timeout (TCPTimeouts ≥ 1): there the
    // board's first SYN is lost and retransmitted after 1 s.
    synTimeout = runWith(7, (r) => snmp(r).TcpExt['TCPTimeouts']! >= 1);
    // Seed 11: before RACK and tail loss probes it lost the last segment and only the timer
    // could resend it; now every loss of the transfer is repaired without a timeout.
    dataTimeout = runWith(11, (r) => startedWithoutSynTimeout(r) && (snmp(r).TcpExt['TCPSackRecovery'] ?? 0) >= 1);
  }, TIMEOUT_MS);

  it(`seed 7: the upload arrives intact after fast retransmits and a timeout, and Tcp.RetransSegs matches tshark's retransmissions`, () => {
    const timeouts = expectRecovered(synTimeout);
    if (synTimeout.report.inputs.seed === 7) {
      // What makes seed 7 the timeout seed: the lost SYN, resent when the initial 1 s RTO expires
      // (armed at connect(), a few microseconds before the SYN left behind the ARP exchange).
      expect(timeouts[0]!.flags).toMatch(/S/);
      expect(timeouts[0]!.silenceBefore).toBeCloseTo(1, 2);
    }
  }, TIMEOUT_MS);

  it('seed 11: RACK (and a loss probe where the tail is lost) repair every loss without a timeout', () => {
    const r = dataTimeout.report;
    expect(startedWithoutSynTimeout(r)).toBe(true);
    expect(dataTimeout.outcome.exitCode).toBe(0);
    const { TcpExt } = snmp(r);
    expect(TcpExt['TCPSackRecovery']).toBeGreaterThanOrEqual(1);
    expect(TcpExt['TCPTimeouts']).toBe(0);
    // tshark: every retransmission the board sent followed less than the minimum RTO of silence.
    const frames = dutFrames(readCapture(dataTimeout.capturePath!)).filter((f) => f.retransmission);
    expect(frames.length).toBeGreaterThanOrEqual(1);
    expect(frames.filter((f) => f.silenceBefore >= RTO_MIN_S).map((f) => `#${f.frame}`)).toEqual([]);
  }, TIMEOUT_MS);

  it('the same seed gives a byte-identical capture and report', () => {
    const again = lossyRun(synTimeout.report.inputs.seed);
    expect(firstDifference(again.capture!, synTimeout.capture!)).toBeNull();
    expect(firstDifference(new TextEncoder().encode(again.reportJson), new TextEncoder().encode(synTimeout.reportJson))).toBeNull();
    expect(again.reportJson).toBe(synTimeout.reportJson);
  }, TIMEOUT_MS);
});
