/**
 * What the stack needs from kernel memory: the board's RAM bytes, kmalloc and named slab
 * caches. Every object Linux would allocate is allocated through this before its TypeScript
 * object exists; an address of 0 is NULL (allocation failed) and call sites handle it as Linux
 * does, by dropping and counting or refusing.
 */
export interface SlabCache {
  readonly name: string;
  readonly objectSize: number;
  alloc(gfp?: Gfp): number;
  free(addr: number): void;
}

/** 'atomic' for softirq context (may use the memory reserve), 'kernel' for a process in a system call. */
export type Gfp = 'atomic' | 'kernel';

export interface KernelMemory {
  readonly bytes: Uint8Array;
  kmalloc(size: number, gfp?: Gfp): number;
  kfree(addr: number): void;
  ksize(addr: number): number;
  createCache(name: string, objectSize: number, align?: number): SlabCache;
  /** Pages the page allocator has free now. */
  freePages(): number;
  /** Pages the page allocator manages (zone_managed_pages; the init sections join later). */
  managedPages(): number;
  /** Pages only softirq allocations may take (vm.min_free_kbytes). */
  reservePages(): number;
  readonly size: number;
}

/** Linux's SKB_DATA_ALIGN on a 32-bit uniprocessor build: SMP_CACHE_BYTES is 64 on i386. */
export const SMP_CACHE_BYTES = 64;
export function cacheAlign(n: number): number {
  return (n + SMP_CACHE_BYTES - 1) & ~(SMP_CACHE_BYTES - 1);
}

/**
 * Every cache name the stack allocates from, for failslab's site filter: the named caches it
 * creates (some only on first use), kmalloc's size classes and kmalloc-large. A name not here
 * can never fail, so `--fail-alloc site=` refuses it before the run.
 */
export const ALLOC_SITES: readonly string[] = [
  'skbuff_head_cache', 'skbuff_fclone_cache', 'TCP', 'UDP', 'RAW', 'PING', 'PACKET', 'NETLINK',
  'filp', 'sock_inode_cache', 'request_sock_TCP', 'tw_sock_TCP', 'ip_fib_trie', 'ip_fib_alias',
  'ip4-frags', 'arp_cache',
  'kmalloc-8', 'kmalloc-16', 'kmalloc-32', 'kmalloc-64', 'kmalloc-96', 'kmalloc-128', 'kmalloc-192',
  'kmalloc-256', 'kmalloc-512', 'kmalloc-1k', 'kmalloc-2k', 'kmalloc-4k', 'kmalloc-8k', 'kmalloc-large',
];
