/**
 * The timeline: what the board under test held and did, sampled every 100 ms of virtual time
 * and streamed to trace.msgpack as the run goes (docs/trace-format.md).
 *
 * It only observes: it reads the counters and fields the emulator and the stack already keep
 * (slab caches, the page allocator, tcp_memory_allocated, each TCP socket, the MIB, the MAC's
 * ethtool counters, the wire) from a timer of its own. A timer that reads changes nothing a run
 * produces: events keep their order (time, then sequence), and the capture and report stay the
 * same bytes. Events (drops, retransmissions, RTO firings, allocation failures, throttles) are
 * counter increments found at a sample, each with its site and count, stamped with that
 * sample's time: their resolution is the sample interval. Nothing here runs per frame.
 */
import type { SkbDropReason } from '../stack/core/dropreason.js';
import type { EventQueue, Nanos, TimerHandle } from '../emulator/event-queue.js';
import { NS_PER_MS } from '../emulator/event-queue.js';
import type { BoardRam } from '../emulator/ram/board-ram.js';
import type { RamKind } from '../emulator/ram/board-ram.js';
import type { EthernetMac } from '../emulator/ethernet-mac.js';
import type { WireStats } from '../emulator/wire.js';
import type { NetStack } from '../stack/net-stack.js';
import type { TcpSock } from '../stack/ipv4/tcp-sock.js';
import { STALL_NS, StallTally, type StallReport } from './stall.js';
import type { TraceWriter } from './trace-writer.js';

/** Stalls kept for the report (the first ones: bounded whatever the run's length). */
const MAX_STALLS = 32;

export const TRACE_FORMAT = 'quarklab-trace';
export const TRACE_VERSION = 2;
export const SAMPLE_INTERVAL_NS = 100 * NS_PER_MS;

/** RAM by owner, in the order the `mem` record's `owners` array holds them. */
export const OWNERS = ['socket buffers', 'skb heads', 'request socks', 'frag queues', 'programs'] as const;

export interface TimelineLine {
  time: number;
  board: string;
  program: string;
  line: string;
}

export interface TimelineInputs {
  sim: EventQueue;
  ram: BoardRam;
  stack: NetStack;
  mac: EthernetMac;
  wire: WireStats;
  /** Program output lines (the run's trace array): streamed as `line` records as they appear. */
  lines: readonly TimelineLine[];
  /** Bytes of RAM reserved at boot for board programs (text, stack, heap). */
  programBytes: number;
  staticBytes: number;
  header: { board: string; profile: string; scenario: string; seed: number };
}

interface ConnState {
  id: number;
  name: string;
  seen: number;
  acked: number;
  received: number;
  /**
   * The last sample at which the connection moved bytes or had nothing to move: a stall is
   * counted from here, so the idle time of a connection that only later got something to send
   * (a FIN after a slow reader's last read) is not taken for a stall.
   */
  progressAt: number;
  stall: StallTally | null;
}

/** A counter the timeline turns into events: read() now, last value seen. */
interface Probe {
  kind: 'drop' | 'retransmit' | 'rto' | 'alloc-fail' | 'throttle' | 'arp-fail';
  site: string;
  read: () => number;
  last: number;
}

export class Timeline {
  private readonly caches: RamKind[] = [];
  private readonly conns = new Map<TcpSock, ConnState>();
  private readonly probes: Probe[] = [];
  private readonly dropReasonSeen = new Set<string>();
  private nextConnId = 1;
  private generation = 0;
  private linesWritten = 0;
  private timer: TimerHandle | null = null;
  private stopped = false;
  samples = 0;
  /** Stalls found so far (STALL_NS without progress while there was something to move). */
  readonly stalls: StallReport[] = [];
  private readonly tick = (): void => {
    this.timer = null;
    this.sample();
    if (!this.stopped) this.timer = this.src.sim.after(SAMPLE_INTERVAL_NS, this.tick);
  };

  constructor(private readonly src: TimelineInputs, private readonly out: TraceWriter) {}

  /** Write the header and the first sample, and sample every 100 ms from now on. */
  start(): void {
    const { ram, stack } = this.src;
    const tcp = stack.tcp;
    this.out.write({
      k: 'header',
      format: TRACE_FORMAT,
      version: TRACE_VERSION,
      intervalNs: SAMPLE_INTERVAL_NS,
      ...this.src.header,
      ramBytes: ram.size,
      heapBytes: ram.usage().heapBytes,
      staticBytes: this.src.staticBytes,
      minFreeBytes: ram.reservePages() * 4096,
      tcpMemBytes: tcp ? tcp.sysctl.tcpMem.map((p) => p * 4096) : null,
      owners: [...OWNERS],
    });
    this.addProbes();
    this.sample();
    this.timer = this.src.sim.after(SAMPLE_INTERVAL_NS, this.tick);
  }

