// The two ways a program configures the interface — rtnetlink messages on an AF_NETLINK socket
// and SIOC* ioctls on an AF_INET socket — as real bytes, on booted boards whose profiles have
// one path or both, with the counters that show which path ran.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { inetAddAddress } from '../stack/ipv4/devinet.js';
import type { Syscalls } from '../stack/socket/syscalls.js';
import { bootPair, DUT_IP, expectBaseline, LAB_IP, pattern, settle, type Pair } from './helpers/lab-pair.js';
import { readU16le, readU32, readU32le, writeU16le, writeU32, writeU32le } from '../stack/uapi/byte-order.js';
import { AF_INET, AF_NETLINK, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM } from '../stack/uapi/socket.js';
import { NETLINK_ROUTE } from '../stack/uapi/netlink.js';
import {
  SIOCADDRT, SIOCDELRT, SIOCGIFADDR, SIOCGIFFLAGS, SIOCGIFHWADDR, SIOCGIFINDEX, SIOCGIFMTU,
  SIOCGIFNAME, SIOCGIFNETMASK, SIOCINQ, SIOCSIFADDR, SIOCSIFMTU, SIOCSIFNETMASK,
} from '../stack/uapi/sockios.js';
import { IFF_UP } from '../stack/uapi/if.js';
import { RTF_GATEWAY, RTF_HOST, RTF_UP } from '../stack/uapi/route.js';
import { Errno } from '../stack/uapi/errno.js';

// ---------------------------------------------------------------- netlink encoding (i386)

function be(v: number): Uint8Array {
  const b = new Uint8Array(4);
  writeU32(b, 0, v);
  return b;
}
function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  writeU32le(b, 0, v);
  return b;
}
function attr(type: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array((4 + payload.length + 3) & ~3);
  writeU16le(b, 0, 4 + payload.length);
  writeU16le(b, 2, type);
  b.set(payload, 4);
  return b;
}
function nlmsg(type: number, flags: number, seq: number, ...parts: Uint8Array[]): Uint8Array {
  const len = 16 + parts.reduce((s, p) => s + p.length, 0);
  const b = new Uint8Array(len);
  writeU32le(b, 0, len);
  writeU16le(b, 4, type);
  writeU16le(b, 6, flags);
  writeU32le(b, 8, seq);
  let at = 16;
  for (const p of parts) {
    b.set(p, at);
    at += p.length;
  }
  return b;
}
function ifaddrmsg(family: number, prefixLen: number, ifindex: number): Uint8Array {
  const b = new Uint8Array(8);
  b[0] = family;
  b[1] = prefixLen;
  writeU32le(b, 4, ifindex);
  return b;
}
/** struct rtmsg: 12 bytes (eight u8 fields and rtm_flags). */
function rtmsg(dstLen: number, type = 1): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = AF_INET;
  b[1] = dstLen;
  b[4] = 254;
  b[5] = 3;
  b[7] = type;
  return b;
}

const REQ = 1;
const ACK = 4;
const DUMP = 0x300;
const EXCL = 0x200;
const CREATE = 0x400;

interface Msg {
  type: number;
  flags: number;
  seq: number;
  body: Uint8Array;
}

function recvAll(sys: Syscalls, fd: number): Msg[] {
  const out: Msg[] = [];
  for (;;) {
    const r = sys.recvfrom(fd);
    if (typeof r === 'number') return out;
    let at = 0;
    while (at + 16 <= r.data.length) {
      const len = readU32le(r.data, at);
      expect(len).toBeGreaterThanOrEqual(16);
      out.push({ type: readU16le(r.data, at + 4), flags: readU16le(r.data, at + 6), seq: readU32le(r.data, at + 8), body: r.data.slice(at + 16, at + len) });
      at += (len + 3) & ~3;
    }
  }
}

/** Send one request and return the errno of its NLMSG_ERROR acknowledgement. */
function request(sys: Syscalls, fd: number, msg: Uint8Array): number {
  expect(sys.sendto(fd, msg, { addr: 0, port: 0 })).toBe(msg.length);
  const replies = recvAll(sys, fd);
  const ack = replies.find((m) => m.type === 2);
  if (!ack) throw new Error('no acknowledgement');
  expect(ack.seq).toBe(readU32le(msg, 8));
  return readU32le(ack.body, 0) | 0;
}

