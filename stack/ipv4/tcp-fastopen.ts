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
import type { TcpRepr } from '../wire/tcp-header.js';
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
