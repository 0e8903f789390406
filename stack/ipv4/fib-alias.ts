/**
 * What every route costs in RAM whichever table holds it (net/ipv4/fib_semantics.c, shared by
 * FIB_TRIE and FIB_LIST): a fib_alias from the ip_fib_alias cache, and a fib_info allocated
 * with its one next hop inline (kzalloc(struct_size(fi, fib_nh, 1)): fib_info + fib_nh).
 * Linux shares one fib_info between identical routes; quarklab's tables hold a handful of
 * routes with distinct next hops, so each route gets its own.
 */
import type { KernelMemory, SlabCache } from '../core/kmem.js';
import type { Route } from './fib.js';

export interface FibAliasMem {
  aliasAddr: number;
  infoAddr: number;
}

export class FibAliasAllocator {
  private readonly aliasCache: SlabCache;
  private readonly infoSize: number;

  constructor(
    private readonly mem: KernelMemory,
    structs: Readonly<Record<string, number>>,
  ) {
    this.aliasCache = mem.createCache('ip_fib_alias', structs['fib_alias']!);
    this.infoSize = structs['fib_info']! + structs['fib_nh']!;
  }

  /** Null on -ENOBUFS (nothing left allocated). */
  alloc(_route: Route): FibAliasMem | null {
    const aliasAddr = this.aliasCache.alloc();
    if (aliasAddr === 0) return null;
    const infoAddr = this.mem.kmalloc(this.infoSize);
    if (infoAddr === 0) {
      this.aliasCache.free(aliasAddr);
      return null;
    }
    return { aliasAddr, infoAddr };
  }

  free(m: FibAliasMem): void {
    this.aliasCache.free(m.aliasAddr);
    this.mem.kfree(m.infoAddr);
  }

  bytes(m: FibAliasMem): number {
    return this.aliasCache.objectSize + this.mem.ksize(m.infoAddr);
  }
}