  /** The scenario's traffic is over: one last sample, then no more timers. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.src.sim.cancel(this.timer);
    this.timer = null;
    this.sample();
    for (const c of this.conns.values()) this.endStall(c, this.src.sim.now, false);
  }

  private endStall(c: ConnState, now: number, resumed: boolean): void {
    const tally = c.stall;
    c.stall = null;
    if (!tally || now - tally.fromNs < STALL_NS || this.stalls.length >= MAX_STALLS) return;
    const h = this.src.header;
    const ram = this.src.ram;
    this.stalls.push(tally.report(now, resumed, { minFreeBytes: ram.reservePages() * 4096, heapBytes: ram.usage().heapBytes, board: h.board, profile: h.profile, scenario: h.scenario }));
  }

  /** After the quiet time: the remaining program lines and the end record. */
  finish(): void {
    this.stop();
    this.writeLines();
    this.out.write({ k: 'end', t: this.src.sim.now, samples: this.samples });
  }

  private addProbes(): void {
    const { stack, mac, wire, ram } = this.src;
    const p = (kind: Probe['kind'], site: string, read: () => number): void => {
      this.probes.push({ kind, site, read, last: read() });
    };
    p('drop', 'wire: frame lost', () => wire.lost);
    p('drop', 'mac: rx_missed_errors (ring full)', () => mac.stats.rx_missed_errors);
    p('drop', 'mac: rx_crc_errors', () => mac.stats.rx_crc_errors);
    p('drop', 'mac: rx_length_errors', () => mac.stats.rx_length_errors);
    for (const dev of stack.devices) {
      p('drop', `${dev.name}: rx_dropped`, () => dev.stats.rx_dropped);
      p('drop', `${dev.name}: tx_dropped`, () => dev.stats.tx_dropped);
    }
    p('drop', 'arp: unresolved_discards', () => stack.neigh.stats.unresolved_discards);
    p('arp-fail', 'arp: res_failed', () => stack.neigh.stats.res_failed);
    p('drop', 'ip: InDiscards', () => stack.ip.mib['InDiscards'] ?? 0);
    p('drop', 'ip: OutDiscards', () => stack.ip.mib['OutDiscards'] ?? 0);
    p('alloc-fail', 'skb: alloc_skb', () => stack.skbs.allocFailures);
    p('alloc-fail', 'pages: alloc_pages', () => ram.pages.failures);
    p('throttle', 'kmalloc-large (min_free)', () => ram.largeThrottled);
    const tcp = stack.tcp;
    if (tcp) {
      p('retransmit', 'tcp: RetransSegs', () => tcp.mib['RetransSegs'] ?? 0);
      p('rto', 'tcp: TCPTimeouts', () => tcp.ext['TCPTimeouts'] ?? 0);
      p('drop', 'tcp: TCPAbortOnMemory', () => tcp.ext['TCPAbortOnMemory'] ?? 0);
      p('drop', 'tcp: TCPAbortOnTimeout', () => tcp.ext['TCPAbortOnTimeout'] ?? 0);
    }
  }

  /** Caches created since the last sample get an id (their index) and a `cache` record. */
  private addNewCaches(): void {
    const list = this.src.ram.ramKinds();
    if (list.length === this.caches.length) return;
    for (const c of list) {
      if (this.caches.includes(c)) continue;
      const id = this.caches.length;
      this.caches.push(c);
      this.out.write({ k: 'cache', t: this.src.sim.now, id, name: c.name, objectSize: c.objectSize });
      this.probes.push({ kind: 'alloc-fail', site: `slab: ${c.name}`, read: () => c.failures, last: c.failures });
      this.probes.push({ kind: 'throttle', site: `slab: ${c.name} (min_free)`, read: () => c.throttled, last: c.throttled });
    }
  }

