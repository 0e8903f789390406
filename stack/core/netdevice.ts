/**
 * net_device: an interface as the stack sees it — name, hardware address, MTU, its counters
 * (the `ip -s link` ones) and the driver's transmit hook.
 */
import type { SkBuff } from './skbuff.js';
import { NoopQdisc, type Qdisc } from '../sched/qdisc.js';
import { Dql } from './dynamic-queue-limits.js';

/** CONFIG_HZ of the calibrated builds (HZ_250): BQL's slack hold time is HZ jiffies. */
const HZ = 250;
const JIFFY_NS = 1_000_000_000 / HZ;

export interface NetDevStats {
  rx_packets: number;
  rx_bytes: number;
  rx_dropped: number;
  rx_nohandler: number;
  tx_packets: number;
  tx_bytes: number;
  tx_dropped: number;
}

/** What a driver returns from ndo_start_xmit. */
export type XmitResult = 'ok' | 'busy';

export interface NetDeviceOps {
  /** Bring the interface up: allocate rings. False when memory is short (-ENOMEM). */
  open(): boolean;
  stop(): void;
  startXmit(skb: SkBuff): XmitResult;
}

export class NetDevice {
  readonly stats: NetDevStats = {
    rx_packets: 0,
    rx_bytes: 0,
    rx_dropped: 0,
    rx_nohandler: 0,
    tx_packets: 0,
    tx_bytes: 0,
    tx_dropped: 0,
  };
  up = false;
  mtu = 1500;
  /** dev->tx_queue_len (DEFAULT_TX_QUEUE_LEN): pfifo_fast's per-band limit. */
  txQueueLen = 1000;
  /** The TX queue's qdisc: noop until dev_activate attaches the default one. */
  qdisc: Qdisc = new NoopQdisc();
  /** __QUEUE_STATE_DRV_XOFF: the driver stopped the queue (netif_tx_stop_queue), its ring has no room. */
  drvXoff = false;
  /** __QUEUE_STATE_STACK_XOFF: byte queue limits stopped it (netdev_tx_sent_queue). */
  stackXoff = false;
  /** The TX queue's byte queue limits (netdev_queue.dql, dql_init(HZ)). */
  readonly dql = new Dql(HZ);
  /** Whether the driver accounts BQL (stmmac does; tun, which packetdrill uses, does not). */
  bql = true;
  ops: NetDeviceOps | null = null;

  constructor(
    readonly name: string,
    readonly ifindex: number,
    readonly hwAddr: Uint8Array,
    /** struct net_device in RAM. */
    readonly structAddr: number,
  ) {}

  /** netif_xmit_frozen_or_stopped: the qdisc may not hand this queue anything now. */
  get txStopped(): boolean {
    return this.drvXoff || this.stackXoff;
  }

  /** netdev_tx_sent_queue: account bytes given to the hardware; stop the queue past the limit. */
  txSentQueue(bytes: number): void {
    if (!this.bql) return;
    this.dql.queued(bytes);
    if (this.dql.avail() < 0) this.stackXoff = true;
  }

  /**
   * netdev_tx_completed_queue: bytes the hardware finished. True when this restarted a queue
   * BQL had stopped (netif_schedule_queue: the qdisc should run again).
   */
  txCompletedQueue(bytes: number, nowNs: number): boolean {
    if (bytes === 0 || !this.bql) return false;
    this.dql.completed(bytes, Math.floor(nowNs / JIFFY_NS));
    if (this.dql.avail() < 0 || !this.stackXoff) return false;
    this.stackXoff = false;
    return true;
  }

  /** netdev_tx_reset_queue (at open). */
  txResetQueue(nowNs: number): void {
    this.dql.reset(Math.floor(nowNs / JIFFY_NS));
    this.stackXoff = false;
  }
}
