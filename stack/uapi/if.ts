/**
 * Interface requests (Linux include/uapi/linux/if.h): the name length, sizeof(struct ifreq) on
 * i386 (ifr_name[16] and a 16-byte union) and the device flags SIOCGIFFLAGS and ifinfomsg carry.
 */
export const IFNAMSIZ = 16;
export const IFREQ_SIZE = 32;

export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_RUNNING = 0x40;
export const IFF_MULTICAST = 0x1000;
export const IFF_LOWER_UP = 0x10000;
