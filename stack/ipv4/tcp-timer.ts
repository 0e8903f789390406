/**
 * TCP's timers (net/ipv4/tcp_timer.c): retransmission, delayed ACK, zero-window probe
 * (persist), keepalive and the FIN_WAIT2 timeout. Each takes the socket; its table is sk.table.
 * The request sock's SYN-ACK timer lives with the listen path (tcp-ipv4.ts), TIME_WAIT's with
 * the timewait socks.
 */
import { Timer } from '../../emulator/event-queue.js';
import { TCP_ACK, TCP_RST } from '../wire/tcp-header.js';
import { sendAck, sendControl, transmitSeg, writeWakeup } from './tcp-output.js';
import { tcpEnterLoss } from './tcp-recovery.js';
import type { TcpTable } from './tcp.js';
import type { TcpSock } from './tcp-sock.js';
import { noteRetransmit } from './tcp-tlp.js';
import { Errno } from '../uapi/errno.js';

/** tcp_send_delayed_ack: the delayed-ACK timer, whose handler is tcp_delack_timer_handler. */
export function scheduleDelack(sk: TcpSock, delay: number): void {
  if (sk.delackTimer) return;
  const t = (sk.delackTimerRec ??= new Timer(() => {
    sk.delackTimer = null;
    sk.stack.chargeTimer();
    if (sk.ackPending && sk.state !== 'CLOSED') {
      // tcp_delack_timer_handler: a delayed ACK missed its reply; leave pingpong.
      sk.pingpong = false;
      sk.table.ext['DelayedACKs']!++;
      sendAck(sk);
    }
  }));
  sk.stack.sim.mod(t, sk.stack.sim.now + delay);
  sk.delackTimer = t;
}

/** inet_csk_reset_xmit_timer(ICSK_TIME_RETRANS): the RTO, backed off, up to tcp_rto_max. */
export function armRetransmitTimer(sk: TcpSock): void {
  sk.stack.sim.cancel(sk.rtxTimer);
  sk.xmitTimerKind = 'rto';
  const timeout = Math.min(sk.rto * 2 ** sk.backoff, sk.table.sysctl.rtoMaxNs);
  // mod_timer: a pending retransmission timer moves; nothing cancelled stays in the queue.
  const t = (sk.rtxTimerRec ??= new Timer(() => {
    sk.rtxTimer = null;
    sk.stack.chargeTimer();
    retransmitTimer(sk);
  }));
  sk.stack.sim.mod(t, sk.stack.sim.now + timeout);
  sk.rtxTimer = t;
}

/** tcp_retransmit_timer: back off, collapse the window to one segment, resend the head. */
export function retransmitTimer(sk: TcpSock): void {
  const t = sk.table;
  const head = sk.writeQueue.find((s) => sk.isSent(s));
  if (!head || sk.state === 'CLOSED') return;
  const s = t.sysctl;
  if (sk.orphan && outOfResources(t)) {
    // tcp_out_of_resources: too many orphans, or memory short — an orphan is reset, not retried.
    t.ext['TCPAbortOnMemory']!++;
    sendControl(sk, TCP_RST | TCP_ACK);
    t.destroy(sk, 0);
    return;
  }
  // tcp_orphan_retries: a socket nobody holds gives up after 8 tries rather than retries2.
  const limit = sk.state === 'SYN_SENT' ? s.synRetries : sk.orphan ? s.orphanRetries : s.retries2;
  if (head.txCount > limit) {
    t.ext['TCPAbortOnTimeout']!++;
    if (sk.state === 'SYN_SENT') t.mib['AttemptFails']!++;
    sendControl(sk, TCP_RST | TCP_ACK);
    t.destroy(sk, sk.errSoft || Errno.ETIMEDOUT);
    return;
  }
  t.ext['TCPTimeouts']!++;
  if (sk.state === 'ESTABLISHED' || sk.state === 'CLOSE_WAIT' || sk.state === 'FIN_WAIT1' || sk.state === 'LAST_ACK' || sk.state === 'CLOSING') {
    // tcp_enter_loss: everything outstanding and not SACKed is lost; restart from one segment.
    tcpEnterLoss(sk, sk.backoff === 0);
    sk.recovery = { highSeq: sk.sndNxt, kind: 'loss' };
    for (const seg of sk.writeQueue) {
      if (!sk.isSent(seg) || seg.sacked) continue;
      seg.lost = true;
      seg.rtxInFlight = false;
      sk.noteMarked(seg);
    }
    t.ext['TCPSlowStartRetrans']!++;
  }
  sk.backoff = Math.min(sk.backoff + 1, 15);
  head.lost = false;
  if (transmitSeg(sk, head, true)) {
    head.rtxInFlight = true;
    noteRetransmit(sk);
  }
  armRetransmitTimer(sk);
}

