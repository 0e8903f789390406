/**
 * rtnetlink (net/core/rtnetlink.c, CONFIG_RTNETLINK): the NETLINK_ROUTE family as iproute2 and
 * busybox `ip` use it. Handlers are registered per address family and message type at init,
 * as rtnl_register does: devinet.ts registers the IPv4 address messages, fib-frontend.ts the
 * IPv4 route messages; core answers RTM_GETLINK itself, for any family (its own link messages
 * are PF_UNSPEC in Linux, the fallback every family's request reaches).
 *
 * netlink_rcv_skb walks the request skb message by message in RAM: each nlmsghdr and each
 * rtattr is bounds-checked against what contains it; a header that does not fit ends the
 * walk; control messages and non-requests are skipped; every failed request, and every
 * request with NLM_F_ACK, is answered with NLMSG_ERROR (the original message echoed after the
 * error code when it failed). A GET with NLM_F_DUMP goes to the handler's dumpit, which
 * answers with NLM_F_MULTI messages packed into skbs of NLMSG_GOODSIZE and ends with
 * NLMSG_DONE (rtnlDumper); quarklab builds the whole dump at once where Linux fills one skb per
 * recvmsg. Anything else goes to its doit. A message type or family nobody registered answers
 * EOPNOTSUPP. stack.configStats.rtnetlink counts each message of a registered type.
 */
import type { NetStack } from '../net-stack.js';
import { netlinkRcvSkb, NETLINK_DUMP_STARTED, type Netlink, type NetlinkRcvMsg, type NetlinkSock } from './netlink.js';
import { NlWriter, type Attr, type NlmsgHeader } from '../uapi/netlink-message.js';
import { readU32, readU32le, writeU16le, writeU32le } from '../uapi/byte-order.js';
import { ARPHRD_ETHER } from '../uapi/if-arp.js';
import { IFF_BROADCAST, IFF_LOWER_UP, IFF_MULTICAST, IFF_RUNNING, IFF_UP } from '../uapi/if.js';
import { Errno } from '../uapi/errno.js';
import { NETLINK_ROUTE, NLMSG_DONE, NLM_F_DUMP, NLM_F_MULTI } from '../uapi/netlink.js';
import { IFINFOMSG_LEN, RTM_BASE, RTM_GETLINK, RTM_MAX, RTM_NEWLINK } from '../uapi/rtnetlink.js';
import { IFLA_ADDRESS, IFLA_BROADCAST, IFLA_IFNAME, IFLA_MTU, IFLA_TXQLEN } from '../uapi/if-link.js';

/** The flags of an open Ethernet device, and of one that is down. */
const IFF_UP_FLAGS = IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP;
const IFF_DOWN_FLAGS = IFF_BROADCAST | IFF_MULTICAST;
/** NLMSG_GOODSIZE on i386: a page less the aligned skb_shared_info. */
const NLMSG_GOODSIZE = 4096 - 256;
/** RTNL_KIND_GET: (type − RTM_BASE) & 3 of every RTM_GET* message. */
const RTNL_KIND_GET = 2;

/** One request message as a handler sees it. */
export interface RtnlRequest {
  sk: NetlinkSock;
  bytes: Uint8Array;
  h: NlmsgHeader;
  /** Offset and end of the message body (after nlmsghdr). */
  body: number;
  end: number;
}

/** rtnl_doit_func / rtnl_dumpit_func: 0 or a negative errno for the acknowledgement, or NETLINK_DUMP_STARTED. */
export type RtnlHandler = (r: RtnlRequest) => number;

/** What rtnl_register records for one family and message type. */
export interface RtnlLink {
  doit?: RtnlHandler;
  dumpit?: RtnlHandler;
}

/** An attribute as a u32 (host order) or __be32, or a negative errno when it is too short (nla_validate: ERANGE). */
export function u32Attr(b: Uint8Array, a: Attr | undefined, bigEndian: boolean): number | null | { err: number } {
  if (!a) return null;
  if (a.len < 4) return { err: -Errno.ERANGE };
  return bigEndian ? readU32(b, a.at) : readU32le(b, a.at);
}

export class Rtnetlink {
  private readonly links = new Map<number, RtnlLink>();
  /** rtnetlink.c's own messages, which answer a request of any family. */
  private readonly own = new Map<number, RtnlLink>();

  constructor(
    private readonly stack: NetStack,
    netlink: Netlink,
  ) {
    const rcvMsg: NetlinkRcvMsg = (sk, bytes, h, body, end) => this.dispatch({ sk, bytes, h, body, end });
    netlink.registerFamily(NETLINK_ROUTE, { input: (sk, skb) => netlinkRcvSkb(sk, skb, rcvMsg) }, 'rtnl');
    // rtnetlink_init: rtnl_register(PF_UNSPEC, RTM_GETLINK, rtnl_getlink, rtnl_dump_ifinfo).
    this.own.set(RTM_GETLINK, { doit: (r) => this.getLink(r, false), dumpit: (r) => this.getLink(r, true) });
  }

