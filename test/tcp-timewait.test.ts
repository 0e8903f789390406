// TIME_WAIT as Linux 6.1's tcp_timewait_state_process, and the run check that fails a run whose
// wire does not go quiet. The DNS-over-TCP fallback with 5% reordering (seed 3) used to end in
// two TIME_WAIT socks ACKing each other for 60 s (535,777 frames, verdict PASS).
import { describe, expect, it } from 'vitest';
import { NS_PER_MS, NS_PER_SEC } from '../emulator/event-queue.js';
import type { TimewaitSock } from '../stack/ipv4/tcp-minisocks.js';
import { bootPair, DUT_IP, inject, ipPacket, LAB_IP, settle, toDut, type Pair } from './helpers/lab-pair.js';
import { removeTempDirs, runToDir } from './helpers/run.js';
import { ACK, FIN, PSH, SYN, tapTcpOut, tcpSegment } from './helpers/tcp-craft.js';
import { columns, present, tsharkPass } from './helpers/tshark.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

const QUIET = 'the wire goes quiet after the scenario';

describe('the quiet-wire check', () => {
  it('dns with 5% reordering (seed 3) ends quietly and passes; tshark counts the frames', () => {
    const r = runToDir({ scenario: 'dns:reorder=0.05', seed: 3 });
    try {
      expect(r.outcome.exitCode).toBe(0);
      const check = r.outcome.report!.checks.find((c) => c.name.startsWith(QUIET))!;
      expect(check.pass).toBe(true);
      // Before the fix: 535,777 frames. Now the DNS exchange, the TCP connection and its close,
      // and the one answer the lab host's TIME_WAIT gives the reordered stale ACK.
      // One tshark pass (a start costs ~0.5 s); the display filter `tcp.analysis.duplicate_ack`
      // becomes the presence of that flag in the rows.
      const frames = tsharkPass(r.capturePath!, ['frame.time_relative', 'tcp.analysis.duplicate_ack', 'tcp.analysis.duplicate_ack_num', 'ip.src', 'ip.id', 'ip.flags.df']).rows;
      expect(frames.length).toBeLessThan(40);
      // The late duplicate is answered once and then nobody speaks: no two ACKs on the
      // connection are less than 500 ms apart after the FIN exchange… except the answer itself.
      const acks = frames.filter((f) => present(f, 'tcp.analysis.duplicate_ack'));
      expect(acks.length).toBeLessThanOrEqual(1);
      // That answer comes from the control socket (ip_select_ident_segs): DF, IP ID 0.
      expect(columns(acks, ['ip.src', 'ip.id', 'ip.flags.df'])).toEqual([['192.0.2.1', '0x0000', '1']]);
    } finally {
      removeTempDirs();
    }
  });

  it('fails the run, with the count, when a broken TIME_WAIT (a double that answers everything) storms', () => {
    const r = runToDir({
      scenario: 'dns:reorder=0.05',
      seed: 3,
      afterBoot: (b) => {
        if (b.stack.tcp) b.stack.tcp.timewaitProcess = () => 'ack';
      },
    });
    try {
      expect(r.outcome.exitCode).toBe(1);
      const check = r.outcome.report!.checks.find((c) => c.name.startsWith(QUIET))!;
      expect(check.pass).toBe(false);
      expect(check.detail).toMatch(/192\.0\.2\.1:53 ↔ 192\.0\.2\.2:\d+: \d+ segments after the scenario ended, limit 100/);
      const count = Number(/: (\d+) segments after/.exec(check.detail)![1]);
      expect(count).toBeGreaterThan(100);
      expect(check.detail).toContain('tcp_invalid_ratelimit');
    } finally {
      removeTempDirs();
    }
  });
});

interface Tw {
  p: Pair;
  tw: TimewaitSock;
  out: ReturnType<typeof tapTcpOut>;
}

/**
 * The lab host connects to the DUT and both close at once: the FINs cross and both ends go to
 * TIME_WAIT, so the lab host's (Linux-like, silent) TIME_WAIT takes the DUT's answers.
 */
