// Packet sockets (CONFIG_PACKET) and their mmap'd receive rings (CONFIG_PACKET_MMAP) on a
// booted DUT: the taps in the device layer, frames compared byte for byte with what crossed the
// lab host's MAC, receive-buffer and ring accounting, and the profiles without them.
import { afterAll, describe, expect, it } from 'vitest';
import { NS_PER_MS } from '../emulator/event-queue.js';
import type { FrameDirection } from '../emulator/ethernet-mac.js';
import { liveObjectBytes } from '../scenarios/boot.js';
import { withSymbol } from './helpers/features.js';
import { removeTempDirs } from './helpers/run.js';
import { type SockaddrLl } from '../stack/uapi/if-packet.js';
import type { Syscalls } from '../stack/socket/syscalls.js';
import {
  bootPair, drain, DUT_IP, ethFrame, expectBaseline, inject, ipPacket, LAB_IP, pattern, settle,
  toDut, udpSegment, type Pair,
} from './helpers/lab-pair.js';
import { readU32le } from '../stack/uapi/byte-order.js';
import { ETH_P_ALL, ETH_P_ARP, ETH_P_IP } from '../stack/uapi/if-ether.js';
import {
  PACKET_HOST, PACKET_OUTGOING, TPACKET_V2, TP_STATUS_KERNEL, TP_STATUS_LOSING, TP_STATUS_USER,
  type TpacketReq,
} from '../stack/uapi/if-packet.js';
import { IPPROTO_ICMP } from '../stack/uapi/in.js';
import { AF_INET, AF_PACKET, SOCK_DGRAM, SOCK_RAW } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

/** A local experimental ethertype (IEEE 802 "local experimental 1"): no kernel handler has it. */
const ETH_P_EXP = 0x88b5;
const PAGE = 4096;

interface Seen {
  direction: FrameDirection;
  frame: Uint8Array;
}

/** Every frame the lab host's MAC sends or receives. */
function recordLab(p: Pair): Seen[] {
  const seen: Seen[] = [];
  p.lab.board.mac.addTap((e) => {
    if (!e.drop) seen.push({ direction: e.direction, frame: e.frame.slice() });
  });
  return seen;
}

function packetSocket(sys: Syscalls, type: number, protocol: number, ifindex: number): number {
  const fd = sys.socket(AF_PACKET, type, protocol);
  expect(fd).toBeGreaterThanOrEqual(0);
  expect(sys.bind(fd, { family: AF_PACKET, ifindex, protocol: 0 })).toBe(0);
  return fd;
}

/** An ICMP echo request message for a ping socket (the kernel fills id and checksum). */
function echoRequest(seq: number, payload: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + payload.length);
  m[0] = 8;
  m[6] = seq >> 8;
  m[7] = seq & 0xff;
  m.set(payload, 8);
  return m;
}

/** The DUT's own frame as the wire carries it: what was handed to the driver, then zero padding to 60 bytes. */
function expectSameFrame(captured: Uint8Array, onWire: Uint8Array): void {
  expect(onWire.length).toBe(Math.max(60, captured.length));
  expect(onWire.subarray(0, captured.length)).toEqual(captured);
  expect(onWire.subarray(captured.length).every((b) => b === 0)).toBe(true);
}

/** RAM in use outside slab caches and kmalloc-large: page allocations such as ring blocks. */
function pageLevelBytes(ram: Pair['dut']['board']['ram']): number {
  return ram.usage().usedBytes - ram.slabPages() * PAGE;
}

/** Four blocks of one page, two 2 KiB frames in each. */
const req: TpacketReq = { tp_block_size: 4096, tp_block_nr: 4, tp_frame_size: 2048, tp_frame_nr: 8 };

/**
 * Open a SOCK_RAW packet socket and give it a TPACKET_V2 `req` ring, checking the ring took four
 * order-0 blocks from the page allocator. The figures taken once the socket existed and before
 * the ring: pages in use, page-level bytes and live object bytes.
 */
