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
