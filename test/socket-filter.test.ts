// Socket filters (CONFIG_LPF_FILTER): classic BPF programs attached with SO_ATTACH_FILTER to
// packet, UDP and raw sockets on a booted DUT, their memory in board RAM, the checks made at
// attach time, the interpreter's edge cases, and the minimal profile without them.
import { describe, expect, it } from 'vitest';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { liveObjectBytes } from '../scenarios/boot.js';
import { bpfRun, type BpfPacket } from '../stack/core/bpf-interpreter.js';
import { skFilterAllocSize, type SockFilterInsn } from '../stack/core/filter.js';
import type { Syscalls } from '../stack/socket/syscalls.js';
import {
  bootPair, DUT_IP, expectBaseline, inject, ipPacket, LAB_IP, pattern, settle, toDut, udpSegment,
  type Pair,
} from './helpers/lab-pair.js';
import { ETH_P_ALL } from '../stack/uapi/if-ether.js';
import { AF_INET, AF_PACKET, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';
import {
  SKF_AD_IFINDEX, SKF_AD_OFF, SKF_AD_PKTTYPE, SKF_AD_PROTOCOL, SKF_LL_OFF, SKF_NET_OFF,
} from '../stack/uapi/filter.js';

type Insn = [code: number, jt: number, jf: number, k: number];
const prog = (insns: Insn[]): SockFilterInsn[] => insns.map(([code, jt, jf, k]) => ({ code, jt, jf, k: k >>> 0 }));

/** struct sock_filter[] as bytes (little-endian, as on i386). */
function progBytes(insns: Insn[]): Uint8Array {
  const b = new Uint8Array(insns.length * 8);
  const v = new DataView(b.buffer);
  insns.forEach(([code, jt, jf, k], i) => {
    v.setUint16(i * 8, code, true);
    b[i * 8 + 2] = jt;
    b[i * 8 + 3] = jf;
    v.setUint32(i * 8 + 4, k >>> 0, true);
  });
  return b;
}

/** `tcpdump -dd 'udp dst port 9'` (Ethernet; IPv6 and IPv4 branches), as tcpdump prints it. */
const UDP_DST_PORT_9: Insn[] = [
  [0x28, 0, 0, 0x0000000c], // ldh [12]               ethertype
  [0x15, 0, 4, 0x000086dd], // jeq #0x86dd            IPv6?
  [0x30, 0, 0, 0x00000014], // ldb [20]               next header
  [0x15, 0, 11, 0x00000011], // jeq #17
  [0x28, 0, 0, 0x00000038], // ldh [56]               UDP dst port
  [0x15, 8, 9, 0x00000009], // jeq #9
  [0x15, 0, 8, 0x00000800], // jeq #0x800             IPv4?
  [0x30, 0, 0, 0x00000017], // ldb [23]               protocol
  [0x15, 0, 6, 0x00000011], // jeq #17
  [0x28, 0, 0, 0x00000014], // ldh [20]               fragment offset
  [0x45, 4, 0, 0x00001fff], // jset #0x1fff           not the first fragment: no
  [0xb1, 0, 0, 0x0000000e], // ldxb 4*([14]&0xf)      IP header length
  [0x48, 0, 0, 0x00000010], // ldh [x + 16]           UDP dst port
  [0x15, 0, 1, 0x00000009], // jeq #9
  [0x06, 0, 0, 0x00040000], // ret #262144
  [0x06, 0, 0, 0x00000000], // ret #0
];

/**
 * For a UDP socket the program's offset 0 is the UDP header (the filter runs in
 * udp_queue_rcv_one_skb); the IP header is reached through SKF_NET_OFF. Accepts UDP from
 * source port 9 only.
 */
const UDP_SRC_PORT_9: Insn[] = [
  [0x30, 0, 0, SKF_NET_OFF + 9], // ldb [net + 9]        IP protocol
  [0x15, 0, 3, 17], //              jeq #17
  [0x28, 0, 0, 0], //               ldh [0]              UDP source port
  [0x15, 0, 1, 9], //               jeq #9
  [0x06, 0, 0, 0xffff], //          ret #65535
  [0x06, 0, 0, 0], //               ret #0
];

const RET_ALL: Insn = [0x06, 0, 0, 0xffffffff];

/**
 * What SO_ATTACH_FILTER allocates for `n` instructions: one kmalloc, on SLOB (full's allocator,
 * mm/slob.c) the size plus an 8-byte size header (ARCH_KMALLOC_MINALIGN on i386), rounded to
 * 2-byte SLOB units.
 */
function filterBytes(p: Pair, n: number): number {
  const size = skFilterAllocSize(p.dut.stack.env.structs, n);
  expect(size).toBe(16 + 48 + 8 * n); // sk_filter + bpf_prog + the instructions
  return 2 * Math.ceil((size + 8) / 2);
}

function udpFrom(p: Pair, sport: number, dport: number, payload: Uint8Array, id = 1): Uint8Array {
  return toDut(p, ipPacket({ id, protocol: 17, payload: udpSegment(LAB_IP, DUT_IP, sport, dport, payload) }));
}

function received(sys: Syscalls, fd: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (;;) {
    const r = sys.recvfrom(fd);
    if (typeof r === 'number') {
      expect(r).toBe(-Errno.EAGAIN);
      return out;
    }
    out.push(r.data);
  }
}

function udpInErrors(p: Pair): number {
  return p.dut.stack.mib.snapshot()['Udp']!['InErrors']!;
}

function udpSocket(sys: Syscalls, port: number): number {
  const fd = sys.socket(AF_INET, SOCK_DGRAM, 0);
  expect(fd).toBeGreaterThanOrEqual(0);
  expect(sys.bind(fd, { addr: 0, port })).toBe(0); // INADDR_ANY
  return fd;
}

describe('socket filters (full profile)', () => {
  it("tcpdump's 'udp dst port 9' on a packet socket passes port-9 datagrams and drops the rest; its RAM is one kmalloc", () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const ram = p.dut.board.ram;
    const fd = p.dutSys.socket(AF_PACKET, SOCK_RAW, ETH_P_ALL);
    expect(p.dutSys.bind(fd, { ifindex: p.dut.dev.ifindex, protocol: 0 })).toBe(0);
    const before = liveObjectBytes(ram);
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', prog(UDP_DST_PORT_9))).toBe(0);
    expect(liveObjectBytes(ram) - before).toBe(filterBytes(p, 16)); // 192 + 8 = 200
    // Port 9 twice, port 10, port 90 (its low byte is not 9 either), and an ICMP echo.
    const to9a = udpFrom(p, 5000, 9, pattern(30, 1), 1);
    const to9b = udpFrom(p, 5001, 9, pattern(31, 2), 2);
    for (const f of [to9a, udpFrom(p, 5000, 10, pattern(30), 3), udpFrom(p, 5000, 90, pattern(30), 4), to9b]) inject(p, f);
    inject(p, toDut(p, ipPacket({ protocol: 1, id: 5, payload: Uint8Array.from([8, 0, 0xf7, 0xfe, 0, 1, 0, 0]) })));
    settle(p, 5 * NS_PER_MS);
    // Only the two port-9 datagrams came through — not the ARP, the port unreachables or the
    // echo reply the DUT sent meanwhile, which the socket sees as ETH_P_ALL without a filter.
    expect(received(p.dutSys, fd)).toEqual([to9a, to9b]);
    // A frame the filter rejects is not a drop (packet_rcv's drop_n_restore).
    expect(p.dutSys.packetStatistics(fd)).toEqual({ tp_packets: 2, tp_drops: 0 });
    // Re-attaching replaces the program (the old one is freed); the byte form works too.
    // (Measured afresh: the traffic left the lab's neighbour entry on the DUT.)
    const withFilter = liveObjectBytes(ram);
    const withoutFilter = withFilter - filterBytes(p, 16);
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', progBytes([[0x06, 0, 0, 20]]))).toBe(0);
    expect(liveObjectBytes(ram) - withoutFilter).toBe(filterBytes(p, 1)); // 72 + 8 = 80
    inject(p, to9a);
    settle(p, NS_PER_MS);
    // ret #20: the snap length; the socket gets the first 20 bytes of every frame — the
    // datagram and the port unreachable the DUT answers it with.
    const cut = received(p.dutSys, fd);
    expect(cut.map((f) => f.length)).toEqual([20, 20]);
    expect(cut[0]).toEqual(to9a.subarray(0, 20));
    expect(cut[1]!.subarray(0, 6)).toEqual(p.lab.dev.hwAddr);
    expect(p.dutSys.setsockopt(fd, 'SO_DETACH_FILTER')).toBe(0);
    expect(p.dutSys.setsockopt(fd, 'SO_DETACH_FILTER')).toBe(-Errno.ENOENT);
    expect(liveObjectBytes(ram)).toBe(withoutFilter);
    p.dutSys.close(fd);
    expectBaseline(p);
  });

  it('on a UDP socket bound to INADDR_ANY: runs from the UDP header, drops count InErrors and sk_drops, a verdict truncates', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const ram = p.dut.board.ram;
    const fd = udpSocket(p.dutSys, 7);
    const before = liveObjectBytes(ram);
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', prog(UDP_SRC_PORT_9))).toBe(0);
    expect(liveObjectBytes(ram) - before).toBe(filterBytes(p, 6)); // 112 + 8 = 120
    const errors0 = udpInErrors(p);
    for (const [sport, seed] of [[9, 1], [10, 2], [9, 3], [53, 4]] as const) inject(p, udpFrom(p, sport, 7, pattern(20, seed), seed));
    settle(p, 5 * NS_PER_MS);
    expect(received(p.dutSys, fd)).toEqual([pattern(20, 1), pattern(20, 3)]);
    // Linux 6.1 udp_queue_rcv_one_skb: a filter drop goes to "drop", which counts both.
    expect(udpInErrors(p) - errors0).toBe(2);
    expect(p.dutSys.meminfo(fd)).toMatchObject({ drops: 2, rmem_alloc: 0 });
    // A verdict below the datagram's length cuts it (never below the 8-byte UDP header).
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', prog([[0x06, 0, 0, 12]]))).toBe(0);
    inject(p, udpFrom(p, 10, 7, pattern(20, 5), 5));
    const tiny = udpSocket(p.dutSys, 8);
    expect(p.dutSys.setsockopt(tiny, 'SO_ATTACH_FILTER', prog([[0x06, 0, 0, 3]]))).toBe(0);
    inject(p, udpFrom(p, 10, 8, pattern(20, 6), 6));
    settle(p, 5 * NS_PER_MS);
    expect(received(p.dutSys, fd)).toEqual([pattern(20, 5).subarray(0, 4)]);
    expect(received(p.dutSys, tiny)).toEqual([new Uint8Array(0)]); // the cap: the header stays, no payload
    p.dutSys.close(tiny);
    // Closing frees the filter with the socket.
    p.dutSys.close(fd);
    expect(liveObjectBytes(ram)).toBeLessThan(before);
    expectBaseline(p);
  });

  it('on a raw socket: offset 0 is the IP header; a rejected packet is dropped uncounted', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const fd = p.dutSys.socket(AF_INET, SOCK_RAW, 1);
    expect(fd).toBeGreaterThanOrEqual(0);
    // ldxb 4*([0]&0xf); ldb [x+0]; jeq #8 → keep 28 bytes (IP header and ICMP header), else drop.
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', prog([[0xb1, 0, 0, 0], [0x50, 0, 0, 0], [0x15, 0, 1, 8], [0x06, 0, 0, 28], [0x06, 0, 0, 0]]))).toBe(0);
    const echo = ipPacket({ protocol: 1, id: 7, payload: Uint8Array.from([8, 0, 0xf7, 0xf8, 0, 1, 0, 6, 1, 2, 3, 4]) });
    const reply = ipPacket({ protocol: 1, id: 8, payload: Uint8Array.from([0, 0, 0xff, 0xf8, 0, 1, 0, 6, 1, 2, 3, 4]) });
    inject(p, toDut(p, echo));
    inject(p, toDut(p, reply));
    settle(p, 5 * NS_PER_MS);
    expect(received(p.dutSys, fd)).toEqual([echo.subarray(0, 28)]);
    expect(p.dutSys.meminfo(fd)).toMatchObject({ drops: 0 });
    p.dutSys.close(fd);
    expectBaseline(p);
  });

  it('rejects malformed programs at attach with -EINVAL and keeps nothing', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const ram = p.dut.board.ram;
    const fd = udpSocket(p.dutSys, 7);
    const before = liveObjectBytes(ram);
    const bad: Record<string, Insn[]> = {
      empty: [],
      'longer than BPF_MAXINSNS': Array.from({ length: 4097 }, () => RET_ALL),
      'unknown opcode': [[0x3f, 0, 0, 0], RET_ALL],
      'RET X is not allowed': [[0x0e, 0, 0, 0]],
      'jump past the end': [[0x15, 5, 0, 1], RET_ALL],
      'JA past the end': [[0x05, 0, 0, 1], RET_ALL],
      'no RET at the end': [[0x00, 0, 0, 1]],
      'division by constant 0': [[0x34, 0, 0, 0], RET_ALL],
      'modulo by constant 0': [[0x94, 0, 0, 0], RET_ALL],
      'shift by 32': [[0x64, 0, 0, 32], RET_ALL],
      'scratch cell 16': [[0x02, 0, 0, 16], RET_ALL],
      'scratch read before any store': [[0x60, 0, 0, 3], [0x16, 0, 0, 0]],
      'scratch stored on one path only': [[0x00, 0, 0, 1], [0x15, 0, 1, 1], [0x02, 0, 0, 0], [0x60, 0, 0, 0], [0x16, 0, 0, 0]],
      'unknown ancillary load': [[0x20, 0, 0, SKF_AD_OFF + 2], RET_ALL],
    };
    for (const [why, insns] of Object.entries(bad)) {
      expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', prog(insns)), why).toBe(-Errno.EINVAL);
      expect(liveObjectBytes(ram), why).toBe(before);
    }
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', new Uint8Array(12))).toBe(-Errno.EINVAL); // not whole sock_filters
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', [{ code: 6, jt: 256, jf: 0, k: 0 }])).toBe(-Errno.EINVAL);
    // The well-formed twin of the last scratch case (stored before the branch) is accepted.
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', prog([[0x00, 0, 0, 1], [0x02, 0, 0, 0], [0x15, 0, 1, 1], [0x60, 0, 0, 0], [0x16, 0, 0, 0]]))).toBe(0);
    expect(p.dutSys.setsockopt(fd, 'SO_DETACH_FILTER')).toBe(0);
    // k may be written as a negative int32, as C code writes SKF_NET_OFF.
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', [{ code: 0x30, jt: 0, jf: 0, k: -0x100000 + 9 }, { code: 0x16, jt: 0, jf: 0, k: 0 }])).toBe(0);
    expect(p.dutSys.setsockopt(fd, 'SO_DETACH_FILTER')).toBe(0);
    // A program over net.core.optmem_max (10240 on a 32-bit kernel) is refused as __sk_filter_charge does.
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', prog(Array.from({ length: 1300 }, () => RET_ALL)))).toBe(-Errno.ENOMEM);
    expect(liveObjectBytes(ram)).toBe(before);
    // TCP's receive path does not run filters in quarklab: refused rather than silently ignored.
    const tcp = p.dutSys.socket(AF_INET, SOCK_STREAM, 0);
    expect(p.dutSys.setsockopt(tcp, 'SO_ATTACH_FILTER', prog([RET_ALL]))).toBe(-Errno.EOPNOTSUPP);
    p.dutSys.close(tcp);
    p.dutSys.close(fd);
    expectBaseline(p);
  });

  it('out-of-bounds loads and division by X = 0 end the program with 0: the datagram is dropped', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const programs: Record<string, Insn[]> = {
      'ldh past the end': [[0x28, 0, 0, 1000], RET_ALL],
      'ld [x+k] past the end': [[0x01, 0, 0, 25], [0x40, 0, 0, 0], RET_ALL], // ldx #25; ld [x+0]: bytes 25..28 of 28
      'ldxb msh past the end': [[0xb1, 0, 0, 5000], RET_ALL],
      'below the link-layer header': [[0x30, 0, 0, SKF_LL_OFF - 1], RET_ALL],
      'div x with x = 0': [[0x01, 0, 0, 0], [0x00, 0, 0, 5], [0x3c, 0, 0, 0], RET_ALL],
      'mod x with x = 0': [[0x01, 0, 0, 0], [0x00, 0, 0, 5], [0x9c, 0, 0, 0], RET_ALL],
    };
    let port = 1000;
    for (const [why, insns] of Object.entries(programs)) {
      const fd = udpSocket(p.dutSys, ++port);
      expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', prog(insns)), why).toBe(0);
      inject(p, udpFrom(p, 9, port, pattern(20)));
      settle(p, NS_PER_MS);
      expect(received(p.dutSys, fd), why).toEqual([]);
      expect(p.dutSys.meminfo(fd), why).toMatchObject({ drops: 1 });
      p.dutSys.close(fd);
    }
    // In bounds, the same loads work: the last byte, and the lab's MAC through SKF_LL_OFF.
    const fd = udpSocket(p.dutSys, 2000);
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', prog([
      [0x30, 0, 0, 27], [0x15, 0, 3, pattern(20)[19]!], // ldb [27]: the datagram's last byte
      [0x30, 0, 0, SKF_LL_OFF + 11], [0x15, 0, 1, p.lab.dev.hwAddr[5]!], // ldb [ll + 11]: source MAC
      RET_ALL, [0x06, 0, 0, 0],
    ]))).toBe(0);
    inject(p, udpFrom(p, 9, 2000, pattern(20)));
    settle(p, NS_PER_MS);
    expect(received(p.dutSys, fd)).toEqual([pattern(20)]);
    p.dutSys.close(fd);
    expectBaseline(p);
  });
});

