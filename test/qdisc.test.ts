// The qdisc layer (stack/sched): which qdisc a profile gets and how, CoDel's arithmetic and
// fq_codel's scheduling against figures worked by hand from RFC 8289/8290 and Linux 6.1's
// include/net/codel_impl.h and net/sched/sch_fq_codel.c, and what the report shows.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allocSkb, type SkBuff } from '../stack/core/skbuff.js';
import { CodelVars, codelControlLaw, codelNewtonStep, ms2time, reciprocalScale } from '../stack/sched/codel.js';
import { FqCodel } from '../stack/sched/sch-fq-codel.js';
import { PfifoFast } from '../stack/sched/sch-generic.js';
import type { Report } from '../traces/report.js';
import { bootPair } from './helpers/lab-pair.js';
import { quark2mWithRam, quarklabAsync, readJson, removeTempDirs, tempDir } from './helpers/run.js';
import { run } from '../scenarios/run.js';

afterAll(removeTempDirs);

describe('CoDel arithmetic (include/net/codel.h, codel_impl.h)', () => {
  it('keeps time in 1024 ns units: target 5 ms = 4882, interval 100 ms = 97656', () => {
    // 5 000 000 / 1024 = 4882.8 and 100 000 000 / 1024 = 97656.25, truncated.
    expect(ms2time(5)).toBe(4882);
    expect(ms2time(100)).toBe(97656);
  });

  it('spaces drops interval/sqrt(count) (RFC 8289 §3.3) through the Newton-iterated reciprocal sqrt', () => {
    // count 1: rec_inv_sqrt = ~0U >> 16 = 0xffff; reciprocal_scale(97656, 0xffff0000) = floor(97656·(1 − 2^-16)) = 97654.
    expect(reciprocalScale(97656, 0xffff0000)).toBe(97654);
    expect(codelControlLaw(1000, 97656, 0xffff)).toBe(1000 + 97654);
    // Held at count 4, Newton converges on 1/sqrt(4) = 0.5 → 32768·(1 − tiny): spacing 100/2 = 50 ms.
    const v = new CodelVars();
    v.recInvSqrt = 0xffff;
    v.count = 4;
    for (let i = 0; i < 8; i++) codelNewtonStep(v);
    expect(Math.abs(v.recInvSqrt - 32768)).toBeLessThanOrEqual(2);
    const spacing = codelControlLaw(0, 97656, v.recInvSqrt);
    expect(Math.abs(spacing - 48828)).toBeLessThanOrEqual(3); // 97656 / 2
    // count 2, one step from 0xffff, in the C's integers: invsqrt = 0xffff0000; invsqrt2 =
    // invsqrt² >> 32 = 2^32 − 2^17 + 1 = 4294836225; val = 3·2^32 − 2·invsqrt2 = 4295229438;
    // >> 2 = 1073807359; (val·invsqrt) >> 31 = 2147581948; >> 16 = 32769 (x·(3 − 2x²)/2 ≈ 0.5).
    const w = new CodelVars();
    w.recInvSqrt = 0xffff;
    w.count = 2;
    codelNewtonStep(w);
    expect(w.recInvSqrt).toBe(32769);
  });
});

/** An IPv4/UDP frame of `len` bytes from port `sport`, in a fresh skb of the pair's DUT. */
function udpFrame(skbs: Parameters<typeof allocSkb>[0], len: number, sport: number): SkBuff {
  const skb = allocSkb(skbs, len)!;
  const at = skb.put(len);
  const b = skb.bytes;
  b.fill(0, at, at + len);
  b[at + 12] = 0x08; // ETH_P_IP
  b[at + 14] = 0x45;
  b[at + 14 + 9] = 17;
  b.set([192, 0, 2, 2, 192, 0, 2, 1], at + 14 + 12);
  b[at + 34] = sport >> 8;
  b[at + 35] = sport & 0xff;
  b[at + 37] = 9;
  return skb;
}

