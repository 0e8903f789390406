/**
 * struct Qdisc and the ops every queueing discipline implements (include/net/sch_generic.h),
 * with the counters `tc -s qdisc` prints: sent bytes/packets, dropped, overlimits, requeues,
 * backlog and qlen.
 *
 * A qdisc's memory is board RAM: qdisc_alloc kzallocs sizeof(struct Qdisc) + ops->priv_size,
 * and a discipline's init allocates its own tables (pfifo_fast's rings, fq_codel's flows).
 */
import type { KernelMemory } from '../core/kmem.js';
import type { SkBuff } from '../core/skbuff.js';

/** Return codes of ->enqueue (include/linux/netdevice.h). */
export const NET_XMIT_SUCCESS = 0x00;
export const NET_XMIT_DROP = 0x01;
export const NET_XMIT_CN = 0x02;

/** sizeof(struct Qdisc) on i386 when the cost table has no pahole figure (calibration: 192). */
export const QDISC_SIZE_I386 = 192;

/** gnet_stats_basic_sync + gnet_stats_queue: what `tc -s qdisc show` reports. */
export interface QdiscStats {
  bytes: number;
  packets: number;
  drops: number;
  overlimits: number;
  requeues: number;
}

export abstract class Qdisc {
  abstract readonly kind: string;
  /** TCQ_F_CAN_BYPASS: an empty qdisc lets __dev_xmit_skb hand the skb straight to the driver. */
  abstract readonly canBypass: boolean;
  /** sch->q.qlen and sch->qstats.backlog (bytes). */
  qlen = 0;
  backlog = 0;
  readonly stats: QdiscStats = { bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0 };
  /** q->gso_skb: an skb the driver refused (NETDEV_TX_BUSY), sent first next time (dev_requeue_skb). */
  requeued: SkBuff | null = null;
  /** The kzalloc'd struct Qdisc + private area; 0 for the static noop/noqueue qdiscs. */
  structAddr = 0;

  /** ->enqueue: NET_XMIT_SUCCESS, or a drop (the skb is freed). */
  abstract enqueue(skb: SkBuff, now: number): number;
  /** ->dequeue: the next skb to send, or null. */
  abstract dequeue(now: number): SkBuff | null;
  /** ->reset: free every skb held (qdisc_reset on dev_deactivate). */
  abstract reset(): void;
  /** ->destroy: free the discipline's tables. */
  protected abstract destroyPrivate(mem: KernelMemory): void;
  /** The discipline's own counters (fq_codel's xstats), for the report. */
  abstract xstats(): Record<string, number>;

  /** qdisc_destroy: reset, free the tables, then the struct. */
  destroy(mem: KernelMemory): void {
    this.reset();
    if (this.requeued) {
      this.requeued.free();
      this.requeued = null;
    }
    this.destroyPrivate(mem);
    if (this.structAddr !== 0) mem.kfree(this.structAddr);
    this.structAddr = 0;
  }

  /** qdisc_drop: free the skb and count it. */
  protected drop(skb: SkBuff): number {
    this.stats.drops++;
    skb.free();
    return NET_XMIT_DROP;
  }
}

/**
 * dequeue_skb's first step: a requeued skb goes before anything the discipline holds. It is
 * still counted in qlen/backlog (dev_requeue_skb re-adds it) so it leaves them here.
 */
export function qdiscDequeue(q: Qdisc, now: number): SkBuff | null {
  const skb = q.requeued;
  if (skb) {
    q.requeued = null;
    q.qlen--;
    q.backlog -= skb.len;
    return skb;
  }
  return q.dequeue(now);
}

/** dev_requeue_skb: the driver said NETDEV_TX_BUSY; keep the skb at the head and count it. */
export function qdiscRequeue(q: Qdisc, skb: SkBuff): void {
  q.requeued = skb;
  q.qlen++;
  q.backlog += skb.len;
  q.stats.requeues++;
}

/** qdisc_bstats_update: what a dequeue hands to the driver counts as sent. */
export function qdiscSent(q: Qdisc, skb: SkBuff): void {
  q.stats.packets++;
  q.stats.bytes += skb.len;
}

/**
 * noop_qdisc: what a device has until dev_activate attaches its real qdisc (or when that
 * allocation failed): every packet is dropped (noop_enqueue returns NET_XMIT_CN).
 */
export class NoopQdisc extends Qdisc {
  readonly kind: string = 'noop';
  readonly canBypass = false;
  enqueue(skb: SkBuff): number {
    this.stats.drops++;
    skb.free();
    return NET_XMIT_CN;
  }
  dequeue(): SkBuff | null {
    return null;
  }
  reset(): void {}
  protected destroyPrivate(): void {}
  xstats(): Record<string, number> {
    return {};
  }
}

/**
 * noqueue_qdisc: no queue at all. noqueue_init clears its enqueue, and __dev_queue_xmit then
 * hands each skb straight to the driver, dropping it when the driver's queue is stopped
 * (stack/core/dev.ts). A device gets it when its default qdisc could not be created:
 * attach_default_qdiscs' fallback ("default qdisc (%s) fail, fallback to noqueue", 6.1
 * net/sched/sch_generic.c). Its struct Qdisc is allocated like any other.
 */
export class NoqueueQdisc extends NoopQdisc {
  // Its ops are noop's (noop_enqueue, noop_dequeue); only the kind differs, and that its
  // enqueue is never called (devQueueXmit sends straight to the driver).
  override readonly kind: string = 'noqueue';
}

/** `tc -s qdisc show dev X` as data: the kind, gnet_stats, and the discipline's xstats. */
export interface QdiscShow {
  kind: string;
  sentBytes: number;
  sentPackets: number;
  drops: number;
  overlimits: number;
  requeues: number;
  backlogBytes: number;
  qlen: number;
  /** ECN CE marks (fq_codel's ecn_mark + ce_mark): CoDel drops instead where packets are not ECN-capable. */
  marks: number;
  xstats: Record<string, number>;
}

export function qdiscShow(q: Qdisc): QdiscShow {
  const x = q.xstats();
  return {
    kind: q.kind,
    sentBytes: q.stats.bytes,
    sentPackets: q.stats.packets,
    drops: q.stats.drops,
    overlimits: q.stats.overlimits,
    requeues: q.stats.requeues,
    backlogBytes: q.backlog,
    qlen: q.qlen,
    marks: (x['ecn_mark'] ?? 0) + (x['ce_mark'] ?? 0),
    xstats: x,
  };
}