function dutInTimewait(): Tw {
  const p = bootPair();
  const { dutSys, labSys } = p;
  const lfd = dutSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(dutSys.bind(lfd, { addr: 0, port: 7000 })).toBe(0);
  expect(dutSys.listen(lfd, 4)).toBe(0);
  const cfd = labSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(labSys.connect(cfd, { addr: DUT_IP, port: 7000 })).toBe(-Errno.EINPROGRESS);
  settle(p, 10 * NS_PER_MS);
  const a = dutSys.accept(lfd);
  if (typeof a === 'number') throw new Error(`accept: ${a}`);
  dutSys.close(a.fd);
  labSys.close(cfd);
  settle(p, 10 * NS_PER_MS);
  expect(p.lab.stack.tcp!.timewait.size).toBe(1);
  const tws = [...p.dut.stack.tcp!.timewait.values()];
  expect(tws).toHaveLength(1);
  const out = tapTcpOut(p.dut);
  return { p, tw: tws[0]!, out };
}

function fromLab(t: Tw, seq: number, flags: number, payload = new Uint8Array(0)): void {
  const seg = tcpSegment({ src: LAB_IP, dst: DUT_IP, sport: t.tw.rport, dport: t.tw.lport, seq, ack: t.tw.sndNxt, flags, payload });
  inject(t.p, toDut(t.p, ipPacket({ src: LAB_IP, dst: DUT_IP, protocol: 6, payload: seg })));
  settle(t.p, NS_PER_MS);
}

describe('TIME_WAIT (tcp_timewait_state_process)', () => {
  it('is silent on an in-window bare ACK and restarts the 60 s timer; ACKs every retransmitted FIN; rate-limits answers to stale ACKs and SYNs to one per 500 ms', () => {
    const t = dutInTimewait();
    const tcp = t.p.dut.stack.tcp!;
    // A retransmitted FIN (seq = rcv_nxt − 1): answered with the final ACK, every time (it
    // carries sequence space, so tcp_oow_rate_limited does not hold it back).
    fromLab(t, t.tw.rcvNxt - 1, FIN | ACK);
    fromLab(t, t.tw.rcvNxt - 1, FIN | ACK);
    expect(t.out.segments.map((s) => [s.flags, s.seq, s.ack])).toEqual([
      [ACK, t.tw.sndNxt, t.tw.rcvNxt],
      [ACK, t.tw.sndNxt, t.tw.rcvNxt],
    ]);
    t.out.clear();
    // Stale bare ACKs (out of window) 1 ms apart: the first is answered, the next within
    // tcp_invalid_ratelimit (500 ms) are not (TCPACKSkippedTimeWait); after 500 ms, one more.
    const skipped = tcp.ext['TCPACKSkippedTimeWait']!;
    for (let i = 0; i < 3; i++) fromLab(t, t.tw.rcvNxt - 1000, ACK);
    expect(t.out.segments).toHaveLength(1);
    expect(tcp.ext['TCPACKSkippedTimeWait']! - skipped).toBe(2);
    settle(t.p, 500 * NS_PER_MS);
    fromLab(t, t.tw.rcvNxt - 1000, ACK);
    expect(t.out.segments).toHaveLength(2);
    // Old data is always answered (data is not part of an ACK loop).
    fromLab(t, t.tw.rcvNxt - 1000, PSH | ACK, new Uint8Array(10));
    expect(t.out.segments).toHaveLength(3);
    expect(t.out.segments.every((s) => s.flags === ACK)).toBe(true);
    // A SYN with an old sequence number and the listener gone: the same rate-limited ACK
    // (not a new connection).
    t.out.clear();
    settle(t.p, 600 * NS_PER_MS);
    fromLab(t, t.tw.rcvNxt - 5000, SYN);
    fromLab(t, t.tw.rcvNxt - 5000, SYN);
    expect(t.out.segments).toHaveLength(1);
    // An in-window bare ACK (seq = rcv_nxt) 30 s later: no answer, and the 60 s run again
    // from it: still there 45 s on, gone 61 s on.
    t.out.clear();
    settle(t.p, 30 * NS_PER_SEC);
    fromLab(t, t.tw.rcvNxt, ACK);
    expect(t.out.segments).toEqual([]);
    settle(t.p, 45 * NS_PER_SEC);
    expect(tcp.timewait.size).toBe(1);
    settle(t.p, 16 * NS_PER_SEC);
    expect(tcp.timewait.size).toBe(0);
  });
});
