/** Hardware types (Linux include/uapi/linux/if_arp.h), as sa_family of ifr_hwaddr and ifi_type. */
export const ARPHRD_ETHER = 1;
