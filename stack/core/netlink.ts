/**
 * AF_NETLINK sockets (net/netlink/af_netlink.c, CONFIG_NETLINK): a program's socket talking to
 * a kernel family (NETLINK_ROUTE is the only one modelled). sendto copies the request into an
 * skb in board RAM, which the family's input handler parses there (netlink_unicast_kernel runs
 * it synchronously, so the answer is queued when sendto returns); answers are skbs queued on
 * the socket against its receive buffer, and an answer that does not fit is dropped and
 * reported as ENOBUFS (netlink_overrun).
 *
 * struct netlink_sock is not in the calibration: it is charged as struct sock (measured) plus
 * NETLINK_SOCK_EXTRA, the netlink fields counted by hand from the Linux 6.1 layout on i386
 * without lock debugging (portid, groups, wait queue, the 96-byte netlink_callback, callback
 * mutex, function pointers, rhash node, rcu head and work item) — an estimate, not a
 * measurement.
 */
import type { SlabCache } from './kmem.js';
import { allocSkb, type SkBuff } from './skbuff.js';
import type { NetStack } from '../net-stack.js';
import { Sock, type SockAddr } from '../socket/sock.js';
import type { SockMemory } from '../socket/socket-table.js';
import type { Datagram, DatagramSock } from '../socket/syscalls.js';
import { NlWriter, parseNlmsg, type NlmsgHeader } from '../uapi/netlink-message.js';
import { writeU32le } from '../uapi/byte-order.js';
import {
  NLM_F_ACK, NLM_F_CAPPED, NLM_F_REQUEST, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_MIN_TYPE, nlmsgAlign,
} from '../uapi/netlink.js';
import { Errno } from '../uapi/errno.js';

/** MAX_LINKS: netlink protocol numbers are 0..31. */
const MAX_LINKS = 32;
export const NETLINK_SOCK_EXTRA = 208;

/** A kernel netlink family: parses a request skb (data at the first nlmsghdr) from `sk`. */
export interface NetlinkFamily {
  input(sk: NetlinkSock, skb: SkBuff): void;
}

export class NetlinkSock extends Sock implements DatagramSock {
  constructor(
    stack: NetStack,
    private readonly owner: Netlink,
    readonly mem: SockMemory,
    readonly protocol: number,
    /** nl_pid: the socket's netlink address. */
    public portid: number,
  ) {
    super(stack, mem.skAddr, mem.socketAddr, mem.fileAddr);
  }

  /** bind(sockaddr_nl): `port` is nl_pid (0: keep the autobound one); groups are not modelled. */
  bind(addr: SockAddr): number {
    if (addr.port !== 0 && addr.port !== this.portid) {
      if (this.owner.portInUse(addr.port)) return -Errno.EADDRINUSE;
      this.portid = addr.port >>> 0;
    }
    return 0;
  }

  /** sockaddr_nl of this socket: nl_pid in `port`. */
  getsockname(): SockAddr {
    return { addr: 0, port: this.portid };
  }

  connect(addr: SockAddr): number {
    this.peer = { ...addr };
    return 0;
  }

  /** netlink_sendmsg to the kernel (nl_pid 0): the request is parsed and answered now. */
  sendto(data: Uint8Array, to: SockAddr | null): number {
    const dst = to ?? this.peer;
    if (dst && dst.port !== 0) return -Errno.ECONNREFUSED; // no other user sockets to talk to
    if (data.length > this.sndbuf - 32) return -Errno.EMSGSIZE;
    if (data.length === 0) return 0;
    const skb = allocSkb(this.stack.skbs, data.length);
    if (!skb) return -Errno.ENOBUFS;
    skb.bytes.set(data, skb.put(data.length));
    this.owner.family(this.protocol)?.input(this, skb);
    skb.free();
    return data.length;
  }

  /** One answer skb: every message the kernel put in it, as recvmsg returns them. */
  recvfrom(): Datagram | number {
    const skb = this.recvDatagram();
    if (typeof skb === 'number') return skb;
    const data = skb.view().slice();
    skb.free();
    return { data, from: { addr: 0, port: 0 } };
  }

  /** netlink_unicast from the kernel: queue `bytes` as one skb, or overrun. */
  deliver(bytes: Uint8Array): boolean {
    const skb = allocSkb(this.stack.skbs, bytes.length);
    if (!skb) {
      this.reportError(Errno.ENOBUFS);
      return false;
    }
    skb.bytes.set(bytes, skb.put(bytes.length));
    if (!this.queueRcv(skb)) {
      skb.free();
      this.owner.overruns++;
      this.reportError(Errno.ENOBUFS);
      return false;
    }
    return true;
  }

