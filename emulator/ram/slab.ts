// Slab caches: Linux's kmem_cache. A cache carves page-allocator blocks ("slabs") into equal
// objects of one size, so the stack's fixed-size structures (sk_buff, tcp_sock, rtable...) cost
// exactly their calibrated struct size plus slab rounding — the same waste a real board sees.
//
// Bookkeeping lives outside board RAM, in JS typed arrays, the way Linux keeps slab metadata in
// struct page rather than in the objects: a stray write into RAM can corrupt packet bytes but
// never the allocator. Each slab keeps a stack of free object indices, so alloc and free are
// O(1). An empty slab stays on its cache's partial list while the list holds fewer than
// min_partial slabs, as SLUB does (mm/slub.c, __slab_free: discard_slab only when
// n->nr_partial >= s->min_partial); otherwise it goes back to the page allocator. Kept empty
// slabs hold pages but no live object, so the post-boot baseline is measured in live objects.
// Not modelled: the per-CPU active slab (kmem_cache_cpu) and, on SMP, per-CPU partial lists.

import { MAX_ORDER, PAGE_SHIFT, PAGE_SIZE, type PageAllocator, type Gfp } from './page-allocator.js';
import { FaultHook } from './fail-slab.js';

/** One line of slabinfo, with lwIP-style pool counters (avail/used/max/err). */
export interface CacheStats {
  name: string;
  /** Bytes per object slot after alignment (0 for kmalloc-large, whose sizes vary). */
  objectSize: number;
  objectsPerSlab: number;
  pagesPerSlab: number;
  /** Objects in use (lwIP "used"). */
  active: number;
  /** High-water mark of active (lwIP "max"). */
  peakActive: number;
  /** Object slots in the cache's slabs (lwIP "avail"). */
  totalObjects: number;
  /** Slabs held by the cache. */
  slabs: number;
  /** Of those, empty slabs kept on the partial list (min_partial): pages held, no live object. */
  emptySlabs: number;
  /** Pages held by the cache (slabs * pagesPerSlab). */
  pages: number;
  peakPages: number;
  /**
   * Bytes of RAM the cache accounts for: on SLUB the pages its slabs hold; on SLOB, where pages
   * are shared, what its live objects take (header and rounding included).
   */
  heldBytes: number;
  peakHeldBytes: number;
  /** alloc() calls that returned 0 (lwIP "err"). */
  failures: number;
  allocs: number;
  frees: number;
}

/** Per-slab metadata (Linux keeps this in struct page / struct slab). */
class Slab {
  base = 0;
  /** The cache this slab belongs to (slabs are per cache; the page table is shared). */
  cache: KmemCache | null = null;
  /** Free object indices; the top of the stack is freeIdx[nfree - 1]. */
  readonly freeIdx: Int32Array;
  nfree = 0;
  /** 1 while the object is allocated: catches double frees in O(1). */
  readonly inUse: Uint8Array;
  prev: Slab | null = null;
  next: Slab | null = null;
  onPartial = false;

  constructor(objects: number) {
    this.freeIdx = new Int32Array(objects);
    this.inUse = new Uint8Array(objects);
  }
}

/** mm/slub.c: at least this many slabs stay on a cache's partial list, even empty. */
export const MIN_PARTIAL = 5;
/** mm/slub.c: the most min_partial can be. */
export const MAX_PARTIAL = 10;

/**
 * kmem_cache_open's set_min_partial: ilog2(s->size) / 2 clamped to [MIN_PARTIAL, MAX_PARTIAL]
 * ("the larger the object size is, the more slabs we want on the partial list").
 */
export function minPartial(objectSize: number): number {
  return Math.min(MAX_PARTIAL, Math.max(MIN_PARTIAL, Math.floor(Math.log2(objectSize)) >> 1));
}

