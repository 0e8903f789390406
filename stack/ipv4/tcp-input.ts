/**
 * Processing a segment for a socket past LISTEN (net/ipv4/tcp_input.c): acceptability and
 * PAWS, RFC 5961 RST and SYN handling, ACK processing with RTT sampling, congestion control,
 * SACK-based loss marking and NewReno recovery, then data (in order, or held out of order)
 * and FIN, and the decision to ACK now or later.
 */
import type { SkBuff } from '../core/skbuff.js';
import type { Ipv4Repr } from '../wire/ipv4-header.js';
import {
  seqGeq, seqGt, seqLeq, seqLt, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type TcpRepr,
} from '../wire/tcp-header.js';
import { freeWindow, retransmitLost, sendAck, sendControl, tsNow, writeXmit } from './tcp-output.js';
import { armFinWait2, cancelPersist, scheduleDelack } from './tcp-timer.js';
import { enterTimeWait, oowRateLimited } from './tcp-minisocks.js';
import { fastOpenSynAckReceived } from './tcp-fastopen.js';
import { fastOpenCookieLearned } from './tcp-metrics.js';
import { TCP_MIN_MSS, TCP_MSS_DEFAULT, type TcpSock, type TxSeg } from './tcp-sock.js';
import { tcpCongOnAck, tcpEndRecovery, tcpEnterRecovery, tcpProcessLoss, tcpRackReoTimeout } from './tcp-recovery.js';
import { tcpRackAdvance, tcpRackMarkLost } from './tcp-rack.js';
import { tcpProcessTlpAck, tcpSetXmitTimer } from './tcp-tlp.js';
import { tcpCheckDsack, tcpDsackSet, tcpTryUndoDsack } from './tcp-dsack.js';
import { TcpCaState } from './tcp-cong.js';
import { Errno } from '../uapi/errno.js';

/**
 * What the ACK being processed did (tcp_ack's flag bits), for recovery: reset per ACK, so
 * the per-segment path allocates nothing. FLAG_ORIG_SACK_ACKED and FLAG_DATA_SACKED.
 */
const ackFlags = { origSackAcked: false, dataSacked: false, highSeq: 0 };

