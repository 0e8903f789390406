/**
 * Netlink (Linux include/uapi/linux/netlink.h): protocol numbers for socket(AF_NETLINK, …),
 * struct nlmsghdr's size and alignment, the control message types and the header flags.
 * Netlink is host byte order, little-endian on i386.
 */
export const NETLINK_ROUTE = 0;
export const NETLINK_SOCK_DIAG = 4;

/** sizeof(struct nlmsghdr) and NLMSG_ALIGNTO. */
export const NLMSG_HDRLEN = 16;
export const NLMSG_ALIGNTO = 4;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
/** Types below this are control messages, never handed to a family. */
export const NLMSG_MIN_TYPE = 0x10;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** On NLMSG_ERROR: the acknowledgement carries only the request's header. */
export const NLM_F_CAPPED = 0x100;

/** NLMSG_ALIGN. */
export function nlmsgAlign(n: number): number {
  return (n + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}