export class KmemCache {
  /** Owner tag written into the page allocator for this cache's pages. */
  readonly id: number;
  readonly name: string;
  /** Size the caller asked for (the calibrated struct size). */
  readonly requestedSize: number;
  /** Slot size: requestedSize rounded up to align. */
  readonly objectSize: number;
  readonly align: number;
  readonly order: number;
  readonly objectsPerSlab: number;
  /** s->min_partial: an empty slab is discarded only once the partial list holds this many. */
  readonly minPartial: number;

  private readonly pages: PageAllocator;
  private readonly bytes: Uint8Array;
  /**
   * Slab owning each page of RAM (every page of a multi-page slab points at it): one table for
   * all of a board's caches (a page belongs to one slab at a time), not one per cache.
   */
  private readonly slabByPage: (Slab | null)[];
  /** Slabs with at least one free object; allocation takes from the head. */
  private partial: Slab | null = null;
  /** n->nr_partial: slabs on the partial list (empty ones included). */
  private nrPartial = 0;
  /** Empty slabs kept on the partial list. */
  private emptyCount = 0;
  /** Metadata of released slabs, reused so that churn does not churn the JS heap. */
  private readonly spare: Slab[] = [];

  private activeCount = 0;
  private peakActiveCount = 0;
  private slabCount = 0;
  private peakSlabCount = 0;
  private failureCount = 0;
  private throttledCount = 0;
  private allocCount = 0;
  private freeCount = 0;

  constructor(id: number, name: string, objectSize: number, align: number,
              pages: PageAllocator, bytes: Uint8Array, slabByPage?: (Slab | null)[],
              private readonly faults: FaultHook = new FaultHook()) {
    if (!Number.isInteger(objectSize) || objectSize < 1) {
      throw new RangeError(`kmem_cache ${name}: bad object size ${objectSize}`);
    }
    if (!Number.isInteger(align) || align < 1 || align > PAGE_SIZE || (align & (align - 1)) !== 0) {
      throw new RangeError(`kmem_cache ${name}: alignment ${align} is not a power of two <= ${PAGE_SIZE}`);
    }
    const size = Math.ceil(objectSize / align) * align;
    // Keep it simple: the smallest slab that holds one object. On a 2 MiB board, order-0 slabs
    // for anything up to a page avoid the fragmentation that SLUB's higher orders would cause.
    let order = 0;
    while ((PAGE_SIZE << order) < size) order++;
    if (order > MAX_ORDER) {
      throw new RangeError(`kmem_cache ${name}: object size ${objectSize} exceeds the largest block`);
    }
    this.id = id;
    this.name = name;
    this.requestedSize = objectSize;
    this.objectSize = size;
    this.align = align;
    this.order = order;
    this.objectsPerSlab = Math.floor((PAGE_SIZE << order) / size);
    this.minPartial = minPartial(size);
    this.pages = pages;
    this.bytes = bytes;
    this.slabByPage = slabByPage ?? new Array<Slab | null>(pages.nrPages).fill(null);
  }

  get active(): number { return this.activeCount; }
  get peakActive(): number { return this.peakActiveCount; }
  get failures(): number { return this.failureCount; }
  /** alloc() calls held back at the min_free watermark (GFP_KERNEL waits, not failures). */
  get throttled(): number { return this.throttledCount; }
  get slabs(): number { return this.slabCount; }
  /** Empty slabs the cache keeps (min_partial): pages held without a live object. */
  get emptySlabs(): number { return this.emptyCount; }
  /** Bytes of RAM the cache's slabs hold now. */
  get heldBytes(): number { return (this.slabCount << this.order) * PAGE_SIZE; }

