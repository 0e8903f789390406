// The page allocator: Linux's buddy allocator over the board's 4 KiB pages.
//
// Every page of RAM has a slot here, but a page only becomes allocatable once boot "onlines" it
// (everything the kernel image and boot reservations do not occupy, plus .init sections freed
// after boot). Blocks are 2^order contiguous pages aligned to their size, so a freed block
// finds its buddy by XOR and merges in O(MAX_ORDER): alloc and free are O(1) amortised with no
// scan over RAM, which matters when a bulk transfer churns millions of skbs.
//
// All state lives in typed arrays indexed by page number (Linux's mem_map); free lists are
// LIFO doubly linked lists threaded through those arrays, so the result of any sequence of
// calls depends only on that sequence — never on object identity or wall time.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** Largest block order (Linux 6.1: MAX_ORDER 11, orders 0..10, i.e. 4 MiB blocks). */
export const MAX_ORDER = 10;

/** Owner tags of a page. Values >= 1 are slab cache ids (see SlabCaches). */
export const PAGE_FREE = 0;
/** Not managed by the allocator: kernel image, boot reservations, page 0 (NULL). */
export const PAGE_RESERVED = -1;
/**
 * Where an allocation is made from: 'atomic' (softirq, GFP_ATOMIC: may use the reserve) or
 * 'kernel' (a process in a system call, GFP_KERNEL: stops at the min watermark).
 */
export type Gfp = 'atomic' | 'kernel';

/** Allocated with allocPages() and no particular owner (e.g. a driver's DMA ring). */
export const PAGE_ANON = -2;
/** Backing a kmalloc() too large for the kmalloc-8k cache. */
export const PAGE_KMALLOC_LARGE = -3;

const NONE = -1;

export interface PageStats {
  /** Pages managed by the allocator (onlined). */
  total: number;
  free: number;
  used: number;
  peakUsed: number;
  /** allocPages() calls that returned 0. */
  failures: number;
  allocs: number;
  frees: number;
}

export class PageAllocator {
  readonly nrPages: number;

  /** Per page: PAGE_FREE, PAGE_RESERVED, PAGE_ANON, PAGE_KMALLOC_LARGE or a cache id. */
  private readonly owner: Int32Array;
  /** Per page: order of the block headed by this page (free or allocated), -1 if not a head. */
  private readonly blockOrder: Int8Array;
  /** Per page: 1 if this page heads a block that sits on a free list. */
  private readonly onFreeList: Uint8Array;
  /** Free-list links, meaningful only for free block heads. */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Head page of each order's free list, or NONE. */
  private readonly freeHead: Int32Array;

  private totalPages = 0;
  private freeCount = 0;
  private usedCount = 0;
  private peakUsedCount = 0;
  private failureCount = 0;
  private allocCount = 0;
  private freeCallCount = 0;
  /** Per page: 1 once allocPages() has handed it out, ever (what a run can have written). */
  private readonly everAllocated: Uint8Array;

  constructor(nrPages: number) {
    if (!Number.isInteger(nrPages) || nrPages < 1) {
      throw new RangeError(`page allocator: bad page count ${nrPages}`);
    }
    this.nrPages = nrPages;
    this.everAllocated = new Uint8Array(nrPages);
    this.owner = new Int32Array(nrPages).fill(PAGE_RESERVED);
    this.blockOrder = new Int8Array(nrPages).fill(-1);
    this.onFreeList = new Uint8Array(nrPages);
    this.next = new Int32Array(nrPages).fill(NONE);
    this.prev = new Int32Array(nrPages).fill(NONE);
    this.freeHead = new Int32Array(MAX_ORDER + 1).fill(NONE);
  }

  get total(): number { return this.totalPages; }
  get free(): number { return this.freeCount; }
  get used(): number { return this.usedCount; }
  get peakUsed(): number { return this.peakUsedCount; }
  get failures(): number { return this.failureCount; }
  /** The runs of pages allocPages() has ever handed out, as [first, end) page numbers in address order. */
  everAllocatedRuns(): [number, number][] {
    const runs: [number, number][] = [];
    const a = this.everAllocated;
    for (let p = a.indexOf(1); p !== -1; ) {
      let end = a.indexOf(0, p);
      if (end === -1) end = a.length;
      runs.push([p, end]);
      p = a.indexOf(1, end);
    }
    return runs;
  }

