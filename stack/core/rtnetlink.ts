/**
 * rtnetlink (net/core/rtnetlink.c with the IPv4 handlers of devinet.c and fib_frontend.c,
 * CONFIG_RTNETLINK): NETLINK_ROUTE requests as iproute2 and busybox `ip` send them.
 *
 * netlink_rcv_skb walks the request skb message by message in RAM: each nlmsghdr and each
 * rtattr is bounds-checked against what contains it; a header that does not fit ends the
 * walk; control messages and non-requests are skipped; every failed request, and every
 * request with NLM_F_ACK, is answered with NLMSG_ERROR (the original message echoed after the
 * error code when it failed). Dumps (NLM_F_DUMP) answer with NLM_F_MULTI messages packed into
 * skbs of NLMSG_GOODSIZE and end with NLMSG_DONE; quarklab builds the whole dump at once
 * where Linux fills one skb per recvmsg.
 *
 * Handled: RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR (dump), RTM_NEWROUTE, RTM_DELROUTE,
 * RTM_GETROUTE (dump, or one lookup), RTM_GETLINK. Other types answer EOPNOTSUPP. Adding and
 * removing go through devinet.ts, as the ioctl path does; stack.configStats.rtnetlink counts
 * each message handled here.
 */
import { prefixMask } from './addr.js';
import type { NetStack } from '../net-stack.js';
import { inetAddAddress, inetAddRoute, inetDelAddress, inetDelRoute } from '../ipv4/devinet.js';
import type { Route } from '../ipv4/fib.js';
import { NETLINK_DUMP_STARTED, netlinkRcvSkb, type Netlink, type NetlinkRcvMsg, type NetlinkSock } from './netlink.js';
import { NlWriter, parseAttrs, type Attr, type NlmsgHeader } from '../uapi/netlink-message.js';
import { readU32, readU32le, writeU16le, writeU32le } from '../uapi/byte-order.js';
import { AF_INET, AF_UNSPEC } from '../uapi/socket.js';
import { ARPHRD_ETHER } from '../uapi/if-arp.js';
import { IFF_BROADCAST, IFF_LOWER_UP, IFF_MULTICAST, IFF_RUNNING, IFF_UP } from '../uapi/if.js';
import { Errno } from '../uapi/errno.js';
import { NETLINK_ROUTE, NLMSG_DONE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_MULTI, nlmsgAlign } from '../uapi/netlink.js';
import { IFADDRMSG_LEN, IFA_ADDRESS, IFA_BROADCAST, IFA_F_PERMANENT, IFA_LABEL, IFA_LOCAL } from '../uapi/if-addr.js';
import {
  IFINFOMSG_LEN, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE, RTMSG_LEN,
  RTM_DELADDR, RTM_DELROUTE, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE, RTM_MAX, RTM_NEWADDR,
  RTM_NEWLINK, RTM_NEWROUTE, RTN_UNICAST, RTPROT_BOOT, RTPROT_DHCP, RTPROT_KERNEL, RT_SCOPE_HOST,
  RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN,
} from '../uapi/rtnetlink.js';
import { IFLA_ADDRESS, IFLA_BROADCAST, IFLA_IFNAME, IFLA_MTU, IFLA_TXQLEN } from '../uapi/if-link.js';

/** The flags of an open Ethernet device, and of one that is down. */
const IFF_UP_FLAGS = IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP;
const IFF_DOWN_FLAGS = IFF_BROADCAST | IFF_MULTICAST;
/** NLMSG_GOODSIZE on i386: a page less the aligned skb_shared_info. */
const NLMSG_GOODSIZE = 4096 - 256;

interface Request {
  sk: NetlinkSock;
  bytes: Uint8Array;
  h: NlmsgHeader;
  /** Offset and end of the message body (after nlmsghdr). */
  body: number;
  end: number;
}

/** An attribute as a u32 (host order) or __be32, or a negative errno when it is too short (nla_validate: ERANGE). */
function u32Attr(b: Uint8Array, a: Attr | undefined, bigEndian: boolean): number | null | { err: number } {
  if (!a) return null;
  if (a.len < 4) return { err: -Errno.ERANGE };
  return bigEndian ? readU32(b, a.at) : readU32le(b, a.at);
}

