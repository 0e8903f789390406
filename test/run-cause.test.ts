// Failed runs name their cause (issue 14): a run that hits its time limit says what its programs
// were told and which allocations were refused, and a fragment limit larger than the heap it
// governs is stated as a note when it mattered.
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../scenarios/run.js';
import { join } from 'node:path';
import { quark2mWithRam, REPO_ROOT, removeTempDirs } from './helpers/run.js';

afterAll(removeTempDirs);

/** Issue 11's profile (minimal with the TCP metrics cache, without multicast) on SLUB. */
const PROFILE_SLUB = join(REPO_ROOT, 'test', 'fixtures', 'profiles', 'minimal-metrics-nomcast-slub.config');

describe('a run stopped at its limit names the cause', () => {
  it('SLUB minimal on a 2016 KiB board: bulk-rx says connect got ENOBUFS and which allocation was held at min_free', () => {
    // 2016 KiB leaves this profile a 256 KiB heap. The socket's first skb (skbuff_fclone_cache,
    // a GFP_KERNEL request) needs a new slab page when free RAM is already at min_free, so it is
    // held back and connect gets ENOBUFS; the sink never starts and the run reaches its limit.
    const o = run({ board: quark2mWithRam(2016), profile: PROFILE_SLUB, scenario: 'bulk-rx', seed: 1, capture: 'none' });
    expect(o.exitCode).toBe(1);
    const mem = o.report!.boards[0]!.memory!;
    expect(mem.allocator).toBe('slub');
    const heapKiB = mem.heapBytes / 1024;
    // init_per_zone_wmark_min by hand: sqrt(heap KiB × 16) = sqrt(4096) = 64 is under Linux's
    // floor of 128; quarklab's cap of half the heap is 128 too, so min_free_kbytes is 128.
    expect(heapKiB).toBe(256);
    expect(Math.sqrt(heapKiB * 16)).toBeLessThan(128);
    const minFreeKiB = Math.min(128, Math.floor(heapKiB / 2));
    const check = o.report!.checks.find((c) => c.name === 'scenario completes')!;
    expect(check.pass).toBe(false);
    expect(check.detail).toMatch(/^still running at the \d+ s limit; the board's programs were told: bulk-sink connect: ENOBUFS at /);
    expect(check.detail).toMatch(/allocations refused: skbuff_fclone_cache \d+ held back at min_free\b/);
    expect(check.detail).toContain(`heap ${heapKiB} KiB`);
    expect(check.detail).toContain(`vm.min_free_kbytes ${minFreeKiB}`);
  });

  it('a run that finishes gets no cause appended, and its checks are unchanged', () => {
    const o = run({ scenario: 'ping', seed: 1, capture: 'none' });
    expect(o.exitCode).toBe(0);
    expect(o.report!.checks.find((c) => c.name === 'scenario completes')).toBeUndefined();
  });
});

describe('ipfrag_high_thresh larger than the heap', () => {
  const NOTE = /^ipfrag_high_thresh is 4194304 B \(Linux 6\.1's default\), more than this board's whole heap of (\d+) B/;

  it('is a note when fragments came and the heap ran short', () => {
    // 60000-byte datagrams: on SLOB (minimal's allocator) the fragments of 30000-byte ones take
    // quark-2m's heap to its last page without a refusal, so nothing ran short.
    const o = run({ scenario: 'udp-echo:sizes=60000+60000+60000+60000+60000+60000+60000+60000,loss=0.1', seed: 1, capture: 'none' });
    const m = o.report!.boards[0]!.memory!;
    expect(m.allocationFailures + m.allocationThrottled).toBeGreaterThan(0);
    const note = o.report!.notes.find((n) => NOTE.test(n));
    expect(note).toBeDefined();
    // 4 MiB (net/ipv4/ip_fragment.c, ipv4_frags_init_net: high_thresh = 4 * 1024 * 1024) against the heap the report gives.
    expect(Number(NOTE.exec(note!)![1])).toBe(m.heapBytes);
    expect(m.heapBytes).toBeLessThan(4 * 1024 * 1024);
  });

  it('is not, when the fragments fitted (the default udp-echo)', () => {
    const o = run({ scenario: 'udp-echo', seed: 1, capture: 'none' });
    expect(o.report!.notes.some((n) => NOTE.test(n))).toBe(false);
  });
});
