// Bulk TCP at line rate on a small board: `bulk-rx` (the board downloads 4 MB) on quark-4m with
// the client profile and `bulk-tx` (the board uploads 4 MB) on quark-2m with the minimal profile
// must both fill the 100 Mbit/s link (≥ 90 Mbit/s of goodput), with or without the CPU cycle
// model, name the link as the bound with the numbers that show it, and leave a capture in which
// Wireshark's TCP analysis finds nothing to flag: no loss, retransmission, duplicate ACK, zero or
// full window, or reordering. A goodput budget passes or fails the run (exit 0 / 1) as a CI job
// would set it. Everything runs through the command line, as a user runs it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../traces/report.js';
import { quarklabAsync, readJson, removeTempDirs, tempDir, type CliResult } from './helpers/run.js';
import { describeFlagged, TCP_ANALYSIS_PROBLEMS, tcpAnalysisProblems } from './helpers/tcp-analysis.js';
import { tsharkFields } from './helpers/tshark.js';

const MBIT = 1e6;
const TIMEOUT_MS = 60_000;

interface CliRun {
  args: string[];
  result: CliResult;
  report: Report;
  capture: string;
}

async function cliRun(args: string[]): Promise<CliRun> {
  const out = tempDir('quarklab-tcp-bulk-');
  const full = ['run', ...args, '--out', out];
  const result = await quarklabAsync(full);
  if (result.status !== 0 && result.status !== 1) throw new Error(`quarklab ${full.join(' ')} exited ${result.status}: ${result.stderr}`);
  return { args: full, result, report: readJson<Report>(join(out, 'report.json')), capture: join(out, 'capture.pcapng') };
}

interface Transfer {
  direction: string;
  bytes: number;
  goodputBps: number;
}
interface BulkFigures {
  transfer: Transfer;
  rtt: { min: number; mean: number; max: number; p99: number } | null;
  retransmissions: number | null;
  sender: { mss: number; retransmits: number } | null;
  bound: { bound: string; detail: string };
}

function figures(r: CliRun): BulkFigures {
  return r.report.scenario.figures as unknown as BulkFigures;
}

