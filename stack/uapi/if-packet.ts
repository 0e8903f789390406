/**
 * Packet types (Linux include/uapi/linux/if_packet.h): skb->pkt_type, and sll_pkttype as a
 * packet socket reports it.
 */
export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;
/** A frame this host sends, as a tap sees it. */
export const PACKET_OUTGOING = 4;
export const PACKET_LOOPBACK = 5;
