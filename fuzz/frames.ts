/**
 * Valid frames of every protocol a profile has, built from the lab host to the board under test:
 * the seeds the fuzzer mutates. Each is correct on the wire (checksums, lengths), so a mutation
 * is one step off a frame the stack accepts and reaches deep into its parsers.
 */
import { csumFold, csumPartial, ipChecksum, pseudoHeaderSum } from '../stack/wire/checksum.js';
import { writeU16, writeU32 } from '../stack/uapi/byte-order.js';
import { ETH_P_ARP, ETH_P_IP } from '../stack/uapi/if-ether.js';
import { IPPROTO_ICMP, IPPROTO_IGMP, IPPROTO_TCP, IPPROTO_UDP } from '../stack/uapi/in.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../stack/wire/tcp-header.js';

export interface Endpoints {
  dutMac: Uint8Array;
  labMac: Uint8Array;
  dutIp: number;
  labIp: number;
}

/** The TCP connection the fuzzer keeps open, so segments can hit an established socket. */
export interface LiveTcp {
  labPort: number;
  dutPort: number;
  /** The lab side's next sequence number and what it acknowledges. */
  seq: number;
  ack: number;
}

export function ethFrame(e: Endpoints, ethertype: number, payload: Uint8Array, dst: Uint8Array = e.dutMac): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(dst, 0);
  f.set(e.labMac, 6);
  writeU16(f, 12, ethertype);
  f.set(payload, 14);
  return f;
}

export function ipPacket(e: Endpoints, protocol: number, payload: Uint8Array, o: { id?: number; fragOff?: number; options?: Uint8Array; ttl?: number } = {}): Uint8Array {
  const opts = o.options ?? new Uint8Array(0);
  const hl = 20 + ((opts.length + 3) & ~3);
  const b = new Uint8Array(hl + payload.length);
  b[0] = 0x40 | (hl >> 2);
  writeU16(b, 2, b.length);
  writeU16(b, 4, o.id ?? 1);
  writeU16(b, 6, o.fragOff ?? 0);
  b[8] = o.ttl ?? 64;
  b[9] = protocol;
  writeU32(b, 12, e.labIp);
  writeU32(b, 16, e.dutIp);
  b.set(opts, 20);
  writeU16(b, 10, ipChecksum(b, 0, hl));
  b.set(payload, hl);
  return b;
}

/** A transport checksum (UDP or TCP) over the pseudo-header, written at `at`. */
export function transportChecksum(src: number, dst: number, protocol: number, seg: Uint8Array, at: number): void {
  writeU16(seg, at, 0);
  const sum = csumFold(csumPartial(seg, 0, seg.length, pseudoHeaderSum(src, dst, protocol, seg.length)));
  writeU16(seg, at, protocol === IPPROTO_UDP && sum === 0 ? 0xffff : sum);
}

export function udpDatagram(e: Endpoints, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  writeU16(b, 0, sport);
  writeU16(b, 2, dport);
  writeU16(b, 4, b.length);
  b.set(payload, 8);
  transportChecksum(e.labIp, e.dutIp, IPPROTO_UDP, b, 6);
  return b;
}

export function tcpSegment(e: Endpoints, sport: number, dport: number, seq: number, ack: number, flags: number, options: Uint8Array, payload: Uint8Array, window = 65535): Uint8Array {
  const hl = 20 + ((options.length + 3) & ~3);
  const b = new Uint8Array(hl + payload.length);
  writeU16(b, 0, sport);
  writeU16(b, 2, dport);
  writeU32(b, 4, seq >>> 0);
  writeU32(b, 8, ack >>> 0);
  b[12] = (hl >> 2) << 4;
  b[13] = flags;
  writeU16(b, 14, window);
  b.set(options, 20);
  for (let i = 20 + options.length; i < hl; i++) b[i] = 1; // NOP padding
  b.set(payload, hl);
  transportChecksum(e.labIp, e.dutIp, IPPROTO_TCP, b, 16);
  return b;
}

function icmpMessage(type: number, code: number, body: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + body.length);
  b[0] = type;
  b[1] = code;
  writeU16(b, 4, 0x1234);
  writeU16(b, 6, 1);
  b.set(body, 8);
  writeU16(b, 2, ipChecksum(b, 0, b.length));
  return b;
}

function arp(e: Endpoints, op: number, targetIp: number): Uint8Array {
  const b = new Uint8Array(28);
  writeU16(b, 0, 1);
  writeU16(b, 2, ETH_P_IP);
  b[4] = 6;
  b[5] = 4;
  writeU16(b, 6, op);
  b.set(e.labMac, 8);
  writeU32(b, 14, e.labIp);
  if (op === 2) b.set(e.dutMac, 18);
  writeU32(b, 24, targetIp);
  return b;
}

/** A DHCP OFFER (BOOTP reply) with the options a server sends. */
function dhcpOffer(e: Endpoints): Uint8Array {
  const b = new Uint8Array(300);
  b[0] = 2; // BOOTREPLY
  b[1] = 1;
  b[2] = 6;
  writeU32(b, 4, 0x8d5c3e82);
  writeU32(b, 16, e.dutIp);
  writeU32(b, 20, e.labIp);
  b.set(e.dutMac, 28);
  writeU32(b, 236, 0x63825363);
  const opts = [53, 1, 2, 54, 4, ...u32(e.labIp), 51, 4, 0, 0, 0x0e, 0x10, 1, 4, 255, 255, 255, 0, 3, 4, ...u32(e.labIp), 6, 4, ...u32(e.labIp), 255];
  b.set(opts, 240);
  return b;
}