  /** rtnl_register: `family`'s requests of `msgtype` go to `link`. */
  register(family: number, msgtype: number, link: RtnlLink): void {
    this.links.set(family * 256 + msgtype, link);
  }

  private registered(type: number): boolean {
    if (this.own.has(type)) return true;
    for (const key of this.links.keys()) if (key % 256 === type) return true;
    return false;
  }

  /** rtnetlink_rcv_msg: 0 or a negative errno for the acknowledgement, or NETLINK_DUMP_STARTED. */
  private dispatch(r: RtnlRequest): number {
    if (r.h.type > RTM_MAX) return -Errno.EOPNOTSUPP;
    // "All the messages must have at least 1 byte length": an empty body is ignored.
    if (r.end - r.body < 1) return 0;
    if (!this.registered(r.h.type)) return -Errno.EOPNOTSUPP;
    this.stack.configStats.rtnetlink++;
    const family = r.bytes[r.body]!;
    const link = this.links.get(family * 256 + r.h.type) ?? this.own.get(r.h.type);
    const dump = ((r.h.type - RTM_BASE) & 3) === RTNL_KIND_GET && (r.h.flags & NLM_F_DUMP) === NLM_F_DUMP;
    const handler = dump ? link?.dumpit : link?.doit;
    return handler ? handler(r) : -Errno.EOPNOTSUPP;
  }

  // ------------------------------------------------------------------ links

  /** rtnl_getlink / rtnl_dump_ifinfo: RTM_NEWLINK for one device (ifi_index) or all of them. */
  private getLink(r: RtnlRequest, dump: boolean): number {
    if (r.end - r.body < IFINFOMSG_LEN && !dump) return -Errno.EINVAL;
    const devs = dump ? this.stack.devices : this.stack.devices.filter((d) => d.ifindex === readU32le(r.bytes, r.body + 4));
    if (!dump && devs.length === 0) return -Errno.ENODEV;
    const write = (w: NlWriter, d: (typeof devs)[number]): void => {
      const ifi = new Uint8Array(IFINFOMSG_LEN);
      writeU16le(ifi, 2, ARPHRD_ETHER);
      writeU32le(ifi, 4, d.ifindex);
      writeU32le(ifi, 8, d.up ? IFF_UP_FLAGS : IFF_DOWN_FLAGS);
      w.bytes(ifi);
      w.str(IFLA_IFNAME, d.name);
      w.u32(IFLA_MTU, d.mtu);
      w.u32(IFLA_TXQLEN, d.txQueueLen);
      w.attr(IFLA_ADDRESS, d.hwAddr);
      w.attr(IFLA_BROADCAST, Uint8Array.of(255, 255, 255, 255, 255, 255));
    };
    if (!dump) {
      const w = new NlWriter();
      const at = w.begin(RTM_NEWLINK, 0, r.h.seq, r.sk.portid);
      write(w, devs[0]!);
      w.end(at);
      r.sk.deliver(w.view());
      return 0;
    }
    const out = rtnlDumper(r, RTM_NEWLINK);
    for (const d of devs) out.add((w, at) => (write(w, d), at));
    out.finish();
    return NETLINK_DUMP_STARTED;
  }
}

/**
 * A dump's answer: NLM_F_MULTI messages of `type` packed into skbs of at most NLMSG_GOODSIZE
 * bytes, then NLMSG_DONE.
 */
export function rtnlDumper(r: RtnlRequest, type: number): { add(body: (w: NlWriter, at: number) => number): void; finish(): void } {
  const sk = r.sk;
  let w = new NlWriter();
  const flush = (): void => {
    if (w.length > 0) sk.deliver(w.view());
    w = new NlWriter();
  };
  const put = (t: number, fill: (w: NlWriter, at: number) => number): void => {
    const start = w.length;
    const at = w.begin(t, NLM_F_MULTI, r.h.seq, sk.portid);
    fill(w, at);
    w.end(at);
    if (w.length > NLMSG_GOODSIZE && start > 0) {
      // Did not fit: send what came before and start the next skb with this message.
      const msg = w.view().slice(start);
      w.truncate(start);
      flush();
      w.bytes(msg);
    }
  };
  return {
    add: (body) => put(type, body),
    finish: () => {
      put(NLMSG_DONE, (wr, at) => {
        wr.bytes(new Uint8Array(4)); // dump_done_errno 0
        return at;
      });
      flush();
    },
  };
}