  stats(): PageStats {
    return {
      total: this.totalPages,
      free: this.freeCount,
      used: this.usedCount,
      peakUsed: this.peakUsedCount,
      failures: this.failureCount,
      allocs: this.allocCount,
      frees: this.freeCallCount,
    };
  }

  /**
   * Hand reserved pages [firstPage, firstPage+count) to the allocator (boot's memblock_free_all,
   * or free_initmem after boot). Page 0 is skipped: address 0 is NULL, so it must never be
   * handed out. Returns the number of pages actually onlined.
   */
  online(firstPage: number, count: number): number {
    if (!Number.isInteger(firstPage) || !Number.isInteger(count) || firstPage < 0 || count < 0
        || firstPage + count > this.nrPages) {
      throw new RangeError(`page allocator: bad range ${firstPage}+${count}`);
    }
    // Freed in the largest aligned blocks that fit, as memblock_free_all's __free_pages_memory
    // does, instead of page by page (16384 merges for the lab host's 64 MiB). The free lists come
    // out the same: either way a surviving block is linked when its last page is freed, and
    // pages are freed in address order, so each list holds the same blocks in the same order.
    const end = firstPage + count;
    let onlined = 0;
    for (let p = firstPage === 0 ? 1 : firstPage; p < end; ) {
      let order = Math.min(MAX_ORDER, 31 - Math.clz32(p & -p));
      while (p + (1 << order) > end) order--;
      const n = 1 << order;
      for (let q = p; q < p + n; q++) {
        // Onlining a page twice would corrupt the free lists: a bug in boot, not in input.
        if (this.owner[q] !== PAGE_RESERVED) throw new Error(`page allocator: page ${q} is already online`);
      }
      this.owner.fill(PAGE_FREE, p, p + n);
      this.totalPages += n;
      this.freeCount += n;
      this.freeBlock(p, order);
      onlined += n;
      p += n;
    }
    return onlined;
  }

  /**
   * Allocate 2^order contiguous pages. Returns the byte address of the first page, or 0 when no
   * block is free (counted in failures; never throws for lack of memory).
   */
  /**
   * Pages that process-context allocations (GFP_KERNEL) leave alone: vm.min_free_kbytes'
   * min watermark. Softirq allocations (GFP_ATOMIC: receive rings, skbs for arriving packets)
   * may use them, which is what keeps a board that is out of memory able to receive the ACKs
   * that free it. 0 until the board sets it.
   */
  reservePages = 0;

  /**
   * GFP_KERNEL requests refused at the watermark. They are not failures: in Linux the process
   * would sleep in reclaim; quarklab's callers wait and retry (sk_stream_wait_memory).
   */
  throttled = 0;
  /** The last refusal was the watermark, not exhaustion (read by the slab layer's counters). */
  lastRefusalThrottled = false;

  allocPages(order: number, ownerTag: number = PAGE_ANON, gfp: Gfp = 'atomic'): number {
    this.lastRefusalThrottled = false;
    if (gfp === 'kernel' && this.free - (1 << order) < this.reservePages) {
      this.throttled++;
      this.lastRefusalThrottled = true;
      return 0;
    }
    if (!Number.isInteger(order) || order < 0) {
      throw new RangeError(`allocPages: bad order ${order}`);
    }
    if (ownerTag === PAGE_FREE || ownerTag === PAGE_RESERVED || !Number.isInteger(ownerTag)) {
      throw new RangeError(`allocPages: bad owner tag ${ownerTag}`);
    }
    if (order > MAX_ORDER) {
      this.failureCount++;
      return 0;
    }
    let o = order;
    while (o <= MAX_ORDER && this.freeHead[o] === NONE) o++;
    if (o > MAX_ORDER) {
      this.failureCount++;
      return 0;
    }
    const page = this.freeHead[o]!;
    this.unlink(page, o);
    // Split: keep the lower half, put upper halves back, so a fresh allocator hands out
    // ascending addresses.
    while (o > order) {
      o--;
      this.link(page + (1 << o), o);
    }
    const n = 1 << order;
    this.blockOrder[page] = order;
    this.owner.fill(ownerTag, page, page + n);
    this.freeCount -= n;
    this.usedCount += n;
    if (this.usedCount > this.peakUsedCount) this.peakUsedCount = this.usedCount;
    this.allocCount++;
    if (n === 1) this.everAllocated[page] = 1;
    else this.everAllocated.fill(1, page, page + n);
    return page << PAGE_SHIFT;
  }

