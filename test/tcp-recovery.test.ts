// Loss recovery as Linux 6.1's defaults: a tail loss answered by a tail loss probe (RFC 8985
// §7, tcp_early_retrans 3) and the rest repaired by RACK (tcp_recovery 1); D-SACK (RFC 2883)
// sent for a duplicate and used to undo a spurious retransmission; F-RTO (RFC 5682,
// tcp_frto 2) undoing a spurious timeout. The board (quark-4m, full profile) sends to the lab
// host over a wire of 5 ms each way; the test drops, delays or duplicates chosen frames of
// the board's, and reads the board's capture with tshark.
//
// Oracle for the tail-loss case, real Linux (this machine's kernel, two network namespaces on
// a veth pair, 192.0.2.1 → 192.0.2.2, offloads off, an iptables `statistic --mode nth` rule
// dropping the 9th and 10th data segments of a 10-segment write): the sender's first
// retransmission is the LAST segment (the probe, a few ms later on the µs-RTT veth), the
// receiver SACKs it, and the 9th is retransmitted right after that SACK — no RTO. (The
// namespaces ran bbr: setting cubic there was refused; TLP and RACK do not depend on it.)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NS_PER_MS } from '../emulator/event-queue.js';
import type { EthernetMac } from '../emulator/ethernet-mac.js';
import { Capture, DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { bootPair, LAB_IP, settle, type Pair } from './helpers/lab-pair.js';
import { removeTempDirs, tempDir } from './helpers/run.js';
import { tsharkFields } from './helpers/tshark.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

const MSS = 1448;
const ONE_WAY = 5 * NS_PER_MS;

afterAll(removeTempDirs);

interface Conn {
  p: Pair;
  fd: number;
  labFd: number;
  capture: Capture;
  received: number;
}

/** Boot the pair, capture the board, connect, and warm up (so srtt is known and cwnd is ≥ 10). */
function connect(): Conn {
  const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full', linkDelayNs: ONE_WAY });
  const capture = new Capture(DEFAULT_EPOCH_NS, {});
  capture.attach(p.dut.board.mac, 'board');
  const lfd = p.labSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(p.labSys.bind(lfd, { addr: 0, port: 5001 })).toBe(0);
  expect(p.labSys.listen(lfd, 4)).toBe(0);
  const fd = p.dutSys.socket(AF_INET, SOCK_STREAM, 0);
  expect(p.dutSys.connect(fd, { addr: LAB_IP, port: 5001 })).toBe(-Errno.EINPROGRESS);
  settle(p, 50 * NS_PER_MS);
  const a = p.labSys.accept(lfd);
  if (typeof a === 'number') throw new Error(`accept: ${a}`);
  const c: Conn = { p, fd, labFd: a.fd, capture, received: 0 };
  // Warm up with 20 segments, written as the send buffer takes them.
  let left = 20 * MSS;
  for (let i = 0; i < 100 && left > 0; i++) {
    const r = p.dutSys.send(fd, new Uint8Array(left));
    if (typeof r === 'number' && r > 0) left -= r;
    run(c, 10 * NS_PER_MS);
  }
  run(c, 300 * NS_PER_MS);
  expect(c.received).toBe(20 * MSS);
  return c;
}

function write(c: Conn, bytes: number): void {
  expect(c.p.dutSys.send(c.fd, new Uint8Array(bytes))).toBe(bytes);
}

/** Let time pass in 1 ms steps, the lab host reading everything. */
function run(c: Conn, ns: number): void {
  for (let t = 0; t < ns; t += NS_PER_MS) {
    settle(c.p, NS_PER_MS);
    for (;;) {
      const d = c.p.labSys.recv(c.labFd);
      if (typeof d === 'number' || d.length === 0) break;
      c.received += d.length;
    }
  }
}

function saveCapture(c: Conn): string {
  const path = join(tempDir(), 'capture.pcapng');
  writeFileSync(path, c.capture.finish(c.p.world.sim.now).pcapng);
  return path;
}

/** The TCP sequence number and payload length of a frame, or null if it is not TCP. */
function tcpSegment(frame: Uint8Array): { seq: number; len: number } | null {
  if (frame.length < 54 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 6) return null;
  const ihl = (frame[14]! & 15) * 4;
  const total = (frame[16]! << 8) | frame[17]!;
  const tcp = 14 + ihl;
  const doff = (frame[tcp + 12]! >> 4) * 4;
  const seq = ((frame[tcp + 4]! << 24) | (frame[tcp + 5]! << 16) | (frame[tcp + 6]! << 8) | frame[tcp + 7]!) >>> 0;
  return { seq, len: total - ihl - doff };
}

/**
 * Wrap the wire: `decide` sees each data segment the board sends (first transmissions and
 * retransmissions) and returns 'drop', a delay in ns, 'dup', or null to pass it.
 */
function onBoardData(c: Conn, decide: (seq: number, len: number) => 'drop' | 'dup' | number | null): void {
  const wire = c.p.wire;
  const original = wire.transmit.bind(wire);
  const dutMac: EthernetMac = c.p.dut.board.mac;
  wire.transmit = (from, bytes, offset, length) => {
    const seg = from === dutMac ? tcpSegment(bytes.subarray(offset, offset + length)) : null;
    const what = seg && seg.len > 0 ? decide(seg.seq, seg.len) : null;
    if (what === null) return original(from, bytes, offset, length);
    const saved = wire.impairments;
    if (what === 'drop') wire.impairments = { ...saved, loss: 1 };
    else if (what === 'dup') wire.impairments = { ...saved, duplicate: 1 };
    else wire.impairments = { ...saved, reorder: 1, reorderDelayNs: what };
    try {
      return original(from, bytes, offset, length);
    } finally {
      wire.impairments = saved;
    }
  };
}

function srttNs(c: Conn): number {
  const info = c.p.dutSys.tcpInfo(c.fd);
  if (typeof info === 'number') throw new Error('tcp_info');
  return info.srttNs;
}

describe('tail loss probe and RACK', () => {
  it('the last two segments of a flight lost: a probe after 2·srtt + 8 ms, then RACK repairs the other, no RTO', () => {
    const c = connect();
    const ext = c.p.dut.stack.tcp!.ext;
    const timeoutsBefore = ext['TCPTimeouts']!;
    const srtt = srttNs(c);
    // Ten segments go out back to back; the first transmissions of the last two are lost.
    const base = (c.p.dut.stack.tcp as unknown as { all: Set<{ sndNxt: number }> }).all;
    const sk = [...base].find((s) => (s as { raddr?: number }).raddr === LAB_IP)!;
    const first = sk.sndNxt;
    const lost = new Set([(first + 8 * MSS) >>> 0, (first + 9 * MSS) >>> 0]);
    const seen = new Set<number>();
    onBoardData(c, (seq) => {
      if (!lost.has(seq) || seen.has(seq)) return null;
      seen.add(seq);
      return 'drop';
    });
    write(c, 10 * MSS);
    run(c, 600 * NS_PER_MS);
    expect(c.received).toBe(30 * MSS);
    expect(ext['TCPTimeouts']! - timeoutsBefore).toBe(0);
    expect(ext['TCPLossProbes']).toBe(1);

    const cap = saveCapture(c);
    const rows = tsharkFields(cap, ['frame.time_relative', 'tcp.seq_raw', 'tcp.len', 'tcp.ack_raw', 'tcp.options.sack_le'], 'tcp');
    // Frames the board sent carry data; frames it received are the lab host's ACKs.
    const seq9 = (first + 8 * MSS) >>> 0;
    const seq10 = (first + 9 * MSS) >>> 0;
    const sends = (seq: number) => rows.filter((r) => Number(r[1]) === seq && Number(r[2]) > 0).map((r) => Number(r[0]));
    const s9 = sends(seq9);
    const s10 = sends(seq10);
    expect(s9.length, 'segment 9: original and one retransmission').toBe(2);
    expect(s10.length, 'segment 10: original and the probe').toBe(2);
    // The probe retransmits the LAST segment first (not the head of the loss).
    expect(s10[1]!).toBeLessThan(s9[1]!);
    // PTO worked by hand: the last ACK before the probe (for the first eight segments) arms it
    // at ⌈2·srtt / 4 ms⌉·4 ms + TCP_TIMEOUT_MIN (8 ms): two segments were still out.
    const acksBeforeProbe = rows.filter((r) => Number(r[2]) === 0 && Number(r[0]) < s10[1]! && Number(r[3]) === seq9);
    const lastAck = Number(acksBeforeProbe[acksBeforeProbe.length - 1]![0]);
    const pto = (Math.ceil((2 * srtt) / (4 * NS_PER_MS)) * 4 + 8) / 1000;
    expect(s10[1]! - lastAck).toBeCloseTo(pto, 2);
    expect(s10[1]! - lastAck).toBeLessThan(0.2); // not the 200 ms minimum RTO
    // The probe's SACK shows segment 9 missing; RACK marks it lost and it is resent about one
    // round trip (2·5 ms + serialisation) after the probe.
    expect(s9[1]! - s10[1]!).toBeGreaterThan(0.0095);
    expect(s9[1]! - s10[1]!).toBeLessThan(0.015);
  });
});

describe('D-SACK', () => {
  it('a duplicated segment is D-SACKed by the receiver', () => {
    const c = connect();
    const sk = [...(c.p.dut.stack.tcp as unknown as { all: Set<{ sndNxt: number; raddr: number }> }).all].find((s) => s.raddr === LAB_IP)!;
    // The last segment of the write, so no later segment follows it into the receiver.
    const dupSeq = (sk.sndNxt + 5 * MSS) >>> 0;
    let done = false;
    onBoardData(c, (seq) => (seq === dupSeq && !done ? ((done = true), 'dup') : null));
    write(c, 6 * MSS);
    run(c, 100 * NS_PER_MS);
    const cap = saveCapture(c);
    // Wireshark decodes the first SACK block below the ACK as a D-SACK of the duplicate.
    const dsacks = tsharkFields(cap, ['tcp.options.sack.dsack_le', 'tcp.options.sack.dsack_re'], 'tcp.options.sack.dsack_le', ['-o', 'tcp.relative_sequence_numbers:FALSE']);
    expect(dsacks.length).toBe(1);
    expect(Number(dsacks[0]![0])).toBe(dupSeq);
    expect(Number(dsacks[0]![1])).toBe((dupSeq + MSS) >>> 0);
    const lab = c.p.lab.stack.tcp!.ext;
    expect(lab['TCPDSACKOldSent']).toBe(1);
  });

  it('a reordered segment retransmitted by RACK, then D-SACKed: the window reduction is undone', () => {
    const c = connect();
    const sk = [...(c.p.dut.stack.tcp as unknown as { all: Set<{ sndNxt: number; raddr: number; cwnd: number; ssthresh: number }> }).all].find((s) => s.raddr === LAB_IP)!;
    const ssthreshBefore = sk.ssthresh;
    const late = (sk.sndNxt + 2 * MSS) >>> 0;
    let done = false;
    // The third segment's first transmission arrives 4 ms late: after the others are SACKed.
    onBoardData(c, (seq) => (seq === late && !done ? ((done = true), 4 * NS_PER_MS) : null));
    const ext = c.p.dut.stack.tcp!.ext;
    write(c, 10 * MSS);
    run(c, 300 * NS_PER_MS);
    expect(c.received).toBe(30 * MSS);
    expect(ext['TCPSackRecovery']).toBe(1); // RACK took it for lost and retransmitted it
    expect(ext['TCPDSACKRecv']).toBe(1);
    expect(ext['TCPDSACKUndo']).toBe(1);
    // Undone: ssthresh is back where it was (a kept reduction would leave it at 717/1024 of cwnd).
    expect(sk.ssthresh).toBe(ssthreshBefore);
  });
});

describe('F-RTO', () => {
  it('ACKs held up past the RTO: the timeout is found spurious and undone', () => {
    const c = connect();
    const ext = c.p.dut.stack.tcp!.ext;
    const sk = [...(c.p.dut.stack.tcp as unknown as { all: Set<{ raddr: number; cwnd: number; ssthresh: number }> }).all].find((s) => s.raddr === LAB_IP)!;
    const cwndBefore = sk.cwnd;
    // For the next 300 ms every frame the lab host sends (its ACKs) takes 400 ms longer:
    // the board's loss probe and then its RTO (200 ms minimum) fire, though nothing is lost.
    const wire = c.p.wire;
    const original = wire.transmit.bind(wire);
    const labMac = c.p.lab.board.mac;
    const until = c.p.world.sim.now + 300 * NS_PER_MS;
    wire.transmit = (from, bytes, offset, length) => {
      if (from !== labMac || c.p.world.sim.now > until) return original(from, bytes, offset, length);
      const saved = wire.impairments;
      wire.impairments = { ...saved, reorder: 1, reorderDelayNs: 400 * NS_PER_MS };
      try {
        return original(from, bytes, offset, length);
      } finally {
        wire.impairments = saved;
      }
    };
    let left = 40 * MSS;
    for (let i = 0; i < 200 && left > 0; i++) {
      const r = c.p.dutSys.send(c.fd, new Uint8Array(left));
      if (typeof r === 'number' && r > 0) left -= r;
      run(c, 5 * NS_PER_MS);
    }
    run(c, 1000 * NS_PER_MS);
    expect(c.received).toBe(60 * MSS);
    expect(ext['TCPTimeouts']).toBe(1);
    // RFC 5682: after the RTO's retransmission, the delayed ACKs acknowledge data that was
    // never retransmitted: the timeout was spurious, and the window comes back.
    expect(ext['TCPSpuriousRTOs']).toBe(1);
    expect(ext['TCPLossUndo']).toBe(1);
    expect(sk.cwnd).toBeGreaterThanOrEqual(cwndBefore);
    // Nothing was lost, so once the timeout is undone no fast recovery may follow: RACK's
    // reordering window (min_rtt / 4) keeps the segments sent with the one just delivered from
    // being marked lost while their held-up ACKs are still arriving.
    expect(ext['TCPSackRecovery']).toBe(0);
    expect(ext['TCPFastRetrans']).toBe(0);
    // tshark sees the board's retransmissions — the timeout's at least; the loss probe went out
    // while the writer still had data queued, so it carried new data (tcp_send_loss_probe sends
    // the send head when the peer's window takes it) and is no retransmission — and the
    // board's Tcp.RetransSegs agrees with it.
    const cap = saveCapture(c);
    const rtx = tsharkFields(cap, ['frame.number'], `ip.src==192.0.2.2 && tcp.analysis.retransmission`);
    expect(rtx.length).toBeGreaterThanOrEqual(1);
    expect(c.p.dut.stack.tcp!.mib['RetransSegs']).toBe(rtx.length);
  });
});
