/**
 * IPv4 reassembly (net/ipv4/ip_fragment.c with net/ipv4/inet_fragment.c).
 *
 * Each datagram being reassembled is a queue keyed by (source, destination, id, protocol): a
 * struct ipq in RAM, and the fragments themselves, kept as the skbs they arrived in. Memory is
 * counted as Linux counts it (frag_mem_limit: each queue's ipq plus each fragment's truesize).
 * Fragments are kept as Linux 6.1 keeps them, in contiguous runs ordered by offset; a fragment
 * that overlaps data already held kills the whole queue (RFC 5722, ReasmOverlaps), an exact
 * duplicate is only dropped. A queue lives ipfrag_time seconds from its first fragment; when it
 * times out it is counted (ReasmTimeout, ReasmFails) and, if the first fragment had arrived,
 * the sender is told with ICMP time exceeded (fragment reassembly time exceeded).
 *
 * The queue hash is the 2014 branch's fixed table: 1024 buckets searched at most 128 deep (16
 * and 32 under BASE_SMALL), a jhash of the key with a boot-time random seed. Above
 * ipfrag_high_thresh no new queue is made and the evictor (inet_frag_worker) is scheduled; it
 * drops the oldest queues until memory is below ipfrag_low_thresh.
 *
 * Linux 6.1's defaults are kept (high 4 MiB, low 3 MiB): on a 2 MiB board they are never
 * reached, and the real limit is the board's RAM — the driver cannot refill its RX ring, or
 * the ipq cannot be allocated, and fragments are dropped and counted long before.
 */
import type { TimerHandle } from '../../emulator/event-queue.js';
import { NS_PER_SEC } from '../../emulator/event-queue.js';
import { ipfragHashSize } from '../core/hash-sizing.js';
import type { SlabCache } from '../core/kmem.js';
import { allocSkb, type SkBuff } from '../core/skbuff.js';
import type { NetStack } from '../net-stack.js';
import { ipChecksum } from '../wire/checksum.js';
import type { IP_MIB, MibNames } from '../core/snmp.js';
import { IP_DF, IP_MF, IP_OFFSET, type Ipv4Repr } from '../wire/ipv4-header.js';
import { writeU16 } from '../uapi/byte-order.js';

/** IPv4 reassembly as ip.ts calls it. */
export interface IpFragQueue {
  /** Hold a fragment (the skb is always consumed); returns the whole datagram when it completes. */
  enqueue(skb: SkBuff, ip: Ipv4Repr): { skb: SkBuff; ip: Ipv4Repr } | null;
}

const FIRST_IN = 1;
const LAST_IN = 2;

/** A run of fragments with no gap between them (FRAG_CB's frag_run_len). */
interface FragRun {
  offset: number;
  end: number;
  skbs: SkBuff[];
}

interface Ipq {
  /** struct ipq in the ip4-frags cache. */
  addr: number;
  src: number;
  dst: number;
  id: number;
  protocol: number;
  bucket: number;
  runs: FragRun[];
  /** Total payload length once known (q.len): the end of the last fragment, or the furthest end seen. */
  len: number;
  /** Payload bytes held (q.meat). */
  meat: number;
  flags: number;
  /** Sum of the fragments' truesize. */
  truesize: number;
  maxSize: number;
  maxDfSize: number;
  /** The first fragment's header, kept for the reassembled datagram and for ICMP. */
  headIp: Ipv4Repr | null;
  timer: TimerHandle | null;
  /** Creation order, for the evictor's oldest-first choice. */
  serial: number;
}