  /**
   * Allocate one zeroed object. Returns its address, or 0 when no page can be had (counted in
   * failures). Never throws for lack of memory: callers drop and count, as Linux does.
   */
  alloc(gfp: Gfp = 'atomic'): number {
    // failslab: an injected failure looks to the caller exactly like exhaustion.
    const fault = this.faults.attr;
    if (fault !== null && fault.shouldFail(this.name)) return 0;
    let slab = this.partial;
    if (slab === null) {
      slab = this.grow(gfp);
      if (slab === null) {
        // A GFP_KERNEL request held back at the watermark is a wait, not a failure.
        if (!this.pages.lastRefusalThrottled) this.failureCount++;
        else this.throttledCount++;
        return 0;
      }
    }
    if (slab.nfree === this.objectsPerSlab) this.emptyCount--;
    const idx = slab.freeIdx[--slab.nfree]!;
    slab.inUse[idx] = 1;
    if (slab.nfree === 0) this.unlinkPartial(slab);
    this.allocCount++;
    if (++this.activeCount > this.peakActiveCount) this.peakActiveCount = this.activeCount;
    const addr = slab.base + idx * this.objectSize;
    this.bytes.fill(0, addr, addr + this.objectSize);
    return addr;
  }

  /**
   * Free an object from this cache. A double free or an address this cache did not hand out is
   * a bug in our own code (input cannot cause it), so it throws instead of corrupting the cache.
   */
  free(addr: number): void {
    const slab = this.slabOf(addr);
    const off = addr - slab.base;
    const idx = Math.floor(off / this.objectSize);
    if (idx * this.objectSize !== off || idx >= this.objectsPerSlab) {
      throw new Error(`kmem_cache_free(${this.name}): 0x${addr.toString(16)} is not an object start`);
    }
    if (slab.inUse[idx] !== 1) {
      throw new Error(`kmem_cache_free(${this.name}): double free of 0x${addr.toString(16)}`);
    }
    slab.inUse[idx] = 0;
    const wasFull = slab.nfree === 0;
    slab.freeIdx[slab.nfree++] = idx;
    this.activeCount--;
    this.freeCount++;
    if (slab.nfree === this.objectsPerSlab) {
      // __slab_free: nr_partial counts this slab if it was already partial (not if it was full).
      if (this.nrPartial >= this.minPartial) {
        this.release(slab);
        return;
      }
      if (wasFull) this.linkPartial(slab);
      this.emptyCount++;
    } else if (wasFull) {
      this.linkPartial(slab);
    }
  }

  /**
   * kmem_cache_shrink (__kmem_cache_do_shrink): every empty slab on the partial list goes back
   * to the page allocator, min_partial notwithstanding. Returns the pages freed.
   */
  shrink(): number {
    let freed = 0;
    for (let slab = this.partial; slab !== null;) {
      const next = slab.next;
      if (slab.nfree === this.objectsPerSlab) {
        this.emptyCount--;
        this.release(slab);
        freed += 1 << this.order;
      }
      slab = next;
    }
    return freed;
  }

  /** True if addr lies in one of this cache's slabs. */
  owns(addr: number): boolean {
    if (!Number.isInteger(addr) || addr < 0 || addr >= this.bytes.length) return false;
    return this.slabByPage[addr >>> PAGE_SHIFT]?.cache === this;
  }

  stats(): CacheStats {
    const pagesPerSlab = 1 << this.order;
    return {
      name: this.name,
      objectSize: this.objectSize,
      objectsPerSlab: this.objectsPerSlab,
      pagesPerSlab,
      active: this.activeCount,
      peakActive: this.peakActiveCount,
      totalObjects: this.slabCount * this.objectsPerSlab,
      slabs: this.slabCount,
      emptySlabs: this.emptyCount,
      pages: this.slabCount * pagesPerSlab,
      peakPages: this.peakSlabCount * pagesPerSlab,
      heldBytes: this.slabCount * pagesPerSlab * PAGE_SIZE,
      peakHeldBytes: this.peakSlabCount * pagesPerSlab * PAGE_SIZE,
      failures: this.failureCount,
      allocs: this.allocCount,
      frees: this.freeCount,
    };
  }

