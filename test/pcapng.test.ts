// Capture files are judged by the tool users open them with: every check that
// can be made with tshark is made with tshark (4.0 field names), and our own
// reader is checked against the same file and against corrupt input.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../traces/pcap-writer.js';
import { isPcapngError, readPcapng, type PcapngFile } from '../traces/pcapng-reader.js';
import { PcapngWriter } from '../traces/pcapng-writer.js';
import {
  TSHARK_MISSING,
  capinfos,
  hasCapinfos,
  hasTshark,
  columns as tsharkColumns,
  tshark,
  tsharkExpert,
  tsharkPass,
} from './helpers/tshark.js';

// ---------------------------------------------------------------- frames

/** RFC 1071 Internet checksum: one's complement of the one's complement sum of 16-bit words. */
function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0); // odd length: pad with a zero byte
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const mac = (...b: number[]): Uint8Array => Uint8Array.from(b);
const ip4 = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));
const BROADCAST = mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const DUT_MAC = mac(0x02, 0x00, 0x5e, 0x00, 0x00, 0x01);
const PEER_MAC = mac(0x02, 0x00, 0x5e, 0x00, 0x00, 0x02);
const DUT_IP = '10.0.0.1';
const PEER_IP = '10.0.0.2';

/** Ethernet II frame without FCS, padded to the 60-byte minimum as a NIC would. */
function ethernet(dst: Uint8Array, src: Uint8Array, etherType: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(Math.max(60, 14 + payload.length));
  f.set(dst, 0);
  f.set(src, 6);
  new DataView(f.buffer).setUint16(12, etherType);
  f.set(payload, 14);
  return f;
}

/** ARP request (RFC 826) for Ethernet/IPv4: "who has targetIp? tell senderIp". */
function arpRequest(senderMac: Uint8Array, senderIp: string, targetIp: string): Uint8Array {
  const p = new Uint8Array(28);
  const dv = new DataView(p.buffer);
  dv.setUint16(0, 1); // htype Ethernet
  dv.setUint16(2, 0x0800); // ptype IPv4
  p[4] = 6; // hlen
  p[5] = 4; // plen
  dv.setUint16(6, 1); // oper request
  p.set(senderMac, 8);
  p.set(ip4(senderIp), 14);
  // target hardware address (18..23) unknown: zero
  p.set(ip4(targetIp), 24);
  return ethernet(BROADCAST, senderMac, 0x0806, p);
}

/** IPv4 (RFC 791, no options) carrying an ICMP echo request (RFC 792). */
function icmpEchoRequest(
  src: Uint8Array, dst: Uint8Array, srcIp: string, dstIp: string,
  ident: number, seq: number, payload: Uint8Array,
): Uint8Array {
  const icmp = new Uint8Array(8 + payload.length);
  const idv = new DataView(icmp.buffer);
  icmp[0] = 8; // echo request
  icmp[1] = 0;
  idv.setUint16(4, ident);
  idv.setUint16(6, seq);
  icmp.set(payload, 8);
  idv.setUint16(2, internetChecksum(icmp)); // over the ICMP message with checksum 0

  const ip = new Uint8Array(20 + icmp.length);
  const dv = new DataView(ip.buffer);
  ip[0] = 0x45; // version 4, IHL 5 words
  dv.setUint16(2, ip.length); // total length
  dv.setUint16(4, 0x1234); // identification
  dv.setUint16(6, 0x4000); // DF
  ip[8] = 64; // TTL
  ip[9] = 1; // ICMP
  ip.set(ip4(srcIp), 12);
  ip.set(ip4(dstIp), 16);
  dv.setUint16(10, internetChecksum(ip.subarray(0, 20))); // header only
  ip.set(icmp, 20);
  return ethernet(dst, src, 0x0800, ip);
}

// ---------------------------------------------------------------- capture

