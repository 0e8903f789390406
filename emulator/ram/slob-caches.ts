// kmem_cache and kmalloc on SLOB (mm/slob.c's slob_alloc_node, __do_kmalloc_node, kfree).
//
// SLOB keeps no per-cache slabs: every cache and every kmalloc size carves the same shared
// pages. The report still groups RAM by the kind of object the code asked for — the cache name,
// or for kmalloc the size class SLUB would have used — counting the bytes each kind's live
// objects take out of those pages (header and rounding included). What the pages hold beyond
// that is SLOB's free fragments, reported as their own line.

import { PAGE_KMALLOC_LARGE, PAGE_SIZE, type Gfp, type PageAllocator } from './page-allocator.js';
import { kmallocCacheName, kmallocIndex, KMALLOC_SIZES, KMALLOC_LARGE, orderForSize } from './kmalloc.js';
import type { CacheStats } from './slab.js';
import type { FaultHook } from './fail-slab.js';
import { SLOB_MINALIGN, SLOB_UNIT, slobUnits, type SlobHeap } from './slob.js';

/** Live and peak figures of one kind of object on SLOB (a RamKind for the timeline). */
class KindCounters {
  constructor(readonly name: string, readonly objectSize: number) {}
  active = 0;
  peakActive = 0;
  bytes = 0;
  peakBytes = 0;
  allocs = 0;
  frees = 0;
  failures = 0;
  throttled = 0;

  taken(bytes: number): void {
    this.allocs++;
    if (++this.active > this.peakActive) this.peakActive = this.active;
    this.bytes += bytes;
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
  }

  given(bytes: number): void {
    this.frees++;
    this.active--;
    this.bytes -= bytes;
  }

  get heldBytes(): number { return this.bytes; }

  stats(): CacheStats {
    const { name, objectSize } = this;
    return {
      name, objectSize, objectsPerSlab: 0, pagesPerSlab: 0,
      active: this.active, peakActive: this.peakActive, totalObjects: this.active,
      slabs: 0, emptySlabs: 0, pages: 0, peakPages: 0,
      heldBytes: this.bytes, peakHeldBytes: this.peakBytes,
      failures: this.failures, allocs: this.allocs, frees: this.frees,
    };
  }
}

/** A kmem_cache on SLOB: objects of c->size (the request rounded to 2-byte units). */
export class SlobCache {
  readonly name: string;
  readonly requestedSize: number;
  /** c->size: SLOB_UNITS(size) × SLOB_UNIT. */
  readonly objectSize: number;
  /** calculate_alignment: at least ARCH_SLAB_MINALIGN, a multiple of sizeof(void *). */
  readonly align: number;
  private readonly counters: KindCounters;
  /** Pages held by objects of a page or more, which SLOB takes straight from the page allocator. */
  private pagesHeld = 0;
  private peakPagesHeld = 0;

  constructor(name: string, size: number, align: number, private readonly heap: SlobHeap,
              private readonly pages: PageAllocator, private readonly bytes: Uint8Array,
              private readonly faults: FaultHook) {
    this.name = name;
    this.requestedSize = size;
    this.objectSize = slobUnits(size) * SLOB_UNIT;
    this.align = Math.max(align, SLOB_MINALIGN);
    this.counters = new KindCounters(name, this.objectSize);
  }

  get active(): number { return this.counters.active; }
  get failures(): number { return this.counters.failures; }
  get throttled(): number { return this.counters.throttled; }
  /** Bytes of RAM this cache's live objects take now. */
  get heldBytes(): number { return this.counters.bytes; }

  alloc(gfp: Gfp = 'atomic'): number {
    const fault = this.faults.attr;
    if (fault !== null && fault.shouldFail(this.name)) return 0;
    const addr = this.objectSize < PAGE_SIZE
      ? this.heap.alloc(this.objectSize, this.align, 0, gfp)
      : this.pages.allocPages(orderForSize(this.objectSize), PAGE_KMALLOC_LARGE, gfp);
    if (addr === 0) {
      if (this.pages.lastRefusalThrottled) this.counters.throttled++;
      else this.counters.failures++;
      return 0;
    }
    this.bytes.fill(0, addr, addr + this.objectSize);
    this.counters.taken(this.objectSize);
    if (this.objectSize >= PAGE_SIZE) {
      this.pagesHeld += 1 << orderForSize(this.objectSize);
      if (this.pagesHeld > this.peakPagesHeld) this.peakPagesHeld = this.pagesHeld;
    }
    return addr;
  }

  free(addr: number): void {
    if (this.objectSize < PAGE_SIZE) this.heap.free(addr, this.objectSize);
    else this.pagesHeld -= this.pages.freePages(addr);
    this.counters.given(this.objectSize);
  }

  stats(): CacheStats {
    const s = this.counters.stats();
    s.pages = this.pagesHeld;
    s.peakPages = this.peakPagesHeld;
    return s;
  }
}

