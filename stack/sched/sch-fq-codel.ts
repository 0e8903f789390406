/**
 * fq_codel (RFC 8290; net/sched/sch_fq_codel.c in 6.1): packets hashed into 1024 flow queues,
 * served by deficit round robin with a quantum of one MTU-sized frame, new flows before old
 * ones, and CoDel run on each flow at dequeue. Defaults from fq_codel_init: limit 10240
 * packets, memory_limit 32 MiB, drop_batch_size 64, ECN on (a packet that is not ECN-capable
 * is dropped where it would be marked — this stack never sends ECT, so CoDel drops).
 *
 * Its memory is board RAM: the Qdisc with its private area, the flows table (kvcalloc of
 * 1024 fq_codel_flow) and the backlogs table (kvcalloc of 1024 u32).
 */
import type { KernelMemory } from '../core/kmem.js';
import type { SkBuff } from '../core/skbuff.js';
import { ETH_HLEN, ETH_P_IP } from '../uapi/if-ether.js';
import { jhash3 } from '../ipv4/ip-fragment.js';
import { IP_MF, IP_OFFSET } from '../wire/ipv4-header.js';
import { CodelVars, codelDequeue, codelParams, type CodelParams, type CodelQueue, type CodelStats } from './codel.js';
import { NET_XMIT_CN, NET_XMIT_SUCCESS, Qdisc } from './qdisc.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../uapi/in.js';

export const FQ_CODEL_FLOWS = 1024;
export const FQ_CODEL_LIMIT = 10 * 1024;
export const FQ_CODEL_MEMORY_LIMIT = 32 << 20;
const DROP_BATCH_SIZE = 64;
/**
 * sizeof on i386, worked from the 6.1 struct layouts: fq_codel_flow = head, tail (4+4),
 * flowchain list_head (8), deficit (4), codel_vars (count, lastcount 4+4; dropping 1 + pad;
 * rec_inv_sqrt 2; first_above_time, drop_next, ldelay 4+4+4 = 24) = 44; fq_codel_sched_data =
 * 8 pointers/u32s (32) + codel_params (20) + codel_stats (20) + 4 u32 (16) + two list_heads (16) = 104.
 */
export const FQ_CODEL_FLOW_I386 = 44;
export const FQ_CODEL_PRIV_I386 = 104;

const NOT_LISTED = 0;
const ON_NEW = 1;
const ON_OLD = 2;

/** struct fq_codel_flow; its flowchain is an intrusive list (prev/next) on new_flows or old_flows. */
class FqCodelFlow {
  head: SkBuff | null = null;
  tail: SkBuff | null = null;
  deficit = 0;
  list = NOT_LISTED;
  prev: FqCodelFlow | null = null;
  next: FqCodelFlow | null = null;
  readonly cvars = new CodelVars();
  /** q->backlogs[idx]. */
  backlog = 0;
  constructor(readonly index: number) {}
}

/** A list_head of flows: first/last, with list_add_tail and list_del_init. */
class FlowList {
  first: FqCodelFlow | null = null;
  last: FqCodelFlow | null = null;
  constructor(readonly id: number) {}
  addTail(f: FqCodelFlow): void {
    f.list = this.id;
    f.prev = this.last;
    f.next = null;
    if (this.last) this.last.next = f;
    else this.first = f;
    this.last = f;
  }
  remove(f: FqCodelFlow): void {
    if (f.prev) f.prev.next = f.next;
    else this.first = f.next;
    if (f.next) f.next.prev = f.prev;
    else this.last = f.prev;
    f.prev = f.next = null;
    f.list = NOT_LISTED;
  }
}

export class FqCodel extends Qdisc implements CodelQueue {
  readonly kind = 'fq_codel';
  /** fq_codel_init sets TCQ_F_CAN_BYPASS when limit ≥ 1. */
  readonly canBypass = true;
  readonly limit = FQ_CODEL_LIMIT;
  readonly memoryLimit = FQ_CODEL_MEMORY_LIMIT;
  /** psched_mtu(dev): mtu + hard_header_len. */
  readonly quantum: number;
  readonly cparams: CodelParams;
  readonly cstats: CodelStats = { maxpacket: 0, dropCount: 0, dropLen: 0, ecnMark: 0, ceMark: 0 };
  memoryUsage = 0;
  dropOvermemory = 0;
  dropOverlimit = 0;
  newFlowCount = 0;
  private readonly flows: FqCodelFlow[] = [];
  private readonly newFlows = new FlowList(ON_NEW);
  private readonly oldFlows = new FlowList(ON_OLD);
  private flowsAddr = 0;
  private backlogsAddr = 0;

  private constructor(mtu: number, private readonly hashrnd: number) {
    super();
    this.quantum = mtu + ETH_HLEN;
    this.cparams = codelParams(this.quantum, true);
  }

