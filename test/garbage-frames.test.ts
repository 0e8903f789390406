// Untrusted input on the wire: malformed Ethernet, ARP, IPv4, UDP and ICMP frames sent from the
// lab host's MAC to the DUT's must each be dropped and counted under Linux's names, never throw,
// and leave the board's RAM as boot left it. A seeded fuzz loop sends a few thousand more.
import { describe, expect, it } from 'vitest';
import { NS_PER_MS, NS_PER_SEC } from '../emulator/event-queue.js';
import { Prng } from '../emulator/prng.js';
import { ipChecksum } from '../stack/wire/checksum.js';
import {
  bootPair, DUT_IP, ethFrame, expectBaseline, inject, ipPacket, LAB_IP, pattern, settle, toDut,
  udpSegment, type Pair,
} from './helpers/lab-pair.js';
import { writeU16, writeU32 } from '../stack/uapi/byte-order.js';
import { AF_INET, SOCK_DGRAM } from '../stack/uapi/socket.js';

function icmpMessage(type: number, code: number, body: Uint8Array, goodChecksum = true): Uint8Array {
  const b = new Uint8Array(8 + body.length);
  b[0] = type;
  b[1] = code;
  b.set(body, 8);
  writeU16(b, 2, ipChecksum(b, 0, b.length) ^ (goodChecksum ? 0 : 0x5a5a));
  return b;
}

function snapshot(p: Pair): Record<string, Record<string, number>> {
  return { ...p.dut.stack.mib.snapshot(), netdev: { ...p.dut.dev.stats }, arp: { ...p.dut.stack.arp.stats } };
}

/** What changed in each counter group since `before`. */
function delta(p: Pair, before: Record<string, Record<string, number>>): Record<string, Record<string, number>> {
  const now = snapshot(p);
  const out: Record<string, Record<string, number>> = {};
  for (const [g, counters] of Object.entries(now)) {
    for (const [k, v] of Object.entries(counters)) {
      const d = v - (before[g]?.[k] ?? 0);
      if (d !== 0) (out[g] ??= {})[k] = d;
    }
  }
  return out;
}

/** Send one frame, let the DUT handle it, and return the counters it moved. */
function send(p: Pair, frame: Uint8Array): Record<string, Record<string, number>> {
  const before = snapshot(p);
  inject(p, frame);
  settle(p, 2 * NS_PER_MS);
  return delta(p, before);
}

/** A header-only IPv4 packet to edit: 20 bytes of header, then `payload`. */
function rawIp(payload: Uint8Array, edit: (b: Uint8Array) => void, fixChecksum = true): Uint8Array {
  const b = ipPacket({ protocol: 17, payload });
  edit(b);
  if (fixChecksum) {
    const hl = Math.min(60, Math.max(20, (b[0]! & 15) * 4), b.length);
    writeU16(b, 10, 0);
    writeU16(b, 10, ipChecksum(b, 0, hl));
  }
  return b;
}

