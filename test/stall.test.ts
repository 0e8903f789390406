// Stalls are named from the timeline. Issue 11's case: minimal + TCP_METRICS − IP_MULTICAST on
// quark-2m. The figures are worked here from Linux's formula, not read from quarklab: the heap of
// this profile on quark-2m is 288 KiB (reported by boot), and init_per_zone_wmark_min gives
// min_free_kbytes = clamp(sqrt(288 × 16), 128, 262144) = clamp(67.9, 128, …) = 128 KiB, which
// quarklab caps at half the heap (144 KiB): 128 KiB. An order-0 process-context allocation
// needs free − 4 KiB ≥ 128 KiB.
//
// Issue 11 saw this case stall (bulk-tx stuck at 600 s, http-serve "send made no progress"),
// and an earlier version of this file took that as "the board is too small". The root was the
// slab model: every empty slab went straight back to the page allocator, so the sender's
// skbuff_fclone_cache gave its page up, a GFP_ATOMIC RX refill took it below the watermark and
// every later GFP_KERNEL skb needed a page it could not have, with nothing in flight to free.
// Linux 6.1 keeps it: __slab_free discards an empty slab only when n->nr_partial >= min_partial
// (5 for skbuff_fclone_cache; test/slab-min-partial.test.ts works it out). With that, the case
// completes, so it is checked to complete; the memory-reserve stall is built on a board that is
// too small for it whatever SLUB keeps: the same board with 32 KiB less RAM.
//
// All of that is SLUB's story, so the bulk-tx case and the too-small board boot SLUB (the
// fixture's CONFIG_SLUB=y). http-serve on quark-2m is checked on SLOB, quarklab's default since
// the calibration kernels ran it: on SLUB that board is now one page past the cliff. Charging
// the netdev name and index hashes netdev_init kmallocs (two kmalloc(1024),
// test/netdev-hash.test.ts) cost SLUB one more kmalloc-1k page at boot (baseline 116 → 120
// KiB), and the server's first sends then find no fresh skbuff_fclone_cache page above the
// reserve: every connection stalls at memory-reserve, the story the 2016 KiB board below tells.
// On SLOB the same profile packs sockets and skbs into the shared pages it already holds.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../scenarios/run.js';
import { DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { isPcapngError, readPcapng } from '../traces/pcapng-reader.js';
import { REPO_ROOT, quark2mWithRam, removeTempDirs, runToDir } from './helpers/run.js';

afterAll(removeTempDirs);

const PROFILE = join(REPO_ROOT, 'test', 'fixtures', 'profiles', 'minimal-metrics-nomcast-slub.config');
const PROFILE_SLOB = join(REPO_ROOT, 'test', 'fixtures', 'profiles', 'minimal-metrics-nomcast.config');
const HEAP = 288 * 1024;
const MIN_FREE = 128 * 1024;

describe("issue 11's case on quark-2m completes: the sender's empty skb slab is kept (min_partial)", () => {
  it('bulk-tx:loss=0.01: free RAM went below the reserve, allocations waited at it, and the transfer completed with no stall', () => {
    const r = run({ board: 'quark-2m', profile: PROFILE, scenario: 'bulk-tx:loss=0.01', capture: 'none' }).report!;
    const mem = r.boards[0]!.memory!;
    expect(mem.allocator).toBe('slub');
    expect(mem.heapBytes).toBe(HEAP);
    expect(mem.minFreeKbytes * 1024).toBe(MIN_FREE);
    // The pressure issue 11 met is still there: GFP_ATOMIC RX refills took free RAM under the
    // reserve and process-context allocations were held back at it…
    expect(mem.minFreeBytes).toBeLessThan(MIN_FREE);
    expect(mem.allocationThrottled).toBeGreaterThan(0);
    // …but they went on: the run finished before its limit, intact, and nothing stalled.
    expect(r.checks.find((c) => c.name === 'scenario completes')).toBeUndefined();
    const transfer = r.checks.find((c) => c.name === 'transfer complete and intact')!;
    expect(transfer.pass, transfer.detail).toBe(true);
    expect(r.stalls ?? []).toEqual([]);
  }, 60_000);

  it('http-serve on SLOB: every connection gets its response, none waits 30 s for memory', () => {
    const r = run({ board: 'quark-2m', profile: PROFILE_SLOB, scenario: 'http-serve', capture: 'none' }).report!;
    const mem = r.boards[0]!.memory!;
    // The same heap and reserve as on SLUB (288 and 128 KiB), and the same pressure: free RAM
    // went under the reserve and process-context allocations were held back at it.
    expect([mem.allocator, mem.heapBytes, mem.minFreeKbytes * 1024]).toEqual(['slob', HEAP, MIN_FREE]);
    expect(mem.minFreeBytes).toBeLessThan(MIN_FREE);
    expect(mem.allocationThrottled).toBeGreaterThan(0);
    const serverCheck = r.checks.find((c) => c.name === 'server answered every request without error')!;
    expect(serverCheck.pass, serverCheck.detail).toBe(true);
    expect(serverCheck.detail).not.toMatch(/send made no progress/);
    expect(r.stalls ?? []).toEqual([]);
  }, 60_000);
});

// quark-2m with 2016 KiB of RAM: boot reserves the same, so the heap is 288 − 32 = 256 KiB
// (checked against the report below); min_free_kbytes = clamp(sqrt(256 × 16) = 64, 128, …) = 128,
// and half the heap is 128: 128 KiB. Only 256 − 120 (boot's baseline) − 128 = 8 KiB are left to
// process context; the eight clients' sockets, taken in softirq (GFP_ATOMIC), go below the
// reserve before the server's first send, whose skb needs a fresh skbuff_fclone_cache page.
const SMALL_HEAP = 256 * 1024;

describe('a board too small names its cause: memory-reserve', () => {
  it('http-serve on quark-2m less 32 KiB with the custom profile: every connection whose send made no progress says the board is too small, with the figures', () => {
    const r = run({ board: quark2mWithRam(2016), profile: PROFILE, scenario: 'http-serve', capture: 'none' }).report!;
    const mem = r.boards[0]!.memory!;
    expect(mem.allocator).toBe('slub');
    expect(mem.heapBytes).toBe(SMALL_HEAP);
    expect(mem.minFreeKbytes * 1024).toBe(MIN_FREE);
    // The server's own account (every error, not the three the check's detail shows): the
    // client ports whose send made no progress for 30 s. Each must be a stall, and no other.
    const errors = (r.scenario.figures['serverStats'] as { errors: string[] }).errors;
    const noProgress = errors.map((e) => /^connection from port (\d+): send made no progress for 30 s$/.exec(e)?.[1]).filter((p) => p !== undefined);
    expect(noProgress.length).toBeGreaterThan(0);
    const stalls = r.stalls ?? [];
    expect(stalls.map((s) => /^192\.0\.2\.2:80 → 192\.0\.2\.1:(\d+)$/.exec(s.connection)?.[1]).sort()).toEqual([...noProgress].sort());
    for (const s of stalls) {
      expect(s.cause).toBe('memory-reserve');
      expect(s.resumed).toBe(false);
      expect(s.detail).toMatch(/^the board is too small for profile .* on quark-2016k with http-serve: /);
      expect(s.detail).toContain('min_free reserve of 128.0 KiB in a 256.0 KiB heap');
      // At most two pages above the reserve (a send skb needs two pages) the whole time.
      expect(s.figures['maxFreeBytes']).toBeLessThanOrEqual(MIN_FREE + 2 * 4096);
      expect(s.figures['minFreeBytes']).toBe(MIN_FREE);
      expect(s.figures['heapBytes']).toBe(SMALL_HEAP);
      // The throttles during the stall are nearly all of the run's (the run counts them too).
      const throttled = s.figures['throttled'] as number;
      expect(throttled).toBeGreaterThan(0.9 * mem.allocationThrottled);
      expect(throttled).toBeLessThanOrEqual(mem.allocationThrottled);
    }
  }, 60_000);

  it('on SLOB the same profile answers every request even on the smallest quark-2m it boots on, and from 1984 KiB with no allocation failing', () => {
    // Boot needs the image's sections and the programs with the init sections still in RAM,
    // plus a 64 KiB minimum heap: 1952 KiB boots (the 128 KiB of init sections freed, a heap of
    // 288 − 96 = 192 KiB; min_free_kbytes = clamp(sqrt(192 × 16) = 55, 128, …) = 128, capped
    // at half the heap: 96 KiB) and 1936 KiB does not.
    const r = run({ board: quark2mWithRam(1952), profile: PROFILE_SLOB, scenario: 'http-serve', capture: 'none' }).report!;
    const mem = r.boards[0]!.memory!;
    expect([mem.allocator, mem.heapBytes, mem.minFreeKbytes]).toEqual(['slob', 192 * 1024, 96]);
    const serverCheck = r.checks.find((c) => c.name === 'server answered every request without error')!;
    expect(serverCheck.pass, serverCheck.detail).toBe(true);
    // There the heap runs out rather than waiting at the reserve: with the netdev hashes charged
    // (boot's baseline 112 → 116 KiB) GFP_ATOMIC allocations take the last free page, some fail,
    // and a write waits for memory — named as allocation failure, never SLUB's memory-reserve
    // stall. (Before the hashes were charged this board served with no failure at all.)
    expect(mem.allocationFailures).toBeGreaterThan(0);
    expect((r.stalls ?? []).map((s) => s.cause)).not.toContain('memory-reserve');
    // Two steps of 16 KiB up (a 224 KiB heap, min_free 112 KiB) nothing fails and nothing stalls.
    const roomier = run({ board: quark2mWithRam(1984), profile: PROFILE_SLOB, scenario: 'http-serve', capture: 'none' }).report!;
    expect([roomier.boards[0]!.memory!.heapBytes, roomier.boards[0]!.memory!.minFreeKbytes]).toEqual([224 * 1024, 112]);
    expect(roomier.boards[0]!.memory!.allocationFailures).toBe(0);
    expect(roomier.checks.filter((c) => !c.pass)).toEqual([]);
    expect(roomier.stalls ?? []).toEqual([]);
    const smaller = run({ board: quark2mWithRam(1936), profile: PROFILE_SLOB, scenario: 'http-serve', capture: 'none' });
    expect(smaller.report!.checks.find((c) => c.name === 'profile fits the board')?.detail).toMatch(/short by 16384 bytes/);
  }, 60_000);
});

describe('a stall with nothing coming back is named: peer gone', () => {
  it('bulk-tx:loss=0.5 on quark-4m/client: RTO backoff with no segment received, checked against the capture', () => {
    // Seed 9: a realization of the 50% loss in which nothing comes back for the rest of the run
    // (the default seed's, since byte queue limits reordered the wire's loss draws, loses ARP
    // instead: a different stall, named as such).
    const run = runToDir({ board: 'quark-4m', profile: 'client', scenario: 'bulk-tx:loss=0.5', seed: 9 });
    const stalls = run.report.stalls ?? [];
    expect(stalls.length).toBe(1);
    const s = stalls[0]!;
    expect(s.cause).toBe('peer-gone');
    // The capture (read with the pcapng reader, not the timeline) must agree: after the stall
    // began the board received no TCP segment, and it kept retransmitting.
    const cap = readPcapng(run.capture!);
    if (isPcapngError(cap)) throw new Error(cap.message);
    // The timeline's resolution is its sample: the stall is watched from the sample after the
    // last progress (fromNs is that last progress's sample).
    const from = DEFAULT_EPOCH_NS + BigInt(s.fromNs + 100_000_000);
    // …until the end of traffic (after it, programs exit and the lab host closes its side).
    const until = DEFAULT_EPOCH_NS + BigInt(run.report.virtualTimeNs);
    const afterStart = cap.packets.filter((p) => p.timestampNs >= from && p.timestampNs < until);
    const tcpIn = afterStart.filter((p) => p.direction === 'inbound' && isTcp(p.data));
    const tcpOut = afterStart.filter((p) => p.direction === 'outbound' && isTcp(p.data));
    expect(tcpIn.length).toBe(0);
    expect(tcpOut.length).toBeGreaterThan(0);
    // The stall starts at the first sample at or after the last TCP segment the board received
    // (the capture's, on the 100 ms sample grid) and runs to the end of traffic.
    const inbound = cap.packets.filter((p) => p.direction === 'inbound' && isTcp(p.data) && p.timestampNs < until);
    const lastIn = Number(inbound.at(-1)!.timestampNs - DEFAULT_EPOCH_NS);
    expect(s.fromNs).toBe(Math.ceil(lastIn / 100_000_000) * 100_000_000);
    const secs = ((run.report.virtualTimeNs - s.fromNs) / 1e9).toFixed(1).replace('.', '\\.');
    expect(s.detail).toMatch(new RegExp(`^peer gone: \\d+ retransmission timeouts in ${secs} s with no ACK`));
  }, 60_000);
});

function isTcp(frame: Uint8Array): boolean {
  return frame.length > 34 && frame[12] === 0x08 && frame[13] === 0x00 && frame[23] === 6;
}