  /** fq_codel_init: the two kvcalloc'd tables; null on -ENOMEM. */
  static create(mem: KernelMemory, mtu: number, hashrnd: number): FqCodel | null {
    const q = new FqCodel(mtu, hashrnd);
    q.flowsAddr = mem.kmalloc(FQ_CODEL_FLOWS * FQ_CODEL_FLOW_I386, 'kernel');
    q.backlogsAddr = q.flowsAddr === 0 ? 0 : mem.kmalloc(FQ_CODEL_FLOWS * 4, 'kernel');
    if (q.backlogsAddr === 0) {
      q.destroyPrivate(mem);
      return null;
    }
    for (let i = 0; i < FQ_CODEL_FLOWS; i++) q.flows.push(new FqCodelFlow(i));
    return q;
  }

  /** fq_codel_classify without filters: reciprocal_scale(skb_get_hash(skb), flows_cnt). */
  private classify(skb: SkBuff): number {
    return Math.floor((flowHash(skb, this.hashrnd) * FQ_CODEL_FLOWS) / 2 ** 32);
  }

  enqueue(skb: SkBuff, now: number): number {
    const idx = this.classify(skb);
    skb.enqueueTime = now; // codel_set_enqueue_time
    const flow = this.flows[idx]!;
    skb.next = null;
    if (flow.head === null) flow.head = skb;
    else flow.tail!.next = skb;
    flow.tail = skb;
    flow.backlog += skb.len;
    this.backlog += skb.len;
    if (flow.list === NOT_LISTED) {
      this.newFlows.addTail(flow);
      this.newFlowCount++;
      flow.deficit = this.quantum;
    }
    this.memoryUsage += skb.truesize;
    const memoryLimited = this.memoryUsage > this.memoryLimit;
    if (++this.qlen <= this.limit && !memoryLimited) return NET_XMIT_SUCCESS;
    // Over the limit: drop half the fattest flow's backlog (up to 64 packets) from its head.
    const prevQlen = this.qlen;
    const fat = this.dropFat();
    const dropped = prevQlen - this.qlen;
    this.dropOverlimit += dropped;
    if (memoryLimited) this.dropOvermemory += dropped;
    return fat === idx ? NET_XMIT_CN : NET_XMIT_SUCCESS;
  }

  /** fq_codel_drop: the flow with the largest backlog loses half of it, at most 64 packets. */
  private dropFat(): number {
    let max = 0;
    let idx = 0;
    for (const f of this.flows) {
      if (f.backlog > max) {
        max = f.backlog;
        idx = f.index;
      }
    }
    const threshold = max >>> 1;
    const flow = this.flows[idx]!;
    let len = 0;
    let i = 0;
    do {
      const skb = this.dequeueHead(flow);
      len += skb.len;
      this.memoryUsage -= skb.truesize;
      skb.free();
    } while (++i < DROP_BATCH_SIZE && len < threshold);
    flow.cvars.count += i; // tell codel to increase its signal strength also
    flow.backlog -= len;
    this.stats.drops += i;
    this.backlog -= len;
    this.qlen -= i;
    return idx;
  }

  private dequeueHead(flow: FqCodelFlow): SkBuff {
    const skb = flow.head!;
    flow.head = skb.next;
    if (flow.head === null) flow.tail = null;
    skb.next = null;
    return skb;
  }

  /** dequeue_func: container_of(vars) is the flow being served (set by dequeue). */
  codelDequeue(_vars: CodelVars): SkBuff | null {
    const flow = this.current!;
    if (flow.head === null) return null;
    const skb = this.dequeueHead(flow);
    flow.backlog -= skb.len;
    this.memoryUsage -= skb.truesize;
    this.qlen--;
    this.backlog -= skb.len;
    return skb;
  }

  /** drop_func. */
  codelDrop(skb: SkBuff): void {
    skb.free();
    this.stats.drops++;
  }

  setCe(skb: SkBuff): boolean {
    return inetEcnSetCe(skb);
  }

  /** The flow codel_dequeue is serving. */
  private current: FqCodelFlow | null = null;

  dequeue(now: number): SkBuff | null {
    for (;;) {
      const head = this.newFlows.first !== null ? this.newFlows : this.oldFlows;
      const flow = head.first;
      if (flow === null) return null;
      if (flow.deficit <= 0) {
        flow.deficit += this.quantum;
        head.remove(flow);
        this.oldFlows.addTail(flow);
        continue;
      }
      this.current = flow;
      const skb = codelDequeue(this, this.cparams, flow.cvars, this.cstats, now);
      this.current = null;
      if (skb === null) {
        // force a pass through old_flows to prevent starvation
        head.remove(flow);
        if (head === this.newFlows && this.oldFlows.first !== null) this.oldFlows.addTail(flow);
        continue;
      }
      flow.deficit -= skb.len; // (qdisc_bstats_update is qdiscRun's)
      // qdisc_tree_reduce_backlog would tell a parent; fq_codel is the root here.
      if (this.cstats.dropCount !== 0 && this.qlen !== 0) this.cstats.dropCount = this.cstats.dropLen = 0;
      return skb;
    }
  }

