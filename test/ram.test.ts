import { describe, expect, it } from 'vitest';
import { BoardRam } from '../emulator/ram/board-ram.js';
import { KMALLOC_SIZES, kmallocCacheName, kmallocIndex } from '../emulator/ram/kmalloc.js';
import { MAX_ORDER, PAGE_SIZE, PageAllocator } from '../emulator/ram/page-allocator.js';

const MiB = 1024 * 1024;

/** A booted 2 MiB board: kernel image at 0, init sections freed later, SLUB running (these
 * tests hold the SLUB model to mm/slub.c; test/slob.test.ts does SLOB). */
function bootedRam(size = 2 * MiB): BoardRam {
  const ram = new BoardRam(size);
  expect(ram.reserve('.text', 300_000, 'kernel-text')).not.toBeNull();
  expect(ram.reserve('.data', 70_000, 'kernel-data')).not.toBeNull();
  expect(ram.reserve('.init.text', 20_000, 'init')).not.toBeNull();
  ram.startAllocator('slub');
  return ram;
}

/** Deterministic LCG so tests never touch Math.random. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

function inReservedRegion(ram: BoardRam, addr: number, len: number): boolean {
  return ram.memoryMap().some((r) => !r.released
    && addr < r.start + r.pages * PAGE_SIZE && addr + len > r.start);
}

describe('BoardRam layout', () => {
  it('holds exactly the board size', () => {
    expect(new BoardRam(2 * MiB).bytes.length).toBe(2 * MiB);
    expect(new BoardRam(4 * MiB).bytes.length).toBe(4 * MiB);
    expect(() => new BoardRam(2 * MiB + 1)).toThrow(RangeError);
  });

  it('reserves page-aligned regions upward from 0', () => {
    const ram = new BoardRam(2 * MiB);
    const text = ram.reserve('.text', 5000, 'kernel-text')!;
    const data = ram.reserve('.data', 1, 'kernel-data')!;
    const init = ram.reserve('.init.text', 4096, 'init')!;
    expect([text.start, data.start, init.start]).toEqual([0, 8192, 12288]);
    expect([text.pages, data.pages, init.pages]).toEqual([2, 1, 1]);
    for (const r of ram.memoryMap()) expect(r.start % PAGE_SIZE).toBe(0);
    expect(ram.memoryMap().map((r) => r.name)).toEqual(['.text', '.data', '.init.text']);
    expect(ram.unreserved).toBe(2 * MiB - 16384);
  });

  it('returns null and reports the shortfall when a reservation does not fit', () => {
    const ram = new BoardRam(2 * MiB);
    ram.reserve('.text', 1_500_000, 'kernel-text');
    const left = ram.unreserved; // 2 MiB - 1,503,232
    expect(left).toBe(2 * MiB - 367 * PAGE_SIZE);
    const want = 700_000;
    expect(ram.shortfall(want)).toBe(171 * PAGE_SIZE - left);
    expect(ram.reserve('stack', want, 'stack-text')).toBeNull();
    expect(ram.memoryMap()).toHaveLength(1);
    expect(ram.unreserved).toBe(left);
    expect(ram.shortfall(left)).toBe(0);
    expect(ram.reserve('exact', left, 'other')).not.toBeNull();
    expect(ram.reserve('one-more', 1, 'other')).toBeNull();
    expect(ram.shortfall(1)).toBe(PAGE_SIZE);
  });

  it('hands every unreserved page to the allocator, never page 0', () => {
    const ram = new BoardRam(2 * MiB);
    ram.startAllocator('slub');
    const u = ram.usage();
    expect(u.heapBytes).toBe(2 * MiB - PAGE_SIZE);
    expect(u.reservedBytes + u.heapBytes).toBe(2 * MiB);
    const addrs: number[] = [];
    for (;;) {
      const a = ram.pages.allocPages(0);
      if (a === 0) break;
      addrs.push(a);
    }
    expect(addrs).toHaveLength(511);
    expect(addrs).not.toContain(0);
    expect(ram.pages.failures).toBe(1);
  });

  it('release returns init pages to the allocator', () => {
    const ram = bootedRam();
    const before = ram.usage();
    expect(before.reservedBytes + before.heapBytes).toBe(2 * MiB);
    const freed = ram.release('.init.text');
    expect(freed).toBe(5 * PAGE_SIZE); // 20,000 bytes -> 5 pages
    const after = ram.usage();
    expect(after.freeBytes - before.freeBytes).toBe(freed);
    expect(after.reservedBytes).toBe(before.reservedBytes - freed);
    expect(after.reservedBytes + after.heapBytes).toBe(2 * MiB);
    expect(ram.memoryMap().find((r) => r.name === '.init.text')!.released).toBe(true);
    expect(ram.release('.init.text')).toBe(0);
    expect(() => ram.release('nope')).toThrow();
  });

  it('release before startAllocator takes effect when it starts', () => {
    const ram = new BoardRam(2 * MiB);
    ram.reserve('.text', 8192, 'kernel-text');
    ram.reserve('.init.data', 8192, 'init');
    expect(ram.release('.init.data')).toBe(8192);
    ram.startAllocator('slub');
    expect(ram.usage().heapBytes).toBe(2 * MiB - 8192);
  });

  it('bounds-checks view()', () => {
    const ram = new BoardRam(2 * MiB);
    const v = ram.view(4096, 16);
    v[0] = 0xab;
    expect(ram.bytes[4096]).toBe(0xab);
    expect(ram.view(2 * MiB - 1, 1)).toHaveLength(1);
    expect(() => ram.view(2 * MiB - 1, 2)).toThrow(RangeError);
    expect(() => ram.view(-1, 1)).toThrow(RangeError);
  });
});

describe('kmalloc', () => {
  it('maps sizes to Linux classes and names', () => {
    expect(KMALLOC_SIZES.map(kmallocCacheName)).toEqual([
      'kmalloc-8', 'kmalloc-16', 'kmalloc-32', 'kmalloc-64', 'kmalloc-96', 'kmalloc-128',
      'kmalloc-192', 'kmalloc-256', 'kmalloc-512', 'kmalloc-1k', 'kmalloc-2k', 'kmalloc-4k',
      'kmalloc-8k',
    ]);
    const cls = (n: number) => KMALLOC_SIZES[kmallocIndex(n)];
    expect([1, 8, 9, 65, 96, 97, 129, 193, 1700, 8192].map(cls))
      .toEqual([8, 8, 16, 96, 96, 128, 192, 256, 2048, 8192]);
    expect(kmallocIndex(8193)).toBe(-1);
  });

  it('returns distinct, non-overlapping, in-bounds, zeroed objects for every class', () => {
    const ram = bootedRam();
    const sizes = [...KMALLOC_SIZES, 1, 9, 100, 193, 1700, 8193, 20_000];
    const live: { addr: number; len: number; tag: number }[] = [];
    let tag = 1;
    for (const size of sizes) {
      for (let i = 0; i < 5; i++) {
        const addr = ram.kmalloc(size);
        expect(addr).toBeGreaterThan(0);
        const len = ram.ksize(addr);
        expect(len).toBeGreaterThanOrEqual(size);
        expect(addr + len).toBeLessThanOrEqual(ram.bytes.length);
        expect(inReservedRegion(ram, addr, len)).toBe(false);
        expect(addr % 8).toBe(0);
        expect(ram.view(addr, len).every((b) => b === 0)).toBe(true);
        ram.bytes.fill(tag, addr, addr + len);
        live.push({ addr, len, tag });
        tag = (tag % 255) + 1;
      }
    }
    expect(new Set(live.map((l) => l.addr)).size).toBe(live.length);
    // If any two overlapped, the later fill would have overwritten part of the earlier one.
    for (const l of live) expect(ram.view(l.addr, l.len).every((b) => b === l.tag)).toBe(true);
    for (const l of live) ram.kfree(l.addr);
  });

  it('zeroes a recycled object', () => {
    const ram = bootedRam();
    const a = ram.kmalloc(64);
    ram.bytes.fill(0x5a, a, a + 64);
    const keep = ram.kmalloc(64); // keeps the slab alive so the same slot comes back
    ram.kfree(a);
    const b = ram.kmalloc(64);
    expect(b).toBe(a);
    expect(ram.view(b, 64).every((x) => x === 0)).toBe(true);
    ram.kfree(b);
    ram.kfree(keep);
  });

  it('fails with 0 at the ceiling, counts it, and returns exactly to baseline', () => {
    const ram = bootedRam();
    ram.release('.init.text');
    const baseline = ram.usage();
    const tcp = ram.createCache('TCP', 1696);
    const skb = ram.createCache('skbuff_head_cache', 176);
    const addrs: number[] = [];
    let fails = 0;
    for (let i = 0; fails < 3; i++) {
      const kind = i % 3;
      const a = kind === 0 ? tcp.alloc() : kind === 1 ? skb.alloc() : ram.kmalloc(2048);
      if (a === 0) fails++;
      else addrs.push(a);
    }
    expect(ram.usage().freeBytes).toBe(0);
    const info = ram.slabinfo();
    const failures = info.reduce((s, c) => s + c.failures, 0);
    expect(failures).toBe(3);
    expect(info.find((c) => c.name === 'TCP')!.active).toBe(tcp.active);
    expect(ram.kmalloc(20_000)).toBe(0);
    expect(ram.slabinfo().find((c) => c.name === 'kmalloc-large')!.failures).toBe(1);
    // Free in a scrambled (but fixed) order: slabs must empty and go back.
    const next = lcg(7);
    for (let i = addrs.length - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [addrs[i], addrs[j]] = [addrs[j]!, addrs[i]!];
    }
    for (const a of addrs) ram.kfree(a); // kfree works for named caches too, like SLUB
    // Every slab is empty; SLUB keeps at most min_partial of them per cache (mm/slub.c: 5 for
    // TCP 1696 B, skbuff_head_cache 176 B and kmalloc-2k, ilog2(size) / 2 raised to 5), and
    // those are the only pages above the baseline.
    for (const c of ram.slabinfo()) {
      expect(c.active).toBe(0);
      expect(c.emptySlabs).toBe(c.slabs);
      expect(c.slabs).toBeLessThanOrEqual(5);
    }
    expect(ram.usage().usedBytes - ram.emptySlabBytes()).toBe(baseline.usedBytes);
    // kmem_cache_shrink discards them all: exactly the baseline.
    ram.shrinkCaches();
    const end = ram.usage();
    expect(end.usedBytes).toBe(baseline.usedBytes);
    expect(end.freeBytes).toBe(baseline.freeBytes);
    for (const c of ram.slabinfo()) expect(c.pages).toBe(0);
    // The buddy allocator merged everything back: a large block can be had again.
    expect(ram.pages.allocPages(7)).toBeGreaterThan(0);
  });

  it('tracks peaks', () => {
    const ram = bootedRam();
    const c = ram.createCache('ip_dst_cache', 120);
    const a: number[] = [];
    for (let i = 0; i < 100; i++) a.push(c.alloc());
    for (let i = 0; i < 60; i++) c.free(a.pop()!);
    for (let i = 0; i < 10; i++) a.push(c.alloc());
    const s = c.stats();
    expect(s.objectSize).toBe(120);
    expect(s.objectsPerSlab).toBe(34);
    expect(s.active).toBe(50);
    expect(s.peakActive).toBe(100);
    expect(s.allocs).toBe(110);
    expect(s.frees).toBe(60);
    // 100 objects at 34 a slab: slabs 0 and 1 full, slab 2 with 32. Freeing 99 down to 40
    // empties slab 2 (on the partial list, nr_partial 1 < min_partial 5: kept) and leaves 6 in
    // slab 1 (now partial, at the list's head); the 10 new objects go into slab 1. Three slabs.
    expect(s.slabs).toBe(3);
    expect(s.emptySlabs).toBe(1);
    expect(s.totalObjects).toBe(102);
    expect(s.peakPages).toBe(3);
    expect(ram.usage().peakUsedBytes).toBe(3 * PAGE_SIZE);
    expect(ram.usage().usedBytes).toBe(3 * PAGE_SIZE);
    // Freeing the rest empties slabs 1 and 0 with nr_partial 2 and 3, both < 5: all kept.
    for (const x of a) c.free(x);
    expect(c.stats().emptySlabs).toBe(3);
    expect(ram.usage().usedBytes).toBe(3 * PAGE_SIZE);
    expect(ram.shrinkCaches()).toBe(3);
    expect(ram.usage().usedBytes).toBe(0);
    expect(ram.usage().peakUsedBytes).toBe(3 * PAGE_SIZE);
  });

  it('serves large requests from whole page blocks', () => {
    const ram = bootedRam();
    const a = ram.kmalloc(20_000); // 5 pages -> order 3
    expect(a % (8 * PAGE_SIZE)).toBe(0);
    expect(ram.ksize(a)).toBe(8 * PAGE_SIZE);
    const large = () => ram.slabinfo().find((c) => c.name === 'kmalloc-large')!;
    expect(large().pages).toBe(8);
    expect(large().active).toBe(1);
    expect(ram.usage().usedBytes).toBe(8 * PAGE_SIZE);
    expect(() => ram.kfree(a + PAGE_SIZE)).toThrow();
    ram.kfree(a);
    expect(large().pages).toBe(0);
    expect(large().peakPages).toBe(8);
    expect(ram.usage().usedBytes).toBe(0);
    expect(ram.kmalloc(4 * MiB)).toBe(0); // larger than the board: fails, counted, no throw
    expect(large().failures).toBe(1);
  });

  it('rejects double frees and foreign addresses (our own bugs)', () => {
    const ram = bootedRam();
    const a = ram.kmalloc(32);
    ram.kfree(a);
    const b = ram.kmalloc(32);
    const keep = ram.kmalloc(32);
    ram.kfree(b);
    expect(() => ram.kfree(b)).toThrow(/double free/);
    expect(() => ram.kfree(keep + 4)).toThrow();
    expect(() => ram.kfree(4096)).toThrow(); // kernel image
    expect(() => ram.kfree(2 * MiB)).toThrow(RangeError);
    expect(() => ram.kmalloc(0)).toThrow(RangeError);
    ram.kfree(0); // kfree(NULL) is a no-op
    ram.kfree(keep);
  });

  it('lists slabinfo sorted by name', () => {
    const ram = bootedRam();
    ram.createCache('UDP', 736);
    ram.createCache('TCP', 1696);
    ram.createCache('arp_cache', 256);
    const names = ram.slabinfo().map((c) => c.name);
    expect(names).toEqual([...names].sort());
    expect(names).toContain('kmalloc-large');
    expect(() => ram.createCache('TCP', 10)).toThrow();
  });

  it('is deterministic: the same calls give the same addresses', () => {
    const run = () => {
      const ram = bootedRam(4 * MiB);
      const tw = ram.createCache('tw_sock_TCP', 192);
      const req = ram.createCache('request_sock_TCP', 232);
      const next = lcg(42);
      const live: number[] = [];
      const trace: number[] = [];
      for (let i = 0; i < 20_000; i++) {
        const r = next();
        if (live.length > 0 && (r & 3) === 0) {
          const [a] = live.splice((r >>> 2) % live.length, 1);
          ram.kfree(a!);
        } else {
          const kind = (r >>> 8) % 4;
          const a = kind === 0 ? tw.alloc() : kind === 1 ? req.alloc()
            : ram.kmalloc(1 + ((r >>> 12) % 12_000));
          trace.push(a);
          if (a !== 0) live.push(a);
        }
      }
      for (const a of live) ram.kfree(a);
      const usage = ram.usage();
      const emptyBytes = ram.emptySlabBytes();
      const info = ram.slabinfo();
      ram.shrinkCaches();
      return { trace, usage, info, emptyBytes, shrunk: ram.usage() };
    };
    const a = run();
    const b = run();
    expect(a.trace).toEqual(b.trace);
    expect(a.info).toEqual(b.info);
    expect(a.usage).toEqual(b.usage);
    // All freed: only the empty slabs min_partial keeps hold pages (checked in run()).
    expect(a.usage.usedBytes).toBe(a.emptyBytes);
    expect(a.shrunk.usedBytes).toBe(0);
  });

  it('churns skbs at O(1) cost', () => {
    const ram = bootedRam();
    const heads = ram.createCache('skbuff_head_cache', 176);
    const held: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      held.push(heads.alloc(), ram.kmalloc(1700));
      if (held.length >= 64) {
        ram.kfree(held.shift()!);
        ram.kfree(held.shift()!);
      }
    }
    for (const a of held) ram.kfree(a);
    // Only empty slabs remain, at most min_partial (5) per cache.
    expect(ram.usage().usedBytes).toBe(ram.emptySlabBytes());
    expect(heads.stats().emptySlabs).toBeLessThanOrEqual(5);
    ram.shrinkCaches();
    expect(ram.usage().usedBytes).toBe(0);
    expect(heads.stats().allocs).toBe(200_000);
  });
});

describe('PageAllocator', () => {
  it('splits and merges buddies', () => {
    const pa = new PageAllocator(64);
    pa.online(0, 64);
    expect(pa.total).toBe(63); // page 0 is NULL
    const a = pa.allocPages(2);
    expect(a).toBe(4 * PAGE_SIZE); // lowest aligned 4-page block not containing page 0
    expect(pa.used).toBe(4);
    expect(pa.freePages(a)).toBe(4);
    expect(pa.free).toBe(63);
    expect(pa.buddyinfo().slice(0, 6)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(pa.allocPages(MAX_ORDER + 1)).toBe(0);
    expect(pa.failures).toBe(1);
    expect(() => pa.freePages(a)).toThrow();
  });
  it('onlines a range in aligned blocks into the same free lists as page by page', () => {
    // Oracle: the same ranges onlined one page per call (each page merges with its buddies as
    // it arrives, which is how boot did it before). Equal lists give equal allocations, so the
    // addresses handed out, in order, must match. Ranges start and end
    // unaligned, and later ranges border (and merge with) blocks the earlier ones left free.
    const ranges: [number, number][] = [[0, 37], [300, 2000], [37, 263], [2300, 2345]];
    const bulk = new PageAllocator(4700);
    const single = new PageAllocator(4700);
    for (const [first, count] of ranges) {
      expect(bulk.online(first, count)).toBe(count - (first === 0 ? 1 : 0));
      for (let p = first; p < first + count; p++) single.online(p, 1);
    }
    expect(bulk.total).toBe(single.total);
    expect(bulk.buddyinfo()).toEqual(single.buddyinfo());
    const order = [0, 3, 1, 0, 10, 2, 0, 5, 4, 1, 0, 7, 9, 6, 8];
    for (let i = 0; i < 60; i++) {
      const o = order[i % order.length]!;
      expect(bulk.allocPages(o), `allocation ${i} (order ${o})`).toBe(single.allocPages(o));
    }
    expect(() => bulk.online(40, 3)).toThrow('page 40 is already online');
  });
});
