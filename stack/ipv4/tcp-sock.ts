/**
 * A TCP socket (struct tcp_sock): connection state, the send and receive sequence spaces,
 * congestion control, RTT estimation and the four timers. The segment processing lives in
 * tcp-input.ts, segment building in tcp-output.ts, the timers in tcp-timer.ts, the tables and
 * socket calls in tcp.ts.
 *
 * Memory follows Linux: the socket is an object in the TCP slab cache; queued data are skbs in
 * board RAM charged by truesize to sk_rmem_alloc / sk_wmem_queued and to the protocol-wide
 * tcp_memory_allocated that tcp_mem limits.
 */
import type { Timer, TimerHandle } from '../../emulator/event-queue.js';
import type { SkBuff, SkbLender } from '../core/skbuff.js';
import type { NetStack } from '../net-stack.js';
import { Sock } from '../core/sock.js';
import type { SockMemory } from '../core/sock.js';
import type { TcpTable } from './tcp.js';
import { TcpCaState, type TcpCongestionOps } from './tcp-cong.js';
import { tcpCaFind } from './tcp-cong-list.js';
import { tcpCubic } from './tcp-cubic.js';

export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'ESTABLISHED'
  | 'FIN_WAIT1'
  | 'FIN_WAIT2'
  | 'CLOSE_WAIT'
  | 'CLOSING'
  | 'LAST_ACK'
  | 'TIME_WAIT';

/** TCP_ESTABLISHED … TCP_NEW_SYN_RECV (include/net/tcp_states.h), as /proc/net/tcp's st column. */
export const TCP_STATE: Readonly<Record<TcpState, number>> = {
  ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, FIN_WAIT1: 4, FIN_WAIT2: 5, TIME_WAIT: 6, CLOSED: 7, CLOSE_WAIT: 8,
  LAST_ACK: 9, LISTEN: 10, CLOSING: 11,
};

/**
 * A segment in the write queue: its skb holds the payload; headers are built on each send.
 * While its skb is lent to the driver (the fclone's clone in flight) the segment is the skb's
 * lender, so handing it back costs no closure per send.
 */
export class TxSeg implements SkbLender {
  /** Address of the payload's first byte in RAM. */
  readonly payload: number;
  /** seq + len + SYN + FIN. */
  end: number;
  sentAt = 0;
  txCount = 0;
  retransmitted = false;
  sacked = false;
  lost = false;
  /** The skb is lent to the driver (the clone is in flight). */
  lent = false;
  acked = false;
  /** A retransmission of this segment is in flight (counted in the pipe until acked or SACKed). */
  rtxInFlight = false;
  /** PSH set on it (tcp_write_wakeup's partial segment), whatever follows it in the queue. */
  psh = false;

  constructor(
    readonly skb: SkBuff,
    public seq: number,
    public len: number,
    public syn: boolean,
    public fin: boolean,
  ) {
    this.payload = skb.data;
    this.end = (seq + len + (syn ? 1 : 0) + (fin ? 1 : 0)) >>> 0;
  }

  /** The driver is done with the lent skb: restore it, or free it now if it was acked meanwhile. */
  lentReturned(skb: SkBuff): void {
    this.lent = false;
    skb.data = this.payload;
    skb.len = this.len;
    // Acknowledged meanwhile: freeSeg already took it off the socket's accounts.
    if (this.acked) skb.free();
  }
}

export interface OfoSeg {
  seq: number;
  /** seq + payload length (the FIN, if any, is not counted here). */
  end: number;
  skb: SkBuff;
  fin: boolean;
}

export interface TcpInfo {
  state: TcpState;
  cwnd: number;
  ssthresh: number;
  srttNs: number;
  rttvarNs: number;
  rtoNs: number;
  mss: number;
  sndWnd: number;
  rcvWnd: number;
  retransmits: number;
  bytesAcked: number;
  bytesReceived: number;
  rmemAlloc: number;
  wmemQueued: number;
  rcvbuf: number;
  sndbuf: number;
  /** Time the sender had data but no window (the peer's receive window was the limit). */
  rwndLimitedNs: number;
  /** Time the application could not queue more because the send buffer was full. */
  sndbufLimitedNs: number;
  cwndLimitedNs: number;
  /** TCP_CONGESTION: the congestion control's name. */
  congestionControl: string;
}

/** TCP_MSS_DEFAULT and TCP_MIN_MSS (include/net/tcp.h): bounds of the receive-MSS estimate. */
export const TCP_MSS_DEFAULT = 536;
export const TCP_MIN_MSS = 88;

export class TcpSock extends Sock {
  state: TcpState = 'CLOSED';
  laddr = 0;
  lport = 0;
  raddr = 0;
  rport = 0;
  /** inet_id: the IP ID of this connection's next packet (random start at connect or accept). */
  inetId = 0;