// Nanosecond digits all significant, and the second value crosses a second
// boundary, so any microsecond rounding or high/low word mix-up shows.
const T0 = 1_700_000_000_000_000_001n;
const PING_PAYLOAD = Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i);

const ARP = arpRequest(DUT_MAC, DUT_IP, PEER_IP);
const PING = icmpEchoRequest(DUT_MAC, PEER_MAC, DUT_IP, PEER_IP, 0x0101, 1, PING_PAYLOAD);

interface Expected {
  iface: number; ts: bigint; data: Uint8Array;
  direction?: 'inbound' | 'outbound'; comment?: string; dropCount?: number;
}
const PACKETS: Expected[] = [
  { iface: 0, ts: T0, data: ARP, direction: 'outbound' },
  { iface: 1, ts: T0 + 1_234n, data: ARP, direction: 'inbound' },
  { iface: 0, ts: T0 + 999_999_998n, data: PING, direction: 'outbound', comment: 'scenario step 2: ping peer', dropCount: 3 },
  { iface: 1, ts: T0 + 1_000_004_321n, data: PING, direction: 'inbound' },
  { iface: 1, ts: T0 + 2_000_000_000n, data: ARP }, // direction unknown: no epb_flags
];

function buildCapture(): Uint8Array {
  const w = new PcapngWriter({
    hardware: 'quark-2m', os: 'quarklab-linux', userApplication: 'quarklab test', comment: 'pcapng test capture',
  });
  const dut = w.addInterface({
    name: 'dut:eth0', description: 'board quark-2m, profile client', linkSpeedBps: 100_000_000, macAddress: DUT_MAC,
  });
  const peer = w.addInterface({
    name: 'peer:eth0', description: 'peer host, profile server', linkSpeedBps: 1_000_000_000, macAddress: PEER_MAC,
  });
  expect([dut, peer]).toEqual([0, 1]);
  for (const p of PACKETS) {
    w.addPacket(p.iface, p.ts, p.data, {
      ...(p.direction && { direction: p.direction }),
      ...(p.comment !== undefined && { comment: p.comment }),
      ...(p.dropCount !== undefined && { dropCount: p.dropCount }),
    });
  }
  const end = T0 + 3_000_000_000n;
  w.addInterfaceStatistics(dut, end, { received: 2, dropped: 3, deliveredToUser: 2, osDropped: 1, startTimeNs: T0, endTimeNs: end });
  w.addInterfaceStatistics(peer, end, { received: 3n, dropped: 0n });
  return w.toBytes();
}

