/**
 * TCP's IPv4 receive side (net/ipv4/tcp_ipv4.c, inet_connection_sock.c, syncookies.c):
 * tcp_v4_rcv's demultiplexing to established, timewait, request and listening sockets, the
 * listen path with its SYN queue and SYN cookies, the handshake that makes a child socket for
 * accept(), and ICMP errors (tcp_v4_err). Established sockets go on to tcp-input.ts.
 * /proc/net/tcp (tcp4_seq_show) is here too, as in Linux.
 */
import type { NetDevice } from '../core/netdevice.js';
import { allocSkb, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import { ehashAdd, lookupEstablished, tupleKey } from './inet-hashtables.js';
import type { Ipv4Repr } from '../wire/ipv4-header.js';
import { fastOpenAcceptData, fastOpenChild } from './tcp-fastopen.js';
import { emptyTcpRepr, parseTcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpOptions, type TcpRepr } from '../wire/tcp-header.js';
import { sampleRtt, tcpRcv } from './tcp-input.js';
import {
  cookieCheck,
  cookieCount,
  cookieInitSequence,
  cookieTimestamp,
  COOKIE_MSS,
  decodeCookieTimestamp,
  killTimewait,
  openreqRcvWnd,
  rescheduleTimewait,
  synqNoRecentOverflow,
  synqOverflowStamp,
  setupChild,
  type RequestSock,
  type TimewaitSock,
} from './tcp-minisocks.js';
import { routeIfindex, sendResetFor, transmit, wscaleFor } from './tcp-output.js';
import type { TcpTable } from './tcp.js';
import { TCP_STATE, type TcpSock } from './tcp-sock.js';
import { TCP_INFINITE_SSTHRESH } from './tcp-cong.js';
import type { NetStack } from '../net-stack.js';
import { beHex, clockT, hex, padLine, right } from '../core/procfs.js';

/** secure_tcp_seq: a keyed hash of the 4-tuple plus a clock ticking every 64 ns. */
export function initialSeq(t: TcpTable, laddr: number, lport: number, raddr: number, rport: number): number {
  const h = cookieInitSequence(t.secret, laddr, raddr, lport, rport, 0, 0, 0);
  return (h + Math.floor(t.stack.sim.now / 64)) >>> 0;
}

function isLocalUnicast(t: TcpTable, addr: number): boolean {
  const a = t.stack.addresses;
  for (let i = 0; i < a.length; i++) if (a[i]!.addr === addr) return true;
  return false;
}

/**
 * The header record tcp_v4_rcv parses each segment into. Nothing keeps it past the segment
 * (what a socket or request sock needs it copies out), and no segment is received while
 * another is being processed: the driver hands packets up one at a time.
 */
const rxHeader: TcpRepr = emptyTcpRepr();

/** tcp_v4_rcv. */
export function receive(t: TcpTable, skb: SkBuff, ip: Ipv4Repr, _dev: NetDevice): void {
  t.mib['InSegs']!++;
  const th = parseTcp(skb.bytes, skb.data, skb.len, ip.src, ip.dst, rxHeader);
  if (typeof th === 'string') {
    if (th === 'checksum') t.mib['InCsumErrors']!++;
    t.mib['InErrs']!++;
    t.drop(skb, th === 'checksum' ? 'TCP_CSUM' : 'PKT_TOO_SMALL');
    return;
  }
  if (ip.dst === 0xffffffff || !isLocalUnicast(t, ip.dst)) {
    // Not to a unicast address of ours (TCP never uses broadcasts).
    skb.free();
    return;
  }
  const payload = skb.len - th.headerLength;
  const sk = lookupEstablished(t, ip.dst, th.dstPort, ip.src, th.srcPort);
  if (sk) {
    tcpRcv(sk, skb, ip, th);
    return;
  }
  const key = tupleKey(ip.dst, th.dstPort, ip.src, th.srcPort);
  const tw = t.timewait.get(key);
  if (tw && timewaitRcv(t, tw, skb, ip, th, payload)) return;
  const req = t.requests.get(key);
  const listener = t.listeners.get(th.dstPort);
  if (req) {
    requestRcv(t, req, skb, ip, th, payload);
    return;
  }
  if (listener) {
    listenRcv(t, listener, skb, ip, th, payload);
    return;
  }
  sendResetFor(t.stack, ip.src, ip.dst, th, payload);
  skb.free();
}

/**
 * tcp_v4_rcv's TIME_WAIT branch. Returns false when a new SYN killed the timewait sock and the
 * segment goes on to the listener (TCP_TW_SYN); otherwise the segment is consumed here.
 */
function timewaitRcv(t: TcpTable, tw: TimewaitSock, skb: SkBuff, ip: Ipv4Repr, th: TcpRepr, payload: number): boolean {
  const syn = (th.flags & TCP_SYN) !== 0;
  const seg = { seq: th.seq, endSeq: (th.seq + payload + (syn ? 1 : 0) + (th.flags & TCP_FIN ? 1 : 0)) >>> 0, syn, ack: (th.flags & TCP_ACK) !== 0, rst: (th.flags & TCP_RST) !== 0, tsVal: th.options.tsVal };
  const verdict = t.timewaitProcess(tw, seg, t.stack.sim.now, () => rescheduleTimewait(t, tw));
  switch (verdict) {
    case 'syn':
      if (t.listeners.has(th.dstPort)) {
        killTimewait(t, tw);
        return false;
      }
      // No listener: tcp_v4_rcv's no_tcp_socket path answers with RST.
      sendResetFor(t.stack, ip.src, ip.dst, th, payload);
      break;
    case 'kill':
      killTimewait(t, tw);
      break;
    case 'ack':
      timewaitAck(t, tw);
      break;
    case 'rst':
      sendResetFor(t.stack, ip.src, ip.dst, th, payload);
      break;
    case 'skipped':
      t.ext['TCPACKSkippedTimeWait']!++;
      break;
    case 'success':
      break;
  }
  skb.free();
  return true;
}

/** tcp_v4_timewait_ack: the final ACK again, from the per-CPU control socket. */
function timewaitAck(t: TcpTable, tw: TimewaitSock): void {
  const out = allocSkb(t.stack.skbs, MAX_HEADER);
  if (!out) return;
  out.reserve(MAX_HEADER);
  const options = tw.tstampOk ? { tsVal: (Math.floor(t.stack.sim.now / 1e6) + tw.tsOffset) >>> 0, tsEcr: tw.tsRecent } : {};
  transmit(t.stack, out, { srcPort: tw.lport, dstPort: tw.rport, seq: tw.sndNxt, ack: tw.rcvNxt, flags: TCP_ACK, window: tw.rcvWnd, urgent: 0, options, headerLength: 0 }, tw.laddr, tw.raddr, null);
}

/** A segment for a listening socket: a SYN starts a request sock (or a cookie), an ACK may complete one. */
function listenRcv(t: TcpTable, listener: TcpSock, skb: SkBuff, ip: Ipv4Repr, th: TcpRepr, payload: number): void {
  if (th.flags & TCP_RST) {
    skb.free();
    return;
  }
  if (th.flags & TCP_ACK) {
    if (!(th.flags & TCP_SYN) && t.sysctl.syncookies) {
      cookieAck(t, listener, skb, ip, th, payload);
      return;
    }
    sendResetFor(t.stack, ip.src, ip.dst, th, payload);
    skb.free();
    return;
  }
  if (!(th.flags & TCP_SYN)) {
    skb.free();
    return;
  }
  // tcp_conn_request. sk_acceptq_is_full: more than the backlog already waits for accept().
  if (listener.acceptQueue.length > listener.backlog) {
    t.ext['ListenOverflows']!++;
    t.ext['ListenDrops']!++;
    skb.free();
    return;
  }
  const synQueueFull = listener.synQueueLen >= listener.backlog;
  if (synQueueFull) {
    if (t.sysctl.syncookies) {
      t.ext['TCPReqQFullDoCookies']!++;
      sendCookieSynAck(t, listener, ip, th);
    } else {
      t.ext['TCPReqQFullDrop']!++;
      t.ext['ListenDrops']!++;
    }
    skb.free();
    return;
  }
  const addr = t.reqCache.alloc();
  if (addr === 0) {
    t.ext['ListenDrops']!++;
    skb.free();
    return;
  }
  const o = th.options;
  const key = tupleKey(ip.dst, th.dstPort, ip.src, th.srcPort);
  // The request sock takes the listener's buffer settings to choose its window and scale.
  const rcvWscale = wscaleFor(t, listener.rcvbuf);
  const synData = payload > 0 ? skb.bytes.slice(skb.data + th.headerLength, skb.data + skb.len) : null;
  const req = newRequest(t, listener, ip, th, {
    key,
    addr,
    iss: initialSeq(t, ip.dst, th.dstPort, ip.src, th.srcPort),
    irs: th.seq,
    mss: Math.min(o.mss ?? 536, (t.stack.device(routeIfindex(t, ip.src))?.mtu ?? 1500) - 40),
    wscaleOk: o.wscale !== undefined,
    sndWscale: o.wscale ?? 0,
    rcvWscale: o.wscale !== undefined ? rcvWscale : 0,
    sackOk: o.sackPermitted === true,
    tsOffset: t.rng.nextU32(),
  });
  skb.free();
  t.requests.set(key, req);
  listener.synQueueLen++;
  if (fastOpenAcceptData(t, listener, req, th, payload) && synData && fastOpenChild(t, listener, req, th, synData)) {
    dropRequest(t, key, req);
    return;
  }
  sendSynAck(t, req);
}

/** A request sock's common fields, from the listener and the segment's addresses; callers set the rest. */
function newRequest(t: TcpTable, listener: TcpSock, ip: Ipv4Repr, th: TcpRepr, fields: Pick<RequestSock, 'iss' | 'irs' | 'mss' | 'wscaleOk' | 'sndWscale' | 'rcvWscale' | 'sackOk'> & Partial<RequestSock>): RequestSock {
  return {
    key: '',
    addr: 0,
    listener,
    laddr: ip.dst,
    lport: th.dstPort,
    raddr: ip.src,
    rport: th.srcPort,
    tstampOk: th.options.tsVal !== undefined,
    tsRecent: th.options.tsVal ?? 0,
    tsOffset: 0,
    window: th.window,
    retries: 0,
    timer: null,
    synData: null,
    ...fields,
  };
}

function sendSynAck(t: TcpTable, req: RequestSock, cookie?: { seq: number; tsVal?: number }): void {
  const skb = allocSkb(t.stack.skbs, MAX_HEADER);
  if (!skb) return;
  skb.reserve(MAX_HEADER);
  const advMss = (t.stack.device(routeIfindex(t, req.raddr))?.mtu ?? 1500) - 40;
  const window = openreqRcvWnd(t, req, advMss);
  const options: TcpOptions = { mss: advMss };
  if (req.tstampOk) {
    options.tsVal = cookie?.tsVal ?? (Math.floor(t.stack.sim.now / 1e6) + req.tsOffset) >>> 0;
    options.tsEcr = req.tsRecent;
  }
  if (req.sackOk) options.sackPermitted = true;
  if (req.wscaleOk) options.wscale = req.rcvWscale;
  if (req.sendCookie) options.fastOpenCookie = req.sendCookie;
  transmit(t.stack, skb, { srcPort: req.lport, dstPort: req.rport, seq: cookie?.seq ?? req.iss, ack: (req.irs + 1) >>> 0, flags: TCP_SYN | TCP_ACK, window, urgent: 0, options, headerLength: 0 }, req.laddr, req.raddr, null);
  if (cookie) return;
  if (req.retries === 0) req.synAckSentAt = t.stack.sim.now;
  // inet_csk_reqsk_queue_hash_add: the SYN-ACK is retransmitted 1 s, 2 s, 4 s … up to synack_retries.
  t.stack.sim.cancel(req.timer);
  req.timer = t.stack.sim.after(t.sysctl.rtoInitNs * 2 ** req.retries, () => {
    req.timer = null;
    if (req.retries >= t.sysctl.synackRetries) {
      dropRequest(t, req.key, req);
      return;
    }
    req.retries++;
    t.mib['RetransSegs']!++;
    sendSynAck(t, req);
  });
}

export function dropRequest(t: TcpTable, key: string, req: RequestSock): void {
  t.stack.sim.cancel(req.timer);
  t.requests.delete(key);
  req.listener.synQueueLen--;
  t.reqCache.free(req.addr);
}

/** The handshake's final ACK (or data) for a request sock: make the child and queue it for accept(). */
function requestRcv(t: TcpTable, req: RequestSock, skb: SkBuff, ip: Ipv4Repr, th: TcpRepr, payload: number): void {
  if (th.flags & TCP_RST) {
    t.ext['EmbryonicRsts']!++;
    dropRequest(t, req.key, req);
    skb.free();
    return;
  }
  if (th.flags & TCP_SYN && !(th.flags & TCP_ACK)) {
    // A retransmitted SYN: answer with the SYN-ACK again (inet_rtx_syn_ack).
    skb.free();
    sendSynAck(t, req);
    return;
  }
  if (!(th.flags & TCP_ACK) || th.ack !== ((req.iss + 1) >>> 0)) {
    sendResetFor(t.stack, ip.src, ip.dst, th, payload);
    skb.free();
    return;
  }
  // tcp_check_req: the request leaves the SYN queue only once its child exists. With no child
  // (accept queue full, no memory) it stays there, acked, and its SYN-ACK timer goes on, so
  // the client's next ACK or data segment tries again (listen_overflow, abort_on_overflow 0).
  if (completeHandshake(t, req.listener, req, skb, ip, th)) dropRequest(t, req.key, req);
}

/** The handshake's last ACK: a full child socket takes over the segment, or the listener drops it. */
function completeHandshake(t: TcpTable, listener: TcpSock, req: RequestSock, skb: SkBuff, ip: Ipv4Repr, th: TcpRepr): boolean {
  const child = makeChild(t, listener, req, th);
  if (!child) {
    t.ext['ListenDrops']!++;
    skb.free();
    return false;
  }
  // tcp_synack_rtt_meas: the SYN-ACK's round trip is the first RTT sample, unless it was
  // retransmitted (Karn: tcp_rtx_synack clears snt_synack's use) or came from a cookie.
  if (req.synAckSentAt !== undefined && req.retries === 0) sampleRtt(child, t.stack.sim.now - req.synAckSentAt);
  tcpRcv(child, skb, ip, th);
  return true;
}

/** tcp_create_openreq_child + inet_csk_complete_hashdance: a full socket for an accepted connection. */
function makeChild(t: TcpTable, listener: TcpSock, req: RequestSock, th: TcpRepr): TcpSock | null {
  if (listener.acceptQueue.length > listener.backlog) {
    t.ext['ListenOverflows']!++;
    return null;
  }
  const child = t.create();
  if (typeof child === 'number') return null;
  setupChild(t, child, listener, req, th);
  child.state = 'ESTABLISHED';
  t.sndbufExpand(child, true);
  t.mib['CurrEstab']!++;
  t.mib['PassiveOpens']!++;
  child.parent = listener;
  ehashAdd(t, child);
  listener.acceptQueue.push(child);
  listener.onReadable?.();
  return child;
}

function sendCookieSynAck(t: TcpTable, listener: TcpSock, ip: Ipv4Repr, th: TcpRepr): void {
  const o = th.options;
  const peerMss = o.mss ?? 536;
  let mssIndex = 0;
  for (let i = COOKIE_MSS.length - 1; i >= 0; i--) {
    if (peerMss >= COOKIE_MSS[i]!) {
      mssIndex = i;
      break;
    }
  }
  const seq = cookieInitSequence(t.secret, ip.src, ip.dst, th.srcPort, th.dstPort, th.seq, cookieCount(t.stack.sim.now), mssIndex);
  listener.synqOverflowAt = synqOverflowStamp(listener.synqOverflowAt, t.stack.sim.now);
  t.ext['SyncookiesSent']!++;
  const rcvWscale = wscaleFor(t, listener.rcvbuf);
  // Without timestamps a cookie cannot carry window scale or SACK (cookie_init_timestamp).
  const req = newRequest(t, listener, ip, th, {
    iss: seq,
    irs: th.seq,
    mss: COOKIE_MSS[mssIndex]!,
    wscaleOk: o.wscale !== undefined && o.tsVal !== undefined,
    sndWscale: o.wscale ?? 0,
    rcvWscale,
    sackOk: o.sackPermitted === true && o.tsVal !== undefined,
  });
  // cookie_init_timestamp stores the peer's own window scale (snd_wscale); ours is recomputed.
  const tsVal = o.tsVal !== undefined ? cookieTimestamp(Math.floor(t.stack.sim.now / 1e6), o.wscale !== undefined ? Math.min(o.wscale, 14) : null, o.sackPermitted === true) : undefined;
  sendSynAck(t, req, { seq, tsVal });
}

/** cookie_v4_check: an ACK for a listener with no request sock may carry a valid cookie. */
function cookieAck(t: TcpTable, listener: TcpSock, skb: SkBuff, ip: Ipv4Repr, th: TcpRepr, payload: number): void {
  // No cookie was sent in the last two minutes: the ACK is not checked at all, and the listener
  // answers it as any stray ACK, with a reset (tcp_rcv_state_process in LISTEN).
  if (synqNoRecentOverflow(listener.synqOverflowAt, t.stack.sim.now)) {
    sendResetFor(t.stack, ip.src, ip.dst, th, payload);
    skb.free();
    return;
  }
  const cookie = (th.ack - 1) >>> 0;
  const seq = (th.seq - 1) >>> 0;
  const mssIndex = cookieCheck(t.secret, ip.src, ip.dst, th.srcPort, th.dstPort, seq, cookie, cookieCount(t.stack.sim.now));
  if (mssIndex < 0) {
    t.ext['SyncookiesFailed']!++;
    sendResetFor(t.stack, ip.src, ip.dst, th, payload);
    skb.free();
    return;
  }
  t.ext['SyncookiesRecv']!++;
  const ts = th.options.tsEcr !== undefined ? decodeCookieTimestamp(th.options.tsEcr) : { wscale: null, sackOk: false };
  const req = newRequest(t, listener, ip, th, {
    iss: cookie,
    irs: seq,
    mss: COOKIE_MSS[mssIndex]!,
    // cookie_timestamp_decode gives back the peer's scale; ours comes from the buffer as at the SYN.
    wscaleOk: ts.wscale !== null,
    sndWscale: ts.wscale ?? 0,
    rcvWscale: ts.wscale !== null ? wscaleFor(t, listener.rcvbuf) : 0,
    sackOk: ts.sackOk,
  });
  completeHandshake(t, listener, req, skb, ip, th);
}

/** ICMP errors for our segments (tcp_v4_err): hard errors abort a connection still opening. */
export function icmpError(t: TcpTable, inner: Ipv4Repr, bytes: Uint8Array, off: number, errno: number): void {
  if (off + 8 > bytes.length) return;
  const sport = (bytes[off]! << 8) | bytes[off + 1]!;
  const dport = (bytes[off + 2]! << 8) | bytes[off + 3]!;
  const sk = t.ehash.get(tupleKey(inner.src, sport, inner.dst, dport));
  if (!sk) return;
  if (sk.state === 'SYN_SENT') {
    t.mib['AttemptFails']!++;
    t.destroy(sk, errno);
  } else sk.errSoft = errno; // sk_err_soft: reported only if the connection later times out
}

/** TCP_ATO_MIN (HZ/25): the delayed-ACK timeout an established socket starts with. */
const TCP_ATO_MIN_NS = 40_000_000;

/**
 * tcp4_seq_show: listening sockets, then connections, half-open requests and TIME_WAIT socks,
 * each row padded to 149 characters. Linux walks its hash buckets; the model has no bucket
 * order, so listeners go by port and the rest in the order they were made. The socket's
 * inode number is the RAM address of its socket_alloc (unique while it lives); the kernel
 * pointer column (%pK) is the struct sock's RAM address.
 */
export function tcp4SeqShow(stack: NetStack): string {
  let out = padLine('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode', 149);
  const t = stack.tcp;
  if (!t) return out;
  const now = stack.sim.now;
  let sl = 0;
  const row = (s: string): void => {
    out += padLine(`${right(sl++, 4)}: ${s}`, 149);
  };
  const addrs = (laddr: number, lport: number, raddr: number, rport: number): string => `${beHex(laddr)}:${hex(lport, 4)} ${beHex(raddr)}:${hex(rport, 4)}`;
  const sockRow = (sk: TcpSock): void => {
    const listen = sk.state === 'LISTEN';
    const last = sk.writeQueue[sk.writeQueue.length - 1];
    const txQueue = listen || !last ? 0 : (last.end - sk.sndUna) >>> 0;
    const rxQueue = listen ? sk.acceptQueue.length : sk.receiveQueue.reduce((n, skb) => n + skb.len, 0);
    let tr = 0;
    let when = 0;
    const pending = (h: { at: number; cancelled: boolean } | null): boolean => h !== null && !h.cancelled;
    if (pending(sk.rtxTimer)) [tr, when] = [1, sk.rtxTimer!.at - now];
    else if (pending(sk.persistTimer)) [tr, when] = [4, sk.persistTimer!.at - now];
    else if (pending(sk.keepaliveTimer)) [tr, when] = [2, sk.keepaliveTimer!.at - now];
    const ssthresh = listen ? sk.fastOpenQlen : sk.ssthresh >= TCP_INFINITE_SSTHRESH ? -1 : sk.ssthresh;
    const ato = listen ? 0 : clockT(TCP_ATO_MIN_NS);
    row(
      `${addrs(sk.laddr, sk.lport, sk.raddr, sk.rport)} ${hex(TCP_STATE[sk.state], 2)} ${hex(txQueue, 8)}:${hex(rxQueue, 8)} ` +
        `${hex(tr, 2)}:${hex(clockT(when), 8)} ${hex(sk.retransmits, 8)} ${right(0, 5)} ${right(sk.probesOut, 8)} ${sk.socketAddr} 1 ` +
        `${sk.skAddr.toString(16).padStart(8, '0')} ${clockT(sk.rto)} ${ato} ${sk.quickAcks << 1} ${sk.cwnd} ${ssthresh}`,
    );
  };
  for (const port of [...t.listeners.keys()].sort((a, b) => a - b)) sockRow(t.listeners.get(port)!);
  for (const sk of t.ehash.values()) sockRow(sk);
  for (const req of t.requests.values()) {
    // get_openreq4: SYN_RECV, the SYN-ACK timer, no inode, reference count 0.
    const when = req.timer && !req.timer.cancelled ? req.timer.at - now : 0;
    row(`${addrs(req.laddr, req.lport, req.raddr, req.rport)} 03 00000000:00000000 01:${hex(clockT(when), 8)} ${hex(req.retries, 8)} ${right(0, 5)} ${right(0, 8)} 0 0 ${req.addr.toString(16).padStart(8, '0')}`);
  }
  for (const tw of t.timewait.values()) {
    // get_timewait4_sock: timer 3 (the TIME_WAIT timer), reference count 3 as inet_twsk_hashdance leaves it.
    const when = tw.timer && !tw.timer.cancelled ? tw.timer.at - now : 0;
    row(`${addrs(tw.laddr, tw.lport, tw.raddr, tw.rport)} 06 00000000:00000000 03:${hex(clockT(when), 8)} 00000000 ${right(0, 5)} ${right(0, 8)} 0 3 ${tw.addr.toString(16).padStart(8, '0')}`);
  }
  return out;
}