/** Exit 0, every check passed (the failing ones are shown when not). */
function expectClean(r: CliRun): void {
  const failed = r.report.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.detail}`);
  expect(failed, r.args.join(' ')).toEqual([]);
  expect(r.result.status, `${r.args.join(' ')}\n${r.result.stdout}\n${r.result.stderr}`).toBe(0);
  expect(r.report.verdict).toBe('pass');
}

/** Goodput at least `min` bit/s, the whole 4 MB moved. */
function expectGoodput(r: CliRun, min: number): void {
  const t = figures(r).transfer;
  expect(t.bytes).toBe(4_000_000);
  expect(t.goodputBps, `${r.args.join(' ')}: goodput ${(t.goodputBps / MBIT).toFixed(2)} Mbit/s`).toBeGreaterThanOrEqual(min);
}

/**
 * The most goodput TCP can carry on 100 Mbit/s Ethernet, worked by hand (not from the code under
 * test). A full-sized segment with timestamps (the 6.1 default, tcp_timestamps=1) carries 1448
 * bytes of payload: MSS 1460 (1500 MTU − 20 IP − 20 TCP) less the 12-byte timestamp option
 * (10 bytes, padded with two NOPs). On the wire it takes
 *     8 preamble+SFD + 14 Ethernet + 20 IP + 20 TCP + 12 options + 1448 payload + 4 FCS + 12 gap
 *   = 1538 byte times,
 * so the ceiling is 100 000 000 × 1448 / 1538 = 94 148 244.47… bit/s: 94.1 Mbit/s. ACKs go the
 * other way on a full-duplex link and take nothing from it.
 */
const LINK_CEILING_BPS = (100_000_000 * 1448) / 1538;

/** The bound is the link, and the detail's figures are this run's: share of the MSS-limited link rate. */
function expectLinkBound(r: CliRun): void {
  const f = figures(r);
  expect(f.bound.bound, f.bound.detail).toBe('link');
  const mbps = r.report.boards[0]!.board.linkSpeedMbps;
  expect(mbps).toBe(100);
  // The sender's MSS is the 1448-byte payload the hand-worked ceiling assumes.
  expect(f.sender!.mss).toBe(1448);
  expect(Math.round(LINK_CEILING_BPS)).toBe(94_148_244);
  const link = LINK_CEILING_BPS;
  const share = f.transfer.goodputBps / link;
  expect(share).toBeGreaterThanOrEqual(0.95);
  expect(f.bound.detail).toContain(`${(share * 100).toFixed(1)}%`);
  expect(f.bound.detail).toContain(`${(link / MBIT).toFixed(1)} Mbit/s`);
  expect(f.retransmissions).toBe(0);
}

function expectRtt(r: CliRun): void {
  const rtt = figures(r).rtt;
  expect(rtt, 'RTT figures').not.toBeNull();
  expect(rtt!.min).toBeGreaterThan(0);
  expect(rtt!.min).toBeLessThanOrEqual(rtt!.mean);
  expect(rtt!.mean).toBeLessThanOrEqual(rtt!.p99);
  expect(rtt!.p99).toBeLessThanOrEqual(rtt!.max);
}

// Expert-info severities as tshark prints _ws.expert.severity (epan/proto.h PI_WARN, PI_ERROR):
// `tshark -z expert` lists a "Warns (" or "Errors (" section exactly when a frame carries one.
const PI_WARN = '6291456';
const PI_ERROR = '8388608';
const SCAN_FIELDS = ['frame.number', 'tcp.analysis.acks_frame', 'frame.len', 'tcp.len', 'tcp.options.timestamp.tsval', '_ws.expert.severity', ...TCP_ANALYSIS_PROBLEMS];

/**
 * One unfiltered tshark pass over a capture with every field the assertions read, instead of one
 * pass per display filter (each tshark start costs ~0.5 s). Rows are filtered in JS exactly as the
 * filters did: a field present in a frame is non-empty (FT_NONE flags print "1"), and tcp.len is
 * a number.
 */
function scan(capture: string): string[][] {
  return tsharkFields(capture, SCAN_FIELDS);
}

/** Wireshark's TCP analysis ran (it matched ACKs to data) and flagged nothing. */
function expectCleanTcpAnalysis(capture: string, rows: string[][]): void {
  expect(rows.filter((r) => r[1] !== '').length, 'tshark analysed the TCP stream').toBeGreaterThan(1000);
  const flagged = rows.filter((r) => TCP_ANALYSIS_PROBLEMS.some((_, i) => r[6 + i] !== '' && r[6 + i] !== undefined));
  // The per-flag breakdown (more tshark passes) only to describe a failure.
  const found = flagged.length === 0 ? {} : tcpAnalysisProblems(capture);
  expect(flagged.length, describeFlagged(found)).toBe(0);
  const severities = new Set(rows.flatMap((r) => (r[5] ?? '').split(',')));
  expect(severities.has(PI_ERROR), 'tshark expert info: Errors').toBe(false);
  expect(severities.has(PI_WARN), 'tshark expert info: Warnings').toBe(false);
}

afterAll(removeTempDirs);

describe('bulk TCP fills the 100 Mbit/s link on a small board', () => {
  const RX = ['--board', 'quark-4m', '--profile', 'client', '--scenario', 'bulk-rx'];
  const TX = ['--board', 'quark-2m', '--profile', 'minimal', '--scenario', 'bulk-tx'];
  let rx: Promise<CliRun>;
  let rxNoCpu: Promise<CliRun>;
  let rxTightBudget: Promise<CliRun>;
  let tx: Promise<CliRun>;

  beforeAll(() => {
    // Independent runs, started together so they share the machine's cores.
    rx = cliRun([...RX, '--budget', 'goodput=90Mbit/s']);
    // These two captures are never read: no capture (4.4 MB each to build and write); the report
    // is the same with or without one (compared when this was written).
    rxNoCpu = cliRun([...RX, '--cpu', 'off', '--capture', 'none']);
    rxTightBudget = cliRun([...RX, '--budget', 'goodput=99Mbit/s', '--capture', 'none']);
    tx = cliRun(TX);
  });

  it('bulk-rx on quark-4m (client): exit 0, ≥ 90 Mbit/s by the transfer figure and the measured goodput, bound by the link', async () => {
    const r = await rx;
    expectClean(r);
    expectGoodput(r, 90 * MBIT);
    // The measured figure budgets are checked against is the transfer's goodput.
    expect(r.report.budgets).toHaveLength(1);
    const b = r.report.budgets[0]!;
    expect({ key: b.key, kind: b.kind, limit: b.limit, verdict: b.verdict }).toEqual({ key: 'goodput', kind: 'min', limit: 90 * MBIT, verdict: 'pass' });
    expect(b.value).toBe(figures(r).transfer.goodputBps);
    expect(r.result.stdout).toMatch(/budget PASS goodput ≥ 90\.00 Mbit\/s: 9\d\.\d\d Mbit\/s/);
    expectLinkBound(r);
    expectRtt(r);
  }, TIMEOUT_MS);

  it('bulk-rx with the CPU model off (--cpu off) also reaches 90 Mbit/s', async () => {
    const r = await rxNoCpu;
    expect(r.report.inputs.cpu).toBe(false);
    expectClean(r);
    expectGoodput(r, 90 * MBIT);
    expectLinkBound(r);
  }, TIMEOUT_MS);

  it("bulk-rx's capture: tshark's TCP analysis reports no loss, retransmission, dup ACK, zero/full window or reordering", async () => {
    const capture = (await rx).capture;
    const all = scan(capture);
    expectCleanTcpAnalysis(capture, all);
    // tshark confirms the frame the hand-worked ceiling assumes: full data segments are 1514
    // bytes captured (1538 less preamble, FCS and gap) carrying 1448 bytes, with timestamps.
    // (The display filter tcp.len > 1000, applied to the same pass's rows.)
    const rows = all.filter((r) => r[3] !== '' && Number(r[3]) > 1000).map((r) => [r[2]!, r[3]!, r[4]!]);
    expect(rows.length).toBeGreaterThan(2000);
    for (const [frameLen, tcpLen, tsval] of rows) {
      expect([frameLen, tcpLen]).toEqual(['1514', '1448']);
      expect(tsval).not.toBe('');
    }
  }, TIMEOUT_MS);

  it('bulk-tx on quark-2m (minimal): exit 0, ≥ 90 Mbit/s, bound by the link, RTT figures, and a clean TCP analysis', async () => {
    const r = await tx;
    expectClean(r);
    expectGoodput(r, 90 * MBIT);
    expect(figures(r).transfer.direction).toBe('tx');
    expectLinkBound(r);
    expectRtt(r);
    expectCleanTcpAnalysis(r.capture, scan(r.capture));
  }, TIMEOUT_MS);

  it('a goodput budget of 99 Mbit/s, above what the link carries, fails the run with exit 1 and says so', async () => {
    const r = await rxTightBudget;
    expect(r.result.status, r.result.stdout).toBe(1);
    expect(r.report.verdict).toBe('fail');
    // Only the budget failed: the transfer itself was fine.
    expect(r.report.checks.filter((c) => !c.pass)).toEqual([]);
    const b = r.report.budgets[0]!;
    expect({ key: b.key, limit: b.limit, verdict: b.verdict }).toEqual({ key: 'goodput', limit: 99 * MBIT, verdict: 'fail' });
    expect(b.value).toBe(figures(r).transfer.goodputBps);
    expect(b.value!).toBeGreaterThanOrEqual(90 * MBIT);
    expect(r.result.stdout).toMatch(/budget FAIL goodput ≥ 99\.00 Mbit\/s: 9\d\.\d\d Mbit\/s/);
    expect(r.result.stdout).toMatch(/verdict: FAIL/);
  }, TIMEOUT_MS);
});
