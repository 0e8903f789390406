/**
 * RACK loss detection (RFC 8985; net/ipv4/tcp_recovery.c, tcp_recovery = 1): a segment is
 * lost when a segment sent after it has been delivered (SACKed or ACKed) and more than the
 * latest RTT plus a reordering window has passed since it was sent. The window is a quarter
 * of the minimum RTT while no reordering has been seen and fewer than three segments are
 * SACKed, zero in recovery or once three are SACKed (the DUPACK threshold, kept in 6.1);
 * segments not yet due arm the reordering timer. Also the retransmit timer shared by RTO,
 * the loss probe and RACK's reordering timeout (icsk_retransmit_timer with icsk_pending).
 */
import { Timer } from '../../emulator/event-queue.js';
import type { TcpSock, TxSeg } from './tcp-sock.js';
import { TcpCaState } from './tcp-cong.js';

/** CONFIG_HZ 250: Linux's TCP timers run in 4 ms jiffies. */
export const JIFFY_NS = 4_000_000;
/** TCP_TIMEOUT_MIN: 2 jiffies. */
export const TCP_TIMEOUT_MIN_NS = 2 * JIFFY_NS;

/** usecs_to_jiffies then back to ns: timers round up to the next jiffy. */
export function roundUpToJiffy(ns: number): number {
  return Math.ceil(ns / JIFFY_NS) * JIFFY_NS;
}

/** tcp_skb_sent_after: t1/seq1 was sent after t2/seq2 (ties broken by sequence). */
function sentAfter(t1: number, t2: number, seq1: number, seq2: number): boolean {
  return t1 > t2 || (t1 === t2 && ((seq1 - seq2) | 0) > 0);
}

/** tcp_rack_advance: a segment was delivered (newly SACKed or cumulatively ACKed). */
export function tcpRackAdvance(sk: TcpSock, seg: TxSeg): void {
  const rtt = sk.now - seg.sentAt;
  // A retransmitted segment delivered sooner than the minimum RTT: the original was (ambiguous).
  if (seg.retransmitted && rtt < sk.minRttNs) return;
  const r = sk.rack;
  r.advanced = true;
  r.rttNs = rtt;
  if (sentAfter(seg.sentAt, r.mstampNs, seg.end, r.endSeq)) {
    r.mstampNs = seg.sentAt;
    r.endSeq = seg.end;
  }
}

function reoWnd(sk: TcpSock, clean: number): number {
  const r = sk.rack;
  if (!r.reordSeen) {
    if (sk.caState >= TcpCaState.Recovery) return 0;
    if (sackedOutReaches(sk, 3, clean)) return 0;
  }
  return Math.min((sk.minRttNs >>> 2) * r.reoWndSteps, sk.srtt);
}

/**
 * Whether at least `n` sent segments are SACKed (tp->sacked_out >= n), counting no further than
 * needed. A SACKed segment is a marked one: only those before `clean`, where the queue's clean
 * tail starts, can be.
 */
function sackedOutReaches(sk: TcpSock, n: number, clean: number): boolean {
  let sackedOut = 0;
  const q = sk.writeQueue;
  for (let i = 0; i < clean; i++) {
    const seg = q[i]!;
    if (!sk.isSent(seg)) break;
    if (seg.sacked && ++sackedOut >= n) return true;
  }
  return false;
}

/** detectLoss's results, reused so the per-ACK path allocates nothing. */
const found = { newlyLost: 0, waitNs: 0 };

/** tcp_rack_detect_loss: mark what is due; `found` gets the count and the longest wait for the rest (0: none). */
function detectLoss(sk: TcpSock): void {
  const r = sk.rack;
  const q = sk.writeQueue;
  const clean = sk.cleanTailStart();
  const wnd = reoWnd(sk, clean);
  let newlyLost = 0;
  let waitNs = 0;
  for (let i = 0; i < q.length; i++) {
    const seg = q[i]!;
    if (!sk.isSent(seg)) break;
    if (seg.sacked) continue;
    // Marked lost and not yet resent: nothing more to learn.
    if (seg.lost && !seg.rtxInFlight) continue;
    if (!sentAfter(r.mstampNs, seg.sentAt, r.endSeq, seg.end)) {
      // In the clean tail every later segment was sent later still: Linux's walk of the
      // time-sorted queue stops here too.
      if (i >= clean) break;
      continue;
    }
    const remaining = r.rttNs + wnd - (sk.now - seg.sentAt);
    if (remaining <= 0) {
      // tcp_mark_skb_lost: a lost retransmission is counted and goes back to the lost list.
      if (seg.rtxInFlight) sk.table.ext['TCPLostRetransmit']!++;
      seg.lost = true;
      sk.noteMarked(seg);
      seg.rtxInFlight = false;
      newlyLost++;
    } else if (remaining > waitNs) waitNs = remaining;
  }
  found.newlyLost = newlyLost;
  found.waitNs = waitNs;
}

/**
 * tcp_rack_mark_lost: after an ACK that delivered something, mark lost segments; arm the
 * reordering timer for those not yet due. Returns how many were newly marked.
 */
export function tcpRackMarkLost(sk: TcpSock, onReoTimeout: (sk: TcpSock) => void): number {
  if (!sk.rack.advanced) return 0;
  sk.rack.advanced = false;
  detectLoss(sk);
  if (found.waitNs > 0) resetXmitTimer(sk, 'reo', roundUpToJiffy(found.waitNs) + TCP_TIMEOUT_MIN_NS, onReoTimeout);
  return found.newlyLost;
}

/** tcp_rack_reo_timeout's detection step: mark what has become due. */
export function tcpRackDetectOnTimeout(sk: TcpSock): number {
  detectLoss(sk);
  return found.newlyLost;
}

/** inet_csk_reset_xmit_timer: the one retransmit timer, for an RTO, a loss probe or RACK. */
export function resetXmitTimer(sk: TcpSock, kind: 'tlp' | 'reo', delayNs: number, fire: (sk: TcpSock) => void): void {
  const t = (sk.xmitProbeTimerRec ??= new Timer(() => {
    sk.rtxTimer = null;
    sk.stack.chargeTimer();
    sk.xmitProbeFire!(sk);
  }));
  // An RTO pending on the other record gives way; this one, if pending, moves (mod_timer).
  if (sk.rtxTimer !== t) sk.stack.sim.cancel(sk.rtxTimer);
  sk.xmitTimerKind = kind;
  sk.xmitProbeFire = fire;
  sk.stack.sim.mod(t, sk.stack.sim.now + delayNs);
  sk.rtxTimer = t;
}
