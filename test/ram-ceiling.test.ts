// Invariant 2 (docs/architecture.md): board RAM is a hard ceiling. On a booted quark-2m, allocating until
// RAM runs out returns NULL and counts it — never throws — and the board keeps working: a frame
// that arrives then is dropped and counted. Freeing everything returns usage to the post-boot
// baseline, and a whole scenario ends with no leak.
import { afterAll, describe, expect, it } from 'vitest';
import { World } from '../emulator/world.js';
import { KMALLOC_SIZES, kmallocCacheName } from '../emulator/ram/kmalloc.js';
import { PAGE_SIZE } from '../emulator/ram/page-allocator.js';
import type { BoardRam } from '../emulator/ram/board-ram.js';
import { bootBoard, liveObjectBytes, type BootedBoard } from '../scenarios/boot.js';
import { buildFirmware } from '../scenarios/firmware.js';
import { resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { run } from '../scenarios/run.js';
import { allocSkb, type SkBuff } from '../stack/core/skbuff.js';
import { withSymbol } from './helpers/features.js';
import { removeTempDirs } from './helpers/run.js';

afterAll(removeTempDirs);

function ok<T>(x: T | { error: string }): T {
  if (x !== null && typeof x === 'object' && 'error' in x) throw new Error(x.error);
  return x as T;
}

/** quark-2m with minimal: on SLOB (the profile's allocator), or on SLUB when asked. */
function bootQuark2m(allocator: 'slob' | 'slub' = 'slob'): { world: World; dut: BootedBoard } {
  const board = ok(resolveBoard('quark-2m'));
  const table = ok(resolveCostTable());
  const profile = allocator === 'slub' ? withSymbol('minimal', 'SLUB') : 'minimal';
  const fw = ok(buildFirmware(board, ok(resolveProfile(profile)), table));
  const world = new World(1);
  const dut = bootBoard(world, 'dut', board, fw.image, table, []);
  if ('error' in dut) throw new Error(dut.error);
  expect(dut.board.ram.allocator).toBe(allocator);
  return { world, dut };
}

function failures(ram: BoardRam, cache: string): number {
  return ram.slabinfo().find((c) => c.name === cache)!.failures;
}

/** Allocate `size` until kmalloc returns 0; the addresses it handed out. */
function exhaust(ram: BoardRam, size: number): number[] {
  const got: number[] = [];
  for (;;) {
    const a = ram.kmalloc(size);
    if (a === 0) return got;
    got.push(a);
    if (got.length > ram.size / 8) throw new Error(`kmalloc(${size}) never failed`);
  }
}

/** A broadcast ARP request (60 bytes) for the MAC to receive. */
function arpFrame(): Uint8Array {
  const f = new Uint8Array(60);
  f.fill(0xff, 0, 6);
  f.set([0x02, 0x51, 0, 0, 0, 0x09], 6);
  f.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], 12);
  return f;
}

