/** IPv4 reassembly (net/ipv4/ip_fragment.c). */
import type { SkBuff } from '../core/skbuff.js';
import type { Ipv4Repr } from './ipv4-header.js';

export interface IpFragQueue {
  /** Hold a fragment; returns the whole datagram when it completes. */
  enqueue(skb: SkBuff, ip: Ipv4Repr): { skb: SkBuff; ip: Ipv4Repr } | null;
}
