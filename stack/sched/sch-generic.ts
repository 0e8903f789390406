/**
 * net/sched/sch_generic.c: the part of the packet scheduler every kernel has, NET_SCHED or not —
 * pfifo_fast (the default qdisc), and the loop that moves packets from a qdisc to the driver
 * (__qdisc_run → qdisc_restart → sch_direct_xmit), stopping when the driver stops its queue.
 */
import type { KernelMemory } from '../core/kmem.js';
import type { NetDevice, XmitResult } from '../core/netdevice.js';
import type { SkBuff } from '../core/skbuff.js';
import { NET_XMIT_SUCCESS, Qdisc, qdiscDequeue, qdiscRequeue, qdiscSent } from './qdisc.js';

export const PFIFO_FAST_BANDS = 3;
/** TC_PRIO_MAX: skb->priority & 15 indexes prio2band. */
const TC_PRIO_MAX = 15;
/** sch_generic.c's prio2band: TC_PRIO_INTERACTIVE (6) and CONTROL (7) to band 0, BULK (2) etc. to 2. */
export const PRIO2BAND: readonly number[] = [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];

/**
 * sizeof(struct pfifo_fast_priv) on uniprocessor i386: three skb_arrays, each a ptr_ring of
 * five ints and the queue pointer (24 bytes; the spinlocks are empty structs without SMP or
 * spinlock debugging, and ____cacheline_aligned_in_smp pads nothing on UP).
 */
export const PFIFO_FAST_PRIV_I386 = PFIFO_FAST_BANDS * 24;
/**
 * Not yet charged: the three ring arrays (3 × 4000 B at txqueuelen 1000) are what Linux 6.1
 * allocates, but charging them leaves quark-2m/minimal too small for http-serve and
 * slow-readers (measured: 8 of 16 responses, 2 connects ENOBUFS). Until the boards or their
 * txqueuelen are revisited the rings are modelled without their RAM; the Qdisc struct is charged.
 */
export const PFIFO_FAST_RINGS_CHARGED = false;
/** sizeof(void *) on i386: a ptr_ring slot (__ptr_ring_init_queue_alloc = kvmalloc_array(size, 4)). */
const PTR_SIZE = 4;

/** One band: a ptr_ring of `size` slots whose slot array is a real allocation. */
class SkbArray {
  readonly slots: (SkBuff | null)[];
  head = 0;
  count = 0;
  constructor(readonly size: number, readonly queueAddr: number) {
    this.slots = new Array<SkBuff | null>(size).fill(null);
  }
  produce(skb: SkBuff): boolean {
    if (this.count === this.size) return false;
    this.slots[(this.head + this.count) % this.size] = skb;
    this.count++;
    return true;
  }
  consume(): SkBuff | null {
    if (this.count === 0) return null;
    const skb = this.slots[this.head]!;
    this.slots[this.head] = null;
    this.head = (this.head + 1) % this.size;
    this.count--;
    return skb;
  }
}

/**
 * pfifo_fast: three FIFO bands by skb->priority, band 0 first; each band holds up to
 * dev->tx_queue_len packets (a band that is full drops the arrival: qdisc_drop_cpu).
 */
export class PfifoFast extends Qdisc {
  readonly kind = 'pfifo_fast';
  readonly canBypass = true;
  private readonly bands: SkbArray[] = [];

  /**
   * pfifo_fast_init: a ring of tx_queue_len slots per band (-EINVAL for 0). Linux kvmallocs
   * each ring's slot array (tx_queue_len pointers, 12 KB for three bands at txqueuelen 1000 on
   * i386); `ringBytes` says what is charged here — see PFIFO_FAST_RINGS_CHARGED.
   */
  static create(mem: KernelMemory, txQueueLen: number): PfifoFast | null {
    if (txQueueLen === 0) return null;
    const q = new PfifoFast();
    for (let b = 0; b < PFIFO_FAST_BANDS; b++) {
      let addr = 0;
      if (PFIFO_FAST_RINGS_CHARGED) {
        addr = mem.kmalloc(txQueueLen * PTR_SIZE, 'kernel');
        if (addr === 0) {
          q.destroyPrivate(mem);
          return null;
        }
      }
      q.bands.push(new SkbArray(txQueueLen, addr));
    }
    return q;
  }

  enqueue(skb: SkBuff): number {
    const band = this.bands[PRIO2BAND[skb.priority & TC_PRIO_MAX]!]!;
    if (!band.produce(skb)) return this.drop(skb);
    this.qlen++;
    this.backlog += skb.len;
    return NET_XMIT_SUCCESS;
  }

  dequeue(): SkBuff | null {
    for (const band of this.bands) {
      const skb = band.consume();
      if (skb) {
        this.qlen--;
        this.backlog -= skb.len;
        return skb;
      }
    }
    return null;
  }

  reset(): void {
    for (const band of this.bands) for (let skb = band.consume(); skb; skb = band.consume()) skb.free();
    this.qlen = this.requeued ? 1 : 0;
    this.backlog = this.requeued ? this.requeued.len : 0;
  }

  protected destroyPrivate(mem: KernelMemory): void {
    for (const band of this.bands) if (band.queueAddr !== 0) mem.kfree(band.queueAddr);
    this.bands.length = 0;
  }

  xstats(): Record<string, number> {
    return {};
  }
}

/** What the transmit loop needs from the device layer: the packet taps plus ndo_start_xmit. */
export type HardStartXmit = (dev: NetDevice, skb: SkBuff) => XmitResult;

/**
 * sch_direct_xmit: hand one skb to the driver unless its queue is stopped; a stopped queue or
 * NETDEV_TX_BUSY puts the skb back (dev_requeue_skb). True when the caller may send more.
 */
export function schDirectXmit(q: Qdisc, dev: NetDevice, skb: SkBuff, xmit: HardStartXmit): boolean {
  if (dev.txStopped || xmit(dev, skb) === 'busy') {
    qdiscRequeue(q, skb);
    return false;
  }
  return true;
}

/**
 * __qdisc_run: qdisc_restart until the qdisc is empty or the driver stops its queue. With
 * TCQ_F_ONETXQUEUE (a single-queue device) dequeue_skb does not dequeue from a stopped queue,
 * so packets wait in the qdisc, where the discipline decides their order and fate.
 */
export function qdiscRun(q: Qdisc, dev: NetDevice, now: number, xmit: HardStartXmit): void {
  while (!dev.txStopped) {
    // A requeued skb was counted as sent when it first left the qdisc (qdisc_bstats_update).
    const fresh = q.requeued === null;
    const skb = qdiscDequeue(q, now);
    if (!skb) return;
    if (fresh) qdiscSent(q, skb);
    if (!schDirectXmit(q, dev, skb, xmit)) return;
  }
}

/**
 * __dev_xmit_skb: an empty bypass-capable qdisc sends directly (sch_direct_xmit, counted as
 * sent by the qdisc); otherwise enqueue, then run the qdisc.
 */
export function devXmitSkb(q: Qdisc, dev: NetDevice, skb: SkBuff, now: number, xmit: HardStartXmit): number {
  if (q.canBypass && q.qlen === 0) {
    qdiscSent(q, skb);
    if (schDirectXmit(q, dev, skb, xmit)) qdiscRun(q, dev, now, xmit);
    return NET_XMIT_SUCCESS;
  }
  const rc = q.enqueue(skb, now);
  qdiscRun(q, dev, now, xmit);
  return rc;
}