function socketWithRing(p: Pair): { fd: number; used0: number; pages0: number; objects0: number } {
  const ram = p.dut.board.ram;
  const fd = packetSocket(p.dutSys, SOCK_RAW, ETH_P_EXP, p.dut.dev.ifindex);
  const used0 = ram.usage().usedBytes;
  const pages0 = pageLevelBytes(ram);
  const objects0 = liveObjectBytes(ram);
  expect(p.dutSys.setsockopt(fd, 'PACKET_VERSION', TPACKET_V2)).toBe(0);
  expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', req)).toBe(0);
  expect(pageLevelBytes(ram) - pages0).toBe(4 * PAGE);
  return { fd, used0, pages0, objects0 };
}

function experimentalFrame(p: Pair, n: number, size = 100): Uint8Array {
  return ethFrame(p.dut.dev.hwAddr, p.lab.dev.hwAddr, ETH_P_EXP, pattern(size, n));
}

describe('packet sockets (full profile)', () => {
  it('see the ARP and ICMP frames of a ping in both directions, byte for byte as they crossed the wire', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const wire = recordLab(p);
    const fd = packetSocket(p.dutSys, SOCK_RAW, ETH_P_ALL, p.dut.dev.ifindex);
    const ping = p.dutSys.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    expect(ping).toBeGreaterThanOrEqual(0);
    expect(p.dutSys.sendto(ping, echoRequest(1, pattern(24)), { addr: LAB_IP, port: 0 })).toBe(32);
    settle(p, 10 * NS_PER_MS);
    expect(typeof p.dutSys.recvfrom(ping)).toBe('object'); // the ping was answered

    const got = drain(p.dutSys, fd);
    // ARP request out, ARP reply in, echo request out, echo reply in: the four frames the lab saw.
    expect(got.map((d) => [d.sll!.protocol, d.sll!.pkttype])).toEqual([
      [ETH_P_ARP, PACKET_OUTGOING],
      [ETH_P_ARP, PACKET_HOST],
      [ETH_P_IP, PACKET_OUTGOING],
      [ETH_P_IP, PACKET_HOST],
    ]);
    expect(wire.map((s) => s.direction)).toEqual(['inbound', 'outbound', 'inbound', 'outbound']);
    for (let i = 0; i < 4; i++) {
      const d = got[i]!;
      if (d.sll!.pkttype === PACKET_OUTGOING) {
        // Copied before the driver pads it, as dev_queue_xmit_nit does; the lab got it padded.
        expectSameFrame(d.data, wire[i]!.frame);
        expect(d.sll!.addr).toEqual(p.dut.dev.hwAddr);
      } else {
        expect(d.data).toEqual(wire[i]!.frame); // what the lab sent, padding and all
        expect(d.sll!.addr).toEqual(p.lab.dev.hwAddr);
      }
      expect(d.sll!.ifindex).toBe(p.dut.dev.ifindex);
    }
    // The echo request really is ours: ICMP type 8 to the lab's address, type 0 back.
    expect(got[2]!.data[14 + 20]).toBe(8);
    expect(got[3]!.data[14 + 20]).toBe(0);
    expect(p.dutSys.packetStatistics(fd)).toEqual({ tp_packets: 4, tp_drops: 0 });
    expect(p.dutSys.packetStatistics(fd)).toEqual({ tp_packets: 0, tp_drops: 0 }); // read resets
    expect(p.dutSys.close(ping)).toBe(0);
    expect(p.dutSys.close(fd)).toBe(0);
    expect(p.dut.stack.packet!.count).toBe(0);
    expectBaseline(p);
  });

  it('SOCK_DGRAM strips the Ethernet header; a protocol socket sees only received frames of its ethertype', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const ifindex = p.dut.dev.ifindex;
    const dgram = packetSocket(p.dutSys, SOCK_DGRAM, ETH_P_IP, ifindex);
    const all = packetSocket(p.dutSys, SOCK_RAW, ETH_P_ALL, ifindex);
    const ip = ipPacket({ protocol: 17, payload: udpSegment(LAB_IP, DUT_IP, 4000, 5555, pattern(64)) });
    const frame = toDut(p, ip);
    inject(p, frame);
    settle(p, NS_PER_MS);
    const d = drain(p.dutSys, dgram);
    expect(d).toHaveLength(1);
    expect(d[0]!.data).toEqual(ip); // from the IP header: no Ethernet header
    expect(d[0]!.sll).toMatchObject({ family: AF_PACKET, protocol: ETH_P_IP, ifindex, pkttype: PACKET_HOST, halen: 6 });
    expect(d[0]!.sll!.addr).toEqual(p.lab.dev.hwAddr);
    // Nothing listens on 5555, so the DUT answered with a port unreachable: ETH_P_ALL sees
    // both, the ETH_P_IP socket not the outgoing one (dev_queue_xmit_nit feeds ptype_all only).
    // (The DUT resolves the lab's address first: an ARP request out and its reply in.)
    const a = drain(p.dutSys, all);
    expect(a.map((x) => [x.sll!.protocol, x.sll!.pkttype])).toEqual([
      [ETH_P_IP, PACKET_HOST],
      [ETH_P_ARP, PACKET_OUTGOING],
      [ETH_P_ARP, PACKET_HOST],
      [ETH_P_IP, PACKET_OUTGOING],
    ]);
    expect(a[0]!.data).toEqual(frame);
    expect(a[3]!.data[14 + 20]).toBe(3); // ICMP destination unreachable
    p.dutSys.close(dgram);
    p.dutSys.close(all);
    expectBaseline(p);
  });

  it('send crafted frames: SOCK_RAW writes the header, SOCK_DGRAM has it written; both reach the lab host', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const ifindex = p.dut.dev.ifindex;
    const wire = recordLab(p);
    const labUdp = p.labSys.socket(AF_INET, SOCK_DGRAM, 0);
    expect(p.labSys.bind(labUdp, { addr: 0, port: 7777 })).toBe(0);
    // Crafted frames carry their own addresses: no ARP is involved.
    const raw = packetSocket(p.dutSys, SOCK_RAW, ETH_P_ALL, ifindex);
    const watcher = packetSocket(p.dutSys, SOCK_RAW, ETH_P_ALL, ifindex);
    const payload = pattern(40, 3);
    const frame = ethFrame(p.lab.dev.hwAddr, p.dut.dev.hwAddr, ETH_P_IP,
      ipPacket({ src: DUT_IP, dst: LAB_IP, protocol: 17, payload: udpSegment(DUT_IP, LAB_IP, 4000, 7777, payload) }));
    expect(p.dutSys.sendto(raw, frame)).toBe(frame.length);
    const dgram = p.dutSys.socket(AF_PACKET, SOCK_DGRAM, 0);
    const ip2 = ipPacket({ src: DUT_IP, dst: LAB_IP, protocol: 17, id: 2, payload: udpSegment(DUT_IP, LAB_IP, 4001, 7777, pattern(12, 9)) });
    const to: SockaddrLl = { family: AF_PACKET, ifindex, protocol: ETH_P_IP, halen: 6, addr: p.lab.dev.hwAddr };
    expect(p.dutSys.sendto(dgram, ip2, to)).toBe(ip2.length);
    settle(p, NS_PER_MS);
    // On the wire exactly as written (the second padded to 60 bytes by the MAC driver).
    expect(wire.filter((s) => s.direction === 'inbound').map((s) => s.frame)).toEqual([
      frame,
      Uint8Array.from([...ethFrame(p.lab.dev.hwAddr, p.dut.dev.hwAddr, ETH_P_IP, ip2), ...new Uint8Array(60 - 14 - ip2.length)]),
    ]);
    // And the lab's stack took them as any datagram.
    const r1 = p.labSys.recvfrom(labUdp);
    const r2 = p.labSys.recvfrom(labUdp);
    if (typeof r1 === 'number' || typeof r2 === 'number') throw new Error('lab received nothing');
    expect(r1).toMatchObject({ data: payload, from: { addr: DUT_IP, port: 4000 } });
    expect(r2).toMatchObject({ data: pattern(12, 9), from: { addr: DUT_IP, port: 4001 } });
    // skb_loop_sk: a sender does not see its own frame; other ETH_P_ALL sockets do.
    const second = ethFrame(p.lab.dev.hwAddr, p.dut.dev.hwAddr, ETH_P_IP, ip2);
    expect(drain(p.dutSys, raw).map((x) => x.data)).toEqual([second]);
    expect(drain(p.dutSys, watcher).map((x) => x.data)).toEqual([frame, second]);
    // Errors as packet_snd gives them.
    expect(p.dutSys.sendto(raw, new Uint8Array(10))).toBe(-Errno.EINVAL); // shorter than a header
    expect(p.dutSys.sendto(raw, new Uint8Array(1500 + 15))).toBe(-Errno.EMSGSIZE);
    expect(p.dutSys.sendto(dgram, ip2)).toBe(-Errno.ENXIO); // unbound, no address: no device
    expect(p.dutSys.sendto(raw, frame, { addr: LAB_IP, port: 1 })).toBe(-Errno.EINVAL); // not a sockaddr_ll
    const udp = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
    expect(p.dutSys.sendto(udp, frame, to)).toBe(-Errno.EAFNOSUPPORT);
    expect(p.dutSys.bind(raw, { ifindex: 99, protocol: 0 })).toBe(-Errno.ENODEV);
    expect(p.dutSys.bind(raw, { addr: 0, port: 9 })).toBe(-Errno.EINVAL); // a sockaddr_in
    expect(p.dutSys.connect(raw, { addr: LAB_IP, port: 9 })).toBe(-Errno.EOPNOTSUPP);
    for (const fd of [raw, watcher, dgram, udp]) p.dutSys.close(fd);
    p.labSys.close(labUdp);
    expectBaseline(p);
  });

  it('charges copies to the receive buffer: a full one drops and counts (tp_drops, sk_drops)', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const fd = packetSocket(p.dutSys, SOCK_RAW, ETH_P_EXP, p.dut.dev.ifindex);
    expect(p.dutSys.setsockopt(fd, 'SO_RCVBUF', 1)).toBe(0); // the minimum: 4096 bytes
    const n = 12;
    for (let i = 0; i < n; i++) inject(p, experimentalFrame(p, i, 200));
    settle(p, 5 * NS_PER_MS);
    const info = p.dutSys.meminfo(fd);
    if (typeof info === 'number') throw new Error('meminfo failed');
    // Each copy of a 214-byte frame is a kmalloc-512 buffer (256 bytes of data, 256 of
    // skb_shared_info) and a 192-byte sk_buff slot: 704 bytes of truesize. Copies are admitted
    // while rmem_alloc < rcvbuf (4096): six of them.
    const truesize = 704;
    const queued = 6;
    expect(info.rcvbuf).toBe(4096);
    expect(info.rmem_alloc).toBe(queued * truesize);
    expect(info.drops).toBe(n - queued);
    expect(p.dutSys.packetStatistics(fd)).toEqual({ tp_packets: n, tp_drops: n - queued });
    expect(p.dut.dev.stats.rx_nohandler).toBe(0); // the socket is the ethertype's handler
    const got = drain(p.dutSys, fd);
    expect(got.map((d) => d.data)).toEqual([0, 1, 2, 3, 4, 5].map((i) => experimentalFrame(p, i, 200)));
    p.dutSys.close(fd);
    // With no packet socket the same frames have no handler at all.
    inject(p, experimentalFrame(p, 99));
    settle(p, NS_PER_MS);
    expect(p.dut.dev.stats.rx_nohandler).toBe(1);
    expectBaseline(p);
  });
});

