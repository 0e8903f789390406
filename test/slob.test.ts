// SLOB as Linux 6.1's mm/slob.c lays objects out. Each expected address and free-unit count is
// worked by hand from slob_alloc/slob_page_alloc/slob_free (2-byte units, 2048 to a 4 KiB page,
// lists split at 256 and 1024 bytes, kmalloc's 8-byte header on i386) and written in the test.
import { describe, expect, it } from 'vitest';
import { PageAllocator, PAGE_SIZE } from '../emulator/ram/page-allocator.js';
import { SlobHeap, SLOB_MINALIGN } from '../emulator/ram/slob.js';
import { Prng } from '../emulator/prng.js';
import { BoardRam } from '../emulator/ram/board-ram.js';

const SLOB_TAG = 7;

function heap(pages = 16) {
  const pa = new PageAllocator(pages);
  pa.online(1, pages - 1); // page 0 is NULL
  const bytes = new Uint8Array(pages * PAGE_SIZE);
  return { pa, bytes, slob: new SlobHeap(pa, bytes, SLOB_TAG) };
}

/** kmalloc under SLOB: size + 8-byte header, aligned so the object (not the header) is. */
function kmalloc(slob: SlobHeap, size: number): number {
  const align = (size & (size - 1)) === 0 ? Math.max(SLOB_MINALIGN, size) : SLOB_MINALIGN;
  const m = slob.alloc(size + SLOB_MINALIGN, align, SLOB_MINALIGN, 'atomic');
  return m === 0 ? 0 : m + SLOB_MINALIGN;
}

describe('SLOB (mm/slob.c)', () => {
  it('carves a fresh page first fit, leaving an alignment fragment free', () => {
    const { pa, slob } = heap();
    const a = slob.alloc(100, 8, 0, 'atomic');
    expect(a % PAGE_SIZE).toBe(0); // the first block of a fresh page
    expect(slob.freeUnitsOf(a)).toBe(2048 - 50);
    // 100 bytes end at +100, which is not 8-aligned: the next object starts at +104 and the
    // 4 bytes between stay a free block of 2 units.
    const b = slob.alloc(100, 8, 0, 'atomic');
    expect(b - a).toBe(104);
    expect(slob.freeUnitsOf(a)).toBe(2048 - 100);
    // A 4-byte object fits the fragment (first fit from the page's first free block).
    expect(slob.alloc(4, 2, 0, 'atomic') - a).toBe(100);
    expect(slob.pages).toBe(1);
    expect(pa.stats().used).toBe(1);
  });

  it("aligns a power-of-two kmalloc to its size, so two kmalloc(2048) take two pages where SLUB's kmalloc-2k takes one", () => {
    const { slob } = heap();
    const x = kmalloc(slob, 2048);
    // m = ALIGN(page + 8, 2048) − 8 = page + 2040; the object is at page + 2048 and ends the page.
    expect(x % PAGE_SIZE).toBe(2048);
    expect(slob.freeUnitsOf(x)).toBe(1020); // the 2040-byte head fragment
    const y = kmalloc(slob, 2048);
    expect(y % PAGE_SIZE).toBe(2048);
    expect(Math.floor(y / PAGE_SIZE)).not.toBe(Math.floor(x / PAGE_SIZE));
    expect(slob.pages).toBe(2);
    // A 1000-byte kmalloc (1008 with its header, medium list) does not search the large list's
    // pages, so it takes a third page even though 2040 bytes are free in each of the first two.
    kmalloc(slob, 1000);
    expect(slob.pages).toBe(3);
  });

  it('frees in address order, merges neighbours, and returns an empty page at once', () => {
    const { pa, slob } = heap();
    const a = slob.alloc(96, 8, 0, 'atomic');
    const b = slob.alloc(96, 8, 0, 'atomic');
    const c = slob.alloc(96, 8, 0, 'atomic');
    expect([b - a, c - a]).toEqual([96, 192]);
    slob.free(b, 96);
    expect(slob.freeUnitsOf(a)).toBe(2048 - 96);
    // A 192-byte request (the same small list) cannot use b's 96-byte hole: first fit puts it
    // after c. Once a is freed it merges with the hole, and the next 192 bytes start at a.
    expect(slob.alloc(192, 8, 0, 'atomic') - a).toBe(288);
    slob.free(a, 96);
    expect(slob.alloc(192, 8, 0, 'atomic')).toBe(a);
    // A 400-byte request searches the medium list, not this page: a second page.
    const d = slob.alloc(400, 8, 0, 'atomic');
    expect(Math.floor(d / PAGE_SIZE)).not.toBe(Math.floor(a / PAGE_SIZE));
    expect(slob.pages).toBe(2);
    for (const [addr, size] of [[a, 192], [c, 96], [a + 288, 192], [d, 400]] as const) slob.free(addr, size);
    expect(slob.pages).toBe(0);
    expect(pa.stats().used).toBe(0);
  });

  it('a page filled from one list and then partly freed joins the list of the freed size', () => {
    const { slob } = heap();
    const big = slob.alloc(PAGE_SIZE, 0, 0, 'atomic'); // the whole page, from the large list
    expect(slob.freeUnitsOf(big)).toBe(0);
    slob.free(big, 4000);
    // 4000 of the page's bytes free again: the page is back on the large list with 2000 units.
    expect(slob.freeUnitsOf(big)).toBe(2000);
    expect(slob.alloc(2000, 8, 0, 'atomic')).toBe(big);
  });

  it('random churn never overlaps live blocks and ends with every page back', () => {
    const { pa, bytes, slob } = heap(64);
    const rng = new Prng(42);
    const live: { addr: number; size: number; fill: number }[] = [];
    for (let step = 0; step < 20_000; step++) {
      if (live.length > 0 && (rng.nextU32() % 3 === 0 || live.length > 300)) {
        const i = rng.nextU32() % live.length;
        const blk = live[i]!;
        // Nobody wrote into this block since it was handed out.
        for (let k = 0; k < blk.size; k++) if (bytes[blk.addr + k] !== blk.fill) throw new Error(`block at ${blk.addr} corrupted at +${k}`);
        slob.free(blk.addr, blk.size);
        live.splice(i, 1);
      } else {
        const size = 1 + (rng.nextU32() % (rng.nextU32() % 4 === 0 ? 3000 : 200));
        const addr = slob.alloc(size, 8, 0, 'atomic');
        if (addr === 0) continue;
        expect(addr % 8).toBe(0);
        expect(Math.floor(addr / PAGE_SIZE)).toBe(Math.floor((addr + size - 1) / PAGE_SIZE));
        const fill = (step % 251) + 1;
        bytes.fill(fill, addr, addr + size);
        live.push({ addr, size, fill });
      }
    }
    for (const blk of live) slob.free(blk.addr, blk.size);
    expect(slob.pages).toBe(0);
    expect(pa.stats().used).toBe(0);
  });
});

