/**
 * Address families and socket types (Linux include/linux/socket.h and asm/socket.h, which a
 * program sees through <sys/socket.h>): the first two arguments of socket(2).
 */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
