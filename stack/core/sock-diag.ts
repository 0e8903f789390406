/**
 * sock_diag over netlink (CONFIG_INET_DIAG: net/core/sock_diag.c, net/ipv4/inet_diag.c,
 * tcp_diag.c): the NETLINK_SOCK_DIAG family answering SOCK_DIAG_BY_FAMILY requests — an
 * inet_diag_req_v2 — with one inet_diag_msg per matching TCP socket, as ss(8) asks for them.
 *
 * Only AF_INET/IPPROTO_TCP has a handler (tcp_diag); UDP and raw diag are separate Kconfig
 * symbols (INET_UDP_DIAG, INET_RAW_DIAG) that no profile builds, so inet_diag answers ENOENT
 * for them as it does for a protocol with no handler. Other families: sock_diag_rcv_msg's
 * ENOENT too (sock_diag_handlers[family] is NULL). Without INET_DIAG the family itself does not
 * exist and socket(AF_NETLINK, …, NETLINK_SOCK_DIAG) fails with EPROTONOSUPPORT.
 *
 * A dump walks the listeners, then the connections, request socks and TIME_WAIT socks (the
 * ehash's three kinds of entry), as /proc/net/tcp does.
 *
 * Only dumps are modelled (NLM_F_DUMP); an exact-socket lookup answers EOPNOTSUPP here where
 * Linux would look the socket up (inet_diag_cmd_exact).
 */
import type { NetStack } from '../net-stack.js';
import type { TcpSock } from '../ipv4/tcp-sock.js';
import { NETLINK_DUMP_STARTED, netlinkRcvSkb, type Netlink, type NetlinkRcvMsg, type NetlinkSock } from './netlink.js';
import { NlWriter } from '../uapi/netlink-message.js';
import { readU32le, writeU32, writeU32le } from '../uapi/byte-order.js';
import { TCP_STATE } from './procfs.js';
import { NETLINK_SOCK_DIAG, NLMSG_DONE, NLM_F_DUMP, NLM_F_MULTI } from '../uapi/netlink.js';
import { INET_DIAG_MSG_LEN, INET_DIAG_REQ_V2_LEN, SOCK_DIAG_BY_FAMILY } from '../uapi/inet-diag.js';
import { AF_INET } from '../uapi/socket.js';
import { IPPROTO_TCP } from '../uapi/in.js';
import { Errno } from '../uapi/errno.js';

export class SockDiag {
  /** Requests answered, for the report's "which path" figures. */
  requests = 0;

  constructor(private readonly stack: NetStack, netlink: Netlink) {
    const rcvMsg: NetlinkRcvMsg = (sk, b, h, body, end) => this.request(sk, b, body, end, h.type, h.flags, h.seq);
    netlink.registerFamily(NETLINK_SOCK_DIAG, { input: (sk, skb) => netlinkRcvSkb(sk, skb, rcvMsg) }, 'sock_diag');
  }

  /** sock_diag_rcv_msg → inet_diag_handler_cmd: NETLINK_DUMP_STARTED when a dump was sent, else an errno. */
  private request(sk: NetlinkSock, b: Uint8Array, body: number, end: number, type: number, flags: number, seq: number): number {
    if (type !== SOCK_DIAG_BY_FAMILY) return -Errno.EINVAL; // the old TCPDIAG_GETSOCK types are not modelled
    if (end - body < INET_DIAG_REQ_V2_LEN) return -Errno.EINVAL;
    const family = b[body]!;
    const protocol = b[body + 1]!;
    if (family !== AF_INET) return -Errno.ENOENT;
    if (protocol !== IPPROTO_TCP || !this.stack.tcp) return -Errno.ENOENT;
    if ((flags & NLM_F_DUMP) !== NLM_F_DUMP) return -Errno.EOPNOTSUPP;
    this.requests++;
    const states = readU32le(b, body + 4);
    const w = new NlWriter();
    for (const msg of tcpDiagMsgs(this.stack, states)) {
      const m = w.begin(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, seq, sk.portid);
      w.bytes(msg);
      w.end(m);
    }
    const done = w.begin(NLMSG_DONE, NLM_F_MULTI, seq, sk.portid);
    w.bytes(new Uint8Array(4)); // the dump's final status, 0
    w.end(done);
    sk.deliver(w.view());
    return NETLINK_DUMP_STARTED;
  }
}

/**
 * inet_diag_dump_icsk for AF_INET/TCP: one inet_diag_msg per socket whose state is in `states`
 * (a 1 << TCP_* mask) — the listeners, then the ehash, which in 6.1 also holds request socks
 * (TCP_NEW_SYN_RECV, asked for by TCPF_SYN_RECV) and timewait socks (filtered by tw_substate).
 */
