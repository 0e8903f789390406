// TCP's receive memory on a 2 MiB board. `slow-readers` opens 8 downloads of 200 kB on quark-2m
// (minimal profile) and reads them slowly, so data piles up in socket buffers.
//
// With the sysctls Linux computes at boot, tcp_mem is sized from free pages as on a big machine
// and its hard limit lies beyond the whole kernel heap: RAM runs out first, the driver cannot
// refill its RX ring and drops frames, and TCP's own limit never engages. That is the finding a
// firmware team must see. Setting tcp_mem to fit (8+12+16 pages) changes nothing: Linux 6.1
// charges socket memory to a per-CPU reserve and moves it to the global count tcp_mem is
// checked against only 256 pages (1 MiB) at a time (sk_memory_allocated_add,
// SK_MEMORY_PCPU_RESERVE), so on a one-CPU 2 MiB board the count stays 0, the limits never
// engage, and the report says the tuning is inert. Either way every download completes.
//
// tcp_mem is written as a program on the board writes it: through /proc/sys (sysctl -w). The
// minimal profile has no PROC_FS, so the fitted run uses minimal plus PROC_FS, and on minimal
// itself the write fails with ENOENT, as it does on a Linux kernel built without /proc. /proc
// costs this board 28 KiB of static RAM, and the heap left holds two slow downloads at once
// (a third connect() gets ENOBUFS), so the fitted run opens two.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocSkb } from '../stack/core/skbuff.js';
import { bootPair } from './helpers/lab-pair.js';
import type { BoardReport, Report } from '../traces/report.js';
import { removeTempDirs, runToDir, tempDir, type RunFiles } from './helpers/run.js';

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

function expectAllDownloadsAndNoLeak(run: RunFiles, downloads = 8): void {
  const r = run.report;
  const failed = r.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.detail}`);
  expect(failed).toEqual([]);
  expect(run.outcome.exitCode).toBe(0);
  expect(check(r, DOWNLOADS).detail).toBe(Array(downloads).fill('200000').join(', '));
  expect(check(r, LEAK).pass).toBe(true);
  expect(dut(r).memory!.leakBytes).toBe(0);
}

afterAll(removeTempDirs);

describe('slow readers on quark-2m (minimal): receive memory under a 2 MiB ceiling', () => {
  let stock: RunFiles;
  let fitted: RunFiles;
  let noProc: RunFiles;

  beforeAll(() => {
    stock = runToDir({ board: 'quark-2m', profile: 'minimal', scenario: 'slow-readers' });
    const withProc = join(tempDir('quarklab-tcpmem-'), 'minimal-procfs.config');
    writeFileSync(withProc, '# base: minimal\nCONFIG_PROC_FS=y\n');
    fitted = runToDir({ board: 'quark-2m', profile: withProc, scenario: 'slow-readers:tcp_mem=8+12+16,connections=2' });
    noProc = runToDir({ board: 'quark-2m', profile: 'minimal', scenario: 'slow-readers:tcp_mem=8+12+16,connections=1' });
  }, 2 * TIMEOUT_MS);

  it('without PROC_FS there is no /proc/sys: the tcp_mem write fails with ENOENT, a failed check, and tcp_mem stays as booted', () => {
    const c = check(noProc.report, 'sysctl -w net.ipv4.tcp_mem="8 12 16"');
    expect(c.pass).toBe(false);
    expect(c.detail).toMatch(/^ENOENT \(the profile has no PROC_FS/);
    expect(noProc.outcome.exitCode).toBe(1);
    expect(dut(noProc.report).tcp!.tcpMemPages).toEqual(dut(stock.report).tcp!.tcpMemPages);
  });

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

  it('tcp_mem=8+12+16 is inert (6.1): the per-CPU reserve keeps the global count at 0, TCP never enters pressure, RAM runs out first; the report says so', () => {
    const r = fitted.report;
    expectAllDownloadsAndNoLeak(fitted, 2);
    expect(dut(r).profile.enabled).toContain('PROC_FS');
    const board = dut(r);
    const m = board.memory!;
    const tcp = board.tcp!;
    const f = figures(r);
    expect(check(r, 'sysctl -w net.ipv4.tcp_mem="8 12 16"')).toEqual({ name: 'sysctl -w net.ipv4.tcp_mem="8 12 16"', pass: true, detail: 'written' });
    expect(tcp.tcpMemPages).toEqual([8, 12, 16]);
    // Far more than 16 pages were charged to sockets, yet tcp_memory_allocated never left 0:
    expect(tcp.memAllocatedPeakBytes).toBeGreaterThan(16 * PAGE);
    expect(tcp.memAllocatedPeakBytes).toBeLessThan(256 * PAGE);
    expect(f.pressureEpisodes).toBe(0);
    expect(tcp.memoryPressureEntered).toBe(false);
    // ... so RAM said no first, exactly as with the stock sysctls.
    expect(m.allocationFailures).toBeGreaterThan(0);
    expect(r.notes.some((n) => n.startsWith('tcp_mem 8 12 16 pages sits below the per-CPU socket-memory reserve (SK_MEMORY_PCPU_RESERVE, 256 pages'))).toBe(true);
    expect(stock.report.notes.some((n) => n.startsWith('tcp_mem 96 128 192 pages sits below the per-CPU socket-memory reserve'))).toBe(true);
  });
});

describe('socket memory as 6.1 counts it (sk_memory_allocated_add/sub)', () => {
  it('charges reach tcp_memory_allocated only a whole per-CPU reserve (256 pages) at a time, both ways', () => {
    // The lab host (64 MiB) has room for a MiB of skbs. Each 3500-byte skb asks kmalloc for
    // SKB_DATA_ALIGN(3500) + SKB_DATA_ALIGN(skb_shared_info 244) = 3520 + 256 = 3776 bytes
    // (__alloc_skb, 64-byte cache lines); on SLOB (full's allocator) ksize gives that back
    // unrounded (a whole number of 2-byte units), so truesize = 3776 + SKB_DATA_ALIGN(sk_buff
    // 176) = 3968 bytes. Pages charged after k skbs: ceil(3968 k / 4096): 255 at k = 263
    // (254.78), 256 at k = 264 (255.75) — the reserve is full and moves: the global count jumps
    // from 0 to 256 — and 257 at k = 265, which stays in the reserve (+1). Freeing one skb takes
    // the reserve back to 0 (global still 256); freeing all takes it to −256, which moves too:
    // the global count is 0 again.
    const p = bootPair();
    const tcp = p.lab.stack.tcp!;
    const sk = tcp.create();
    if (typeof sk === 'number') throw new Error(`socket: ${sk}`);
    const skbs = [];
    for (let k = 1; k <= 265; k++) {
      const skb = allocSkb(p.lab.stack.skbs, 3500)!;
      expect(skb.truesize).toBe(3968);
      tcp.chargeRcv(sk, skb);
      skbs.push(skb);
      if (k === 263) expect(tcp.mem.protoMemoryAllocated()).toBe(0);
      if (k === 264) expect(tcp.mem.protoMemoryAllocated()).toBe(256);
    }
    expect(tcp.mem.protoMemoryAllocated()).toBe(256);
    expect(tcp.mem.pcpuReservePages).toBe(1);
    skbs.pop()!.free();
    expect(tcp.mem.protoMemoryAllocated()).toBe(256);
    for (const skb of skbs) skb.free();
    expect(tcp.mem.allocated).toBe(0);
    expect(tcp.mem.protoMemoryAllocated()).toBe(0);
    sk.release();
  });
});
