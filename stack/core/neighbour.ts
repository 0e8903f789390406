/**
 * The neighbour table for ARP (Linux net/core/neighbour.c with arp_tbl's parameters).
 *
 * States follow NUD: INCOMPLETE while soliciting, REACHABLE after a reply, STALE when the
 * reachable time has passed, DELAY then PROBE when a stale entry is used again, FAILED when
 * solicitations run out. Packets wait in a bounded per-entry queue while INCOMPLETE; when
 * resolution fails they are dropped and their senders told the host is unreachable.
 * Entries are objects in board RAM (arp_cache); allocation failure refuses the lookup.
 */
import type { EventQueue, Nanos, TimerHandle } from '../../emulator/event-queue.js';
import { NS_PER_SEC } from '../../emulator/event-queue.js';
import type { Prng } from '../../emulator/prng.js';
import type { SlabCache } from './kmem.js';
import type { SkBuff } from './skbuff.js';

export type NudState = 'INCOMPLETE' | 'REACHABLE' | 'STALE' | 'DELAY' | 'PROBE' | 'FAILED';

/** arp_tbl defaults from Linux 6.1 (net/ipv4/arp.c, /proc/sys/net/ipv4/neigh/default). */
export interface NeighParams {
  baseReachableTime: Nanos;
  retransTime: Nanos;
  delayFirstProbeTime: Nanos;
  gcStaleTime: Nanos;
  ucastSolicit: number;
  mcastSolicit: number;
  /** unres_qlen_bytes: bytes of packets queued per unresolved entry (SK_WMEM_MAX). */
  unresQlenBytes: number;
  gcThresh1: number;
  gcThresh2: number;
  gcThresh3: number;
  gcInterval: Nanos;
}

export const ARP_DEFAULTS: NeighParams = {
  baseReachableTime: 30 * NS_PER_SEC,
  retransTime: 1 * NS_PER_SEC,
  delayFirstProbeTime: 5 * NS_PER_SEC,
  gcStaleTime: 60 * NS_PER_SEC,
  ucastSolicit: 3,
  mcastSolicit: 3,
  unresQlenBytes: 212_992,
  gcThresh1: 128,
  gcThresh2: 512,
  gcThresh3: 1024,
  gcInterval: 30 * NS_PER_SEC,
};

export interface Neighbour {
  readonly key: number;
  readonly ifindex: number;
  readonly addr: number;
  state: NudState;
  hwAddr: Uint8Array | null;
  probes: number;
  queue: SkBuff[];
  queueBytes: number;
  confirmed: Nanos;
  used: Nanos;
  updated: Nanos;
  timer: TimerHandle | null;
}

export interface NeighHooks {
  /** Send a solicitation (ARP request): broadcast, or unicast to `hwAddr` when probing. */
  solicit(n: Neighbour, hwAddr: Uint8Array | null): void;
  /** Transmit a queued packet now that the address is known. */
  output(skb: SkBuff, hwAddr: Uint8Array): void;
  /** A queued packet whose destination could not be resolved (ip_link_failure). */
  unreachable(skb: SkBuff): void;
  /** A neighbour timer expired (charged to the CPU). */
  timerFired?(): void;
}

export class NeighTable {
  readonly entries = new Map<number, Neighbour>();
  readonly stats = { lookups: 0, hits: 0, res_failed: 0, allocs: 0, destroys: 0, unresolved_discards: 0, forced_gc_runs: 0, table_fulls: 0 };
  private reachableTime: Nanos;
  private gcTimer: TimerHandle | null = null;

  constructor(
    private readonly sim: EventQueue,
    private readonly rng: Prng,
    private readonly cache: SlabCache,
    private readonly hooks: NeighHooks,
    readonly params: NeighParams = ARP_DEFAULTS,
  ) {
    this.reachableTime = this.randomReachableTime();
  }