describe('packet socket rings (PACKET_MMAP)', () => {
  afterAll(removeTempDirs);

  it('allocate exactly the ring pages and free them on close (SLUB: the pg_vec slab is kept)', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: withSymbol('full', 'SLUB') });
    expect(p.dut.board.ram.allocator).toBe('slub');
    const ram = p.dut.board.ram;
    const usedBeforeSocket = ram.usage().usedBytes;
    const emptyBeforeSocket = ram.emptySlabBytes();
    const { fd, used0, pages0, objects0 } = socketWithRing(p);
    // Besides the ring's pages, the 16-byte pg_vec, a kmalloc-16 object: the first one on this board, so the
    // cache takes its first slab page for it. The leak check's figure counts both: the ring's
    // pages whole, the pg_vec at its object size.
    expect(liveObjectBytes(ram) - objects0).toBe(4 * PAGE + 16);
    expect(ram.cache('kmalloc-16')!.stats()).toMatchObject({ active: 1, pages: 1 });
    expect(ram.usage().usedBytes - used0).toBe(4 * PAGE + PAGE);
    expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', req)).toBe(-Errno.EBUSY); // one ring per socket
    expect(p.dutSys.setsockopt(fd, 'PACKET_VERSION', TPACKET_V2)).toBe(-Errno.EBUSY);
    // Tearing down gives the blocks back. The pg_vec's kmalloc-16 slab goes empty while it is
    // the cache's only partial slab (nr_partial 1 < min_partial 5, mm/slub.c __slab_free): SLUB
    // keeps it, one page above where the ring started. An order-1 ring (8 KiB blocks) then
    // takes 2 × 8 KiB.
    expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', { tp_block_size: 0, tp_block_nr: 0, tp_frame_size: 0, tp_frame_nr: 0 })).toBe(0);
    expect(pageLevelBytes(ram)).toBe(pages0);
    expect(ram.cache('kmalloc-16')!.stats()).toMatchObject({ active: 0, pages: 1, emptySlabs: 1 });
    expect(ram.usage().usedBytes).toBe(used0 + PAGE);
    expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', { tp_block_size: 8192, tp_block_nr: 2, tp_frame_size: 1024, tp_frame_nr: 16 })).toBe(0);
    expect(pageLevelBytes(ram) - pages0).toBe(2 * 8192);
    expect(p.dutSys.close(fd)).toBe(0);
    // Ring, pg_vec and the socket (packet_sock 880, socket_alloc 376, file 136) all went back.
    // The slab pages they emptied stay with their caches (min_partial), so what is in use above
    // the start is exactly the empty slabs kept since; kmem_cache_shrink gives those back.
    expect(pageLevelBytes(ram)).toBe(pages0);
    expect(liveObjectBytes(ram)).toBe(objects0 - 880 - 376 - 136);
    expect(ram.usage().usedBytes - usedBeforeSocket).toBe(ram.emptySlabBytes() - emptyBeforeSocket);
    ram.shrinkCaches();
    expect(ram.usage().usedBytes).toBe(usedBeforeSocket - emptyBeforeSocket);
    expectBaseline(p);
  });

  it('allocate exactly the ring pages and free them on close (SLOB: the pg_vec is 24 bytes of a shared page)', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const ram = p.dut.board.ram;
    expect(ram.allocator).toBe('slob');
    const usedBeforeSocket = ram.usage().usedBytes;
    const { fd, pages0, objects0 } = socketWithRing(p);
    // Besides the ring's pages, the 16-byte pg_vec is kmalloc'd from SLOB's shared pages behind
    // its 8-byte size header (mm/slob.c __do_kmalloc_node on i386): 24 bytes, 12 two-byte
    // units, reported under the kmalloc-16 kind.
    expect(liveObjectBytes(ram) - objects0).toBe(4 * PAGE + 24);
    expect(ram.slabinfo().find((c) => c.name === 'kmalloc-16')).toMatchObject({ active: 1, heldBytes: 24, pages: 0 });
    expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', { tp_block_size: 0, tp_block_nr: 0, tp_frame_size: 0, tp_frame_nr: 0 })).toBe(0);
    expect(pageLevelBytes(ram)).toBe(pages0);
    expect(ram.slabinfo().find((c) => c.name === 'kmalloc-16')).toMatchObject({ active: 0, heldBytes: 0 });
    expect(p.dutSys.close(fd)).toBe(0);
    // Ring, pg_vec and the socket (packet_sock 880, socket_alloc 376, file 136: even sizes, so
    // SLOB takes them as they are) went back. SLOB keeps no empty slabs: a page goes back to the
    // page allocator when its last block is freed, and a page that held older objects gets its
    // free units back as they were, so exactly the pages in use before the socket remain.
    expect(liveObjectBytes(ram)).toBe(objects0 - 880 - 376 - 136);
    expect(ram.usage().usedBytes).toBe(usedBeforeSocket);
    expect(ram.emptySlabBytes()).toBe(0);
    expectBaseline(p);
  });

  it('refuses bad geometry (-EINVAL) and rings larger than RAM (-ENOMEM) without keeping anything', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const ram = p.dut.board.ram;
    const fd = packetSocket(p.dutSys, SOCK_RAW, ETH_P_ALL, p.dut.dev.ifindex);
    const used0 = ram.usage().usedBytes;
    const bad: TpacketReq[] = [
      { ...req, tp_frame_nr: 9 }, // not frames_per_block × blocks
      { ...req, tp_block_size: 4000 }, // not whole pages
      { ...req, tp_frame_size: 2040 }, // not TPACKET_ALIGNMENT
      { tp_block_size: 4096, tp_block_nr: 1, tp_frame_size: 48, tp_frame_nr: 85 }, // below TPACKET2_HDRLEN (52)
      { tp_block_size: 0, tp_block_nr: 0, tp_frame_size: 0, tp_frame_nr: 3 }, // teardown with frames
    ];
    for (const r of bad) expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', r)).toBe(-Errno.EINVAL);
    // 1024 pages: more than the 4 MiB board has free after boot. Every block taken goes back,
    // and so does the 4 KiB pg_vec (1024 four-byte pgv): on SLOB a kmalloc of PAGE_SIZE − 8
    // or more takes whole pages (kmalloc-large, order 0 here) and kfree gives them straight
    // back, so nothing is kept.
    const large = (): { allocs: number; frees: number; pages: number } => ram.slabinfo().find((c) => c.name === 'kmalloc-large')!;
    const large0 = large();
    expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', { tp_block_size: 4096, tp_block_nr: 1024, tp_frame_size: 4096, tp_frame_nr: 1024 })).toBe(-Errno.ENOMEM);
    expect(large()).toMatchObject({ allocs: large0.allocs + 1, frees: large0.frees + 1, pages: large0.pages });
    expect(ram.usage().usedBytes).toBe(used0);
    expect(p.dutSys.packetRing(fd)).toBe(-Errno.EINVAL); // nothing to map
    const udp = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
    expect(p.dutSys.setsockopt(udp, 'PACKET_RX_RING', req)).toBe(-Errno.ENOPROTOOPT);
    p.dutSys.close(udp);
    p.dutSys.close(fd);
    expectBaseline(p);
  });

  it('fills slots with tpacket2 headers and the frame in RAM; a full ring drops and counts', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const ram = p.dut.board.ram;
    const ifindex = p.dut.dev.ifindex;
    const pages0 = pageLevelBytes(ram);
    const fd = packetSocket(p.dutSys, SOCK_RAW, ETH_P_EXP, ifindex);
    expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', req)).toBe(0);
    expect(pageLevelBytes(ram) - pages0).toBe(4 * PAGE);
    const ring = p.dutSys.packetRing(fd);
    if (typeof ring === 'number') throw new Error(`mmap failed: ${ring}`);
    expect(ring.next()).toBeNull();
    const t0 = p.world.sim.now;
    const frames = Array.from({ length: 11 }, (_, i) => experimentalFrame(p, i, 100 + 10 * i));
    for (const f of frames) inject(p, f);
    settle(p, 5 * NS_PER_MS);
    // Eight slots, eleven frames: three dropped.
    let lastTs = 0;
    for (let i = 0; i < 8; i++) {
      const f = ring.next();
      if (!f) throw new Error(`slot ${i} empty`);
      expect(f.index).toBe(i);
      expect(f.tp_status).toBe(TP_STATUS_USER);
      expect(f.tp_len).toBe(frames[i]!.length);
      expect(f.tp_snaplen).toBe(frames[i]!.length);
      // SOCK_RAW: tp_net = TPACKET_ALIGN(52 + 16) = 80, tp_mac = 80 - 14.
      expect([f.tp_mac, f.tp_net]).toEqual([66, 80]);
      expect(f.data).toEqual(frames[i]);
      expect(f.sll).toMatchObject({ family: AF_PACKET, protocol: ETH_P_EXP, ifindex, hatype: 1, pkttype: PACKET_HOST, halen: 6 });
      expect(f.sll.addr).toEqual(p.lab.dev.hwAddr);
      const ts = f.tp_sec * 1e9 + f.tp_nsec;
      expect(ts).toBeGreaterThan(t0);
      expect(ts).toBeLessThanOrEqual(p.world.sim.now);
      expect(ts).toBeGreaterThanOrEqual(lastTs);
      lastTs = ts;
      // The header is in board RAM at the slot: the status word and the frame bytes there.
      expect(readU32le(ram.bytes, f.addr)).toBe(TP_STATUS_USER);
      expect(ram.bytes.subarray(f.addr + 66, f.addr + 66 + f.tp_len)).toEqual(frames[i]);
      // Frames sit in blocks of two: slot i at block i/2, offset (i%2) × 2048.
      if (i % 2 === 1) expect(f.addr % PAGE).toBe(2048);
      ring.release();
      expect(readU32le(ram.bytes, f.addr)).toBe(TP_STATUS_KERNEL);
    }
    expect(ring.next()).toBeNull();
    // The ring is free again; the next frame is marked: frames were lost since the last statistics.
    inject(p, frames[0]!);
    settle(p, NS_PER_MS);
    const after = ring.next();
    expect(after?.tp_status).toBe(TP_STATUS_USER | TP_STATUS_LOSING);
    ring.release();
    expect(p.dutSys.packetStatistics(fd)).toEqual({ tp_packets: 9 + 3, tp_drops: 3 });
    inject(p, frames[1]!);
    settle(p, NS_PER_MS);
    expect(ring.next()?.tp_status).toBe(TP_STATUS_USER); // counters reset: no longer losing
    ring.release();
    // Frames go to the ring, not the receive queue.
    expect(p.dutSys.recvfrom(fd)).toBe(-Errno.EAGAIN);
    // While mapped the ring cannot be torn down; after munmap it can.
    const off = { tp_block_size: 0, tp_block_nr: 0, tp_frame_size: 0, tp_frame_nr: 0 };
    expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', off)).toBe(-Errno.EBUSY);
    ring.unmap();
    expect(ring.next()).toBeNull();
    expect(p.dutSys.close(fd)).toBe(0);
    expect(pageLevelBytes(ram)).toBe(pages0); // the ring went with the socket, mapped or not
    expectBaseline(p);
  });

  it('SOCK_DGRAM ring slots start at the network header; outgoing frames are captured too', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const fd = packetSocket(p.dutSys, SOCK_DGRAM, ETH_P_ALL, p.dut.dev.ifindex);
    expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', { tp_block_size: 4096, tp_block_nr: 2, tp_frame_size: 128, tp_frame_nr: 64 })).toBe(0);
    const ring = p.dutSys.packetRing(fd);
    if (typeof ring === 'number') throw new Error('mmap failed');
    const ip = ipPacket({ protocol: 17, payload: udpSegment(LAB_IP, DUT_IP, 4000, 5555, pattern(100)) });
    inject(p, toDut(p, ip));
    settle(p, NS_PER_MS);
    const rx = ring.next();
    if (!rx) throw new Error('no frame');
    expect(rx.sll.pkttype).toBe(PACKET_HOST);
    // tp_mac = tp_net = TPACKET_ALIGN(52) + 16; a 128-byte slot keeps 128 - 80 = 48 bytes of it.
    expect([rx.tp_mac, rx.tp_net, rx.tp_len, rx.tp_snaplen]).toEqual([80, 80, ip.length, 48]);
    expect(rx.data).toEqual(ip.subarray(0, 48));
    ring.release();
    // Then the DUT's ARP request, the lab's reply and the port unreachable the DUT sent back.
    const rest = [ring.next()];
    ring.release();
    rest.push(ring.next());
    ring.release();
    rest.push(ring.next());
    ring.release();
    expect(rest.map((f) => [f?.sll.protocol, f?.sll.pkttype])).toEqual([[ETH_P_ARP, PACKET_OUTGOING], [ETH_P_ARP, PACKET_HOST], [ETH_P_IP, PACKET_OUTGOING]]);
    const tx = rest[2]!;
    expect([tx.data[0], tx.data[9], tx.data[20]]).toEqual([0x45, IPPROTO_ICMP, 3]);
    expect(tx.tp_len).toBe((tx.data[2]! << 8) | tx.data[3]!); // the whole IP packet, of which 48 bytes kept
    expect(tx.tp_snaplen).toBe(48);
    expect(ring.next()).toBeNull();
    p.dutSys.close(fd);
    expectBaseline(p);
  });
});

