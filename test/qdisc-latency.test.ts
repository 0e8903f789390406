// Latency under load, fq_codel against pfifo_fast: the board uploads 20 MB to the lab host
// while pinging it every 10 ms (bulk-tx:ping=100), on quark-4m with the full profile (which
// selects fq_codel) and with full switched to pfifo_fast (DEFAULT_PFIFO_FAST).
//
// Oracle: the lab host's own capture, read by tshark. Echo request k leaves the ping program
// at start + k·10 ms, so its queueing delay on the board is its arrival at the lab minus
// request 0's arrival (sent before the upload built any queue) minus k·10 ms. With pfifo_fast
// a request waits behind the upload's backlog — about a receive window of full frames at
// 123.04 µs each ((1514 + 4 FCS + 8 preamble + 12 gap) · 8 / 100 Mbit/s) — while fq_codel
// serves the sparse ping flow first, behind at most what byte queue limits let into the ring.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../traces/report.js';
import { quarklabAsync, readJson, removeTempDirs, tempDir } from './helpers/run.js';
import { tsharkFields } from './helpers/tshark.js';

afterAll(removeTempDirs);

const FRAME_NS = ((1514 + 4 + 8 + 12) * 8 * 1e9) / 100e6; // 123 040 ns on the wire
const SCENARIO = 'bulk-tx:ping=100,sndbuf=1000000,bytes=20000000';

interface Outcome {
  report: Report;
  /** Queueing delay of each echo request on the board, from the lab's capture (ns). */
  delays: number[];
  pingRtt: { p50: number; p99: number };
}

async function runWith(profile: string): Promise<Outcome> {
  const out = tempDir('quarklab-qdisc-latency-');
  const r = await quarklabAsync(['run', '--scenario', SCENARIO, '--board', 'quark-4m', '--profile', profile, '--capture', 'all', '--out', out]);
  expect(r.status, r.stderr).toBe(0);
  const report = readJson<Report>(join(out, 'report.json'));
  const rows = tsharkFields(join(out, 'lab.pcapng'), ['frame.time_epoch', 'icmp.seq'], 'icmp.type == 8');
  const arrivals = new Map(rows.map(([t, seq]) => [Number(seq), Math.round(Number(t) * 1e9)]));
  const t0 = arrivals.get(0)!;
  const delays = [...arrivals].filter(([k]) => k > 0).map(([k, t]) => t - t0 - k * 10_000_000);
  const figures = (report.scenario as unknown as { figures: { pingUnderLoad: { rtt: { p50: number; p99: number } } } }).figures;
  return { report, delays: delays.sort((a, b) => a - b), pingRtt: figures.pingUnderLoad.rtt };
}

const median = (xs: number[]): number => xs[Math.ceil(0.5 * xs.length) - 1]!;

describe('ping under a bulk upload: fq_codel against pfifo_fast (quark-4m, full)', () => {
  const dir = tempDir('quarklab-qdisc-profile-');
  const pfifo = join(dir, 'full-pfifo.config');
  writeFileSync(pfifo, '# base: full\nCONFIG_DEFAULT_PFIFO_FAST=y\n');
  let fq: Outcome;
  let pf: Outcome;
  beforeAll(async () => {
    fq = await runWith('full');
    pf = await runWith(pfifo);
  });

  it('ran the qdisc each profile selects, moving the same upload', () => {
    expect(fq.report.boards[0]!.qdiscs['dut:eth0']!.kind).toBe('fq_codel');
    expect(pf.report.boards[0]!.qdiscs['dut:eth0']!.kind).toBe('pfifo_fast');
    // 20 MB in MSS-sized segments passed through each qdisc (plus handshake, pings, ARP).
    for (const o of [fq, pf]) expect(o.report.boards[0]!.qdiscs['dut:eth0']!.sentPackets).toBeGreaterThan(20_000_000 / 1448);
    expect(fq.delays.length).toBe(99);
    expect(pf.delays.length).toBe(99);
  });

  it('pfifo_fast: echo requests wait behind the upload, tens of full frames (tshark on the lab capture)', () => {
    const m = median(pf.delays);
    expect(m).toBeGreaterThan(30 * FRAME_NS); // > 3.7 ms
    expect(m).toBeLessThan(64 * FRAME_NS); // the 64 KiB-class window bounds the backlog
  });

  it('fq_codel: echo requests go ahead of the upload, waiting a few frames at most', () => {
    expect(median(fq.delays)).toBeLessThan(4 * FRAME_NS);
    expect(fq.delays[fq.delays.length - 1]!).toBeLessThan(6 * FRAME_NS);
  });

  it("the ping program's RTT tells the same story (p50/p99 in the report's figures)", () => {
    // The RTT is the request's queueing plus a reply that never queues (the lab host idles its TX).
    expect(Math.abs(pf.pingRtt.p50 - median(pf.delays))).toBeLessThan(2 * FRAME_NS);
    expect(fq.pingRtt.p99).toBeLessThan(1_000_000);
    expect(pf.pingRtt.p50).toBeGreaterThan(8 * fq.pingRtt.p50);
  });
});
