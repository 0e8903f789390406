// The report's socket table: ss -tan run on the board when the scenario's traffic ends. The
// oracle is the capture, read by tshark: each TCP connection's state on the board's side is
// worked out here from the FINs, RSTs and ACKs on the wire up to that moment (RFC 9293's state
// diagram), and a port the board answered a SYN on is a listener. The socket rows must be
// exactly those connections, in those states, with those ports.
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { columns, eq, hasProtocol, tsharkPass, type TsharkRow } from './helpers/tshark.js';
import { removeTempDirs, runToDir } from './helpers/run.js';

const DUT = '192.0.2.2';
const MOD = 2n ** 32n;

interface Conn {
  boardPort: number;
  peer: string;
  boardFinEnd: bigint | null;
  peerFinEnd: bigint | null;
  boardFinAcked: boolean;
  rst: boolean;
}

const TCP_FIELDS = ['frame.time_epoch', 'ip.src', 'tcp.srcport', 'ip.dst', 'tcp.dstport', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.fin', 'tcp.flags.reset', 'tcp.seq_raw', 'tcp.len', 'tcp.ack_raw'];
let tcpRead: { capture: string; rows: TsharkRow[] } | null = null;
/**
 * The capture's TCP frames (what the display filter `tcp` keeps: frame.protocols names tcp),
 * in one tshark pass shared by the two readers below (a start costs ~0.5 s). Sequence analysis
 * is off: the raw header fields are all this reads.
 */
function tcpFrames(capture: string): TsharkRow[] {
  if (tcpRead?.capture !== capture) {
    const rows = tsharkPass(capture, ['frame.protocols', ...TCP_FIELDS], { extraArgs: ['-o', 'tcp.analyze_sequence_numbers:FALSE'] }).rows;
    tcpRead = { capture, rows: rows.filter((r) => hasProtocol(r, 'tcp')) };
  }
  return tcpRead.rows;
}

/** The board's TCP sockets as the capture shows them up to `untilNs` (virtual time). */
function socketsFromCapture(capture: string, untilNs: number): { listeners: Set<number>; conns: Map<string, Conn> } {
  const cutoff = DEFAULT_EPOCH_NS + BigInt(untilNs);
  const rows = columns(tcpFrames(capture), TCP_FIELDS);
  const listeners = new Set<number>();
  const conns = new Map<string, Conn>();
  const flag = (s: string): boolean => s === '1' || s === 'True';
  for (const [t, src, sport, dst, dport, syn, ack, fin, rst, seq, len, ackNo] of rows) {
    const [secs, frac = ''] = t!.split('.');
    const ns = BigInt(secs!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
    if (ns > cutoff) break;
    const fromBoard = src === DUT;
    const boardPort = Number(fromBoard ? sport : dport);
    const peer = fromBoard ? `${dst}:${dport}` : `${src}:${sport}`;
    if (flag(syn!) && flag(ack!) && fromBoard) listeners.add(boardPort);
    const key = `${boardPort} ${peer}`;
    let c = conns.get(key);
    if (!c || (flag(syn!) && !flag(ack!) && (c.rst || c.boardFinAcked))) {
      c = { boardPort, peer, boardFinEnd: null, peerFinEnd: null, boardFinAcked: false, rst: false };
      conns.set(key, c);
    }
    if (flag(rst!)) c.rst = true;
    // A FIN occupies the sequence number after the segment's data; it is ACKed once the other
    // side acknowledges past it.
    if (flag(fin!)) {
      const end = (BigInt(seq!) + BigInt(len!) + 1n) % MOD;
      if (fromBoard) c.boardFinEnd = end;
      else c.peerFinEnd = end;
    }
    if (flag(ack!)) {
      const a = BigInt(ackNo!);
      if (!fromBoard && c.boardFinEnd !== null && a === c.boardFinEnd) c.boardFinAcked = true;
    }
  }
  return { listeners, conns };
}

/** The board's state for one connection (null: closed, no socket left). */
function boardState(c: Conn): string | null {
  if (c.rst) return null;
  const boardFin = c.boardFinEnd !== null;
  const peerFin = c.peerFinEnd !== null;
  if (!boardFin && !peerFin) return 'ESTAB';
  if (!boardFin) return 'CLOSE-WAIT';
  if (!peerFin) return c.boardFinAcked ? 'FIN-WAIT-2' : 'FIN-WAIT-1';
  // Both FINs. A passive close (the peer's FIN first) is LAST-ACK until the board's FIN is
  // ACKed, then gone; an active close is CLOSING until then, then TIME-WAIT.
  if (boardClosedSecond(c)) return c.boardFinAcked ? null : 'LAST-ACK';
  return c.boardFinAcked ? 'TIME-WAIT' : 'CLOSING';
}
/** Set by the caller: whether the board's FIN came after the peer's (a passive close). */
let passiveClose = new Set<string>();
function boardClosedSecond(c: Conn): boolean {
  return passiveClose.has(`${c.boardPort} ${c.peer}`);
}

function expectedRows(capture: string, untilNs: number): string[] {
  const { listeners, conns } = socketsFromCapture(capture, untilNs);
  // The wire shows a listener's port, not the address it is bound to.
  const rows: string[] = [...listeners].map((p) => `LISTEN :${p} 0.0.0.0:0`);
  for (const c of conns.values()) {
    const st = boardState(c);
    if (st) rows.push(`${st} ${DUT}:${c.boardPort} ${c.peer}`);
  }
  return rows.sort();
}

/** Which connections the board closed second: its FIN frame after the peer's, in the capture. */
function passiveCloses(capture: string, untilNs: number): Set<string> {
  const cutoff = DEFAULT_EPOCH_NS + BigInt(untilNs);
  const out = new Set<string>();
  const peerFinFirst = new Set<string>();
  // The display filter `tcp.flags.fin == 1`, on the TCP frames.
  const fins = tcpFrames(capture).filter((r) => eq(r, 'tcp.flags.fin', '1'));
  for (const [t, src, sport, dst, dport] of columns(fins, ['frame.time_epoch', 'ip.src', 'tcp.srcport', 'ip.dst', 'tcp.dstport'])) {
    const [secs, frac = ''] = t!.split('.');
    if (BigInt(secs!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9)) > cutoff) break;
    const fromBoard = src === DUT;
    const key = fromBoard ? `${sport} ${dst}:${dport}` : `${dport} ${src}:${sport}`;
    if (!fromBoard && !out.has(key)) peerFinFirst.add(key);
    if (fromBoard && peerFinFirst.has(key)) out.add(key);
    if (fromBoard) peerFinFirst.delete(key);
  }
  return out;
}

afterAll(removeTempDirs);

describe('the report socket table against the capture', () => {
  it('full (INET_DIAG): ss over sock_diag lists the board server’s listener and the connections it closed first', () => {
    const r = runToDir({ board: 'quark-4m', profile: 'full', scenario: 'http-serve:clients=3' });
    const dut = r.report.boards.find((b) => b.role === 'dut')!;
    expect(dut.sockets!.source).toBe('ss (sock_diag)');
    passiveClose = passiveCloses(r.capturePath!, r.report.virtualTimeNs);
    const want = expectedRows(r.capturePath!, r.report.virtualTimeNs);
    const got = dut.sockets!.rows.map((x) => `${x.state} ${x.state === 'LISTEN' ? x.local.replace(/^[\d.]+/, '') : x.local} ${x.peer}`).sort();
    expect(got).toEqual(want);
    // The server listens on port 80; three connections were made to it.
    expect(dut.sockets!.rows.filter((x) => x.state === 'LISTEN').map((x) => x.local)).toEqual(['0.0.0.0:80']);
    expect(got.filter((g) => g.startsWith('TIME-WAIT ')).length).toBe(3);
    // The lab host's board is not listed (its table is not taken).
    expect(r.report.boards.find((b) => b.role === 'lab')!.sockets).toBeNull();
    // The trace holds what ss printed on the board.
    expect(r.outcome.trace.some((l) => l.program === 'ss' && /^State\s+Recv-Q/.test(l.line))).toBe(true);
  });

  it('minimal (no INET_DIAG, no /proc): read from the kernel tables, and says so; rows still match', () => {
    const r = runToDir({ board: 'quark-4m', profile: 'minimal', scenario: 'http-get' });
    const dut = r.report.boards.find((b) => b.role === 'dut')!;
    expect(dut.sockets!.source).toBe('kernel tables');
    expect(dut.sockets!.detail).toMatch(/EAFNOSUPPORT.*\/proc\/net\/tcp: ENOENT/);
    passiveClose = passiveCloses(r.capturePath!, r.report.virtualTimeNs);
    const want = expectedRows(r.capturePath!, r.report.virtualTimeNs);
    expect(dut.sockets!.rows.map((x) => `${x.state} ${x.local} ${x.peer}`).sort()).toEqual(want);
    expect(want.length).toBe(1);
  });
});
