/** Link attributes of RTM_NEWLINK (Linux include/uapi/linux/if_link.h). */
export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_TXQLEN = 13;
