// Board RAM: one buffer of exactly the board's size, the single source of truth for memory
// (docs/architecture.md, invariant 2).
//
// Boot carves the kernel image and other fixed reservations upward from address 0, in page
// units, like memblock. startAllocator() then hands every page not reserved to the page
// allocator (memblock_free_all), and release() returns sections such as .init.text afterwards
// (free_initmem). From then on everything the stack allocates — slab objects, kmalloc buffers,
// DMA rings — comes out of these pages, and can run out.

import {
  PAGE_SHIFT, PAGE_SIZE, PageAllocator, type Gfp } from './page-allocator.js';
import { Kmalloc, KMALLOC_LARGE } from './kmalloc.js';
import { type CacheStats, type KmemCache, SlabCaches } from './slab.js';

export type RegionKind =
  | 'kernel-text' | 'kernel-data' | 'kernel-bss' | 'init' | 'stack-text' | 'stack-data'
  | 'program' | 'dma' | 'other';

/** One boot-time reservation, as in the boot memory map. */
export interface Region {
  name: string;
  kind: RegionKind;
  /** Byte address, page-aligned. */
  start: number;
  /** Bytes requested (the section's size). */
  size: number;
  /** Pages it occupies (size rounded up to whole pages). */
  pages: number;
  /** True once release() gave its pages to the page allocator. */
  released: boolean;
}

export interface RamUsage {
  totalBytes: number;
  /** Pages not managed by the allocator: live reservations, plus page 0 (NULL) if uncovered. */
  reservedBytes: number;
  /** Pages managed by the allocator (after startAllocator, reserved + heap = total). */
  heapBytes: number;
  /** Pages in use: slabs, large kmallocs, page-level allocations. */
  usedBytes: number;
  freeBytes: number;
  peakUsedBytes: number;
}

function pagesFor(size: number): number {
  return Math.ceil(size / PAGE_SIZE);
}

export class BoardRam {
  readonly bytes: Uint8Array;
  readonly pages: PageAllocator;
  readonly caches: SlabCaches;
  private readonly kmallocator: Kmalloc;
  private readonly regions: Region[] = [];
  private readonly regionByName = new Map<string, Region>();
  /** Next free byte for reserve(): always page-aligned. */
  private cursor = 0;
  private started = false;

  constructor(sizeBytes: number) {
    // Board files are validated (with a one-line error) before we get here; a bad size at this
    // point is a bug, so throwing is right.
    if (!Number.isInteger(sizeBytes) || sizeBytes < 2 * PAGE_SIZE || sizeBytes % PAGE_SIZE !== 0) {
      throw new RangeError(`board RAM: size ${sizeBytes} is not a whole number of pages (>= 2)`);
    }
    this.bytes = new Uint8Array(sizeBytes);
    this.pages = new PageAllocator(sizeBytes >>> PAGE_SHIFT);
    this.caches = new SlabCaches(this.pages, this.bytes);
    this.kmallocator = new Kmalloc(this.pages, this.caches, this.bytes);
  }

  get size(): number {
    return this.bytes.length;
  }

  /** True once startAllocator() has run. */
  get allocatorStarted(): boolean {
    return this.started;
  }

  /** Bytes still available to reserve() (page-aligned). */
  get unreserved(): number {
    return this.bytes.length - this.cursor;
  }

  /** Bytes by which reserve(_, size) would not fit now; 0 if it fits. */
  shortfall(size: number): number {
    return Math.max(0, pagesFor(size) * PAGE_SIZE - this.unreserved);
  }