function attrsOf(body: Uint8Array, fixed: number): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  let at = fixed;
  while (at + 4 <= body.length) {
    const len = readU16le(body, at);
    m.set(readU16le(body, at + 2), body.slice(at + 4, at + len));
    at += (len + 3) & ~3;
  }
  return m;
}

// ---------------------------------------------------------------- ioctl encoding (i386)

function ifreq(name: string, addr?: number, family = AF_INET): Uint8Array {
  const b = new Uint8Array(32);
  for (let i = 0; i < name.length; i++) b[i] = name.charCodeAt(i);
  if (addr !== undefined) {
    writeU16le(b, 16, family);
    writeU32(b, 20, addr);
  }
  return b;
}

function rtentry(dst: number, genmask: number, gateway: number, flags: number, dev?: string): Uint8Array {
  const b = new Uint8Array(84 + 16);
  writeU16le(b, 4, AF_INET);
  writeU32(b, 8, dst);
  writeU16le(b, 20, AF_INET);
  writeU32(b, 24, gateway);
  writeU16le(b, 36, AF_INET);
  writeU32(b, 40, genmask);
  writeU16le(b, 52, flags);
  if (dev) {
    // rt_dev points into the same buffer: the name sits just after the structure.
    writeU32le(b, 68, 84);
    for (let i = 0; i < dev.length; i++) b[84 + i] = dev.charCodeAt(i);
  }
  return b;
}

function labOnly(p: Pair): void {
  expect(inetAddAddress(p.lab.stack, p.lab.dev.ifindex, LAB_IP, 24)).toBe(0);
}

