/**
 * Ethernet constants programs and the stack share (Linux include/uapi/linux/if_ether.h).
 * Protocol numbers are in host order here; on the wire and in sockaddr_ll they are htons().
 */
export const ETH_ALEN = 6;
export const ETH_HLEN = 14;
/** Minimum frame length without FCS: shorter frames are padded (eth_skb_pad). */
export const ETH_ZLEN = 60;

/** Every protocol (htons(ETH_P_ALL) in Linux), as packet sockets bind to it. */
export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