describe('fq_codel scheduling (sch_fq_codel.c)', () => {
  it('serves a new sparse flow before a backlogged one, then round-robins by quantum', () => {
    const p = bootPair({ configure: false });
    const skbs = p.dut.stack.skbs;
    const q = FqCodel.create(p.dut.stack.env.mem, 1500, 12345)!;
    expect(q.quantum).toBe(1514); // psched_mtu = mtu + hard_header_len
    const bulk: SkBuff[] = [];
    for (let i = 0; i < 6; i++) {
      const s = udpFrame(skbs, 1514, 5001);
      bulk.push(s);
      q.enqueue(s, 0);
    }
    // The bulk flow starts new (deficit = quantum): it sends one 1514-byte packet, its deficit
    // hits 0, and it moves to old_flows.
    expect(q.dequeue(0)).toBe(bulk[0]);
    const sparse = udpFrame(skbs, 98, 7);
    q.enqueue(sparse, 0);
    // A packet of a flow not yet listed goes on new_flows, which is served first.
    expect(q.dequeue(0)).toBe(sparse);
    // The sparse flow, now empty, passes through old_flows (anti-starvation) and then leaves;
    // the bulk flow gets a fresh quantum and sends one packet per round.
    expect(q.dequeue(0)).toBe(bulk[1]);
    expect(q.dequeue(0)).toBe(bulk[2]);
    expect(q.xstats()['new_flow_count']).toBe(2);
    expect(q.qlen).toBe(3);
    expect(q.backlog).toBe(3 * 1514);
    q.destroy(p.dut.stack.env.mem);
  });

  it('drops at the head once the sojourn has stayed above 5 ms for 100 ms, not before', () => {
    const p = bootPair({ configure: false });
    const skbs = p.dut.stack.skbs;
    const q = FqCodel.create(p.dut.stack.env.mem, 1500, 1)!;
    // Keep 20 packets queued, each waiting 10 ms (above target); dequeue one and enqueue one every ms.
    const MS = 1_000_000;
    for (let i = 0; i < 20; i++) q.enqueue(udpFrame(skbs, 1514, 5001), 0);
    let firstDropAt = -1;
    for (let t = 10 * MS; t <= 300 * MS && firstDropAt < 0; t += MS) {
      const before = q.stats.drops;
      const skb = q.dequeue(t)!;
      skb.free();
      if (q.stats.drops > before) firstDropAt = t;
      q.enqueue(udpFrame(skbs, 1514, 5001), t);
    }
    // First above target at the 10 ms dequeue: now = floor(10e6 / 1024) = 9765, first_above_time
    // = 9765 + 97656 = 107421. At 110 ms now = floor(110e6 / 1024) = 107421, not yet after it;
    // at 111 ms (108398) CoDel drops. The backlog (19 × 1514) stays above one MTU throughout.
    expect(firstDropAt).toBe(111 * MS);
    q.destroy(p.dut.stack.env.mem);
  });

  it('takes its tables from board RAM: 1024 flows of 44 bytes and 1024 u32 backlogs', () => {
    const p = bootPair({ configure: false });
    const mem = p.dut.stack.env.mem;
    const before = mem.freePages();
    const q = FqCodel.create(mem, 1500, 1)!;
    // 45 056 + 4 096 bytes: at least 12 pages of 4 KiB leave the page allocator.
    expect(before - mem.freePages()).toBeGreaterThanOrEqual(12);
    q.destroy(mem);
    // The backlogs' kmalloc-4k slab stays on the cache's partial list (min_partial) until
    // kmem_cache_shrink hands it back.
    p.dut.board.ram.shrinkCaches();
    expect(mem.freePages()).toBe(before);
  });
});

describe('pfifo_fast (sch_generic.c)', () => {
  it('serves band 0 (TC_PRIO_INTERACTIVE) before band 1 and drops when a band holds tx_queue_len', async () => {
    const p = bootPair({ configure: false });
    const skbs = p.dut.stack.skbs;
    const q = PfifoFast.create(p.dut.stack.env.mem, 2)!;
    const a = udpFrame(skbs, 100, 1);
    const b = udpFrame(skbs, 100, 2);
    const c = udpFrame(skbs, 100, 3);
    const i = udpFrame(skbs, 100, 4);
    i.priority = 6; // TC_PRIO_INTERACTIVE → prio2band[6] = 0
    expect([q.enqueue(a), q.enqueue(b), q.enqueue(c), q.enqueue(i)]).toEqual([0, 0, 1, 0]); // NET_XMIT_DROP for the third in band 1
    expect(q.stats.drops).toBe(1);
    expect([q.dequeue(), q.dequeue(), q.dequeue(), q.dequeue()]).toEqual([i, a, b, null]);
    for (const s of [i, a, b]) s.free();
    q.destroy(p.dut.stack.env.mem);
  });
});