  private slabOf(addr: number): Slab {
    const slab = Number.isInteger(addr) && addr >= 0 && addr < this.bytes.length
      ? this.slabByPage[addr >>> PAGE_SHIFT] : null;
    if (!slab || slab.cache !== this) {
      throw new Error(`kmem_cache_free(${this.name}): 0x${addr.toString(16)} is not in this cache`);
    }
    return slab;
  }

  /** Take a new slab from the page allocator; null when RAM is exhausted. */
  private grow(gfp: Gfp): Slab | null {
    const base = this.pages.allocPages(this.order, this.id, gfp);
    if (base === 0) return null;
    const slab = this.spare.pop() ?? new Slab(this.objectsPerSlab);
    slab.base = base;
    slab.cache = this;
    // Stack the indices so that index 0 is popped first: objects go out in address order.
    const n = this.objectsPerSlab;
    for (let i = 0; i < n; i++) slab.freeIdx[i] = n - 1 - i;
    slab.nfree = n;
    const first = base >>> PAGE_SHIFT;
    this.slabByPage.fill(slab, first, first + (1 << this.order));
    this.linkPartial(slab);
    this.emptyCount++;
    if (++this.slabCount > this.peakSlabCount) this.peakSlabCount = this.slabCount;
    return slab;
  }

  /** discard_slab: an empty slab the partial list has no room for goes back to the page allocator. */
  private release(slab: Slab): void {
    if (slab.onPartial) this.unlinkPartial(slab);
    const first = slab.base >>> PAGE_SHIFT;
    this.slabByPage.fill(null, first, first + (1 << this.order));
    this.pages.freePages(slab.base);
    slab.base = 0;
    slab.cache = null;
    this.slabCount--;
    this.spare.push(slab);
  }

  private linkPartial(slab: Slab): void {
    slab.prev = null;
    slab.next = this.partial;
    if (this.partial) this.partial.prev = slab;
    this.partial = slab;
    slab.onPartial = true;
    this.nrPartial++;
  }

  private unlinkPartial(slab: Slab): void {
    if (slab.prev) slab.prev.next = slab.next;
    else this.partial = slab.next;
    if (slab.next) slab.next.prev = slab.prev;
    slab.prev = null;
    slab.next = null;
    slab.onPartial = false;
    this.nrPartial--;
  }
}

/**
 * All caches of one board (Linux's slab_caches list). Gives each cache the owner tag it writes
 * into the page allocator, so an address finds its cache in O(1).
 */
export class SlabCaches {
  /** Indexed by owner tag; tag 0 is PAGE_FREE, so slot 0 stays empty. */
  private readonly byId: (KmemCache | null)[] = [null];
  private readonly byName = new Map<string, KmemCache>();
  /** The page → slab table all these caches share. */
  private readonly slabByPage: (Slab | null)[];

  constructor(private readonly pages: PageAllocator, private readonly bytes: Uint8Array,
              private readonly faults: FaultHook = new FaultHook()) {
    this.slabByPage = new Array<Slab | null>(pages.nrPages).fill(null);
  }

  /** kmem_cache_create. A duplicate name is a bug in the caller: it throws. */
  create(name: string, objectSize: number, align = 8): KmemCache {
    if (name.length === 0 || this.byName.has(name)) {
      throw new Error(`kmem_cache_create: cache name '${name}' is empty or already used`);
    }
    const cache = new KmemCache(this.byId.length, name, objectSize, align, this.pages, this.bytes, this.slabByPage, this.faults);
    this.byId.push(cache);
    this.byName.set(name, cache);
    return cache;
  }

  get(name: string): KmemCache | undefined {
    return this.byName.get(name);
  }

  /** The cache whose slab holds addr, or null (free, reserved, or page-level memory). */
  ofAddress(addr: number): KmemCache | null {
    const tag = this.pages.ownerOf(addr);
    return tag >= 1 ? this.byId[tag] ?? null : null;
  }

  /** Every cache, sorted by name with a plain code-unit comparison (locale-independent). */
  list(): KmemCache[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
