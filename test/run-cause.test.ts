// Failed runs name their cause (issue 14): a run that hits its time limit says what its programs
// were told and which allocations were refused, and a fragment limit larger than the heap it
// governs is stated as a note when it mattered.
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../scenarios/run.js';
import { quark2mWithRam, removeTempDirs } from './helpers/run.js';

afterAll(removeTempDirs);

/** quark-2m with 2448 KiB of RAM: the full profile boots with a few hundred KiB of heap. */
const board2448 = (): string => quark2mWithRam(2448);

describe('a run stopped at its limit names the cause', () => {
  it('full on a 2448 KiB board: bulk-rx says what its program was told and which allocation was held at min_free', () => {
    // The story on this board, traced allocation by allocation: eth0's default qdisc is
    // fq_codel (full selects it), whose flows table (1024 × 44 B = 45056 B, kvcalloc'd in
    // fq_codel_init, a kmalloc-large of order 4 here: 16 pages, 64 KiB) is a GFP_KERNEL request
    // held back at min_free. The device keeps noop_qdisc, which drops the ARP requests, so the
    // SYNs never leave (the SYN and 4 retransmits) and the neighbour fails: the sink is told
    // EHOSTUNREACH at 18 s. Until the netdev hashes were charged (two kmalloc(1024) at boot,
    // test/netdev-hash.test.ts) connect itself got ENOBUFS here: the socket's objects then
    // fitted SLOB's free space and the SYN's skb needed a new page at the watermark; now the
    // socket takes that page (sk_alloc is charged as an atomic request, GFP_KERNEL in Linux's
    // inet_create) and the SYN fits beside it. No board size gives connect ENOBUFS any more:
    // every 4 KiB step from 2400 KiB (the smallest that boots) to 2528 KiB tells this story,
    // and from 2532 KiB fq_codel fits and the transfer completes. Linux 6.1 would not stop at
    // noop_qdisc: attach_default_qdiscs (net/sched/sch_generic.c) falls back to noqueue when
    // the default qdisc fails, and the board would transmit; quarklab does not model that yet.
    const o = run({ board: board2448(), profile: 'full', scenario: 'bulk-rx', seed: 1, capture: 'none' });
    expect(o.exitCode).toBe(1);
    const mem = o.report!.boards[0]!.memory!;
    const heapKiB = mem.heapBytes / 1024;
    // init_per_zone_wmark_min by hand: sqrt(heap KiB × 16) for this heap is under Linux's floor
    // of 128, and 128 is over quarklab's cap of half the heap, so min_free_kbytes is heap / 2.
    expect(Math.sqrt(heapKiB * 16)).toBeLessThan(128);
    expect(heapKiB / 2).toBeLessThan(128);
    const minFreeKiB = Math.floor(heapKiB / 2);
    // The flows table's 64 KiB would take the free pages after boot under min_free.
    expect(heapKiB - mem.baselineUsedBytes / 1024 - 64).toBeLessThan(minFreeKiB);
    expect(o.report!.boards[0]!.qdiscs!['dut:eth0']!.kind).toBe('noop');
    const check = o.report!.checks.find((c) => c.name === 'scenario completes')!;
    expect(check.pass).toBe(false);
    expect(check.detail).toMatch(/^still running at the \d+ s limit; the board's programs were told: bulk-sink recv: EHOSTUNREACH at 18\.000 s; /);
    expect(check.detail).toMatch(/allocations refused: kmalloc-large 1 held back at min_free\b/);
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
