// FIB_TRIE against FIB_LIST: the same answers for random route sets, each table in its own
// board RAM, nodes and routes allocated there and given back.
import { describe, expect, it } from 'vitest';
import { Prng } from '../emulator/prng.js';
import { BoardRam } from '../emulator/ram/board-ram.js';
import { loadCostTable } from '../stack/kconfig/cost-table.js';
import type { Fib, Route } from '../stack/ipv4/fib.js';
import { FibList } from '../stack/ipv4/fib-list.js';
import { FibTrie } from '../stack/ipv4/fib-trie.js';
import { bootPair } from './helpers/lab-pair.js';

const MiB = 1024 * 1024;

function structs(): Record<string, number> {
  const t = loadCostTable();
  if ('error' in t) throw new Error(t.error);
  return t.structs;
}

function ram(size = 4 * MiB): BoardRam {
  const r = new BoardRam(size);
  r.reserve('kernel', 64 * 1024, 'kernel-text');
  r.startAllocator('slub');
  return r;
}

function mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

function randomRoute(rng: Prng, pool: number[]): Route {
  // Prefix lengths as real tables have them, with some defaults and host routes, and prefixes
  // often nested in earlier ones so that longest-prefix choices matter.
  const lens = [0, 8, 12, 16, 16, 20, 22, 24, 24, 24, 25, 27, 28, 30, 32];
  const prefixLen = lens[rng.nextInt(lens.length)]!;
  const base = pool.length > 0 && rng.chance(0.6) ? pool[rng.nextInt(pool.length)]! ^ (rng.nextU32() >>> prefixLen) : rng.nextU32();
  const dst = (base & mask(prefixLen)) >>> 0;
  pool.push(dst);
  return { dst, prefixLen, gateway: rng.chance(0.5) ? rng.nextU32() : 0, ifindex: 2 + rng.nextInt(3), prefSrc: 0, metric: rng.nextInt(3), scope: 'universe', protocol: 'boot' };
}

function same(a: Route | null, b: Route | null): void {
  expect(a === null).toBe(b === null);
  if (a && b) expect([a.dst, a.prefixLen, a.metric, a.gateway, a.ifindex]).toEqual([b.dst, b.prefixLen, b.metric, b.gateway, b.ifindex]);
}

function probes(rng: Prng, routes: Route[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < 500; i++) out.push(rng.nextU32());
  for (const r of routes) {
    const host = ~mask(r.prefixLen) >>> 0;
    out.push(r.dst, (r.dst | host) >>> 0, (r.dst + 1) >>> 0, (r.dst - 1) >>> 0, ((r.dst | host) + 1) >>> 0, (r.dst | (rng.nextU32() & host)) >>> 0);
  }
  return out;
}

function compare(trie: Fib, list: Fib, rng: Prng, routes: Route[]): void {
  for (const a of probes(rng, routes)) same(trie.lookup(a), list.lookup(a));
}

describe('FIB_TRIE and FIB_LIST', () => {
  it('answer every lookup the same on random route sets, through inserts and removals', () => {
    const s = structs();
    for (const [seed, n] of [[1, 0], [2, 1], [3, 8], [4, 60], [5, 400]] as const) {
      const rng = new Prng(seed);
      const trieRam = ram();
      const listRam = ram();
      const trie = new FibTrie(trieRam, s);
      const list = new FibList(listRam, s);
      const trieEmpty = trieRam.usage().usedBytes;
      const pool: number[] = [];
      const added: Route[] = [];
      for (let i = 0; i < n; i++) {
        const r = randomRoute(rng, pool);
        const a = trie.insert(r);
        expect(list.insert(r)).toBe(a);
        if (a === 'ok') added.push(r);
      }
      expect(trie.routes().length).toBe(added.length);
      compare(trie, list, rng, added);
      // Remove about half, in random order, by prefix (and sometimes interface or metric).
      for (const r of added) {
        if (!rng.chance(0.5)) continue;
        const byIf = rng.chance(0.5) ? r.ifindex : undefined;
        const match = rng.chance(0.5) ? { metric: r.metric } : undefined;
        expect(trie.remove(r.dst, r.prefixLen, byIf, match)).toBe(list.remove(r.dst, r.prefixLen, byIf, match));
      }
      expect(trie.routes().length).toBe(list.routes().length);
      compare(trie, list, rng, added);
      trie.flush();
      list.flush();
      expect(trie.lookup(0x0a000001)).toBeNull();
      // Every leaf, tnode and alias went back to the allocator: once SLUB hands back the empty
      // slabs it keeps (kmem_cache_shrink), the pages are where they started.
      trieRam.shrinkCaches();
      expect(trieRam.usage().usedBytes).toBe(trieEmpty);
      expect(trie.memoryBytes()).toBe(trieRam.ksize(trie.tableAddr));
    }
  });

  it('is a level-compressed trie: dense prefixes inflate nodes, removing them halves and collapses', () => {
    const s = structs();
    const r = ram();
    const trie = new FibTrie(r, s);
    for (let i = 0; i < 256; i++) {
      expect(trie.insert({ dst: (0x0a000000 | (i << 8)) >>> 0, prefixLen: 24, gateway: 0, ifindex: 2, prefSrc: 0, metric: 0, scope: 'link', protocol: 'boot' })).toBe('ok');
    }
    const dense = trie.shape();
    expect(dense.leaves).toBe(256);
    expect(dense.maxBits).toBeGreaterThanOrEqual(4); // wide nodes, not a binary trie
    expect(dense.depth).toBeLessThanOrEqual(4);
    expect(trie.stats.inflates).toBeGreaterThan(0);
    expect(trie.lookup(0x0a00ab07)?.dst).toBe(0x0a00ab00);
    expect(trie.lookup(0x0a010000)).toBeNull();
    // The node memory follows TNODE_SIZE: 28 bytes of header and 4 per child on i386.
    expect(trie.memoryBytes()).toBeGreaterThan(256 * (32 + 36));
    for (let i = 0; i < 256; i++) expect(trie.remove((0x0a000000 | (i << 8)) >>> 0, 24)).toBe(true);
    expect(trie.shape()).toMatchObject({ leaves: 0, tnodes: 0 });
    expect(trie.stats.halves + trie.stats.collapses).toBeGreaterThan(0);
  });

  it('returns ENOBUFS when RAM runs out and stays correct (resizes are skipped, not half done)', () => {
    const s = structs();
    const small = ram(256 * 1024);
    const trie = new FibTrie(small, s);
    const list = new FibList(ram(), s);
    const rng = new Prng(9);
    const pool: number[] = [];
    const added: Route[] = [];
    let refused = 0;
    for (let i = 0; i < 4000 && refused < 20; i++) {
      const r = randomRoute(rng, pool);
      const a = trie.insert(r);
      if (a === 'ENOBUFS') {
        refused++;
        continue;
      }
      expect(list.insert(r)).toBe(a);
      if (a === 'ok') added.push(r);
    }
    expect(refused).toBeGreaterThan(0);
    compare(trie, list, rng, added);
  });

  it('is chosen by the profile: FIB_TRIE for full, FIB_LIST for minimal', () => {
    const p = bootPair();
    expect(p.lab.stack.fib.kind).toBe('FIB_TRIE');
    expect(p.dut.stack.fib.kind).toBe('FIB_LIST');
    // Both hold the connected and default routes the static configuration made.
    expect(p.dut.stack.fib.lookup(0x08080808)?.gateway).toBe(0xc0000201);
    expect(p.lab.stack.fib.lookup(0xc0000263)?.prefixLen).toBe(24);
  });
});
