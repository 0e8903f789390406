/**
 * CoDel (RFC 8289) as include/net/codel.h and codel_impl.h write it in Linux 6.1: time in
 * units of 1024 ns held in a u32 (codel_time_t), the drop spacing interval/sqrt(count) from a
 * Newton-iterated reciprocal square root in 16 bits, and the dequeue-side state machine.
 *
 * The u64 products of the C are done exactly in doubles by splitting one factor into 16-bit
 * halves (mulShr), so no BigInt is allocated on the packet path.
 */
import type { SkBuff } from '../core/skbuff.js';

/** CODEL_SHIFT: codel_time_t counts 1024 ns units. */
export const CODEL_SHIFT = 10;
/** MS2TIME(a) = a * NSEC_PER_MSEC >> CODEL_SHIFT. */
export function ms2time(ms: number): number {
  return Math.floor((ms * 1_000_000) / (1 << CODEL_SHIFT));
}
/** codel_get_time: ktime_get_ns() >> CODEL_SHIFT, as a u32. */
export function codelTime(ns: number): number {
  return Math.floor(ns / (1 << CODEL_SHIFT)) >>> 0;
}
const REC_INV_SQRT_SHIFT = 16;
/** CODEL_DISABLED_THRESHOLD: ce_threshold off. */
const CODEL_DISABLED_THRESHOLD = 0x7fffffff;

