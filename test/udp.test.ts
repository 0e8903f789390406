// UDP on two booted boards: sockets in board RAM, datagrams on the wire, Linux's counters.
import { describe, expect, it } from 'vitest';
import { NS_PER_MS, NS_PER_SEC } from '../emulator/event-queue.js';
import { inetAddAddress } from '../stack/ipv4/devinet.js';
import type { Syscalls } from '../stack/socket/syscalls.js';
import {
  bootPair, drain, DUT_IP, expectBaseline, inject, ipPacket, LAB_IP, OTHER_IP, pattern, settle,
  toDut, udpSegment, type Pair,
} from './helpers/lab-pair.js';
import { writeU16 } from '../stack/uapi/byte-order.js';
import { AF_INET, SOCK_DGRAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

function udpSocket(sys: Syscalls): number {
  const fd = sys.socket(AF_INET, SOCK_DGRAM, 0);
  expect(fd).toBeGreaterThanOrEqual(0);
  return fd;
}

function udpMib(p: Pair, who: 'dut' | 'lab'): Record<string, number> {
  return p[who].stack.mib.snapshot()['Udp']!;
}

describe('UDP sockets', () => {
  it('sizes its hash table as udp_table_init does and allocates it at boot', () => {
    const p = bootPair();
    // BASE_SMALL (minimal profile): 16 slots requested, raised to the floor of 128.
    expect(p.dut.stack.udp!.hash.entries).toBe(128);
    expect(p.dut.stack.udp!.hash.bytes).toBe(128 * 2 * 8);
    // Full profile: one slot per 2 MB, at least a page of udp_hslot pairs and the floor of 256.
    expect(p.lab.stack.udp!.hash.entries).toBeGreaterThanOrEqual(256);
    // The table is allocated at boot, in whole pages as alloc_large_system_hash does.
    expect(p.dut.stack.initAllocations.some((a) => a.name.startsWith('udp_table') && a.bytes === 4096)).toBe(true);
  });

  it('binds, refuses a port in use, shares one with SO_REUSEADDR, and picks ephemeral ports in ip_local_port_range', () => {
    const p = bootPair();
    const s = p.dutSys;
    const a = udpSocket(s);
    expect(s.bind(a, { addr: 0, port: 5000 })).toBe(0);
    expect(s.bind(a, { addr: 0, port: 5001 })).toBe(-Errno.EINVAL); // already bound
    const b = udpSocket(s);
    expect(s.bind(b, { addr: 0, port: 5000 })).toBe(-Errno.EADDRINUSE);
    expect(s.bind(b, { addr: DUT_IP, port: 5000 })).toBe(-Errno.EADDRINUSE); // the wildcard covers it
    expect(s.bind(b, { addr: OTHER_IP, port: 5002 })).toBe(-Errno.EADDRNOTAVAIL);
    const c = udpSocket(s);
    const d = udpSocket(s);
    expect(s.setsockopt(c, 'SO_REUSEADDR', 1)).toBe(0);
    expect(s.setsockopt(d, 'SO_REUSEADDR', 1)).toBe(0);
    expect(s.bind(c, { addr: 0, port: 6000 })).toBe(0);
    expect(s.bind(d, { addr: 0, port: 6000 })).toBe(0);
    const ports = new Set<number>();
    const fds: number[] = [];
    for (let i = 0; i < 20; i++) {
      const fd = udpSocket(s);
      fds.push(fd);
      expect(s.sendto(fd, pattern(8), { addr: LAB_IP, port: 9 })).toBe(8); // autobind
      const name = s.getsockname(fd);
      if (typeof name === 'number') throw new Error('getsockname failed');
      expect(name.port).toBeGreaterThanOrEqual(32768);
      expect(name.port).toBeLessThanOrEqual(60999);
      ports.add(name.port);
    }
    expect(ports.size).toBe(20);
    // The randomised search uses the board's seeded generator: the same seed, the same ports.
    const q = bootPair();
    const again: number[] = [];
    for (let i = 0; i < 3; i++) {
      const fd = udpSocket(q.dutSys);
      q.dutSys.sendto(fd, pattern(8), { addr: LAB_IP, port: 9 });
      again.push((q.dutSys.getsockname(fd) as { port: number }).port);
    }
    expect(again).toEqual([...ports].slice(0, 3));
    expect(p.dut.stack.udp!.count).toBe(24);
    settle(p, 100 * NS_PER_MS);
    s.closeAll();
    expect(p.dut.stack.udp!.count).toBe(0);
    expectBaseline(p);
  });

  it('carries datagrams both ways with the sender address and Linux counters', () => {
    const p = bootPair();
    const srv = udpSocket(p.labSys);
    expect(p.labSys.bind(srv, { addr: 0, port: 7 })).toBe(0);
    const cli = udpSocket(p.dutSys);
    expect(p.dutSys.bind(cli, { addr: 0, port: 4321 })).toBe(0);
    const sizes = [1, 512, 1472];
    for (const n of sizes) expect(p.dutSys.sendto(cli, pattern(n, n), { addr: LAB_IP, port: 7 })).toBe(n);
    settle(p, 50 * NS_PER_MS);
    const got = drain(p.labSys, srv);
    expect(got.map((d) => d.data.length)).toEqual(sizes);
    expect(got[1]!.data).toEqual(pattern(512, 512));
    expect(got[0]!.from).toEqual({ addr: DUT_IP, port: 4321 });
    for (const d of got) p.labSys.sendto(srv, d.data, d.from);
    settle(p, 50 * NS_PER_MS);
    const back = drain(p.dutSys, cli);
    expect(back.map((d) => d.data.length)).toEqual(sizes);
    expect(back[0]!.from).toEqual({ addr: LAB_IP, port: 7 });
    expect(udpMib(p, 'dut')).toMatchObject({ OutDatagrams: 3, InDatagrams: 3, NoPorts: 0, InErrors: 0 });
    expect(udpMib(p, 'lab')).toMatchObject({ OutDatagrams: 3, InDatagrams: 3 });
    p.dutSys.closeAll();
    p.labSys.closeAll();
    expectBaseline(p);
    expectBaseline(p, 'lab');
  });

  it('fragments a datagram larger than the MTU, reassembles one on receipt, and refuses one over 65507 bytes', () => {
    const p = bootPair();
    const srv = udpSocket(p.labSys);
    p.labSys.bind(srv, { addr: 0, port: 7 });
    const cli = udpSocket(p.dutSys);
    expect(p.dutSys.sendto(cli, pattern(65508), { addr: LAB_IP, port: 7 })).toBe(-Errno.EMSGSIZE);
    expect(p.dutSys.sendto(cli, pattern(4000), { addr: LAB_IP, port: 7 })).toBe(4000);
    settle(p, 50 * NS_PER_MS);
    expect(p.dut.stack.ip.mib['FragCreates']).toBe(3);
    const got = drain(p.labSys, srv);
    expect(got).toHaveLength(1);
    expect(got[0]!.data).toEqual(pattern(4000));
    expect(p.lab.stack.ip.mib['ReasmOKs']).toBe(1);
    p.labSys.sendto(srv, got[0]!.data, got[0]!.from);
    settle(p, 50 * NS_PER_MS);
    const back = drain(p.dutSys, cli);
    expect(back[0]!.data).toEqual(pattern(4000));
    expect(p.dut.stack.ip.mib).toMatchObject({ ReasmReqds: 3, ReasmOKs: 1, ReasmFails: 0 });
    p.dutSys.closeAll();
    expectBaseline(p);
  });

  it('answers a datagram for no socket with port unreachable; a connected socket then gets ECONNREFUSED', () => {
    const p = bootPair();
    const conn = udpSocket(p.dutSys);
    expect(p.dutSys.connect(conn, { addr: LAB_IP, port: 9999 })).toBe(0);
    expect(p.dutSys.sendto(conn, pattern(20))).toBe(20);
    const loose = udpSocket(p.dutSys);
    expect(p.dutSys.sendto(loose, pattern(20), { addr: LAB_IP, port: 9998 })).toBe(20);
    settle(p, 50 * NS_PER_MS);
    expect(udpMib(p, 'lab')['NoPorts']).toBe(2);
    expect(p.lab.stack.icmp.mib['OutDestUnreachs']).toBe(2);
    expect(p.dut.stack.icmp.mib['InDestUnreachs']).toBe(2);
    // Port unreachable is a hard error, reported only to the connected socket.
    expect(p.dutSys.recvfrom(conn)).toBe(-Errno.ECONNREFUSED);
    expect(p.dutSys.recvfrom(loose)).toBe(-Errno.EAGAIN);
    expect(p.dutSys.sendto(conn, pattern(20))).toBe(20); // the error was taken
    settle(p, 50 * NS_PER_MS);
    p.dutSys.closeAll();
    expectBaseline(p);
  });

  it('reports ARP failure (host unreachable, a soft error) only to a socket with IP_RECVERR', () => {
    const p = bootPair();
    const plain = udpSocket(p.dutSys);
    expect(p.dutSys.connect(plain, { addr: OTHER_IP, port: 53 })).toBe(0);
    expect(p.dutSys.sendto(plain, pattern(30))).toBe(30);
    const recverr = udpSocket(p.dutSys);
    expect(p.dutSys.setsockopt(recverr, 'IP_RECVERR', 1)).toBe(0);
    expect(p.dutSys.sendto(recverr, pattern(30), { addr: OTHER_IP, port: 53 })).toBe(30);
    settle(p, 5 * NS_PER_SEC);
    expect(p.dut.stack.neigh.stats.res_failed).toBe(1);
    expect(p.dutSys.recvfrom(plain)).toBe(-Errno.EAGAIN);
    expect(p.dutSys.recvfrom(recverr)).toBe(-Errno.EHOSTUNREACH);
    p.dutSys.closeAll();
    expectBaseline(p);
  });

  it('receives broadcasts before the interface has an address (DHCP on port 68) and needs SO_BROADCAST to send them', () => {
    const p = bootPair({ configure: false });
    // Only the lab host has an address, as in the DHCP scenario.
    expect(inetAddAddress(p.lab.stack, p.lab.dev.ifindex, LAB_IP, 24)).toBe(0);
    const server = udpSocket(p.labSys);
    p.labSys.bind(server, { addr: 0, port: 67 });
    p.labSys.setsockopt(server, 'SO_BROADCAST', 1);

    const client = udpSocket(p.dutSys);
    expect(p.dutSys.setsockopt(client, 'SO_BINDTODEVICE', p.dut.dev.ifindex)).toBe(0);
    expect(p.dutSys.bind(client, { addr: 0, port: 68 })).toBe(0);
    expect(p.dutSys.sendto(client, pattern(300), { addr: 0xffffffff, port: 67 })).toBe(-Errno.EACCES);
    expect(p.dutSys.setsockopt(client, 'SO_BROADCAST', 1)).toBe(0);
    expect(p.dutSys.sendto(client, pattern(300), { addr: 0xffffffff, port: 67 })).toBe(300);
    settle(p, 10 * NS_PER_MS);
    const req = drain(p.labSys, server);
    expect(req).toHaveLength(1);
    expect(req[0]!.from).toEqual({ addr: 0, port: 68 });

    expect(p.labSys.sendto(server, pattern(320), { addr: 0xffffffff, port: 68 })).toBe(320);
    expect(p.labSys.sendto(server, pattern(40), { addr: 0xffffffff, port: 69 })).toBe(40); // nobody listens
    settle(p, 10 * NS_PER_MS);
    const offer = drain(p.dutSys, client);
    expect(offer).toHaveLength(1);
    expect(offer[0]!.from).toEqual({ addr: LAB_IP, port: 67 });
    expect(offer[0]!.data).toEqual(pattern(320));
    // A broadcast for no socket is ignored quietly: IgnoredMulti, no ICMP.
    expect(udpMib(p, 'dut')).toMatchObject({ IgnoredMulti: 1, NoPorts: 0 });
    expect(p.dut.stack.icmp.mib['OutMsgs']).toBe(0);
    p.dutSys.closeAll();
    p.labSys.closeAll();
    expectBaseline(p);
  });

  it('delivers one broadcast to every socket sharing the port', () => {
    const p = bootPair();
    const a = udpSocket(p.dutSys);
    const b = udpSocket(p.dutSys);
    for (const fd of [a, b]) {
      p.dutSys.setsockopt(fd, 'SO_REUSEADDR', 1);
      expect(p.dutSys.bind(fd, { addr: 0, port: 520 })).toBe(0);
    }
    const tx = udpSocket(p.labSys);
    p.labSys.setsockopt(tx, 'SO_BROADCAST', 1);
    p.labSys.sendto(tx, pattern(64), { addr: 0xffffffff, port: 520 });
    settle(p, 10 * NS_PER_MS);
    expect(drain(p.dutSys, a)).toHaveLength(1);
    expect(drain(p.dutSys, b)).toHaveLength(1);
    p.dutSys.closeAll();
    expectBaseline(p);
  });

  it('drops datagrams for a full receive buffer (RcvbufErrors, InErrors) and counts InDatagrams when they are read', () => {
    const p = bootPair();
    const rx = udpSocket(p.dutSys);
    p.dutSys.bind(rx, { addr: 0, port: 3000 });
    expect(p.dutSys.setsockopt(rx, 'SO_RCVBUF', 1)).toBe(0); // raised to SOCK_MIN_RCVBUF
    const tx = udpSocket(p.labSys);
    for (let i = 0; i < 10; i++) p.labSys.sendto(tx, pattern(100, i), { addr: DUT_IP, port: 3000 });
    settle(p, 50 * NS_PER_MS);
    const mib = udpMib(p, 'dut');
    expect(mib['InDatagrams']).toBe(0);
    const got = drain(p.dutSys, rx);
    const dropped = 10 - got.length;
    expect(got.length).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
    expect(udpMib(p, 'dut')).toMatchObject({ InDatagrams: got.length, RcvbufErrors: dropped, InErrors: dropped });
    expect(got[0]!.data).toEqual(pattern(100, 0));
    p.dutSys.closeAll();
    expectBaseline(p);
  });

  it('checks the UDP checksum (a bad one is InCsumErrors and InErrors; zero means none) and the length field', () => {
    const p = bootPair();
    const rx = udpSocket(p.dutSys);
    p.dutSys.bind(rx, { addr: 0, port: 4000 });
    const good = udpSegment(LAB_IP, DUT_IP, 1111, 4000, pattern(50));
    const bad = good.slice();
    bad[20] = bad[20]! ^ 0xff;
    const none = good.slice();
    writeU16(none, 6, 0);
    const long = good.slice();
    writeU16(long, 4, 200); // claims more than the packet holds
    const short = good.slice();
    writeU16(short, 4, 4); // less than a header
    for (const seg of [bad, none, long, short]) inject(p, toDut(p, ipPacket({ protocol: 17, payload: seg })));
    settle(p, 20 * NS_PER_MS);
    expect(drain(p.dutSys, rx)).toHaveLength(1);
    expect(udpMib(p, 'dut')).toMatchObject({ InCsumErrors: 1, InErrors: 3, InDatagrams: 1, NoPorts: 0 });
    p.dutSys.closeAll();
    expectBaseline(p);
  });

  it('refuses to send with no route (ENETUNREACH, OutNoRoutes) and after disconnect needs an address again', () => {
    const p = bootPair({ configure: false });
    const fd = udpSocket(p.dutSys);
    expect(p.dutSys.sendto(fd, pattern(10), { addr: LAB_IP, port: 7 })).toBe(-Errno.ENETUNREACH);
    expect(p.dut.stack.ip.mib['OutNoRoutes']).toBe(1);
    expect(p.dutSys.connect(fd, { addr: LAB_IP, port: 7 })).toBe(-Errno.ENETUNREACH);
    expect(p.dutSys.sendto(fd, pattern(10))).toBe(-Errno.EDESTADDRREQ);
    p.dutSys.closeAll();
    expectBaseline(p);
  });
});