function protocolCode(p: Route['protocol']): number {
  return p === 'kernel' ? RTPROT_KERNEL : p === 'dhcp' ? RTPROT_DHCP : RTPROT_BOOT;
}

export class Rtnetlink {
  constructor(
    private readonly stack: NetStack,
    netlink: Netlink,
  ) {
    const rcvMsg: NetlinkRcvMsg = (sk, bytes, h, body, end) => this.dispatch({ sk, bytes, h, body, end });
    netlink.registerFamily(NETLINK_ROUTE, { input: (sk, skb) => netlinkRcvSkb(sk, skb, rcvMsg) }, 'rtnl');
  }

  /** rtnetlink_rcv_msg: 0 or a negative errno for the acknowledgement, or NETLINK_DUMP_STARTED. */
  private dispatch(r: Request): number {
    if (r.h.type > RTM_MAX) return -Errno.EOPNOTSUPP;
    // "All the messages must have at least 1 byte length": an empty body is ignored.
    if (r.end - r.body < 1) return 0;
    const family = r.bytes[r.body]!;
    const dump = (r.h.flags & NLM_F_DUMP) === NLM_F_DUMP;
    const inet = family === AF_INET || family === AF_UNSPEC;
    let result: number;
    switch (r.h.type) {
      case RTM_NEWADDR: result = family === AF_INET ? this.newAddr(r) : -Errno.EOPNOTSUPP; break;
      case RTM_DELADDR: result = family === AF_INET ? this.delAddr(r) : -Errno.EOPNOTSUPP; break;
      case RTM_GETADDR: result = inet && dump ? this.dumpAddrs(r) : -Errno.EOPNOTSUPP; break;
      case RTM_NEWROUTE: result = family === AF_INET ? this.newRoute(r) : -Errno.EOPNOTSUPP; break;
      case RTM_DELROUTE: result = family === AF_INET ? this.delRoute(r) : -Errno.EOPNOTSUPP; break;
      case RTM_GETROUTE: result = !inet ? -Errno.EOPNOTSUPP : dump ? this.dumpRoutes(r) : this.getRoute(r); break;
      case RTM_GETLINK: result = this.getLink(r, dump); break;
      default: return -Errno.EOPNOTSUPP;
    }
    this.stack.configStats.rtnetlink++;
    return result;
  }

  // ------------------------------------------------------------------ addresses

  private ifaddrmsg(r: Request): { prefixLen: number; ifindex: number; attrs: Map<number, Attr> } | null {
    if (r.end - r.body < IFADDRMSG_LEN) return null;
    return {
      prefixLen: r.bytes[r.body + 1]!,
      ifindex: readU32le(r.bytes, r.body + 4),
      attrs: parseAttrs(r.bytes, r.body + nlmsgAlign(IFADDRMSG_LEN), r.end),
    };
  }

  /** inet_rtm_newaddr (rtm_to_ifaddr, __inet_insert_ifa). */
  private newAddr(r: Request): number {
    const m = this.ifaddrmsg(r);
    if (!m) return -Errno.EINVAL;
    const local = u32Attr(r.bytes, m.attrs.get(IFA_LOCAL), true);
    if (m.prefixLen > 32 || local === null) return -Errno.EINVAL;
    if (typeof local !== 'number') return local.err;
    if (!this.stack.device(m.ifindex)) return -Errno.ENODEV;
    if (local === 0) return 0; // an all-zero local address is not inserted
    const e = inetAddAddress(this.stack, m.ifindex, local, m.prefixLen);
    // Without NLM_F_EXCL an existing address is updated in place (its lifetimes): success.
    if (e === -Errno.EEXIST && (r.h.flags & NLM_F_EXCL) === 0) return 0;
    return e;
  }