export function tcpRcv(sk: TcpSock, skb: SkBuff, _ip: Ipv4Repr, th: TcpRepr): void {
  const len = skb.len - th.headerLength;
  const t = sk.table;
  sk.lastRecvTime = sk.now;
  sk.keepaliveProbesSent = 0;
  if (sk.state === 'SYN_SENT') {
    synSentRcv(sk, skb, th);
    return;
  }
  // PAWS (RFC 7323 §5): a timestamp older than the last one seen is an old duplicate.
  const segLen = len + (th.flags & TCP_SYN ? 1 : 0) + (th.flags & TCP_FIN ? 1 : 0);
  if (sk.tstampOk && th.options.tsVal !== undefined && !(th.flags & TCP_RST) && ((th.options.tsVal - sk.tsRecent) | 0) < 0) {
    // tcp_validate_incoming: a duplicate ACK answers, rate limited as any out-of-window answer.
    t.ext['PAWSEstab']!++;
    if (!oowRateLimitedSk(sk, segLen, th.flags, 'TCPACKSkippedPAWS')) sendAck(sk);
    t.drop(skb, 'TCP_RFC7323_PAWS');
    return;
  }
  const outOfWindow = sequenceCheck(sk, th.seq, (th.seq + segLen) >>> 0);
  if (outOfWindow) {
    // tcp_validate_incoming: a SYN gets a challenge ACK; anything else (not a RST) a duplicate
    // ACK, which tcp_oow_rate_limited holds to one per 500 ms unless the segment carries data
    // or a FIN. Old data is D-SACKed up to rcv_nxt (tcp_send_dupack).
    if (th.flags & TCP_SYN) {
      t.ext['TCPSYNChallenge']!++;
      challengeAck(sk);
    } else if (!(th.flags & TCP_RST) && !oowRateLimitedSk(sk, segLen, th.flags, 'TCPACKSkippedSeq')) {
      if (len > 0 && seqLt(th.seq, sk.rcvNxt)) tcpDsackSet(sk, th.seq, seqGt((th.seq + len) >>> 0, sk.rcvNxt) ? sk.rcvNxt : (th.seq + len) >>> 0, false);
      sendAck(sk);
    }
    t.drop(skb, outOfWindow);
    return;
  }
  if (th.flags & TCP_RST) {
    // RFC 5961 §3.2: only an exact rcv_nxt match resets; anything else in window is challenged.
    if (th.seq === sk.rcvNxt) {
      skb.free();
      t.resetByPeer(sk);
    } else {
      challengeAck(sk);
      skb.free();
    }
    return;
  }
  if (th.flags & TCP_SYN) {
    // RFC 5961 §4: a SYN on a synchronised connection gets a challenge ACK.
    t.ext['TCPSYNChallenge']!++;
    challengeAck(sk);
    skb.free();
    return;
  }
  if (!(th.flags & TCP_ACK)) {
    skb.free();
    return;
  }
  if (sk.state === 'SYN_RECV') {
    if (seqGt(th.ack, sk.sndUna) && seqLeq(th.ack, sk.sndNxt)) t.onEstablished(sk);
    else {
      skb.free();
      return;
    }
  }
  if (seqGt(th.ack, sk.sndNxt)) {
    // ACK for data never sent: tcp_ack drops it; only outside ESTABLISHED does
    // tcp_rcv_state_process answer with a challenge ACK.
    if (sk.state !== 'ESTABLISHED') challengeAck(sk);
    t.drop(skb, 'TCP_ACK_UNSENT_DATA');
    return;
  }
  if (seqLt(th.ack, (sk.sndUna - sk.maxWindow) >>> 0)) {
    // An ACK older than the largest window ever offered (tcp_ack: "too old").
    challengeAck(sk);
    t.drop(skb, 'TCP_TOO_OLD_ACK');
    return;
  }
  // tcp_store_ts_recent: keep the peer's timestamp if this segment covers rcv_wup.
  if (sk.tstampOk && th.options.tsVal !== undefined && seqLeq(th.seq, sk.rcvWup)) sk.tsRecent = th.options.tsVal;
  processAck(sk, th, len);
  if (sk.state === 'CLOSED') {
    skb.free();
    return;
  }
  if (len > 0) {
    if (sk.state === 'ESTABLISHED' || sk.state === 'FIN_WAIT1' || sk.state === 'FIN_WAIT2') {
      if (sk.orphan && sk.shutdownWr && sk.state !== 'ESTABLISHED') {
        // Data for a socket nobody will read (tcp_rcv_state_process: TCPAbortOnData).
        t.ext['TCPAbortOnData']!++;
        sendControl(sk, TCP_RST | TCP_ACK);
        skb.free();
        t.destroy(sk, 0);
        return;
      }
      skb.pull(th.headerLength);
      dataQueue(sk, skb, th.seq, len, (th.flags & TCP_FIN) !== 0, th);
    } else skb.free();
  } else {
    if (th.flags & TCP_FIN && th.seq === sk.rcvNxt) finReceived(sk);
    skb.free();
  }
  ackSndCheck(sk);
}

/**
 * tcp_sequence: a segment is acceptable unless it ends before rcv_wup (old data) or starts
 * past the right edge of the window offered. Returns the drop reason, or null.
 */
function sequenceCheck(sk: TcpSock, seq: number, endSeq: number): 'TCP_OLD_DATA' | 'TCP_OVERWINDOW' | null {
  if (seqLt(endSeq, sk.rcvWup)) return 'TCP_OLD_DATA';
  const wnd = Math.max((sk.rcvWup + sk.rcvWnd - sk.rcvNxt) | 0, 0);
  if (seqGt(seq, (sk.rcvNxt + wnd) >>> 0)) return 'TCP_OVERWINDOW';
  return null;
}

/**
 * tcp_oow_rate_limited: may this out-of-window segment be answered? Data or a FIN without SYN
 * always may (not part of an ACK loop); otherwise one answer per tcp_invalid_ratelimit
 * (500 ms) per socket, sharing last_oow_ack_time with challenge ACKs. True means hold back.
 */
function oowRateLimitedSk(sk: TcpSock, segLen: number, flags: number, mib: string): boolean {
  if (segLen > 0 && !(flags & TCP_SYN)) return false;
  return rateLimitedNow(sk, mib);
}

/** __tcp_oow_rate_limited on the socket's last_oow_ack_time. */
function rateLimitedNow(sk: TcpSock, mib: string): boolean {
  const r = oowRateLimited(sk.lastOowAck, sk.now);
  sk.lastOowAck = r.last;
  if (r.limited) sk.table.ext[mib]!++;
  return r.limited;
}