  /**
   * Reserve size bytes (rounded up to whole pages) at the next page boundary. Returns null if it
   * does not fit, so boot can report by how much (shortfall()) — lack of RAM is an outcome, not
   * an exception. Reserving after startAllocator(), a bad size or a duplicate name is a bug in
   * boot code and throws.
   */
  reserve(name: string, size: number, kind: RegionKind): Region | null {
    if (this.started) throw new Error(`reserve(${name}): the page allocator already owns free RAM`);
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`reserve(${name}): bad size ${size}`);
    if (name.length === 0 || this.regionByName.has(name)) {
      throw new Error(`reserve: region name '${name}' is empty or already used`);
    }
    const pages = pagesFor(size);
    if (pages * PAGE_SIZE > this.unreserved) return null;
    const region: Region = { name, kind, start: this.cursor, size, pages, released: false };
    this.cursor += pages * PAGE_SIZE;
    this.regions.push(region);
    this.regionByName.set(name, region);
    return { ...region };
  }

  /**
   * Free a reserved region (e.g. .init.text after boot) to the page allocator. Returns the bytes
   * freed: 0 if already released. Before startAllocator() the pages are only marked, and join
   * the allocator when it starts. An unknown name is a bug in boot code and throws.
   */
  release(name: string): number {
    const region = this.regionByName.get(name);
    if (!region) throw new Error(`release: no region named '${name}'`);
    if (region.released) return 0;
    region.released = true;
    const first = region.start >>> PAGE_SHIFT;
    if (this.started) return this.pages.online(first, region.pages) * PAGE_SIZE;
    // Page 0 stays out of the allocator whatever happens (it is NULL).
    return (region.pages - (first === 0 && region.pages > 0 ? 1 : 0)) * PAGE_SIZE;
  }

  /** Hand every page outside live reservations to the page allocator. Call once, after boot's reservations. */
  startAllocator(): void {
    if (this.started) throw new Error('startAllocator: already started');
    this.started = true;
    for (const r of this.regions) {
      if (r.released) this.pages.online(r.start >>> PAGE_SHIFT, r.pages);
    }
    const first = this.cursor >>> PAGE_SHIFT;
    this.pages.online(first, this.pages.nrPages - first);
    this.pages.reservePages = Math.floor((minFreeKbytes(this.pages.free * (PAGE_SIZE / 1024)) * 1024) / PAGE_SIZE);
  }

  reservePages(): number {
    return this.pages.reservePages;
  }

  /** vm.min_free_kbytes as the board booted with it (the GFP_KERNEL reserve). */
  get minFreeKbytes(): number {
    return (this.pages.reservePages * PAGE_SIZE) / 1024;
  }

  /** The boot memory map, in address order (copies: editing them changes nothing). */
  memoryMap(): Region[] {
    return this.regions.map((r) => ({ ...r }));
  }

  /** kmem_cache_create for a named cache (skbuff_head_cache, TCP, ...), sized from calibration. */
  createCache(name: string, objectSize: number, align = 8): KmemCache {
    if (name === KMALLOC_LARGE) throw new Error(`createCache: '${name}' is reserved`);
    return this.caches.create(name, objectSize, align);
  }

  cache(name: string): KmemCache | undefined {
    return this.caches.get(name);
  }

  /** Zeroed allocation of size bytes; 0 when RAM is exhausted (counted). */
  kmalloc(size: number, gfp: Gfp = 'atomic'): number {
    return this.kmallocator.kmalloc(size, gfp);
  }

  kfree(addr: number): void {
    this.kmallocator.kfree(addr);
  }

  ksize(addr: number): number {
    return this.kmallocator.ksize(addr);
  }

  /** kmalloc-large requests held back at the min_free watermark (read by the timeline). */
  get largeThrottled(): number {
    return this.kmallocator.largeThrottled;
  }

  /** Every cache plus kmalloc-large, sorted by name (code-unit order: deterministic). */
  slabinfo(): CacheStats[] {
    const lines = this.caches.list().map((c) => c.stats());
    lines.push(this.kmallocator.largeStats());
    return lines.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  usage(): RamUsage {
    let reservedPages = 0;
    let pageZeroCovered = false;
    for (const r of this.regions) {
      if (r.released) continue;
      reservedPages += r.pages;
      if (r.start === 0 && r.pages > 0) pageZeroCovered = true;
    }
    if (!pageZeroCovered) reservedPages++;
    const s = this.pages.stats();
    return {
      totalBytes: this.bytes.length,
      reservedBytes: reservedPages * PAGE_SIZE,
      heapBytes: s.total * PAGE_SIZE,
      usedBytes: s.used * PAGE_SIZE,
      freeBytes: s.free * PAGE_SIZE,
      peakUsedBytes: s.peakUsed * PAGE_SIZE,
    };
  }

  /** Pages the page allocator manages now (zone_managed_pages). */
  managedPages(): number {
    return this.pages.stats().total;
  }

  /** Pages free in the page allocator now. */
  freePages(): number {
    return this.pages.free;
  }

  /** A window onto RAM (no copy). Out-of-bounds is a bug in the caller and throws. */
  view(addr: number, len: number): Uint8Array {
    if (!Number.isInteger(addr) || !Number.isInteger(len) || addr < 0 || len < 0
        || addr + len > this.bytes.length) {
      throw new RangeError(`ram.view: [0x${addr.toString(16)}, +${len}) is outside RAM`);
    }
    return this.bytes.subarray(addr, addr + len);
  }
}

/**
 * init_per_zone_wmark_min: min_free_kbytes = sqrt(lowmem_kbytes × 16), clamped to
 * [128, 262144] — on a board with a few hundred KiB of heap the 128 KiB floor is most of it,
 * which is exactly what Linux does there unless vm.min_free_kbytes is tuned down. quarklab
 * caps it at half the heap so a process can allocate at all.
 */
export function minFreeKbytes(heapKbytes: number): number {
  const linux = Math.min(Math.max(Math.floor(Math.sqrt(heapKbytes * 16)), 128), 262144);
  return Math.min(linux, Math.floor(heapKbytes / 2));
}
