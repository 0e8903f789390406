/**
 * FIB_LIST: the simple routing table of the 2014 diet series ("fib_trie.c with all the trie
 * code removed") — a list ordered by prefix length then metric, so the first match is the
 * longest prefix. Each route costs a fib_alias and a fib_info in board RAM.
 */
import type { KernelMemory } from '../core/kmem.js';
import { routeMatches, type Fib, type Route } from './fib.js';

interface Entry {
  route: Route;
  aliasAddr: number;
  infoAddr: number;
}

export class FibList implements Fib {
  readonly kind = 'FIB_LIST' as const;
  private entries: Entry[] = [];

  constructor(
    private readonly mem: KernelMemory,
    private readonly fibAliasSize: number,
    private readonly fibInfoSize: number,
  ) {}

  insert(route: Route): 'ok' | 'ENOBUFS' | 'EEXIST' {
    if (this.entries.some((e) => e.route.dst === route.dst && e.route.prefixLen === route.prefixLen && e.route.metric === route.metric)) {
      return 'EEXIST';
    }
    const aliasAddr = this.mem.kmalloc(this.fibAliasSize);
    if (aliasAddr === 0) return 'ENOBUFS';
    const infoAddr = this.mem.kmalloc(this.fibInfoSize);
    if (infoAddr === 0) {
      this.mem.kfree(aliasAddr);
      return 'ENOBUFS';
    }
    this.entries.push({ route: { ...route }, aliasAddr, infoAddr });
    this.entries.sort((a, b) => b.route.prefixLen - a.route.prefixLen || a.route.metric - b.route.metric);
    return 'ok';
  }

  remove(dst: number, prefixLen: number, ifindex?: number): boolean {
    const i = this.entries.findIndex((e) => e.route.dst === dst && e.route.prefixLen === prefixLen && (ifindex === undefined || e.route.ifindex === ifindex));
    if (i < 0) return false;
    const [e] = this.entries.splice(i, 1);
    this.mem.kfree(e!.aliasAddr);
    this.mem.kfree(e!.infoAddr);
    return true;
  }

  lookup(dst: number): Route | null {
    for (const e of this.entries) if (routeMatches(e.route, dst)) return e.route;
    return null;
  }

  routes(): Route[] {
    return this.entries.map((e) => ({ ...e.route }));
  }

  memoryBytes(): number {
    return this.entries.reduce((s, e) => s + this.mem.ksize(e.aliasAddr) + this.mem.ksize(e.infoAddr), 0);
  }

  flush(): void {
    for (const e of this.entries) {
      this.mem.kfree(e.aliasAddr);
      this.mem.kfree(e.infoAddr);
    }
    this.entries = [];
  }
}
