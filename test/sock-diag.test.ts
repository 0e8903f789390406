// sock_diag (CONFIG_INET_DIAG) through the board's netlink, as ss(8) talks to it. The request
// is written here byte by byte from include/uapi/linux/inet_diag.h (struct inet_diag_req_v2:
// family, protocol, ext, pad, states u32, inet_diag_sockid of 48 bytes = 56), and the answer
// read at that header's offsets (struct inet_diag_msg: family, state, timer, retrans, sockid
// at 4, expires 52, rqueue 56, wqueue 60, uid 64, inode 68 = 72 bytes). The oracle for which
// sockets exist is /proc/net/tcp, read on the same board.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { Ss } from '../apps/ss.js';
import { bootPair, DUT_IP, LAB_IP, settle } from './helpers/lab-pair.js';
import { AF_INET, AF_NETLINK, SOCK_RAW, SOCK_STREAM } from '../stack/uapi/socket.js';
import { NETLINK_SOCK_DIAG } from '../stack/uapi/netlink.js';
import { Errno } from '../stack/uapi/errno.js';

const le32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const be16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const be32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** nlmsghdr (16) + inet_diag_req_v2 (56): SOCK_DIAG_BY_FAMILY (20), NLM_F_REQUEST | NLM_F_DUMP (0x301). */
function request(protocol: number, states: number): Uint8Array {
  const m = new Uint8Array(72);
  m.set([72, 0, 0, 0, 20, 0, 0x01, 0x03, 7, 0, 0, 0, 0, 0, 0, 0]);
  m[16] = 2; // AF_INET
  m[17] = protocol;
  m[20] = states & 0xff;
  m[21] = (states >>> 8) & 0xff;
  return m;
}

/** A TCP listener on the board (port 80) and one connection to it from the lab host. */
function boardWithConnection(profile: string) {
  const p = bootPair({ dutBoard: 'quark-4m', dutProfile: profile });
  const lfd = p.dutSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(p.dutSys.bind(lfd, { addr: 0, port: 80 })).toBe(0);
  expect(p.dutSys.listen(lfd, 4)).toBe(0);
  const cfd = p.labSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(p.labSys.connect(cfd, { addr: DUT_IP, port: 80 })).toBe(-Errno.EINPROGRESS);
  settle(p, 10 * NS_PER_MS);
  const a = p.dutSys.accept(lfd);
  expect(typeof a).toBe('object');
  return p;
}

