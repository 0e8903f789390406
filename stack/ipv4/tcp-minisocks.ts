/**
 * The small sockets TCP keeps instead of full ones (net/ipv4/tcp_minisocks.c, syncookies.c):
 * request socks for half-open connections in a listener's SYN queue, SYN cookies that replace
 * them when the queue is full, and timewait socks that hold a closed connection's 4-tuple for
 * TIME_WAIT. Each is an object in board RAM (request_sock_TCP, tw_sock_TCP). Also the full
 * socket's side of both: the child a completed handshake makes (tcp_create_openreq_child) and
 * the swap of a closing socket for a timewait sock (tcp_time_wait).
 */
import type { TimerHandle } from '../../emulator/event-queue.js';
import { fnv1a } from '../../emulator/prng.js';
import { ehashRemove, tupleKey } from './inet-hashtables.js';
import type { TcpRepr } from '../wire/tcp-header.js';
import { initConnection } from './tcp-output.js';
import type { TcpTable } from './tcp.js';
import type { TcpSock } from './tcp-sock.js';

export interface RequestSock {
  key: string;
  addr: number;
  listener: TcpSock;
  laddr: number;
  lport: number;
  raddr: number;
  rport: number;
  iss: number;
  irs: number;
  mss: number;
  wscaleOk: boolean;
  sndWscale: number;
  rcvWscale: number;
  sackOk: boolean;
  tstampOk: boolean;
  tsRecent: number;
  tsOffset: number;
  window: number;
  retries: number;
  timer: TimerHandle | null;
  /** Data that arrived in the SYN (TCP Fast Open), delivered with the child. */
  synData: Uint8Array | null;
  /** A Fast Open cookie to give the client in the SYN-ACK. */
  sendCookie?: Uint8Array;
  /** When the (first) SYN-ACK left: the passive side's first RTT sample (snt_synack). */
  synAckSentAt?: number;
}

export interface TimewaitSock {
  key: string;
  addr: number;
  laddr: number;
  lport: number;
  raddr: number;
  rport: number;
  sndNxt: number;
  rcvNxt: number;
  rcvWnd: number;
  tsRecent: number;
  tsOffset: number;
  tstampOk: boolean;
  timer: TimerHandle | null;
  /** tw_last_oow_ack_time: when the last rate-limited answer went out (null: never). */
  lastOowAck: number | null;
}

/**
 * What tcp_timewait_state_process tells its caller (enum tcp_tw_status): do nothing, send the
 * final ACK again, answer with RST, kill the timewait sock and let a listener take the SYN —
 * or, for a RST (RFC 1337 off), kill it. 'skipped' is 'success' for an answer the rate limit
 * held back (TCPACKSkippedTimeWait).
 */
export type TimewaitVerdict = 'success' | 'ack' | 'rst' | 'syn' | 'kill' | 'skipped';

/** The parts of an arriving segment TIME_WAIT looks at. */
export interface TimewaitSegment {
  seq: number;
  /** seq + payload + SYN + FIN (TCP_SKB_CB(skb)->end_seq). */
  endSeq: number;
  syn: boolean;
  ack: boolean;
  rst: boolean;
  tsVal: number | undefined;
}

/** The rules TIME_WAIT runs, replaceable (a seam for tests of the checks that watch the wire). */
export type TimewaitProcess = (tw: TimewaitSock, seg: TimewaitSegment, now: number, rearm: () => void) => TimewaitVerdict;

/** tcp_invalid_ratelimit: at most one answer to an out-of-window segment per 500 ms per socket. */
export const TCP_INVALID_RATELIMIT_NS = 500_000_000;

/**
 * __tcp_oow_rate_limited: true when an answer went out less than tcp_invalid_ratelimit ago;
 * otherwise records now as the time of this one.
 */
export function oowRateLimited(last: number | null, now: number): { limited: boolean; last: number | null } {
  if (last !== null && now - last >= 0 && now - last < TCP_INVALID_RATELIMIT_NS) return { limited: true, last };
  return { limited: false, last: now };
}

/**
 * tcp_timewait_state_process, TIME_WAIT substate (net/ipv4/tcp_minisocks.c, 6.1): an in-window
 * bare ACK is silent and restarts the 60 s timer; a RST in window kills the sock (tcp_rfc1337
 * 0); a new SYN may open a new connection; anything else out of window — a retransmitted FIN,
 * old data, a stale ACK, a SYN — gets the final ACK again, rate-limited by
 * tcp_timewait_check_oow_rate_limit unless it carries data or a FIN (tcp_oow_rate_limited).
 * `rearm` is inet_twsk_reschedule(tw, TCP_TIMEWAIT_LEN).
 */