  /** inet_rtm_deladdr: the address matching IFA_LOCAL and, if given, IFA_ADDRESS and the prefix length. */
  private delAddr(r: Request): number {
    const m = this.ifaddrmsg(r);
    if (!m) return -Errno.EINVAL;
    if (!this.stack.device(m.ifindex)) return -Errno.ENODEV;
    const local = u32Attr(r.bytes, m.attrs.get(IFA_LOCAL), true);
    const address = u32Attr(r.bytes, m.attrs.get(IFA_ADDRESS), true);
    if (local !== null && typeof local !== 'number') return local.err;
    if (address !== null && typeof address !== 'number') return address.err;
    const a = this.stack.addresses.find((x) =>
      x.ifindex === m.ifindex &&
      (local === null || x.addr === local) &&
      (address === null || (x.prefixLen === m.prefixLen && ((x.addr ^ address) & prefixMask(x.prefixLen)) === 0)));
    if (!a) return -Errno.EADDRNOTAVAIL;
    return inetDelAddress(this.stack, m.ifindex, a.addr);
  }

  /** inet_dump_ifaddr: one RTM_NEWADDR per address. */
  private dumpAddrs(r: Request): number {
    const out = this.dumper(r);
    for (const a of this.stack.addresses) {
      const dev = this.stack.device(a.ifindex);
      out.add((w, at) => {
        const ifa = new Uint8Array(IFADDRMSG_LEN);
        ifa[0] = AF_INET;
        ifa[1] = a.prefixLen;
        ifa[2] = IFA_F_PERMANENT;
        ifa[3] = RT_SCOPE_UNIVERSE;
        writeU32le(ifa, 4, a.ifindex);
        w.bytes(ifa);
        w.be32(IFA_ADDRESS, a.addr);
        w.be32(IFA_LOCAL, a.addr);
        if (a.prefixLen < 31) w.be32(IFA_BROADCAST, (a.addr | (0xffffffff >>> a.prefixLen)) >>> 0);
        if (dev) w.str(IFA_LABEL, dev.name);
        return at;
      });
    }
    out.finish();
    return NETLINK_DUMP_STARTED;
  }

  // ------------------------------------------------------------------ routes

  private rtmsg(r: Request): { dstLen: number; type: number; attrs: Map<number, Attr> } | null {
    if (r.end - r.body < RTMSG_LEN) return null;
    return { dstLen: r.bytes[r.body + 1]!, type: r.bytes[r.body + 7]!, attrs: parseAttrs(r.bytes, r.body + nlmsgAlign(RTMSG_LEN), r.end) };
  }

  /** rtm_to_fib_config: the route a RTM_NEWROUTE / RTM_DELROUTE names, or a negative errno. */
  private routeConfig(r: Request): { dst: number; dstLen: number; gateway: number | null; oif: number | null; metric: number | null; prefSrc: number | null; type: number } | number {
    const m = this.rtmsg(r);
    if (!m || m.dstLen > 32) return -Errno.EINVAL;
    const fields = { dst: RTA_DST, gateway: RTA_GATEWAY, prefSrc: RTA_PREFSRC } as const;
    const v: Record<string, number | null> = {};
    for (const [name, type] of Object.entries(fields)) {
      const x = u32Attr(r.bytes, m.attrs.get(type), true);
      if (x !== null && typeof x !== 'number') return x.err;
      v[name] = x;
    }
    for (const [name, type] of [['oif', RTA_OIF], ['metric', RTA_PRIORITY], ['table', RTA_TABLE]] as const) {
      const x = u32Attr(r.bytes, m.attrs.get(type), false);
      if (x !== null && typeof x !== 'number') return x.err;
      v[name] = x;
    }
    const dst = v['dst'] ?? 0;
    // "Invalid prefix for given prefix length": host bits must be clear.
    if (((dst & ~prefixMask(m.dstLen)) >>> 0) !== 0) return -Errno.EINVAL;
    return { dst, dstLen: m.dstLen, gateway: v['gateway'] ?? null, oif: v['oif'] ?? null, metric: v['metric'] ?? null, prefSrc: v['prefSrc'] ?? null, type: m.type };
  }

  /** inet_rtm_newroute. */
  private newRoute(r: Request): number {
    const c = this.routeConfig(r);
    if (typeof c === 'number') return c;
    // quarklab's FIB holds unicast routes only (no blackhole, unreachable, local or broadcast entries).
    if (c.type !== RTN_UNICAST) return -Errno.EOPNOTSUPP;
    if (c.oif !== null && !this.stack.device(c.oif)) return -Errno.ENODEV;
    if (!c.gateway && c.oif === null) return -Errno.EINVAL;
    const protocol = r.bytes[r.body + 5] === RTPROT_DHCP ? 'dhcp' : 'boot';
    return inetAddRoute(this.stack, c.dst, c.dstLen, c.gateway ?? 0, c.oif ?? undefined, { metric: c.metric ?? 0, prefSrc: c.prefSrc ?? 0, protocol });
  }

