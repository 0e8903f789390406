// IPv4 reassembly on a booted board: crafted fragments from the lab host's MAC, queues and
// fragment skbs in the DUT's RAM, Linux's counters, timers and limits.
import { describe, expect, it } from 'vitest';
import { NS_PER_MS, NS_PER_SEC } from '../emulator/event-queue.js';
import { IP_MF } from '../stack/wire/ipv4-header.js';
import {
  bootPair, DUT_IP, expectBaseline, inject, ipPacket, LAB_IP, pattern, settle, toDut, udpSegment,
  type Pair,
} from './helpers/lab-pair.js';
import { AF_INET, SOCK_DGRAM } from '../stack/uapi/socket.js';

/** [offset, length, more fragments] of a UDP segment. */
type Piece = [number, number, boolean];

function fragment(p: Pair, seg: Uint8Array, id: number, piece: Piece): void {
  const [off, len, more] = piece;
  inject(p, toDut(p, ipPacket({ protocol: 17, id, fragOff: (more ? IP_MF : 0) | (off >> 3), payload: seg.subarray(off, off + len) })));
  settle(p, NS_PER_MS);
}

function listen(p: Pair, port: number): number {
  const fd = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
  expect(p.dutSys.bind(fd, { addr: 0, port })).toBe(0);
  return fd;
}

const frag = (p: Pair) => p.dut.stack.ipfrag!;

