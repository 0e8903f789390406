/**
 * TCP Fast Open (RFC 7413; net/ipv4/tcp_fastopen.c), present only with CONFIG_TCP_FASTOPEN.
 *
 * Client: the first connection to a server asks for a cookie (an empty Fast Open option in the
 * SYN); later connections made with TCP_FASTOPEN_CONNECT hold the SYN back until the program's
 * first write and carry that data, with the cookie, in the SYN. Server: a listener with the
 * TCP_FASTOPEN option (its qlen bounds pending Fast Open children) issues cookies, and for a SYN
 * with a valid cookie creates the child at once, queues the SYN's data for the program and
 * acknowledges it in the SYN-ACK — the request is answered one round trip earlier.
 * quarklab's boards boot with net.ipv4.tcp_fastopen = 3 (client and server enabled).
 */
import { fnv1a } from '../../emulator/prng.js';
import { allocSkb } from '../core/skbuff.js';
import type { TcpRepr } from '../wire/tcp-header.js';
import { ehashAdd } from './inet-hashtables.js';
import { setupChild, type RequestSock } from './tcp-minisocks.js';
import { transmitSeg } from './tcp-output.js';
import type { TcpTable } from './tcp.js';
import type { TcpSock } from './tcp-sock.js';
import { writeU32 } from '../uapi/byte-order.js';

export const TFO_COOKIE_LEN = 8;

/** The server's cookie for a client address: a keyed hash (Linux uses AES-128 of the address). */
export function fastOpenCookie(secret: number, clientAddr: number): Uint8Array {
  const c = new Uint8Array(TFO_COOKIE_LEN);
  const h1 = fnv1a(`tfo:${secret}:${clientAddr}`);
  writeU32(c, 0, h1);
  writeU32(c, 4, fnv1a(`tfo2:${h1}:${clientAddr}`));
  return c;
}

export function cookiesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** What a listener does with a SYN's Fast Open option. */
export type PassiveDecision =
  | { kind: 'none' }
  | { kind: 'request' }
  | { kind: 'accept' }
  | { kind: 'reject'; reason: 'invalid-cookie' | 'queue-full' | 'no-data' };

export function passiveDecision(listener: TcpSock, th: TcpRepr, payload: number, validCookie: Uint8Array): PassiveDecision {
  const opt = th.options.fastOpenCookie;
  if (!opt || listener.fastOpenQlen === 0) return { kind: 'none' };
  if (opt.length === 0) return { kind: 'request' };
  if (!cookiesEqual(opt, validCookie)) return { kind: 'reject', reason: 'invalid-cookie' };
  if (payload === 0) return { kind: 'reject', reason: 'no-data' };
  if (listener.fastOpenPending >= listener.fastOpenQlen) return { kind: 'reject', reason: 'queue-full' };
  return { kind: 'accept' };
}

/** tcp_sendmsg_fastopen: the held SYN leaves now, carrying up to one MSS of the write. */
export function sendFastOpenSyn(sk: TcpSock, data: Uint8Array): number {
  const syn = sk.writeQueue[0]!;
  const n = Math.min(data.length, sk.mss - 40);
  sk.stack.env.mem.bytes.set(data.subarray(0, n), syn.payload);
  syn.skb.len = n;
  syn.len = n;
  syn.end = (syn.seq + 1 + n) >>> 0;
  sk.deferSyn = false;
  transmitSeg(sk, syn, false);
  sk.sndNxt = syn.end;
  return n;
}

/** The SYN-ACK answers a Fast Open SYN: was its data accepted? If not, send it after the handshake. */
export function fastOpenSynAckReceived(sk: TcpSock, ack: number): void {
  const t = sk.table;
  const syn = sk.writeQueue[0];
  if (!syn || !syn.syn || syn.len === 0) return;
  if (ack === syn.end) {
    t.ext['TCPFastOpenActive']!++;
    return;
  }
  t.ext['TCPFastOpenActiveFail']!++;
  syn.syn = false;
  syn.seq = ack;
  syn.end = (ack + syn.len) >>> 0;
  sk.sndNxt = ack;
}

function tfoSecret(t: TcpTable): number {
  return t.secret ^ 0x7f0f0f0f;
}

/** Decide on a SYN's Fast Open option; returns true when the data rides with a child made now. */
export function fastOpenAcceptData(t: TcpTable, listener: TcpSock, req: RequestSock, th: TcpRepr, payload: number): boolean {
  if (!t.stack.has('TCP_FASTOPEN')) return false;
  const valid = fastOpenCookie(tfoSecret(t), req.raddr);
  const d = passiveDecision(listener, th, payload, valid);
  switch (d.kind) {
    case 'none':
      return false;
    case 'request':
      t.ext['TCPFastOpenCookieReqd']!++;
      req.sendCookie = valid;
      return false;
    case 'reject':
      if (d.reason === 'queue-full') t.ext['TCPFastOpenListenOverflow']!++;
      else t.ext['TCPFastOpenPassiveFail']!++;
      req.sendCookie = valid;
      return false;
    case 'accept':
      t.ext['TCPFastOpenPassive']!++;
      return true;
  }
}

/**
 * tcp_fastopen_create_child: the child exists from the SYN, in SYN_RECV, with the SYN's data
 * queued for the program and a SYN-ACK of its own that acknowledges it.
 */
export function fastOpenChild(t: TcpTable, listener: TcpSock, req: RequestSock, th: TcpRepr, data: Uint8Array): boolean {
  if (listener.acceptQueue.length > listener.backlog) return false;
  const child = t.create();
  if (typeof child === 'number') return false;
  setupChild(t, child, listener, req, th);
  t.sndbufExpand(child, true);
  child.passiveFastOpen = true;
  child.state = 'SYN_RECV';
  child.sndUna = req.iss;
  child.sndNxt = req.iss;
  child.rcvNxt = (req.irs + 1 + data.length) >>> 0;
  child.rcvWup = child.rcvNxt;
  child.sndWnd = th.window;
  const skb = allocSkb(t.stack.skbs, data.length);
  if (!skb) {
    destroyUnhashed(t, child);
    return false;
  }
  skb.bytes.set(data, skb.put(data.length));
  t.chargeRcv(child, skb);
  child.receiveQueue.push(skb);
  child.info.bytesReceived += data.length;
  const synAck = t.newSeg(child, req.iss, 0, true, false, 'atomic');
  if (!synAck) {
    destroyUnhashed(t, child);
    return false;
  }
  listener.fastOpenPending++;
  child.parent = listener;
  ehashAdd(t, child);
  transmitSeg(child, synAck, false);
  child.sndNxt = synAck.end;
  t.mib['PassiveOpens']!++;
  listener.acceptQueue.push(child);
  listener.onReadable?.();
  return true;
}

function destroyUnhashed(t: TcpTable, sk: TcpSock): void {
  sk.closed = true;
  t.destroy(sk, 0);
}
