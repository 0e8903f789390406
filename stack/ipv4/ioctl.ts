/**
 * Socket ioctls for interface and route configuration, as busybox ifconfig and route issue
 * them (net/ipv4/af_inet.c inet_ioctl → devinet_ioctl and ip_rt_ioctl; net/core/dev_ioctl.c).
 *
 * The argument is the program's buffer — its user memory — laid out as on Linux/i386: struct
 * ifreq (32 bytes: ifr_name[16] and a 16-byte union) and struct rtentry (84 bytes). It is
 * bounds-checked like copy_from_user (a short buffer is EFAULT) and answers are written back
 * into it like copy_to_user. The one pointer, rtentry.rt_dev, is an offset into the same
 * buffer (the program's address space is that buffer). Numbers in these structures are host
 * order (little-endian) except addresses and ports inside sockaddr_in.
 *
 * The address and route requests need an AF_INET socket; on another socket (netlink) only the
 * device requests work and the rest answer ENOTTY, as sock_do_ioctl falls through to
 * dev_ioctl. Changes go through devinet.ts, as the rtnetlink path does; stack.configStats.ioctl
 * counts each configuration request handled here.
 */
import { prefixMask } from '../core/addr.js';
import type { NetDevice } from '../core/netdevice.js';
import type { NetStack } from '../net-stack.js';
import { NetlinkSock } from '../core/netlink.js';
import type { Sock } from '../socket/sock.js';
import { UdpSock } from './udp-socket.js';
import { inetAddAddress, inetAddRoute, inetDelAddress, inetDelRoute } from './devinet.js';
import { readU16le, readU32le, writeU16le, writeU32le } from '../uapi/byte-order.js';
import { readU32, writeU32 } from '../uapi/byte-order.js';
import {
  SIOCADDRT, SIOCDELRT, SIOCGIFADDR, SIOCGIFBRDADDR, SIOCGIFFLAGS, SIOCGIFHWADDR, SIOCGIFINDEX,
  SIOCGIFMTU, SIOCGIFNAME, SIOCGIFNETMASK, SIOCINQ, SIOCOUTQ, SIOCSIFADDR, SIOCSIFBRDADDR,
  SIOCSIFFLAGS, SIOCSIFMTU, SIOCSIFNETMASK,
} from '../uapi/sockios.js';
import { IFF_BROADCAST, IFF_MULTICAST, IFF_RUNNING, IFF_UP, IFNAMSIZ, IFREQ_SIZE } from '../uapi/if.js';
import { RTENTRY_SIZE, RTF_GATEWAY, RTF_HOST, RTF_REJECT } from '../uapi/route.js';
import { AF_INET } from '../uapi/socket.js';
import { ARPHRD_ETHER } from '../uapi/if-arp.js';
import { Errno } from '../uapi/errno.js';

/** Not an ioctl this layer knows: the caller tries the next one (Linux's ENOIOCTLCMD). */
const NOT_MINE = null;