  /**
   * Free a block returned by allocPages(). Returns the number of pages freed. Freeing anything
   * else is a bug in our own code (not something input can cause), so it throws.
   */
  freePages(addr: number): number {
    const page = this.pageOf(addr);
    const order = this.blockOrder[page]!;
    const tag = this.owner[page];
    if ((addr & (PAGE_SIZE - 1)) !== 0 || order < 0 || this.onFreeList[page] === 1
        || tag === PAGE_FREE || tag === PAGE_RESERVED) {
      throw new Error(`freePages: 0x${addr.toString(16)} is not an allocated block`);
    }
    const n = 1 << order;
    this.owner.fill(PAGE_FREE, page, page + n);
    this.blockOrder[page] = -1;
    this.usedCount -= n;
    this.freeCount += n;
    this.freeCallCount++;
    this.freeBlock(page, order);
    return n;
  }

  /** Owner tag of the page holding addr. */
  ownerOf(addr: number): number {
    return this.owner[this.pageOf(addr)]!;
  }

  /** Order of the allocated block headed at addr, or -1 if addr is not an allocated block head. */
  orderOf(addr: number): number {
    const page = this.pageOf(addr);
    if ((addr & (PAGE_SIZE - 1)) !== 0 || this.onFreeList[page] === 1) return -1;
    return this.blockOrder[page]!;
  }

  /** Number of free blocks of each order (like /proc/buddyinfo). */
  buddyinfo(): number[] {
    const counts: number[] = [];
    for (let o = 0; o <= MAX_ORDER; o++) {
      let c = 0;
      for (let p = this.freeHead[o]!; p !== NONE; p = this.next[p]!) c++;
      counts.push(c);
    }
    return counts;
  }

  private pageOf(addr: number): number {
    if (!Number.isInteger(addr) || addr < 0 || addr >= this.nrPages * PAGE_SIZE) {
      throw new RangeError(`page allocator: address 0x${addr.toString(16)} out of RAM`);
    }
    return addr >>> PAGE_SHIFT;
  }

  /** Put a free block on its list, merging with its buddy while the buddy is free and whole. */
  private freeBlock(page: number, order: number): void {
    while (order < MAX_ORDER) {
      const buddy = page ^ (1 << order);
      if (buddy + (1 << order) > this.nrPages) break;
      if (this.onFreeList[buddy] !== 1 || this.blockOrder[buddy] !== order) break;
      this.unlink(buddy, order);
      if (buddy < page) page = buddy;
      order++;
    }
    this.link(page, order);
  }

  private link(page: number, order: number): void {
    const head = this.freeHead[order]!;
    this.next[page] = head;
    this.prev[page] = NONE;
    if (head !== NONE) this.prev[head] = page;
    this.freeHead[order] = page;
    this.blockOrder[page] = order;
    this.onFreeList[page] = 1;
  }

  private unlink(page: number, order: number): void {
    const n = this.next[page]!;
    const p = this.prev[page]!;
    if (p !== NONE) this.next[p] = n;
    else this.freeHead[order] = n;
    if (n !== NONE) this.prev[n] = p;
    this.next[page] = NONE;
    this.prev[page] = NONE;
    this.blockOrder[page] = -1;
    this.onFreeList[page] = 0;
  }
}
