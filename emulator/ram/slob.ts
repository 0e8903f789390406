// SLOB, Linux 6.1's mm/slob.c: the allocator tinyconfig builds (and the calibration measured).
//
// Unlike SLUB there are no per-cache slabs. Every object smaller than a page is carved out of
// pages shared by all callers, kept on three lists by request size (below 256 bytes, below
// 1024, the rest) with a first-fit walk inside each page and a next-fit rotation of the list.
// Free blocks hold their own bookkeeping in the freed memory — 16-bit words counted in 2-byte
// units, exactly as slob_t does — so a page's fragmentation is what it would be on the board.
// kmalloc prepends a header with the requested size (8 bytes on i386: ARCH_KMALLOC_MINALIGN is
// __alignof__(unsigned long long)), and aligns a power-of-two request to its own size, which is
// why kmalloc(2048) costs far more than 2 KiB of a page here. A page whose blocks are all free
// again goes straight back to the page allocator.

import { PAGE_SIZE, type PageAllocator, type Gfp } from './page-allocator.js';

/** sizeof(slob_t): slobidx_t is s16 when PAGE_SIZE <= 32767 × 2. */
export const SLOB_UNIT = 2;
export const SLOB_BREAK1 = 256;
export const SLOB_BREAK2 = 1024;
/** max(ARCH_KMALLOC_MINALIGN, arch_slab_minalign()) on i386: __alignof__(unsigned long long). */
export const SLOB_MINALIGN = 8;
const PAGE_UNITS = PAGE_SIZE / SLOB_UNIT;
const PAGE_MASK = ~(PAGE_SIZE - 1);
const NONE = -1;

export function slobUnits(size: number): number {
  return Math.ceil(size / SLOB_UNIT);
}

/** Which of the three partial-page lists a request of size bytes searches. */
function listFor(size: number): number {
  return size < SLOB_BREAK1 ? 0 : size < SLOB_BREAK2 ? 1 : 2;
}

export class SlobHeap {
  /** Free units in each page (sp->units); meaningful while the page is a SLOB page. */
  private readonly units: Int32Array;
  /** Address of the page's first free block (sp->freelist). */
  private readonly freelist: Int32Array;
  /** Which partial list the page is on (0 small, 1 medium, 2 large) or NONE when full. */
  private readonly onList: Int8Array;
  /** Circular doubly linked partial lists threaded through page indexes (sp->slab_list). */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly head = new Int32Array(3).fill(NONE);

  /** SLOB pages held now and at most (the allocator's own footprint, fragmentation included). */
  pages = 0;
  peakPages = 0;
  /** slob_alloc calls that found no page (counted by the caller's kind too). */
  failures = 0;

  /** RAM as signed 16-bit words: slob_t's fields. */
  private readonly s16: Int16Array;