function challengeAck(sk: TcpSock): void {
  // tcp_send_challenge_ack: the per-socket limit (6.1's host-wide limit defaults to off: INT_MAX).
  if (rateLimitedNow(sk, 'TCPACKSkippedChallenge')) return;
  sk.table.ext['TCPChallengeACK']!++;
  sendAck(sk);
}

function synSentRcv(sk: TcpSock, skb: SkBuff, th: TcpRepr): void {
  const t = sk.table;
  skb.free();
  if (th.flags & TCP_ACK && (seqLeq(th.ack, sk.iss) || seqGt(th.ack, sk.sndNxt))) {
    if (!(th.flags & TCP_RST)) sendControl(sk, TCP_RST, th.ack);
    return;
  }
  if (th.flags & TCP_RST) {
    if (th.flags & TCP_ACK) {
      t.mib['AttemptFails']!++;
      t.destroy(sk, Errno.ECONNREFUSED);
    }
    return;
  }
  if (!(th.flags & TCP_SYN) || !(th.flags & TCP_ACK)) return;
  const o = th.options;
  sk.irs = th.seq;
  sk.rcvNxt = (th.seq + 1) >>> 0;
  sk.rcvWup = sk.rcvNxt;
  sk.lastAckedRcvNxt = sk.rcvNxt;
  if (o.mss !== undefined) sk.mss = Math.min(o.mss, sk.advMss);
  sk.mssClamp = o.mss ?? 536;
  sk.wscaleOk = o.wscale !== undefined;
  sk.sndWscale = sk.wscaleOk ? o.wscale! : 0;
  if (!sk.wscaleOk) sk.rcvWscale = 0;
  sk.sackOk = o.sackPermitted === true;
  sk.tstampOk = o.tsVal !== undefined;
  if (sk.tstampOk) {
    sk.tsRecent = o.tsVal!;
    sk.mss -= 12;
  }
  if (o.fastOpenCookie && o.fastOpenCookie.length > 0) fastOpenCookieLearned(sk, o.fastOpenCookie);
  sk.sndWnd = th.window;
  sk.sndWl1 = th.seq;
  sk.sndWl2 = th.ack;
  sk.maxWindow = Math.max(sk.maxWindow, sk.sndWnd);
  fastOpenSynAckReceived(sk, th.ack);
  const r = ackSegments(sk, th.ack);
  if (r.rtt !== null) sampleRtt(sk, r.rtt);
  // tcp_rearm_rto: the SYN is acknowledged; with nothing else out, no retransmit timer.
  if (!sk.writeQueue.some((s) => sk.isSent(s))) {
    sk.stack.sim.cancel(sk.rtxTimer);
    sk.rtxTimer = null;
  }
  // tcp_finish_connect: icsk_ack.lrcvtime starts at the SYN-ACK.
  sk.lrcvtime = sk.now;
  // The handshake's ACK goes before anything the woken program writes.
  sendAck(sk);
  t.onEstablished(sk);
  writeXmit(sk);
}

/** What ackSegments found, in one record it refills: the ACK path allocates nothing for it. */
const acked = { bytes: 0, segs: 0, rtt: null as number | null };

/** Remove what `ack` covers from the write queue; `acked` gets the bytes and segments newly acked. */
function ackSegments(sk: TcpSock, ack: number): typeof acked {
  let bytes = 0;
  let segs = 0;
  let rtt: number | null = null;
  // The acknowledged head comes off in one splice after the walk: a shift per segment moved
  // the whole queue each time (nothing called from the loop looks at the queue).
  const queue = sk.writeQueue;
  while (segs < queue.length) {
    const seg = queue[segs]!;
    if (seqGt(seg.end, ack)) break;
    bytes += seg.len;
    segs++;
    tcpRackAdvance(sk, seg);
    if (!seg.retransmitted && !seg.sacked && seqLeq(seg.end, ackFlags.highSeq)) ackFlags.origSackAcked = true;
    // Karn's rule: only segments sent once give an RTT sample when there are no timestamps.
    if (!seg.retransmitted && seg.txCount === 1) rtt = sk.now - seg.sentAt;
    sk.table.freeSeg(sk, seg);
  }
  if (segs > 0) queue.splice(0, segs);
  sk.sndUna = ack;
  acked.bytes = bytes;
  acked.segs = segs;
  acked.rtt = rtt;
  return acked;
}

