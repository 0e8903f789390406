/**
 * TCP Reno (tcp_reno_* in net/ipv4/tcp_cong.c): slow start, then one segment more per
 * window of ACKs; the window halves on loss. Selected by net.ipv4.tcp_congestion_control=reno
 * or setsockopt(TCP_CONGESTION, "reno").
 */
import { tcpCongAvoidAi, tcpInSlowStart, tcpRenoSsthresh, tcpRenoUndoCwnd, tcpSlowStart, type CongSock, type TcpCongestionOps } from './tcp-cong.js';

export const tcpReno: TcpCongestionOps = {
  name: 'reno',
  init(sk: CongSock): void {
    sk.caPriv = null;
  },
  ssthresh: tcpRenoSsthresh,
  congAvoid(sk: CongSock, _ack: number, acked: number): void {
    if (tcpInSlowStart(sk)) {
      acked = tcpSlowStart(sk, acked);
      if (!acked) return;
    }
    tcpCongAvoidAi(sk, sk.cwnd, acked);
  },
  undoCwnd: tcpRenoUndoCwnd,
};
