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
import { SlobHeap } from './slob.js';
import { SlobCache, SlobKmalloc } from './slob-caches.js';
import { FaultHook, type FailSlab } from './fail-slab.js';
import { giveBackRamBuffer, takeRamBuffer } from './ram-pool.js';

/**
 * The slab allocator the kernel was built with (Linux 6.1's "Choose SLAB allocator"): SLOB is
 * what tinyconfig selects and what the calibration kernels were built with; SLUB is Linux's
 * default elsewhere.
 */
export type SlabAllocator = 'slob' | 'slub';

/** Owner tag of SLOB's shared pages in the page allocator (SLUB caches use their own ids). */
export const PAGE_SLOB = -4;

/** What the stack sees of a cache, whichever allocator backs it. */
export type BoardCache = KmemCache | SlobCache;

/** A kind of object RAM is grouped by: a cache, or on SLOB a kmalloc size class. */
export interface RamKind {
  readonly name: string;
  readonly objectSize: number;
  readonly failures: number;
  readonly throttled: number;
  /** Bytes the kind holds now (its slabs' pages on SLUB; its live objects on SLOB). */
  readonly heldBytes: number;
}

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
  /** The failslab attribute every allocator of this board consults (none until injectFaults). */
  private readonly faults = new FaultHook();
  /** Set when the board boots a SLOB kernel (startAllocator('slob')). */
  private slob: { heap: SlobHeap; kmalloc: SlobKmalloc; caches: Map<string, SlobCache> } | null = null;
  private readonly regions: Region[] = [];
  private readonly regionByName = new Map<string, Region>();
  /** Next free byte for reserve(): always page-aligned. */
  private cursor = 0;
  private started = false;
  private disposed = false;

  constructor(sizeBytes: number) {
    // Board files are validated (with a one-line error) before we get here; a bad size at this
    // point is a bug, so throwing is right.
    if (!Number.isInteger(sizeBytes) || sizeBytes < 2 * PAGE_SIZE || sizeBytes % PAGE_SIZE !== 0) {
      throw new RangeError(`board RAM: size ${sizeBytes} is not a whole number of pages (>= 2)`);
    }
    this.bytes = takeRamBuffer(sizeBytes);
    this.pages = new PageAllocator(sizeBytes >>> PAGE_SHIFT);
    this.caches = new SlabCaches(this.pages, this.bytes, this.faults);
    this.kmallocator = new Kmalloc(this.pages, this.caches, this.bytes, this.faults);
  }

  get size(): number {
    return this.bytes.length;
  }

  /**
   * The parts of the buffer anything can have written, as [start, end) byte ranges: boot's
   * reservations (below the reserve cursor) and every page the allocator has handed out.
   * Everything else still reads as at boot.
   */
  dirtyRanges(): [number, number][] {
    const pages = this.pages.everAllocatedRuns().map(([first, end]): [number, number] => [first << PAGE_SHIFT, end << PAGE_SHIFT]);
    return [[0, this.cursor], ...pages];
  }

  /**
   * The run that owned this board is over: its buffer goes back to the process's pool for the
   * next board of this size. Nothing may read or write the board's RAM afterwards.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    giveBackRamBuffer(this.bytes, this.dirtyRanges());
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

  /**
   * Hand every page outside live reservations to the page allocator and start the slab
   * allocator the kernel was built with. Call once, after boot's reservations.
   */
  startAllocator(allocator: SlabAllocator): void {
    if (this.started) throw new Error('startAllocator: already started');
    this.started = true;
    if (allocator === 'slob') {
      const heap = new SlobHeap(this.pages, this.bytes, PAGE_SLOB);
      this.slob = { heap, kmalloc: new SlobKmalloc(heap, this.pages, this.bytes, PAGE_SLOB, this.faults), caches: new Map() };
    }
    for (const r of this.regions) {
      if (r.released) this.pages.online(r.start >>> PAGE_SHIFT, r.pages);
    }
    const first = this.cursor >>> PAGE_SHIFT;
    this.pages.online(first, this.pages.nrPages - first);
    this.pages.reservePages = Math.floor((minFreeKbytes(this.pages.free * (PAGE_SIZE / 1024)) * 1024) / PAGE_SIZE);
  }

  /** Arm failslab-style injection on every slab and kmalloc allocation from now on (null: disarm). */
  injectFaults(attr: FailSlab | null): void {
    this.faults.attr = attr;
  }

  /** The armed fault attribute, with its counts by site. */
  get faultAttr(): FailSlab | null {
    return this.faults.attr;
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
  createCache(name: string, objectSize: number, align = 8): BoardCache {
    if (name === KMALLOC_LARGE) throw new Error(`createCache: '${name}' is reserved`);
    if (this.slob) {
      if (name.length === 0 || this.slob.caches.has(name) || /^kmalloc-/.test(name)) {
        throw new Error(`kmem_cache_create: cache name '${name}' is empty or already used`);
      }
      const c = new SlobCache(name, objectSize, align, this.slob.heap, this.pages, this.bytes, this.faults);
      this.slob.caches.set(name, c);
      return c;
    }
    return this.caches.create(name, objectSize, align);
  }

  cache(name: string): BoardCache | undefined {
    return this.slob ? this.slob.caches.get(name) : this.caches.get(name);
  }

  /** The named caches (not the kmalloc classes), sorted by name. */
  cacheList(): BoardCache[] {
    const list: BoardCache[] = this.slob ? [...this.slob.caches.values()] : this.caches.list();
    return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The kinds RAM is grouped by, sorted by name: the caches (with SLUB's kmalloc classes), or on
   * SLOB the caches and the kmalloc size classes. The objects are live: read them any time.
   */
  ramKinds(): RamKind[] {
    const list: RamKind[] = this.slob ? [...this.slob.caches.values(), ...this.slob.kmalloc.kinds] : this.caches.list();
    return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Which slab allocator the board booted with. */
  get allocator(): SlabAllocator {
    return this.slob ? 'slob' : 'slub';
  }

  /**
   * Bytes held by live kernel objects: every object in use at its slot size (on SLOB with its
   * header), large kmallocs whole, and pages allocated directly (packet rings, DMA buffers).
   * Unlike pages in use this does not move with slab fragmentation, so it is what a leak shows in.
   */
  liveObjectBytes(): number {
    let sum = 0;
    for (const c of this.slabinfo()) {
      sum += this.slob ? c.heldBytes : c.objectSize > 0 ? c.active * c.objectSize : c.pages * PAGE_SIZE;
    }
    return sum + (this.usage().usedBytes - this.slabPages() * PAGE_SIZE);
  }

  /**
   * Pages the slab layer holds: SLUB's slabs, or SLOB's shared pages, plus the whole-page blocks
   * of kmalloc-large and page-sized cache objects. The rest of the pages in use were taken from
   * the page allocator directly (packet rings, DMA buffers).
   */
  slabPages(): number {
    let pages = this.slob ? this.slob.heap.pages : 0;
    for (const c of this.slabinfo()) pages += c.pages;
    return pages;
  }

  /** kmem_cache_shrink on every cache (each /sys/kernel/slab/NAME/shrink); pages freed, 0 on SLOB. */
  shrinkCaches(): number {
    if (this.slob) return 0;
    let freed = 0;
    for (const c of this.caches.list()) freed += c.shrink();
    return freed;
  }

  /**
   * SLUB only: bytes of the empty slabs caches keep on their partial lists (min_partial). They
   * count in pages in use but hold no live object; 0 on SLOB.
   */
  emptySlabBytes(): number {
    let sum = 0;
    for (const c of this.slabinfo()) sum += c.emptySlabs * c.pagesPerSlab * PAGE_SIZE;
    return sum;
  }

  /** SLOB only: the shared pages' bytes no live object takes (its free fragments); 0 on SLUB. */
  slobFreeBytes(): number {
    if (!this.slob) return 0;
    let live = 0;
    for (const c of this.slob.caches.values()) live += c.heldBytes;
    for (const k of this.slob.kmalloc.stats()) if (k.name !== KMALLOC_LARGE) live += k.heldBytes;
    return this.slob.heap.pages * PAGE_SIZE - live;
  }

  /** Zeroed allocation of size bytes; 0 when RAM is exhausted (counted). */
  kmalloc(size: number, gfp: Gfp = 'atomic'): number {
    return this.slob ? this.slob.kmalloc.kmalloc(size, gfp) : this.kmallocator.kmalloc(size, gfp);
  }

  kfree(addr: number): void {
    if (this.slob) this.slob.kmalloc.kfree(addr);
    else this.kmallocator.kfree(addr);
  }

  ksize(addr: number): number {
    return this.slob ? this.slob.kmalloc.ksize(addr) : this.kmallocator.ksize(addr);
  }

  /** kmalloc-large requests held back at the min_free watermark (read by the timeline). */
  get largeThrottled(): number {
    return this.slob ? this.slob.kmalloc.largeThrottled : this.kmallocator.largeThrottled;
  }

  /**
   * Every cache plus kmalloc's classes and kmalloc-large, sorted by name (code-unit order:
   * deterministic). On SLOB the kmalloc classes are kinds of request, not caches.
   */
  slabinfo(): CacheStats[] {
    const lines = this.slob
      ? [...[...this.slob.caches.values()].map((c) => c.stats()), ...this.slob.kmalloc.stats()]
      : [...this.caches.list().map((c) => c.stats()), this.kmallocator.largeStats()];
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