/** sysctl tcp_min_rtt_wlen: 300 s. */
const MIN_RTT_WLEN_NS = 300_000_000_000;

/** RFC 6298 §2: SRTT, RTTVAR and RTO, with Linux's 200 ms floor. */
export function sampleRtt(sk: TcpSock, rtt: number): void {
  if (rtt <= 0) rtt = 1000;
  // tcp_update_rtt_min (tcp_ack_update_rtt calls it before tcp_rtt_estimator): the minimum RTT
  // over tcp_min_rtt_wlen (300 s), which RACK's reordering window (min_rtt / 4) and its
  // retransmission-ambiguity check use. Linux keeps minmax_running_min's three samples; here
  // a minimum older than the window is replaced by the next sample.
  if (sk.minRttNs === 0 || rtt <= sk.minRttNs || sk.now - sk.minRttStampNs > MIN_RTT_WLEN_NS) {
    sk.minRttNs = rtt;
    sk.minRttStampNs = sk.now;
  }
  if (sk.srtt === 0) {
    sk.srtt = rtt;
    sk.rttvar = rtt / 2;
  } else {
    sk.rttvar = 0.75 * sk.rttvar + 0.25 * Math.abs(sk.srtt - rtt);
    sk.srtt = 0.875 * sk.srtt + 0.125 * rtt;
  }
  const s = sk.table.sysctl;
  sk.rto = Math.min(Math.max(Math.round(sk.srtt + Math.max(4 * sk.rttvar, 1_000_000)), s.rtoMinNs), s.rtoMaxNs);
  if (sk.table.rttSamplesSeen.length < 100_000) sk.table.rttSamplesSeen.push(Math.round(rtt));
}

function processAck(sk: TcpSock, th: TcpRepr, len: number): void {
  const ack = th.ack;
  const priorInFlight = sk.packetsInFlight();
  const priorSndUna = sk.sndUna;
  ackFlags.origSackAcked = false;
  ackFlags.dataSacked = false;
  ackFlags.highSeq = sk.recovery ? sk.recovery.highSeq : sk.sndNxt;
  let dsackEnd = -1;
  const window = th.window << sk.sndWscale;
  const windowChanged = window !== sk.sndWnd;
  // tcp_ack_update_window.
  if (seqLt(sk.sndWl1, th.seq) || (sk.sndWl1 === th.seq && seqLeq(sk.sndWl2, ack))) {
    // tcp_ack_probe: a window that now takes the next segment ends the probing.
    const head = sk.persistTimer ? sk.writeQueue.find((s) => !sk.isSent(s)) : undefined;
    if (head && !seqGt(head.end - (head.fin ? 1 : 0), (ack + window) >>> 0)) cancelPersist(sk);
    sk.sndWnd = window;
    sk.sndWl1 = th.seq;
    sk.sndWl2 = ack;
    sk.maxWindow = Math.max(sk.maxWindow, window);
  }
  if (th.options.sack && sk.sackOk) {
    dsackEnd = tcpCheckDsack(sk, th.options.sack, ack, priorSndUna);
    markSacked(sk, th.options.sack);
  }
  let frtoNewData = false;
  if (seqGt(ack, sk.sndUna)) {
    const r = ackSegments(sk, ack);
    // Read out at once: what follows may send, and the record is shared.
    const ackedSegs = r.segs;
    sk.info.bytesAcked += r.bytes;
    // As tcp_ack_update_rtt: the send time of a segment sent once is exact; the echoed
    // timestamp (millisecond ticks) serves when only retransmitted segments were acked.
    let rttNs = r.rtt;
    if (rttNs === null && sk.tstampOk && th.options.tsEcr) rttNs = ((tsNow(sk) - th.options.tsEcr) >>> 0) * 1_000_000;
    if (rttNs !== null) sampleRtt(sk, rttNs);
    sk.backoff = 0;
    sk.dupAcks = 0;
    if (sk.recovery && sk.recovery.kind === 'loss') {
      // RTO recovery with F-RTO: a spurious timeout is undone; step 2b sends new data.
      const verdict = tcpProcessLoss(sk, true, ackFlags.origSackAcked, ackFlags.dataSacked, false);
      frtoNewData = verdict === 'new';
    }
    if (sk.recovery) {
      if (seqGeq(ack, sk.recovery.highSeq)) {
        tcpEndRecovery(sk, sk.recovery.kind === 'fast');
        sk.recovery = null;
      } else if (!sk.sackOk) {
        // NewReno partial ACK (RFC 6582 §3.2): the next hole is lost too.
        const head = sk.writeQueue[0];
        if (head && sk.isSent(head) && !head.rtxInFlight) {
          head.lost = true;
          sk.noteMarked(head);
        }
      }
    }
    // After a timeout the window restarts from one segment in slow start (RFC 5681 §3.1);
    // in fast recovery it stays at ssthresh until the episode ends.
    tcpCongOnAck(sk, ack, ackedSegs, rttNs, priorInFlight, sk.recovery !== null && sk.recovery.kind === 'fast');
    sk.table.sndbufExpand(sk);
    onAckedFinState(sk);
    if (sk.state === 'CLOSED') return;
    if (sk.writeQueue.some((s) => sk.isSent(s))) tcpSetXmitTimer(sk);
    else {
      sk.stack.sim.cancel(sk.rtxTimer);
      sk.rtxTimer = null;
    }
  } else if (ack === sk.sndUna && len === 0 && !windowChanged && !(th.flags & (TCP_SYN | TCP_FIN)) && sk.sndUna !== sk.sndNxt) {
    sk.dupAcks++;
    if (sk.recovery && sk.recovery.kind === 'loss') tcpProcessLoss(sk, false, ackFlags.origSackAcked, ackFlags.dataSacked, true);
  }
  if (sk.tlpActive) tcpProcessTlpAck(sk, ack, seqGt(ack, priorSndUna), dsackEnd === sk.tlpHighSeq, len === 0 && ack === priorSndUna && !windowChanged);
  // A D-SACK may show every retransmission of the episode spurious (tcp_try_undo_dsack).
  if (dsackEnd !== -1 && sk.caState !== TcpCaState.Loss) tcpTryUndoDsack(sk);
  detectLoss(sk);
  if (sk.recovery && !frtoNewData) retransmitLost(sk);
  writeXmit(sk);
  if (sk.writeQueue.every((s) => sk.isSent(s)) && sk.state === 'ESTABLISHED') sk.setLimited(null);
  // Wake a writer once a third of the send buffer is free (sk_stream_write_space).
  if (sk.onWritable && sk.sndbuf - sk.wmemQueued >= sk.sndbuf / 3) sk.onWritable();
}