describe('garbage frames to the DUT', () => {
  it('drops malformed link-layer and ARP frames and counts them on the device', () => {
    const p = bootPair();
    const dut = p.dut.dev.hwAddr;
    const lab = p.lab.dev.hwAddr;
    expect(send(p, ethFrame(dut, lab, 0x88b5, new Uint8Array(0)))).toMatchObject({ netdev: { rx_packets: 1, rx_nohandler: 1 } });
    // For another station's MAC (the model's MAC is not filtering): eth_type_trans says OTHERHOST.
    expect(send(p, ethFrame(Uint8Array.of(2, 0, 0, 0, 0, 9), lab, 0x0800, ipPacket({ protocol: 17, payload: pattern(8) })))).toMatchObject({ netdev: { rx_dropped: 1 } });
    // ARP cut short (the rest is Ethernet padding), with the wrong hardware type, and with the wrong lengths.
    expect(send(p, ethFrame(dut, lab, 0x0806, Uint8Array.of(0, 1, 8, 0)))).toMatchObject({ arp: { rx_malformed: 1 }, netdev: { rx_dropped: 1 } });
    const arp = new Uint8Array(28);
    writeU16(arp, 0, 6);
    writeU16(arp, 2, 0x0800);
    arp[4] = 6;
    arp[5] = 4;
    expect(send(p, ethFrame(dut, lab, 0x0806, arp))).toMatchObject({ arp: { rx_malformed: 1 } });
    writeU16(arp, 0, 1);
    arp[4] = 8;
    expect(send(p, ethFrame(dut, lab, 0x0806, arp))).toMatchObject({ arp: { rx_malformed: 1 } });
    expectBaseline(p);
  });

  it('drops bad IPv4 headers in ip_rcv order: InHdrErrors, InCsumErrors, InTruncatedPkts, InAddrErrors, InUnknownProtos', () => {
    const p = bootPair();
    const d = (ip: Uint8Array) => send(p, toDut(p, ip));
    expect(d(rawIp(pattern(8), (b) => (b[0] = 0x65)))).toMatchObject({ Ip: { InReceives: 1, InHdrErrors: 1 } }); // version 6
    expect(d(rawIp(pattern(8), (b) => (b[0] = 0x44)))).toMatchObject({ Ip: { InHdrErrors: 1 } }); // IHL 4
    expect(d(rawIp(pattern(8), (b) => (b[0] = 0x4f), false))).toMatchObject({ Ip: { InHdrErrors: 1 } }); // IHL 15 > packet
    expect(d(rawIp(pattern(8), (b) => (b[8] = 1), false))).toMatchObject({ Ip: { InHdrErrors: 1 }, IpExt: { InCsumErrors: 1 } });
    expect(d(rawIp(pattern(8), (b) => writeU16(b, 2, 1000)))).toMatchObject({ IpExt: { InTruncatedPkts: 1 } });
    expect(d(rawIp(pattern(8), (b) => writeU16(b, 2, 12)))).toMatchObject({ Ip: { InHdrErrors: 1 } }); // shorter than its header
    expect(d(rawIp(pattern(8), (b) => writeU32(b, 16, 0x0a090909)))).toMatchObject({ Ip: { InAddrErrors: 1 } });
    // A bad option (length 0): parameter problem back to the sender.
    const opt = d(ipPacket({ protocol: 17, options: Uint8Array.of(0x44, 0, 0, 0), payload: pattern(8) }));
    expect(opt).toMatchObject({ Ip: { InHdrErrors: 1 }, Icmp: { OutMsgs: 1 } });
    // An option running past the header.
    expect(d(ipPacket({ protocol: 17, options: Uint8Array.of(1, 1, 0x07, 9), payload: pattern(8) }))).toMatchObject({ Ip: { InHdrErrors: 1 } });
    expect(d(ipPacket({ protocol: 200, payload: pattern(8) }))).toMatchObject({ Ip: { InUnknownProtos: 1 }, Icmp: { OutDestUnreachs: 1 } });
    expectBaseline(p);
  });

  it('drops bad UDP and ICMP and survives ICMP errors that quote garbage', () => {
    const p = bootPair();
    const d = (ip: Uint8Array) => send(p, toDut(p, ip));
    const fd = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
    p.dutSys.bind(fd, { addr: 0, port: 53 });
    expect(d(ipPacket({ protocol: 17, payload: pattern(4) }))).toMatchObject({ Udp: { InErrors: 1 } });
    const seg = udpSegment(LAB_IP, DUT_IP, 9, 53, pattern(40));
    const badLen = seg.slice();
    writeU16(badLen, 4, 400);
    expect(d(ipPacket({ protocol: 17, payload: badLen }))).toMatchObject({ Udp: { InErrors: 1 } });
    const badSum = seg.slice();
    badSum[30] = badSum[30]! ^ 1;
    expect(d(ipPacket({ protocol: 17, payload: badSum }))).toMatchObject({ Udp: { InErrors: 1, InCsumErrors: 1 } });
    expect(d(ipPacket({ protocol: 1, payload: pattern(4) }))).toMatchObject({ Icmp: { InMsgs: 1, InErrors: 1 } });
    expect(d(ipPacket({ protocol: 1, payload: icmpMessage(8, 0, pattern(16), false) }))).toMatchObject({ Icmp: { InErrors: 1, InCsumErrors: 1 } });
    // Destination unreachable quoting too little, a header that is not IPv4, and a UDP packet no socket sent.
    expect(d(ipPacket({ protocol: 1, payload: icmpMessage(3, 3, pattern(10)) }))).toMatchObject({ Icmp: { InDestUnreachs: 1 } });
    const notIp = pattern(28);
    notIp[0] = 0x99;
    expect(d(ipPacket({ protocol: 1, payload: icmpMessage(3, 3, notIp) }))).toMatchObject({ Icmp: { InDestUnreachs: 1 } });
    const quoted = ipPacket({ src: DUT_IP, dst: LAB_IP, protocol: 17, payload: udpSegment(DUT_IP, LAB_IP, 40000, 53, pattern(8)) }).subarray(0, 28);
    expect(d(ipPacket({ protocol: 1, payload: icmpMessage(3, 3, quoted) }))).toMatchObject({ Icmp: { InDestUnreachs: 1, InErrors: 1 } });
    // An ICMP error quoting a header with a bad IHL.
    const badIhl = quoted.slice();
    badIhl[0] = 0x4f;
    expect(d(ipPacket({ protocol: 1, payload: icmpMessage(11, 0, badIhl) }))).toMatchObject({ Icmp: { InTimeExcds: 1 } });
    expect(p.dutSys.recvfrom(fd)).toBeLessThan(0);
    p.dutSys.closeAll();
    expectBaseline(p);
  });

  it('drops bad fragments (overlap, empty, beyond the end) and frees what was held', () => {
    const p = bootPair();
    const d = (ip: Uint8Array) => send(p, toDut(p, ip));
    const seg = udpSegment(LAB_IP, DUT_IP, 9, 53, pattern(1600));
    expect(d(ipPacket({ protocol: 17, id: 1, fragOff: 0x2000, payload: seg.subarray(0, 800) }))).toMatchObject({ Ip: { ReasmReqds: 1 } });
    expect(d(ipPacket({ protocol: 17, id: 1, fragOff: 0x2000 | 50, payload: seg.subarray(400, 1200) }))).toMatchObject({ Ip: { ReasmFails: 1 }, IpExt: { ReasmOverlaps: 1 } });
    expect(d(ipPacket({ protocol: 17, id: 2, fragOff: 0x2000 | 10, payload: new Uint8Array(0) }))).toMatchObject({ Ip: { ReasmFails: 1 } });
    // A fragment at the largest offset: held until it times out (its datagram could never be whole).
    expect(d(ipPacket({ protocol: 17, id: 3, fragOff: 8189, payload: pattern(100) }))).toMatchObject({ Ip: { ReasmReqds: 1 } });
    expect(p.dut.stack.ipfrag!.queues).toBe(1);
    settle(p, 31 * NS_PER_SEC);
    expect(p.dut.stack.ipfrag!.queues).toBe(0);
    expect(p.dut.stack.ip.mib['ReasmTimeout']).toBe(1);
    expectBaseline(p);
  });

  it('survives a seeded fuzz of 3000 random and mutated frames, accounts for every one, and still works after', () => {
    const p = bootPair();
    const rng = new Prng(20240601);
    const dutMac = p.dut.dev.hwAddr;
    const labMac = p.lab.dev.hwAddr;
    const fd = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
    p.dutSys.bind(fd, { addr: 0, port: 53 });
    const templates = [
      () => toDut(p, ipPacket({ protocol: 17, id: rng.nextInt(0x10000), payload: udpSegment(LAB_IP, DUT_IP, 9, 53, pattern(rng.nextInt(200))) })),
      () => toDut(p, ipPacket({ protocol: 1, payload: icmpMessage(8, 0, pattern(rng.nextInt(100))) })),
      () => toDut(p, ipPacket({ protocol: 6, payload: pattern(20 + rng.nextInt(40)) })),
      () => toDut(p, ipPacket({ protocol: 17, id: rng.nextInt(8), fragOff: (rng.chance(0.5) ? 0x2000 : 0) | rng.nextInt(400), payload: pattern(8 * (1 + rng.nextInt(100))) })),
      () => ethFrame(dutMac, labMac, 0x0806, pattern(28, rng.nextInt(256))),
    ];
    const sentBefore = p.lab.board.mac.stats.tx_packets;
    const m0 = { ...p.dut.board.mac.stats };
    const frames = 3000;
    for (let i = 0; i < frames; i++) {
      let f: Uint8Array;
      const kind = rng.nextInt(10);
      if (kind < 3) {
        // Pure noise, addressed to the DUT (or broadcast) so it is not filtered as another host's.
        f = new Uint8Array(14 + rng.nextInt(1500 - 14 + 1));
        rng.fill(f);
        f.set(rng.chance(0.2) ? Uint8Array.of(255, 255, 255, 255, 255, 255) : dutMac, 0);
        if (rng.chance(0.5)) writeU16(f, 12, rng.chance(0.5) ? 0x0800 : 0x0806);
      } else {
        // A valid frame of some kind with a few bytes changed, sometimes truncated; the IP header
        // checksum is sometimes repaired so the damage reaches the protocol behind it.
        f = templates[rng.nextInt(templates.length)]!();
        const flips = 1 + rng.nextInt(4);
        for (let j = 0; j < flips; j++) f[14 + rng.nextInt(f.length - 14)] = rng.nextInt(256);
        if (rng.chance(0.2)) f = f.subarray(0, 14 + rng.nextInt(f.length - 14));
        if (f.length >= 34 && f[12] === 8 && f[13] === 0 && rng.chance(0.5)) {
          const hl = Math.max(20, (f[14]! & 15) * 4);
          if (14 + hl <= f.length) {
            writeU16(f, 24, 0);
            writeU16(f, 24, ipChecksum(f, 14, hl));
          }
        }
      }
      inject(p, f);
      if (i % 8 === 7) settle(p, NS_PER_MS);
    }
    settle(p, 60 * NS_PER_SEC);
    const mac = p.dut.board.mac.stats;
    const driver = p.dut.stack.drivers.get(p.dut.dev.ifindex)!;
    // Every frame the lab host sent reached the DUT's MAC, and every one it took reached the stack.
    const arrived = mac.rx_packets - m0.rx_packets + mac.rx_missed_errors - m0.rx_missed_errors + mac.rx_length_errors - m0.rx_length_errors;
    expect(arrived).toBe(p.lab.board.mac.stats.tx_packets - sentBefore);
    expect(arrived).toBeGreaterThanOrEqual(frames);
    expect(p.dut.dev.stats.rx_packets + driver.rxAllocFailures).toBe(mac.rx_packets);
    const mib = p.dut.stack.mib.snapshot();
    expect(mib['Ip']!['InReceives']).toBeGreaterThan(1000);
    expect(mib['Ip']!['InHdrErrors']).toBeGreaterThan(0);
    expect(mib['IpExt']!['InCsumErrors']).toBeGreaterThan(0);
    expect(mib['Udp']!['InErrors']).toBeGreaterThan(0);
    expect(mib['Icmp']!['InErrors']).toBeGreaterThan(0);
    expect(p.dut.dev.stats.rx_nohandler + p.dut.dev.stats.rx_dropped).toBeGreaterThan(0);
    expect(p.dut.stack.ipfrag!.queues).toBe(0);
    // The board still answers.
    while (typeof p.dutSys.recvfrom(fd) !== 'number');
    const srv = p.labSys.socket(AF_INET, SOCK_DGRAM, 0);
    p.labSys.bind(srv, { addr: 0, port: 5353 });
    expect(p.dutSys.sendto(fd, pattern(64), { addr: LAB_IP, port: 5353 })).toBe(64);
    settle(p, 10 * NS_PER_MS);
    expect(typeof p.labSys.recvfrom(srv)).toBe('object');
    p.dutSys.closeAll();
    p.labSys.closeAll();
    expectBaseline(p);
  });
});
