/**
 * Socket ioctl numbers (Linux include/uapi/linux/sockios.h; SIOCINQ and SIOCOUTQ are FIONREAD
 * and TIOCOUTQ of asm-generic/ioctls.h).
 */
/** FIONREAD / TIOCOUTQ as UDP answers them: the next datagram's length, bytes not yet sent. */
export const SIOCINQ = 0x541b;
export const SIOCOUTQ = 0x5411;

export const SIOCADDRT = 0x890b;
export const SIOCDELRT = 0x890c;
export const SIOCGIFNAME = 0x8910;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
export const SIOCGIFADDR = 0x8915;
export const SIOCSIFADDR = 0x8916;
export const SIOCGIFBRDADDR = 0x8919;
export const SIOCSIFBRDADDR = 0x891a;
export const SIOCGIFNETMASK = 0x891b;
export const SIOCSIFNETMASK = 0x891c;
export const SIOCGIFMTU = 0x8921;
export const SIOCSIFMTU = 0x8922;
export const SIOCGIFHWADDR = 0x8927;
export const SIOCGIFINDEX = 0x8933;
export const SIOCETHTOOL = 0x8946;
