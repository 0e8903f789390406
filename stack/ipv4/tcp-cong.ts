/**
 * Pluggable congestion control (net/ipv4/tcp_cong.c, struct tcp_congestion_ops): the socket
 * keeps one set of ops and the private state they put in icsk_ca_priv. The default is the
 * sysctl net.ipv4.tcp_congestion_control (cubic, as Linux 6.1's Kconfig default); a program
 * picks another per socket with setsockopt(TCP_CONGESTION).
 *
 * The helpers here are Linux's shared ones: tcp_slow_start, tcp_cong_avoid_ai, the Reno
 * ssthresh and undo, and the points where tcp_input.c calls into the ops (cong_avoid on an
 * ACK, pkts_acked with the RTT sample, ssthresh when a reduction starts, set_state).
 */
export const TCP_INFINITE_SSTHRESH = 0x7fffffff;

/** icsk_ca_state (enum tcp_ca_state). */
export const enum TcpCaState {
  Open = 0,
  Disorder = 1,
  CWR = 2,
  Recovery = 3,
  Loss = 4,
}

/** enum tcp_ca_event: the ones quarklab raises. */
export const enum TcpCaEvent {
  /** First transmission when nothing was in flight (tcp_event_data_sent after idle). */
  TxStart = 0,
  /** tcp_enter_loss. */
  Loss = 1,
}

/** The part of a tcp_sock congestion control reads and writes. */
export interface CongSock {
  cwnd: number;
  ssthresh: number;
  /** snd_cwnd_cnt: ACKed segments counted toward the next additive increase. */
  cwndCnt: number;
  sndNxt: number;
  sndUna: number;
  /** The window before the current reduction (tcp_sock.prior_cwnd), for undo. */
  priorCwnd: number;
  /** Virtual time in ns. */
  readonly now: number;
  /** icsk_ca_priv. */
  caPriv: unknown;
  /** Last time data was sent (lsndtime), ns. */
  lastSendNs: number;
  /** icsk_ca_state. */
  caState: TcpCaState;
  /** mss_cache, srtt (ns; 0 before the first sample) and sk_gso_max_size, for the pacing rate. */
  readonly mss: number;
  readonly srtt: number;
  readonly gsoMaxSize: number;
  /** Counters for /proc/net/netstat. */
  readonly table: { ext: Record<string, number> };
}

export interface TcpCongestionOps {
  readonly name: string;
  /** Set up icsk_ca_priv at the start of a connection (tcp_init_congestion_control). */
  init(sk: CongSock): void;
  /** The new slow-start threshold when the window is reduced. */
  ssthresh(sk: CongSock): number;
  /** Grow the window for `acked` newly delivered segments. */
  congAvoid(sk: CongSock, ack: number, acked: number): void;
  /** The window to restore when a reduction proves spurious. */
  undoCwnd(sk: CongSock): number;
  setState?(sk: CongSock, state: TcpCaState): void;
  cwndEvent?(sk: CongSock, ev: TcpCaEvent): void;
  /** Called for every ACK that advances snd_una; rttUs is -1 when it gave no RTT sample. */
  pktsAcked?(sk: CongSock, acked: number, rttUs: number): void;
}

/** CONFIG_HZ of the calibrated builds (HZ_250): CUBIC counts time in jiffies. */
export const HZ = 250;
const NS_PER_JIFFY = 1_000_000_000 / HZ;

/** INITIAL_JIFFIES: Linux starts the jiffies counter five minutes before it wraps. */
const INITIAL_JIFFIES = -300 * HZ;

/** tcp_jiffies32: the jiffies clock, wrapped to 32 bits. */
export function tcpJiffies32(sk: CongSock): number {
  return jiffiesAt(sk.now);
}

export function jiffiesAt(ns: number): number {
  return (Math.floor(ns / NS_PER_JIFFY) + INITIAL_JIFFIES) >>> 0;
}

/** tcp_clock_us / tcp_mstamp: the microsecond clock, wrapped to 32 bits. */
export function tcpClockUs(sk: CongSock): number {
  return Math.floor(sk.now / 1000) >>> 0;
}

export function tcpInSlowStart(sk: CongSock): boolean {
  return sk.cwnd < sk.ssthresh;
}

/** tcp_slow_start: grow by the segments ACKed up to ssthresh; returns the ACKs left over. */
export function tcpSlowStart(sk: CongSock, acked: number): number {
  const cwnd = Math.min(sk.cwnd + acked, sk.ssthresh);
  acked -= cwnd - sk.cwnd;
  sk.cwnd = cwnd;
  return acked;
}

/** tcp_cong_avoid_ai: one more segment for every `w` segments ACKed. */
export function tcpCongAvoidAi(sk: CongSock, w: number, acked: number): void {
  if (sk.cwndCnt >= w) {
    sk.cwndCnt = 0;
    sk.cwnd++;
  }
  sk.cwndCnt += acked;
  if (sk.cwndCnt >= w) {
    const delta = Math.floor(sk.cwndCnt / w);
    sk.cwndCnt -= delta * w;
    sk.cwnd += delta;
  }
}

/** tcp_reno_ssthresh: half the window, at least two. */
export function tcpRenoSsthresh(sk: CongSock): number {
  return Math.max(sk.cwnd >>> 1, 2);
}

/** tcp_reno_undo_cwnd. */
export function tcpRenoUndoCwnd(sk: CongSock): number {
  return Math.max(sk.cwnd, sk.priorCwnd);
}

/** tcp_init_congestion_control, at establishment. */
export function tcpInitCongestionControl(sk: CongSock & { congOps: TcpCongestionOps }): void {
  sk.caState = TcpCaState.Open;
  sk.congOps.init(sk);
}

/** tcp_set_ca_state: tell the ops, then record the state. */
export function tcpSetCaState(sk: CongSock, ops: TcpCongestionOps, state: TcpCaState): void {
  ops.setState?.(sk, state);
  sk.caState = state;
}

/**
 * tcp_current_ssthresh: the threshold to restore on undo — the larger of ssthresh and
 * three quarters of the window (outside CWR and Recovery).
 */
export function tcpCurrentSsthresh(sk: CongSock): number {
  if (sk.caState === TcpCaState.CWR || sk.caState === TcpCaState.Recovery) return sk.ssthresh;
  return Math.max(sk.ssthresh, (sk.cwnd >>> 1) + (sk.cwnd >>> 2));
}
