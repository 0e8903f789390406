/**
 * The registered congestion controls (tcp_cong_list): what net.ipv4.tcp_congestion_control
 * and setsockopt(TCP_CONGESTION) may name. Linux 6.1 always has reno; cubic is built in as
 * the default (TCP_CONG_CUBIC=y).
 */
import type { TcpCongestionOps } from './tcp-cong.js';
import { tcpCubic } from './tcp-cubic.js';
import { tcpReno } from './tcp-reno.js';

/** net.ipv4.tcp_available_congestion_control, in registration order. */
export const TCP_CONG_LIST: readonly TcpCongestionOps[] = [tcpReno, tcpCubic];

export const TCP_CONG_DEFAULT = 'cubic';

/** tcp_ca_find: the ops by name, or null. */
export function tcpCaFind(name: string): TcpCongestionOps | null {
  for (const ops of TCP_CONG_LIST) if (ops.name === name) return ops;
  return null;
}