describe('RAM ceiling on a booted quark-2m', () => {
  it.each(['slob', 'slub'] as const)('%s: allocating until RAM runs out returns NULL, counts it, throws nothing; freeing returns to baseline', (allocator) => {
    const { world, dut } = bootQuark2m(allocator);
    const ram = dut.board.ram;
    const used0 = ram.usage().usedBytes;
    const empty0 = ram.emptySlabBytes();
    const free0 = ram.usage().freeBytes;
    // Room in pages the allocator already holds can be handed out too: free slots in SLUB's
    // slabs, the free fragments of SLOB's shared pages.
    const slack0 = allocator === 'slob' ? ram.slobFreeBytes() : ram.slabinfo().reduce((sum, c) => sum + (c.totalObjects - c.active) * c.objectSize, 0);
    // SLOB serves kmalloc below PAGE_SIZE − 8 (its size header) from its pages; at and above
    // that, whole pages (mm/slob.c __do_kmalloc_node), counted as kmalloc-large. SLUB's classes
    // go up to 8 KiB.
    const largeFrom = allocator === 'slob' ? PAGE_SIZE - 8 : 8193;
    expect(used0).toBe(dut.baselineUsed);
    expect(liveObjectBytes(ram)).toBe(dut.baselineObjects);

    // Largest first (page blocks), then every kmalloc class down to 8 bytes, so nothing is left.
    const held: number[] = [];
    for (const size of [16_384, ...[...KMALLOC_SIZES].reverse()]) {
      const cache = size >= largeFrom ? 'kmalloc-large' : kmallocCacheName(size);
      const before = failures(ram, cache);
      held.push(...exhaust(ram, size));
      expect(failures(ram, cache), `${cache} counts the failed allocation`).toBe(before + 1);
      expect(ram.kmalloc(size)).toBe(0); // still NULL, counted again
      expect(failures(ram, cache)).toBe(before + 2);
    }
    // What we hold is (nearly) all the heap that was free: slab rounding is the only waste.
    const heldBytes = held.reduce((sum, a) => sum + ram.ksize(a), 0);
    expect(heldBytes).toBeGreaterThan(0.9 * free0);
    expect(heldBytes).toBeLessThanOrEqual(free0 + slack0);
    expect(ram.usage().freeBytes).toBe(0);
    expect(ram.usage().usedBytes).toBe(ram.usage().heapBytes);
    // Every address is inside RAM and distinct: real allocations, not a counter.
    expect(new Set(held).size).toBe(held.length);
    for (const a of held) expect(a > 0 && a < ram.size).toBe(true);

    // An skb cannot be had either: NULL, counted, and no skb is live.
    const skbFailures = dut.stack.skbs.allocFailures;
    expect(allocSkb(dut.stack.skbs, 1514)).toBeNull();
    expect(dut.stack.skbs.allocFailures).toBe(skbFailures + 1);
    expect(dut.stack.skbs.live).toBe(0);

    // A frame arriving now: the MAC has a posted ring buffer, but the driver cannot allocate
    // its replacement, so it drops the frame and counts it, as stmmac does.
    const dev = dut.dev;
    const driver = dut.stack.drivers.get(dev.ifindex)!;
    const dropped0 = dev.stats.rx_dropped;
    dut.board.mac.deliver(arpFrame(), true);
    world.sim.run(world.sim.now + 1_000_000);
    expect(dut.board.mac.stats.rx_packets).toBe(1);
    expect(dev.stats.rx_dropped).toBe(dropped0 + 1);
    expect(driver.rxAllocFailures).toBe(1);
    expect(dev.stats.rx_packets).toBe(0);
    expect(dut.stack.skbs.live).toBe(0);

    // Free everything: back to the post-boot baseline in objects. In pages, SLUB keeps up to
    // min_partial empty slabs per cache (mm/slub.c __slab_free), so the pages above the
    // baseline are exactly those kept empty slabs, and kmem_cache_shrink gives them back.
    // SLOB keeps none (a page whose last block is freed goes back), so there it is 0.
    for (const a of held) ram.kfree(a);
    expect(liveObjectBytes(ram)).toBe(dut.baselineObjects);
    expect(ram.usage().usedBytes - ram.emptySlabBytes()).toBe(used0 - empty0);
    if (allocator === 'slob') expect([empty0, ram.emptySlabBytes()]).toEqual([0, 0]);
    ram.shrinkCaches();
    expect(ram.usage().usedBytes).toBe(used0 - empty0);

    // And the board works again: the next frame reaches the stack.
    dut.board.mac.deliver(arpFrame(), true);
    world.sim.run(world.sim.now + 1_000_000);
    expect(dev.stats.rx_packets).toBe(1);
    expect(dut.stack.skbs.live).toBe(0);
  });

  it('allocating skbs until failure returns null and counts it; freeing them returns to baseline', () => {
    const { dut } = bootQuark2m();
    const ram = dut.board.ram;
    const skbs: SkBuff[] = [];
    const empty0 = ram.emptySlabBytes();
    const headFailures = failures(ram, 'skbuff_head_cache');
    const dataFailures = failures(ram, 'kmalloc-2k');
    for (;;) {
      const skb = allocSkb(dut.stack.skbs, 1514);
      if (!skb) break;
      // Packet bytes live in board RAM, inside the allocation.
      skb.bytes.fill(0xab, skb.put(1514), skb.tail);
      skbs.push(skb);
      if (skbs.length > 10_000) throw new Error('allocSkb never failed');
    }
    expect(skbs.length).toBeGreaterThan(10);
    expect(dut.stack.skbs.live).toBe(skbs.length);
    expect(dut.stack.skbs.allocFailures).toBe(1);
    // The failure is in a slab cache's count: the head cache or the data buffer's kmalloc class.
    expect(failures(ram, 'skbuff_head_cache') + failures(ram, 'kmalloc-2k')).toBe(headFailures + dataFailures + 1);
    for (const s of skbs) s.free();
    expect(dut.stack.skbs.live).toBe(0);
    expect(liveObjectBytes(ram)).toBe(dut.baselineObjects);
    // Pages: the baseline plus the empty slabs the caches keep (SLUB's min_partial; SLOB, this
    // board's allocator, keeps none, so the figures are 0); shrunk, the baseline without the
    // empty slabs boot itself left.
    expect(ram.usage().usedBytes - ram.emptySlabBytes()).toBe(dut.baselineUsed - empty0);
    ram.shrinkCaches();
    expect(ram.usage().usedBytes).toBe(dut.baselineUsed - empty0);
  });

  it('the leak figure sees one object left behind', () => {
    const { dut } = bootQuark2m();
    const ram = dut.board.ram;
    // SLOB (minimal's allocator): an 8-byte size header before the 100 bytes, in 2-byte units:
    // 108 bytes. (SLUB would take a 128-byte kmalloc-128 slot: test/slob.test.ts.)
    const a = ram.kmalloc(100);
    expect(liveObjectBytes(ram) - dut.baselineObjects).toBe(108);
    ram.kfree(a);
    expect(liveObjectBytes(ram) - dut.baselineObjects).toBe(0);
  });

  it('after the ping scenario the leak check passes and leakBytes is 0', () => {
    const o = run({ scenario: 'ping' });
    expect(o.exitCode).toBe(0);
    const dut = o.report!.boards[0]!;
    const check = o.report!.checks.find((c) => c.name.startsWith('RAM back to post-boot baseline'))!;
    expect(check.pass, check.detail).toBe(true);
    expect(dut.memory!.leakBytes).toBe(0);
    expect(dut.memory!.finalObjectBytes).toBe(dut.memory!.baselineObjectBytes);
    // The run did allocate (rings, skbs, the socket): a peak above the baseline.
    expect(dut.memory!.peakUsedBytes).toBeGreaterThan(dut.memory!.baselineUsedBytes);
    expect(dut.memory!.allocationFailures).toBe(0);
  });
});
