/**
 * Where loss recovery meets congestion control (tcp_input.c's tcp_cong_control,
 * tcp_init_cwnd_reduction, tcp_end_cwnd_reduction, tcp_enter_loss, tcp_undo_cwnd_reduction),
 * kept apart from the segment processing so the ACK path calls one function at each point.
 *
 * The window is set to ssthresh at once when recovery starts rather than lowered by
 * Proportional Rate Reduction (RFC 6937) over the round; docs/tcp-congestion.md says so.
 */
import { TCP_INFINITE_SSTHRESH, TcpCaEvent, TcpCaState, tcpCurrentSsthresh, tcpInSlowStart, tcpSetCaState } from './tcp-cong.js';
import type { TcpSock } from './tcp-sock.js';
import { tcpRackDetectOnTimeout } from './tcp-rack.js';
import { retransmitLost } from './tcp-output.js';
import { armRetransmitTimer } from './tcp-timer.js';

/**
 * tcp_clean_rtx_queue's pkts_acked then tcp_cong_control: hand the RTT sample to the ops and
 * grow the window when the sender was window-limited (tcp_is_cwnd_limited) and not reducing.
 */
export function tcpCongOnAck(sk: TcpSock, ack: number, acked: number, rttNs: number | null, priorInFlight: number, reducing: boolean): void {
  sk.congOps.pktsAcked?.(sk, acked, rttNs === null ? -1 : Math.floor(rttNs / 1000));
  if (reducing || acked === 0) return;
  // tcp_is_cwnd_limited: in slow start grow while cwnd < 2 × what was in flight.
  const limited = tcpInSlowStart(sk) ? sk.cwnd < 2 * priorInFlight : priorInFlight >= sk.cwnd;
  if (!limited) return;
  sk.congOps.congAvoid(sk, ack, acked);
}

/** tcp_enter_recovery → tcp_init_cwnd_reduction: the ops pick the new threshold. */
export function tcpEnterRecoveryCwnd(sk: TcpSock): void {
  sk.priorSsthresh = tcpCurrentSsthresh(sk);
  sk.priorCwnd = sk.cwnd;
  sk.ssthresh = sk.congOps.ssthresh(sk);
  sk.cwnd = sk.ssthresh;
  sk.cwndCnt = 0;
  tcpSetCaState(sk, sk.congOps, TcpCaState.Recovery);
}

/** tcp_init_undo: remember where the episode began; retransmissions still out may be D-SACKed later. */
export function tcpInitUndo(sk: TcpSock): void {
  sk.undoMarkerSet = true;
  sk.undoMarker = sk.sndUna;
  let retransOut = 0;
  for (const seg of sk.writeQueue) if (seg.rtxInFlight) retransOut++;
  sk.undoRetrans = retransOut || -1;
}

/**
 * tcp_enter_recovery: `newlyLost` segments were just marked lost (by RACK, or the third
 * duplicate ACK without SACK): reduce the window and start fast recovery.
 */
export function tcpEnterRecovery(sk: TcpSock, newlyLost: number): void {
  const t = sk.table.ext;
  tcpInitUndo(sk);
  tcpEnterRecoveryCwnd(sk);
  sk.tlpActive = false;
  sk.recovery = { highSeq: sk.sndNxt, kind: 'fast' };
  t[sk.sackOk ? 'TCPSackRecovery' : 'TCPRenoRecovery']!++;
  t['TCPFastRetrans']! += newlyLost;
}

/** tcp_rack_reo_timeout: segments became due while no ACK came; recover them. */
export function tcpRackReoTimeout(sk: TcpSock): void {
  if (sk.state === 'CLOSED') return;
  const newlyLost = tcpRackDetectOnTimeout(sk);
  if (newlyLost > 0) {
    if (!sk.recovery) tcpEnterRecovery(sk, newlyLost);
    else sk.table.ext['TCPFastRetrans']! += newlyLost;
    retransmitLost(sk);
  }
  if (sk.rtxTimer === null || sk.xmitTimerKind !== 'rto') armRetransmitTimer(sk);
}

/** A retransmitted loss probe repaired a loss: reduce the window once (CWR) and stay open. */
export function tcpCwrAfterProbe(sk: TcpSock): void {
  sk.priorSsthresh = tcpCurrentSsthresh(sk);
  sk.priorCwnd = sk.cwnd;
  sk.ssthresh = sk.congOps.ssthresh(sk);
  tcpSetCaState(sk, sk.congOps, TcpCaState.CWR);
  sk.cwnd = Math.max(sk.ssthresh, 2);
  sk.cwndCnt = 0;
  tcpSetCaState(sk, sk.congOps, TcpCaState.Open);
}

