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

// PACKET_RX_RING / PACKET_TX_RING (TPACKET_V2 rings).
export const TPACKET_V1 = 0;
export const TPACKET_V2 = 1;
export const TPACKET_V3 = 2;

export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1;
export const TP_STATUS_COPY = 2;
export const TP_STATUS_LOSING = 4;

/** struct tpacket_req: the ring's geometry as the program asks for it. */
export interface TpacketReq {
  tp_block_size: number;
  tp_block_nr: number;
  tp_frame_size: number;
  tp_frame_nr: number;
}

export const TPACKET_ALIGNMENT = 16;
export function tpacketAlign(n: number): number {
  return (n + TPACKET_ALIGNMENT - 1) & ~(TPACKET_ALIGNMENT - 1);
}
/** sizeof(struct tpacket2_hdr) and sizeof(struct sockaddr_ll) on i386. */
export const TPACKET2_HDR_SIZE = 32;
export const SOCKADDR_LL_SIZE = 20;
/** TPACKET2_HDRLEN: the header, aligned, then the sockaddr_ll. */
export const TPACKET2_HDRLEN = tpacketAlign(TPACKET2_HDR_SIZE) + SOCKADDR_LL_SIZE;