/** (s32)(a - b) > 0 etc.: the u32 clock compared modulo 2^32. */
function after(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
function afterEq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** floor(a * b / 2^s) for a, b < 2^32 and s ≥ 16, exactly (the C's u64 multiply and shift). */
export function mulShr(a: number, b: number, s: number): number {
  const x = a * (b >>> 16); // < 2^48
  const y = a * (b & 0xffff); // < 2^48
  return Math.floor((x + Math.floor(y / 65536)) / 2 ** (s - 16));
}

/** reciprocal_scale(val, ep_ro): ((u64)val * ep_ro) >> 32. */
export function reciprocalScale(val: number, epRo: number): number {
  return mulShr(val >>> 0, epRo >>> 0, 32);
}

export interface CodelParams {
  target: number;
  interval: number;
  ceThreshold: number;
  /** psched_mtu(dev): below one MTU of backlog CoDel never drops. */
  mtu: number;
  ecn: boolean;
}

/** codel_params_init: target 5 ms, interval 100 ms, ce_threshold disabled, ECN off. */
export function codelParams(mtu: number, ecn: boolean): CodelParams {
  return { target: ms2time(5), interval: ms2time(100), ceThreshold: CODEL_DISABLED_THRESHOLD, mtu, ecn };
}

/** struct codel_vars (zeroed by codel_vars_init). */
export class CodelVars {
  count = 0;
  lastcount = 0;
  dropping = false;
  recInvSqrt = 0;
  firstAboveTime = 0;
  dropNext = 0;
  ldelay = 0;
}

/** struct codel_stats: drop_count/drop_len are fq_codel's per-dequeue scratch, reset by it. */
export interface CodelStats {
  maxpacket: number;
  dropCount: number;
  dropLen: number;
  ecnMark: number;
  ceMark: number;
}

/** codel_Newton_step: rec_inv_sqrt ← rec_inv_sqrt·(3 − count·rec_inv_sqrt²)/2. */
export function codelNewtonStep(v: CodelVars): void {
  const invsqrt = (v.recInvSqrt << REC_INV_SQRT_SHIFT) >>> 0;
  const invsqrt2 = mulShr(invsqrt, invsqrt, 32);
  let val = 3 * 2 ** 32 - v.count * invsqrt2;
  val = Math.floor(val / 4); // avoid overflow in the multiply below
  val = mulShr(val, invsqrt, 32 - 2 + 1);
  v.recInvSqrt = Math.floor(val / 2 ** REC_INV_SQRT_SHIFT) & 0xffff;
}

/** codel_control_law: t + interval / sqrt(count). */
export function codelControlLaw(t: number, interval: number, recInvSqrt: number): number {
  return (t + reciprocalScale(interval, (recInvSqrt << REC_INV_SQRT_SHIFT) >>> 0)) >>> 0;
}

/** The discipline's side of codel_dequeue: take the next skb of this flow, drop one, mark one. */
export interface CodelQueue {
  /** dequeue_func: the flow's head, with the qdisc's qlen/backlog updated; null when empty. */
  codelDequeue(vars: CodelVars): SkBuff | null;
  /** drop_func: free it and count a qdisc drop. */
  codelDrop(skb: SkBuff): void;
  /** INET_ECN_set_ce: true when the packet is ECN-capable (and is now marked CE). */
  setCe(skb: SkBuff): boolean;
  /** sch->qstats.backlog, read by codel_should_drop. */
  readonly backlog: number;
}

function shouldDrop(skb: SkBuff | null, q: CodelQueue, v: CodelVars, p: CodelParams, st: CodelStats, now: number): boolean {
  if (!skb) {
    v.firstAboveTime = 0;
    return false;
  }
  v.ldelay = (now - codelTime(skb.enqueueTime)) >>> 0;
  if (skb.len > st.maxpacket) st.maxpacket = skb.len;
  if (after(p.target, v.ldelay) || q.backlog <= p.mtu) {
    // went below - stay below for at least interval
    v.firstAboveTime = 0;
    return false;
  }
  if (v.firstAboveTime === 0) {
    v.firstAboveTime = (now + p.interval) >>> 0;
    return false;
  }
  return after(now, v.firstAboveTime);
}

/** codel_dequeue: the next skb to send, dropping (or marking) from the head while in the dropping state. */
export function codelDequeue(q: CodelQueue, p: CodelParams, v: CodelVars, st: CodelStats, nowNs: number): SkBuff | null {
  let skb = q.codelDequeue(v);
  if (!skb) {
    v.dropping = false;
    return null;
  }
  const now = codelTime(nowNs);
  let drop = shouldDrop(skb, q, v, p, st, now);
  if (v.dropping) {
    if (!drop) {
      // sojourn time below target - leave dropping state
      v.dropping = false;
    } else if (afterEq(now, v.dropNext)) {
      while (v.dropping && afterEq(now, v.dropNext)) {
        v.count = (v.count + 1) >>> 0;
        codelNewtonStep(v);
        if (p.ecn && q.setCe(skb!)) {
          st.ecnMark++;
          v.dropNext = codelControlLaw(v.dropNext, p.interval, v.recInvSqrt);
          return ceMark(skb, v, p, st, q);
        }
        st.dropLen += skb!.len;
        q.codelDrop(skb!);
        st.dropCount++;
        skb = q.codelDequeue(v);
        if (!shouldDrop(skb, q, v, p, st, now)) v.dropping = false; // leave dropping state
        else v.dropNext = codelControlLaw(v.dropNext, p.interval, v.recInvSqrt); // schedule the next drop
      }
    }
  } else if (drop) {
    if (p.ecn && q.setCe(skb)) {
      st.ecnMark++;
    } else {
      st.dropLen += skb.len;
      q.codelDrop(skb);
      st.dropCount++;
      skb = q.codelDequeue(v);
      drop = shouldDrop(skb, q, v, p, st, now);
    }
    v.dropping = true;
    // if min went above target close to when we last went below it, assume that the drop
    // rate that controlled the queue on the last cycle is a good starting point now.
    const delta = (v.count - v.lastcount) >>> 0;
    if (delta > 1 && after((16 * p.interval) >>> 0, (now - v.dropNext) >>> 0)) {
      v.count = delta;
      codelNewtonStep(v);
    } else {
      v.count = 1;
      v.recInvSqrt = 0xffffffff >>> REC_INV_SQRT_SHIFT;
    }
    v.lastcount = v.count;
    v.dropNext = codelControlLaw(now, p.interval, v.recInvSqrt);
  }
  return ceMark(skb, v, p, st, q);
}

/** The end: label: CE-mark above ce_threshold (disabled by default). */
function ceMark(skb: SkBuff | null, v: CodelVars, p: CodelParams, st: CodelStats, q: CodelQueue): SkBuff | null {
  if (skb && after(v.ldelay, p.ceThreshold) && q.setCe(skb)) st.ceMark++;
  return skb;
}