describe('sock_diag over netlink (full profile)', () => {
  it('dumps the TCP sockets /proc/net/tcp lists, as inet_diag_msg bytes', () => {
    const p = boardWithConnection('full');
    const fd = p.dutSys.socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(p.dutSys.sendto(fd, request(6, 0xfff), { addr: 0, port: 0 })).toBe(72);
    const r = p.dutSys.recvfrom(fd);
    if (typeof r === 'number') throw new Error(`recvfrom ${r}`);
    const b = r.data;
    const msgs: { state: number; sport: number; dport: number; src: number; dst: number; inode: number }[] = [];
    let at = 0;
    let done = false;
    while (at < b.length) {
      const len = le32(b, at);
      const type = b[at + 4]! | (b[at + 5]! << 8);
      const flags = b[at + 6]! | (b[at + 7]! << 8);
      expect(flags & 0x2).toBe(2); // NLM_F_MULTI
      if (type === 3) done = true; // NLMSG_DONE
      else {
        expect(type).toBe(20);
        expect(len).toBe(16 + 72);
        const m = at + 16;
        expect(b[m]).toBe(2);
        msgs.push({ state: b[m + 1]!, sport: be16(b, m + 4), dport: be16(b, m + 6), src: be32(b, m + 8), dst: be32(b, m + 24), inode: le32(b, m + 68) });
      }
      at += (len + 3) & ~3;
    }
    expect(done).toBe(true);
    // /proc/net/tcp: st 0A (LISTEN) for :0050 and 01 (ESTABLISHED) for the connection, with inodes.
    const proc = p.dutSys.readProc('/proc/net/tcp');
    if (typeof proc === 'number') throw new Error('no /proc/net/tcp');
    const rows = proc.split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/));
    const fromProc = rows.map((c) => ({ state: parseInt(c[3]!, 16), sport: parseInt(c[1]!.split(':')[1]!, 16), inode: Number(c[9]) })).sort((x, y) => x.state - y.state);
    expect(msgs.map((m) => ({ state: m.state, sport: m.sport, inode: m.inode })).sort((x, y) => x.state - y.state)).toEqual(fromProc);
    // tcp_diag_get_info: a listener's idiag_wqueue is sk_max_ack_backlog, listen()'s 4 here.
    const firstListen = (() => { for (let o = 0; o < b.length; o += (le32(b, o) + 3) & ~3) if (b[o + 16 + 1] === 10) return o + 16; return -1; })();
    expect(le32(b, firstListen + 60)).toBe(4);
    const est = msgs.find((m) => m.state === 1)!;
    expect([est.src, est.dst, est.sport]).toEqual([DUT_IP, LAB_IP, 80]);
    // A states mask of LISTEN only (1 << 10) leaves the connection out.
    expect(p.dutSys.sendto(fd, request(6, 1 << 10), { addr: 0, port: 0 })).toBe(72);
    const only = p.dutSys.recvfrom(fd) as { data: Uint8Array };
    expect(le32(only.data, 0)).toBe(88);
    expect(only.data[16 + 1]).toBe(10);
  });

  it('has no UDP handler (INET_UDP_DIAG is not built): ENOENT in an NLMSG_ERROR', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const fd = p.dutSys.socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG);
    p.dutSys.sendto(fd, request(17, 0xfff), { addr: 0, port: 0 });
    const r = p.dutSys.recvfrom(fd) as { data: Uint8Array };
    expect(r.data[4]).toBe(2); // NLMSG_ERROR
    expect(le32(r.data, 16) | 0).toBe(-2); // -ENOENT
  });

  it('the board ss program prints what the dump holds', () => {
    const p = boardWithConnection('full');
    const ss = new Ss();
    const lines: string[] = [];
    ss.start({ sys: p.dutSys, now: () => p.world.sim.now, after: () => { throw new Error('no timers'); }, cancel: () => {}, log: (l) => lines.push(l), exit: () => {} });
    expect(ss.exitCode).toBe(0);
    expect(lines[0]).toMatch(/^State\s+Recv-Q\s+Send-Q/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0]).sort()).toEqual(['ESTAB', 'LISTEN']);
    expect(lines.some((l) => /^ESTAB\s+0\s+0\s+192\.0\.2\.2:80\s+192\.0\.2\.1:\d+$/.test(l))).toBe(true);
  });
});

describe('without INET_DIAG the family is not offered', () => {
  it('full without INET_DIAG: ss falls back to /proc/net/tcp, as iproute2 does, and lists the same sockets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quarklab-diag-'));
    const frag = join(dir, 'full-nodiag.config');
    writeFileSync(frag, '# base: full\n# CONFIG_INET_DIAG is not set\n');
    try {
      const p = boardWithConnection(frag);
      const ss = new Ss();
      ss.start({ sys: p.dutSys, now: () => 0, after: () => { throw new Error('no timers'); }, cancel: () => {}, log: () => {}, exit: () => {} });
      expect(ss.exitCode).toBe(0);
      expect(ss.result.source).toBe('/proc/net/tcp');
      expect(ss.result.fallbackReason).toMatch(/EPROTONOSUPPORT/);
      expect(ss.result.lines.slice(1).map((l) => l.split(/\s+/).filter((_, i) => i !== 2).join(' ')).sort()).toEqual(['ESTAB 0 192.0.2.2:80 192.0.2.1:' + ss.result.sockets.find((m) => m.state === 1)!.dport, 'LISTEN 0 0.0.0.0:80 0.0.0.0:0']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('client without INET_DIAG: socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG) is EPROTONOSUPPORT; ss exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quarklab-diag-'));
    const frag = join(dir, 'client-nodiag.config');
    writeFileSync(frag, '# base: client\n# CONFIG_INET_DIAG is not set\n');
    try {
      const p = bootPair({ dutBoard: 'quark-4m', dutProfile: frag });
      expect(p.dutSys.socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG)).toBe(-Errno.EPROTONOSUPPORT);
      expect(p.dutSys.socket(AF_NETLINK, SOCK_RAW, 0)).toBeGreaterThanOrEqual(0); // NETLINK_ROUTE still there
      const ss = new Ss();
      ss.start({ sys: p.dutSys, now: () => 0, after: () => { throw new Error('no timers'); }, cancel: () => {}, log: () => {}, exit: () => {} });
      expect(ss.exitCode).toBe(1);
      expect(ss.result.error).toMatch(/EPROTONOSUPPORT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
