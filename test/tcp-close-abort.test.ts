// Two ways a TCP socket ends without a FIN, against Linux 6.1's net/ipv4/tcp.c and
// inet_connection_sock.c:
//
//   - SO_LINGER with l_linger 0: tcp_close checks it after unread data and calls tcp_disconnect,
//     which sends a RST (tcp_send_active_reset: RST|ACK at snd_nxt) in every state
//     tcp_need_reset names (ESTABLISHED, CLOSE_WAIT, FIN_WAIT1, FIN_WAIT2, SYN_RECV), counts
//     TCPAbortOnData, and the socket is gone at once (no FIN_WAIT, no TIME_WAIT);
//   - closing a listener: inet_csk_listen_stop resets every child nobody accepted and forgets
//     it, so its memory is freed though no file ever referred to it.
//
// The oracle for the wire is the lab host's own view (its socket sees ECONNRESET) and the
// board's outgoing segments; for memory, the board's live kernel objects back at what boot left.
import { describe, expect, it } from 'vitest';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { bootPair, DUT_IP, expectBaseline, settle, type Pair } from './helpers/lab-pair.js';
import { ACK, RST, tapTcpOut } from './helpers/tcp-craft.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

const PORT = 7000;

function listen(p: Pair, backlog = 4): number {
  const lfd = p.dutSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(p.dutSys.bind(lfd, { addr: DUT_IP, port: PORT })).toBe(0);
  expect(p.dutSys.listen(lfd, backlog)).toBe(0);
  return lfd;
}

function connectFromLab(p: Pair): number {
  const cfd = p.labSys.socket(AF_INET, SOCK_STREAM, 0);
  p.labSys.connect(cfd, { addr: DUT_IP, port: PORT });
  settle(p, 10 * NS_PER_MS);
  return cfd;
}

describe('TCP close without a FIN', () => {
  it('SO_LINGER 0: close() sends one RST|ACK at snd_nxt, counts TCPAbortOnData, frees the socket at once', () => {
    const p = bootPair();
    const lfd = listen(p);
    const cfd = connectFromLab(p);
    const a = p.dutSys.accept(lfd);
    if (typeof a === 'number') throw new Error(`accept: ${a}`);
    const tcp = p.dut.stack.tcp!;
    const sk = [...tcp.all].find((s) => s.state === 'ESTABLISHED')!;
    const sndNxt = sk.sndNxt;
    const abortsBefore = tcp.ext['TCPAbortOnData'] ?? 0;
    const out = tapTcpOut(p.dut);
    expect(p.dutSys.setsockopt(a.fd, 'SO_LINGER', 0)).toBe(0);
    expect(p.dutSys.close(a.fd)).toBe(0);
    settle(p, 10 * NS_PER_MS);
    expect(out.segments.map((s) => ({ flags: s.flags, seq: s.seq, payloadLength: s.payloadLength }))).toEqual([{ flags: RST | ACK, seq: sndNxt, payloadLength: 0 }]);
    expect((tcp.ext['TCPAbortOnData'] ?? 0) - abortsBefore).toBe(1);
    expect(tcp.timewait.size).toBe(0);
    // The lab host's socket saw the reset.
    expect(p.labSys.recv(cfd)).toBe(-Errno.ECONNRESET);
    expect(p.labSys.close(cfd)).toBe(0);
    expect(p.dutSys.close(lfd)).toBe(0);
    expect(tcp.all.size).toBe(0);
    expectBaseline(p);
  });

  it('a linger time above 0 closes with a FIN as without SO_LINGER (board programs never block in close)', () => {
    const p = bootPair();
    const lfd = listen(p);
    const cfd = connectFromLab(p);
    const a = p.dutSys.accept(lfd);
    if (typeof a === 'number') throw new Error(`accept: ${a}`);
    const out = tapTcpOut(p.dut);
    expect(p.dutSys.setsockopt(a.fd, 'SO_LINGER', 5)).toBe(0);
    expect(p.dutSys.close(a.fd)).toBe(0);
    settle(p, 10 * NS_PER_MS);
    expect(out.segments.length).toBeGreaterThan(0);
    expect(out.segments[0]!.flags & RST).toBe(0);
    expect(out.segments[0]!.flags & 0x01).toBe(0x01); // FIN
    p.labSys.close(cfd);
    p.dutSys.close(lfd);
  });

  it('closing a listener resets the connections nobody accepted and frees them', () => {
    const p = bootPair();
    const lfd = listen(p);
    const c1 = connectFromLab(p);
    const c2 = connectFromLab(p);
    const tcp = p.dut.stack.tcp!;
    expect([...tcp.all].filter((s) => s.state === 'ESTABLISHED').length).toBe(2);
    const out = tapTcpOut(p.dut);
    expect(p.dutSys.close(lfd)).toBe(0);
    settle(p, 10 * NS_PER_MS);
    expect(out.segments.filter((s) => s.flags === (RST | ACK)).length).toBe(2);
    expect(p.labSys.recv(c1)).toBe(-Errno.ECONNRESET);
    expect(p.labSys.recv(c2)).toBe(-Errno.ECONNRESET);
    p.labSys.close(c1);
    p.labSys.close(c2);
    expect(tcp.all.size).toBe(0);
    expectBaseline(p);
  });
});