  private sample(): void {
    const now = this.src.sim.now;
    const { ram, stack } = this.src;
    this.samples++;
    this.generation++;
    this.writeLines();
    this.addNewCaches();
    const tcp = stack.tcp;
    // Goodput: application bytes acknowledged (sent) or received by the board's TCP sockets.
    let goodput = 0;
    if (tcp) {
      for (const sk of tcp.all) {
        if (sk.state === 'LISTEN' || sk.state === 'CLOSED') continue;
        let c = this.conns.get(sk);
        if (!c) {
          c = { id: this.nextConnId++, name: `${endpoint(sk.laddr, sk.lport)} → ${endpoint(sk.raddr, sk.rport)}`, seen: 0, acked: 0, received: 0, progressAt: now, stall: null };
          this.conns.set(sk, c);
          this.out.write({ k: 'conn', t: now, id: c.id, local: endpoint(sk.laddr, sk.lport), remote: endpoint(sk.raddr, sk.rport) });
        }
        c.seen = this.generation;
        const moved = sk.info.bytesAcked - c.acked + (sk.info.bytesReceived - c.received);
        goodput += moved;
        c.acked = sk.info.bytesAcked;
        c.received = sk.info.bytesReceived;
        if (moved > 0) {
          this.endStall(c, now, true);
          c.progressAt = now;
        }
      }
      for (const [sk, c] of this.conns) {
        if (c.seen === this.generation) continue;
        this.endStall(c, now, false);
        this.out.write({ k: 'tcp', t: now, id: c.id, state: 'CLOSED', gone: true });
        this.conns.delete(sk);
      }
    }
    const cachePages: number[] = new Array<number>(this.caches.length);
    // In pages (fractional on SLOB, where a kind holds bytes of shared pages).
    for (let i = 0; i < this.caches.length; i++) cachePages[i] = this.caches[i]!.heldBytes / 4096;
    const bytesOf = (name: string): number => {
      const c = ram.cache(name);
      return c ? c.active * c.objectSize : 0;
    };
    const usage = ram.usage();
    this.out.write({
      k: 'mem',
      t: now,
      free: usage.freeBytes,
      used: usage.usedBytes,
      largePages: ram.slabinfo().find((s) => s.name === 'kmalloc-large')?.pages ?? 0,
      caches: cachePages,
      owners: [
        tcp ? tcp.mem.allocated : 0,
        bytesOf('skbuff_head_cache') + bytesOf('skbuff_fclone_cache'),
        bytesOf('request_sock_TCP'),
        bytesOf('ip4-frags') + (stack.ipfrag?.memory ?? 0),
        this.src.programBytes,
      ],
      tcpMem: tcp ? tcp.mem.allocated : 0,
      pressure: tcp ? tcp.mem.pressure : false,
      goodput,
    });
    if (tcp) {
      for (const [sk, c] of this.conns) {
        this.out.write({
          k: 'tcp',
          t: now,
          id: c.id,
          state: sk.state,
          cwnd: sk.cwnd,
          ssthresh: sk.ssthresh >= 0x7fffffff ? null : sk.ssthresh,
          srttUs: Math.round(sk.srtt / 1000),
          rtoMs: Math.round(sk.rto / NS_PER_MS),
          backoff: sk.backoff,
          inflight: (sk.sndNxt - sk.sndUna) >>> 0,
          packetsOut: sk.packetsInFlight(),
          sndWnd: sk.sndWnd,
          rcvWnd: sk.rcvWnd,
          sndbuf: sk.sndbuf,
          wmemQueued: sk.wmemQueued,
          rcvbuf: sk.rcvbuf,
          rmemAlloc: sk.rmemAlloc,
          sndbufFull: sk.wmemQueued >= sk.sndbuf,
          memWait: sk.memWaitTimer !== null,
          pressure: tcp.mem.pressure,
          acked: sk.info.bytesAcked,
          received: sk.info.bytesReceived,
        });
        const inflight = (sk.sndNxt - sk.sndUna) >>> 0;
        const hasWork = inflight > 0 || sk.wmemQueued > 0 || sk.memWaitTimer !== null || sk.wmemQueued >= sk.sndbuf;
        if (c.progressAt === now) continue;
        if (!hasWork) {
          this.endStall(c, now, false);
          c.progressAt = now;
          continue;
        }
        if (!c.stall) c.stall = new StallTally(c.name, c.progressAt);
        c.stall.addSample(
          { sndWnd: sk.sndWnd, memWait: sk.memWaitTimer !== null, sndbufFull: sk.wmemQueued >= sk.sndbuf, pressure: tcp.mem.pressure, backoff: sk.backoff, rtoMs: sk.rto / NS_PER_MS, free: usage.freeBytes, tcpMem: tcp.mem.allocated, inSegs: tcp.mib['InSegs'] ?? 0 },
          ram.reservePages() * 4096,
        );
      }
      for (const reason of Object.keys(tcp.dropReasons) as SkbDropReason[]) {
        if (this.dropReasonSeen.has(reason)) continue;
        this.dropReasonSeen.add(reason);
        this.probes.push({ kind: 'drop', site: `tcp: ${reason}`, read: () => tcp.dropReasons[reason] ?? 0, last: 0 });
      }
    }
    for (const probe of this.probes) {
      const v = probe.read();
      if (v !== probe.last) {
        this.out.write({ k: 'ev', t: now, kind: probe.kind, site: probe.site, n: v - probe.last });
        for (const c of this.conns.values()) c.stall?.addEvent(probe.kind, probe.site, v - probe.last);
        probe.last = v;
      }
    }
  }

  private writeLines(): void {
    const lines = this.src.lines;
    while (this.linesWritten < lines.length) {
      const l = lines[this.linesWritten++]!;
      this.out.write({ k: 'line', t: l.time, board: l.board, program: l.program, line: l.line });
    }
  }
}

function endpoint(addr: number, port: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}:${port}`;
}

export type { Nanos };
