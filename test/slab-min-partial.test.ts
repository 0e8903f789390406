// SLUB's min_partial, worked by hand from Linux 6.1's mm/slub.c:
//   kmem_cache_open: s->min_partial = clamp(ilog2(s->size) / 2, MIN_PARTIAL 5, MAX_PARTIAL 10)
//   __slab_free:     an empty slab is discarded only if n->nr_partial >= s->min_partial, where
//                    nr_partial counts the slab itself when it was already on the partial list
//                    (a slab that goes from full straight to empty is not yet on it).
// So a cache keeps a few empty slabs instead of giving every one back to the page allocator,
// which is what keeps a sender on a 2 MiB board from being stranded at the watermark (issue 15's
// live iperf3 -R stall; the last test replays that sequence).
import { describe, expect, it } from 'vitest';
import { BoardRam } from '../emulator/ram/board-ram.js';
import { PAGE_ANON, PAGE_SIZE } from '../emulator/ram/page-allocator.js';
import { minPartial, type KmemCache } from '../emulator/ram/slab.js';

const MiB = 1024 * 1024;

function bootedRam(): BoardRam {
  const ram = new BoardRam(2 * MiB);
  expect(ram.reserve('.text', 300_000, 'kernel-text')).not.toBeNull();
  ram.startAllocator('slub');
  return ram;
}

describe('SLUB min_partial (mm/slub.c set_min_partial)', () => {
  it('is ilog2(size) / 2 clamped to 5..10', () => {
    // skbuff_fclone_cache, 360 B: ilog2 = 8, 8 / 2 = 4, raised to MIN_PARTIAL 5.
    expect(minPartial(360)).toBe(5);
    // kmalloc-8: ilog2 = 3 → 1 → 5.
    expect(minPartial(8)).toBe(5);
    // kmalloc-2k: ilog2 = 11 → 5.
    expect(minPartial(2048)).toBe(5);
    // kmalloc-4k: 12 → 6; kmalloc-8k: 13 → 6.
    expect(minPartial(4096)).toBe(6);
    expect(minPartial(8192)).toBe(6);
    // 1 MiB: 20 → 10; 4 MiB: 22 → 11, capped at MAX_PARTIAL 10.
    expect(minPartial(1 << 20)).toBe(10);
    expect(minPartial(1 << 22)).toBe(10);
  });

  it('after a burst freed in address order, keeps 4 empty slabs of 10 and returns 6 pages', () => {
    const ram = bootedRam();
    const cache = ram.createCache('obj1k', 1024) as KmemCache;
    expect(cache.objectsPerSlab).toBe(4); // 4096 / 1024
    const free0 = ram.freePages();
    const objs: number[] = [];
    for (let i = 0; i < 40; i++) objs.push(cache.alloc());
    // 40 objects, 4 a slab: 10 slabs, all full, none on the partial list.
    expect(cache.slabs).toBe(10);
    expect(ram.freePages()).toBe(free0 - 10);
    for (const a of objs) cache.free(a);
    // Slab k's first free puts it on the partial list (nr_partial k + 1, since slabs 0..k-1
    // are still there, empty); its last free finds nr_partial = k + 1. Kept while k + 1 < 5:
    // slabs 0..3. Slab 4 goes empty with nr_partial 5 >= 5: discarded, and so are 5..9 (each
    // joins the 4 kept ones, nr_partial 5). 4 slabs kept, 4 pages held, 6 pages returned.
    expect(cache.slabs).toBe(4);
    expect(cache.emptySlabs).toBe(4);
    expect(cache.active).toBe(0);
    expect(cache.stats().pages).toBe(4);
    expect(ram.freePages()).toBe(free0 - 4);
    // No live object: the baseline comparison (live kernel objects) does not see them.
    expect(cache.stats().active * cache.objectSize).toBe(0);
    // The kept slabs serve the next 16 objects without a page: the page count stays put.
    for (let i = 0; i < 16; i++) expect(cache.alloc()).not.toBe(0);
    expect(ram.freePages()).toBe(free0 - 4);
    expect(cache.emptySlabs).toBe(0);
  });

  it('a one-object-per-slab cache keeps min_partial (6 for 4 KiB): a full slab goes empty before it is on the list', () => {
    const ram = bootedRam();
    const cache = ram.createCache('obj4k', 4096) as KmemCache; // min_partial 6 (ilog2 12 / 2)
    const objs: number[] = [];
    for (let i = 0; i < 10; i++) objs.push(cache.alloc());
    for (const a of objs) cache.free(a);
    // Each slab goes from full to empty (prior == NULL): nr_partial counts only the ones kept
    // before it: 0, 1, ..., 5 < 6 → six kept; the seventh sees 6 >= 6 and is discarded.
    expect(cache.slabs).toBe(6);
    expect(cache.emptySlabs).toBe(6);
  });

  it('issue 15: the fclone cache keeps its last slab, so a GFP_KERNEL skb is not refused at the watermark after an RX refill', () => {
    const ram = bootedRam();
    const fclone = ram.createCache('skbuff_fclone_cache', 360) as KmemCache;
    const reserve = ram.reservePages();
    expect(reserve).toBeGreaterThan(0);
    // A TCP sender's skb, allocated while memory was plentiful.
    const skb = fclone.alloc('kernel');
    expect(skb).not.toBe(0);
    // Softirq work (GFP_ATOMIC may dip into the reserve) brings free pages down to the watermark.
    while (ram.freePages() > reserve) expect(ram.pages.allocPages(0, PAGE_ANON, 'atomic')).not.toBe(0);
    expect(ram.freePages()).toBe(reserve);
    // TX completion and the ACK free the skb: the cache's only slab goes empty with nr_partial
    // 1 < min_partial 5, so it stays; no page goes back.
    fclone.free(skb);
    expect(fclone.slabs).toBe(1);
    expect(ram.freePages()).toBe(reserve);
    // The RX ring refills (kmalloc-2k, GFP_ATOMIC): it takes a page below the watermark.
    expect(ram.kmalloc(1700, 'atomic')).not.toBe(0);
    expect(ram.freePages()).toBe(reserve - 1);
    // The writer's next skb (GFP_KERNEL) comes from the kept slab without asking for a page.
    // Before min_partial the slab had gone back, the refill had taken its page, and this
    // allocation needed a page with free − 1 < min watermark: refused, with nothing in flight.
    const throttledBefore = ram.pages.throttled;
    expect(fclone.alloc('kernel')).not.toBe(0);
    expect(ram.pages.throttled).toBe(throttledBefore);
    expect(fclone.throttled).toBe(0);
    expect(fclone.stats().heldBytes).toBe(PAGE_SIZE);
  });
});
