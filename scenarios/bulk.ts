/**
 * Scenarios `bulk-rx` and `bulk-tx`: an iperf-like transfer between the board and the lab
 * host over TCP, measuring goodput, RTT and retransmissions, and naming what limited the
 * rate: the link, the board's CPU, the receive window, the send buffer, or loss.
 */
import { defineScenario, refuse } from '../api/define-scenario.js';
import type { BoardObservation } from '../api/observe.js';
import { BulkSink, BulkSource } from '../apps/bulk.js';
import { Ping, PING_DEFAULTS } from '../apps/ping.js';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { wireBytes } from '../emulator/ethernet-mac.js';
import type { TcpInfo } from '../stack/ipv4/tcp-sock.js';
import { rttStats } from './ping.js';

export const BULK_PORT = 5001;

/** The most goodput TCP can carry on this link with this MSS and timestamps (per frame overhead). */
export function linkGoodputLimit(linkBps: number, mss: number): number {
  const frame = 14 + 20 + 20 + 12 + mss;
  return (linkBps * mss) / (wireBytes(frame) * 1);
}

/** Echo requests under load (bulk-tx:ping=N) go out every 10 ms, starting with the upload. */
export const PING_UNDER_LOAD_INTERVAL_NS = 10 * NS_PER_MS;

/** Nearest-rank percentile of RTT samples (ns). */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** The ping-under-load figures: what was sent and answered, and the RTT's p50/p99 (ns). */
function pingFigures(ping: Ping): object {
  const r = ping.result;
  const sorted = [...r.rttNs].sort((a, b) => a - b);
  const rtt = sorted.length === 0 ? null : { min: sorted[0]!, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1]! };
  return { transmitted: r.transmitted, received: r.received, socketKind: r.socketKind, rtt };
}

/** The board's CPU cycles over the transfer (from the start to the programs' exits), for the bound. */
interface CpuWindow {
  cycles0: number;
  cycles1: number;
  t0: number;
  t1: number;
}