function markSacked(sk: TcpSock, blocks: { start: number; end: number }[]): void {
  for (const b of blocks) {
    if (seqLeq(b.end, sk.sndUna) || seqGt(b.end, sk.sndNxt)) continue;
    for (const seg of sk.writeQueue) {
      if (!sk.isSent(seg)) break;
      if (seqGeq(seg.seq, b.start) && seqLeq(seg.end, b.end) && !seg.sacked) {
        seg.sacked = true;
        seg.lost = false;
        sk.noteMarked(seg);
        seg.rtxInFlight = false;
        ackFlags.dataSacked = true;
        if (!seg.retransmitted && seqLeq(seg.end, ackFlags.highSeq)) ackFlags.origSackAcked = true;
        tcpRackAdvance(sk, seg);
      }
    }
  }
}

/**
 * Loss detection (tcp_identify_packet_loss). With SACK, RACK (tcp-rack.ts). Without, three
 * duplicate ACKs mark the head lost (RFC 5681 §3.2). Newly lost segments start recovery.
 */
function detectLoss(sk: TcpSock): void {
  const t = sk.table;
  let newlyLost = 0;
  if (sk.sackOk) newlyLost = tcpRackMarkLost(sk, tcpRackReoTimeout);
  else if (sk.dupAcks >= 3 && !sk.recovery) {
    const head = sk.writeQueue[0];
    if (head && sk.isSent(head) && !head.lost) {
      head.lost = true;
      sk.noteMarked(head);
      newlyLost++;
    }
  }
  if (newlyLost > 0 && !sk.recovery) tcpEnterRecovery(sk, newlyLost);
  else if (newlyLost > 0) t.ext['TCPFastRetrans']! += newlyLost;
}

/** Our FIN was acknowledged: the close states move on. */
function onAckedFinState(sk: TcpSock): void {
  if (!sk.finQueued || sk.sndUna !== sk.sndNxt || sk.writeQueue.length > 0) return;
  const t = sk.table;
  switch (sk.state) {
    case 'FIN_WAIT1':
      sk.state = 'FIN_WAIT2';
      if (sk.orphan) armFinWait2(sk);
      break;
    case 'CLOSING':
      enterTimeWait(sk);
      break;
    case 'LAST_ACK':
      t.destroy(sk, 0);
      break;
    default:
      break;
  }
}

