/**
 * FIB_LIST: the simple routing table of the 2014 diet series ("fib_trie.c with all the trie
 * code removed") — a list ordered by prefix length then metric, so the first match is the
 * longest prefix. Each route costs a fib_alias and a fib_info (with its next hop) in board RAM,
 * as in FIB_TRIE (fib-alias.ts); there are no trie nodes. The table itself (fib_table) is
 * allocated at init.
 */
import type { KernelMemory } from '../core/kmem.js';
import { FibAliasAllocator, type FibAliasMem } from './fib-alias.js';
import { routeMatches, type Fib, type Route, type RouteMatch } from './fib.js';

interface Entry {
  route: Route;
  mem: FibAliasMem;
}

export class FibList implements Fib {
  readonly kind = 'FIB_LIST' as const;
  private entries: Entry[] = [];
  private readonly aliases: FibAliasAllocator;
  /** The main fib_table (fib_trie_table without the struct trie). */
  readonly tableAddr: number;

  constructor(
    private readonly mem: KernelMemory,
    structs: Readonly<Record<string, number>>,
  ) {
    this.aliases = new FibAliasAllocator(mem, structs);
    this.tableAddr = mem.kmalloc(structs['fib_table']!);
    if (this.tableAddr === 0) throw new Error('out of memory at boot allocating the main fib_table');
  }

  insert(route: Route): 'ok' | 'ENOBUFS' | 'EEXIST' {
    if (this.entries.some((e) => e.route.dst === route.dst && e.route.prefixLen === route.prefixLen && e.route.metric === route.metric)) {
      return 'EEXIST';
    }
    const mem = this.aliases.alloc(route);
    if (!mem) return 'ENOBUFS';
    this.entries.push({ route: { ...route }, mem });
    this.entries.sort((a, b) => b.route.prefixLen - a.route.prefixLen || a.route.metric - b.route.metric);
    return 'ok';
  }

  remove(dst: number, prefixLen: number, ifindex?: number, match?: RouteMatch): boolean {
    const i = this.entries.findIndex((e) =>
      e.route.dst === dst &&
      e.route.prefixLen === prefixLen &&
      (ifindex === undefined || e.route.ifindex === ifindex) &&
      (match?.gateway === undefined || e.route.gateway === match.gateway) &&
      (match?.metric === undefined || e.route.metric === match.metric));
    if (i < 0) return false;
    const [e] = this.entries.splice(i, 1);
    this.aliases.free(e!.mem);
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
    return this.entries.reduce((s, e) => s + this.aliases.bytes(e.mem), this.mem.ksize(this.tableAddr));
  }

  flush(): void {
    for (const e of this.entries) this.aliases.free(e.mem);
    this.entries = [];
  }
}
