/**
 * The forwarding information base: routes and longest-prefix lookup.
 *
 * Two implementations, chosen by the profile as the 2014 patches allowed: FIB_TRIE (Linux's
 * LC-trie, fib-trie.ts) and FIB_LIST (a linear list for small systems with a handful of
 * routes, fib-list.ts). Both keep their nodes in board RAM.
 */
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