export function tcpTimewaitStateProcess(tw: TimewaitSock, seg: TimewaitSegment, now: number, rearm: () => void): TimewaitVerdict {
  // tcp_paws_reject: an older timestamp than the last one seen (a RST is judged by it too, but
  // only a RST whose timestamp is more than TCP_PAWS_MSL old is rejected; not modelled).
  const pawsReject = tw.tstampOk && seg.tsVal !== undefined && !seg.rst && ((tw.tsRecent - seg.tsVal) | 0) > 0;
  if (!pawsReject && seg.seq === tw.rcvNxt && (seg.seq === seg.endSeq || seg.rst)) {
    // In window: only a RST or a bare ACK.
    if (seg.rst) return 'kill';
    rearm();
    if (seg.tsVal !== undefined && tw.tstampOk) tw.tsRecent = seg.tsVal;
    return 'success';
  }
  if (seg.syn && !seg.rst && !seg.ack && !pawsReject && (((seg.seq - tw.rcvNxt) | 0) > 0 || (tw.tstampOk && seg.tsVal !== undefined && ((tw.tsRecent - seg.tsVal) | 0) < 0))) return 'syn';
  if (seg.rst) return 'success';
  if (pawsReject || seg.ack) rearm();
  // tcp_oow_rate_limited: data (or a FIN) without SYN is not part of an ACK loop: always answered.
  if (seg.endSeq !== seg.seq && !seg.syn) return 'ack';
  const r = oowRateLimited(tw.lastOowAck, now);
  tw.lastOowAck = r.last;
  return r.limited ? 'skipped' : 'ack';
}

/** MSS values a SYN cookie can encode (net/ipv4/syncookies.c msstab). */
export const COOKIE_MSS = [536, 1300, 1440, 1460] as const;
/** Cookies are valid for this many periods of their counter (MAX_SYNCOOKIE_AGE). */
const MAX_SYNCOOKIE_AGE = 2;
/** TCP_SYNCOOKIE_PERIOD: the counter's unit, 60 * HZ in include/net/tcp.h. */
const SYNCOOKIE_PERIOD_NS = 60e9;
/** TCP_SYNCOOKIE_VALID: a cookie ACK is checked only this long after the last SYN queue overflow. */
export const SYNCOOKIE_VALID_NS = MAX_SYNCOOKIE_AGE * SYNCOOKIE_PERIOD_NS;
const COOKIE_BITS = 24;

function keyedHash(secret: number, parts: number[]): number {
  let h = secret >>> 0;
  for (const p of parts) h = fnv1a(`${h}:${p}`);
  return h >>> 0;
}

/** tcp_cookie_time: the cookie counter, whole TCP_SYNCOOKIE_PERIODs (60 s) of virtual time. */
export function cookieCount(nowNs: number): number {
  return Math.floor(nowNs / SYNCOOKIE_PERIOD_NS);
}

/**
 * tcp_synq_no_recent_overflow: no SYN queue overflow in the last TCP_SYNCOOKIE_VALID (the lower
 * bound is the stamp less HZ, as Linux allows for a racing tcp_synq_overflow).
 */
export function synqNoRecentOverflow(overflowAt: number | null, nowNs: number): boolean {
  if (overflowAt === null) return true;
  return !(nowNs >= overflowAt - 1e9 && nowNs <= overflowAt + SYNCOOKIE_VALID_NS);
}

/** tcp_synq_overflow: the stamp moves at most once a second. */
export function synqOverflowStamp(overflowAt: number | null, nowNs: number): number {
  return overflowAt !== null && nowNs >= overflowAt && nowNs <= overflowAt + 1e9 ? overflowAt : nowNs;
}

/**
 * __cookie_v4_init_sequence: an ISN that encodes the MSS index and a time counter under a
 * keyed hash of the 4-tuple, so the ACK that completes the handshake proves the SYN was ours.
 */
export function cookieInitSequence(secret: number, saddr: number, daddr: number, sport: number, dport: number, sseq: number, count: number, mssIndex: number): number {
  const h1 = keyedHash(secret, [saddr, daddr, sport, dport, 0]);
  const h2 = keyedHash(secret ^ 0x5a5a5a5a, [saddr, daddr, sport, dport, count]);
  return (h1 + sseq + (count << COOKIE_BITS) + ((h2 + mssIndex) & 0xffffff)) >>> 0;
}

/** __cookie_v4_check: the MSS index the cookie encodes, or -1 when it is forged or stale. */
export function cookieCheck(secret: number, saddr: number, daddr: number, sport: number, dport: number, sseq: number, cookie: number, count: number): number {
  const h1 = keyedHash(secret, [saddr, daddr, sport, dport, 0]);
  const c = (cookie - h1 - sseq) >>> 0;
  const diff = (count - (c >>> COOKIE_BITS)) & 0xff;
  if (diff >= MAX_SYNCOOKIE_AGE) return -1;
  const h2 = keyedHash(secret ^ 0x5a5a5a5a, [saddr, daddr, sport, dport, (count - diff) >>> 0]);
  const mssIndex = ((c - h2) & 0xffffff) >>> 0;
  return mssIndex < COOKIE_MSS.length ? mssIndex : -1;
}

/**
 * cookie_init_timestamp: with timestamps, the options a cookie cannot carry (window scale,
 * SACK) ride in the low bits of our TSval and come back in the peer's TSecr.
 */
export function cookieTimestamp(nowMs: number, wscale: number | null, sackOk: boolean): number {
  const opts = (wscale === null ? 0xf : wscale & 0xf) | (sackOk ? 0x10 : 0);
  return ((nowMs & ~0x3f) | opts) >>> 0;
}