  /** neigh_rand_reach_time: uniformly in [base/2, 3·base/2). */
  private randomReachableTime(): Nanos {
    const base = this.params.baseReachableTime;
    return Math.floor(base / 2 + this.rng.nextFloat() * base);
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(addr: number): Neighbour | undefined {
    this.stats.lookups++;
    const n = this.entries.get(addr);
    if (n) this.stats.hits++;
    return n;
  }

  /** neigh_create; null when the table is full or RAM is exhausted. */
  private create(addr: number, ifindex: number): Neighbour | null {
    if (this.entries.size >= this.params.gcThresh3) {
      this.forcedGc();
      if (this.entries.size >= this.params.gcThresh3) {
        this.stats.table_fulls++;
        return null;
      }
    }
    const key = this.cache.alloc();
    if (key === 0) return null;
    this.stats.allocs++;
    const now = this.sim.now;
    const n: Neighbour = { key, ifindex, addr, state: 'INCOMPLETE', hwAddr: null, probes: 0, queue: [], queueBytes: 0, confirmed: now, used: now, updated: now, timer: null };
    this.entries.set(addr, n);
    if (!this.gcTimer) this.gcTimer = this.sim.after(this.params.gcInterval, () => this.periodicGc());
    return n;
  }

  /**
   * neigh_resolve_output: send `skb` to `addr`, resolving it first if needed. Returns false
   * when the packet was dropped at once (no entry could be made).
   */
  output(skb: SkBuff, addr: number, ifindex: number): boolean {
    let n = this.lookup(addr);
    if (!n) {
      const made = this.create(addr, ifindex);
      if (!made) {
        this.stats.unresolved_discards++;
        this.hooks.unreachable(skb);
        return false;
      }
      n = made;
      this.startResolution(n);
    }
    n.used = this.sim.now;
    switch (n.state) {
      case 'REACHABLE':
      case 'DELAY':
      case 'PROBE':
        this.hooks.output(skb, n.hwAddr!);
        return true;
      case 'STALE':
        // Use the stale address now, and confirm it after delay_first_probe_time.
        this.setState(n, 'DELAY');
        this.arm(n, this.params.delayFirstProbeTime);
        this.hooks.output(skb, n.hwAddr!);
        return true;
      case 'FAILED':
        n.state = 'INCOMPLETE';
        n.probes = 0;
        this.startResolution(n);
        this.enqueue(n, skb);
        return true;
      case 'INCOMPLETE':
        this.enqueue(n, skb);
        return true;
    }
  }

  private enqueue(n: Neighbour, skb: SkBuff): void {
    // __neigh_event_send: drop the oldest packets while the queue is over unres_qlen_bytes.
    while (n.queue.length > 0 && n.queueBytes + skb.truesize > this.params.unresQlenBytes) {
      const old = n.queue.shift()!;
      n.queueBytes -= old.truesize;
      this.stats.unresolved_discards++;
      old.free();
    }
    n.queue.push(skb);
    n.queueBytes += skb.truesize;
  }

  private startResolution(n: Neighbour): void {
    n.probes = 1;
    this.hooks.solicit(n, null);
    this.arm(n, this.params.retransTime);
  }

  private arm(n: Neighbour, delay: Nanos): void {
    this.sim.cancel(n.timer);
    n.timer = this.sim.after(delay, () => {
      this.hooks.timerFired?.();
      this.timerFired(n);
    });
  }

  private setState(n: Neighbour, s: NudState): void {
    n.state = s;
    n.updated = this.sim.now;
  }

  /** neigh_timer_handler. */
  private timerFired(n: Neighbour): void {
    n.timer = null;
    const now = this.sim.now;
    switch (n.state) {
      case 'REACHABLE':
        if (now - n.confirmed >= this.reachableTime) this.setState(n, 'STALE');
        else this.arm(n, n.confirmed + this.reachableTime - now);
        return;
      case 'DELAY':
        if (now - n.confirmed < this.params.delayFirstProbeTime) {
          this.setState(n, 'REACHABLE');
          this.arm(n, this.reachableTime);
          return;
        }
        this.setState(n, 'PROBE');
        n.probes = 0;
        this.probe(n);
        return;
      case 'PROBE':
      case 'INCOMPLETE':
        this.probe(n);
        return;
      default:
        return;
    }
  }

  private probe(n: Neighbour): void {
    const max = n.state === 'PROBE' ? this.params.ucastSolicit : this.params.mcastSolicit;
    if (n.probes >= max) {
      this.fail(n);
      return;
    }
    n.probes++;
    this.hooks.solicit(n, n.state === 'PROBE' ? n.hwAddr : null);
    this.arm(n, this.params.retransTime);
  }

  /** Resolution failed: drop the queue and report each packet's destination unreachable. */
  private fail(n: Neighbour): void {
    this.setState(n, 'FAILED');
    this.stats.res_failed++;
    const queued = n.queue;
    n.queue = [];
    n.queueBytes = 0;
    for (const skb of queued) {
      this.stats.unresolved_discards++;
      this.hooks.unreachable(skb);
    }
  }

  /**
   * neigh_update from a received ARP packet. `solicited` is true for a reply to us (confirms
   * reachability); a request only tells us the sender's address (STALE unless known).
   */
  update(addr: number, ifindex: number, hwAddr: Uint8Array, solicited: boolean, createIfMissing: boolean): void {
    let n = this.entries.get(addr);
    if (!n) {
      if (!createIfMissing) return;
      const made = this.create(addr, ifindex);
      if (!made) return;
      n = made;
    }
    const changed = !n.hwAddr || n.hwAddr.some((b, i) => b !== hwAddr[i]);
    n.hwAddr = hwAddr.slice();
    if (solicited) {
      n.confirmed = this.sim.now;
      this.setState(n, 'REACHABLE');
      n.probes = 0;
      this.arm(n, this.reachableTime);
    } else if (n.state === 'INCOMPLETE' || n.state === 'FAILED' || changed) {
      this.setState(n, 'STALE');
      this.sim.cancel(n.timer);
      n.timer = null;
    }
    if (n.queue.length > 0) {
      const queued = n.queue;
      n.queue = [];
      n.queueBytes = 0;
      for (const skb of queued) this.hooks.output(skb, n.hwAddr);
    }
  }

  private destroy(n: Neighbour): void {
    this.sim.cancel(n.timer);
    for (const skb of n.queue) skb.free();
    this.entries.delete(n.addr);
    this.cache.free(n.key);
    this.stats.destroys++;
  }

  /** neigh_periodic_work: drop FAILED entries and stale ones unused for gc_stale_time. */
  private periodicGc(): void {
    this.gcTimer = null;
    const now = this.sim.now;
    this.reachableTime = this.randomReachableTime();
    // Linux 6.1 leaves a table below gc_thresh1 alone: `if (entries < tbl->gc_thresh1) goto out`
    // (a board talking to one peer keeps that peer's entry, STALE, however long it idles).
    const collect = this.entries.size >= this.params.gcThresh1;
    for (const n of collect ? [...this.entries.values()] : []) {
      if (n.state === 'FAILED' || (n.state === 'STALE' && now - n.used > this.params.gcStaleTime)) {
        if (this.entries.size > 0) this.destroy(n);
      }
    }
    if (this.entries.size > 0) this.gcTimer = this.sim.after(this.params.gcInterval, () => this.periodicGc());
  }

  /** neigh_forced_gc: above gc_thresh2, drop entries that are not in use. */
  private forcedGc(): void {
    this.stats.forced_gc_runs++;
    for (const n of [...this.entries.values()]) {
      if (this.entries.size <= this.params.gcThresh2) break;
      if (n.state === 'FAILED' || n.state === 'STALE') this.destroy(n);
    }
  }

  /** Remove every entry (interface down, scenario end). */
  flush(): void {
    for (const n of [...this.entries.values()]) this.destroy(n);
    this.sim.cancel(this.gcTimer);
    this.gcTimer = null;
  }
}

