/**
 * The listening socket's life (net/ipv4/inet_connection_sock.c, with af_inet.c's inet_listen
 * that starts it): reserving a local port at bind (inet_csk_get_port), listen, accept
 * (inet_csk_accept) and, when the listener closes, inet_csk_listen_stop. The tables are
 * TcpTable's (listeners, boundPorts, requests); inet_put_port gives the port back
 * (inet-hashtables.ts).
 */
import type { TcpTable } from './tcp.js';
import type { TcpSock } from './tcp-sock.js';
import { dropRequest } from './tcp-ipv4.js';
import { sendControl } from './tcp-output.js';
import { TCP_ACK, TCP_RST } from '../wire/tcp-header.js';
import { Errno } from '../uapi/errno.js';

/** inet_csk_get_port for an explicit port: false when a listener or another bound socket holds it; else it is reserved. */
export function inetCskGetPort(t: TcpTable, port: number): boolean {
  if (t.listeners.has(port) || (t.boundPorts.get(port) ?? 0) > 0) return false;
  t.boundPorts.set(port, (t.boundPorts.get(port) ?? 0) + 1);
  return true;
}

/** inet_listen → inet_csk_listen_start. */
export function inetListen(t: TcpTable, sk: TcpSock, backlog: number): number {
  if (sk.state !== 'CLOSED' && sk.state !== 'LISTEN') return -Errno.EINVAL;
  if (sk.lport === 0) return -Errno.EINVAL;
  // inet_listen: sk_max_ack_backlog is the backlog as given (capped at somaxconn), 0 included.
  sk.backlog = Math.max(0, Math.min(backlog, t.sysctl.somaxconn));
  if (sk.state === 'LISTEN') return 0;
  sk.state = 'LISTEN';
  t.listeners.set(sk.lport, sk);
  return 0;
}

/** inet_csk_accept, non-blocking: the oldest established child, or -EAGAIN. */
export function inetCskAccept(sk: TcpSock): TcpSock | number {
  if (sk.state !== 'LISTEN') return -Errno.EINVAL;
  const child = sk.acceptQueue.shift();
  if (!child) return -Errno.EAGAIN;
  if (child.passiveFastOpen) sk.fastOpenPending = Math.max(0, sk.fastOpenPending - 1);
  child.parent = null;
  return child;
}

/**
 * inet_csk_listen_stop: the listener's half-open requests go, and the children nobody accepted
 * are reset and forgotten (orphaned, so destroying them frees them: no file will ever close
 * them); then the listener itself.
 */
export function inetCskListenStop(t: TcpTable, sk: TcpSock): void {
  t.listeners.delete(sk.lport);
  for (const [key, req] of [...t.requests]) if (req.listener === sk) dropRequest(t, key, req);
  for (const child of sk.acceptQueue.splice(0)) {
    if (child.state !== 'CLOSED') sendControl(child, TCP_RST | TCP_ACK);
    child.closed = true;
    child.orphan = true;
    t.destroy(child, 0);
  }
  t.destroy(sk, 0);
}