export function decodeCookieTimestamp(tsEcr: number): { wscale: number | null; sackOk: boolean } {
  const w = tsEcr & 0xf;
  return { wscale: w === 0xf ? null : w, sackOk: (tsEcr & 0x10) !== 0 };
}

// ---- the full socket's side: a child from a request, a timewait sock from a closed socket ----

/**
 * tcp_openreq_init_rwin: the window a SYN-ACK offers, and the child's first rcv_wnd and
 * rcv_ssthresh (tcp_create_openreq_child takes req->rsk_rcv_wnd). The listener's space is
 * rounded down to the MSS less the timestamp option (TCPOLEN_TSTAMP_ALIGNED, 12) when the peer
 * offered timestamps: 45 × 1448 = 65160.
 */
export function openreqRcvWnd(t: TcpTable, req: RequestSock, advMss: number): number {
  const listener = req.listener;
  const full = listener.rcvbuf - (listener.rcvbuf >> t.sysctl.advWinScale);
  const quantum = advMss - (req.tstampOk ? 12 : 0);
  return Math.min(full > quantum ? full - (full % quantum) : full, 65535);
}

/** tcp_create_openreq_child: the connection's state as the handshake agreed it. */
export function setupChild(t: TcpTable, child: TcpSock, listener: TcpSock, req: RequestSock, th: TcpRepr): void {
  child.laddr = req.laddr;
  child.lport = req.lport;
  child.raddr = req.raddr;
  child.rport = req.rport;
  child.rcvbuf = listener.rcvbuf;
  child.sndbuf = listener.sndbuf;
  child.userSndbuf = listener.userSndbuf;
  child.nodelay = listener.nodelay;
  child.congOps = listener.congOps;
  child.keepalive = listener.keepalive;
  initConnection(child);
  child.rcvWnd = openreqRcvWnd(t, req, child.advMss);
  child.rcvSsthresh = child.rcvWnd;
  child.rcvWscale = req.rcvWscale;
  child.tsOffset = req.tsOffset;
  child.iss = req.iss;
  child.sndUna = (req.iss + 1) >>> 0;
  child.sndNxt = child.sndUna;
  child.irs = req.irs;
  child.rcvNxt = (req.irs + 1) >>> 0;
  child.rcvWup = child.rcvNxt;
  child.lastAckedRcvNxt = child.rcvNxt;
  child.mss = req.mss;
  child.mssClamp = req.mss;
  // tcp_create_openreq_child: icsk_ack.lrcvtime starts now.
  child.lrcvtime = t.stack.sim.now;
  child.wscaleOk = req.wscaleOk;
  child.sndWscale = req.sndWscale;
  child.sackOk = req.sackOk;
  child.tstampOk = req.tstampOk;
  child.tsRecent = req.tsRecent;
  if (child.tstampOk) child.mss -= 12;
  child.sndWnd = th.window << child.sndWscale;
  child.sndWl1 = th.seq;
  child.sndWl2 = th.ack;
  child.maxWindow = child.sndWnd;
  t.metrics?.init(child);
}

/** tcp_time_wait: swap the full socket for a timewait sock for TCP_TIMEWAIT_LEN. */
export function enterTimeWait(sk: TcpSock): void {
  const t = sk.table;
  const key = tupleKey(sk.laddr, sk.lport, sk.raddr, sk.rport);
  if (t.timewait.size < t.sysctl.maxTwBuckets) {
    const addr = t.twCache.alloc();
    if (addr !== 0) {
      const tw: TimewaitSock = { key, addr, laddr: sk.laddr, lport: sk.lport, raddr: sk.raddr, rport: sk.rport, sndNxt: sk.sndNxt, rcvNxt: sk.rcvNxt, rcvWnd: sk.rcvWnd >>> sk.rcvWscale, tsRecent: sk.tsRecent, tsOffset: sk.tsOffset, tstampOk: sk.tstampOk, timer: null, lastOowAck: null };
      tw.timer = t.stack.sim.after(t.sysctl.timewaitLenNs, () => killTimewait(t, tw));
      t.timewait.set(key, tw);
      t.ext['TW']!++;
    } else t.ext['TCPTimeWaitOverflow']!++;
  } else t.ext['TCPTimeWaitOverflow']!++;
  sk.state = 'TIME_WAIT';
  ehashRemove(t, sk);
  t.destroy(sk, 0);
}

export function killTimewait(t: TcpTable, tw: TimewaitSock): void {
  t.stack.chargeTimer();
  t.stack.sim.cancel(tw.timer);
  t.timewait.delete(tw.key);
  t.twCache.free(tw.addr);
}

/** inet_twsk_reschedule(tw, TCP_TIMEWAIT_LEN). */
export function rescheduleTimewait(t: TcpTable, tw: TimewaitSock): void {
  t.stack.sim.cancel(tw.timer);
  tw.timer = t.stack.sim.after(t.sysctl.timewaitLenNs, () => killTimewait(t, tw));
}
