/**
 * Stall detection, online: a TCP connection with something to move (bytes in flight, data
 * queued, a write waiting for memory, a full send buffer) that makes no progress for
 * STALL_NS is stalled. While it is, the timeline's samples and events are tallied, so when the
 * stall ends (progress, the connection goes, or the run stops) its cause can be named from
 * what the timeline saw: zero window, a write waiting for memory below min_free (the board is
 * too small) or for an allocation that failed, a full send buffer under tcp_mem pressure,
 * RTO backoff, ARP unresolved, or the peer gone. Bounded: one tally per live connection.
 */
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { formatBytes } from './budgets.js';

export const STALL_NS = 5 * NS_PER_SEC;

export type StallCause = 'zero-window' | 'memory-reserve' | 'alloc-failure' | 'sndbuf-pressure' | 'rto-backoff' | 'arp-unresolved' | 'peer-gone' | 'unknown';

export interface StallReport {
  connection: string;
  fromNs: number;
  toNs: number;
  durationNs: number;
  /** True when the connection moved again; false when it went away or the run stopped first. */
  resumed: boolean;
  cause: StallCause;
  /** One sentence naming the cause, with its figures. */
  detail: string;
  figures: Record<string, number | string>;
}

/** What one sample of a stalled connection showed. */
export interface StallSample {
  sndWnd: number;
  memWait: boolean;
  sndbufFull: boolean;
  pressure: boolean;
  backoff: number;
  rtoMs: number;
  free: number;
  tcpMem: number;
  /** The board's Tcp InSegs so far: any segment from anyone (the peer answering, or not). */
  inSegs: number;
}

export interface StallContext {
  minFreeBytes: number;
  heapBytes: number;
  board: string;
  profile: string;
  scenario: string;
}

/** The tally of one connection since its last progress. */
export class StallTally {
  samples = 0;
  zeroWindow = 0;
  memWait = 0;
  sndbufFull = 0;
  pressure = 0;
  belowMin = 0;
  maxBackoff = 0;
  maxRtoMs = 0;
  minFree = Number.POSITIVE_INFINITY;
  maxFree = 0;
  maxTcpMem = 0;
  rtoFirings = 0;
  retransmits = 0;
  arpFailures = 0;
  aborts = 0;
  private firstInSegs = -1;
  private lastInSegs = -1;
  readonly throttles = new Map<string, number>();
  readonly allocFailures = new Map<string, number>();

  constructor(readonly connection: string, readonly fromNs: number) {}

  addSample(s: StallSample, minFreeBytes: number): void {
    this.samples++;
    if (this.firstInSegs < 0) this.firstInSegs = s.inSegs;
    this.lastInSegs = s.inSegs;
    if (s.sndWnd === 0) this.zeroWindow++;
    if (s.memWait) this.memWait++;
    if (s.sndbufFull) this.sndbufFull++;
    if (s.pressure) this.pressure++;
    // An order-0 GFP_KERNEL allocation needs free − 1 page ≥ min_free, and a send skb takes two
    // (its fclone head's slab page and its data's): within two pages of the reserve it waits.
    if (s.free <= minFreeBytes + 2 * 4096) this.belowMin++;
    if (s.backoff > this.maxBackoff) this.maxBackoff = s.backoff;
    // The timer actually armed: rto << backoff, capped at TCP_RTO_MAX (120 s).
    const armedMs = Math.min(s.rtoMs * 2 ** s.backoff, 120_000);
    if (armedMs > this.maxRtoMs) this.maxRtoMs = armedMs;
    if (s.free < this.minFree) this.minFree = s.free;
    if (s.free > this.maxFree) this.maxFree = s.free;
    if (s.tcpMem > this.maxTcpMem) this.maxTcpMem = s.tcpMem;
  }

  addEvent(kind: string, site: string, n: number): void {
    if (kind === 'rto') this.rtoFirings += n;
    else if (kind === 'retransmit') this.retransmits += n;
    else if (kind === 'arp-fail' || site.startsWith('arp:')) this.arpFailures += n;
    else if (kind === 'throttle') this.throttles.set(site, (this.throttles.get(site) ?? 0) + n);
    else if (kind === 'alloc-fail') this.allocFailures.set(site, (this.allocFailures.get(site) ?? 0) + n);
    else if (site === 'tcp: TCPAbortOnTimeout') this.aborts += n;
  }

