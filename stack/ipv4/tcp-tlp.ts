/**
 * Tail loss probe (RFC 8985 §7; tcp_schedule_loss_probe, tcp_send_loss_probe,
 * tcp_process_tlp_ack; tcp_early_retrans = 3). When a SACK connection in Open or CWR has data
 * in flight, the retransmit timer is first armed for a probe timeout PTO = 2·srtt plus
 * TCP_TIMEOUT_MIN (8 ms; plus TCP_RTO_MIN instead when a single segment is out, for the
 * peer's delayed ACK), capped at the time left until the RTO. When it fires, one new segment
 * goes out if the window allows, else the last segment sent is retransmitted; its ACK (or
 * SACK) then drives RACK, so a lost tail is repaired in about two round trips, not an RTO.
 */
import { TcpCaState } from './tcp-cong.js';
import { transmitSeg } from './tcp-output.js';
import { armRetransmitTimer } from './tcp-timer.js';
import { resetXmitTimer, roundUpToJiffy, TCP_TIMEOUT_MIN_NS } from './tcp-rack.js';
import { tcpCwrAfterProbe } from './tcp-recovery.js';
import type { TcpSock } from './tcp-sock.js';

const TCP_RTO_MIN_NS = 200_000_000;
const TCP_TIMEOUT_INIT_NS = 1_000_000_000;

/** tcp_schedule_loss_probe: arm the probe instead of the RTO; false when no probe applies. */
export function tcpScheduleLossProbe(sk: TcpSock, advancingRto: boolean): boolean {
  if (sk.state === 'SYN_SENT' || sk.state === 'SYN_RECV') return false;
  const out = sk.firstUnsentIndex();
  if (!out || !sk.sackOk || (sk.caState !== TcpCaState.Open && sk.caState !== TcpCaState.CWR)) return false;
  let timeout: number;
  if (sk.srtt > 0) timeout = roundUpToJiffy(2 * sk.srtt) + (out === 1 ? TCP_RTO_MIN_NS : TCP_TIMEOUT_MIN_NS);
  else timeout = TCP_TIMEOUT_INIT_NS;
  // Never later than the RTO would fire.
  const rto = Math.min(sk.rto * 2 ** sk.backoff, sk.table.sysctl.rtoMaxNs);
  const head = sk.writeQueue[0]!;
  const rtoDelta = advancingRto ? rto : head.sentAt + rto - sk.now;
  if (rtoDelta > 0) timeout = Math.min(timeout, roundUpToJiffy(rtoDelta));
  resetXmitTimer(sk, 'tlp', timeout, tcpSendLossProbe);
  return true;
}

/** tcp_send_loss_probe. */
export function tcpSendLossProbe(sk: TcpSock): void {
  if (sk.state === 'CLOSED') return;
  if (!sk.tlpActive) {
    sk.tlpRetrans = false;
    let sent = false;
    let last = null;
    for (const seg of sk.writeQueue) {
      if (sk.isSent(seg)) {
        last = seg;
        continue;
      }
      // New data first, if the peer's window takes it (cwnd does not limit a probe).
      const wndEnd = (sk.sndUna + sk.sndWnd) >>> 0;
      if (seg.len > 0 && ((seg.end - (seg.fin ? 1 : 0) - wndEnd) | 0) > 0) break;
      if (transmitSeg(sk, seg, false)) {
        sk.lastSendNs = sk.now;
        sk.sndNxt = seg.end;
        sent = true;
      }
      break;
    }
    if (!sent && last && !last.lent) {
      if (transmitSeg(sk, last, true)) {
        last.rtxInFlight = true;
        noteRetransmit(sk);
        sk.tlpRetrans = true;
        sent = true;
      }
    }
    if (sent) {
      sk.tlpActive = true;
      sk.tlpHighSeq = sk.sndNxt;
      sk.table.ext['TCPLossProbes']!++;
    }
  }
  // tcp_rearm_rto: the RTO restarts from now.
  if (sk.writeQueue.length > 0 && sk.isSent(sk.writeQueue[0]!)) armRetransmitTimer(sk);
}

/** undo_retrans counts retransmissions that a D-SACK may later show spurious. */
export function noteRetransmit(sk: TcpSock): void {
  if (sk.undoRetrans < 0) sk.undoRetrans = 0;
  sk.undoRetrans++;
}

/**
 * tcp_process_tlp_ack: did the probe repair a loss? A probe of new data, a D-SACK of the
 * probe or a pure duplicate ACK say no; an ACK beyond the probe's snd_nxt after a
 * retransmitted probe says yes, and the window is reduced once (CWR).
 */
export function tcpProcessTlpAck(sk: TcpSock, ack: number, sndUnaAdvanced: boolean, dsackOfProbe: boolean, pureDupAck: boolean): void {
  if (!sk.tlpActive || ((ack - sk.tlpHighSeq) | 0) < 0) return;
  if (!sk.tlpRetrans) sk.tlpActive = false;
  else if (dsackOfProbe) sk.tlpActive = false;
  else if (((ack - sk.tlpHighSeq) | 0) > 0) {
    sk.tlpActive = false;
    tcpCwrAfterProbe(sk);
    sk.table.ext['TCPLossProbeRecovery']!++;
  } else if (!sndUnaAdvanced && pureDupAck) sk.tlpActive = false;
}

/** tcp_set_xmit_timer: after an ACK with data still out, a probe if one applies, else the RTO. */
export function tcpSetXmitTimer(sk: TcpSock): void {
  if (!tcpScheduleLossProbe(sk, true)) armRetransmitTimer(sk);
}
