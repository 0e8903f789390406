/** Address messages of NETLINK_ROUTE (Linux include/uapi/linux/if_addr.h). */
/** sizeof(struct ifaddrmsg). */
export const IFADDRMSG_LEN = 8;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;

export const IFA_F_PERMANENT = 0x80;
