/**
 * The forwarding information base: routes and longest-prefix lookup.
 *
 * Two implementations, chosen by the profile as the 2014 patches allowed: FIB_TRIE (Linux's
 * LC-trie, fib-trie.ts) and FIB_LIST (a linear list for small systems with a handful of
 * routes, fib-list.ts). Both keep their nodes in board RAM. /proc/net/route (fib_trie.c's
 * fib_route_seq_show) reads either through the same interface.
 */
import type { NetStack } from '../net-stack.js';
import { prefixMask } from '../uapi/addr.js';
import { beHex, hex, padLine } from '../core/procfs.js';

export type RouteScope = 'link' | 'universe' | 'host';

export interface Route {
  dst: number;
  prefixLen: number;
  /** Next hop; 0 for a connected route. */
  gateway: number;
  ifindex: number;
  /** Preferred source address. */
  prefSrc: number;
  metric: number;
  scope: RouteScope;
  /** Which path configured it: 'kernel' for connected routes, 'boot' for ioctl/rtnetlink. */
  protocol: 'kernel' | 'boot' | 'dhcp';
}

export interface Fib {
  readonly kind: 'FIB_TRIE' | 'FIB_LIST';
  /** False when RAM for the route cannot be allocated (-ENOBUFS) or it exists (-EEXIST). */
  insert(route: Route): 'ok' | 'ENOBUFS' | 'EEXIST';
  /** Remove the first route (in lookup order) for the prefix that matches the given next hop details. */
  remove(dst: number, prefixLen: number, ifindex?: number, match?: RouteMatch): boolean;
  lookup(dst: number): Route | null;
  routes(): Route[];
  /** Bytes of board RAM the table uses. */
  memoryBytes(): number;
  flush(): void;
}

/** Further details a route deletion may name (RTA_GATEWAY, RTA_PRIORITY; rt_gateway, rt_metric). */
export interface RouteMatch {
  gateway?: number;
  metric?: number;
}

export function routeMatches(r: Route, dst: number): boolean {
  const mask = r.prefixLen === 0 ? 0 : (0xffffffff << (32 - r.prefixLen)) >>> 0;
  return ((dst & mask) >>> 0) === ((r.dst & mask) >>> 0);
}

/**
 * fib_route_seq_show: the main table in trie order (by prefix, longer prefixes of the same
 * key first, then by metric), each row padded to 127 characters. Flags: RTF_UP, RTF_GATEWAY
 * for a route via a gateway, RTF_HOST for a /32.
 */
export function fibRouteSeqShow(stack: NetStack): string {
  let out = padLine('Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT', 127);
  const routes = [...stack.fib.routes()].sort((a, b) => (a.dst >>> 0) - (b.dst >>> 0) || b.prefixLen - a.prefixLen || a.metric - b.metric);
  for (const r of routes) {
    const mask = prefixMask(r.prefixLen);
    const flags = 0x1 | (r.gateway !== 0 ? 0x2 : 0) | (r.prefixLen === 32 ? 0x4 : 0);
    const name = stack.device(r.ifindex)?.name ?? '*';
    out += padLine(`${name}\t${beHex(r.dst)}\t${beHex(r.gateway)}\t${hex(flags, 4)}\t0\t0\t${r.metric}\t${beHex(mask)}\t0\t0\t0`, 127);
  }
  return out;
}
