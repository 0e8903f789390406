/**
 * net_device: an interface as the stack sees it — name, hardware address, MTU, its counters
 * (the `ip -s link` ones) and the driver's transmit hook.
 */
import type { SkBuff } from './skbuff.js';

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
  /** Packets the qdisc holds while the driver's ring is full (pfifo_fast, txqueuelen). */
  readonly txQueue: SkBuff[] = [];
  txQueueLen = 1000;
  ops: NetDeviceOps | null = null;

  constructor(
    readonly name: string,
    readonly ifindex: number,
    readonly hwAddr: Uint8Array,
    /** struct net_device in RAM. */
    readonly structAddr: number,
  ) {}
}
