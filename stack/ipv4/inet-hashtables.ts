/**
 * TCP's established hash (net/ipv4/inet_hashtables.c): adding and removing a socket, the
 * per-segment lookup and the ephemeral port search of an active open. The tables themselves
 * are TcpTable's (ehash, ehashIndex, listeners, timewait).
 */
import type { TcpTable } from './tcp.js';
import type { TcpSock } from './tcp-sock.js';

const EPHEMERAL_LOW = 32768;
const EPHEMERAL_HIGH = 60999;

/** The established and timewait hashes' key for a 4-tuple (local first). */
export function tupleKey(laddr: number, lport: number, raddr: number, rport: number): string {
  return `${laddr}:${lport}:${raddr}:${rport}`;
}

/** __inet_hash_nolisten: the socket joins the established hash, string-keyed and numerically indexed. */
export function ehashAdd(t: TcpTable, sk: TcpSock): void {
  t.lastLookup = null;
  t.ehash.set(tupleKey(sk.laddr, sk.lport, sk.raddr, sk.rport), sk);
  const rkey = sk.raddr * 65536 + sk.rport;
  let byLocal = t.ehashIndex.get(rkey);
  if (!byLocal) t.ehashIndex.set(rkey, (byLocal = new Map()));
  byLocal.set(sk.laddr * 65536 + sk.lport, sk);
}

/** inet_unhash. */
export function ehashRemove(t: TcpTable, sk: TcpSock): void {
  t.lastLookup = null;
  t.ehash.delete(tupleKey(sk.laddr, sk.lport, sk.raddr, sk.rport));
  const rkey = sk.raddr * 65536 + sk.rport;
  const byLocal = t.ehashIndex.get(rkey);
  if (!byLocal) return;
  byLocal.delete(sk.laddr * 65536 + sk.lport);
  if (byLocal.size === 0) t.ehashIndex.delete(rkey);
}

/** inet_put_port: a bound socket is freed; its explicit local port is one owner lighter. */
export function inetPutPort(t: TcpTable, sk: TcpSock): void {
  const n = sk.lport ? t.boundPorts.get(sk.lport) : undefined;
  if (n === undefined) return;
  if (n <= 1) t.boundPorts.delete(sk.lport);
  else t.boundPorts.set(sk.lport, n - 1);
}

/** The established socket for a 4-tuple, if any. */
export function lookupEstablished(t: TcpTable, laddr: number, lport: number, raddr: number, rport: number): TcpSock | undefined {
  // A hashed socket's 4-tuple does not change while it is hashed, so the last hit is exact.
  const last = t.lastLookup;
  if (last !== null && last.rport === rport && last.lport === lport && last.raddr === raddr && last.laddr === laddr) return last;
  const sk = t.ehashIndex.get(raddr * 65536 + rport)?.get(laddr * 65536 + lport);
  if (sk) t.lastLookup = sk;
  return sk;
}

/** __inet_hash_connect: an ephemeral port for an active open. */
export function pickPort(t: TcpTable, laddr: number, raddr: number, rport: number): number {
  // __inet_hash_connect: a randomised start, then the first port free for this 4-tuple.
  const range = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
  const start = t.rng.nextInt(range);
  for (let i = 0; i < range; i++) {
    const port = EPHEMERAL_LOW + ((start + i) % range);
    if (t.listeners.has(port)) continue;
    const key = tupleKey(laddr, port, raddr, rport);
    if (!t.ehash.has(key) && !t.timewait.has(key)) return port;
  }
  return 0;
}
