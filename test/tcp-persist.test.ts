// The persist timer as Linux 6.1 runs it (tcp_check_probe_timer, tcp_write_wakeup): armed
// whenever nothing is in flight and data waits, whatever the window; when it fires on a window
// that is open but smaller than the next segment, min(window, MSS) bytes go out with PSH.
import { expect, it } from 'vitest';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { bootPair, DUT_IP, inject, ipPacket, LAB_IP, settle, toDut } from './helpers/lab-pair.js';
import { ACK, PSH, tapTcpOut, tcpSegment } from './helpers/tcp-craft.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

it('a window open to 496 bytes with 3000 waiting: after max(rto, 200 ms) the board sends 496 bytes with PSH, then the rest', () => {
  const p = bootPair();
  const { dutSys, labSys } = p;
  const lfd = labSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(labSys.bind(lfd, { addr: 0, port: 7000 })).toBe(0);
  expect(labSys.listen(lfd, 4)).toBe(0);
  const cfd = dutSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(dutSys.connect(cfd, { addr: LAB_IP, port: 7000 })).toBe(-Errno.EINPROGRESS);
  settle(p, 10 * NS_PER_MS);
  const a = labSys.accept(lfd);
  if (typeof a === 'number') throw new Error(`accept: ${a}`);
  const dutSk = [...p.dut.stack.tcp!.ehash.values()][0]!;
  const labSk = [...p.lab.stack.tcp!.ehash.values()][0]!;
  // The lab host scales its window by 8 (window scale 3): a field of 62 is 496 bytes, less than
  // the board's MSS (1448). It acknowledges everything, so nothing is in flight.
  expect(dutSk.sndWscale).toBe(3);
  const ack = tcpSegment({ src: LAB_IP, dst: DUT_IP, sport: labSk.lport, dport: labSk.rport, seq: labSk.sndNxt, ack: dutSk.sndNxt, flags: ACK, window: 62 });
  inject(p, toDut(p, ipPacket({ src: LAB_IP, dst: DUT_IP, protocol: 6, payload: ack })));
  settle(p, NS_PER_MS);
  expect(dutSk.sndWnd).toBe(496);
  const out = tapTcpOut(p.dut);
  const t0 = p.world.sim.now;
  expect(dutSys.send(cfd, new Uint8Array(3000).fill(7))).toBe(3000);
  // RTT here is microseconds, so the RTO sits at its floor: tcp_probe0_base = max(rto, TCP_RTO_MIN) = 200 ms.
  expect(dutSk.rto).toBe(200 * NS_PER_MS);
  settle(p, 199 * NS_PER_MS);
  expect(out.segments.filter((s) => s.payloadLength > 0)).toEqual([]);
  settle(p, 5 * NS_PER_MS);
  const data = out.segments.filter((s) => s.payloadLength > 0);
  expect(data.length).toBeGreaterThanOrEqual(1);
  expect(data[0]!.payloadLength).toBe(496);
  expect(data[0]!.flags & PSH).toBe(PSH);
  expect(Math.round((data[0]!.time - t0) / NS_PER_MS)).toBe(200);
  // The lab host's own ACK reopens the window: the remaining 2504 bytes follow at once.
  settle(p, 10 * NS_PER_MS);
  const all = out.segments.filter((s) => s.payloadLength > 0);
  expect(all.reduce((n, s) => n + s.payloadLength, 0)).toBe(3000);
  let got = 0;
  for (;;) {
    const r = labSys.recv(a.fd);
    if (typeof r === 'number') break;
    got += r.length;
  }
  expect(got).toBe(3000);
});