const epochString = (ns: bigint): string =>
  `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;

let dir = '';
let bytes: Uint8Array = new Uint8Array(0);
let file = '';

beforeAll(() => {
  // No tshark check here: a throwing beforeAll makes vitest report the tests
  // as skipped. Without tshark each tshark test fails with TSHARK_MISSING.
  dir = mkdtempSync(join(tmpdir(), 'quarklab-pcapng-'));
  bytes = buildCapture();
  file = join(dir, 'capture.pcapng');
  writeFileSync(file, bytes);
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('test frames', () => {
  it('checksum helper matches the RFC 1071 worked example', () => {
    // RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d.
    expect(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7))).toBe(0x220d);
    // A header with its checksum filled in sums to zero.
    expect(internetChecksum(PING.subarray(14, 34))).toBe(0);
    expect(internetChecksum(PING.subarray(34))).toBe(0);
  });
});

describe('pcapng read by tshark 4.0', () => {
  it('tshark is installed', () => {
    expect(hasTshark(), TSHARK_MISSING).toBe(true);
  });

  // One tshark pass gives the fields of the two tests below (a tshark start costs ~0.5 s of
  // dissector registration). IP checksum checking is on for the pass, as the ICMP test needs;
  // it sets ip.checksum.status and changes none of the frame fields (every checksum is good).
  // The ARP and ICMP rows are the frames the display filters `arp` and `icmp` would keep:
  // those whose frame.protocols names the protocol.
  const FRAME_FIELDS = [
    'frame.interface_id', 'frame.interface_name', 'frame.interface_description', 'frame.time_epoch',
    'frame.packet_flags_direction', 'frame.p2p_dir', 'frame.comment', 'frame.drop_count', 'frame.len', 'frame.protocols',
  ];
  const ARP_FIELDS = ['arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4'];
  // checksum.status: 0 bad, 1 good, 2 unverified; IP checking is off by default.
  const ICMP_FIELDS = ['ip.src', 'ip.dst', 'ip.checksum.status', 'icmp.type', 'icmp.checksum.status', 'icmp.seq'];
  // The pass prints the `-z expert` text of the expert test too.
  let pass: { rows: string[][]; expert: string } | undefined;
  const read = (): { rows: string[][]; expert: string } => {
    if (pass === undefined) {
      const p = tsharkPass(file, [...FRAME_FIELDS, ...ARP_FIELDS, ...ICMP_FIELDS], { extraArgs: ['-o', 'ip.check_checksum:TRUE'], expert: true });
      pass = { rows: tsharkColumns(p.rows, [...FRAME_FIELDS, ...ARP_FIELDS, ...ICMP_FIELDS]), expert: p.expert };
    }
    return pass;
  };
  const frames = (): string[][] => read().rows;
  const columns = (rows: string[][], from: number, n: number): string[][] => rows.map((r) => r.slice(from, from + n));
  const having = (proto: string): string[][] => frames().filter((r) => r[FRAME_FIELDS.length - 1]!.split(':').includes(proto));

  it('gives each frame its interface, nanosecond time, direction, comment and drop count', () => {
    const rows = columns(frames(), 0, FRAME_FIELDS.length);
    const names = ['dut:eth0', 'peer:eth0'];
    const descriptions = ['board quark-2m, profile client', 'peer host, profile server'];
    // epb_flags direction as tshark shows it; frame.p2p_dir: 0 sent, 1 received.
    const dir = { outbound: ['0x00000002', '0'], inbound: ['0x00000001', '1'] } as const;
    expect(rows).toEqual(PACKETS.map((p) => [
      String(p.iface), names[p.iface], descriptions[p.iface], epochString(p.ts),
      ...(p.direction ? dir[p.direction] : ['', '']),
      p.comment ?? '', p.dropCount?.toString() ?? '', String(p.data.length),
      p.data === ARP ? 'eth:ethertype:arp' : 'eth:ethertype:ip:icmp:data',
    ]));
  });

  it('decodes the ARP request and validates IP and ICMP checksums as good', () => {
    const arp = columns(having('arp'), FRAME_FIELDS.length, ARP_FIELDS.length);
    expect(arp).toEqual(Array(3).fill(['1', '02:00:5e:00:00:01', DUT_IP, PEER_IP]));
    const icmp = columns(having('icmp'), FRAME_FIELDS.length + ARP_FIELDS.length, ICMP_FIELDS.length);
    expect(icmp).toEqual(Array(2).fill([DUT_IP, PEER_IP, '1', '8', '1', '1']));
  });

  it('reports no malformed packets or errors and exits 0', () => {
    const expert = read().expert;
    expect(expert).not.toMatch(/Malformed|Errors \(|Warns \(/);
    // The expert output is really there: the packet comment shows up in it.
    expect(expert).toMatch(/Comments \(1\)[\s\S]*scenario step 2: ping peer/);
    const all = tshark(['-n', '-r', file, '-V']);
    expect(all.status, all.stderr).toBe(0);
    expect(all.stdout).not.toMatch(/Malformed|\[Expert Info \(Error/);
  });

  it('detects a bad checksum in the same pipeline (the checks above can fail)', () => {
    const bad = PING.slice();
    bad[24] = bad[24]! ^ 0xff; // IP header checksum
    const w = new PcapngWriter({});
    w.addInterface({ name: 'x', description: 'x', linkSpeedBps: 10_000_000 });
    w.addPacket(0, T0, bad);
    const f = join(dir, 'bad.pcapng');
    writeFileSync(f, w.toBytes());
    expect(tsharkExpert(f, ['-o', 'ip.check_checksum:TRUE'])).toMatch(/Errors \(1\)[\s\S]*Bad checksum/);
  });

  it('parses the section header, interface blocks and interface statistics', () => {
    expect(hasCapinfos(), 'capinfos not found (package wireshark-common, installed with tshark)').toBe(true);
    const info = capinfos(['-M', file]);
    expect(info.status, info.stderr).toBe(0);
    for (const line of [
      /File type:\s+pcapng/, /File timestamp precision:\s+nanoseconds \(9\)/, /Number of packets:\s+5\n/,
      /Capture hardware:\s+quark-2m/, /Capture oper-sys:\s+quarklab-linux/, /Capture application:\s+quarklab test/,
      /Capture comment:\s+pcapng test capture/, /Number of interfaces in file: 2/,
    ]) expect(info.stdout).toMatch(line);
    const ifaces = info.stdout.split(/Interface #\d+ info:/).slice(1);
    expect(ifaces).toHaveLength(2);
    expect(ifaces[0]).toMatch(/Name = dut:eth0[\s\S]*Speed = 100000000\n[\s\S]*Time precision = nanoseconds \(9\)[\s\S]*Number of stat entries = 1\n[\s\S]*Number of packets = 2\n/);
    expect(ifaces[1]).toMatch(/Name = peer:eth0[\s\S]*Speed = 1000000000\n[\s\S]*Number of stat entries = 1\n[\s\S]*Number of packets = 3\n/);

    // The statistics values, from Wireshark's own pcapng file dissector
    // ("MIME Files Format"), which walks the blocks rather than the packets.
    const blockFields = [
      'pcapng.block.type', 'pcapng.options.option.data.interface.received',
      'pcapng.options.option.data.interface.dropped', 'pcapng.options.option.data.interface.dropped_by_os',
      'pcapng.options.option.data.interface.delivered_to_user', 'pcapng.options.option.data.mac',
      'pcapng.options.option.data.interface.timestamp_resolution',
    ];
    const mime = tsharkPass(file, blockFields, { extraArgs: ['-X', 'read_format:MIME Files Format'], expert: true });
    const [row] = tsharkColumns(mime.rows, blockFields);
    const blocks = mime.expert;
    expect(row).toEqual([
      ['0x0a0d0d0a', '0x00000001', '0x00000001', ...PACKETS.map(() => '0x00000006'), '0x00000005', '0x00000005'].join(','),
      '2,3', '3,0', '1', '2', '02:00:5e:00:00:01,02:00:5e:00:00:02', '0x09,0x09',
    ]);
    expect(blocks).not.toMatch(/Errors \(|Warns \(/);
  });
});

describe('pcapng writer', () => {
  it('is deterministic and carries nothing from the host', () => {
    const again = buildCapture();
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
    const text = Buffer.from(bytes).toString('latin1');
    expect(text).not.toContain(hostname());
  });

  it('rejects packets for interfaces that were not added', () => {
    const w = new PcapngWriter({});
    expect(() => w.addPacket(0, T0, ARP)).toThrow(/interface 0 not added/);
    w.addInterface({ name: 'a', description: 'a', linkSpeedBps: 1 });
    expect(() => w.addPacket(1, T0, ARP)).toThrow(/interface 1 not added/);
    expect(() => w.addInterfaceStatistics(1, T0, { received: 0, dropped: 0 })).toThrow(/interface 1/);
    expect(() => w.addPacket(0, -1n, ARP)).toThrow(/out of range/);
  });
});

describe('pcapng reader', () => {
  const parse = (b: Uint8Array): PcapngFile => {
    const r = readPcapng(b);
    if (isPcapngError(r)) throw new Error(r.message);
    return r;
  };

  it('round-trips everything the writer wrote', () => {
    const f = parse(bytes);
    expect(f.section).toEqual({
      majorVersion: 1, minorVersion: 0, hardware: 'quark-2m', os: 'quarklab-linux',
      userApplication: 'quarklab test', comment: 'pcapng test capture',
    });
    expect(f.interfaces).toEqual([
      { linkType: 1, snaplen: 65535, name: 'dut:eth0', description: 'board quark-2m, profile client', mac: DUT_MAC, speed: 100_000_000n, tsresol: 9 },
      { linkType: 1, snaplen: 65535, name: 'peer:eth0', description: 'peer host, profile server', mac: PEER_MAC, speed: 1_000_000_000n, tsresol: 9 },
    ]);
    expect(f.packets).toEqual(PACKETS.map((p) => ({
      interfaceId: p.iface, timestampNs: p.ts, data: p.data, originalLength: p.data.length,
      ...(p.direction && { direction: p.direction, flags: p.direction === 'inbound' ? 1 : 2 }),
      ...(p.comment !== undefined && { comment: p.comment }),
      ...(p.dropCount !== undefined && { dropCount: BigInt(p.dropCount) }),
    })));
    const end = T0 + 3_000_000_000n;
    expect(f.statistics).toEqual([
      { interfaceId: 0, timestampNs: end, startTimeNs: T0, endTimeNs: end, received: 2n, dropped: 3n, osDropped: 1n, deliveredToUser: 2n },
      { interfaceId: 1, timestampNs: end, received: 3n, dropped: 0n },
    ]);
    expect(f.skippedBlocks).toBe(0);
  });

  it('cuts packets at the interface snaplen and keeps the original length', () => {
    const w = new PcapngWriter({});
    w.addInterface({ name: 'a', description: 'a', linkSpeedBps: 1, snaplen: 42 });
    w.addPacket(0, T0, PING, { originalLength: 1514 });
    const [p] = parse(w.toBytes()).packets;
    expect(p?.data).toEqual(PING.subarray(0, 42));
    expect(p?.originalLength).toBe(1514);
  });

  const expectError = (b: Uint8Array, pattern: RegExp): void => {
    const r = readPcapng(b);
    expect(r.ok).toBe(false);
    if (!isPcapngError(r)) return;
    expect(r.message).toMatch(pattern);
    expect(r.message).toContain(`offset ${r.offset}:`);
    expect(r.message).not.toContain('\n');
  };

  it('returns an error for every truncation that does not end on a block boundary', () => {
    // Block boundaries, walked from the length fields.
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const boundaries = new Set<number>();
    for (let at = 0; at < bytes.length; at += dv.getUint32(at + 4, true)) boundaries.add(at);
    for (let n = 0; n < bytes.length; n++) {
      const r = readPcapng(bytes.subarray(0, n));
      if (boundaries.has(n) && n > 0) expect(r.ok, `prefix ${n}`).toBe(true);
      else expect(r.ok, `prefix ${n}`).toBe(false);
    }
    expectError(bytes.subarray(0, bytes.length - 2), /^pcapng: offset \d+: truncated block 0x00000005/);
    expectError(new Uint8Array(0), /offset 0: file is 0 bytes/);
  });

  it('reports bad magic, classic pcap and big-endian sections', () => {
    const b = bytes.slice();
    b[0] = 0x42;
    expectError(b, /^pcapng: offset 0: bad magic 0x0a0d0d42/);
    const classic = new PcapWriter();
    classic.addPacket(T0, ARP);
    expectError(classic.toBytes(), /offset 0: this is a classic pcap file/);
    // A big-endian SHB: same type bytes (palindromic), length and magic big-endian.
    const be = new Uint8Array(28);
    const dv = new DataView(be.buffer);
    dv.setUint32(0, 0x0a0d0d0a);
    dv.setUint32(4, 28);
    dv.setUint32(8, 0x1a2b3c4d);
    dv.setUint16(12, 1);
    dv.setBigInt64(16, -1n);
    dv.setUint32(24, 28);
    expectError(be, /^pcapng: offset 8: big-endian section is not supported/);
  });

  it('reports block length mismatches and bad lengths', () => {
    const first = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true); // SHB length
    const mismatch = bytes.slice();
    new DataView(mismatch.buffer).setUint32(first - 4, first + 4, true);
    expectError(mismatch, new RegExp(`^pcapng: offset ${first - 4}: block 0x0a0d0d0a trailing length ${first + 4} != leading length ${first}`));
    const odd = bytes.slice();
    new DataView(odd.buffer).setUint32(first + 4, 21, true); // first IDB length not a multiple of 4
    expectError(odd, new RegExp(`^pcapng: offset ${first}: block 0x00000001 has invalid total length 21`));
  });

  it('reports options and packets that overrun their block', () => {
    const w = new PcapngWriter({ comment: 'abcd' });
    w.addInterface({ name: 'a', description: 'a', linkSpeedBps: 1 });
    w.addPacket(0, T0, ARP);
    const good = w.toBytes();
    const opt = good.slice();
    new DataView(opt.buffer).setUint16(26, 200, true); // SHB opt_comment length
    expectError(opt, /^pcapng: offset 24: option 1 length 200 runs past the block end/);
    // EPB captured length beyond its block: EPB is the last block here.
    const epbAt = good.length - (12 + 20 + 60);
    const cap = good.slice();
    new DataView(cap.buffer).setUint32(epbAt + 20, 1000, true);
    expectError(cap, new RegExp(`^pcapng: offset ${epbAt + 20}: captured length 1000 exceeds block body`));
    const iface = good.slice();
    new DataView(iface.buffer).setUint32(epbAt + 8, 7, true);
    expectError(iface, /packet refers to interface 7, only 1 defined/);
  });

  it('never throws on corrupted bytes', () => {
    let seed = 12345; // fixed LCG: the same corruptions every run
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const b = bytes.slice();
      for (let k = 0; k <= rand(4); k++) b[rand(b.length)] = rand(256);
      expect(() => readPcapng(b)).not.toThrow();
    }
  });
});

describe('classic pcap', () => {
  it('is read by tshark with nanosecond timestamps', () => {
    const w = new PcapWriter();
    for (const p of PACKETS) w.addPacket(p.ts, p.data);
    const b = w.toBytes();
    expect(new DataView(b.buffer).getUint32(0, true)).toBe(0xa1b23c4d);
    const f = join(dir, 'capture.pcap');
    writeFileSync(f, b);
    // IP checksum checking (for the expert text) changes none of these fields.
    const fields = ['frame.time_epoch', 'frame.len', 'frame.cap_len', 'frame.protocols'];
    const pass = tsharkPass(f, fields, { extraArgs: ['-o', 'ip.check_checksum:TRUE'], expert: true });
    const rows = tsharkColumns(pass.rows, fields);
    const expert = pass.expert;
    expect(rows).toEqual(PACKETS.map((p) => [
      epochString(p.ts), String(p.data.length), String(p.data.length),
      p.data === ARP ? 'eth:ethertype:arp' : 'eth:ethertype:ip:icmp:data',
    ]));
    expect(expert).not.toMatch(/Malformed|Errors \(|Warns \(/);
    const info = capinfos(['-M', f]);
    expect(info.stdout).toMatch(/File type:\s+nsecpcap\n/); // capinfos -M: machine-readable type name
    expect(info.stdout).toMatch(/File timestamp precision:\s+nanoseconds \(9\)/);
    expect(info.stdout).toMatch(/File encapsulation:\s+ether/);
  });
});
