/**
 * IP protocol numbers (Linux include/uapi/linux/in.h): the third argument of socket(AF_INET, …)
 * and the protocol field of the IPv4 header.
 */
export const IPPROTO_ICMP = 1;
export const IPPROTO_IGMP = 2;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
