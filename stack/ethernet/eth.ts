/**
 * eth_type_trans: how this interface classifies a received frame (skb->pkt_type). The header
 * itself is in wire/ethernet-header.ts, its constants in uapi/if-ether.ts.
 */
import { BROADCAST_MAC } from '../core/addr.js';
import type { EthernetFrame } from '../wire/ethernet-header.js';
import { PACKET_BROADCAST, PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST } from '../uapi/if-packet.js';

/** Classify a frame for this interface, as eth_type_trans sets skb->pkt_type. */
export function classifyFrame(frame: EthernetFrame, ourMac: Uint8Array): number {
  if (frame.dstIs(ourMac)) return PACKET_HOST;
  if (frame.dstIs(BROADCAST_MAC)) return PACKET_BROADCAST;
  if (frame.dstIsMulticast) return PACKET_MULTICAST;
  return PACKET_OTHERHOST;
}