  constructor(private readonly pageAllocator: PageAllocator, bytes: Uint8Array,
              private readonly ownerTag: number) {
    if (bytes.byteOffset % 2 !== 0) throw new Error('SLOB needs RAM at an even host address');
    this.s16 = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 1);
    const n = pageAllocator.nrPages;
    this.units = new Int32Array(n);
    this.freelist = new Int32Array(n).fill(NONE);
    this.onList = new Int8Array(n).fill(NONE);
    this.next = new Int32Array(n).fill(NONE);
    this.prev = new Int32Array(n).fill(NONE);
  }

  /**
   * slob_alloc: size bytes such that (address + alignOffset) is a multiple of align. Returns the
   * address, or 0 when a new page was needed and none could be had.
   */
  alloc(size: number, align: number, alignOffset: number, gfp: Gfp): number {
    const want = slobUnits(size);
    const list = listFor(size);
    const first = this.head[list]!;
    if (first !== NONE) {
      let page = first;
      do {
        const nextPage = this.next[page]!;
        if (this.units[page]! >= want) {
          const b = this.pageAlloc(page, want, align, alignOffset);
          if (b !== 0) {
            // Next fit (Knuth vol 1, 2.5): the next search starts at this page, if it is still
            // on the list (a page the allocation filled has left it).
            if (this.onList[page] === list) this.head[list] = page;
            return b;
          }
        }
        page = nextPage;
      } while (page !== this.head[list] && page !== NONE);
    }
    const base = this.pageAllocator.allocPages(0, this.ownerTag, gfp);
    if (base === 0) {
      this.failures++;
      return 0;
    }
    if (++this.pages > this.peakPages) this.peakPages = this.pages;
    const page = base / PAGE_SIZE;
    this.units[page] = PAGE_UNITS;
    this.freelist[page] = base;
    this.setBlock(base, PAGE_UNITS, base + PAGE_SIZE);
    this.listAdd(page, list);
    return this.pageAlloc(page, want, align, alignOffset);
  }

  /** slob_free: give back a block of size bytes at addr (size as it was allocated). */
  free(addr: number, size: number): void {
    const page = addr >>> 12;
    let units = slobUnits(size);
    if (this.units[page]! + units === PAGE_UNITS) {
      // Every block of the page is free again: straight back to the page allocator.
      if (this.onList[page] !== NONE) this.listDel(page);
      this.freelist[page] = NONE;
      this.units[page] = 0;
      this.pageAllocator.freePages(page * PAGE_SIZE);
      this.pages--;
      return;
    }
    if (this.onList[page] === NONE) {
      // The page was full and becomes partially free; it joins the list this block's size
      // belongs to, whatever list it was filled from.
      this.units[page] = units;
      this.freelist[page] = addr;
      this.setBlock(addr, units, (addr + PAGE_SIZE) & PAGE_MASK);
      this.listAdd(page, listFor(size));
      return;
    }
    this.units[page]! += units;
    const head = this.freelist[page]!;
    if (addr < head) {
      // Before the first free block: merge with it when they touch.
      let nextFree = head;
      if (addr + units * SLOB_UNIT === head) {
        units += this.blockUnits(head);
        nextFree = this.blockNext(head);
      }
      this.setBlock(addr, units, nextFree);
      this.freelist[page] = addr;
      return;
    }
    // Address-ordered insertion, merging with the neighbours on either side.
    let prev = head;
    let nextFree = this.blockNext(prev);
    while (addr > nextFree) {
      prev = nextFree;
      nextFree = this.blockNext(prev);
    }
    if (!this.isLast(prev) && addr + units * SLOB_UNIT === nextFree) {
      units += this.blockUnits(nextFree);
      this.setBlock(addr, units, this.blockNext(nextFree));
    } else {
      this.setBlock(addr, units, nextFree);
    }
    if (prev + this.blockUnits(prev) * SLOB_UNIT === addr) {
      this.setBlock(prev, this.blockUnits(addr) + this.blockUnits(prev), this.blockNext(addr));
    } else {
      this.setBlock(prev, this.blockUnits(prev), addr);
    }
  }

  /** Free units in the page holding addr (for tests and the timeline). */
  freeUnitsOf(addr: number): number {
    return this.units[addr >>> 12]!;
  }

  /** slob_page_alloc: first fit inside one page; 0 when no block there is big enough. */
  private pageAlloc(page: number, units: number, align: number, alignOffset: number): number {
    let prev = NONE;
    let cur = this.freelist[page]!;
    for (;;) {
      let avail = this.blockUnits(cur);
      const aligned = align ? Math.ceil((cur + alignOffset) / align) * align - alignOffset : cur;
      const delta = (aligned - cur) / SLOB_UNIT;
      if (avail >= units + delta) {
        if (delta) {
          // Split off the head so the block starts aligned; the head stays a free block.
          const after = this.blockNext(cur);
          this.setBlock(aligned, avail - delta, after);
          this.setBlock(cur, delta, aligned);
          prev = cur;
          cur = aligned;
          avail = this.blockUnits(cur);
        }
        const after = this.blockNext(cur);
        if (avail === units) {
          if (prev !== NONE) this.setBlock(prev, this.blockUnits(prev), after);
          else this.freelist[page] = after;
        } else {
          const rest = cur + units * SLOB_UNIT;
          if (prev !== NONE) this.setBlock(prev, this.blockUnits(prev), rest);
          else this.freelist[page] = rest;
          this.setBlock(rest, avail - units, after);
        }
        this.units[page]! -= units;
        if (this.units[page] === 0) this.listDel(page);
        return cur;
      }
      if (this.isLast(cur)) return 0;
      prev = cur;
      cur = this.blockNext(cur);
    }
  }

  // slob_t in RAM: a free block of one unit holds −(offset of the next block); a longer one
  // holds its size in units, then the offset of the next block, both s16 little-endian.

  // Block addresses are whole 2-byte units, so each s16 is one element of a 16-bit view of RAM
  // (host order, little-endian like i386: the bytes in RAM are the same).
  private readS16(addr: number): number {
    return this.s16[addr >>> 1]!;
  }

  private writeS16(addr: number, v: number): void {
    this.s16[addr >>> 1] = v;
  }

  private setBlock(addr: number, units: number, nextAddr: number): void {
    const offset = (nextAddr - (addr & PAGE_MASK)) / SLOB_UNIT;
    if (units > 1) {
      this.writeS16(addr, units);
      this.writeS16(addr + SLOB_UNIT, offset);
    } else {
      this.writeS16(addr, -offset);
    }
  }

  private blockUnits(addr: number): number {
    const v = this.readS16(addr);
    return v > 0 ? v : 1;
  }

  private blockNext(addr: number): number {
    const v = this.readS16(addr);
    const offset = v < 0 ? -v : this.readS16(addr + SLOB_UNIT);
    return (addr & PAGE_MASK) + offset * SLOB_UNIT;
  }

  /** slob_last: the next block is the end of the page. */
  private isLast(addr: number): boolean {
    return (this.blockNext(addr) & (PAGE_SIZE - 1)) === 0;
  }

  /** list_add: the page becomes the list's first. */
  private listAdd(page: number, list: number): void {
    const first = this.head[list]!;
    if (first === NONE) {
      this.next[page] = page;
      this.prev[page] = page;
    } else {
      const last = this.prev[first]!;
      this.next[page] = first;
      this.prev[page] = last;
      this.next[last] = page;
      this.prev[first] = page;
    }
    this.head[list] = page;
    this.onList[page] = list;
  }

  private listDel(page: number): void {
    const list = this.onList[page]!;
    const n = this.next[page]!;
    const p = this.prev[page]!;
    if (n === page) {
      this.head[list] = NONE;
    } else {
      this.next[p] = n;
      this.prev[n] = p;
      if (this.head[list] === page) this.head[list] = n;
    }
    this.next[page] = NONE;
    this.prev[page] = NONE;
    this.onList[page] = NONE;
  }
}
