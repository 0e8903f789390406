/**
 * Interface addresses (net/ipv4/devinet.c): adding an address creates its in_ifaddr in RAM,
 * the connected route for its prefix, and announces it with gratuitous ARP; removing it takes
 * the route away. Both configuration paths (rtnetlink and ioctl) end here; the rtnetlink
 * address messages (RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR) are devinet's, registered at init.
 */
import type { NetStack } from '../net-stack.js';
import { prefixMask } from '../uapi/addr.js';
import { NETLINK_DUMP_STARTED } from '../core/netlink.js';
import { rtnlDumper, u32Attr, type Rtnetlink, type RtnlRequest } from '../core/rtnetlink.js';
import type { Route } from './fib.js';
import { parseAttrs, type Attr } from '../uapi/netlink-message.js';
import { readU32le, writeU32le } from '../uapi/byte-order.js';
import { AF_INET, AF_UNSPEC } from '../uapi/socket.js';
import { NLM_F_EXCL, nlmsgAlign } from '../uapi/netlink.js';
import { IFADDRMSG_LEN, IFA_ADDRESS, IFA_BROADCAST, IFA_F_PERMANENT, IFA_LABEL, IFA_LOCAL } from '../uapi/if-addr.js';
import { RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR, RT_SCOPE_UNIVERSE } from '../uapi/rtnetlink.js';
import { Errno } from '../uapi/errno.js';

export function inetAddAddress(stack: NetStack, ifindex: number, addr: number, prefixLen: number): number {
  const dev = stack.device(ifindex);
  if (!dev) return -Errno.ENODEV;
  if (prefixLen < 0 || prefixLen > 32) return -Errno.EINVAL;
  if (stack.addresses.some((a) => a.ifindex === ifindex && a.addr === addr)) return -Errno.EEXIST;
  const structAddr = stack.env.mem.kmalloc(stack.env.structs['in_ifaddr']!);
  if (structAddr === 0) return -Errno.ENOBUFS;
  stack.addresses.push({ ifindex, addr, prefixLen, structAddr });
  const mask = prefixMask(prefixLen);
  if (prefixLen < 32) {
    stack.fib.insert({ dst: (addr & mask) >>> 0, prefixLen, gateway: 0, ifindex, prefSrc: addr, metric: 0, scope: 'link', protocol: 'kernel' });
  }
  if (dev.up) stack.arp.announce(dev, addr);
  return 0;
}

export function inetDelAddress(stack: NetStack, ifindex: number, addr: number): number {
  const i = stack.addresses.findIndex((a) => a.ifindex === ifindex && a.addr === addr);
  if (i < 0) return -Errno.EADDRNOTAVAIL;
  const [a] = stack.addresses.splice(i, 1);
  const mask = prefixMask(a!.prefixLen);
  stack.fib.remove((addr & mask) >>> 0, a!.prefixLen, ifindex);
  stack.env.mem.kfree(a!.structAddr);
  // fib_inetaddr_event: the interface's last address is gone, so IP is disabled on it
  // (fib_disable_ip) and every route through it goes too.
  if (!stack.addresses.some((x) => x.ifindex === ifindex)) {
    for (const r of stack.fib.routes()) if (r.ifindex === ifindex) stack.fib.remove(r.dst, r.prefixLen, ifindex, { gateway: r.gateway, metric: r.metric });
  }
  return 0;
}

export interface RouteOptions {
  metric?: number;
  prefSrc?: number;
  protocol?: Route['protocol'];
}

/**
 * A gateway route (route add default gw …), or with gateway 0 a route straight out of
 * `ifindex` (ip route add P dev eth0). As fib_check_nh does, a gateway must be reachable
 * through a connected route (on `ifindex`, when one is named).
 */
export function inetAddRoute(stack: NetStack, dst: number, prefixLen: number, gateway: number, ifindex?: number, opts: RouteOptions = {}): number {
  if (prefixLen < 0 || prefixLen > 32) return -Errno.EINVAL;
  let dev = ifindex;
  if (gateway !== 0) {
    const via = stack.fib.lookup(gateway);
    if (!via || via.gateway !== 0 || (dev !== undefined && via.ifindex !== dev)) return -Errno.ENETUNREACH;
    dev = via.ifindex;
  }
  if (dev === undefined || !stack.device(dev)) return -Errno.ENODEV;
  const r = stack.fib.insert({
    dst: (dst & prefixMask(prefixLen)) >>> 0,
    prefixLen,
    gateway,
    ifindex: dev,
    prefSrc: opts.prefSrc ?? 0,
    metric: opts.metric ?? 0,
    scope: gateway === 0 ? 'link' : 'universe',
    protocol: opts.protocol ?? 'boot',
  });
  return r === 'ok' ? 0 : r === 'EEXIST' ? -Errno.EEXIST : -Errno.ENOBUFS;
}

/** fib_table_delete: the route for the prefix matching whatever next-hop details are given; -ESRCH if none. */
export function inetDelRoute(stack: NetStack, dst: number, prefixLen: number, match: { gateway?: number; ifindex?: number; metric?: number } = {}): number {
  if (prefixLen < 0 || prefixLen > 32) return -Errno.EINVAL;
  const ok = stack.fib.remove((dst & prefixMask(prefixLen)) >>> 0, prefixLen, match.ifindex, { gateway: match.gateway, metric: match.metric });
  return ok ? 0 : -Errno.ESRCH;
}

