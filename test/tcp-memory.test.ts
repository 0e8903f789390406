// TCP's receive memory on a 2 MiB board. `slow-readers` opens 8 downloads of 200 kB on quark-2m
// (minimal profile) and reads them slowly, so data piles up in socket buffers.
//
// With the sysctls Linux computes at boot, tcp_mem is sized from free pages as on a big machine
// and its hard limit lies beyond the whole kernel heap: RAM runs out first, the driver cannot
// refill its RX ring and drops frames, and TCP's own limit never engages. That is the finding a
// firmware team must see. With tcp_mem set to fit (8+12+16 pages), TCP refuses data itself,
// counted under Linux's names, and no allocation fails. Either way every download completes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheAlign } from '../stack/core/kmem.js';
import type { BoardReport, Report } from '../traces/report.js';
import { removeTempDirs, runToDir, type RunFiles } from './helpers/run.js';

const MiB = 1024 * 1024;
const PAGE = 4096;
const TIMEOUT_MS = 60_000;

interface SlowReaderFigures {
  connections: number;
  bytesEach: number;
  tcpMemPages: number[];
  tcpMemPeakBytes: number;
  pressureEpisodes: number;
  refused: Record<string, number>;
}

function dut(r: Report): BoardReport {
  return r.boards[0]!;
}

function figures(r: Report): SlowReaderFigures {
  return r.scenario.figures as unknown as SlowReaderFigures;
}

function check(r: Report, name: string): { pass: boolean; detail: string } {
  const c = r.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check "${name}" in ${r.checks.map((x) => x.name).join(', ')}`);
  return c;
}

const DOWNLOADS = 'every slow download completes intact';
const LEAK = 'RAM back to post-boot baseline after timers expire and the interface is deconfigured';

function expectAllDownloadsAndNoLeak(run: RunFiles): void {
  const r = run.report;
  const failed = r.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.detail}`);
  expect(failed).toEqual([]);
  expect(run.outcome.exitCode).toBe(0);
  expect(check(r, DOWNLOADS).detail).toBe(Array(8).fill('200000').join(', '));
  expect(check(r, LEAK).pass).toBe(true);
  expect(dut(r).memory!.leakBytes).toBe(0);
}

afterAll(removeTempDirs);

describe('slow readers on quark-2m (minimal): receive memory under a 2 MiB ceiling', () => {
  let stock: RunFiles;
  let fitted: RunFiles;

  beforeAll(() => {
    stock = runToDir({ board: 'quark-2m', profile: 'minimal', scenario: 'slow-readers' });
    fitted = runToDir({ board: 'quark-2m', profile: 'minimal', scenario: 'slow-readers:tcp_mem=8+12+16' });
  }, TIMEOUT_MS);

  it("default sysctls: RAM runs out before Linux's computed tcp_mem does, yet every download completes", () => {
    const r = stock.report;
    expectAllDownloadsAndNoLeak(stock);
    const board = dut(r);
    const m = board.memory!;
    const tcp = board.tcp!;
    expect(m.peakBytes).toBeLessThanOrEqual(2 * MiB);
    expect(m.peakBytes).toBeLessThanOrEqual(board.board.ramBytes);

    // The point: tcp_mem's hard limit (pages) is more than the whole heap this board has.
    expect(tcp.tcpMemPages).toEqual(figures(r).tcpMemPages);
    expect(tcp.tcpMemPages[2]! * PAGE, `tcp_mem[2] = ${tcp.tcpMemPages[2]} pages vs a ${m.heapBytes}-byte heap`).toBeGreaterThan(m.heapBytes);
    // So TCP never reached even its pressure threshold: RAM said no first.
    expect(tcp.memoryPressureEntered).toBe(false);
    expect(figures(r).pressureEpisodes).toBe(0);
    expect(tcp.memAllocatedPeakBytes).toBeLessThan(tcp.tcpMemPages[1]! * PAGE);
    // ... with the heap exhausted, allocations failed (counted) ...
    expect(m.minFreeBytes).toBe(0);
    expect(m.allocationFailures).toBeGreaterThan(0);
    expect(m.caches.filter((c) => c.failures > 0).length).toBeGreaterThan(0);
    // ... and the driver, unable to allocate a fresh RX buffer, dropped frames (netdev rx_dropped).
    const iface = Object.values(board.interfaces)[0]!;
    expect(iface['netdev_rx_dropped']).toBeGreaterThan(0);
  });

  it('tcp_mem=8+12+16: TCP refuses new data itself (counted), enters pressure, and stays near its hard limit; no allocation fails', () => {
    const r = fitted.report;
    expectAllDownloadsAndNoLeak(fitted);
    const board = dut(r);
    const m = board.memory!;
    const tcp = board.tcp!;
    const f = figures(r);
    expect(tcp.tcpMemPages).toEqual([8, 12, 16]);
    expect(f.tcpMemPages).toEqual([8, 12, 16]);

    // Data refused at the socket: receive-queue drops, prunes that could not make room, out-of-order drops.
    const refused = (f.refused['TCPRcvQDrop'] ?? 0) + (f.refused['RcvPruned'] ?? 0) + (f.refused['TCPOFODrop'] ?? 0);
    expect(refused, JSON.stringify(f.refused)).toBeGreaterThan(0);
    expect(f.pressureEpisodes).toBeGreaterThan(0);
    expect(tcp.memoryPressureEntered).toBe(true);

    // Peak of tcp_memory_allocated: not far above tcp_mem[2] = 16 pages. Every arriving skb is
    // checked against the hard limit before it is charged (rmemSchedule), but tcp_collapse
    // (pruneQueue) charges the dense skbs it builds without a check, as Linux's does — so the
    // peak may exceed the limit by what one collapse adds: at most one collapse skb, the largest
    // skb TCP's receive side charges: a 3648-byte chunk plus skb_shared_info in a kmalloc-4k
    // buffer (truesize counts the whole 4096) plus the cache-aligned sk_buff head.
    const kmalloc4k = m.caches.find((c) => c.name === 'kmalloc-4k')!.objectSize;
    const skbHead = m.caches.find((c) => c.name === 'skbuff_head_cache')!.objectSize;
    const maxTruesize = kmalloc4k + cacheAlign(skbHead);
    expect(maxTruesize).toBe(4096 + 192);
    expect(tcp.memAllocatedPeakBytes).toBe(f.tcpMemPeakBytes);
    expect(tcp.memAllocatedPeakBytes).toBeGreaterThan(12 * PAGE); // it did fill up to pressure
    expect(tcp.memAllocatedPeakBytes).toBeLessThanOrEqual(16 * PAGE + maxTruesize);

    // With TCP holding itself to its limit, RAM never ran out.
    expect(m.allocationFailures).toBe(0);
    expect(m.caches.filter((c) => c.failures > 0)).toEqual([]);
    expect(m.peakBytes).toBeLessThan(2 * MiB);
    expect(m.minFreeBytes).toBeGreaterThan(0);
    const iface = Object.values(board.interfaces)[0]!;
    expect(iface['netdev_rx_dropped']).toBe(0);
  });
});