describe('the classic BPF interpreter', () => {
  /** Run `insns` over `bytes` as a packet whose network header is at 14 and link header at 0. */
  function run(insns: Insn[], bytes: Uint8Array, data = 14): number {
    const code = progBytes(insns);
    const pkt: BpfPacket = { bytes, data, len: bytes.length - data, head: 0, network: 14, mac: 0, protocol: 0x0800, pktType: 0, ifindex: 2 };
    return bpfRun({ bytes: code, insns: 0, len: insns.length }, pkt, { random: () => 4 });
  }
  const pkt = Uint8Array.from({ length: 64 }, (_, i) => i);

  it('implements the ALU, jumps, scratch memory and registers with 32-bit unsigned semantics', () => {
    const retA: Insn = [0x16, 0, 0, 0];
    expect(run([[0x00, 0, 0, 0xfffffff0], [0x04, 0, 0, 0x20], retA], pkt)).toBe(0x10); // add wraps
    expect(run([[0x00, 0, 0, 3], [0x14, 0, 0, 5], retA], pkt)).toBe(0xfffffffe); // sub wraps
    expect(run([[0x00, 0, 0, 0x10000], [0x24, 0, 0, 0x10001], retA], pkt)).toBe(0x10000); // mul mod 2^32
    expect(run([[0x00, 0, 0, 0xffffffff], [0x34, 0, 0, 16], retA], pkt)).toBe(0x0fffffff); // unsigned div
    expect(run([[0x00, 0, 0, 17], [0x94, 0, 0, 5], retA], pkt)).toBe(2);
    expect(run([[0x00, 0, 0, 0x80000000], [0x74, 0, 0, 31], retA], pkt)).toBe(1); // logical shift
    expect(run([[0x01, 0, 0, 33], [0x00, 0, 0, 1], [0x6c, 0, 0, 0], retA], pkt)).toBe(2); // lsh x: low 5 bits
    expect(run([[0x00, 0, 0, 5], [0x84, 0, 0, 0], retA], pkt)).toBe(0xfffffffb); // neg
    expect(run([[0x00, 0, 0, 0xf0], [0x54, 0, 0, 0x3c], [0x44, 0, 0, 1], [0xa4, 0, 0, 0xff], retA], pkt)).toBe(0xce);
    // tax / txa, st / ldx mem, len.
    expect(run([[0x00, 0, 0, 7], [0x07, 0, 0, 0], [0x00, 0, 0, 0], [0x87, 0, 0, 0], retA], pkt)).toBe(7);
    expect(run([[0x00, 0, 0, 9], [0x02, 0, 0, 15], [0x00, 0, 0, 0], [0x61, 0, 0, 15], [0x87, 0, 0, 0], retA], pkt)).toBe(9);
    expect(run([[0x80, 0, 0, 0], retA], pkt)).toBe(50); // skb->len from data
    // Loads are big-endian (network order), relative to data; negative offsets reach the headers.
    expect(run([[0x20, 0, 0, 0], retA], pkt)).toBe(0x0e0f1011);
    expect(run([[0x28, 0, 0, SKF_NET_OFF + 2], retA], pkt)).toBe(0x1011);
    expect(run([[0x30, 0, 0, SKF_LL_OFF + 12], retA], pkt)).toBe(12);
    expect(run([[0x20, 0, 0, 46], retA], pkt)).toBe(0x3c3d3e3f); // the last word
    expect(run([[0x20, 0, 0, 47], retA], pkt)).toBe(0); // one byte over
    // Jumps: jgt / jge / jset on K and X, and ja.
    const ret1: Insn = [0x06, 0, 0, 1];
    const ret2: Insn = [0x06, 0, 0, 2];
    expect(run([[0x00, 0, 0, 5], [0x25, 0, 1, 5], ret1, ret2], pkt)).toBe(2); // 5 > 5: no
    expect(run([[0x00, 0, 0, 5], [0x35, 0, 1, 5], ret1, ret2], pkt)).toBe(1); // 5 >= 5
    expect(run([[0x00, 0, 0, 6], [0x45, 0, 1, 2], ret1, ret2], pkt)).toBe(1); // 6 & 2
    expect(run([[0x01, 0, 0, 6], [0x00, 0, 0, 6], [0x1d, 1, 0, 0], ret1, ret2], pkt)).toBe(2); // jeq x
    expect(run([[0x05, 0, 0, 1], ret1, ret2], pkt)).toBe(2); // ja
    // Ancillary loads: ethertype, pkt_type, ifindex.
    expect(run([[0x28, 0, 0, SKF_AD_OFF + SKF_AD_PROTOCOL], retA], pkt)).toBe(0x0800);
    expect(run([[0x20, 0, 0, SKF_AD_OFF + SKF_AD_PKTTYPE], retA], pkt)).toBe(0);
    expect(run([[0x20, 0, 0, SKF_AD_OFF + SKF_AD_IFINDEX], retA], pkt)).toBe(2);
  });
});

describe('without LPF_FILTER (minimal profile)', () => {
  it('SO_ATTACH_FILTER is an unknown option and the socket receives everything', () => {
    const p = bootPair({ dutBoard: 'quark-2m', dutProfile: 'minimal' });
    expect(p.dut.stack.filter).toBeNull();
    const ram = p.dut.board.ram;
    const fd = udpSocket(p.dutSys, 7);
    const before = liveObjectBytes(ram);
    expect(p.dutSys.setsockopt(fd, 'SO_ATTACH_FILTER', prog(UDP_SRC_PORT_9))).toBe(-Errno.ENOPROTOOPT);
    expect(p.dutSys.setsockopt(fd, 'SO_DETACH_FILTER')).toBe(-Errno.ENOPROTOOPT);
    expect(liveObjectBytes(ram)).toBe(before);
    inject(p, udpFrom(p, 9, 7, pattern(20, 1), 1));
    inject(p, udpFrom(p, 10, 7, pattern(20, 2), 2));
    settle(p, 5 * NS_PER_MS);
    expect(received(p.dutSys, fd)).toEqual([pattern(20, 1), pattern(20, 2)]);
    p.dutSys.close(fd);
    expectBaseline(p);
  });
});