  reset(): void {
    for (const f of this.flows) {
      while (f.head !== null) this.dequeueHead(f).free();
      f.backlog = 0;
      if (f.list === ON_NEW) this.newFlows.remove(f);
      else if (f.list === ON_OLD) this.oldFlows.remove(f);
      Object.assign(f.cvars, new CodelVars());
    }
    this.qlen = this.requeued ? 1 : 0;
    this.backlog = this.requeued ? this.requeued.len : 0;
    this.memoryUsage = 0;
  }

  protected destroyPrivate(mem: KernelMemory): void {
    if (this.backlogsAddr !== 0) mem.kfree(this.backlogsAddr);
    if (this.flowsAddr !== 0) mem.kfree(this.flowsAddr);
    this.backlogsAddr = this.flowsAddr = 0;
  }

  /** tc -s qdisc's fq_codel xstats (tc_fq_codel_qd_stats). */
  xstats(): Record<string, number> {
    return {
      maxpacket: this.cstats.maxpacket,
      drop_overlimit: this.dropOverlimit,
      drop_overmemory: this.dropOvermemory,
      new_flow_count: this.newFlowCount,
      ecn_mark: this.cstats.ecnMark,
      ce_mark: this.cstats.ceMark,
      memory_used: this.memoryUsage,
      new_flows_len: countList(this.newFlows),
      old_flows_len: countList(this.oldFlows),
    };
  }
}

function countList(l: FlowList): number {
  let n = 0;
  for (let f = l.first; f; f = f.next) n++;
  return n;
}

/**
 * skb_get_hash for an outgoing Ethernet frame: the flow dissector's keys for IPv4 — addresses,
 * protocol, and the ports of TCP/UDP when the packet is not a fragment — through jhash with the
 * boot-time random hashrnd. Non-IP frames hash by ethertype. Never 0 (__flow_hash_from_keys).
 */
export function flowHash(skb: SkBuff, hashrnd: number): number {
  const b = skb.bytes;
  const d = skb.data;
  const ethertype = (b[d + 12]! << 8) | b[d + 13]!;
  let h: number;
  if (ethertype === ETH_P_IP && skb.len >= ETH_HLEN + 20) {
    const ip = d + ETH_HLEN;
    const ihl = (b[ip]! & 0x0f) * 4;
    const proto = b[ip + 9]!;
    const saddr = ((b[ip + 12]! << 24) | (b[ip + 13]! << 16) | (b[ip + 14]! << 8) | b[ip + 15]!) >>> 0;
    const daddr = ((b[ip + 16]! << 24) | (b[ip + 17]! << 16) | (b[ip + 18]! << 8) | b[ip + 19]!) >>> 0;
    const frag = ((b[ip + 6]! << 8) | b[ip + 7]!) & (IP_MF | IP_OFFSET);
    let ports = 0;
    if ((proto === IPPROTO_TCP || proto === IPPROTO_UDP) && frag === 0 && skb.len >= ETH_HLEN + ihl + 4) {
      const t = ip + ihl;
      ports = ((b[t]! << 24) | (b[t + 1]! << 16) | (b[t + 2]! << 8) | b[t + 3]!) >>> 0;
    }
    h = jhash3(saddr, daddr, ports, (hashrnd ^ proto) >>> 0);
  } else {
    h = jhash3(ethertype, 0, 0, hashrnd);
  }
  return h === 0 ? 1 : h >>> 0;
}

/**
 * INET_ECN_set_ce for IPv4: an ECT(0)/ECT(1) packet becomes CE with the header checksum
 * adjusted (RFC 1624, as ipv4_change_dsfield does); a CE packet stays; Not-ECT cannot be marked.
 */
export function inetEcnSetCe(skb: SkBuff): boolean {
  const b = skb.bytes;
  const d = skb.data;
  if (skb.len < ETH_HLEN + 20 || ((b[d + 12]! << 8) | b[d + 13]!) !== ETH_P_IP) return false;
  const ip = d + ETH_HLEN;
  const ecn = b[ip + 1]! & 3;
  if (ecn === 0) return false;
  if (ecn === 3) return true;
  // ECT(1)=01 or ECT(0)=10 → CE=11: the 16-bit word (version/ihl, tos) grows by (3 - ecn).
  b[ip + 1] = b[ip + 1]! | 3;
  let sum = ((b[ip + 10]! << 8) | b[ip + 11]!) ^ 0xffff;
  sum += 3 - ecn;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum ^= 0xffff;
  b[ip + 10] = sum >>> 8;
  b[ip + 11] = sum & 0xff;
  return true;
}
