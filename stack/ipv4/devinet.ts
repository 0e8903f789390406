/**
 * Interface addresses (net/ipv4/devinet.c): adding an address creates its in_ifaddr in RAM,
 * the connected route for its prefix, and announces it with gratuitous ARP; removing it takes
 * the route away. Both configuration paths (rtnetlink and ioctl) end here.
 */
import type { NetStack } from '../net-stack.js';
import { prefixMask } from '../core/addr.js';
import type { Route } from './fib.js';
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