describe('profiles without them', () => {
  it('minimal: no packet sockets at all (EAFNOSUPPORT), and no tap on the receive path', () => {
    const p = bootPair({ dutBoard: 'quark-2m', dutProfile: 'minimal' });
    expect(p.dut.stack.packet).toBeNull();
    expect(p.dutSys.socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)).toBe(-Errno.EAFNOSUPPORT);
    expect(p.dutSys.socket(AF_PACKET, SOCK_DGRAM, ETH_P_IP)).toBe(-Errno.EAFNOSUPPORT);
    expect(p.dut.board.ram.cache('PACKET')).toBeUndefined(); // its slab cache was never made
    inject(p, experimentalFrame(p, 1));
    settle(p, NS_PER_MS);
    expect(p.dut.dev.stats.rx_nohandler).toBe(1);
    expectBaseline(p);
  });

  it('client: packet sockets work, but PACKET_RX_RING is an unknown option and nothing is mapped', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'client' });
    const ram = p.dut.board.ram;
    const fd = packetSocket(p.dutSys, SOCK_RAW, ETH_P_EXP, p.dut.dev.ifindex);
    const used0 = ram.usage().usedBytes;
    const objects0 = liveObjectBytes(ram);
    expect(p.dutSys.setsockopt(fd, 'PACKET_RX_RING', req)).toBe(-Errno.ENOPROTOOPT);
    expect(p.dutSys.setsockopt(fd, 'PACKET_VERSION', TPACKET_V2)).toBe(-Errno.ENOPROTOOPT);
    expect(p.dutSys.packetRing(fd)).toBe(-Errno.ENODEV); // no mmap operation without the ring code
    expect(ram.usage().usedBytes).toBe(used0);
    expect(liveObjectBytes(ram)).toBe(objects0);
    const f = experimentalFrame(p, 5);
    inject(p, f);
    settle(p, NS_PER_MS);
    expect(drain(p.dutSys, fd).map((d) => d.data)).toEqual([f]);
    p.dutSys.close(fd);
    expectBaseline(p);
  });
});