/** tcp_data_queue: in-order data goes to the receive queue, later data to the out-of-order queue. */
function dataQueue(sk: TcpSock, skb: SkBuff, seq: number, len: number, fin: boolean, th: TcpRepr): void {
  const t = sk.table;
  const end = (seq + len) >>> 0;
  if (seqLeq(end, sk.rcvNxt)) {
    // A full duplicate: ACK at once with a D-SACK of it and enter quick-ACK mode.
    sk.table.ext['DelayedACKLost']!++;
    tcpDsackSet(sk, seq, end, false);
    enterQuickack(sk);
    t.drop(skb, 'TCP_OLD_DATA');
    if (fin && end === sk.rcvNxt) finReceived(sk);
    return;
  }
  // New data: a D-SACK not yet sent is dropped (tcp_data_queue clears rx_opt.dsack).
  sk.dsackPending = false;
  if (seqLt(seq, sk.rcvNxt)) {
    // Partly old: D-SACK the duplicate part.
    tcpDsackSet(sk, seq, sk.rcvNxt, false);
    skb.pull((sk.rcvNxt - seq) | 0);
    seq = sk.rcvNxt;
  }
  if (seq === sk.rcvNxt) {
    if (Math.max(sk.rcvWnd - ((sk.rcvNxt - sk.rcvWup) | 0), 0) === 0) {
      t.ext['TCPZeroWindowDrop']!++;
      enterQuickack(sk);
      skb.free();
      return;
    }
    if (!t.rmemSchedule(sk, skb)) {
      t.ext['TCPRcvQDrop']!++;
      sk.ackPending = true;
      sk.quickAcks = Math.max(sk.quickAcks, 1);
      skb.free();
      return;
    }
    t.chargeRcv(sk, skb);
    sk.receiveQueue.push(skb);
    sk.rcvNxt = end;
    sk.info.bytesReceived += end - seq;
    // tcp_event_data_recv: when in-order data last came (icsk_ack.lrcvtime), for pingpong.
    sk.lrcvtime = sk.now;
    measureRcvMss(sk, len, th);
    growWindow(sk, skb);
    sk.segsSinceAck++;
    sk.ackPending = true;
    if (fin) finReceived(sk);
    if (sk.ofo.length > 0) {
      drainOfo(sk);
      // RFC 5681 §4.2: ACK at once when a gap in the sequence space is filled.
      if (sk.ofo.length === 0) sk.ackNow = true;
    }
    sk.onReadable?.();
    return;
  }
  // Out of order: hold it, and ACK at once with SACK so the sender sees the hole.
  enterQuickack(sk);
  if (!t.rmemSchedule(sk, skb)) {
    t.ext['TCPOFODrop']!++;
    skb.free();
    return;
  }
  t.ext['TCPOFOQueue']!++;
  const item = { seq, end: (seq + skb.len) >>> 0, skb, fin };
  let i = sk.ofo.length;
  while (i > 0 && seqGt(sk.ofo[i - 1]!.seq, seq)) i--;
  if (sk.ofo.some((o) => o.seq === seq && o.end === item.end)) {
    tcpDsackSet(sk, seq, item.end, true);
    skb.free();
    return;
  }
  t.chargeRcv(sk, skb);
  sk.ofo.splice(i, 0, item);
  sk.lastOfoSeq = seq;
}

/** Move out-of-order segments that are now in order into the receive queue. */
function drainOfo(sk: TcpSock): void {
  while (sk.ofo.length > 0) {
    const o = sk.ofo[0]!;
    if (seqGt(o.seq, sk.rcvNxt)) break;
    sk.ofo.shift();
    if (seqLeq(o.end, sk.rcvNxt)) {
      o.skb.free();
      if (o.fin && o.end === sk.rcvNxt) finReceived(sk);
      continue;
    }
    o.skb.pull((sk.rcvNxt - o.seq) | 0);
    sk.receiveQueue.push(o.skb);
    sk.info.bytesReceived += (o.end - sk.rcvNxt) | 0;
    sk.rcvNxt = o.end;
    if (o.fin) finReceived(sk);
  }
}