/** tcp_check_oom: more orphans than tcp_max_orphans, or TCP memory past tcp_mem[2], or RAM at its reserve. */
export function outOfResources(t: TcpTable): boolean {
  return t.orphans > t.sysctl.maxOrphans || t.mem.overHardLimit(0) || t.stack.env.mem.freePages() <= t.stack.env.mem.reservePages();
}

/** tcp_reset_xmit_timer(ICSK_TIME_PROBE0, tcp_probe0_when): max(rto, TCP_RTO_MIN), backed off per probe. */
export function armPersist(sk: TcpSock): void {
  const t = sk.table;
  if (sk.persistTimer) return;
  const timeout = Math.min(Math.max(sk.rto, t.sysctl.rtoMinNs) * 2 ** sk.probesOut, t.sysctl.rtoMaxNs);
  sk.persistTimer = t.stack.sim.after(timeout, () => {
    sk.persistTimer = null;
    t.stack.chargeTimer();
    if (sk.state === 'CLOSED') return;
    const head = sk.writeQueue.find((s) => !sk.isSent(s));
    // tcp_send_probe0: data in flight (its RTO takes over) or nothing to send: stop probing.
    if (sk.sndNxt !== sk.sndUna || !head) {
      sk.probesOut = 0;
      return;
    }
    if (writeWakeup(sk, head)) {
      sk.probesOut = 0;
      return;
    }
    sk.probesOut++;
    armPersist(sk);
  });
}

/** inet_csk_clear_xmit_timer(ICSK_TIME_PROBE0): the window opened. */
export function cancelPersist(sk: TcpSock): void {
  const t = sk.table;
  t.stack.sim.cancel(sk.persistTimer);
  sk.persistTimer = null;
  sk.probesOut = 0;
}

/** inet_csk_reset_keepalive_timer: the next keepalive probe, after keepalive_time idle then every keepalive_intvl. */
export function armKeepalive(sk: TcpSock): void {
  const t = sk.table;
  t.stack.sim.cancel(sk.keepaliveTimer);
  const s = t.sysctl;
  const idle = sk.now - sk.lastRecvTime;
  const wait = sk.keepaliveProbesSent > 0 ? s.keepaliveIntvlNs : Math.max(s.keepaliveTimeNs - idle, 1);
  sk.keepaliveTimer = t.stack.sim.after(wait, () => {
    sk.keepaliveTimer = null;
    t.stack.chargeTimer();
    if (sk.state !== 'ESTABLISHED' || !sk.keepalive) return;
    if (sk.now - sk.lastRecvTime < s.keepaliveTimeNs && sk.keepaliveProbesSent === 0) return armKeepalive(sk);
    if (sk.keepaliveProbesSent >= s.keepaliveProbes) {
      // tcp_keepalive_timer: tcp_send_active_reset, then tcp_write_err.
      sendControl(sk, TCP_RST | TCP_ACK);
      t.destroy(sk, Errno.ETIMEDOUT);
      return;
    }
    sk.keepaliveProbesSent++;
    t.ext['TCPKeepAlive']!++;
    sendControl(sk, TCP_ACK, (sk.sndUna - 1) >>> 0);
    armKeepalive(sk);
  });
}

/** tcp_keepalive_timer's FIN_WAIT2 case: an orphan waits tcp_fin_timeout for the peer's FIN. */
export function armFinWait2(sk: TcpSock): void {
  const t = sk.table;
  t.stack.sim.cancel(sk.closeTimer);
  sk.closeTimer = t.stack.sim.after(t.sysctl.finTimeoutNs, () => {
    sk.closeTimer = null;
    if (sk.state === 'FIN_WAIT2') t.destroy(sk, 0);
  });
}