/** A UDP datagram to the lab host and back proves the address and the default route work. */
function roundTrip(p: Pair, to = LAB_IP): boolean {
  const srv = p.labSys.socket(AF_INET, SOCK_DGRAM, 0);
  p.labSys.bind(srv, { addr: 0, port: 7 });
  const cli = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
  p.dutSys.sendto(cli, pattern(32), { addr: to, port: 7 });
  settle(p, 20 * NS_PER_MS);
  const got = p.labSys.recvfrom(srv);
  p.labSys.close(srv);
  p.dutSys.close(cli);
  return typeof got !== 'number' && got.from.addr === DUT_IP;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('configuration by rtnetlink (client profile: NETLINK and RTNETLINK built in)', () => {
  it('adds the address and default route, dumps them back, and counts only the rtnetlink path', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'client', configure: false });
    labOnly(p);
    const s = p.dutSys;
    const ifindex = p.dut.dev.ifindex;
    const nl = s.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    expect(nl).toBeGreaterThanOrEqual(0);
    expect(request(s, nl, nlmsg(20, REQ | ACK | CREATE | EXCL, 1, ifaddrmsg(AF_INET, 24, ifindex), attr(2, be(DUT_IP)), attr(1, be(DUT_IP))))).toBe(0);
    expect(request(s, nl, nlmsg(24, REQ | ACK | CREATE | EXCL, 2, rtmsg(0), attr(5, be(LAB_IP)), attr(4, u32(ifindex))))).toBe(0);
    expect(p.dut.stack.primaryAddress(ifindex)).toBe(DUT_IP);
    expect(p.dut.stack.fib.lookup(0x08080808)?.gateway).toBe(LAB_IP);
    expect(roundTrip(p)).toBe(true);

    s.sendto(nl, nlmsg(22, REQ | DUMP, 3, ifaddrmsg(AF_INET, 0, 0)), { addr: 0, port: 0 });
    const addrs = recvAll(s, nl);
    expect(addrs.map((m) => m.type)).toEqual([20, 3]); // RTM_NEWADDR, NLMSG_DONE
    expect(addrs[0]!.flags & 2).toBe(2); // NLM_F_MULTI
    const a = attrsOf(addrs[0]!.body, 8);
    expect(readU32(a.get(2)!, 0)).toBe(DUT_IP);
    expect(addrs[0]!.body[1]).toBe(24);

    s.sendto(nl, nlmsg(26, REQ | DUMP, 4, rtmsg(0)), { addr: 0, port: 0 });
    const routes = recvAll(s, nl).filter((m) => m.type === 24);
    expect(routes).toHaveLength(2);
    const gw = routes.map((m) => attrsOf(m.body, 12).get(5)).find((g) => g !== undefined)!;
    expect(readU32(gw, 0)).toBe(LAB_IP);

    s.sendto(nl, nlmsg(18, REQ | DUMP, 5, new Uint8Array(16)), { addr: 0, port: 0 });
    const links = recvAll(s, nl).filter((m) => m.type === 16);
    expect(links).toHaveLength(1);
    expect(new TextDecoder().decode(attrsOf(links[0]!.body, 16).get(3)!)).toBe('eth0\0');

    expect(p.dut.stack.configStats).toEqual({ rtnetlink: 5, ioctl: 0 });

    // Removing the address takes the routes through the interface with it (its last address).
    expect(request(s, nl, nlmsg(21, REQ | ACK, 6, ifaddrmsg(AF_INET, 24, ifindex), attr(2, be(DUT_IP))))).toBe(0);
    expect(p.dut.stack.addresses).toHaveLength(0);
    expect(p.dut.stack.fib.routes()).toHaveLength(0);
    s.closeAll();
    p.labSys.closeAll();
    expectBaseline(p);
  });

  it('answers bad requests with an error (the request echoed) and stops at a header that lies, never throwing', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'client', configure: false });
    const s = p.dutSys;
    const ifindex = p.dut.dev.ifindex;
    const nl = s.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    const add = nlmsg(20, REQ | ACK | CREATE | EXCL, 1, ifaddrmsg(AF_INET, 24, ifindex), attr(2, be(DUT_IP)));
    expect(request(s, nl, add)).toBe(0);
    // The same address again with NLM_F_EXCL: EEXIST, and the error message carries the request.
    s.sendto(nl, add, { addr: 0, port: 0 });
    const err = recvAll(s, nl)[0]!;
    expect(readU32le(err.body, 0) | 0).toBe(-Errno.EEXIST);
    expect(err.body.slice(4)).toEqual(add);
    const cases: [Uint8Array, number][] = [
      [nlmsg(20, REQ | ACK, 2, ifaddrmsg(AF_INET, 33, ifindex), attr(2, be(DUT_IP))), -Errno.EINVAL], // prefix > 32
      [nlmsg(20, REQ | ACK, 3, ifaddrmsg(AF_INET, 24, ifindex)), -Errno.EINVAL], // no IFA_LOCAL
      [nlmsg(20, REQ | ACK, 4, ifaddrmsg(AF_INET, 24, ifindex), attr(2, Uint8Array.of(1, 2))), -Errno.ERANGE], // short attribute
      [nlmsg(20, REQ | ACK, 5, ifaddrmsg(AF_INET, 24, 99), attr(2, be(DUT_IP + 1))), -Errno.ENODEV],
      [nlmsg(20, REQ | ACK, 6, Uint8Array.of(AF_INET, 24)), -Errno.EINVAL], // truncated ifaddrmsg
      [nlmsg(20, REQ | ACK, 7, ifaddrmsg(10, 64, ifindex), attr(2, be(1))), -Errno.EOPNOTSUPP], // AF_INET6: not built
      [nlmsg(24, REQ | ACK, 8, rtmsg(24), attr(1, be(0x0a000001)), attr(4, u32(ifindex))), -Errno.EINVAL], // host bits set
      [nlmsg(24, REQ | ACK, 9, rtmsg(0, 6), attr(4, u32(ifindex))), -Errno.EOPNOTSUPP], // blackhole: not modelled
      [nlmsg(24, REQ | ACK, 10, rtmsg(0), attr(5, be(0x0a000001))), -Errno.ENETUNREACH], // gateway not on link
      [nlmsg(25, REQ | ACK, 11, rtmsg(8), attr(1, be(0x0a000000))), -Errno.ESRCH],
      [nlmsg(100, REQ | ACK, 12, new Uint8Array(4)), -Errno.EOPNOTSUPP],
    ];
    for (const [msg, want] of cases) expect(request(s, nl, msg)).toBe(want);
    // A truncated attribute list ends the walk; what was parsed before still counts.
    const bad = nlmsg(20, REQ | ACK, 13, ifaddrmsg(AF_INET, 24, ifindex), attr(2, be(DUT_IP + 2)), Uint8Array.of(200, 0, 1, 0));
    expect(request(s, nl, bad)).toBe(0);
    // Lying lengths: too short, longer than what was sent; non-requests and control messages are skipped.
    const short = nlmsg(20, REQ | ACK, 14, ifaddrmsg(AF_INET, 24, ifindex));
    writeU32le(short, 0, 8);
    const long = nlmsg(20, REQ | ACK, 15, ifaddrmsg(AF_INET, 24, ifindex));
    writeU32le(long, 0, 4000);
    for (const m of [short, long, nlmsg(20, ACK, 16, ifaddrmsg(AF_INET, 24, ifindex)), nlmsg(1, REQ, 17)]) {
      expect(s.sendto(nl, m, { addr: 0, port: 0 })).toBe(m.length);
    }
    const quiet = recvAll(s, nl);
    expect(quiet.filter((m) => readU32le(m.body, 0) !== 0)).toEqual([]); // only the ACK asked by the non-request
    // Random bytes never throw.
    let x = 12345;
    for (let i = 0; i < 300; i++) {
      const junk = new Uint8Array(16 + (i % 64));
      for (let j = 0; j < junk.length; j++) junk[j] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
      if (i % 2) writeU32le(junk, 0, junk.length);
      if (i % 3) writeU16le(junk, 6, REQ);
      s.sendto(nl, junk, { addr: 0, port: 0 });
      recvAll(s, nl);
    }
    expect(p.dut.stack.configStats.ioctl).toBe(0);
    s.closeAll();
    expectBaseline(p);
  });

  it('with NETLINK but no RTNETLINK, a NETLINK_ROUTE socket is EPROTONOSUPPORT', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quarklab-cfg-'));
    dirs.push(dir);
    const path = join(dir, 'netlink-only.config');
    writeFileSync(path, '# base: minimal\nCONFIG_NETLINK=y\n');
    const p = bootPair({ dutProfile: path, configure: false });
    expect(p.dut.stack.netlink).not.toBeNull();
    expect(p.dut.stack.rtnl).toBeNull();
    expect(p.dutSys.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)).toBe(-Errno.EPROTONOSUPPORT);
    expect(p.dutSys.socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE)).toBe(-Errno.ESOCKTNOSUPPORT);
  });
});