  // Send sequence space (RFC 9293 §3.3.1).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxWindow = 0;
  writeQueue: TxSeg[] = [];
  /** Whether the write queue may hold a segment noteMarked saw, and the highest end it saw. */
  private marksQueued = false;
  private markedEnd = 0;
  /** Bytes of truesize queued for sending (sk_wmem_queued). */
  wmemQueued = 0;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  /** Window last advertised, and rcv_nxt when it was (rcv_wup). */
  rcvWnd = 0;
  rcvWup = 0;
  rcvSsthresh = 0;
  windowClamp = 0;
  ofo: OfoSeg[] = [];
  /** The peer's FIN has been taken in sequence; reads then end with end of stream. */
  finReceived = false;

  // Options agreed in the handshake.
  mss = 536;
  /** rx_opt.mss_clamp: the MSS the peer announced (before our timestamp option takes its 12). */
  mssClamp = 536;
  advMss = 1460;
  sndWscale = 0;
  rcvWscale = 0;
  wscaleOk = false;
  sackOk = false;
  tstampOk = false;
  tsRecent = 0;
  tsOffset = 0;

  // Congestion control (tcp-cong.ts: the ops and their icsk_ca_priv) and RTT (RFC 6298).
  congOps: TcpCongestionOps = tcpCubic;
  caPriv: unknown = null;
  caState: TcpCaState = TcpCaState.Open;
  cwnd = 10;
  ssthresh = 0x7fffffff;
  cwndCnt = 0;
  /** The window and threshold before the current reduction, for undo (prior_cwnd, prior_ssthresh). */
  priorCwnd = 0;
  priorSsthresh = 0;
  /** lsndtime: when data was last sent. */
  lastSendNs = 0;
  /** Smallest RTT sampled (tcp_min_rtt), ns; 0 before the first. */
  minRttNs = 0;
  /** When minRttNs was sampled: it expires after tcp_min_rtt_wlen (300 s). */
  minRttStampNs = 0;
  // Loss recovery state (tcp-rack.ts, tcp-tlp.ts, tcp-dsack.ts).
  /** What the shared retransmit timer is armed for (icsk_pending): RTO, loss probe or RACK reordering timeout. */
  xmitTimerKind: 'rto' | 'tlp' | 'reo' = 'rto';
  readonly rack = { mstampNs: 0, endSeq: 0, rttNs: 0, advanced: false, reoWndSteps: 1, reordSeen: false };
  /** A tail loss probe is outstanding until snd_una passes tlpHighSeq (tlp_high_seq ≠ 0). */
  tlpActive = false;
  tlpHighSeq = 0;
  /** The probe was a retransmission (tlp_retrans). */
  tlpRetrans = false;
  /** undo_marker (set: an undoable reduction is in progress) and undo_retrans. */
  undoMarkerSet = false;
  undoMarker = 0;
  undoRetrans = -1;
  /** Duplicate segments reported by D-SACKs (dsack_dups). */
  dsackDups = 0;
  /** F-RTO (RFC 5682) is judging the current timeout. */
  frto = false;
  /** A D-SACK block to put first in the next ACK (rx_opt.dsack, duplicate_sack[0]). */
  dsackPending = false;
  dsackStart = 0;
  dsackEnd = 0;
  dupAcks = 0;
  /**
   * Recovering until snd_una passes highSeq: 'fast' after SACK/dupack loss detection (the
   * window stays at ssthresh), 'loss' after a retransmission timeout (slow start from one).
   */
  recovery: { highSeq: number; kind: 'fast' | 'loss' } | null = null;
  srtt = 0;
  rttvar = 0;
  rto = 0;
  backoff = 0;
  retransmits = 0;