/** A NUL-terminated name of at most IFNAMSIZ−1 characters at `at` (ifr_name[IFNAMSIZ-1] = 0). */
function readName(b: Uint8Array, at: number): string {
  let s = '';
  for (let i = 0; i < IFNAMSIZ - 1 && at + i < b.length; i++) {
    const c = b[at + i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** struct sockaddr_in at `at`: family (host order) and address (network order). */
function readSin(b: Uint8Array, at: number): { family: number; addr: number } {
  return { family: readU16le(b, at), addr: readU32(b, at + 4) };
}

function writeSin(b: Uint8Array, at: number, addr: number): void {
  b.fill(0, at, at + 16);
  writeU16le(b, at, AF_INET);
  writeU32(b, at + 4, addr);
}

/** inet_abc_len: the classful prefix SIOCSIFADDR gives a new address; -1 for multicast. */
export function inetAbcLen(addr: number): number {
  if (addr >>> 24 === 0 || addr === 0xffffffff) return 0;
  if (addr >>> 31 === 0) return 8;
  if (addr >>> 30 === 0b10) return 16;
  if (addr >>> 29 === 0b110) return 24;
  if (addr >>> 28 === 0b1111) return 32;
  return -1;
}

/** bad_mask: a netmask must be contiguous and leave no host bits set in `addr`. */
function badMask(mask: number, addr: number): boolean {
  if ((addr & ~mask) >>> 0 !== 0) return true;
  const inv = ~mask >>> 0;
  return (inv & (inv + 1)) >>> 0 !== 0;
}

function maskLen(mask: number): number {
  let n = 0;
  while (n < 32 && (mask << n) >>> 0 >= 0x80000000) n++;
  return n;
}

function deviceByName(stack: NetStack, name: string): NetDevice | undefined {
  return stack.devices.find((d) => d.name === name);
}

function primary(stack: NetStack, ifindex: number) {
  return stack.addresses.find((a) => a.ifindex === ifindex);
}

/** sock_ioctl for a socket of any kind: the protocol's own requests, then inet's, then the device's. */
export function sockIoctl(stack: NetStack, sk: Sock, request: number, arg: Uint8Array): number {
  if (sk instanceof UdpSock && (request === SIOCINQ || request === SIOCOUTQ)) {
    if (arg.length < 4) return -Errno.EFAULT;
    // udp_ioctl: SIOCINQ is the length of the next datagram's payload, not of the whole queue.
    writeU32le(arg, 0, request === SIOCOUTQ ? sk.wmemAlloc : sk.receiveQueue[0]?.len ?? 0);
    return 0;
  }
  const inet = !(sk instanceof NetlinkSock);
  if (inet) {
    const r = request === SIOCADDRT || request === SIOCDELRT ? routeIoctl(stack, request, arg) : devinetIoctl(stack, request, arg);
    if (r !== NOT_MINE) {
      stack.configStats.ioctl++;
      return r;
    }
  }
  const d = devIoctl(stack, request, arg);
  if (d === NOT_MINE) return -Errno.ENOTTY;
  stack.configStats.ioctl++;
  return d;
}

/** devinet_ioctl: addresses, masks and interface flags through an AF_INET socket. */
function devinetIoctl(stack: NetStack, cmd: number, arg: Uint8Array): number | null {
  const gets = [SIOCGIFADDR, SIOCGIFBRDADDR, SIOCGIFNETMASK];
  const sets = [SIOCSIFADDR, SIOCSIFBRDADDR, SIOCSIFNETMASK];
  if (!gets.includes(cmd) && !sets.includes(cmd) && cmd !== SIOCSIFFLAGS) return NOT_MINE;
  if (arg.length < IFREQ_SIZE) return -Errno.EFAULT;
  const name = readName(arg, 0);
  // Alias labels (eth0:1) are not modelled: each device has its addresses under its own name.
  if (name.includes(':')) return -Errno.EINVAL;
  const sin = readSin(arg, 16);
  if (sets.includes(cmd) && sin.family !== AF_INET) return -Errno.EINVAL;
  const dev = deviceByName(stack, name);
  if (!dev) return -Errno.ENODEV;
  let ifa = primary(stack, dev.ifindex);
  if (gets.includes(cmd) && sin.family === AF_INET) {
    // tryaddrmatch: a get naming an address asks about that address (4.4BSD style).
    ifa = stack.addresses.find((a) => a.ifindex === dev.ifindex && a.addr === sin.addr) ?? ifa;
  }
  if (!ifa && cmd !== SIOCSIFADDR && cmd !== SIOCSIFFLAGS) return -Errno.EADDRNOTAVAIL;
  switch (cmd) {
    case SIOCGIFADDR:
      writeSin(arg, 16, ifa!.addr);
      return 0;
    case SIOCGIFNETMASK:
      writeSin(arg, 16, prefixMask(ifa!.prefixLen));
      return 0;
    case SIOCGIFBRDADDR:
      writeSin(arg, 16, ifa!.prefixLen < 31 ? (ifa!.addr | ~prefixMask(ifa!.prefixLen)) >>> 0 : 0);
      return 0;
    case SIOCSIFADDR: {
      const len = inetAbcLen(sin.addr);
      if (len < 0) return -Errno.EINVAL;
      if (ifa) {
        if (ifa.addr === sin.addr) return 0;
        inetDelAddress(stack, dev.ifindex, ifa.addr);
      }
      // Setting 0.0.0.0 only removes the old address (__inet_insert_ifa drops a zero local).
      if (sin.addr === 0) return 0;
      return inetAddAddress(stack, dev.ifindex, sin.addr, len);
    }
    case SIOCSIFNETMASK: {
      if (badMask(sin.addr, 0)) return -Errno.EINVAL;
      const len = maskLen(sin.addr);
      if (len === ifa!.prefixLen) return 0;
      const addr = ifa!.addr;
      inetDelAddress(stack, dev.ifindex, addr);
      return inetAddAddress(stack, dev.ifindex, addr, len);
    }
    case SIOCSIFBRDADDR:
      // Accepted; quarklab derives an address's broadcast from its prefix and keeps no other.
      return 0;
    case SIOCSIFFLAGS:
      return changeFlags(stack, dev, readU16le(arg, 16));
    default:
      return NOT_MINE;
  }
}

/** dev_change_flags: bringing the interface up opens it; taking it down is not modelled. */
function changeFlags(stack: NetStack, dev: NetDevice, flags: number): number {
  if ((flags & IFF_UP) !== 0) return stack.devOpen(dev) ? 0 : -Errno.ENOMEM;
  return dev.up ? -Errno.EOPNOTSUPP : 0;
}

function deviceFlags(dev: NetDevice): number {
  return IFF_BROADCAST | IFF_MULTICAST | (dev.up ? IFF_UP | IFF_RUNNING : 0);
}

/** dev_ioctl: the device requests any socket can make. */
function devIoctl(stack: NetStack, cmd: number, arg: Uint8Array): number | null {
  const known = [SIOCGIFNAME, SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCGIFMTU, SIOCSIFMTU, SIOCGIFHWADDR, SIOCGIFINDEX];
  if (!known.includes(cmd)) return NOT_MINE;
  if (arg.length < IFREQ_SIZE) return -Errno.EFAULT;
  if (cmd === SIOCGIFNAME) {
    const dev = stack.device(readU32le(arg, 16) | 0);
    if (!dev) return -Errno.ENODEV;
    arg.fill(0, 0, IFNAMSIZ);
    for (let i = 0; i < dev.name.length; i++) arg[i] = dev.name.charCodeAt(i);
    return 0;
  }
  const dev = deviceByName(stack, readName(arg, 0));
  if (!dev) return -Errno.ENODEV;
  switch (cmd) {
    case SIOCGIFFLAGS:
      writeU16le(arg, 16, deviceFlags(dev));
      return 0;
    case SIOCSIFFLAGS:
      return changeFlags(stack, dev, readU16le(arg, 16));
    case SIOCGIFMTU:
      writeU32le(arg, 16, dev.mtu);
      return 0;
    case SIOCSIFMTU: {
      // dev_set_mtu: between ETH_MIN_MTU and what the MAC can frame (1500 here).
      const mtu = readU32le(arg, 16) | 0;
      if (mtu < 68 || mtu > 1500) return -Errno.EINVAL;
      dev.mtu = mtu;
      return 0;
    }
    case SIOCGIFHWADDR:
      arg.fill(0, 16, 32);
      writeU16le(arg, 16, ARPHRD_ETHER);
      arg.set(dev.hwAddr, 18);
      return 0;
    case SIOCGIFINDEX:
      writeU32le(arg, 16, dev.ifindex);
      return 0;
    default:
      return NOT_MINE;
  }
}

/**
 * ip_rt_ioctl with rtentry_to_fib_config: rt_dst and rt_genmask give the prefix (RTF_HOST: a
 * /32), rt_gateway the next hop (needed with RTF_GATEWAY), rt_metric the priority plus one,
 * rt_dev an interface name.
 */
function routeIoctl(stack: NetStack, cmd: number, arg: Uint8Array): number {
  if (arg.length < RTENTRY_SIZE) return -Errno.EFAULT;
  const dst = readSin(arg, 4);
  const gw = readSin(arg, 20);
  const genmask = readSin(arg, 36);
  const flags = readU16le(arg, 52);
  const metric = (readU16le(arg, 64) << 16) >> 16;
  const devPtr = readU32le(arg, 68);
  if (dst.family !== AF_INET) return -Errno.EAFNOSUPPORT;
  let plen = 32;
  if ((flags & RTF_HOST) === 0) {
    if (genmask.family !== AF_INET && (genmask.addr !== 0 || genmask.family !== 0)) return -Errno.EAFNOSUPPORT;
    if (badMask(genmask.addr, dst.addr)) return -Errno.EINVAL;
    plen = maskLen(genmask.addr);
  }
  // Unreachable routes (RTF_REJECT) are not modelled: quarklab's FIB holds unicast routes only.
  if ((flags & RTF_REJECT) !== 0) return -Errno.EOPNOTSUPP;
  let oif: number | undefined;
  if (devPtr !== 0) {
    // copy_from_user(devname, rt_dev, IFNAMSIZ-1): the pointer must lie in the program's buffer.
    if (devPtr >= arg.length) return -Errno.EFAULT;
    let name = readName(arg, devPtr);
    const colon = name.indexOf(':');
    if (colon >= 0) name = name.slice(0, colon);
    const dev = deviceByName(stack, name);
    if (!dev) return -Errno.ENODEV;
    oif = dev.ifindex;
  }
  const gateway = gw.family === AF_INET && gw.addr !== 0 ? gw.addr : null;
  const priority = metric ? metric - 1 : undefined;
  if (cmd === SIOCDELRT) return inetDelRoute(stack, dst.addr, plen, { gateway: gateway ?? undefined, ifindex: oif, metric: priority });
  if ((flags & RTF_GATEWAY) !== 0 && gateway === null) return -Errno.EINVAL;
  return inetAddRoute(stack, dst.addr, plen, gateway ?? 0, oif, { metric: priority ?? 0, protocol: 'boot' });
}