/** jhash_3words (include/linux/jhash.h). */
export function jhash3(a: number, b: number, c: number, initval: number): number {
  const rol = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;
  const iv = (initval + 0xdeadbeef + (3 << 2)) >>> 0;
  a = (a + iv) >>> 0;
  b = (b + iv) >>> 0;
  c = (c + iv) >>> 0;
  c = ((c ^ b) - rol(b, 14)) >>> 0;
  a = ((a ^ c) - rol(c, 11)) >>> 0;
  b = ((b ^ a) - rol(a, 25)) >>> 0;
  c = ((c ^ b) - rol(b, 16)) >>> 0;
  a = ((a ^ c) - rol(c, 4)) >>> 0;
  b = ((b ^ a) - rol(a, 14)) >>> 0;
  c = ((c ^ b) - rol(b, 24)) >>> 0;
  return c;
}

export class IpFragments implements IpFragQueue {
  /** net.ipv4.ipfrag_high_thresh / ipfrag_low_thresh (bytes) and ipfrag_time (seconds): Linux 6.1 defaults. */
  ipfrag_high_thresh = 4 * 1024 * 1024;
  ipfrag_low_thresh = 3 * 1024 * 1024;
  ipfrag_time = 30;
  readonly buckets: number;
  readonly maxDepth: number;
  /** Counts beyond the MIB: queues the evictor dropped, queues refused for a full chain. */
  readonly stats = { evictions: 0, chainOverflows: 0, highThreshRefusals: 0, allocFailures: 0 };
  /** The jhash seed (ip4_frags.rnd), random at boot. */
  readonly rnd: number;
  private readonly cache: SlabCache;
  private readonly qsize: number;
  private readonly chains: Ipq[][];
  private mem = 0;
  private serial = 0;
  private workerScheduled = false;

  constructor(private readonly stack: NetStack) {
    const h = ipfragHashSize(stack.has('BASE_SMALL'));
    this.buckets = h.buckets;
    this.maxDepth = h.maxDepth;
    stack.staticAlloc(`ip4_frags hash (${h.buckets} buckets)`, h.buckets * h.bucketBytes);
    this.chains = Array.from({ length: h.buckets }, () => []);
    this.qsize = stack.env.structs['ipq']!;
    this.cache = stack.env.mem.createCache('ip4-frags', this.qsize);
    this.rnd = stack.env.rng.split('ipfrag-rnd').nextU32();
    // Linux counts overlapping fragments in IpExt (/proc/net/netstat).
    if (stack.ip.ext['ReasmOverlaps'] === undefined) stack.ip.ext['ReasmOverlaps'] = 0;
  }

  /** frag_mem_limit: bytes held by reassembly now. */
  get memory(): number {
    return this.mem;
  }

  /** Queues alive now. */
  get queues(): number {
    return this.chains.reduce((n, c) => n + c.length, 0);
  }

  /** The bucket of a key (ipqhashfn). */
  bucketOf(src: number, dst: number, id: number, protocol: number): number {
    return jhash3(((id << 16) | protocol) >>> 0, src >>> 0, dst >>> 0, this.rnd) & (this.buckets - 1);
  }

  private count(name: MibNames<typeof IP_MIB>): void {
    this.stack.ip.mib[name]++;
  }

  /** ip_defrag. */
  enqueue(skb: SkBuff, ip: Ipv4Repr): { skb: SkBuff; ip: Ipv4Repr } | null {
    this.count('ReasmReqds');
    const q = this.find(ip);
    if (!q) {
      this.count('ReasmFails');
      skb.free();
      return null;
    }
    return this.queueFragment(q, skb, ip);
  }