  /** inet_rtm_delroute. */
  private delRoute(r: Request): number {
    const c = this.routeConfig(r);
    if (typeof c === 'number') return c;
    return inetDelRoute(this.stack, c.dst, c.dstLen, { gateway: c.gateway ?? undefined, ifindex: c.oif ?? undefined, metric: c.metric ?? undefined });
  }

  private writeRoute(w: NlWriter, rt: Route, dst: number, dstLen: number): void {
    const rtm = new Uint8Array(RTMSG_LEN);
    rtm[0] = AF_INET;
    rtm[1] = dstLen;
    rtm[4] = RT_TABLE_MAIN;
    rtm[5] = protocolCode(rt.protocol);
    rtm[6] = rt.scope === 'link' ? RT_SCOPE_LINK : rt.scope === 'host' ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
    rtm[7] = RTN_UNICAST;
    w.bytes(rtm);
    w.u32(RTA_TABLE, RT_TABLE_MAIN);
    if (dstLen > 0) w.be32(RTA_DST, dst);
    if (rt.metric) w.u32(RTA_PRIORITY, rt.metric);
    if (rt.prefSrc) w.be32(RTA_PREFSRC, rt.prefSrc);
    if (rt.gateway) w.be32(RTA_GATEWAY, rt.gateway);
    w.u32(RTA_OIF, rt.ifindex);
  }

  /** inet_dump_fib: every route of the main table. */
  private dumpRoutes(r: Request): number {
    const out = this.dumper(r);
    for (const rt of this.stack.fib.routes()) {
      out.add((w, at) => {
        this.writeRoute(w, rt, rt.dst, rt.prefixLen);
        return at;
      });
    }
    out.finish();
    return NETLINK_DUMP_STARTED;
  }

  /** inet_rtm_getroute (`ip route get A`): the route a packet to RTA_DST would take. */
  private getRoute(r: Request): number {
    const m = this.rtmsg(r);
    if (!m) return -Errno.EINVAL;
    const d = u32Attr(r.bytes, m.attrs.get(RTA_DST), true);
    if (d !== null && typeof d !== 'number') return d.err;
    const dst = d ?? 0;
    const rt = this.stack.fib.lookup(dst);
    if (!rt) return -Errno.ENETUNREACH;
    const w = new NlWriter();
    const at = w.begin(RTM_NEWROUTE, 0, r.h.seq, r.sk.portid);
    this.writeRoute(w, { ...rt, prefSrc: rt.prefSrc || this.stack.primaryAddress(rt.ifindex) }, dst, 32);
    w.end(at);
    r.sk.deliver(w.view());
    return 0;
  }

  // ------------------------------------------------------------------ links

  /** rtnl_getlink / rtnl_dump_ifinfo: RTM_NEWLINK for one device (ifi_index) or all of them. */
  private getLink(r: Request, dump: boolean): number {
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
    const out = this.dumper(r);
    for (const d of devs) out.add((w, at) => (write(w, d), at), RTM_NEWLINK);
    out.finish();
    return NETLINK_DUMP_STARTED;
  }

  // ------------------------------------------------------------------ dumps

  /** Packs NLM_F_MULTI messages into skbs of at most NLMSG_GOODSIZE bytes, then NLMSG_DONE. */
  private dumper(r: Request): { add(body: (w: NlWriter, at: number) => number, type?: number): void; finish(): void } {
    const sk = r.sk;
    let w = new NlWriter();
    const type = r.h.type === RTM_GETADDR ? RTM_NEWADDR : r.h.type === RTM_GETROUTE ? RTM_NEWROUTE : RTM_NEWLINK;
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
      add: (body, t = type) => put(t, body),
      finish: () => {
        put(NLMSG_DONE, (wr, at) => {
          wr.bytes(new Uint8Array(4)); // dump_done_errno 0
          return at;
        });
        flush();
      },
    };
  }
}
