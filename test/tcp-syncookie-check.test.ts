// cookie_v4_check's gates, against Linux 6.1 (net/ipv4/syncookies.c, include/net/tcp.h):
//
//   - tcp_synq_no_recent_overflow: an ACK to a listener is checked as a cookie only within
//     TCP_SYNCOOKIE_VALID (2 × 60 s) of the listener's last SYN queue overflow; otherwise it is a
//     stray ACK, answered with a reset and not counted as SyncookiesFailed;
//   - check_tcp_syn_cookie: the cookie's counter is tcp_cookie_time(), jiffies / (60 * HZ), and a
//     cookie is good while now's counter minus its own is below MAX_SYNCOOKIE_AGE (2).
//
// The figures below are worked from those constants, not read from the stack. The DUT listens
// with backlog 2; two SYNs from 192.0.2.99 (on the link, nobody answers ARP, so their request
// socks stay) fill the SYN queue and the lab host's SYN gets a cookie SYN-ACK, whose sequence
// number is the cookie. The lab host itself has no socket on that port and resets the SYN-ACK,
// which a listener ignores; the ACK is then forged from the lab host's MAC.
import { describe, expect, it } from 'vitest';
import { NS_PER_MS, NS_PER_SEC } from '../emulator/event-queue.js';
import { bootPair, DUT_IP, inject, ipPacket, LAB_IP, OTHER_IP, settle, toDut, type Pair } from './helpers/lab-pair.js';
import { ACK, SYN, tapTcpOut, tcpSegment } from './helpers/tcp-craft.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';

const PORT = 80;
const CLIENT_PORT = 50_000;
const CLIENT_ISN = 1_000_000;

function send(p: Pair, src: number, sport: number, seq: number, ack: number, flags: number): void {
  inject(p, toDut(p, ipPacket({ src, protocol: 6, payload: tcpSegment({ src, dst: DUT_IP, sport, dport: PORT, seq, ack, flags }) })));
  settle(p, NS_PER_MS);
}

function setUp(): { p: Pair; lfd: number; ext: Record<string, number>; mib: Record<string, number> } {
  const p = bootPair();
  const lfd = p.dutSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(p.dutSys.bind(lfd, { addr: 0, port: PORT })).toBe(0);
  expect(p.dutSys.listen(lfd, 2)).toBe(0);
  return { p, lfd, ext: p.dut.stack.tcp!.ext, mib: p.dut.stack.tcp!.mib };
}

/** Fill the SYN queue and get a cookie SYN-ACK for the lab host's SYN; returns the cookie. */
function cookieFor(p: Pair, ext: Record<string, number>): number {
  send(p, OTHER_IP, 40_001, 1, 0, SYN);
  send(p, OTHER_IP, 40_002, 1, 0, SYN);
  const out = tapTcpOut(p.dut);
  const before = ext['TCPReqQFullDoCookies']!;
  send(p, LAB_IP, CLIENT_PORT, CLIENT_ISN, 0, SYN);
  expect(ext['TCPReqQFullDoCookies']! - before).toBe(1);
  const synAck = out.segments.find((s) => s.dport === CLIENT_PORT && s.flags === (SYN | ACK));
  expect(synAck?.ack).toBe(CLIENT_ISN + 1);
  return synAck!.seq;
}

function runUntil(p: Pair, ns: number): void {
  expect(p.world.sim.now).toBeLessThan(ns);
  settle(p, ns - p.world.sim.now);
}

describe('SYN cookie ACK checks (cookie_v4_check)', () => {
  it('with no SYN queue overflow ever, a stray ACK is reset and not counted as a failed cookie', () => {
    const { p, ext, mib } = setUp();
    const rsts = mib['OutRsts']!;
    send(p, LAB_IP, CLIENT_PORT, 5, 12345, ACK);
    expect(mib['OutRsts']! - rsts).toBe(1);
    expect(ext['SyncookiesFailed']).toBe(0);
  });

  it('within 2 min of an overflow a forged ACK is a failed cookie; after 2 min it is a stray ACK again', () => {
    const { p, ext, mib } = setUp();
    const cookie = cookieFor(p, ext);
    const overflowAt = p.world.sim.now;
    send(p, LAB_IP, CLIENT_PORT + 1, CLIENT_ISN + 1, (cookie + 2) >>> 0, ACK);
    expect(ext['SyncookiesFailed']).toBe(1);
    // TCP_SYNCOOKIE_VALID = 2 × 60 s after the stamp: 121 s later the ACK is not checked.
    runUntil(p, overflowAt + 121 * NS_PER_SEC);
    const rsts = mib['OutRsts']!;
    send(p, LAB_IP, CLIENT_PORT + 1, CLIENT_ISN + 1, (cookie + 2) >>> 0, ACK);
    expect(ext['SyncookiesFailed']).toBe(1);
    expect(mib['OutRsts']! - rsts).toBe(1);
  });

  it('a cookie made at 59 s (counter 0) is good at 119 s (counter 1) and stale at 121 s (counter 2)', () => {
    for (const [ackAtS, accepted] of [[119, true], [121, false]] as const) {
      const { p, lfd, ext } = setUp();
      runUntil(p, 59 * NS_PER_SEC);
      const cookie = cookieFor(p, ext);
      // Keep the overflow stamp recent (tcp_synq_no_recent_overflow) so only the cookie's age decides.
      runUntil(p, (ackAtS - 5) * NS_PER_SEC);
      cookieFor(p, ext);
      runUntil(p, ackAtS * NS_PER_SEC);
      send(p, LAB_IP, CLIENT_PORT, CLIENT_ISN + 1, (cookie + 1) >>> 0, ACK);
      expect({ at: ackAtS, recv: ext['SyncookiesRecv'], failed: ext['SyncookiesFailed'], accepted: typeof p.dutSys.accept(lfd) !== 'number' }).toEqual({ at: ackAtS, recv: accepted ? 1 : 0, failed: accepted ? 0 : 1, accepted });
    }
  });
});