export function tcpDiagMsgs(stack: NetStack, states: number): Uint8Array[] {
  const t = stack.tcp;
  if (!t) return [];
  const out: Uint8Array[] = [];
  const socks: TcpSock[] = [...[...t.listeners.keys()].sort((x, y) => x - y).map((p) => t.listeners.get(p)!), ...t.ehash.values()];
  for (const s of socks) {
    const st = TCP_STATE[s.state];
    if ((states & (1 << st)) !== 0) out.push(inetDiagMsg(s, st));
  }
  const now = stack.sim.now;
  if ((states & (1 << TCP_STATE.SYN_RECV)) !== 0) for (const r of t.requests.values()) out.push(miniDiagMsg(r, TCP_STATE.SYN_RECV, 1, r.retries, r.timer, now));
  if ((states & (1 << TCP_STATE.TIME_WAIT)) !== 0) for (const tw of t.timewait.values()) out.push(miniDiagMsg(tw, TCP_STATE.TIME_WAIT, 3, 0, tw.timer, now));
  return out;
}

/**
 * inet_diag_msg_common_fill: family, state, and the inet_diag_sockid — ports and addresses in
 * network order, no bound interface (idiag_if 0), the cookie.
 */
function diagMsgCommon(s: { laddr: number; lport: number; raddr: number; rport: number }, cookie: number, state: number): Uint8Array {
  const m = new Uint8Array(INET_DIAG_MSG_LEN);
  m[0] = AF_INET;
  m[1] = state;
  m[4] = s.lport >>> 8;
  m[5] = s.lport & 0xff;
  m[6] = s.rport >>> 8;
  m[7] = s.rport & 0xff;
  writeU32(m, 8, s.laddr);
  writeU32(m, 24, s.raddr);
  writeU32le(m, 44, cookie >>> 0);
  return m;
}

/** inet_sk_diag_fill: struct inet_diag_msg for one socket (no extension attributes). */
function inetDiagMsg(s: TcpSock, state: number): Uint8Array {
  // cookie: the struct sock's address (sock_gen_cookie is unique too).
  const m = diagMsgCommon(s, s.skAddr, state);
  // idiag_timer / idiag_retrans: 1 with the retransmit timer pending (as /proc/net/tcp's tr).
  const rtx = s.rtxTimer !== null && !s.rtxTimer.cancelled;
  m[2] = rtx ? 1 : 0;
  m[3] = rtx ? s.retransmits & 0xff : 0;
  const listen = s.state === 'LISTEN';
  const last = s.writeQueue[s.writeQueue.length - 1];
  // tcp_diag_get_info: a listener's rqueue/wqueue are sk_ack_backlog and sk_max_ack_backlog;
  // otherwise rcv_nxt − copied_seq and write_seq − snd_una.
  writeU32le(m, 52, 0); // idiag_expires (ms): the timer's remaining time is not reported here
  writeU32le(m, 56, listen ? s.acceptQueue.length : s.receiveQueue.reduce((n, skb) => n + skb.len, 0));
  writeU32le(m, 60, listen ? s.backlog : !last ? 0 : (last.end - s.sndUna) >>> 0);
  writeU32le(m, 64, 0); // uid: programs run as root
  writeU32le(m, 68, s.socketAddr >>> 0); // inode, as /proc/net/tcp shows it
  return m;
}

/**
 * inet_req_diag_fill (state TCP_SYN_RECV, timer 1, retrans num_retrans) and inet_twsk_diag_fill
 * (state tw_substate, timer 3, retrans 0): the common fill, the timer's remaining time in ms,
 * and zero queues, uid and inode — these minisocks have no struct socket.
 */
function miniDiagMsg(
  s: { laddr: number; lport: number; raddr: number; rport: number; addr: number },
  state: number,
  timer: number,
  retrans: number,
  handle: { at: number; cancelled: boolean } | null,
  now: number,
): Uint8Array {
  const m = diagMsgCommon(s, s.addr, state); // cookie: the minisock's address
  m[2] = timer;
  m[3] = retrans & 0xff;
  // jiffies_delta_to_msecs: a timer already due reads 0.
  const left = handle && !handle.cancelled ? Math.max(0, handle.at - now) : 0;
  writeU32le(m, 52, Math.floor(left / 1e6));
  return m;
}

/** The parsed form of one inet_diag_msg (for programs such as ss). */
export interface InetDiagMsg {
  family: number;
  state: number;
  timer: number;
  retrans: number;
  sport: number;
  dport: number;
  src: number;
  dst: number;
  rqueue: number;
  wqueue: number;
  inode: number;
}

export function parseInetDiagMsg(b: Uint8Array, at: number): InetDiagMsg {
  const u32be = (o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  return {
    family: b[at]!,
    state: b[at + 1]!,
    timer: b[at + 2]!,
    retrans: b[at + 3]!,
    sport: (b[at + 4]! << 8) | b[at + 5]!,
    dport: (b[at + 6]! << 8) | b[at + 7]!,
    src: u32be(at + 8),
    dst: u32be(at + 24),
    rqueue: readU32le(b, at + 56),
    wqueue: readU32le(b, at + 60),
    inode: readU32le(b, at + 68),
  };
}

/** struct inet_diag_req_v2 for a dump of AF_INET/`protocol` sockets in `states` (a 1 << TCP_* mask). */
export function inetDiagReqV2(protocol: number, states: number): Uint8Array {
  const r = new Uint8Array(INET_DIAG_REQ_V2_LEN);
  r[0] = AF_INET;
  r[1] = protocol;
  writeU32le(r, 4, states >>> 0);
  return r;
}
