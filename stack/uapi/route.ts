/**
 * The SIOCADDRT/SIOCDELRT argument (Linux include/uapi/linux/route.h): sizeof(struct rtentry)
 * on i386 and its rt_flags.
 */
export const RTENTRY_SIZE = 84;

export const RTF_UP = 0x0001;
export const RTF_GATEWAY = 0x0002;
export const RTF_HOST = 0x0004;
export const RTF_REJECT = 0x0200;