describe('IPv4 reassembly', () => {
  it('keeps Linux 6.1 sysctl defaults and the 2014 hash sizes', () => {
    const p = bootPair();
    expect(frag(p)).toMatchObject({ ipfrag_high_thresh: 4 * 1024 * 1024, ipfrag_low_thresh: 3 * 1024 * 1024, ipfrag_time: 30 });
    expect([frag(p).buckets, frag(p).maxDepth]).toEqual([16, 32]); // BASE_SMALL
    expect([p.lab.stack.ipfrag!.buckets, p.lab.stack.ipfrag!.maxDepth]).toEqual([1024, 128]);
    // The defaults are larger than the whole 2 MiB board: its RAM is the real limit.
    expect(frag(p).ipfrag_high_thresh).toBeGreaterThan(p.dut.board.ram.size);
  });

  it('reassembles fragments that arrive out of order and duplicated, and frees them', () => {
    const p = bootPair();
    const fd = listen(p, 5000);
    const seg = udpSegment(LAB_IP, DUT_IP, 1234, 5000, pattern(2992));
    const pieces: Piece[] = [[2960, 40, false], [0, 1480, true], [0, 1480, true], [1480, 1480, true]];
    for (const piece of pieces.slice(0, 3)) fragment(p, seg, 77, piece);
    expect(frag(p).queues).toBe(1);
    expect(frag(p).memory).toBeGreaterThan(0);
    fragment(p, seg, 77, pieces[3]!);
    const d = p.dutSys.recvfrom(fd);
    if (typeof d === 'number') throw new Error(`recvfrom ${d}`);
    expect(d.data).toEqual(pattern(2992));
    expect(d.from).toEqual({ addr: LAB_IP, port: 1234 });
    expect(p.dut.stack.ip.mib).toMatchObject({ ReasmReqds: 4, ReasmOKs: 1, ReasmFails: 0 });
    expect([frag(p).queues, frag(p).memory]).toEqual([0, 0]);
    p.dutSys.closeAll();
    expectBaseline(p);
  });

  it('drops the whole queue when fragments overlap (RFC 5722: ReasmOverlaps, ReasmFails)', () => {
    const p = bootPair();
    const seg = udpSegment(LAB_IP, DUT_IP, 1, 5000, pattern(2992));
    fragment(p, seg, 5, [0, 1480, true]);
    fragment(p, seg, 5, [1000, 800, true]);
    expect(p.dut.stack.ip.ext['ReasmOverlaps']).toBe(1);
    expect(p.dut.stack.ip.mib['ReasmFails']).toBe(1);
    expect([frag(p).queues, frag(p).memory]).toEqual([0, 0]);
    // Bad geometry kills a queue too: data past a known end, a fragment with no 8-byte block.
    const longer = udpSegment(LAB_IP, DUT_IP, 1, 5000, pattern(3992));
    fragment(p, seg, 6, [2960, 40, false]);
    fragment(p, longer, 6, [2960, 48, true]);
    fragment(p, seg, 7, [8, 4, true]);
    expect(p.dut.stack.ip.mib['ReasmFails']).toBe(3);
    expect(frag(p).queues).toBe(0);
    expectBaseline(p);
  });

  it('times queues out after ipfrag_time: ReasmTimeout, and ICMP time exceeded only if the first fragment came', () => {
    const p = bootPair();
    const seg = udpSegment(LAB_IP, DUT_IP, 1, 5000, pattern(2992));
    fragment(p, seg, 10, [0, 1480, true]);
    fragment(p, seg, 11, [1480, 1480, true]);
    settle(p, 29 * NS_PER_SEC);
    expect(frag(p).queues).toBe(2);
    settle(p, 2 * NS_PER_SEC);
    expect(frag(p).queues).toBe(0);
    expect(p.dut.stack.ip.mib).toMatchObject({ ReasmTimeout: 2, ReasmFails: 2 });
    expect(p.dut.stack.icmp.mib['OutTimeExcds']).toBe(1);
    expect(p.lab.stack.icmp.mib['InTimeExcds']).toBe(1);
    // A shorter ipfrag_time takes effect for new queues.
    frag(p).ipfrag_time = 5;
    fragment(p, seg, 12, [0, 1480, true]);
    settle(p, 6 * NS_PER_SEC);
    expect(p.dut.stack.ip.mib['ReasmTimeout']).toBe(3);
    expectBaseline(p);
  });

  it('above ipfrag_high_thresh refuses new queues and evicts the oldest until below ipfrag_low_thresh', () => {
    const p = bootPair();
    const f = frag(p);
    f.ipfrag_high_thresh = 20_000;
    f.ipfrag_low_thresh = 10_000;
    const seg = udpSegment(LAB_IP, DUT_IP, 1, 5000, pattern(2992));
    let peak = 0;
    for (let id = 100; id < 130; id++) {
      fragment(p, seg, id, [0, 1480, true]);
      peak = Math.max(peak, f.memory);
    }
    const one = 2 * 4096; // a queue holds at most an ipq and one fragment's truesize here
    expect(peak).toBeLessThanOrEqual(f.ipfrag_high_thresh + one);
    expect(f.stats.evictions).toBeGreaterThan(0);
    // The evictor runs as soon as the receive path is done, so here it always wins the race
    // with the next fragment and new queues are never refused.
    expect(p.dut.stack.ip.mib['ReasmFails']).toBe(f.stats.evictions + f.stats.highThreshRefusals);
    settle(p, 31 * NS_PER_SEC);
    expect(f.memory).toBe(0);
    expectBaseline(p);
  });

  it('on a 2 MiB board runs out of RAM long before the 4 MiB default threshold, drops and counts, and recovers', () => {
    const p = bootPair();
    const f = frag(p);
    const driver = p.dut.stack.drivers.get(p.dut.dev.ifindex)!;
    const seg = udpSegment(LAB_IP, DUT_IP, 1, 5000, pattern(2992));
    let peak = 0;
    for (let id = 1000; id < 1200; id++) {
      fragment(p, seg, id, [0, 1480, true]);
      peak = Math.max(peak, f.memory);
    }
    expect(peak).toBeLessThan(f.ipfrag_high_thresh);
    expect(peak).toBeLessThan(p.dut.board.ram.size);
    expect(f.stats.highThreshRefusals).toBe(0);
    // The board could not hold them all: the driver could not refill its ring, or no ipq could be had.
    expect(driver.rxAllocFailures + f.stats.allocFailures).toBeGreaterThan(0);
    expect(f.queues).toBeLessThan(200);
    settle(p, 31 * NS_PER_SEC);
    expect(f.queues).toBe(0);
    // Once the queues time out the board works again.
    const fd = listen(p, 5000);
    const whole = udpSegment(LAB_IP, DUT_IP, 1, 5000, pattern(2992));
    for (const piece of [[0, 1480, true], [1480, 1480, true], [2960, 40, false]] as Piece[]) fragment(p, whole, 9, piece);
    expect(typeof p.dutSys.recvfrom(fd)).toBe('object');
    p.dutSys.closeAll();
    expectBaseline(p);
  });

  it('refuses a queue whose hash chain is already longer than the depth limit', () => {
    const p = bootPair();
    const f = frag(p);
    const ids: number[] = [];
    for (let id = 1; ids.length < f.maxDepth + 2; id++) if (f.bucketOf(LAB_IP, DUT_IP, id, 17) === 0) ids.push(id);
    const seg = udpSegment(LAB_IP, DUT_IP, 1, 5000, pattern(64));
    for (const id of ids) fragment(p, seg, id, [0, 16, true]);
    expect(f.queues).toBe(f.maxDepth + 1);
    expect(f.stats.chainOverflows).toBe(1);
    expect(p.dut.stack.ip.mib['ReasmFails']).toBe(1);
    settle(p, 31 * NS_PER_SEC);
    expectBaseline(p);
  });
});