describe('board RAM on SLOB', () => {
  function boardRam(allocator: 'slob' | 'slub') {
    const ram = new BoardRam(64 * PAGE_SIZE);
    ram.startAllocator(allocator);
    return ram;
  }

  it('kmalloc(100) costs 108 bytes of a shared page on SLOB, a 128-byte slot of a kmalloc-128 slab on SLUB', () => {
    const slob = boardRam('slob');
    const slub = boardRam('slub');
    const a = Array.from({ length: 10 }, () => slob.kmalloc(100));
    const b = Array.from({ length: 10 }, () => slub.kmalloc(100));
    // SLOB: each block is the 8-byte header + 100 bytes = 54 units; the next header must be
    // 8-aligned, so blocks sit 112 bytes apart with a 4-byte free fragment between them.
    expect(a[1]! - a[0]!).toBe(112);
    expect(slob.ksize(a[0]!)).toBe(100);
    const kindOnSlob = slob.slabinfo().find((c) => c.name === 'kmalloc-128')!;
    expect([kindOnSlob.active, kindOnSlob.heldBytes]).toEqual([10, 1080]);
    expect(slob.liveObjectBytes()).toBe(1080);
    expect(slob.slobFreeBytes()).toBe(4096 - 1080);
    expect(slob.usage().usedBytes).toBe(4096);
    // SLUB: ten 128-byte slots in one order-0 slab.
    expect(b[1]! - b[0]!).toBe(128);
    expect(slub.ksize(b[0]!)).toBe(128);
    expect(slub.slabinfo().find((c) => c.name === 'kmalloc-128')!.heldBytes).toBe(4096);
    expect(slub.liveObjectBytes()).toBe(1280);
    for (const x of a) slob.kfree(x);
    expect([slob.usage().usedBytes, slob.liveObjectBytes()]).toEqual([0, 0]);
  });

  it('named caches share pages with kmalloc on SLOB and are still reported by name', () => {
    const ram = boardRam('slob');
    const skb = ram.createCache('skbuff_head_cache', 172);
    const x = skb.alloc();
    const y = ram.kmalloc(60);
    // One page holds both: the cache object first (172 bytes, no header), then kmalloc's block.
    expect(Math.floor(x / PAGE_SIZE)).toBe(Math.floor(y / PAGE_SIZE));
    expect(y - 8).toBe(x + 176); // 172 rounds to 176 for the next 8-byte-aligned header
    const info = ram.slabinfo();
    expect(info.find((c) => c.name === 'skbuff_head_cache')!.heldBytes).toBe(172);
    expect(info.find((c) => c.name === 'kmalloc-64')!.heldBytes).toBe(68);
    expect(ram.ramKinds().map((k) => k.name)).toContain('skbuff_head_cache');
    skb.free(x);
    ram.kfree(y);
    expect(ram.usage().usedBytes).toBe(0);
  });
});
