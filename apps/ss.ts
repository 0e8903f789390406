/**
 * ss -tan, as iproute2's ss gets it: one socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG), a
 * SOCK_DIAG_BY_FAMILY dump request carrying an inet_diag_req_v2 for TCP in every state, and
 * the NLM_F_MULTI inet_diag_msg answers up to NLMSG_DONE, printed one line per socket.
 *
 * Without CONFIG_INET_DIAG the socket call fails with EPROTONOSUPPORT and ss exits 1 (real ss
 * then falls back to /proc/net/tcp; this one reports the failure so the difference shows).
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
const ALL_STATES = 0xfff;

export interface SsResult {
  sockets: InetDiagMsg[];
  /** ss's output lines (header first). */
  lines: string[];
  error: string | null;
}

export function ssLine(m: InetDiagMsg): string {
  const state = STATE_NAME[m.state] ?? String(m.state);
  return `${state.padEnd(10)} ${String(m.rqueue).padStart(6)} ${String(m.wqueue).padStart(6)} ${`${ipToString(m.src)}:${m.sport}`.padEnd(21)} ${ipToString(m.dst)}:${m.dport}`;
}

export class Ss implements Program {
  readonly name = 'ss';
  exitCode: number | null = null;
  readonly result: SsResult = { sockets: [], lines: [], error: null };

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
    if (fd < 0) {
      this.result.error = `socket(AF_NETLINK, NETLINK_SOCK_DIAG): ${errnoName(fd)}`;
      return 1;
    }
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
    this.result.lines.push('State      Recv-Q Send-Q Local Address:Port    Peer Address:Port');
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
}