  /** inet_frag_find: the queue for this key, or a new one; null when none can be had. */
  private find(ip: Ipv4Repr): Ipq | null {
    const bucket = this.bucketOf(ip.src, ip.dst, ip.id, ip.protocol);
    const chain = this.chains[bucket]!;
    for (const q of chain) {
      if (q.src === ip.src && q.dst === ip.dst && q.id === ip.id && q.protocol === ip.protocol) return q;
    }
    if (chain.length > this.maxDepth) {
      // inet_frag_maybe_warn_overflow: "hash bucket list length grew over limit".
      this.stats.chainOverflows++;
      return null;
    }
    if (this.mem > this.ipfrag_high_thresh || this.ipfrag_high_thresh === 0) {
      this.stats.highThreshRefusals++;
      this.scheduleWorker();
      return null;
    }
    const addr = this.cache.alloc();
    if (addr === 0) {
      this.stats.allocFailures++;
      return null;
    }
    const q: Ipq = {
      addr, src: ip.src, dst: ip.dst, id: ip.id, protocol: ip.protocol, bucket,
      runs: [], len: 0, meat: 0, flags: 0, truesize: 0, maxSize: 0, maxDfSize: 0, headIp: null, timer: null,
      serial: this.serial++,
    };
    this.mem += this.qsize;
    q.timer = this.stack.sim.after(this.ipfrag_time * NS_PER_SEC, () => {
      this.stack.chargeTimer();
      this.expire(q);
    });
    chain.push(q);
    return q;
  }

  /** ip_frag_queue: place the fragment, or drop it (and perhaps the queue) and count. */
  private queueFragment(q: Ipq, skb: SkBuff, ip: Ipv4Repr): { skb: SkBuff; ip: Ipv4Repr } | null {
    const offset = (ip.fragOff & IP_OFFSET) << 3;
    const more = (ip.fragOff & IP_MF) !== 0;
    let end = offset + ip.totalLength - ip.headerLength;
    const discard = (): null => {
      this.kill(q);
      this.count('ReasmFails');
      skb.free();
      return null;
    };
    if (!more) {
      // The last fragment: nothing may lie beyond it, and it may not move the end.
      if (end < q.len || ((q.flags & LAST_IN) !== 0 && end !== q.len)) return discard();
      q.flags |= LAST_IN;
      q.len = end;
    } else {
      end &= ~7; // all but the last fragment carry a multiple of 8 bytes
      if (end > q.len) {
        if ((q.flags & LAST_IN) !== 0) return discard();
        q.len = end;
      }
    }
    if (end === offset) return discard();
    skb.pull(ip.headerLength);
    skb.trim(end - offset);
    const placed = this.insert(q, skb, offset, end);
    if (placed === 'dup') {
      skb.free();
      return null;
    }
    if (placed === 'overlap') {
      this.stack.ip.ext['ReasmOverlaps']!++;
      return discard();
    }
    q.meat += skb.len;
    q.truesize += skb.truesize;
    this.mem += skb.truesize;
    if (offset === 0) {
      q.flags |= FIRST_IN;
      q.headIp = { ...ip };
    }
    const fragsize = skb.len + ip.headerLength;
    if (fragsize > q.maxSize) q.maxSize = fragsize;
    if ((ip.fragOff & IP_DF) !== 0 && fragsize > q.maxDfSize) q.maxDfSize = fragsize;
    if (q.flags === (FIRST_IN | LAST_IN) && q.meat === q.len) return this.reassemble(q);
    if (this.mem > this.ipfrag_high_thresh) this.scheduleWorker();
    return null;
  }

  /**
   * inet_frag_queue_insert: the common case appends at the end (joining the last run when
   * contiguous); otherwise the runs are searched, and a fragment inside a run is a duplicate
   * while one that straddles a run's edge is an overlap.
   */
  private insert(q: Ipq, skb: SkBuff, offset: number, end: number): 'ok' | 'dup' | 'overlap' {
    const last = q.runs[q.runs.length - 1];
    if (!last || last.end < end) {
      if (last && offset < last.end) return 'overlap';
      if (last && offset === last.end) {
        last.skbs.push(skb);
        last.end = end;
      } else {
        q.runs.push({ offset, end, skbs: [skb] });
      }
      return 'ok';
    }
    let at = q.runs.length;
    for (let i = 0; i < q.runs.length; i++) {
      const r = q.runs[i]!;
      if (end <= r.offset) {
        at = i;
        break;
      }
      if (offset >= r.end) continue;
      return offset >= r.offset && end <= r.end ? 'dup' : 'overlap';
    }
    q.runs.splice(at, 0, { offset, end, skbs: [skb] });
    return 'ok';
  }

