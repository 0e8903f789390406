/**
 * The NETLINK_ROUTE family (Linux include/uapi/linux/rtnetlink.h): message types, route
 * attributes, struct rtmsg's fields and the sizes of its fixed headers.
 */
export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_MAX = 127;

/** sizeof(struct rtattr). */
export const RTA_HDRLEN = 4;
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;

/** sizeof(struct rtmsg) and sizeof(struct ifinfomsg). */
export const RTMSG_LEN = 12;
export const IFINFOMSG_LEN = 16;

export const RT_TABLE_MAIN = 254;
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RTPROT_DHCP = 16;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RTN_UNICAST = 1;