  // Timers.
  /** The retransmission and delayed-ACK timers while pending (null otherwise), and the records they re-arm. */
  rtxTimer: TimerHandle | null = null;
  delackTimer: TimerHandle | null = null;
  rtxTimerRec: Timer | null = null;
  delackTimerRec: Timer | null = null;
  /**
   * The record the retransmit timer re-arms for a loss probe or a RACK reordering timeout
   * (resetXmitTimer), and what it runs when it fires.
   */
  xmitProbeTimerRec: Timer | null = null;
  /** sock_rfree for this socket's received skbs (TcpTable.chargeRcv), made on first use. */
  rfree: ((skb: SkBuff) => void) | null = null;
  xmitProbeFire: ((sk: TcpSock) => void) | null = null;
  persistTimer: TimerHandle | null = null;
  keepaliveTimer: TimerHandle | null = null;
  closeTimer: TimerHandle | null = null;
  /** A write waiting for memory to be retried (sk_stream_wait_memory). */
  memWaitTimer: TimerHandle | null = null;
  /** Retry of a FIN whose segment could not be allocated. */
  finTimer: TimerHandle | null = null;
  /** sk_err_soft: an ICMP error that only matters if the connection times out. */
  errSoft = 0;
  /** Segments to ACK at once before delayed ACK takes over (icsk_ack.quick). */
  quickAcks = 0;
  ackPending = false;
  /**
   * icsk_ack.rcv_mss: the peer's segment size as this end sees it (tcp_measure_rcv_mss), which
   * sets when a read owes the peer an ACK (tcp_cleanup_rbuf). TCP_MSS_DEFAULT until established.
   */
  rcvMss = TCP_MSS_DEFAULT;
  /** icsk_ack.last_seg_size: the last short segment's payload, free of SACK jitter. */
  lastSegSize = 0;
  /** icsk_ack.pending's ICSK_ACK_PUSHED (1) and ICSK_ACK_PUSHED2 (2): short segments came; cleared when an ACK leaves. */
  ackPushed = 0;
  /** ICSK_ACK_NOW: this ACK may not wait (a gap in the sequence space was just filled). */
  ackNow = false;
  /** icsk_ack.pingpong: an interactive exchange; ACKs wait to ride on the reply. */
  pingpong = false;
  /** icsk_ack.lrcvtime: when in-order data last arrived (the handshake, before any). */
  lrcvtime = 0;
  lastAckedRcvNxt = 0;
  /** Received segments since the last ACK we sent. */
  segsSinceAck = 0;
  /** last_oow_ack_time: the last rate-limited answer (duplicate or challenge ACK); null: none yet. */
  lastOowAck: number | null = null;
  lastRecvTime = 0;
  keepaliveProbesSent = 0;
  probesOut = 0;

  // Socket options and program-side state.
  nodelay = false;
  keepalive = false;
  /**
   * SO_LINGER: null when off (SOCK_LINGER clear), else sk_lingertime in seconds. Only a zero
   * linger changes what close() does here (an abort); a positive one bounds how long a
   * blocking close waits, and board programs close without blocking.
   */
  linger: number | null = null;
  /** SO_REUSEADDR (sk_reuse). */
  reuseAddr = false;
  /** SO_SNDBUF was set: the kernel no longer grows the send buffer. */
  userSndbuf = false;
  shutdownWr = false;
  finQueued = false;
  /** close() was called: nobody will read any more (an orphan once in FIN_WAIT/LAST_ACK). */
  orphan = false;
  backlog = 0;
  acceptQueue: TcpSock[] = [];
  /** Request socks in the SYN queue (count; the objects live in TcpTable.requests). */
  synQueueLen = 0;
  /**
   * tcp_synq_overflow's stamp (rx_opt.ts_recent_stamp on a listener): when a SYN last found the
   * SYN queue full and was answered with a cookie; null before the first overflow.
   */
  synqOverflowAt: number | null = null;
  parent: TcpSock | null = null;
  onWritable: (() => void) | null = null;
  /** TCP Fast Open: data to carry in the SYN (client) or the cookie the server issued. */
  /** TCP_FASTOPEN_CONNECT: the SYN waits for the first write and carries it. */
  fastOpenEnabled = false;
  fastOpenCookieToSend: Uint8Array | null = null;
  /** The SYN is held until the first send() (Fast Open with a cached cookie). */
  deferSyn = false;
  /** Listener: TCP_FASTOPEN's qlen (0: off), and Fast Open children not yet accepted. */
  fastOpenQlen = 0;
  fastOpenPending = 0;
  /** A child created from a Fast Open SYN: it may send before the handshake completes. */
  passiveFastOpen = false;
  /** Sequence number of the most recent out-of-order arrival (its SACK block goes first). */
  lastOfoSeq = 0;

  // Figures for the report.
  readonly info = { bytesAcked: 0, bytesReceived: 0, rwndLimitedNs: 0, sndbufLimitedNs: 0, cwndLimitedNs: 0 };
  limitedSince: { kind: 'rwnd' | 'sndbuf' | 'cwnd'; at: number } | null = null;

  constructor(
    stack: NetStack,
    readonly table: TcpTable,
    readonly mem: SockMemory,
  ) {
    super(stack, mem.skAddr, mem.socketAddr, mem.fileAddr);
    const s = table.sysctl;
    this.rcvbuf = s.tcpRmem[1];
    this.sndbuf = s.tcpWmem[1];
    this.rto = s.rtoInitNs;
    // tcp_assign_congestion_control: the sysctl's default (validated at boot).
    this.congOps = tcpCaFind(s.congestionControl) ?? tcpCubic;
    // icsk_ca_priv starts zeroed; the ops set it up again at establishment.
    this.congOps.init(this);
  }

  /** sk_gso_max_size: 64 KiB when the profile has GSO (IP_OFFLOAD), else 0. */
  get gsoMaxSize(): number {
    return this.stack.has('IP_OFFLOAD') ? 65536 : 0;
  }

