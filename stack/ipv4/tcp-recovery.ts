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

/** tcp_init_congestion_control, at establishment. */
export function tcpInitCongestionControl(sk: TcpSock): void {
  sk.caState = TcpCaState.Open;
  sk.congOps.init(sk);
}

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
  if (sk.caState <= TcpCaState.Disorder || !highSeqAhead || (sk.caState === TcpCaState.Loss && firstTimeout)) {
    sk.priorSsthresh = tcpCurrentSsthresh(sk);
    sk.priorCwnd = sk.cwnd;
    sk.ssthresh = sk.congOps.ssthresh(sk);
    sk.congOps.cwndEvent?.(sk, TcpCaEvent.Loss);
  }
  sk.cwnd = 1;
  sk.cwndCnt = 0;
  tcpSetCaState(sk, sk.congOps, TcpCaState.Loss);
}

/** tcp_undo_cwnd_reduction: the reduction was spurious; restore the window and threshold. */
export function tcpUndoCwndReduction(sk: TcpSock): void {
  sk.cwnd = sk.congOps.undoCwnd(sk);
  if (sk.priorSsthresh > sk.ssthresh) sk.ssthresh = sk.priorSsthresh;
  sk.cwndCnt = 0;
}

/** CA_EVENT_TX_START: sending new data with nothing in flight (tcp_event_data_sent). */
export function tcpOnTxStart(sk: TcpSock): void {
  sk.congOps.cwndEvent?.(sk, TcpCaEvent.TxStart);
}
