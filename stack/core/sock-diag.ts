/**
 * sock_diag over netlink (net/core/sock_diag.c, CONFIG_INET_DIAG brings it): the
 * NETLINK_SOCK_DIAG family. A SOCK_DIAG_BY_FAMILY request starts with struct sock_diag_req
 * (family, protocol); __sock_diag_cmd hands it to the handler its address family registered
 * at init (sock_diag_register: inet_diag for AF_INET, stack/ipv4/inet-diag.ts), and answers
 * ENOENT for a family nobody registered. Without INET_DIAG the family itself does not exist
 * and socket(AF_NETLINK, …, NETLINK_SOCK_DIAG) fails with EPROTONOSUPPORT.
 */
import { NETLINK_DUMP_STARTED, netlinkRcvSkb, type Netlink, type NetlinkRcvMsg, type NetlinkSock } from './netlink.js';
import { NETLINK_SOCK_DIAG } from '../uapi/netlink.js';
import { SOCK_DIAG_BY_FAMILY } from '../uapi/inet-diag.js';
import { AF_MAX } from '../uapi/socket.js';
import { Errno } from '../uapi/errno.js';

/** sizeof(struct sock_diag_req): sdiag_family and sdiag_protocol. */
const SOCK_DIAG_REQ_LEN = 2;

/**
 * A family's sock_diag_handler->dump: the request's body runs from `body` to `end` in `b`;
 * NETLINK_DUMP_STARTED when a dump was sent, else a negative errno for the acknowledgement.
 */
export type SockDiagDump = (sk: NetlinkSock, b: Uint8Array, body: number, end: number, flags: number, seq: number) => number;

export class SockDiag {
  /** Dumps started, for the report's "which path" figures. */
  requests = 0;
  private readonly handlers = new Map<number, SockDiagDump>();

  constructor(netlink: Netlink) {
    const rcvMsg: NetlinkRcvMsg = (sk, b, h, body, end) => this.request(sk, b, body, end, h.type, h.flags, h.seq);
    netlink.registerFamily(NETLINK_SOCK_DIAG, { input: (sk, skb) => netlinkRcvSkb(sk, skb, rcvMsg) }, 'sock_diag');
  }

  /** sock_diag_register: `family`'s requests go to `dump`. */
  register(family: number, dump: SockDiagDump): void {
    this.handlers.set(family, dump);
  }

  /** sock_diag_rcv_msg → __sock_diag_cmd. */
  private request(sk: NetlinkSock, b: Uint8Array, body: number, end: number, type: number, flags: number, seq: number): number {
    if (type !== SOCK_DIAG_BY_FAMILY) return -Errno.EINVAL; // the old TCPDIAG_GETSOCK types are not modelled
    if (end - body < SOCK_DIAG_REQ_LEN) return -Errno.EINVAL;
    const family = b[body]!;
    if (family >= AF_MAX) return -Errno.EINVAL;
    const dump = this.handlers.get(family);
    if (!dump) return -Errno.ENOENT;
    const r = dump(sk, b, body, end, flags, seq);
    if (r === NETLINK_DUMP_STARTED) this.requests++;
    return r;
  }
}