describe('the default qdisc: Kconfig, net.core.default_qdisc, and what is not built', () => {
  const dir = tempDir('quarklab-qdisc-');
  const pfifoFull = join(dir, 'full-pfifo.config');
  writeFileSync(pfifoFull, '# base: full\nCONFIG_DEFAULT_PFIFO_FAST=y\n');
  const board = (sysctl: Record<string, string>): string => {
    const file = join(dir, `board-${Object.values(sysctl).join('-') || 'none'}.json`);
    const base = readJson<Record<string, unknown>>(join('boards', 'quark-4m.json'));
    writeFileSync(file, JSON.stringify({ ...base, $schema: undefined, sysctl }));
    return file;
  };
  const qdiscOf = async (args: string[]): Promise<{ status: number; kind?: string; stderr: string }> => {
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
    const r = await quarklabAsync(['run', '--scenario', 'ping', ...args, '--out', out]);
    if (r.status !== 0) return { status: r.status, stderr: r.stderr };
    const rep = readJson<Report>(join(out, 'report.json'));
    return { status: 0, kind: rep.boards[0]!.qdiscs['dut:eth0']!.kind, stderr: r.stderr };
  };

  it('full selects fq_codel (NET_SCH_DEFAULT, DEFAULT_FQ_CODEL); client and minimal keep pfifo_fast', async () => {
    expect((await qdiscOf(['--board', 'quark-4m', '--profile', 'full'])).kind).toBe('fq_codel');
    expect((await qdiscOf(['--board', 'quark-4m', '--profile', 'client'])).kind).toBe('pfifo_fast');
    expect((await qdiscOf(['--profile', 'minimal'])).kind).toBe('pfifo_fast');
    expect((await qdiscOf(['--board', 'quark-4m', '--profile', pfifoFull])).kind).toBe('pfifo_fast');
  });

  it('net.core.default_qdisc changes it when the kind is registered, and is refused otherwise', async () => {
    expect((await qdiscOf(['--board', board({ 'net.core.default_qdisc': 'pfifo_fast' }), '--profile', 'full'])).kind).toBe('pfifo_fast');
    // client builds NET_SCH_FQ_CODEL without selecting it: the sysctl can.
    expect((await qdiscOf(['--board', board({ 'net.core.default_qdisc': 'fq_codel' }), '--profile', 'client'])).kind).toBe('fq_codel');
    const sfq = await qdiscOf(['--board', board({ 'net.core.default_qdisc': 'sfq' }), '--profile', 'full']);
    expect(sfq.status).toBe(2);
    expect(sfq.stderr.trim().split('\n')).toHaveLength(1);
    expect(sfq.stderr).toMatch(/net\.core\.default_qdisc = "sfq": ENOENT/);
    // Without NET_SCHED there is no such sysctl (sysctl_net_core.c has it under CONFIG_NET_SCHED).
    const none = await qdiscOf(['--board', board({ 'net.core.default_qdisc': 'fq_codel' }), '--profile', 'minimal']);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no such sysctl without CONFIG_NET_SCHED/);
  });

  it('falls back to noqueue when the default cannot be created, and the board still transmits (6.1 attach_default_qdiscs)', () => {
    // full on quark-2m with 2448 KiB: a 240 KiB heap, min_free_kbytes capped at half of it
    // (120 KiB). fq_codel's flows table, 1024 × 44 B = 45056 B, is a kmalloc-large of order 4
    // (64 KiB), a GFP_KERNEL request the free RAM above min_free cannot meet after boot. 6.1
    // then attaches noqueue ("default qdisc (fq_codel) fail, fallback to noqueue"), and
    // __dev_queue_xmit hands every packet straight to the driver: the transfer completes.
    const o = run({ board: quark2mWithRam(2448), profile: 'full', scenario: 'bulk-rx', seed: 1, capture: 'none' });
    const dut = o.report!.boards[0]!;
    const heapKiB = dut.memory!.heapBytes / 1024;
    expect(heapKiB).toBe(240);
    expect(heapKiB - dut.memory!.baselineUsedBytes / 1024 - 64).toBeLessThan(heapKiB / 2);
    expect(dut.qdiscs['dut:eth0']!.kind).toBe('noqueue');
    expect(o.exitCode, o.report!.checks.filter((c) => !c.pass).map((c) => c.detail).join('; ')).toBe(0);
  });
});
