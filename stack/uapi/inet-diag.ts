/**
 * Socket monitoring over NETLINK_SOCK_DIAG (Linux include/uapi/linux/sock_diag.h and
 * inet_diag.h): the request type, the sizes of the request and the answer, and their layouts
 * (struct inet_diag_req_v2 built, struct inet_diag_msg parsed) for programs such as ss.
 */
import { readU32, readU32le, writeU32le } from './byte-order.js';
import { AF_INET } from './socket.js';

export const SOCK_DIAG_BY_FAMILY = 20;
/** sizeof(struct inet_diag_req_v2) and sizeof(struct inet_diag_msg). */
export const INET_DIAG_REQ_V2_LEN = 56;
export const INET_DIAG_MSG_LEN = 72;

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
  return {
    family: b[at]!,
    state: b[at + 1]!,
    timer: b[at + 2]!,
    retrans: b[at + 3]!,
    sport: (b[at + 4]! << 8) | b[at + 5]!,
    dport: (b[at + 6]! << 8) | b[at + 7]!,
    src: readU32(b, at + 8),
    dst: readU32(b, at + 24),
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
