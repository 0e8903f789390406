/**
 * Building and sending segments (net/ipv4/tcp_output.c): the receive window we advertise,
 * options, data from the write queue as congestion and receive windows and Nagle allow,
 * retransmissions, ACKs and resets.
 */
import { allocSkb, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import type { NetStack } from '../net-stack.js';
import type { IpSendParams } from './ip.js';
import { skMemDefault } from '../core/sock.js';
import {
  emitTcp, emptyTcpRepr, optionsLength, seqGt, seqLt, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN,
  type SackBlock, type TcpOptions, type TcpRepr,
} from '../wire/tcp-header.js';
import type { TcpTable } from './tcp.js';
import type { TcpSock, TxSeg } from './tcp-sock.js';
import { tcpOnTxStart } from './tcp-recovery.js';
import { noteRetransmit, tcpScheduleLossProbe } from './tcp-tlp.js';
import { armPersist, armRetransmitTimer, scheduleDelack } from './tcp-timer.js';
import { IPPROTO_TCP } from '../uapi/in.js';

export function tsNow(sk: TcpSock): number {
  return (Math.floor(sk.now / 1_000_000) + sk.tsOffset) >>> 0;
}

/**
 * __tcp_select_window: the window is the free receive space (half the buffer's free bytes),
 * bounded by rcv_ssthresh and rounded to the scale. Pure: it commits nothing.
 */
export function freeWindow(sk: TcpSock): number {
  const mss = sk.advMss;
  let free = sk.rcvSpace();
  const full = Math.min(sk.windowClamp, sk.fullSpace());
  let ssthresh = sk.rcvSsthresh;
  if (free < full / 2) {
    if (sk.table.underPressure()) ssthresh = Math.min(ssthresh, 4 * mss);
    if (free < mss) return 0;
  }
  if (free > ssthresh) free = ssthresh;
  if (sk.rcvWscale > 0) return free & ~((1 << sk.rcvWscale) - 1);
  return free <= mss ? free : free - (free % mss);
}

/**
 * tcp_select_window: commit the window for an outgoing segment; the right edge never moves
 * left of what was already offered (RFC 9293 §3.8.6). Returns the header field value.
 */
export function selectWindow(sk: TcpSock): number {
  if (sk.table.underPressure()) sk.rcvSsthresh = Math.min(sk.rcvSsthresh, 4 * sk.advMss);
  let win = freeWindow(sk);
  const cur = Math.max(0, (sk.rcvWup + sk.rcvWnd - sk.rcvNxt) | 0);
  if (win < cur) {
    if (win === 0) sk.table.ext['TCPWantZeroWindowAdv']!++;
    win = (cur + (1 << sk.rcvWscale) - 1) & ~((1 << sk.rcvWscale) - 1);
  }
  win = Math.min(win, 65535 << sk.rcvWscale);
  if (win === 0 && sk.rcvWnd !== 0) sk.table.ext['TCPToZeroWindowAdv']!++;
  if (win !== 0 && sk.rcvWnd === 0 && sk.state === 'ESTABLISHED') sk.table.ext['TCPFromZeroWindowAdv']!++;
  sk.rcvWnd = win;
  sk.rcvWup = sk.rcvNxt;
  return win >>> sk.rcvWscale;
}

function sackBlocks(sk: TcpSock): SackBlock[] | undefined {
  if (!sk.sackOk || (sk.ofo.length === 0 && !sk.dsackPending)) return undefined;
  const blocks: SackBlock[] = [];
  for (const o of sk.ofo) {
    const last = blocks[blocks.length - 1];
    if (last && !seqLt(last.end, o.seq)) {
      if (seqGt(o.end, last.end)) last.end = o.end;
    } else blocks.push({ start: o.seq, end: o.end });
  }
  // The block holding the most recent arrival goes first (RFC 2018 §4); then the rest in order.
  const recent = sk.lastOfoSeq;
  blocks.sort((a, b) => (contains(b, recent) ? 1 : 0) - (contains(a, recent) ? 1 : 0));
  // A D-SACK block goes first (RFC 2883 §4), once (tcp_options_write clears rx_opt.dsack).
  if (sk.dsackPending) {
    blocks.unshift({ start: sk.dsackStart, end: sk.dsackEnd });
    sk.dsackPending = false;
  }
  return blocks.slice(0, sk.tstampOk ? 3 : 4);
}

function contains(b: SackBlock, seq: number): boolean {
  return !seqLt(seq, b.start) && seqLt(seq, b.end);
}

/**
 * The header and options of a connected socket's segment, filled in place for each send rather
 * than made anew: transmit() reads them only before it hands the skb to IP, so a send nested
 * inside IP (a local delivery answered at once) may fill them again safely. Every field is
 * present from the start, so the objects keep one shape.
 */
const txOptions: TcpOptions = { mss: undefined, wscale: undefined, sackPermitted: undefined, sack: undefined, tsVal: undefined, tsEcr: undefined, fastOpenCookie: undefined };
const txRepr: TcpRepr = emptyTcpRepr(txOptions);

/** Options for a segment of an established connection, in txOptions. */
function dataOptions(sk: TcpSock): TcpOptions {
  const o = txOptions;
  o.tsVal = sk.tstampOk ? tsNow(sk) : undefined;
  o.tsEcr = sk.tstampOk ? sk.tsRecent : undefined;
  o.sack = sackBlocks(sk);
  return o;
}

/** txRepr for a segment `sk` sends now. */
function connectedRepr(sk: TcpSock, seq: number, ack: number, flags: number, window: number, options: TcpOptions): TcpRepr {
  const r = txRepr;
  r.srcPort = sk.lport;
  r.dstPort = sk.rport;
  r.seq = seq;
  r.ack = ack;
  r.flags = flags;
  r.window = window;
  r.urgent = 0;
  r.options = options;
  r.headerLength = 0;
  return r;
}

export function synOptions(sk: TcpSock, synAck: boolean, peer?: { wscaleOk: boolean; sackOk: boolean; tstampOk: boolean }): TcpOptions {
  const o: TcpOptions = { mss: sk.advMss };
  const ts = synAck ? peer!.tstampOk : true;
  const sack = synAck ? peer!.sackOk : true;
  const ws = synAck ? peer!.wscaleOk : true;
  if (ts) {
    o.tsVal = tsNow(sk);
    o.tsEcr = synAck ? sk.tsRecent : 0;
  }
  if (sack) o.sackPermitted = true;
  if (ws) o.wscale = sk.rcvWscale;
  return o;
}

/**
 * tcp_transmit_skb: put a TCP header in front of the payload already at skb.data and send it.
 * `sk` is the connected socket sending it, or null for the per-CPU control socket (RSTs for
 * strangers, SYN-ACKs of request socks, TIME_WAIT's ACKs). Returns the IP layer's result (0 or
 * a negative errno).
 */
/** `repr.headerLength` is filled in here (callers pass 0). */
export function transmit(stack: NetStack, skb: SkBuff, repr: TcpRepr, src: number, dst: number, sk: TcpSock | null): number {
  const headerLength = 20 + optionsLength(repr.options);
  const at = skb.push(headerLength);
  // Completed in place rather than copied: an object spread per segment is a slow runtime call.
  repr.headerLength = headerLength;
  emitTcp(repr, skb.bytes, at, skb.len, src, dst);
  skb.transportHeader = at;
  const tcp = stack.tcp!;
  tcp.mib['OutSegs']!++;
  if (repr.flags & TCP_RST) tcp.mib['OutRsts']!++;
  stack.env.cpu.charge(stack.env.cpu.cycles.protocolPacket + stack.env.cpu.cycles.checksumByte * skb.len);
  // ip_select_ident_segs: a connected socket numbers its packets from its own inet_id; the
  // control socket's DF packets carry ID 0.
  let id = 0;
  if (sk) {
    id = sk.inetId;
    sk.inetId = (sk.inetId + 1) & 0xffff;
  }
  tcpIpParams.src = src;
  tcpIpParams.dst = dst;
  tcpIpParams.id = id;
  return stack.ip.output(skb, tcpIpParams);
}

/**
 * What TCP asks of IP for each segment, refilled per send: ip.output reads it all before it
 * hands the packet on, so one record serves every segment without an object per send.
 */
const tcpIpParams: IpSendParams = { src: 0, dst: 0, protocol: IPPROTO_TCP, df: true, id: 0 };

/** A segment with no payload (ACK, RST, window update, probe) from a full socket. */
export function sendControl(sk: TcpSock, flags: number, seq = sk.sndNxt, withData?: Uint8Array): void {
  const skb = allocSkb(sk.stack.skbs, MAX_HEADER + (withData?.length ?? 0));
  if (!skb) {
    // tcp_send_ack: no memory, try again from the delayed-ACK timer.
    if (flags === TCP_ACK) scheduleDelack(sk, sk.table.sysctl.delackMinNs);
    return;
  }
  skb.reserve(MAX_HEADER);
  if (withData) skb.bytes.set(withData, skb.put(withData.length));
  const window = flags & TCP_RST ? 0 : selectWindow(sk);
  const options = flags & TCP_RST ? {} : dataOptions(sk);
  if (flags & TCP_ACK) ackSent(sk);
  transmit(sk.stack, skb, connectedRepr(sk, seq, flags & TCP_ACK ? sk.rcvNxt : 0, flags, window, options), sk.laddr, sk.raddr, sk);
}

function ackSent(sk: TcpSock): void {
  sk.ackPending = false;
  sk.ackPushed = 0;
  sk.ackNow = false;
  sk.segsSinceAck = 0;
  sk.lastAckedRcvNxt = sk.rcvNxt;
  if (sk.delackTimer) {
    sk.stack.sim.cancel(sk.delackTimer);
    sk.delackTimer = null;
  }
}

export function sendAck(sk: TcpSock): void {
  sendControl(sk, TCP_ACK);
}

/**
 * Send one write-queue segment. The skb is lent to the driver (its clone is in flight);
 * if it is still lent from a previous send, a copy goes instead, as __pskb_copy does.
 */
export function transmitSeg(sk: TcpSock, seg: TxSeg, retransmit: boolean): boolean {
  let skb = seg.skb;
  if (seg.lent) {
    const copy = allocSkb(sk.stack.skbs, MAX_HEADER + seg.len);
    if (!copy) return false;
    copy.reserve(MAX_HEADER);
    copy.bytes.copyWithin(copy.put(seg.len), seg.payload, seg.payload + seg.len);
    sk.table.ext['TCPSpuriousRtxHostQueues']!++;
    skb = copy;
  } else {
    skb.data = seg.payload;
    skb.len = seg.len;
    seg.lent = true;
    skb.txOwner = seg;
  }
  let flags = TCP_ACK;
  if (seg.syn) flags = sk.state === 'SYN_SENT' ? TCP_SYN : TCP_SYN | TCP_ACK;
  if (seg.fin) flags |= TCP_FIN;
  // PSH marks the end of what the program has written so far (tcp_push on the last skb), and
  // a window probe's partial segment (tcp_write_wakeup). A Fast Open SYN's data goes without
  // it: tcp_send_syn_data copies the SYN's flags (SYN only).
  if (seg.len > 0 && !seg.syn && (seg.psh || seg === sk.writeQueue[sk.writeQueue.length - 1])) flags |= TCP_PSH;
  let options: TcpOptions;
  if (seg.syn) {
    options = sk.state === 'SYN_SENT' ? synOptions(sk, false) : synOptions(sk, true, sk);
    if (sk.state === 'SYN_SENT' && sk.fastOpenCookieToSend) options.fastOpenCookie = sk.fastOpenCookieToSend;
  } else options = dataOptions(sk);
  const window = seg.syn && sk.state === 'SYN_SENT' ? Math.min(sk.rcvWnd, 65535) : selectWindow(sk);
  if (flags & TCP_ACK) ackSent(sk);
  seg.sentAt = sk.now;
  seg.txCount++;
  if (retransmit) {
    seg.retransmitted = true;
    sk.noteMarked(seg);
    sk.retransmits++;
    sk.table.mib['RetransSegs']!++;
  } else if (seg.len > 0) {
    sk.table.ext['TCPOrigDataSent']!++;
    // tcp_event_data_sent: new data within ato (TCP_ATO_MIN) of the last data received is a
    // reply: enter pingpong (TCP_PINGPONG_THRESH is 1 in 6.1).
    if (sk.now - sk.lrcvtime < sk.table.sysctl.delackMinNs) sk.pingpong = true;
  }
  const ack = flags & TCP_ACK ? sk.rcvNxt : 0;
  transmit(sk.stack, skb, connectedRepr(sk, seg.seq, ack, flags, window, options), sk.laddr, sk.raddr, sk);
  if (!sk.rtxTimer) armRetransmitTimer(sk);
  return true;
}

/**
 * tcp_write_xmit: send new segments while the congestion window, the peer's window and Nagle
 * allow. `push` forces a final partial segment out (end of a write with TCP_NODELAY, or a FIN).
 */
export function writeXmit(sk: TcpSock): void {
  if (sk.state === 'SYN_SENT' || sk.state === 'LISTEN' || sk.state === 'CLOSED') return;
  if (sk.state === 'SYN_RECV' && !sk.passiveFastOpen) return;
  let sent = false;
  // The pipe is counted once (it walks the queue); each new segment sent adds one to it. Without
  // SACK the dupack adjustment is clamped at zero, so there it is counted afresh each time.
  let inFlight = sk.packetsInFlight();
  const queue = sk.writeQueue;
  for (let i = sk.firstUnsentIndex(); i < queue.length; i++) {
    const seg = queue[i]!;
    if (!sk.sackOk) inFlight = sk.packetsInFlight();
    if (inFlight >= sk.cwnd) {
      sk.setLimited('cwnd');
      break;
    }
    const wndEnd = (sk.sndUna + sk.sndWnd) >>> 0;
    if (seg.len > 0 && seqGt(seg.end - (seg.fin ? 1 : 0), wndEnd)) {
      sk.setLimited('rwnd');
      break;
    }
    // Nagle (RFC 896): a small segment waits while earlier data is unacknowledged.
    const isLast = seg === sk.writeQueue[sk.writeQueue.length - 1];
    if (seg.len < sk.mss && isLast && !seg.fin && !sk.nodelay && sk.sndNxt !== sk.sndUna && !sk.shutdownWr) break;
    if (inFlight === 0) tcpOnTxStart(sk);
    if (!transmitSeg(sk, seg, false)) break;
    sk.lastSendNs = sk.now;
    sk.sndNxt = seg.end;
    inFlight++;
    sent = true;
  }
  // Segments are in sequence order: the queue is all sent when its last one is.
  const last = sk.writeQueue[sk.writeQueue.length - 1];
  if (sent && (!last || sk.isSent(last))) sk.setLimited(null);
  if (sent) tcpScheduleLossProbe(sk, false);
  // tcp_check_probe_timer: nothing in flight and data waiting — whatever the window, zero or
  // too small for the next segment — arms the probe timer, or no ACK would ever come to move on.
  if (sk.sndNxt === sk.sndUna && last && !sk.isSent(last) && !sk.rtxTimer) armPersist(sk);
}

/** Retransmit segments marked lost, as far as the congestion window allows (tcp_xmit_retransmit_queue). */
export function retransmitLost(sk: TcpSock): void {
  for (const seg of sk.writeQueue) {
    if (!sk.isSent(seg)) break;
    if (!seg.lost || seg.sacked) continue;
    if (sk.packetsInFlight() >= sk.cwnd) break;
    if (!transmitSeg(sk, seg, true)) break;
    seg.lost = false;
    seg.rtxInFlight = true;
    noteRetransmit(sk);
  }
}

/** tcp_v4_send_reset for a segment no socket wants: answer with RST (never to a RST). */
export function sendResetFor(stack: NetStack, src: number, dst: number, th: TcpRepr, payloadLen: number): void {
  if (th.flags & TCP_RST) return;
  const skb = allocSkb(stack.skbs, MAX_HEADER);
  if (!skb) return;
  skb.reserve(MAX_HEADER);
  let seq = 0;
  let ack = 0;
  let flags = TCP_RST;
  if (th.flags & TCP_ACK) seq = th.ack;
  else {
    ack = (th.seq + payloadLen + (th.flags & TCP_SYN ? 1 : 0) + (th.flags & TCP_FIN ? 1 : 0)) >>> 0;
    flags |= TCP_ACK;
  }
  transmit(stack, skb, { srcPort: th.dstPort, dstPort: th.srcPort, seq, ack, flags, window: 0, urgent: 0, options: {}, headerLength: 0 }, dst, src, null);
}

/**
 * tcp_write_wakeup: when the window is open but too small for the next segment, send as much
 * of it as fits (min(window, MSS), splitting the segment) with PSH and return true; when it is
 * shut, send a zero-window probe (a segment below snd_una the peer must answer) and return false.
 */
export function writeWakeup(sk: TcpSock, head: TxSeg): boolean {
  const wndEnd = (sk.sndUna + sk.sndWnd) >>> 0;
  if (((sk.sndNxt - wndEnd) | 0) < 0 && head.len > 0) {
    const room = (wndEnd - head.seq) | 0;
    const size = Math.min(room, sk.mss);
    if (size < head.len && !fragmentSeg(sk, head, size)) return false;
    head.psh = true;
    if (!transmitSeg(sk, head, false)) return false;
    sk.sndNxt = head.end;
    return true;
  }
  sk.table.ext['TCPWinProbe']!++;
  sendControl(sk, TCP_ACK, (sk.sndUna - 1) >>> 0);
  return false;
}

/** tcp_fragment: split an unsent write-queue segment after `size` bytes (GFP_ATOMIC: a timer). */
export function fragmentSeg(sk: TcpSock, seg: TxSeg, size: number): boolean {
  const restLen = seg.len - size;
  const rest = sk.table.newSeg(sk, (seg.seq + size) >>> 0, restLen, false, seg.fin, 'atomic');
  if (!rest) return false;
  // newSeg appended it; it belongs right after `seg`.
  sk.writeQueue.pop();
  sk.writeQueue.splice(sk.writeQueue.indexOf(seg) + 1, 0, rest);
  sk.stack.env.mem.bytes.copyWithin(rest.payload, seg.payload + size, seg.payload + seg.len);
  rest.skb.len = restLen;
  seg.len = size;
  seg.skb.len = size;
  seg.fin = false;
  seg.end = (seg.seq + size) >>> 0;
  return true;
}

/** tcp_connect_init's window and MSS, for an active open and for a child of a listener alike. */
export function initConnection(sk: TcpSock): void {
  const t = sk.table;
  const mtu = t.stack.device(routeIfindex(t, sk.raddr))?.mtu ?? 1500;
  sk.advMss = mtu - 40;
  sk.mss = sk.advMss;
  sk.windowClamp = sk.fullSpace();
  sk.rcvWscale = wscaleFor(t, sk.rcvbuf);
  const full = sk.fullSpace();
  const initial = Math.min(full > sk.advMss ? full - (full % sk.advMss) : full, 65535);
  sk.rcvWnd = initial;
  sk.rcvSsthresh = initial;
  // Quick ACKs at the start (tcp_incr_quickack): up to 16 segments ACKed at once.
  sk.quickAcks = Math.min(16, Math.floor(initial / (2 * sk.advMss)));
  sk.tsOffset = t.rng.nextU32();
  // inet_id = get_random_u16() (tcp_v4_connect, tcp_v4_syn_recv_sock).
  sk.inetId = t.rng.nextInt(0x10000);
}

/** The interface a route to `dst` leaves by (the first device when there is no route). */
export function routeIfindex(t: TcpTable, dst: number): number {
  return t.stack.fib.lookup(dst)?.ifindex ?? t.stack.devices[0]?.ifindex ?? 0;
}

/**
 * tcp_select_initial_window's scale: ilog2(max(space, tcp_rmem[2], rmem_max)) − 15, clamped
 * to 0..14, so the largest buffer the socket may grow to can be offered.
 */
export function wscaleFor(t: TcpTable, rcvbuf: number): number {
  const rmemMax = skMemDefault(t.stack.env.structs['sk_buff']!, t.stack.env.structs['skb_shared_info']!);
  const space = Math.max(t.sysctl.tcpRmem[2], rmemMax, rcvbuf - (rcvbuf >> t.sysctl.advWinScale));
  return Math.min(Math.max(Math.floor(Math.log2(space)) - 15, 0), 14);
}
