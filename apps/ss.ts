/**
 * ss -tan, as iproute2's ss gets it: one socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG), a
 * SOCK_DIAG_BY_FAMILY dump request carrying an inet_diag_req_v2 for TCP in every state, and
 * the NLM_F_MULTI inet_diag_msg answers up to NLMSG_DONE, printed one line per socket.
 *
 * Without CONFIG_INET_DIAG the socket call fails with EPROTONOSUPPORT and ss falls back, as
 * iproute2's tcp_show does when inet_show_netlink fails, to reading /proc/net/tcp (PROC_FS);
 * result.source says which it used. With neither, ss exits 1 naming both failures.
 */
import { ipToString } from '../stack/core/addr.js';
import { NlWriter, parseNlmsg } from '../stack/uapi/netlink-message.js';
import { readU32le } from '../stack/uapi/byte-order.js';
import { inetDiagReqV2, parseInetDiagMsg, type InetDiagMsg } from '../stack/core/sock-diag.js';
import type { Program, ProgramContext } from './program.js';
import {
  NETLINK_SOCK_DIAG, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_DUMP, NLM_F_REQUEST, nlmsgAlign,
} from '../stack/uapi/netlink.js';
import { INET_DIAG_MSG_LEN, SOCK_DIAG_BY_FAMILY } from '../stack/uapi/inet-diag.js';
import { IPPROTO_TCP } from '../stack/uapi/in.js';
import { errnoName } from '../stack/uapi/errno.js';
import { AF_NETLINK, SOCK_RAW } from '../stack/uapi/socket.js';

/** ss's state names, by TCP_* number (include/net/tcp_states.h). */
const STATE_NAME = ['UNKNOWN', 'ESTAB', 'SYN-SENT', 'SYN-RECV', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'UNCONN', 'CLOSE-WAIT', 'LAST-ACK', 'LISTEN', 'CLOSING'];
/** All TCP states: ss's default filter for -a. */
export const ALL_STATES = 0xfff;

export interface SsResult {
  sockets: InetDiagMsg[];
  /** ss's output lines (header first). */
  lines: string[];
  /** Where the sockets came from: the sock_diag dump, or the /proc/net/tcp fallback. */
  source: 'sock_diag' | '/proc/net/tcp' | null;
  /** Why sock_diag could not be used, when ss fell back. */
  fallbackReason: string | null;
  error: string | null;
}

const HEADER = 'State      Recv-Q Send-Q Local Address:Port    Peer Address:Port';

/** ss's name for a TCP_* state number. */
export function ssStateName(state: number): string {
  return STATE_NAME[state] ?? String(state);
}

export function ssLine(m: InetDiagMsg): string {
  const state = ssStateName(m.state);
  return `${state.padEnd(10)} ${String(m.rqueue).padStart(6)} ${String(m.wqueue).padStart(6)} ${`${ipToString(m.src)}:${m.sport}`.padEnd(21)} ${ipToString(m.dst)}:${m.dport}`;
}

export class Ss implements Program {
  readonly name = 'ss';
  exitCode: number | null = null;
  readonly result: SsResult = { sockets: [], lines: [], source: null, fallbackReason: null, error: null };

  start(ctx: ProgramContext): void {
    const code = this.run(ctx);
    for (const l of this.result.lines) ctx.log(l);
    if (this.result.error) ctx.log(`ss: ${this.result.error}`);
    this.exitCode = code;
    ctx.exit(code);
  }

  private run(ctx: ProgramContext): number {
    const sys = ctx.sys;
    const fd = sys.socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG);
    if (fd < 0) return this.fromProc(ctx, `socket(AF_NETLINK, NETLINK_SOCK_DIAG): ${errnoName(fd)}`);
    this.result.source = 'sock_diag';
    const w = new NlWriter();
    const at = w.begin(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0);
    w.bytes(inetDiagReqV2(IPPROTO_TCP, ALL_STATES));
    w.end(at);
    const s = sys.sendto(fd, w.view().slice(), { addr: 0, port: 0 });
    if (s < 0) {
      this.result.error = `sendto: ${errnoName(s)}`;
      sys.close(fd);
      return 1;
    }
    this.result.lines.push(HEADER);
    for (;;) {
      const r = sys.recvfrom(fd);
      if (typeof r === 'number') {
        this.result.error = `recvfrom: ${errnoName(r)}`;
        break;
      }
      const b = r.data;
      let p = 0;
      let done = false;
      while (p + NLMSG_HDRLEN <= b.length) {
        const h = parseNlmsg(b, p, b.length);
        if (!h) break;
        if (h.type === NLMSG_DONE) done = true;
        else if (h.type === NLMSG_ERROR) {
          this.result.error = `netlink error ${-(readU32le(b, p + NLMSG_HDRLEN) | 0)}`;
          done = true;
        } else if (h.type === SOCK_DIAG_BY_FAMILY && h.len >= NLMSG_HDRLEN + INET_DIAG_MSG_LEN) {
          const m = parseInetDiagMsg(b, p + NLMSG_HDRLEN);
          this.result.sockets.push(m);
          this.result.lines.push(ssLine(m));
        }
        p += nlmsgAlign(h.len);
      }
      if (done) break;
    }
    sys.close(fd);
    return this.result.error ? 1 : 0;
  }

  /** The fallback: /proc/net/tcp's rows (tcp4_seq_show), parsed back into inet_diag_msg's fields. */
  private fromProc(ctx: ProgramContext, netlinkError: string): number {
    const text = ctx.sys.readProc('/proc/net/tcp');
    if (typeof text === 'number') {
      this.result.error = `${netlinkError}; /proc/net/tcp: ${errnoName(text)}`;
      return 1;
    }
    this.result.source = '/proc/net/tcp';
    this.result.fallbackReason = netlinkError;
    this.result.lines.push(HEADER);
    for (const row of text.split('\n').slice(1)) {
      const m = parseProcNetTcpRow(row);
      if (!m) continue;
      this.result.sockets.push(m);
      this.result.lines.push(ssLine(m));
    }
    return 0;
  }
}

/**
 * One /proc/net/tcp row: "sl: local rem st tx:rx tr:when retrnsmt uid timeout inode …", the
 * addresses as the __be32's bytes printed %08X on a little-endian CPU, ports in host order.
 */
export function parseProcNetTcpRow(row: string): InetDiagMsg | null {
  const c = row.trim().split(/\s+/);
  if (c.length < 10 || !c[0]!.endsWith(':')) return null;
  const addr = (s: string): [number, number] => {
    const [a, p] = s.split(':');
    const le = parseInt(a!, 16) >>> 0;
    return [(((le & 0xff) << 24) | ((le & 0xff00) << 8) | ((le >>> 8) & 0xff00) | (le >>> 24)) >>> 0, parseInt(p!, 16)];
  };
  const [src, sport] = addr(c[1]!);
  const [dst, dport] = addr(c[2]!);
  const [tx, rx] = c[4]!.split(':');
  const [tr] = c[5]!.split(':');
  return {
    family: 2, state: parseInt(c[3]!, 16), timer: parseInt(tr!, 16), retrans: parseInt(c[6]!, 16),
    sport, dport, src, dst, rqueue: parseInt(rx!, 16), wqueue: parseInt(tx!, 16), inode: Number(c[9]),
  };
}
