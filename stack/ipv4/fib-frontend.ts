/**
 * The IPv4 route messages of rtnetlink (net/ipv4/fib_frontend.c: inet_rtm_newroute,
 * inet_rtm_delroute, inet_dump_fib; route.c: inet_rtm_getroute), registered at init as
 * ip_fib_init and ip_rt_init do. Adding and removing go through devinet.ts, as the ioctl path
 * does. quarklab's FIB is the main table only.
 */
import type { NetStack } from '../net-stack.js';
import { prefixMask } from '../uapi/addr.js';
import { NETLINK_DUMP_STARTED } from '../core/netlink.js';
import { rtnlDumper, u32Attr, type Rtnetlink, type RtnlRequest } from '../core/rtnetlink.js';
import { inetAddRoute, inetDelRoute } from './devinet.js';
import type { Route } from './fib.js';
import { NlWriter, parseAttrs, type Attr } from '../uapi/netlink-message.js';
import { AF_INET, AF_UNSPEC } from '../uapi/socket.js';
import { nlmsgAlign } from '../uapi/netlink.js';
import {
  RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE, RTMSG_LEN, RTM_DELROUTE, RTM_GETROUTE,
  RTM_NEWROUTE, RTN_UNICAST, RTPROT_BOOT, RTPROT_DHCP, RTPROT_KERNEL, RT_SCOPE_HOST, RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE, RT_TABLE_MAIN,
} from '../uapi/rtnetlink.js';
import { Errno } from '../uapi/errno.js';

/**
 * rtnl_register for the route messages of AF_INET. RTM_GETROUTE answers AF_UNSPEC too, as
 * rtnl_dump_all would with IPv4 the stack's only address family.
 */
export function fibRtnlInit(stack: NetStack, rtnl: Rtnetlink): void {
  rtnl.register(AF_INET, RTM_NEWROUTE, { doit: (r) => newRoute(stack, r) });
  rtnl.register(AF_INET, RTM_DELROUTE, { doit: (r) => delRoute(stack, r) });
  for (const family of [AF_INET, AF_UNSPEC]) rtnl.register(family, RTM_GETROUTE, { doit: (r) => getRoute(stack, r), dumpit: (r) => dumpRoutes(stack, r) });
}

function protocolCode(p: Route['protocol']): number {
  return p === 'kernel' ? RTPROT_KERNEL : p === 'dhcp' ? RTPROT_DHCP : RTPROT_BOOT;
}

function rtmsg(r: RtnlRequest): { dstLen: number; type: number; attrs: Map<number, Attr> } | null {
  if (r.end - r.body < RTMSG_LEN) return null;
  return { dstLen: r.bytes[r.body + 1]!, type: r.bytes[r.body + 7]!, attrs: parseAttrs(r.bytes, r.body + nlmsgAlign(RTMSG_LEN), r.end) };
}

/** rtm_to_fib_config: the route a RTM_NEWROUTE / RTM_DELROUTE names, or a negative errno. */
function routeConfig(r: RtnlRequest): { dst: number; dstLen: number; gateway: number | null; oif: number | null; metric: number | null; prefSrc: number | null; type: number } | number {
  const m = rtmsg(r);
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
function newRoute(stack: NetStack, r: RtnlRequest): number {
  const c = routeConfig(r);
  if (typeof c === 'number') return c;
  // quarklab's FIB holds unicast routes only (no blackhole, unreachable, local or broadcast entries).
  if (c.type !== RTN_UNICAST) return -Errno.EOPNOTSUPP;
  if (c.oif !== null && !stack.device(c.oif)) return -Errno.ENODEV;
  if (!c.gateway && c.oif === null) return -Errno.EINVAL;
  const protocol = r.bytes[r.body + 5] === RTPROT_DHCP ? 'dhcp' : 'boot';
  return inetAddRoute(stack, c.dst, c.dstLen, c.gateway ?? 0, c.oif ?? undefined, { metric: c.metric ?? 0, prefSrc: c.prefSrc ?? 0, protocol });
}

/** inet_rtm_delroute. */
function delRoute(stack: NetStack, r: RtnlRequest): number {
  const c = routeConfig(r);
  if (typeof c === 'number') return c;
  return inetDelRoute(stack, c.dst, c.dstLen, { gateway: c.gateway ?? undefined, ifindex: c.oif ?? undefined, metric: c.metric ?? undefined });
}

function writeRoute(w: NlWriter, rt: Route, dst: number, dstLen: number): void {
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
function dumpRoutes(stack: NetStack, r: RtnlRequest): number {
  const out = rtnlDumper(r, RTM_NEWROUTE);
  for (const rt of stack.fib.routes()) {
    out.add((w, at) => {
      writeRoute(w, rt, rt.dst, rt.prefixLen);
      return at;
    });
  }
  out.finish();
  return NETLINK_DUMP_STARTED;
}

/** inet_rtm_getroute (`ip route get A`): the route a packet to RTA_DST would take. */
function getRoute(stack: NetStack, r: RtnlRequest): number {
  const m = rtmsg(r);
  if (!m) return -Errno.EINVAL;
  const d = u32Attr(r.bytes, m.attrs.get(RTA_DST), true);
  if (d !== null && typeof d !== 'number') return d.err;
  const dst = d ?? 0;
  const rt = stack.fib.lookup(dst);
  if (!rt) return -Errno.ENETUNREACH;
  const w = new NlWriter();
  const at = w.begin(RTM_NEWROUTE, 0, r.h.seq, r.sk.portid);
  writeRoute(w, { ...rt, prefSrc: rt.prefSrc || stack.primaryAddress(rt.ifindex) }, dst, 32);
  w.end(at);
  r.sk.deliver(w.view());
  return 0;
}