  get now(): number {
    return this.stack.sim.now;
  }

  /**
   * tcp_packets_in_flight: packets_out - (sacked_out + lost_out) + retrans_out. Linux only
   * retransmits a segment it has marked lost (or a TLP probe, which __tcp_retransmit_skb leaves
   * out of retrans_out), so a resent segment counts once, as the copy in the network. Here a
   * resent segment has `lost` cleared and `rtxInFlight` set: it is counted by not being lost.
   *
   * Linux keeps the counts as it goes; here they are read from the queue. Only the marked
   * segments are looked at one by one: every sent segment of the clean tail counts.
   */
  packetsInFlight(): number {
    const q = this.writeQueue;
    const clean = this.cleanTailStart();
    let n = 0;
    let i = 0;
    for (; i < clean; i++) {
      const seg = q[i]!;
      if (!this.isSent(seg)) break;
      if (!seg.sacked && !seg.lost) n++;
    }
    if (i === clean) {
      const unsent = this.firstUnsentIndex();
      if (unsent > clean) n += unsent - clean;
    }
    // Without SACK each duplicate ACK stands for a segment that left the network (tcp_add_reno_sack).
    return this.sackOk ? n : Math.max(0, n - this.dupAcks);
  }

  /**
   * A write-queue segment has been SACKed, marked lost or sent again. Every segment past the
   * highest such end is clean: never SACKed, lost or resent, so sent (if at all) once and in
   * sequence order, which makes sequence order its send-time order too (Linux's
   * tsorted_sent_queue). What walks the queue per ACK looks one by one only at the segments
   * before that point: in a transfer without loss, none.
   */
  noteMarked(seg: TxSeg): void {
    if (!this.marksQueued || ((seg.end - this.markedEnd) | 0) > 0) this.markedEnd = seg.end;
    this.marksQueued = true;
  }

  /** Index of the first segment of the write queue's clean tail (see noteMarked). */
  cleanTailStart(): number {
    if (!this.marksQueued) return 0;
    const q = this.writeQueue;
    let i = 0;
    // While a marked segment is queued, markedEnd lies within the queue's sequence span, so
    // the comparison cannot wrap; once the acknowledged head has taken them all, nothing is.
    while (i < q.length && ((q[i]!.end - this.markedEnd) | 0) <= 0) i++;
    if (i === 0) this.marksQueued = false;
    return i;
  }

  isSent(seg: TxSeg): boolean {
    return ((seg.seq - this.sndNxt) | 0) < 0;
  }

  /**
   * tcp_packets_out's count without walking the queue: the queue is in sequence order and a
   * segment is sent when it starts before snd_nxt, so the sent ones are a prefix and a binary
   * search finds where it ends (the first segment not yet sent, or the queue's length).
   */
  firstUnsentIndex(): number {
    const q = this.writeQueue;
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.isSent(q[mid]!)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Free receive space as tcp_space() computes it (adv_win_scale 1: half the buffer). */
  rcvSpace(): number {
    const space = this.rcvbuf - this.rmemAlloc;
    return space - (space >> this.table.sysctl.advWinScale);
  }

  fullSpace(): number {
    return this.rcvbuf - (this.rcvbuf >> this.table.sysctl.advWinScale);
  }

  tcpInfo(): TcpInfo {
    return {
      state: this.state,
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      srttNs: this.srtt,
      rttvarNs: this.rttvar,
      rtoNs: this.rto,
      mss: this.mss,
      sndWnd: this.sndWnd,
      rcvWnd: this.rcvWnd,
      retransmits: this.retransmits,
      bytesAcked: this.info.bytesAcked,
      bytesReceived: this.info.bytesReceived,
      rmemAlloc: this.rmemAlloc,
      wmemQueued: this.wmemQueued,
      rcvbuf: this.rcvbuf,
      sndbuf: this.sndbuf,
      rwndLimitedNs: this.info.rwndLimitedNs,
      sndbufLimitedNs: this.info.sndbufLimitedNs,
      cwndLimitedNs: this.info.cwndLimitedNs,
      congestionControl: this.congOps.name,
    };
  }

  /** Record which limit the sender is under (tcp_chrono_start/stop), for the report's bound. */
  setLimited(kind: 'rwnd' | 'sndbuf' | 'cwnd' | null): void {
    const cur = this.limitedSince;
    if (cur && cur.kind === kind) return;
    if (cur) {
      const d = this.now - cur.at;
      if (cur.kind === 'rwnd') this.info.rwndLimitedNs += d;
      else if (cur.kind === 'sndbuf') this.info.sndbufLimitedNs += d;
      else this.info.cwndLimitedNs += d;
    }
    this.limitedSince = kind ? { kind, at: this.now } : null;
  }

  release(): void {
    this.table.close(this);
  }
}

export function seq32(n: number): number {
  return n >>> 0;
}