/**
 * kmalloc on SLOB: below PAGE_SIZE − 8 bytes a block of size + 8 from the shared pages, its
 * first word the requested size; larger requests take whole pages, as kmalloc-large does.
 */
export class SlobKmalloc {
  /** One kind per SLUB size class, so the report still says "kmalloc-2k" for skb data. */
  readonly kinds = KMALLOC_SIZES.map((size) => new KindCounters(kmallocCacheName(size), 0));
  private readonly large = new KindCounters(KMALLOC_LARGE, 0);
  private largePages = 0;
  private largePeakPages = 0;
  largeThrottled = 0;

  constructor(private readonly heap: SlobHeap, private readonly pages: PageAllocator,
              private readonly bytes: Uint8Array, private readonly slobTag: number,
              private readonly faults: FaultHook) {}

  kmalloc(size: number, gfp: Gfp = 'atomic'): number {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`kmalloc: bad size ${size}`);
    const fault = this.faults.attr;
    if (size < PAGE_SIZE - SLOB_MINALIGN) {
      const kind = this.kinds[kmallocIndex(size)]!;
      if (fault !== null && fault.shouldFail(kind.name)) return 0;
      // A power-of-two request is aligned to its own size (after the header).
      const align = (size & (size - 1)) === 0 ? Math.max(SLOB_MINALIGN, size) : SLOB_MINALIGN;
      const m = this.heap.alloc(size + SLOB_MINALIGN, align, SLOB_MINALIGN, gfp);
      if (m === 0) {
        if (this.pages.lastRefusalThrottled) kind.throttled++;
        else kind.failures++;
        return 0;
      }
      this.writeU32(m, size);
      this.bytes.fill(0, m + SLOB_MINALIGN, m + SLOB_MINALIGN + size);
      kind.taken(slobUnits(size + SLOB_MINALIGN) * SLOB_UNIT);
      return m + SLOB_MINALIGN;
    }
    if (fault !== null && fault.shouldFail(KMALLOC_LARGE)) return 0;
    const order = orderForSize(size);
    const addr = this.pages.allocPages(order, PAGE_KMALLOC_LARGE, gfp);
    if (addr === 0) {
      this.large.failures++;
      if (this.pages.lastRefusalThrottled) this.largeThrottled++;
      return 0;
    }
    const n = 1 << order;
    this.bytes.fill(0, addr, addr + n * PAGE_SIZE);
    this.large.taken(n * PAGE_SIZE);
    this.largePages += n;
    if (this.largePages > this.largePeakPages) this.largePeakPages = this.largePages;
    return addr;
  }

  /** kfree: the page says whether it is a SLOB page (read the header) or a large block. */
  kfree(addr: number): void {
    if (addr === 0) return;
    const tag = this.pages.ownerOf(addr);
    if (tag === PAGE_KMALLOC_LARGE) {
      if (this.pages.orderOf(addr) < 0) throw new Error(`kfree: 0x${addr.toString(16)} is inside a large allocation, not its start`);
      const n = this.pages.freePages(addr);
      this.large.given(n * PAGE_SIZE);
      this.largePages -= n;
      return;
    }
    if (tag !== this.slobTag || addr % SLOB_MINALIGN !== 0) throw new Error(`kfree: 0x${addr.toString(16)} was not allocated by kmalloc`);
    const m = addr - SLOB_MINALIGN;
    const size = this.readU32(m);
    if (size < 1 || size >= PAGE_SIZE - SLOB_MINALIGN) throw new Error(`kfree: 0x${addr.toString(16)} has no kmalloc header (size ${size})`);
    this.heap.free(m, size + SLOB_MINALIGN);
    this.kinds[kmallocIndex(size)]!.given(slobUnits(size + SLOB_MINALIGN) * SLOB_UNIT);
  }

  /** __ksize: the header's size in whole units, or the large block. */
  ksize(addr: number): number {
    if (this.pages.ownerOf(addr) === PAGE_KMALLOC_LARGE) return PAGE_SIZE << this.pages.orderOf(addr);
    return slobUnits(this.readU32(addr - SLOB_MINALIGN)) * SLOB_UNIT;
  }

  stats(): CacheStats[] {
    const out = this.kinds.map((k) => k.stats());
    const large = this.large.stats();
    large.pages = this.largePages;
    large.peakPages = this.largePeakPages;
    out.push(large);
    return out;
  }

  private writeU32(addr: number, v: number): void {
    this.bytes[addr] = v & 0xff;
    this.bytes[addr + 1] = (v >>> 8) & 0xff;
    this.bytes[addr + 2] = (v >>> 16) & 0xff;
    this.bytes[addr + 3] = (v >>> 24) & 0xff;
  }

  private readU32(addr: number): number {
    return (this.bytes[addr]! | (this.bytes[addr + 1]! << 8) | (this.bytes[addr + 2]! << 16) | (this.bytes[addr + 3]! << 24)) >>> 0;
  }
}