function bulkScenario(direction: 'rx' | 'tx') {
  const name = `bulk-${direction}`;
  const rx = direction === 'rx';
  return defineScenario({
    name,
    summary: `the board ${rx ? 'downloads 4 MB over TCP from' : 'uploads 4 MB over TCP to'} the lab host`,
    description: (o) => `the board ${rx ? 'receives' : 'sends'} ${o.bytes} bytes over TCP ${rx ? 'from' : 'to'} the lab host`,
    options: {
      bytes: { type: 'integer', default: 4_000_000, min: 1, max: 1_000_000_000, help: 'bytes to move' },
      rcvbuf: { type: 'integer', default: null, min: 1, max: 64 * 1024 * 1024, help: "SO_RCVBUF on the board's socket (bytes asked for; the kernel doubles them)" },
      sndbuf: { type: 'integer', default: null, min: 1, max: 64 * 1024 * 1024, help: "SO_SNDBUF on the board's socket (bytes asked for; the kernel doubles them)" },
      ping: { type: 'integer', default: null, min: 1, max: 100_000, help: rx ? 'bulk-tx only' : 'also ping the lab host N times, every 10 ms, during the upload: latency under load, queued behind it in the qdisc' },
    },
    programs: (o) => ({ board: rx ? ['bulk-sink'] : o.ping ? ['bulk-source', 'ping'] : ['bulk-source'], lab: [rx ? 'bulk-source' : 'bulk-sink'] }),
    produces: ['goodput', 'rtt.p99'],
    timeLimitSeconds: 600,
    state: (o) => (rx && o.ping !== null ? refuse('ping=N goes with bulk-tx: the board pings while it uploads') : { sink: null as BulkSink | null, source: null as BulkSource | null, ping: null as Ping | null, done: 0, cpu: { cycles0: 0, cycles1: 0, t0: 0, t1: 0 } as CpuWindow, finished: () => {} }),
    // The lab host listens; the board connects (as a firmware client would).
    lab(t, o, s) {
      s.cpu.cycles0 = t.board.observe().cpu.cyclesUsed;
      s.cpu.t0 = t.now();
      s.finished = (): void => {
        s.cpu.cycles1 = t.board.observe().cpu.cyclesUsed;
        s.cpu.t1 = t.now();
        if (++s.done === (s.ping ? 3 : 2)) t.finish();
      };
      const boardBuffers = { rcvbuf: o.rcvbuf ?? undefined, sndbuf: o.sndbuf ?? undefined };
      const connect = { connect: { addr: t.lab.addr, port: BULK_PORT } };
      s.source = rx ? new BulkSource({ listen: BULK_PORT }, o.bytes) : new BulkSource(connect, o.bytes, boardBuffers);
      s.sink = rx ? new BulkSink(connect, o.bytes, boardBuffers) : new BulkSink({ listen: BULK_PORT }, o.bytes);
      t.lab.spawn(rx ? s.source : s.sink, s.finished);
    },
    board(t, o, s) {
      t.step(`scenario ${name}: board ${rx ? 'downloads' : 'uploads'} ${o.bytes} bytes`);
      t.board.spawn(rx ? s.sink! : s.source!, s.finished);
      if (o.ping) {
        // Latency under load: the echo requests queue behind the upload in the board's qdisc.
        s.ping = new Ping({ ...PING_DEFAULTS, count: o.ping, intervalNs: PING_UNDER_LOAD_INTERVAL_NS, target: t.lab.addr });
        t.board.spawn(s.ping, s.finished);
      }
    },
    checks(_t, o, s) {
      const st = s.sink!.stats;
      const src = s.source!.stats;
      return [
        { name: 'transfer complete and intact', pass: st.bytes === o.bytes && s.sink!.corrupt === 0 && !st.error && !src.error, detail: `${st.bytes} of ${o.bytes} bytes, ${s.sink!.corrupt} corrupt${st.error ? `, sink: ${st.error}` : ''}${src.error ? `, source: ${src.error}` : ''}` },
      ];
    },
    figures(t, _o, s) {
      const st = s.sink!.stats;
      const senderInfo = s.source!.stats.tcpInfo as TcpInfo | null;
      const receiverInfo = st.tcpInfo as TcpInfo | null;
      const goodput = st.goodputBps;
      return {
        transfer: { direction, bytes: st.bytes, startNs: st.startNs, endNs: st.endNs, goodputBps: goodput },
        rtt: rttStats(senderRtts(t.board.observe(), t.lab.observe(), rx)),
        retransmissions: senderInfo?.retransmits ?? null,
        sender: senderInfo,
        receiver: receiverInfo,
        dut: rx ? receiverInfo : senderInfo,
        bound: limitingBound(t.board.observe(), goodput, st, senderInfo, s.cpu),
        dutAddress: t.board.addr,
        ...(s.ping ? { pingUnderLoad: pingFigures(s.ping) } : {}),
      };
    },
    measured(t, _o, s) {
      const rtt = rttStats(senderRtts(t.board.observe(), t.lab.observe(), rx));
      return { goodput: s.sink!.stats.goodputBps, 'rtt.p99': rtt ? rtt.p99 : null };
    },
  });
}

/** The RTT samples the sending side's TCP took. */
function senderRtts(board: BoardObservation, lab: BoardObservation, rx: boolean): number[] {
  return (rx ? lab : board).tcp!.rttSamplesNs;
}

export const bulkRxScenario = bulkScenario('rx');
export const bulkTxScenario = bulkScenario('tx');

/**
 * Name the bound. The CPU when the board's CPU was busy at least 90% of the transfer (cycles
 * charged from the start to the programs' exits, over that time — not the drain after); loss
 * when at least 1% of the segments were retransmitted and the retransmissions account for at
 * least half of the shortfall from the link ceiling; the link when goodput is within 5% of
 * what the link carries with this MSS; else whichever limit held the sender back longest
 * (tcp_chrono: receive window, send buffer, congestion window — `loss` again when that was
 * the congestion window after retransmissions).
 */
function limitingBound(dut: BoardObservation, goodput: number | null, transfer: { bytes: number; startNs: number | null; endNs: number | null }, sender: TcpInfo | null, cpuWindow: CpuWindow): { bound: string; detail: string } {
  if (!goodput || !sender || transfer.startNs === null || transfer.endNs === null) return { bound: 'unknown', detail: 'transfer did not complete' };
  const dutCpu = dut.cpu;
  const elapsedNs = Math.max(1, cpuWindow.t1 - cpuWindow.t0);
  const dutBusy = dutCpu.enabled ? (cpuWindow.cycles1 - cpuWindow.cycles0) / ((elapsedNs / 1e9) * dutCpu.clockHz) : 0;
  const link = linkGoodputLimit(dut.linkSpeedBps, sender.mss);
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