/** A DNS response: one question, one A answer with a compression pointer. */
function dnsResponse(): Uint8Array {
  const name = [3, 0x6c, 0x61, 0x62, 8, 0x71, 0x75, 0x61, 0x72, 0x6b, 0x6c, 0x61, 0x62, 4, 0x74, 0x65, 0x73, 0x74, 0];
  return Uint8Array.from([0x27, 0x43, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...name, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
}

function u32(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

/** MSS 1460, SACK permitted, timestamps, window scale 7: what Linux puts in a SYN. */
const SYN_OPTIONS = Uint8Array.from([2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);
const TS_OPTIONS = Uint8Array.from([1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1]);
const SACK_OPTIONS = Uint8Array.from([1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 1, 0]);

export interface SeedFrame {
  protocol: string;
  frame: Uint8Array;
}

/**
 * The seeds: one or more valid frames per protocol. `ports` are where the board listens (TCP) and
 * has bound UDP sockets (DHCP client, DNS, echo); `live` is an established connection, if any.
 */
export function seedFrames(e: Endpoints, ports: { tcpListen: number; udpEcho: number; dhcpClient: number; dns: number }, live: LiveTcp | null): SeedFrame[] {
  const out: SeedFrame[] = [];
  const add = (protocol: string, frame: Uint8Array): void => {
    out.push({ protocol, frame });
  };
  add('arp', ethFrame(e, ETH_P_ARP, arp(e, 1, e.dutIp), new Uint8Array([255, 255, 255, 255, 255, 255])));
  add('arp', ethFrame(e, ETH_P_ARP, arp(e, 2, e.dutIp)));
  add('ethernet', ethFrame(e, 0x88b5, new Uint8Array(46))); // local experimental ethertype: unknown protocol
  add('icmp', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_ICMP, icmpMessage(8, 0, new Uint8Array(56)))));
  add('icmp', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_ICMP, icmpMessage(3, 3, ipPacket(e, IPPROTO_UDP, new Uint8Array(8)).subarray(0, 28)))));
  add('icmp', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_ICMP, icmpMessage(13, 0, new Uint8Array(12)))));
  // IPv4 options: record route, timestamp, router alert.
  const rr = Uint8Array.from([7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
  add('ipv4-options', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_ICMP, icmpMessage(8, 0, new Uint8Array(16)), { options: rr })));
  const ts = Uint8Array.from([68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  add('ipv4-options', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_ICMP, icmpMessage(8, 0, new Uint8Array(16)), { options: ts })));
  add('ipv4-options', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_UDP, udpDatagram(e, 4000, ports.udpEcho, new Uint8Array(8)), { options: Uint8Array.from([148, 4, 0, 0]) })));
  // A UDP datagram in two fragments.
  const whole = udpDatagram(e, 4001, ports.udpEcho, new Uint8Array(1600).fill(0x5a));
  add('ipv4-fragment', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_UDP, whole.subarray(0, 1480), { id: 0x4242, fragOff: 0x2000 })));
  add('ipv4-fragment', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_UDP, whole.subarray(1480), { id: 0x4242, fragOff: 1480 / 8 })));
  add('igmp', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_IGMP, igmpQuery(), { options: Uint8Array.from([148, 4, 0, 0]), ttl: 1 })));
  add('udp', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_UDP, udpDatagram(e, 4002, ports.udpEcho, new Uint8Array(64).fill(1)))));
  add('udp', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_UDP, udpDatagram(e, 4003, 9, new Uint8Array(16))))); // closed port: ICMP port unreachable
  add('dhcp', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_UDP, udpDatagram(e, 67, ports.dhcpClient, dhcpOffer(e)))));
  add('dns', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_UDP, udpDatagram(e, 53, ports.dns, dnsResponse()))));
  add('tcp', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_TCP, tcpSegment(e, 40000, ports.tcpListen, 1000, 0, TCP_SYN, SYN_OPTIONS, new Uint8Array(0)))));
  add('tcp', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_TCP, tcpSegment(e, 40001, ports.tcpListen, 2000, 12345, TCP_ACK, TS_OPTIONS, new Uint8Array(0)))));
  add('tcp', ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_TCP, tcpSegment(e, 40002, ports.tcpListen + 1, 3000, 0, TCP_SYN, new Uint8Array(0), new Uint8Array(0))))); // closed: RST
  if (live) {
    const seg = (flags: number, opts: Uint8Array, data: Uint8Array, seqOff = 0): Uint8Array =>
      ethFrame(e, ETH_P_IP, ipPacket(e, IPPROTO_TCP, tcpSegment(e, live.labPort, live.dutPort, live.seq + seqOff, live.ack, flags, opts, data)));
    add('tcp-established', seg(TCP_ACK | TCP_PSH, TS_OPTIONS, new Uint8Array(100).fill(0x61)));
    add('tcp-established', seg(TCP_ACK, SACK_OPTIONS, new Uint8Array(0)));
    add('tcp-established', seg(TCP_ACK | TCP_PSH, TS_OPTIONS, new Uint8Array(200).fill(0x62), 1000)); // out of order
    add('tcp-established', seg(TCP_ACK | TCP_FIN, TS_OPTIONS, new Uint8Array(0)));
    add('tcp-established', seg(TCP_RST, new Uint8Array(0), new Uint8Array(0), 5));
    add('tcp-established', seg(TCP_SYN, SYN_OPTIONS, new Uint8Array(0)));
  }
  return out;
}

function igmpQuery(): Uint8Array {
  const b = new Uint8Array(8);
  b[0] = 0x11;
  b[1] = 100;
  writeU16(b, 2, ipChecksum(b, 0, 8));
  return b;
}
