// CUBIC (RFC 9438, Linux 6.1 net/ipv4/tcp_cubic.c) and the choice of congestion control.
//
// The window after a loss is checked against the CUBIC formula worked by hand here, with
// 6.1's constants: β = 717/1024, C = bic_scale·10/1024 = 410/1024 ≈ 0.4004 per s³,
// W_cubic(t) = C·(t − K)³ + W_max, K = ∛((W_max − cwnd_after)/C). 6.1 evaluates the curve one
// minimum RTT ahead (t + delay_min), and keeps the window at least at the Reno-friendly
// estimate W_est = cwnd_after + (8/15)·rounds (tcp_friendliness: beta_scale 15).
// HyStart is checked on a real path (the board sending to the lab host over a 4 ms RTT wire).
import { describe, expect, it } from 'vitest';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { TcpCaState, type CongSock } from '../stack/ipv4/tcp-cong.js';
import { tcpCubic } from '../stack/ipv4/tcp-cubic.js';
import { bootPair, LAB_IP, settle, type Pair } from './helpers/lab-pair.js';
import { validateBoard } from '../emulator/board-config.js';
import { readFileSync } from 'node:fs';
import { World } from '../emulator/world.js';
import { bootBoard } from '../scenarios/boot.js';
import { buildFirmware } from '../scenarios/firmware.js';
import { resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

/** A congestion-control view of a socket, ACK-clocked by the test. */
function fakeSock(): CongSock & { now: number } {
  return { cwnd: 10, ssthresh: 0x7fffffff, cwndCnt: 0, sndNxt: 1000, sndUna: 1000, priorCwnd: 0, now: 10 * 1e9, caPriv: null, lastSendNs: 0, caState: TcpCaState.Open, mss: 1448, srtt: 0, gsoMaxSize: 0, table: { ext: { TCPHystartTrainDetect: 0, TCPHystartTrainCwnd: 0, TCPHystartDelayDetect: 0, TCPHystartDelayCwnd: 0 } } };
}

/**
 * Put `sk` in congestion avoidance at cwnd 100 with a minimum RTT of `rttUs`, lose a segment
 * (ssthresh from the ops, window set to it, as recovery ends), then ACK-clock it for `seconds`
 * with one ACK per segment spread evenly over each round trip. Returns cwnd sampled at the
 * start of each round, with the time since the reduction.
 */
function afterLoss(rttUs: number, seconds: number, cwndAtLoss = 100): { t: number; cwnd: number }[] {
  const sk = fakeSock();
  tcpCubic.init(sk);
  sk.ssthresh = 50; // out of slow start
  sk.cwnd = cwndAtLoss;
  tcpCubic.pktsAcked!(sk, 1, rttUs);
  sk.ssthresh = tcpCubic.ssthresh(sk);
  sk.cwnd = sk.ssthresh;
  const start = sk.now;
  const out: { t: number; cwnd: number }[] = [];
  while (sk.now - start < seconds * 1e9) {
    out.push({ t: (sk.now - start) / 1e9, cwnd: sk.cwnd });
    const n = sk.cwnd;
    const step = (rttUs * 1000) / n;
    for (let i = 0; i < n; i++) {
      sk.now += step;
      tcpCubic.pktsAcked!(sk, 1, rttUs);
      tcpCubic.congAvoid(sk, 0, 1);
    }
  }
  return out;
}

function cwndAt(samples: { t: number; cwnd: number }[], t: number): number {
  let best = samples[0]!;
  for (const s of samples) if (s.t <= t) best = s;
  return best.cwnd;
}

describe('CUBIC window growth against the formula', () => {
  it('multiplicative decrease: ssthresh = cwnd·717/1024, and fast convergence lowers W_max', () => {
    const sk = fakeSock();
    tcpCubic.init(sk);
    sk.cwnd = 100;
    expect(tcpCubic.ssthresh(sk)).toBe(70); // ⌊100·717/1024⌋ = ⌊70.02⌋
    // A second loss below W_max = 100: W_max becomes ⌊90·(1024+717)/2048⌋ = 76 and ssthresh ⌊90·0.7002⌋ = 63.
    sk.cwnd = 90;
    expect(tcpCubic.ssthresh(sk)).toBe(63);
    expect((sk.caPriv as { lastMaxCwnd: number }).lastMaxCwnd).toBe(76);
  });

  it('on a 100 ms path the window follows C·(t + RTT − K)³ + W_max, K = 4.216 s for W_max 100 → 70', () => {
    const s = afterLoss(100_000, 7);
    // Worked by hand: K = ∛(30 / 0.4004) = 4.216 s. W(t) = 100 + 0.4004·(t + 0.1 − 4.216)³:
    //   t = 1 s: 87.9;  t = 2 s: 96.2;  t = 3 s: 99.4;  t = 4 s: 100.0;  t = 5 s: 100.3;  t = 6 s: 102.7.
    // (The Reno-friendly estimate, 70 + 0.533 a round, is 75 at 1 s and 102 at 6 s: below the curve
    // until the end, so the curve rules.) The window trails the target by less than one segment
    // a round; allow −1.5 … +0.5 for the fixed point and the cube-root approximation (0.2%).
    const expected: [number, number][] = [[1, 87.9], [2, 96.2], [3, 99.4], [4, 100.0], [5, 100.3]];
    for (const [t, w] of expected) {
      const c = cwndAt(s, t);
      expect(c, `cwnd at ${t} s`).toBeGreaterThanOrEqual(Math.floor(w - 1.5));
      expect(c, `cwnd at ${t} s`).toBeLessThanOrEqual(Math.ceil(w + 0.5));
    }
    // Concave then convex: the window plateaus near W_max around t = K, then grows again.
    expect(cwndAt(s, 3.5) - cwndAt(s, 3)).toBeLessThanOrEqual(1);
    expect(cwndAt(s, 6.9)).toBeGreaterThanOrEqual(104); // W(6.9) = 100 + 0.4004·2.78³ = 108.6, Reno-friendly 106
  });

  it('on a 20 ms path the Reno-friendly region rules: 8/15 of a segment per round, above the cubic curve', () => {
    const s = afterLoss(20_000, 1.21);
    // After 60 rounds (1.2 s): W_est = 70 + 60·8/15 = 102 (one increment each ⌊15·cwnd/8⌋ ACKs),
    // while the curve, one RTT ahead, is at 100 − 0.4004·(4.216 − 1.22)³ = 89.2.
    const rounds60 = s[60]!;
    expect(rounds60.cwnd).toBeGreaterThanOrEqual(100);
    expect(rounds60.cwnd).toBeLessThanOrEqual(103);
  });
});

function transfer(p: Pair, bytes: number, before?: (fd: number) => void): { fd: number } {
  const lfd = p.labSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(p.labSys.bind(lfd, { addr: 0, port: 5001 })).toBe(0);
  expect(p.labSys.listen(lfd, 4)).toBe(0);
  const fd = p.dutSys.socket(AF_INET, SOCK_STREAM, 0);
  before?.(fd);
  expect(p.dutSys.connect(fd, { addr: LAB_IP, port: 5001 })).toBe(-Errno.EINPROGRESS);
  settle(p, 20 * NS_PER_MS);
  const a = p.labSys.accept(lfd);
  if (typeof a === 'number') throw new Error(`accept: ${a}`);
  const chunk = new Uint8Array(16384);
  let sent = 0;
  let got = 0;
  for (let i = 0; i < 5000 && got < bytes; i++) {
    while (sent < bytes) {
      const r = p.dutSys.send(fd, chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
      if (typeof r !== 'number' || r <= 0) break;
      sent += r;
    }
    for (;;) {
      const d = p.labSys.recv(a.fd);
      if (typeof d === 'number' || d.length === 0) break;
      got += d.length;
    }
    settle(p, NS_PER_MS / 2);
  }
  expect(got).toBe(bytes);
  return { fd };
}

describe('HyStart and the choice of congestion control on a real path', () => {
  it('cubic leaves slow start by HyStart on a 4 ms RTT path before any loss; reno does not', () => {
    const cubic = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full', linkDelayNs: 2 * NS_PER_MS });
    const { fd } = transfer(cubic, 400_000);
    const info = cubic.dutSys.tcpInfo(fd);
    if (typeof info === 'number') throw new Error('tcp_info');
    expect(info.congestionControl).toBe('cubic');
    expect(info.retransmits).toBe(0);
    const ext = cubic.dut.stack.tcp!.ext;
    const detections = ext['TCPHystartTrainDetect']! + ext['TCPHystartDelayDetect']!;
    expect(detections).toBe(1);
    // HyStart sets ssthresh to the window at the exit, which is at least hystart_low_window (16).
    const exitCwnd = ext['TCPHystartTrainCwnd']! + ext['TCPHystartDelayCwnd']!;
    expect(exitCwnd).toBeGreaterThanOrEqual(16);
    expect(info.ssthresh).toBe(exitCwnd);
    // The ACK train of a round grows past half the 4.1 ms minimum RTT (plus the 1 ms GSO
    // allowance, halved: 2.57 ms) once a round carries more than 2.57 ms / 123 µs ≈ 21 frames
    // at 100 Mbit/s: the exit comes at a window of 21..2·45 (the receiver's 64 KiB window caps the flight at 45).
    expect(exitCwnd).toBeLessThanOrEqual(90);

    const reno = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full', linkDelayNs: 2 * NS_PER_MS });
    const r = transfer(reno, 400_000, (f) => expect(reno.dutSys.setsockopt(f, 'TCP_CONGESTION', 'reno')).toBe(0));
    const rinfo = reno.dutSys.tcpInfo(r.fd);
    if (typeof rinfo === 'number') throw new Error('tcp_info');
    expect(rinfo.congestionControl).toBe('reno');
    expect(rinfo.retransmits).toBe(0);
    expect(rinfo.ssthresh).toBe(0x7fffffff); // still in slow start: nothing ended it
  });

  it('TCP_CONGESTION: unknown names are -ENOENT, non-TCP sockets -ENOPROTOOPT', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const fd = p.dutSys.socket(AF_INET, SOCK_STREAM, 0);
    expect(p.dutSys.congestionControl(fd)).toBe('cubic');
    expect(p.dutSys.setsockopt(fd, 'TCP_CONGESTION', 'bbr')).toBe(-Errno.ENOENT);
    expect(p.dutSys.setsockopt(fd, 'TCP_CONGESTION', 'reno')).toBe(0);
    expect(p.dutSys.congestionControl(fd)).toBe('reno');
  });

  it('net.ipv4.tcp_congestion_control=reno in the board file makes reno the default; a bad value is bad input', () => {
    const json = JSON.parse(readFileSync('boards/quark-4m.json', 'utf8'));
    const table = resolveCostTable();
    if ('error' in table) throw new Error(table.error);
    const boot = (sysctl: Record<string, string>) => {
      const v = validateBoard({ ...json, sysctl }, 'b.json');
      if ('error' in v) throw new Error(v.error);
      const profile = resolveProfile('full');
      if ('error' in profile) throw new Error(profile.error);
      const fw = buildFirmware(v.board, profile, table);
      if ('error' in fw) throw new Error(fw.error);
      return bootBoard(new World(1), 'dut', v.board, fw.image, table, []);
    };
    const ok = boot({ 'net.ipv4.tcp_congestion_control': 'reno' });
    if ('error' in ok) throw new Error(ok.error);
    expect(ok.stack.tcp!.sysctl.congestionControl).toBe('reno');
    const bad = boot({ 'net.ipv4.tcp_congestion_control': 'bbr' });
    expect('error' in bad && bad.kind).toBe('input');
    if ('error' in bad) expect(bad.error).toMatch(/tcp_congestion_control.*bbr.*reno cubic/);
  });
});