/** tcp_enter_quickack_mode: ACK the next segments at once (TCP_MAX_QUICKACKS, bounded by the window); leaves pingpong. */
function enterQuickack(sk: TcpSock): void {
  sk.ackPending = true;
  sk.pingpong = false;
  sk.quickAcks = Math.max(sk.quickAcks, Math.max(2, Math.min(16, Math.floor(sk.rcvWnd / (2 * sk.advMss)))));
}

/**
 * tcp_measure_rcv_mss (6.1): a segment at least rcv_mss long sets it (up to advmss). A shorter
 * one counts when it is a plausible full segment (TCP_MSS_DEFAULT or more with its header, or
 * TCP_MIN_MSS or more without FIN, URG, SYN or PSH) and the one before had the same payload;
 * otherwise it marks the ACK owed as pushed (ICSK_ACK_PUSHED, then PUSHED2).
 */
function measureRcvMss(sk: TcpSock, len: number, th: TcpRepr): void {
  const lss = sk.lastSegSize;
  sk.lastSegSize = 0;
  if (len >= sk.rcvMss) {
    sk.rcvMss = Math.min(len, sk.advMss);
    return;
  }
  // TCP_REMNANT: FIN | URG | SYN | PSH.
  const remnant = (th.flags & (TCP_FIN | TCP_URG | TCP_SYN | TCP_PSH)) !== 0;
  const withHeader = len + th.headerLength;
  if (withHeader >= TCP_MSS_DEFAULT + 20 || (withHeader >= TCP_MIN_MSS + 20 && !remnant)) {
    // tcp_header_len: the fixed header and, with timestamps, their aligned option.
    const seg = withHeader - (20 + (sk.tstampOk ? 12 : 0));
    sk.lastSegSize = seg;
    if (seg === lss) {
      sk.rcvMss = seg;
      return;
    }
  }
  if (sk.ackPushed & 1) sk.ackPushed |= 2;
  sk.ackPushed |= 1;
}

/** tcp_grow_window: open rcv_ssthresh while segments use the buffer efficiently. */
function growWindow(sk: TcpSock, skb: SkBuff): void {
  if (sk.rcvSsthresh >= sk.windowClamp || sk.table.underPressure()) return;
  if (sk.rcvSpace() <= sk.rcvSsthresh) return;
  const winFromTruesize = skb.truesize - (skb.truesize >> sk.table.sysctl.advWinScale);
  const incr = winFromTruesize <= skb.len ? 2 * sk.advMss : 0;
  if (incr) sk.rcvSsthresh = Math.min(sk.rcvSsthresh + incr, sk.windowClamp);
}

/** tcp_fin: the peer has finished sending. */
function finReceived(sk: TcpSock): void {
  if (sk.finReceived) return;
  sk.finReceived = true;
  sk.rcvNxt = (sk.rcvNxt + 1) >>> 0;
  sk.ackPending = true;
  sk.quickAcks = Math.max(sk.quickAcks, 1);
  switch (sk.state) {
    case 'ESTABLISHED':
      // The peer is done: what we send now is a reply, so the ACK waits to ride on it.
      sk.state = 'CLOSE_WAIT';
      sk.pingpong = true;
      break;
    case 'FIN_WAIT1':
      // Simultaneous close: ACK the FIN at once.
      sendAck(sk);
      sk.state = 'CLOSING';
      break;
    case 'FIN_WAIT2':
      sendAck(sk);
      enterTimeWait(sk);
      return;
    default:
      break;
  }
  sk.onReadable?.();
}

/**
 * __tcp_ack_snd_check: ACK now (more than one full segment unacknowledged, quick-ACK mode —
 * which pingpong suspends —, ICSK_ACK_NOW, or out-of-order data), or let the delayed-ACK
 * timer do it, so that in an interactive exchange the ACK rides on the reply.
 */
export function ackSndCheck(sk: TcpSock): void {
  if (!sk.ackPending || sk.state === 'CLOSED' || sk.state === 'TIME_WAIT') return;
  const moreThanOneSegment = ((sk.rcvNxt - sk.rcvWup) | 0) > sk.advMss && freeWindow(sk) >= sk.rcvWnd;
  const quick = sk.quickAcks > 0 && !sk.pingpong;
  if (moreThanOneSegment || quick || sk.ackNow || sk.ofo.length > 0) {
    if (sk.quickAcks > 0) sk.quickAcks--;
    sendAck(sk);
    return;
  }
  scheduleDelack(sk, sk.table.sysctl.delackMinNs);
}

export type { TxSeg };