  /**
   * ip_frag_reasm: one new skb holding the first fragment's header and every fragment's data
   * in order; total length, DF (set only if every fragment had it) and checksum rewritten.
   */
  private reassemble(q: Ipq): { skb: SkBuff; ip: Ipv4Repr } | null {
    const head = q.runs[0]!.skbs[0]!;
    const hip = q.headIp!;
    const ihl = hip.headerLength;
    const total = ihl + q.len;
    if (total > 0xffff) {
      // "Oversized IP packet": the fragments claim more than an IPv4 datagram can hold.
      this.kill(q);
      this.count('ReasmFails');
      return null;
    }
    const out = allocSkb(this.stack.skbs, total);
    if (!out) {
      this.kill(q);
      this.count('ReasmFails');
      return null;
    }
    const at = out.put(total);
    const b = out.bytes;
    b.copyWithin(at, head.networkHeader, head.networkHeader + ihl);
    let pos = at + ihl;
    for (const run of q.runs) {
      for (const f of run.skbs) {
        b.copyWithin(pos, f.data, f.tail);
        pos += f.len;
      }
    }
    const fragOff = q.maxDfSize === q.maxSize ? IP_DF : 0;
    writeU16(b, at + 2, total);
    writeU16(b, at + 6, fragOff);
    writeU16(b, at + 10, 0);
    writeU16(b, at + 10, ipChecksum(b, at, ihl));
    out.networkHeader = at;
    out.ifindex = head.ifindex;
    out.tstamp = head.tstamp;
    out.pktType = head.pktType;
    out.protocol = head.protocol;
    this.kill(q);
    this.count('ReasmOKs');
    return { skb: out, ip: { ...hip, totalLength: total, fragOff } };
  }

  /** ip_expire: the queue timed out; ICMP time exceeded if its first fragment had come. */
  private expire(q: Ipq): void {
    q.timer = null;
    this.count('ReasmFails');
    this.count('ReasmTimeout');
    if ((q.flags & FIRST_IN) !== 0 && q.runs.length > 0 && q.headIp) {
      const head = q.runs[0]!.skbs[0]!;
      this.stack.icmp.sendError(head, q.headIp, 11 /* ICMP_TIME_EXCEEDED */, 1 /* ICMP_EXC_FRAGTIME */, 0);
    }
    this.kill(q);
  }

  /** inet_frag_kill + inet_frag_destroy: unhash, stop the timer, free fragments and the ipq. */
  private kill(q: Ipq): void {
    this.stack.sim.cancel(q.timer);
    q.timer = null;
    const chain = this.chains[q.bucket]!;
    const i = chain.indexOf(q);
    if (i < 0) return;
    chain.splice(i, 1);
    for (const run of q.runs) for (const f of run.skbs) f.free();
    q.runs = [];
    this.mem -= q.truesize + this.qsize;
    this.cache.free(q.addr);
  }

  /** inet_frag_schedule_worker: the evictor runs as deferred work, not in the receive path. */
  private scheduleWorker(): void {
    if (this.workerScheduled) return;
    this.workerScheduled = true;
    this.stack.sim.after(0, () => this.evict());
  }

  /** inet_frag_worker: drop the oldest queues until memory is below ipfrag_low_thresh. */
  private evict(): void {
    this.workerScheduled = false;
    const all = this.chains.flat().sort((a, b) => a.serial - b.serial);
    for (const q of all) {
      if (this.mem < this.ipfrag_low_thresh) break;
      this.kill(q);
      this.stats.evictions++;
      this.count('ReasmFails');
    }
  }

  /** Drop every queue (namespace exit); counted as failures like evictions. */
  flush(): void {
    for (const q of this.chains.flat()) {
      this.kill(q);
      this.count('ReasmFails');
    }
  }
}