  report(toNs: number, resumed: boolean, ctx: StallContext): StallReport {
    const durationNs = toNs - this.fromNs;
    const secs = (durationNs / NS_PER_SEC).toFixed(1);
    const half = this.samples / 2;
    const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
    const sites = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ×${v}`).join(', ');
    const throttled = sum(this.throttles);
    const failed = sum(this.allocFailures);
    let cause: StallCause;
    let detail: string;
    const figures: Record<string, number | string> = { seconds: Number(secs) };
    if (this.samples > 0 && this.zeroWindow > half) {
      cause = 'zero-window';
      detail = `zero window: the peer advertised a receive window of 0 for ${secs} s (${this.zeroWindow} of ${this.samples} samples)`;
    } else if (this.arpFailures > 0 && this.arpFailures >= this.rtoFirings) {
      cause = 'arp-unresolved';
      detail = `ARP unresolved: ${this.arpFailures} neighbour resolution failures or unresolved discards in ${secs} s, so nothing reached the peer`;
    } else if (this.aborts > 0 || (!resumed && this.maxBackoff >= 6 && this.lastInSegs === this.firstInSegs)) {
      cause = 'peer-gone';
      detail = `peer gone: ${this.rtoFirings} retransmission timeouts in ${secs} s with no ACK (backoff reached ${this.maxBackoff}, RTO ${(this.maxRtoMs / 1000).toFixed(1)} s)${this.aborts > 0 ? ', then the connection was aborted' : ''}`;
    } else if (this.samples > 0 && this.memWait > half && this.belowMin > half && this.maxTcpMem <= 4 * 4096) {
      cause = 'memory-reserve';
      figures['freeBytes'] = this.minFree;
      figures['maxFreeBytes'] = this.maxFree;
      figures['minFreeBytes'] = ctx.minFreeBytes;
      figures['heapBytes'] = ctx.heapBytes;
      figures['throttled'] = throttled;
      detail =
        `the board is too small for profile ${ctx.profile} on ${ctx.board} with ${ctx.scenario}: for ${secs} s free RAM was between ${formatBytes(this.minFree)} and ${formatBytes(this.maxFree)}, ` +
        `within two pages of the min_free reserve of ${formatBytes(ctx.minFreeBytes)} in a ${formatBytes(ctx.heapBytes)} heap in ${this.belowMin} of ${this.samples} samples, with at most ${formatBytes(this.maxTcpMem)} of TCP memory in flight to give back, ` +
        `so the sender's process-context allocations were throttled ${throttled} times (${sites(this.throttles) || 'no site'}) and the write waited for memory`;
    } else if (this.samples > 0 && this.memWait > half) {
      cause = 'alloc-failure';
      figures['failed'] = failed;
      figures['throttled'] = throttled;
      detail = `allocation failures: the write waited for memory for ${secs} s; ${failed} allocations failed (${sites(this.allocFailures) || 'none'}) and ${throttled} were throttled at min_free (${sites(this.throttles) || 'none'})`;
    } else if (this.samples > 0 && this.sndbufFull > half && this.pressure > 0) {
      cause = 'sndbuf-pressure';
      detail = `send buffer full under tcp_mem pressure for ${secs} s (pressure in ${this.pressure} of ${this.samples} samples, TCP memory up to ${formatBytes(this.maxTcpMem)})`;
    } else if (this.rtoFirings > 0 || this.maxBackoff > 0) {
      cause = 'rto-backoff';
      figures['rtoFirings'] = this.rtoFirings;
      figures['maxBackoff'] = this.maxBackoff;
      figures['segmentsIn'] = Math.max(0, this.lastInSegs - this.firstInSegs);
      detail =
        `RTO backoff: ${this.rtoFirings} retransmission timeouts in ${secs} s, backoff up to ${this.maxBackoff} (RTO ${(this.maxRtoMs / 1000).toFixed(1)} s), ` +
        `while ${Math.max(0, this.lastInSegs - this.firstInSegs)} segments still came in${this.arpFailures > 0 ? ` and ARP failed ${this.arpFailures} times` : ''}`;
    } else {
      cause = 'unknown';
      detail = `no progress for ${secs} s and no cause the timeline can name (window ${this.zeroWindow ? 'zero at times' : 'open'}, no RTO, no allocation failure)`;
    }
    return { connection: this.connection, fromNs: this.fromNs, toNs, durationNs, resumed, cause, detail, figures };
  }
}
