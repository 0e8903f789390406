// IP_MULTICAST: IGMPv3/v2 host side, group memberships on UDP sockets, the MAC's multicast
// hash filter, multicast send and receive — on the minimal profile (which has the symbol) and
// on minimal without it. Every frame here crossed the wire between two booted boards; the IGMP
// frames are decoded from their bytes and, through a pcapng capture, by tshark.
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { macHashBin } from '../emulator/ethernet-mac.js';
import { NS_PER_MS, NS_PER_SEC } from '../emulator/event-queue.js';
import { liveObjectBytes } from '../scenarios/boot.js';
import { buildFirmware } from '../scenarios/firmware.js';
import { resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { ipChecksum } from '../stack/wire/checksum.js';
import { emitIgmp, emitIgmpv3Query } from '../stack/wire/igmp-header.js';
import { ipMreqn } from '../stack/ipv4/igmp.js';
import type { Syscalls } from '../stack/socket/syscalls.js';
import { Capture, DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { compareImages, without } from './helpers/features.js';
import {
  bootPair, drain, DUT_IP, ethFrame, expectBaseline, inject, ipPacket, LAB_IP, pattern, settle,
  type Pair,
} from './helpers/lab-pair.js';
import { removeTempDirs, tempDir } from './helpers/run.js';
import { columns, eq, tsharkPass } from './helpers/tshark.js';
import { readU16, readU32, writeU16 } from '../stack/uapi/byte-order.js';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

afterAll(removeTempDirs);

const GROUP = 0xef010203; // 239.1.2.3
const OTHER_GROUP = 0xef090909; // 239.9.9.9
const ALL_HOSTS = 0xe0000001;
const PORT = 5000;
const IPOPT_RA = [0x94, 0x04, 0x00, 0x00];

function must<T>(x: T | { error: string }): T {
  if (typeof x === 'object' && x !== null && 'error' in x) throw new Error((x as { error: string }).error);
  return x as T;
}

const mcMac = (g: number): Uint8Array => Uint8Array.of(0x01, 0x00, 0x5e, (g >>> 16) & 0x7f, (g >>> 8) & 0xff, g & 0xff);
/**
 * What kmalloc(n) takes on SLOB, the minimal profile's allocator (mm/slob.c __do_kmalloc_node):
 * an 8-byte size header (ARCH_KMALLOC_MINALIGN on i386) before the n bytes, the block rounded to
 * 2-byte SLOB units. So 32 → 40, ip_mc_list's 80 → 88, netdev_hw_addr's 76 → 84.
 */
const kmallocBytes = (n: number): number => 2 * Math.ceil((n + 8) / 2);

/** An IGMP message as the DUT put it on the wire, decoded from the frame's bytes. */
interface IgmpOut {
  time: number;
  dstMac: string;
  src: number;
  dst: number;
  ttl: number;
  tos: number;
  df: boolean;
  routerAlert: boolean;
  type: number;
  group: number;
  /** v3 reports: [record type, group address, number of sources]. */
  records: [number, number, number][];
}

/** Every IGMP frame the DUT's MAC sends, decoded (and checksum-checked) as it leaves. */
function tapIgmp(p: Pair): IgmpOut[] {
  const out: IgmpOut[] = [];
  p.dut.board.mac.addTap(({ direction, time, frame }) => {
    if (direction !== 'outbound' || readU16(frame, 12) !== 0x0800 || frame[23] !== 2) return;
    const hl = (frame[14]! & 15) * 4;
    const total = readU16(frame, 16);
    expect(ipChecksum(frame, 14, hl)).toBe(0);
    const igmp = 14 + hl;
    const len = total - hl;
    expect(ipChecksum(frame, igmp, len)).toBe(0);
    const records: [number, number, number][] = [];
    if (frame[igmp] === 0x22) {
      let at = igmp + 8;
      for (let i = 0; i < readU16(frame, igmp + 6); i++) {
        records.push([frame[at]!, readU32(frame, at + 4), readU16(frame, at + 2)]);
        at += 8 + 4 * readU16(frame, at + 2);
      }
    }
    out.push({
      time,
      dstMac: Array.from(frame.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':'),
      src: readU32(frame, 26),
      dst: readU32(frame, 30),
      ttl: frame[22]!,
      tos: frame[15]!,
      df: (frame[20]! & 0x40) !== 0,
      routerAlert: hl === 24 && [...frame.subarray(34, 38)].every((b, i) => b === IPOPT_RA[i]),
      type: frame[igmp]!,
      group: readU32(frame, igmp + 4),
      records,
    });
  });
  return out;
}

/** A pcapng capture of the DUT's MAC; `write()` closes it into a file for tshark. */
function captureDut(p: Pair): { write: () => string } {
  const cap = new Capture(DEFAULT_EPOCH_NS, {});
  cap.attach(p.dut.board.mac, 'dut eth0');
  return {
    write: () => {
      const file = join(tempDir('quarklab-mcast-'), 'dut.pcapng');
      writeFileSync(file, cap.finish(p.world.sim.now).pcapng);
      return file;
    },
  };
}

function udpSocket(sys: Syscalls, port: number, reuse = true): number {
  const fd = sys.socket(AF_INET, SOCK_DGRAM, 0);
  expect(fd).toBeGreaterThanOrEqual(0);
  if (reuse) expect(sys.setsockopt(fd, 'SO_REUSEADDR', 1)).toBe(0);
  expect(sys.bind(fd, { addr: 0, port })).toBe(0);
  return fd;
}

/** The lab host's sender: a UDP socket whose multicast goes out of its own address (it has no default route). */
function labSender(p: Pair): number {
  const fd = p.labSys.socket(AF_INET, SOCK_DGRAM, 0);
  expect(p.labSys.setsockopt(fd, 'IP_MULTICAST_IF', LAB_IP)).toBe(0);
  return fd;
}

/** A query from the lab host, as a querier sends it: to 224.0.0.1 (or the group), TTL 1, Router Alert. */
function sendQuery(p: Pair, igmp: Uint8Array, dst = ALL_HOSTS): void {
  const ip = ipPacket({ src: LAB_IP, dst, protocol: 2, ttl: 1, options: Uint8Array.from(IPOPT_RA), payload: igmp });
  ip[1] = 0xc0;
  writeU16(ip, 10, 0);
  writeU16(ip, 10, ipChecksum(ip, 0, 24));
  inject(p, ethFrame(mcMac(dst), p.lab.dev.hwAddr, 0x0800, ip));
}

function v3Query(maxRespDeciseconds: number, group = 0): Uint8Array {
  const b = new Uint8Array(12);
  emitIgmpv3Query({ code: maxRespDeciseconds, group, sFlag: false, qrv: 2, qqic: 125, sources: [] }, b, 0);
  return b;
}

function v2Query(maxRespDeciseconds: number, group = 0): Uint8Array {
  const b = new Uint8Array(8);
  emitIgmp({ type: 0x11, code: maxRespDeciseconds, group }, b, 0);
  return b;
}

describe('IP_MULTICAST on the minimal profile (IGMPv3 host)', () => {
  it('joins with a v3 report, receives the group only on joined sockets, answers a query, leaves with a report and gives its RAM back', () => {
    const p = bootPair();
    const igmp = tapIgmp(p);
    const cap = captureDut(p);
    const s = p.dutSys;
    const dev = p.dut.dev;
    const ram = p.dut.board.ram;
    // At boot the interface joined 224.0.0.1 (never reported) and programmed the MAC's hash filter.
    expect(p.dut.stack.igmp!.groups(dev).map((g) => g.multiaddr)).toEqual([ALL_HOSTS]);
    const joined = udpSocket(s, PORT);
    const allOff = udpSocket(s, PORT); // IP_MULTICAST_ALL 0: hears only its own groups
    expect(s.setsockopt(allOff, 'IP_MULTICAST_ALL', 0)).toBe(0);
    const allOn = udpSocket(s, PORT); // Linux's default IP_MULTICAST_ALL 1
    const otherPort = udpSocket(s, PORT + 1);

    const before = liveObjectBytes(ram);
    const joinedAt = p.world.sim.now;
    expect(s.setsockopt(joined, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP))).toBe(0);
    expect(s.setsockopt(joined, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP))).toBe(-Errno.EADDRINUSE);
    expect(s.setsockopt(joined, 'IP_ADD_MEMBERSHIP', ipMreqn(DUT_IP))).toBe(-Errno.EINVAL); // not a group
    // One ip_mc_socklist (32), one ip_mc_list (the calibrated 80) and the group MAC's netdev_hw_addr (76).
    const s2 = p.dut.stack.env.structs;
    expect(liveObjectBytes(ram) - before).toBe(kmallocBytes(32) + kmallocBytes(s2['ip_mc_list']!) + kmallocBytes(76));
    expect(p.dut.stack.devAddr.mcList(dev).map((h) => [...h.addr])).toEqual([[...mcMac(ALL_HOSTS)], [...mcMac(GROUP)]]);
    const bin = macHashBin(mcMac(GROUP));
    expect((p.dut.board.mac.filter.hash[bin >> 5]! >>> (bin & 31)) & 1).toBe(1);

    // The state-change report: CHANGE_TO_EXCLUDE {} for the group to 224.0.0.22, sent twice
    // (robustness variable 2), the first after 2 jiffies, the second within the 1 s interval.
    settle(p, 2 * NS_PER_SEC);
    expect(igmp).toHaveLength(2);
    for (const r of igmp) {
      expect(r).toMatchObject({ dstMac: '01:00:5e:00:00:16', src: DUT_IP, dst: 0xe0000016, ttl: 1, tos: 0xc0, df: true, routerAlert: true, type: 0x22 });
      expect(r.records).toEqual([[4, GROUP, 0]]);
    }
    expect(igmp[0]!.time - joinedAt).toBeLessThan(20 * NS_PER_MS);
    expect(igmp[1]!.time - igmp[0]!.time).toBeLessThanOrEqual(NS_PER_SEC + 10 * NS_PER_MS);

    // The lab host sends to the group: the MAC lets the frames in by their hash bin.
    const lab = labSender(p);
    const macBefore = { ...p.dut.board.mac.stats };
    for (let i = 0; i < 3; i++) expect(p.labSys.sendto(lab, pattern(40, i), { addr: GROUP, port: PORT })).toBe(40);
    // A group nobody joined: its MAC's bin is not set, so the MAC drops it and counts it.
    expect(macHashBin(mcMac(OTHER_GROUP))).not.toBe(bin);
    expect(macHashBin(mcMac(OTHER_GROUP))).not.toBe(macHashBin(mcMac(ALL_HOSTS)));
    expect(p.labSys.sendto(lab, pattern(40, 9), { addr: OTHER_GROUP, port: PORT })).toBe(40);
    settle(p, 10 * NS_PER_MS);
    const got = drain(s, joined);
    expect(got.map((d) => d.data)).toEqual([pattern(40, 0), pattern(40, 1), pattern(40, 2)]);
    expect(got[0]!.from.addr).toBe(LAB_IP);
    expect(drain(s, allOff)).toHaveLength(0);
    expect(drain(s, otherPort)).toHaveLength(0);
    expect(drain(s, allOn)).toHaveLength(3); // Linux: an unjoined socket on the port hears joined groups
    expect(p.dut.board.mac.stats.rx_packets - macBefore.rx_packets).toBe(3);
    expect(p.dut.board.mac.stats.da_rx_filter_fail - macBefore.da_rx_filter_fail).toBe(1);
    expect(p.dut.stack.mib.snapshot()['IpExt']).toMatchObject({ InMcastPkts: 3, InMcastOctets: 3 * (20 + 8 + 40) });
    expect(p.lab.stack.mib.snapshot()['IpExt']).toMatchObject({ OutMcastPkts: 4 });

    // A v3 general query with a 1 s maximum response time: one current-state report, the
    // group as MODE_IS_EXCLUDE {} (224.0.0.1 is never reported), within that second.
    const queryAt = p.world.sim.now;
    sendQuery(p, v3Query(10));
    settle(p, 2 * NS_PER_SEC);
    expect(igmp).toHaveLength(3);
    expect(igmp[2]!.records).toEqual([[2, GROUP, 0]]);
    expect(igmp[2]!.time - queryAt).toBeLessThanOrEqual(NS_PER_SEC + 20 * NS_PER_MS);
    expect(p.dut.stack.igmp!.stats.rx_queries).toBe(1);
    // A group-specific query goes to the group and is answered for it alone.
    sendQuery(p, v3Query(10, GROUP), GROUP);
    settle(p, 2 * NS_PER_SEC);
    expect(igmp).toHaveLength(4);
    expect(igmp[3]!.records).toEqual([[2, GROUP, 0]]);

    // Leaving: CHANGE_TO_INCLUDE {} twice; the MAC filter forgets the group.
    expect(s.setsockopt(joined, 'IP_DROP_MEMBERSHIP', ipMreqn(GROUP))).toBe(0);
    expect(s.setsockopt(joined, 'IP_DROP_MEMBERSHIP', ipMreqn(GROUP))).toBe(-Errno.EADDRNOTAVAIL);
    settle(p, 3 * NS_PER_SEC);
    expect(igmp.slice(4).map((r) => [r.type, r.dst, r.records])).toEqual([
      [0x22, 0xe0000016, [[3, GROUP, 0]]],
      [0x22, 0xe0000016, [[3, GROUP, 0]]],
    ]);
    expect((p.dut.board.mac.filter.hash[bin >> 5]! >>> (bin & 31)) & 1).toBe(0);
    expect(p.labSys.sendto(lab, pattern(40, 4), { addr: GROUP, port: PORT })).toBe(40);
    settle(p, 10 * NS_PER_MS);
    expect(drain(s, joined)).toHaveLength(0);
    expect(liveObjectBytes(ram)).toBe(before); // the tomb record went with the last retransmission

    // tshark reads the same reports from the capture: IGMPv3 (0x22), the group, the record types.
    const file = cap.write();
    // One tshark pass for the reports (0x22), the queries (0x11) and the `-z expert` text: the
    // rows the display filter `igmp.type == 0x22 || igmp.type == 0x11` keeps are split by
    // tshark's igmp.type. IP and UDP checksum checking, on for the expert check, changes none of
    // these fields while every checksum is good (IGMP's is checked either way).
    const fields = ['igmp.version', 'igmp.type', 'igmp.maddr', 'igmp.record_type', 'igmp.checksum.status', 'ip.ttl', 'ip.opt.type'];
    const scan = tsharkPass(file, fields, { extraArgs: ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'], expert: true });
    const seen = columns(scan.rows.filter((r) => eq(r, 'igmp.type', '0x22') || eq(r, 'igmp.type', '0x11')), fields);
    const reports = seen.filter((r) => r[1] === '0x22');
    const rows = reports.map((r) => r.slice(0, 5));
    // checksum.status 1: tshark verified the checksum good.
    expect(rows).toEqual([
      ['3', '0x22', '239.1.2.3', '4', '1'],
      ['3', '0x22', '239.1.2.3', '4', '1'],
      ['3', '0x22', '239.1.2.3', '2', '1'],
      ['3', '0x22', '239.1.2.3', '2', '1'],
      ['3', '0x22', '239.1.2.3', '3', '1'],
      ['3', '0x22', '239.1.2.3', '3', '1'],
    ]);
    expect(reports[0]!.slice(5)).toEqual(['1', '148']);
    // The lab's datagrams and queries are in the capture too; none is malformed or has a bad checksum.
    expect(seen.filter((r) => r[1] === '0x11').map((r) => [r[1], r[0]])).toEqual([['0x11', '3'], ['0x11', '3']]);
    expect(seen.filter((r) => r[1] !== '0x22' && r[1] !== '0x11')).toEqual([]);
    expect(scan.expert).not.toMatch(/Malformed|Errors \(/);

    for (const fd of [joined, allOff, allOn, otherPort]) expect(s.close(fd)).toBe(0);
    expect(p.labSys.close(lab)).toBe(0);
    expectBaseline(p);
  });

  it('falls back to IGMPv2 while a v2 querier is present: v2 reports, report suppression, v2 leave', () => {
    const p = bootPair();
    const igmp = tapIgmp(p);
    const s = p.dutSys;
    const fd = udpSocket(s, PORT);
    expect(s.setsockopt(fd, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP, DUT_IP))).toBe(0); // by interface address
    settle(p, 2 * NS_PER_SEC);
    expect(igmp.map((r) => r.type)).toEqual([0x22, 0x22]);

    // An 8-byte query is IGMPv2 (max response 1 s): answered with a v2 report to the group itself.
    sendQuery(p, v2Query(10));
    settle(p, 2 * NS_PER_SEC);
    expect(p.dut.stack.igmp!.querierVersion(p.dut.dev)).toBe(2);
    expect(igmp.slice(2).map((r) => [r.type, r.dst, r.group, r.dstMac, r.ttl, r.routerAlert])).toEqual([[0x16, GROUP, GROUP, '01:00:5e:01:02:03', 1, true]]);

    // Another member's report heard before our timer fires suppresses ours (RFC 2236 §3).
    sendQuery(p, v2Query(100)); // 10 s: our report will wait
    settle(p, 5 * NS_PER_MS);
    const report = new Uint8Array(8);
    emitIgmp({ type: 0x16, code: 0, group: GROUP }, report, 0);
    const other = ipPacket({ src: 0xc0000263, dst: GROUP, protocol: 2, ttl: 1, options: Uint8Array.from(IPOPT_RA), payload: report });
    inject(p, ethFrame(mcMac(GROUP), p.lab.dev.hwAddr, 0x0800, other));
    settle(p, 11 * NS_PER_SEC);
    expect(igmp).toHaveLength(3);
    // Not the last reporter, so leaving sends nothing (only the reporter sends the v2 leave) …
    expect(s.setsockopt(fd, 'IP_DROP_MEMBERSHIP', ipMreqn(GROUP))).toBe(0);
    settle(p, 2 * NS_PER_SEC);
    expect(igmp).toHaveLength(3);
    // … but a member that did report leaves with a leave message to all routers (224.0.0.2).
    expect(s.setsockopt(fd, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP))).toBe(0);
    settle(p, 2 * NS_PER_MS);
    sendQuery(p, v2Query(10));
    settle(p, 2 * NS_PER_SEC);
    expect(s.setsockopt(fd, 'IP_DROP_MEMBERSHIP', ipMreqn(GROUP))).toBe(0);
    settle(p, NS_PER_SEC);
    // The join is reported in v2 while the v2 querier is present; the query that follows finds
    // that report already due sooner and leaves it be (igmp_mod_timer), cancelling the repeat.
    expect(igmp.slice(3).map((r) => [r.type, r.dst, r.group])).toEqual([
      [0x16, GROUP, GROUP],
      [0x17, 0xe0000002, GROUP],
    ]);

    // Once no v2 query has been heard for robustness × query interval + response interval
    // (2 × 125 s + 10 s), the interface reports in v3 again.
    settle(p, 261 * NS_PER_SEC);
    expect(p.dut.stack.igmp!.querierVersion(p.dut.dev)).toBe(3);
    const n = igmp.length;
    expect(s.setsockopt(fd, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP))).toBe(0);
    settle(p, 2 * NS_PER_SEC);
    expect(igmp.slice(n).map((r) => r.type)).toEqual([0x22, 0x22]);
    expect(s.close(fd)).toBe(0); // closing leaves the group (ip_mc_drop_socket)
    settle(p, 3 * NS_PER_SEC);
    expect(p.dut.stack.igmp!.groups(p.dut.dev).map((g) => g.multiaddr)).toEqual([ALL_HOSTS]);
    expectBaseline(p);
  });

  it('sends to a group with TTL 1 and loops it back to local members unless IP_MULTICAST_LOOP is off', () => {
    const p = bootPair();
    const s = p.dutSys;
    const wire: Uint8Array[] = [];
    p.dut.board.mac.addTap(({ direction, frame }) => {
      if (direction === 'outbound' && readU16(frame, 12) === 0x0800 && frame[23] === 17) wire.push(frame);
    });
    const member = udpSocket(s, PORT);
    expect(s.setsockopt(member, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP))).toBe(0);
    const labMember = udpSocket(p.labSys, PORT);
    expect(p.labSys.setsockopt(labMember, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP, LAB_IP))).toBe(0);
    settle(p, 2 * NS_PER_SEC);

    const tx = s.socket(AF_INET, SOCK_DGRAM, 0);
    expect(s.sendto(tx, pattern(20, 1), { addr: GROUP, port: PORT })).toBe(20); // the route to the group is the default one
    settle(p, 10 * NS_PER_MS);
    expect(wire).toHaveLength(1);
    expect([...wire[0]!.subarray(0, 6)]).toEqual([...mcMac(GROUP)]);
    expect(wire[0]![22]).toBe(1); // IP_MULTICAST_TTL's default
    expect(drain(s, member).map((d) => d.data)).toEqual([pattern(20, 1)]); // looped back
    expect(drain(p.labSys, labMember).map((d) => d.data)).toEqual([pattern(20, 1)]);

    expect(s.setsockopt(tx, 'IP_MULTICAST_LOOP', 0)).toBe(0);
    expect(s.setsockopt(tx, 'IP_MULTICAST_TTL', 5)).toBe(0);
    expect(s.setsockopt(tx, 'IP_MULTICAST_TTL', 256)).toBe(-Errno.EINVAL);
    expect(s.sendto(tx, pattern(20, 2), { addr: GROUP, port: PORT })).toBe(20);
    settle(p, 10 * NS_PER_MS);
    expect(wire).toHaveLength(2);
    expect(wire[1]![22]).toBe(5);
    expect(drain(s, member)).toHaveLength(0);
    expect(drain(p.labSys, labMember)).toHaveLength(1);
    // TTL 0 stays on the host: looped (loop back on), never on the wire.
    expect(s.setsockopt(tx, 'IP_MULTICAST_LOOP', 1)).toBe(0);
    expect(s.setsockopt(tx, 'IP_MULTICAST_TTL', 0)).toBe(0);
    expect(s.sendto(tx, pattern(20, 3), { addr: GROUP, port: PORT })).toBe(20);
    settle(p, 10 * NS_PER_MS);
    expect(wire).toHaveLength(2);
    expect(drain(s, member).map((d) => d.data)).toEqual([pattern(20, 3)]);
    expect(p.dut.stack.mib.snapshot()['IpExt']).toMatchObject({ OutMcastPkts: 2 + 2 }); // and the join's two reports

    for (const fd of [member, tx]) expect(s.close(fd)).toBe(0);
    expect(p.labSys.close(labMember)).toBe(0);
    settle(p, 3 * NS_PER_SEC);
    expectBaseline(p);
  });

  it('shares one ip_mc_list per group between sockets; RAM per group is ip_mc_list + the MAC entry, per membership ip_mc_socklist', () => {
    const p = bootPair();
    const s = p.dutSys;
    const ram = p.dut.board.ram;
    const structs = p.dut.stack.env.structs;
    const a = udpSocket(s, PORT);
    const b = udpSocket(s, PORT);
    settle(p, NS_PER_MS);
    const m0 = liveObjectBytes(ram);
    expect(s.setsockopt(a, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP))).toBe(0);
    settle(p, 2 * NS_PER_SEC);
    const m1 = liveObjectBytes(ram);
    expect(m1 - m0).toBe(kmallocBytes(32) + kmallocBytes(structs['ip_mc_list']!) + kmallocBytes(76));
    expect(s.setsockopt(b, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP))).toBe(0);
    settle(p, 2 * NS_PER_SEC);
    expect(liveObjectBytes(ram) - m1).toBe(kmallocBytes(32)); // the group's ip_mc_list is shared
    expect(p.dut.stack.igmp!.groups(p.dut.dev).find((g) => g.multiaddr === GROUP)!.users).toBe(2);
    // Other sockets: TCP refuses (EPROTO, as an inet_connection_sock); a ping socket may not
    // hold memberships in this model; IP_MULTICAST_IF must name one of our addresses.
    const t = s.socket(AF_INET, SOCK_STREAM, 0);
    expect(s.setsockopt(t, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP))).toBe(-71);
    const ping = s.socket(AF_INET, SOCK_DGRAM, 1);
    expect(s.setsockopt(ping, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP))).toBe(-Errno.EOPNOTSUPP);
    expect(s.setsockopt(a, 'IP_MULTICAST_IF', 0xc0000263)).toBe(-Errno.EADDRNOTAVAIL);
    expect(s.setsockopt(a, 'IP_ADD_MEMBERSHIP', new Uint8Array(7))).toBe(-Errno.EINVAL); // shorter than ip_mreq
    expect(s.close(t)).toBe(0);
    expect(s.close(ping)).toBe(0);
    expect(s.close(a)).toBe(0);
    expect(p.dut.stack.igmp!.groups(p.dut.dev).find((g) => g.multiaddr === GROUP)!.users).toBe(1);
    expect(s.close(b)).toBe(0);
    settle(p, 3 * NS_PER_SEC);
    expectBaseline(p);
  });
});