describe('configuration by ioctl (minimal profile: no NETLINK)', () => {
  it('has no netlink family at all and configures through SIOCSIFADDR, SIOCSIFNETMASK and SIOCADDRT', () => {
    const p = bootPair({ configure: false });
    labOnly(p);
    const s = p.dutSys;
    expect(p.dut.stack.netlink).toBeNull();
    expect(p.dut.stack.rtnl).toBeNull();
    expect(s.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)).toBe(-Errno.EAFNOSUPPORT);
    const fd = s.socket(AF_INET, SOCK_DGRAM, 0);
    // ifconfig eth0 192.0.2.2 netmask 255.255.255.0 up; route add default gw 192.0.2.1
    expect(s.ioctl(fd, SIOCSIFADDR, ifreq('eth0', DUT_IP))).toBe(0);
    const nm = ifreq('eth0');
    expect(s.ioctl(fd, SIOCGIFNETMASK, nm)).toBe(0);
    expect(readU32(nm, 20)).toBe(0xffffff00); // classful: 192.0.2.2 is class C
    expect(s.ioctl(fd, SIOCSIFNETMASK, ifreq('eth0', 0xffffff00))).toBe(0);
    expect(s.ioctl(fd, SIOCADDRT, rtentry(0, 0, LAB_IP, RTF_UP | RTF_GATEWAY))).toBe(0);
    expect(s.ioctl(fd, SIOCADDRT, rtentry(0xc6336400, 0xffffff00, LAB_IP, RTF_UP | RTF_GATEWAY, 'eth0'))).toBe(0);
    expect(p.dut.stack.fib.lookup(0xc6336401)?.prefixLen).toBe(24);
    expect(roundTrip(p)).toBe(true);

    const q = ifreq('eth0');
    expect(s.ioctl(fd, SIOCGIFADDR, q)).toBe(0);
    expect([readU16le(q, 16), readU32(q, 20)]).toEqual([AF_INET, DUT_IP]);
    expect(s.ioctl(fd, SIOCGIFINDEX, q)).toBe(0);
    expect(readU32le(q, 16)).toBe(p.dut.dev.ifindex);
    expect(s.ioctl(fd, SIOCGIFFLAGS, q)).toBe(0);
    expect(readU16le(q, 16) & IFF_UP).toBe(IFF_UP);
    expect(s.ioctl(fd, SIOCGIFHWADDR, q)).toBe(0);
    expect([...q.subarray(18, 24)]).toEqual([...p.dut.dev.hwAddr]);
    writeU32le(q, 16, 1400);
    expect(s.ioctl(fd, SIOCSIFMTU, q)).toBe(0);
    expect(s.ioctl(fd, SIOCGIFMTU, q)).toBe(0);
    expect(readU32le(q, 16)).toBe(1400);
    writeU32le(q, 16, p.dut.dev.ifindex);
    expect(s.ioctl(fd, SIOCGIFNAME, q)).toBe(0);
    expect(String.fromCharCode(...q.subarray(0, 4))).toBe('eth0');
    expect(s.ioctl(fd, SIOCINQ, new Uint8Array(4))).toBe(0); // UDP's own request: not a configuration one
    expect(p.dut.stack.configStats).toEqual({ rtnetlink: 0, ioctl: 12 });

    // route del; ifconfig eth0 0.0.0.0
    expect(s.ioctl(fd, SIOCDELRT, rtentry(0xc6336400, 0xffffff00, LAB_IP, RTF_UP | RTF_GATEWAY))).toBe(0);
    expect(s.ioctl(fd, SIOCDELRT, rtentry(0xc6336400, 0xffffff00, LAB_IP, RTF_UP | RTF_GATEWAY))).toBe(-Errno.ESRCH);
    expect(s.ioctl(fd, SIOCSIFADDR, ifreq('eth0', 0))).toBe(0);
    expect(p.dut.stack.addresses).toHaveLength(0);
    expect(p.dut.stack.fib.routes()).toHaveLength(0);
    s.closeAll();
    p.labSys.closeAll();
    expectBaseline(p);
  });

  it('checks every request like copy_from_user and devinet_ioctl do', () => {
    const p = bootPair({ configure: false });
    const s = p.dutSys;
    const fd = s.socket(AF_INET, SOCK_DGRAM, 0);
    expect(s.ioctl(99, SIOCGIFADDR, ifreq('eth0'))).toBe(-Errno.EBADF);
    expect(s.ioctl(fd, SIOCSIFADDR, new Uint8Array(20))).toBe(-Errno.EFAULT);
    expect(s.ioctl(fd, SIOCADDRT, new Uint8Array(60))).toBe(-Errno.EFAULT);
    expect(s.ioctl(fd, SIOCGIFADDR, ifreq('eth0'))).toBe(-Errno.EADDRNOTAVAIL);
    expect(s.ioctl(fd, SIOCGIFADDR, ifreq('eth9'))).toBe(-Errno.ENODEV);
    expect(s.ioctl(fd, SIOCSIFADDR, ifreq('eth0', DUT_IP, 10))).toBe(-Errno.EINVAL); // not AF_INET
    expect(s.ioctl(fd, SIOCSIFADDR, ifreq('eth0', 0xe0000001))).toBe(-Errno.EINVAL); // multicast
    expect(s.ioctl(fd, SIOCSIFADDR, ifreq('eth0', 0x0a010203))).toBe(0);
    const nm = ifreq('eth0');
    s.ioctl(fd, SIOCGIFNETMASK, nm);
    expect(readU32(nm, 20)).toBe(0xff000000); // class A
    expect(s.ioctl(fd, SIOCSIFNETMASK, ifreq('eth0', 0xff00ff00))).toBe(-Errno.EINVAL); // not contiguous
    expect(s.ioctl(fd, SIOCADDRT, rtentry(0x0a000001, 0xff000000, 0, RTF_UP))).toBe(-Errno.EINVAL); // host bits
    expect(s.ioctl(fd, SIOCADDRT, rtentry(0, 0, 0, RTF_UP | RTF_GATEWAY))).toBe(-Errno.EINVAL); // no gateway
    expect(s.ioctl(fd, SIOCADDRT, rtentry(0, 0, 0xc0000201, RTF_UP | RTF_GATEWAY))).toBe(-Errno.ENETUNREACH);
    expect(s.ioctl(fd, SIOCADDRT, rtentry(0x0b000001, 0, 0, RTF_UP | RTF_HOST, 'eth7'))).toBe(-Errno.ENODEV);
    const wild = rtentry(0, 0, 0x0a000001, RTF_UP | RTF_GATEWAY);
    writeU32le(wild, 68, 5000); // rt_dev points outside the program's buffer
    expect(s.ioctl(fd, SIOCADDRT, wild)).toBe(-Errno.EFAULT);
    expect(s.ioctl(fd, SIOCADDRT, rtentry(0x0b000001, 0, 0, RTF_UP | RTF_HOST, 'eth0'))).toBe(0);
    expect(p.dut.stack.fib.lookup(0x0b000001)?.prefixLen).toBe(32);
    expect(s.ioctl(fd, 0x1234, ifreq('eth0'))).toBe(-Errno.ENOTTY);
    s.closeAll();
    expectBaseline(p);
  });
});
