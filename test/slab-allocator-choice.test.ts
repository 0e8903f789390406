// The board boots the slab allocator its profile chooses (CONFIG_SLOB, the default, or
// CONFIG_SLUB), and the report says which ran while still grouping RAM by kind of object.
//
// Oracle: the stmmac RX ring worked by hand. quark-2m posts 32 receive buffers (rxRingSize) of
// 1536-byte frames (rxBufferBytes); each is one kmalloc of SKB_DATA_ALIGN(NET_SKB_PAD 32 + 1536)
// + SKB_DATA_ALIGN(skb_shared_info 244) = 1600 + 256 = 1856 bytes (64-byte cache lines), the
// kmalloc-2k class. On SLOB (mm/slob.c __do_kmalloc_node) each takes 1856 + an 8-byte size
// header = 1864 bytes of a shared page, and two fit a page (3728 ≤ 4096); on SLUB each takes a
// 2048-byte slot of a kmalloc-2k slab, two to an order-0 slab. Boot kmallocs two more objects
// of that class: struct net (1232 bytes) and the eth0 net_device (1148), sizes from the
// calibration's pahole figures.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { reportHtml } from '../traces/report-html.js';
import { reportMarkdown } from '../traces/report-md.js';
import { summarize } from '../traces/report.js';
import { run } from '../scenarios/run.js';
import { withSymbol } from './helpers/features.js';
import { bootPair } from './helpers/lab-pair.js';
import { removeTempDirs } from './helpers/run.js';

afterAll(removeTempDirs);

const RX_BUFFERS = 32;
const structs = (JSON.parse(readFileSync(new URL('../calibration/linux-6.1-i386.json', import.meta.url), 'utf8')) as { structs: { sizes: Record<string, number> } }).structs.sizes;
const NET = structs['net']!;
const NET_DEVICE = structs['net_device']!;

describe('the profile chooses the slab allocator', () => {
  it('minimal boots SLOB: the RX ring is 32 blocks of 1864 bytes in shared pages, reported as kmalloc-2k', () => {
    expect([NET, NET_DEVICE]).toEqual([1232, 1148]);
    const p = bootPair({ configure: false });
    const ram = p.dut.board.ram;
    expect(ram.allocator).toBe('slob');
    const k = ram.slabinfo().find((c) => c.name === 'kmalloc-2k')!;
    // 32 × 1864 + (1232 + 8) + (1148 + 8) = 59648 + 1240 + 1156 = 62044 bytes.
    expect([k.active, k.heldBytes, k.pages]).toEqual([RX_BUFFERS + 2, RX_BUFFERS * 1864 + (NET + 8) + (NET_DEVICE + 8), 0]);
    // SLOB keeps no slabs: nothing is "empty slab" however the pages stand.
    expect(ram.emptySlabBytes()).toBe(0);
  });

  it('CONFIG_SLUB=y boots SLUB: the same 34 objects fill 17 order-0 kmalloc-2k slabs of 2048-byte slots', () => {
    const p = bootPair({ configure: false, dutProfile: withSymbol('minimal', 'SLUB') });
    const ram = p.dut.board.ram;
    expect(ram.allocator).toBe('slub');
    const k = ram.slabinfo().find((c) => c.name === 'kmalloc-2k')!;
    expect([k.active, k.objectSize, k.pages, k.heldBytes]).toEqual([34, 2048, 17, 17 * 4096]);
  });

  it('the report says which allocator ran, in JSON, the summary, Markdown and HTML', () => {
    const slob = run({ scenario: 'ping', capture: 'none' }).report!;
    const slub = run({ scenario: 'ping', capture: 'none', profile: withSymbol('minimal', 'SLUB') }).report!;
    for (const [r, name] of [[slob, 'SLOB'], [slub, 'SLUB']] as const) {
      const m = r.boards[0]!.memory!;
      expect(m.allocator).toBe(name.toLowerCase());
      expect(summarize(r)).toContain(`slab allocator ${name}`);
      expect(reportMarkdown(r)).toContain(`slab allocator ${name}`);
      expect(reportHtml(r, null)).toContain(`slab allocator ${name}`);
      // Grouped by kind either way: the ring's kmalloc-2k line, with the bytes it held.
      const ring = m.caches.find((c) => c.name === 'kmalloc-2k')!;
      expect(ring.heldBytes).toBeGreaterThanOrEqual(name === 'SLOB' ? RX_BUFFERS * 1864 : (RX_BUFFERS / 2) * 4096);
    }
    // The calibration has no SLUB build: a SLUB run says its kernel core is a SLOB kernel's.
    expect(slub.notes.some((n) => /every calibration build ran SLOB/.test(n))).toBe(true);
    expect(slob.notes.some((n) => /every calibration build ran SLOB/.test(n))).toBe(false);
  });
});
