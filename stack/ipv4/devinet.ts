/**
 * Interface addresses (net/ipv4/devinet.c): adding an address creates its in_ifaddr in RAM,
 * the connected route for its prefix, and announces it with gratuitous ARP; removing it takes
 * the route away. Both configuration paths (rtnetlink and ioctl) end here.
 */
import type { NetStack } from '../net-stack.js';
import { prefixMask } from '../core/addr.js';
import { Errno } from '../socket/sock.js';

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
  return 0;
}

/** A gateway route (route add default gw …). */
export function inetAddRoute(stack: NetStack, dst: number, prefixLen: number, gateway: number, ifindex?: number): number {
  let dev = ifindex;
  if (dev === undefined) {
    const via = stack.fib.lookup(gateway);
    if (!via || via.gateway !== 0) return -Errno.ENETUNREACH;
    dev = via.ifindex;
  }
  const r = stack.fib.insert({ dst: (dst & prefixMask(prefixLen)) >>> 0, prefixLen, gateway, ifindex: dev, prefSrc: 0, metric: 0, scope: 'universe', protocol: 'boot' });
  return r === 'ok' ? 0 : r === 'EEXIST' ? -Errno.EEXIST : -Errno.ENOBUFS;
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