  release(): void {
    if (this.closed) return;
    this.closed = true;
    this.purgeReceiveQueue();
    this.owner.unhash(this);
  }
}

export class Netlink {
  private readonly cache: SlabCache;
  private readonly families = new Map<number, NetlinkFamily>();
  private readonly socks = new Set<NetlinkSock>();
  private nextPortid = 0x7000;
  /** Answers dropped because a socket's receive buffer was full. */
  overruns = 0;
  readonly sockSize: number;

  constructor(private readonly stack: NetStack) {
    const s = stack.env.structs;
    this.sockSize = s['netlink_sock'] ?? s['sock']! + NETLINK_SOCK_EXTRA;
    this.cache = stack.env.mem.createCache('NETLINK', this.sockSize);
  }

  /** netlink_kernel_create: a family's kernel socket, allocated at init. */
  registerFamily(protocol: number, family: NetlinkFamily, name: string): void {
    this.stack.staticAlloc(`${name} kernel socket (netlink_sock)`, this.sockSize);
    this.families.set(protocol, family);
  }

  family(protocol: number): NetlinkFamily | undefined {
    return this.families.get(protocol);
  }

  /** netlink_create: EPROTONOSUPPORT for a family the kernel does not have. */
  create(type: number, protocol: number): NetlinkSock | number {
    if (type !== 3 /* SOCK_RAW */ && type !== 2 /* SOCK_DGRAM */) return -Errno.ESOCKTNOSUPPORT;
    if (protocol < 0 || protocol >= MAX_LINKS || !this.families.has(protocol)) return -Errno.EPROTONOSUPPORT;
    const mem = this.stack.sockets.allocate(this.cache);
    if (!mem) return -Errno.ENOMEM;
    let portid = this.nextPortid;
    while (this.portInUse(portid)) portid++;
    this.nextPortid = portid + 1;
    const sk = new NetlinkSock(this.stack, this, mem, protocol, portid);
    this.socks.add(sk);
    return sk;
  }

  portInUse(portid: number): boolean {
    for (const s of this.socks) if (s.portid === portid) return true;
    return false;
  }

  unhash(sk: NetlinkSock): void {
    this.socks.delete(sk);
    this.stack.sockets.free(this.cache, sk.mem);
  }

  get count(): number {
    return this.socks.size;
  }
}

/**
 * What a family's handler returns when it answered with a dump: no acknowledgement follows, even
 * for NLM_F_ACK (netlink_dump_start's -EINTR, which netlink_rcv_skb skips).
 */
export const NETLINK_DUMP_STARTED = -Errno.EINTR;

/**
 * A family's handler for one request: the request's header, where its body starts and ends in
 * `bytes`; it returns 0, a negative errno for the acknowledgement, or NETLINK_DUMP_STARTED.
 */
export type NetlinkRcvMsg = (sk: NetlinkSock, bytes: Uint8Array, h: NlmsgHeader, body: number, end: number) => number;

/**
 * netlink_rcv_skb: every message in a request skb in turn. Control messages and non-requests
 * are not handed to the family; an error, or NLM_F_ACK, is acknowledged; a length that lies
 * ends the walk.
 */
export function netlinkRcvSkb(sk: NetlinkSock, skb: SkBuff, rcvMsg: NetlinkRcvMsg): void {
  const bytes = skb.bytes;
  let at = skb.data;
  const end = skb.tail;
  while (at + NLMSG_HDRLEN <= end) {
    const h = parseNlmsg(bytes, at, end);
    if (!h) return;
    let err = 0;
    if ((h.flags & NLM_F_REQUEST) !== 0 && h.type >= NLMSG_MIN_TYPE) err = rcvMsg(sk, bytes, h, at + NLMSG_HDRLEN, at + h.len);
    if (err !== NETLINK_DUMP_STARTED && (err !== 0 || (h.flags & NLM_F_ACK) !== 0)) netlinkAck(sk, bytes, h, err);
    at += Math.min(nlmsgAlign(h.len), end - at);
  }
}

/** netlink_ack: NLMSG_ERROR with the error and the request's header (its whole body too on failure). */
export function netlinkAck(sk: NetlinkSock, bytes: Uint8Array, h: NlmsgHeader, err: number): void {
  const w = new NlWriter();
  const at = w.begin(NLMSG_ERROR, err !== 0 ? 0 : NLM_F_CAPPED, h.seq, sk.portid);
  const e = new Uint8Array(4);
  writeU32le(e, 0, err >>> 0);
  w.bytes(e);
  w.bytes(bytes.subarray(h.at, h.at + (err !== 0 ? h.len : NLMSG_HDRLEN)));
  w.end(at);
  sk.deliver(w.view());
}
