// kmalloc: general-purpose kernel allocation through Linux's size classes.
//
// Requests up to 8 KiB (SLUB's KMALLOC_MAX_CACHE_SIZE on 4 KiB pages) round up to the next
// kmalloc-N cache; larger ones take whole page blocks straight from the page allocator and are
// accounted as "kmalloc-large". Rounding is the point: an skb data buffer of 1,700 bytes really
// costs 2 KiB on the board, and the report must show that.

import { PAGE_KMALLOC_LARGE, PAGE_SIZE, type PageAllocator, type Gfp } from './page-allocator.js';
import type { CacheStats, KmemCache, SlabCaches } from './slab.js';
import type { FaultHook } from './fail-slab.js';

/** Linux's kmalloc size classes (with the 96 and 192 byte caches). */
export const KMALLOC_SIZES: readonly number[] = [
  8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192,
];
export const KMALLOC_MAX_CACHE_SIZE = 8192;
export const KMALLOC_LARGE = 'kmalloc-large';

/** Linux's cache names: kmalloc-8 ... kmalloc-512, kmalloc-1k ... kmalloc-8k. */
export function kmallocCacheName(size: number): string {
  return size >= 1024 ? `kmalloc-${size / 1024}k` : `kmalloc-${size}`;
}

/** Class index by (size - 1) >> 3: a table lookup, like Linux's size_index, instead of a search. */
const CLASS_BY_8 = (() => {
  const table = new Int8Array(KMALLOC_MAX_CACHE_SIZE >> 3);
  let c = 0;
  for (let i = 0; i < table.length; i++) {
    while (KMALLOC_SIZES[c]! < (i + 1) << 3) c++;
    table[i] = c;
  }
  return table;
})();

/** Index into KMALLOC_SIZES for a request of size bytes, or -1 if it goes to whole pages. */
export function kmallocIndex(size: number): number {
  return size > KMALLOC_MAX_CACHE_SIZE ? -1 : CLASS_BY_8[(size - 1) >> 3]!;
}

/** Smallest page order whose block holds size bytes. */
export function orderForSize(size: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

export class Kmalloc {
  private readonly classes: KmemCache[];
  private largeActive = 0;
  private largePeakActive = 0;
  private largePages = 0;
  private largePeakPages = 0;
  private largeFailures = 0;
  /** Large allocations held back at the min_free watermark (observed by the timeline). */
  largeThrottled = 0;
  private largeAllocs = 0;
  private largeFrees = 0;

  constructor(private readonly pages: PageAllocator, private readonly caches: SlabCaches,
              private readonly bytes: Uint8Array, private readonly faults: FaultHook) {
    // Alignment 8: every class size is a multiple of 8, so objects are naturally packed.
    this.classes = KMALLOC_SIZES.map((size) => caches.create(kmallocCacheName(size), size, 8));
  }

  /**
   * Allocate size zeroed bytes. Returns the address, or 0 when memory is exhausted (counted in
   * the class cache's or kmalloc-large's failures; never throws for that). A size below 1 is a
   * bug in the caller's arithmetic (Linux would hand back ZERO_SIZE_PTR), so it throws.
   */
  kmalloc(size: number, gfp: Gfp = 'atomic'): number {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`kmalloc: bad size ${size}`);
    }
    const idx = kmallocIndex(size);
    if (idx >= 0) return this.classes[idx]!.alloc(gfp);
    return this.allocLarge(size, gfp);
  }

  /**
   * Free memory from kmalloc() (or any slab cache, as SLUB's kfree allows). kfree(0) is a no-op
   * like kfree(NULL). Any other address that is not a live allocation is our own bug: it throws.
   */
  kfree(addr: number): void {
    if (addr === 0) return;
    const tag = this.pages.ownerOf(addr);
    if (tag === PAGE_KMALLOC_LARGE) {
      this.freeLarge(addr);
      return;
    }
    const cache = this.caches.ofAddress(addr);
    if (cache === null) {
      throw new Error(`kfree: 0x${addr.toString(16)} was not allocated by kmalloc`);
    }
    cache.free(addr);
  }

  /** Usable size of the allocation at addr: its class size, or its whole page block. */
  ksize(addr: number): number {
    const tag = this.pages.ownerOf(addr);
    if (tag === PAGE_KMALLOC_LARGE) {
      const order = this.pages.orderOf(addr);
      if (order < 0) throw new Error(`ksize: 0x${addr.toString(16)} is not the start of an allocation`);
      return PAGE_SIZE << order;
    }
    const cache = this.caches.ofAddress(addr);
    if (cache === null) throw new Error(`ksize: 0x${addr.toString(16)} was not allocated by kmalloc`);
    return cache.objectSize;
  }

  /** The size-class caches, smallest first. */
  classCaches(): readonly KmemCache[] {
    return this.classes;
  }

  /** kmalloc-large as a slabinfo line: one "slab" per allocation, sizes vary. */
  largeStats(): CacheStats {
    return {
      name: KMALLOC_LARGE,
      objectSize: 0,
      objectsPerSlab: 1,
      pagesPerSlab: 0,
      active: this.largeActive,
      peakActive: this.largePeakActive,
      totalObjects: this.largeActive,
      slabs: this.largeActive,
      emptySlabs: 0,
      pages: this.largePages,
      peakPages: this.largePeakPages,
      heldBytes: this.largePages * PAGE_SIZE,
      peakHeldBytes: this.largePeakPages * PAGE_SIZE,
      failures: this.largeFailures,
      allocs: this.largeAllocs,
      frees: this.largeFrees,
    };
  }

  private allocLarge(size: number, gfp: Gfp): number {
    const fault = this.faults.attr;
    if (fault !== null && fault.shouldFail(KMALLOC_LARGE)) return 0;
    const order = orderForSize(size);
    const addr = this.pages.allocPages(order, PAGE_KMALLOC_LARGE, gfp);
    if (addr === 0) {
      this.largeFailures++;
      if (this.pages.lastRefusalThrottled) this.largeThrottled++;
      return 0;
    }
    const n = 1 << order;
    this.bytes.fill(0, addr, addr + n * PAGE_SIZE);
    this.largeAllocs++;
    if (++this.largeActive > this.largePeakActive) this.largePeakActive = this.largeActive;
    this.largePages += n;
    if (this.largePages > this.largePeakPages) this.largePeakPages = this.largePages;
    return addr;
  }

  private freeLarge(addr: number): void {
    if (this.pages.orderOf(addr) < 0) {
      throw new Error(`kfree: 0x${addr.toString(16)} is inside a large allocation, not its start`);
    }
    const n = this.pages.freePages(addr);
    this.largeActive--;
    this.largePages -= n;
    this.largeFrees++;
  }
}
