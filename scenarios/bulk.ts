/**
 * Scenarios `bulk-rx` and `bulk-tx`: an iperf-like transfer between the board and the lab
 * host over TCP, measuring goodput, RTT and retransmissions, and naming what limited the
 * rate: the link, the board's CPU, the receive window, the send buffer, or loss.
 */
import { BulkSink, BulkSource } from '../apps/bulk.js';
import { Ping, PING_DEFAULTS } from '../apps/ping.js';
import { NS_PER_MS, NS_PER_SEC } from '../emulator/event-queue.js';
import type { Impairments } from '../emulator/wire.js';
import { wireBytes } from '../emulator/ethernet-mac.js';
import type { TcpInfo } from '../stack/ipv4/tcp-sock.js';
import { rttStats } from './ping.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';
import { DUT_STATIC_ADDR, LAB_ADDR, staticNetwork } from './static-network.js';

export const BULK_PORT = 5001;

export interface BulkOptions {
  direction: 'rx' | 'tx';
  bytes: number;
  /** SO_RCVBUF / SO_SNDBUF on the board's socket (bytes asked for; the kernel doubles them). */
  rcvbuf?: number;
  sndbuf?: number;
  impairments?: Partial<Impairments>;
  /** With bulk-tx: the board also pings the lab host this many times, every PING_UNDER_LOAD_INTERVAL_NS, during the upload. */
  ping?: number;
}

/** Echo requests under load go out every 10 ms, starting with the upload. */
export const PING_UNDER_LOAD_INTERVAL_NS = 10 * NS_PER_MS;

/** Nearest-rank percentile of RTT samples (ns). */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** The most goodput TCP can carry on this link with this MSS and timestamps (per frame overhead). */
export function linkGoodputLimit(linkBps: number, mss: number): number {
  const frame = 14 + 20 + 20 + 12 + mss;
  return (linkBps * mss) / (wireBytes(frame) * 1);
}

export function bulkScenario(opts: BulkOptions): Scenario {
  let sink: BulkSink | null = null;
  let source: BulkSource | null = null;
  let done = 0;
  let ping: Ping | null = null;
  const programs = opts.ping ? 3 : 2;
  // The board's CPU cycles over the transfer (from the start to the programs' exits), for the bound.
  const cpuWindow = { cycles0: 0, cycles1: 0, t0: 0, t1: 0 };
  const name = `bulk-${opts.direction}`;
  const boardBuffers = { rcvbuf: opts.rcvbuf, sndbuf: opts.sndbuf };
  return {
    name,
    description: `the board ${opts.direction === 'rx' ? 'receives' : 'sends'} ${opts.bytes} bytes over TCP ${opts.direction === 'rx' ? 'from' : 'to'} the lab host`,
    dutPrograms: opts.direction === 'rx' ? ['bulk-sink'] : opts.ping ? ['bulk-source', 'ping'] : ['bulk-source'],
    labPrograms: [opts.direction === 'rx' ? 'bulk-source' : 'bulk-sink'],
    impairments: opts.impairments,
    timeLimitNs: 600 * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      staticNetwork(ctx);
      cpuWindow.cycles0 = ctx.dut.board.cpu.cyclesUsed;
      cpuWindow.t0 = ctx.world.sim.now;
      const finished = (): void => {
        cpuWindow.cycles1 = ctx.dut.board.cpu.cyclesUsed;
        cpuWindow.t1 = ctx.world.sim.now;
        if (++done === programs) ctx.finish();
      };
      // The lab host listens; the board connects (as a firmware client would).
      if (opts.direction === 'rx') {
        source = new BulkSource({ listen: BULK_PORT }, opts.bytes);
        sink = new BulkSink({ connect: { addr: LAB_ADDR, port: BULK_PORT } }, opts.bytes, boardBuffers);
        ctx.spawn(ctx.lab, source, finished);
        ctx.step(`scenario ${name}: board downloads ${opts.bytes} bytes`);
        ctx.spawn(ctx.dut, sink, finished);
      } else {
        sink = new BulkSink({ listen: BULK_PORT }, opts.bytes);
        source = new BulkSource({ connect: { addr: LAB_ADDR, port: BULK_PORT } }, opts.bytes, boardBuffers);
        ctx.spawn(ctx.lab, sink, finished);
        ctx.step(`scenario ${name}: board uploads ${opts.bytes} bytes`);
        ctx.spawn(ctx.dut, source, finished);
        if (opts.ping) {
          // Latency under load: the echo requests queue behind the upload in the board's qdisc.
          ping = new Ping({ ...PING_DEFAULTS, count: opts.ping, intervalNs: PING_UNDER_LOAD_INTERVAL_NS, target: LAB_ADDR });
          ctx.spawn(ctx.dut, ping, finished);
        }
      }
    },
    result(ctx: ScenarioContext): ScenarioResult {
      const s = sink!.stats;
      const senderInfo = source!.stats.tcpInfo as TcpInfo | null;
      const receiverInfo = s.tcpInfo as TcpInfo | null;
      const dutInfo = opts.direction === 'rx' ? receiverInfo : senderInfo;
      const rtts = (opts.direction === 'rx' ? ctx.lab : ctx.dut).stack.tcp!.rttSamplesSeen;
      const rtt = rttStats(rtts);
      const goodput = s.goodputBps;
      const bound = limitingBound(ctx, goodput, s, senderInfo, cpuWindow);
      return {
        checks: [
          { name: 'transfer complete and intact', pass: s.bytes === opts.bytes && sink!.corrupt === 0 && !s.error && !source!.stats.error, detail: `${s.bytes} of ${opts.bytes} bytes, ${sink!.corrupt} corrupt${s.error ? `, sink: ${s.error}` : ''}${source!.stats.error ? `, source: ${source!.stats.error}` : ''}` },
        ],
        figures: {
          transfer: { direction: opts.direction, bytes: s.bytes, startNs: s.startNs, endNs: s.endNs, goodputBps: goodput },
          rtt,
          retransmissions: senderInfo?.retransmits ?? null,
          sender: senderInfo,
          receiver: receiverInfo,
          dut: dutInfo,
          bound,
          dutAddress: DUT_STATIC_ADDR,
          ...(ping ? { pingUnderLoad: pingFigures(ping) } : {}),
        },
        measured: { goodput, 'rtt.p99': rtt ? rtt.p99 : null },
      };
    },
  };
}