/**
 * tcp_process_loss with F-RTO (RFC 5682, tcp_frto = 2) on an ACK in the Loss state. Returns
 * 'undone' when the timeout proved spurious (never-retransmitted data was acknowledged),
 * 'new' when F-RTO sends new data instead of retransmitting (step 2b), else 'lost'.
 */
export function tcpProcessLoss(sk: TcpSock, sndUnaAdvanced: boolean, origAcked: boolean, dataSacked: boolean, dupAck: boolean): 'undone' | 'new' | 'lost' {
  const rec = sk.recovery!;
  const recovered = ((sk.sndUna - rec.highSeq) | 0) >= 0;
  if (sndUnaAdvanced && sk.undoMarkerSet && sk.undoRetrans === 0) return tcpTryUndoLoss(sk, false);
  if (sk.frto) {
    // Step 3b: data never retransmitted was acknowledged: the timeout was spurious.
    if (origAcked) return tcpTryUndoLoss(sk, true);
    if (((sk.sndNxt - rec.highSeq) | 0) > 0) {
      if (dataSacked || dupAck) sk.frto = false; // step 3a: the loss was real
    } else if (sndUnaAdvanced && !recovered) {
      rec.highSeq = sk.sndNxt;
      // Step 2b: send new data, if there is any and the peer's window takes it.
      const wndEnd = (sk.sndUna + sk.sndWnd) >>> 0;
      const last = sk.writeQueue[sk.writeQueue.length - 1];
      const unsent = last !== undefined && !sk.isSent(last);
      if (unsent && ((wndEnd - sk.sndNxt) | 0) > 0) return 'new';
      sk.frto = false;
    }
  }
  return 'lost';
}

/** tcp_try_undo_loss: leave Loss with the window and threshold from before the timeout. */
function tcpTryUndoLoss(sk: TcpSock, frtoUndo: boolean): 'undone' {
  tcpUndoCwndReduction(sk);
  for (const seg of sk.writeQueue) seg.lost = false;
  const t = sk.table.ext;
  t['TCPLossUndo']!++;
  if (frtoUndo) t['TCPSpuriousRTOs']!++;
  sk.backoff = 0;
  sk.frto = false;
  sk.recovery = null;
  tcpSetCaState(sk, sk.congOps, TcpCaState.Open);
  return 'undone';
}

/** tcp_end_cwnd_reduction and the return to Open when snd_una passes high_seq. */
export function tcpEndRecovery(sk: TcpSock, fast: boolean): void {
  if (fast && sk.ssthresh < TCP_INFINITE_SSTHRESH) sk.cwnd = Math.max(sk.ssthresh, 2);
  tcpSetCaState(sk, sk.congOps, TcpCaState.Open);
}

/**
 * tcp_enter_loss (retransmission timeout): a new threshold from the ops unless this episode
 * already took one, then restart from one segment in the Loss state.
 */
export function tcpEnterLoss(sk: TcpSock, firstTimeout: boolean): void {
  const highSeqAhead = sk.recovery !== null && ((sk.recovery.highSeq - sk.sndUna) | 0) > 0;
  const newRecovery = sk.caState < TcpCaState.Recovery;
  sk.tlpActive = false;
  if (sk.caState <= TcpCaState.Disorder || !highSeqAhead || (sk.caState === TcpCaState.Loss && firstTimeout)) {
    sk.priorSsthresh = tcpCurrentSsthresh(sk);
    sk.priorCwnd = sk.cwnd;
    sk.ssthresh = sk.congOps.ssthresh(sk);
    sk.congOps.cwndEvent?.(sk, TcpCaEvent.Loss);
    tcpInitUndo(sk);
  }
  // F-RTO step 1: judge this timeout unless recovery was already under way (a repeated
  // timeout on the same snd_una is judged too).
  sk.frto = newRecovery || !firstTimeout;
  sk.cwnd = 1;
  sk.cwndCnt = 0;
  tcpSetCaState(sk, sk.congOps, TcpCaState.Loss);
}

/** tcp_undo_cwnd_reduction: the reduction was spurious; restore the window and threshold. */
export function tcpUndoCwndReduction(sk: TcpSock): void {
  sk.undoMarkerSet = false;
  sk.cwnd = sk.congOps.undoCwnd(sk);
  if (sk.priorSsthresh > sk.ssthresh) sk.ssthresh = sk.priorSsthresh;
  sk.cwndCnt = 0;
}

/** CA_EVENT_TX_START: sending new data with nothing in flight (tcp_event_data_sent). */
export function tcpOnTxStart(sk: TcpSock): void {
  sk.congOps.cwndEvent?.(sk, TcpCaEvent.TxStart);
}