/**
 * Take the interface's IPv4 configuration away (ip addr flush; ip route flush dev): its
 * addresses, the routes through it and its neighbours. After this the stack holds only what
 * it held at boot, which is what the leak check compares against.
 */
export function inetFlushInterface(stack: NetStack, ifindex: number): void {
  for (const a of stack.addresses.filter((x) => x.ifindex === ifindex)) inetDelAddress(stack, ifindex, a.addr);
  for (const r of stack.fib.routes()) if (r.ifindex === ifindex) stack.fib.remove(r.dst, r.prefixLen, ifindex);
  stack.neigh.flush();
}

// ---- rtnetlink -----------------------------------------------------------------------------

/**
 * devinet_init's rtnl_register calls: the address messages for AF_INET. The dump answers
 * AF_UNSPEC too, as rtnl_dump_all would with IPv4 the stack's only address family.
 */
export function devinetRtnlInit(stack: NetStack, rtnl: Rtnetlink): void {
  rtnl.register(AF_INET, RTM_NEWADDR, { doit: (r) => newAddr(stack, r) });
  rtnl.register(AF_INET, RTM_DELADDR, { doit: (r) => delAddr(stack, r) });
  for (const family of [AF_INET, AF_UNSPEC]) rtnl.register(family, RTM_GETADDR, { dumpit: (r) => dumpAddrs(stack, r) });
}

function ifaddrmsg(r: RtnlRequest): { prefixLen: number; ifindex: number; attrs: Map<number, Attr> } | null {
  if (r.end - r.body < IFADDRMSG_LEN) return null;
  return {
    prefixLen: r.bytes[r.body + 1]!,
    ifindex: readU32le(r.bytes, r.body + 4),
    attrs: parseAttrs(r.bytes, r.body + nlmsgAlign(IFADDRMSG_LEN), r.end),
  };
}

/** inet_rtm_newaddr (rtm_to_ifaddr, __inet_insert_ifa). */
function newAddr(stack: NetStack, r: RtnlRequest): number {
  const m = ifaddrmsg(r);
  if (!m) return -Errno.EINVAL;
  const local = u32Attr(r.bytes, m.attrs.get(IFA_LOCAL), true);
  if (m.prefixLen > 32 || local === null) return -Errno.EINVAL;
  if (typeof local !== 'number') return local.err;
  if (!stack.device(m.ifindex)) return -Errno.ENODEV;
  if (local === 0) return 0; // an all-zero local address is not inserted
  const e = inetAddAddress(stack, m.ifindex, local, m.prefixLen);
  // Without NLM_F_EXCL an existing address is updated in place (its lifetimes): success.
  if (e === -Errno.EEXIST && (r.h.flags & NLM_F_EXCL) === 0) return 0;
  return e;
}

/** inet_rtm_deladdr: the address matching IFA_LOCAL and, if given, IFA_ADDRESS and the prefix length. */
function delAddr(stack: NetStack, r: RtnlRequest): number {
  const m = ifaddrmsg(r);
  if (!m) return -Errno.EINVAL;
  if (!stack.device(m.ifindex)) return -Errno.ENODEV;
  const local = u32Attr(r.bytes, m.attrs.get(IFA_LOCAL), true);
  const address = u32Attr(r.bytes, m.attrs.get(IFA_ADDRESS), true);
  if (local !== null && typeof local !== 'number') return local.err;
  if (address !== null && typeof address !== 'number') return address.err;
  const a = stack.addresses.find((x) =>
    x.ifindex === m.ifindex &&
    (local === null || x.addr === local) &&
    (address === null || (x.prefixLen === m.prefixLen && ((x.addr ^ address) & prefixMask(x.prefixLen)) === 0)));
  if (!a) return -Errno.EADDRNOTAVAIL;
  return inetDelAddress(stack, m.ifindex, a.addr);
}

/** inet_dump_ifaddr: one RTM_NEWADDR per address. */
function dumpAddrs(stack: NetStack, r: RtnlRequest): number {
  const out = rtnlDumper(r, RTM_NEWADDR);
  for (const a of stack.addresses) {
    const dev = stack.device(a.ifindex);
    out.add((w, at) => {
      const ifa = new Uint8Array(IFADDRMSG_LEN);
      ifa[0] = AF_INET;
      ifa[1] = a.prefixLen;
      ifa[2] = IFA_F_PERMANENT;
      ifa[3] = RT_SCOPE_UNIVERSE;
      writeU32le(ifa, 4, a.ifindex);
      w.bytes(ifa);
      w.be32(IFA_ADDRESS, a.addr);
      w.be32(IFA_LOCAL, a.addr);
      if (a.prefixLen < 31) w.be32(IFA_BROADCAST, (a.addr | (0xffffffff >>> a.prefixLen)) >>> 0);
      if (dev) w.str(IFA_LABEL, dev.name);
      return at;
    });
  }
  out.finish();
  return NETLINK_DUMP_STARTED;
}