describe('without IP_MULTICAST (# base: minimal, # CONFIG_IP_MULTICAST is not set)', () => {
  it('refuses memberships, sends no IGMP, drops group frames at the MAC, and costs exactly igmp.o and one ip_mc_list less', () => {
    const noMcast = without('minimal', 'IP_MULTICAST');
    const p = bootPair({ dutProfile: noMcast });
    expect(p.dut.stack.igmp).toBeNull();
    const igmp = tapIgmp(p);
    const s = p.dutSys;
    const fd = udpSocket(s, PORT);
    expect(s.setsockopt(fd, 'IP_ADD_MEMBERSHIP', ipMreqn(GROUP))).toBe(-Errno.ENOPROTOOPT);
    expect(s.setsockopt(fd, 'IP_MULTICAST_TTL', 4)).toBe(-Errno.ENOPROTOOPT);
    settle(p, 2 * NS_PER_SEC);
    expect(igmp).toHaveLength(0);
    expect(p.dut.stack.devAddr.mcList(p.dut.dev)).toHaveLength(0); // not even 224.0.0.1
    expect(p.dut.board.mac.filter.hash).toEqual([0, 0]);

    const mac = p.dut.board.mac.stats;
    const before = { ...mac };
    const lab = labSender(p);
    for (let i = 0; i < 3; i++) expect(p.labSys.sendto(lab, pattern(40, i), { addr: GROUP, port: PORT })).toBe(40);
    sendQuery(p, v3Query(10));
    settle(p, 2 * NS_PER_SEC);
    expect(mac.da_rx_filter_fail - before.da_rx_filter_fail).toBe(4);
    expect(mac.rx_packets).toBe(before.rx_packets);
    expect(drain(s, fd)).toHaveLength(0);
    expect(igmp).toHaveLength(0);

    // No IGMP protocol handler: IGMP to our unicast address is an unknown protocol.
    const unreach: number[][] = [];
    p.dut.board.mac.addTap(({ direction, frame }) => {
      if (direction === 'outbound' && readU16(frame, 12) === 0x0800 && frame[23] === 1) unreach.push([frame[34]!, frame[35]!]);
    });
    const ip0 = p.dut.stack.mib.snapshot()['Ip']!;
    inject(p, ethFrame(p.dut.dev.hwAddr, p.lab.dev.hwAddr, 0x0800, ipPacket({ src: LAB_IP, dst: DUT_IP, protocol: 2, payload: v3Query(10) })));
    settle(p, 10 * NS_PER_MS);
    expect(p.dut.stack.mib.snapshot()['Ip']!['InUnknownProtos']! - ip0['InUnknownProtos']!).toBe(1);
    expect(unreach).toEqual([[3, 2]]); // ICMP destination unreachable, protocol unreachable
    expect(s.close(fd)).toBe(0);
    expect(p.labSys.close(lab)).toBe(0);
    expectBaseline(p);

    // The image: exactly igmp.o's calibrated text + data less (plus its section-table entries
    // and the config section's symbol list); boot RAM by those sections' pages.
    const table = resolveCostTable();
    if ('error' in table) throw new Error(table.error);
    const igmpO = table.objects['net/ipv4/igmp.o']!;
    const c = compareImages('quark-2m', 'minimal', noMcast, ['IP_MULTICAST']);
    expect(c.modelledFlash).toBe(igmpO.text + igmpO.data);
    expect(c.imageDelta).toBe(igmpO.text + igmpO.data + 48 * c.sectionsDelta + c.configDelta);
    expect(c.bootRamDelta).toBe(c.modelledBootRam);
    const withFw = must(buildFirmware(must(resolveBoard('quark-2m')), must(resolveProfile('minimal')), table));
    expect(withFw.sections.filter((x) => x.name.startsWith('net:IP_MULTICAST')).map((x) => [x.name, x.size])).toEqual([
      ['net:IP_MULTICAST.text', igmpO.text],
      ['net:IP_MULTICAST.data', igmpO.data],
    ]);

    // Live kernel objects after boot: one ip_mc_list and one netdev_hw_addr (224.0.0.1) more with it.
    const withMcast = bootPair();
    expect(withMcast.dut.baselineObjects - p.dut.baselineObjects).toBe(kmallocBytes(withMcast.dut.stack.env.structs['ip_mc_list']!) + kmallocBytes(76));
  });
});