/** The ping-under-load figures: what was sent and answered, and the RTT's p50/p99 (ns). */
function pingFigures(ping: Ping): object {
  const r = ping.result;
  const sorted = [...r.rttNs].sort((a, b) => a - b);
  const rtt = sorted.length === 0 ? null : { min: sorted[0]!, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1]! };
  return { transmitted: r.transmitted, received: r.received, socketKind: r.socketKind, rtt };
}

/**
 * Name the bound. The CPU when the board's CPU was busy at least 90% of the transfer (cycles
 * charged from the start to the programs' exits, over that time — not the drain after); loss
 * when at least 1% of the segments were retransmitted and the retransmissions account for at
 * least half of the shortfall from the link ceiling; the link when goodput is within 5% of
 * what the link carries with this MSS; else whichever limit held the sender back longest
 * (tcp_chrono: receive window, send buffer, congestion window — `loss` again when that was
 * the congestion window after retransmissions).
 */
function limitingBound(ctx: ScenarioContext, goodput: number | null, transfer: { bytes: number; startNs: number | null; endNs: number | null }, sender: TcpInfo | null, cpuWindow: { cycles0: number; cycles1: number; t0: number; t1: number }): { bound: string; detail: string } {
  if (!goodput || !sender || transfer.startNs === null || transfer.endNs === null) return { bound: 'unknown', detail: 'transfer did not complete' };
  const dutCpu = ctx.dut.board.cpu;
  const elapsedNs = Math.max(1, cpuWindow.t1 - cpuWindow.t0);
  const dutBusy = dutCpu.enabled ? (cpuWindow.cycles1 - cpuWindow.cycles0) / ((elapsedNs / 1e9) * dutCpu.clockHz) : 0;
  const link = linkGoodputLimit(ctx.dut.board.mac.linkSpeedBps, sender.mss);
  const share = goodput / link;
  const ofLink = `goodput ${(share * 100).toFixed(1)}% of the ${(link / 1e6).toFixed(1)} Mbit/s link ceiling`;
  const retransShare = sender.retransmits / Math.max(1, Math.ceil(transfer.bytes / sender.mss));
  if (dutBusy >= 0.9) return { bound: 'cpu', detail: `the board's CPU was busy ${Math.min(100, dutBusy * 100).toFixed(0)}% of the transfer (${dutCpu.clockHz / 1e6} MHz, cycle table in the board file); ${ofLink}` };
  if (retransShare >= 0.01 && retransShare >= 0.5 * (1 - share)) {
    return { bound: 'loss', detail: `${sender.retransmits} segments retransmitted (${(retransShare * 100).toFixed(1)}% of those sent); ${ofLink}` };
  }
  if (share >= 0.95) return { bound: 'link', detail: `goodput is ${(share * 100).toFixed(1)}% of the ${(link / 1e6).toFixed(1)} Mbit/s the link carries with this MSS` };
  const limits: [string, number][] = [
    ['receive window', sender.rwndLimitedNs],
    ['send buffer', sender.sndbufLimitedNs],
    ['congestion window', sender.cwndLimitedNs],
  ];
  let top = limits[0]!;
  for (const l of limits) if (l[1] > top[1]) top = l;
  if (top[0] === 'congestion window' && sender.retransmits > 0) {
    return { bound: 'loss', detail: `sender limited by a congestion window held down by loss (${sender.retransmits} segments retransmitted) for ${(top[1] / 1e6).toFixed(1)} ms; ${ofLink}` };
  }
  return { bound: top[0], detail: `sender limited by the ${top[0]} for ${(top[1] / 1e6).toFixed(1)} ms; ${ofLink}` };
}
