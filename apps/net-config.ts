/**
 * Userland interface configuration — what a DHCP client's script runs to apply a lease —
 * through whichever path the kernel has:
 *
 *  - rtnetlink (busybox `ip addr add A/P dev eth0; ip route add default via G dev eth0`): an
 *    AF_NETLINK/NETLINK_ROUTE socket, RTM_NEWADDR and RTM_NEWROUTE requests with NLM_F_ACK, and
 *    the kernel's NLMSG_ERROR acknowledgement read back;
 *  - ioctl (busybox `ifconfig eth0 A netmask M; route add default gw G`): an AF_INET datagram
 *    socket and SIOCSIFADDR, SIOCSIFNETMASK, SIOCADDRT.
 *
 * rtnetlink is tried first; a kernel without it (the minimal profile: no CONFIG_NETLINK) fails
 * socket(AF_NETLINK) with EAFNOSUPPORT, and the ioctl path is used, as a script that falls back
 * from `ip` to `ifconfig` does. The messages are laid out as on Linux/i386: netlink headers and
 * struct fields in host (little-endian) order, addresses in network order.
 *
 * Netlink requests to the kernel are handled synchronously (as netlink_unicast to the kernel
 * socket is in Linux), so the acknowledgement is on the socket when sendto returns.
 */
import { ipToString, prefixMask } from '../stack/core/addr.js';
import type { Syscalls } from '../stack/socket/syscalls.js';
import { readU16le, readU32le, writeU16le, writeU32, writeU32le } from '../stack/uapi/byte-order.js';
import { AF_INET, AF_NETLINK, SOCK_DGRAM, SOCK_RAW } from '../stack/uapi/socket.js';
import {
  NETLINK_ROUTE, NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
  nlmsgAlign,
} from '../stack/uapi/netlink.js';
import {
  RTA_GATEWAY, RTA_OIF, RTM_DELADDR, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWROUTE, RTN_UNICAST,
  RTMSG_LEN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN,
} from '../stack/uapi/rtnetlink.js';
import { IFA_ADDRESS, IFA_LOCAL, IFADDRMSG_LEN } from '../stack/uapi/if-addr.js';
import { NlWriter } from '../stack/uapi/netlink-message.js';
import {
  SIOCADDRT, SIOCDELRT, SIOCGIFHWADDR, SIOCGIFINDEX, SIOCSIFADDR, SIOCSIFNETMASK,
} from '../stack/uapi/sockios.js';
import { RTENTRY_SIZE, RTF_GATEWAY, RTF_UP } from '../stack/uapi/route.js';
import { IFREQ_SIZE } from '../stack/uapi/if.js';
import { errnoName } from '../stack/uapi/errno.js';

export interface InterfaceConfig {
  ifindex: number;
  ifname: string;
  address: number;
  prefixLen: number;
  /** Default gateway, if any. */
  router?: number;
}

export type ConfigPath = 'rtnetlink' | 'ioctl';

export interface ConfigOutcome {
  /** The path used, null when neither could be opened. */
  path: ConfigPath | null;
  /** What was done, as the commands a script would have run. */
  steps: string[];
  /** The first failure, null when every step succeeded. */
  error: string | null;
}

// ---------------------------------------------------------------- rtnetlink messages

/**
 * RTM_NEWADDR / RTM_DELADDR: struct ifaddrmsg, IFA_LOCAL and IFA_ADDRESS (as `ip addr` sends),
 * built with the netlink message writer programs and the kernel share (stack/uapi/).
 */
export function addrMessage(type: typeof RTM_NEWADDR | typeof RTM_DELADDR, seq: number, c: InterfaceConfig): Uint8Array {
  const ifa = new Uint8Array(IFADDRMSG_LEN);
  ifa[0] = AF_INET;
  ifa[1] = c.prefixLen;
  ifa[2] = 0;
  ifa[3] = RT_SCOPE_UNIVERSE;
  writeU32le(ifa, 4, c.ifindex);
  const flags = NLM_F_REQUEST | NLM_F_ACK | (type === RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
  const w = new NlWriter();
  const at = w.begin(type, flags, seq, 0);
  w.bytes(ifa);
  w.be32(IFA_LOCAL, c.address);
  w.be32(IFA_ADDRESS, c.address);
  w.end(at);
  return w.view().slice();
}

/** RTM_NEWROUTE / RTM_DELROUTE for the default route: struct rtmsg (12 bytes), RTA_GATEWAY, RTA_OIF. */
export function defaultRouteMessage(type: typeof RTM_NEWROUTE | typeof RTM_DELROUTE, seq: number, gateway: number, ifindex: number): Uint8Array {
  const rtm = new Uint8Array(RTMSG_LEN); // the eight u8 fields, then rtm_flags (u32, 0)
  rtm[0] = AF_INET;
  rtm[1] = 0; // dst_len: default route
  rtm[2] = 0;
  rtm[3] = 0;
  rtm[4] = RT_TABLE_MAIN;
  rtm[5] = RTPROT_BOOT;
  rtm[6] = RT_SCOPE_UNIVERSE;
  rtm[7] = RTN_UNICAST;
  const flags = NLM_F_REQUEST | NLM_F_ACK | (type === RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
  const w = new NlWriter();
  const at = w.begin(type, flags, seq, 0);
  w.bytes(rtm);
  w.be32(RTA_GATEWAY, gateway);
  w.u32(RTA_OIF, ifindex);
  w.end(at);
  return w.view().slice();
}

/** The errno in an NLMSG_ERROR acknowledging `seq` (0 is success), or an error text. */
export function parseNetlinkAck(bytes: Uint8Array, seq: number): number | { error: string } {
  let at = 0;
  while (at + NLMSG_HDRLEN <= bytes.length) {
    const len = readU32le(bytes, at);
    if (len < NLMSG_HDRLEN || at + len > bytes.length) return { error: `netlink message of length ${len} at ${at} runs past ${bytes.length} bytes` };
    const type = readU16le(bytes, at + 4);
    if (type === NLMSG_ERROR && readU32le(bytes, at + 8) === seq) {
      if (len < NLMSG_HDRLEN + 4) return { error: 'NLMSG_ERROR without its error field' };
      return readU32le(bytes, at + NLMSG_HDRLEN) | 0;
    }
    at += nlmsgAlign(len);
  }
  return { error: `no acknowledgement for request ${seq}` };
}

// ---------------------------------------------------------------- ioctl structures

/** struct sockaddr_in: family in host order, port and address in network order. */
function sockaddrIn(out: Uint8Array, at: number, addr: number): void {
  writeU16le(out, at, AF_INET);
  writeU32(out, at + 4, addr);
}

/** struct ifreq with ifr_name and an AF_INET address in the union (SIOCSIFADDR, SIOCSIFNETMASK). */
export function ifreqAddr(ifname: string, addr: number): Uint8Array {
  const out = new Uint8Array(IFREQ_SIZE);
  for (let i = 0; i < Math.min(ifname.length, 15); i++) out[i] = ifname.charCodeAt(i) & 0x7f;
  sockaddrIn(out, 16, addr);
  return out;
}

/**
 * struct rtentry for `route add default gw G` (i386 layout): rt_dst and rt_genmask 0.0.0.0,
 * rt_gateway G, rt_flags RTF_UP|RTF_GATEWAY, rt_dev NULL (the kernel finds the device from the
 * gateway, as route does without `dev`).
 */
export function rtentryDefault(gateway: number): Uint8Array {
  const out = new Uint8Array(RTENTRY_SIZE);
  sockaddrIn(out, 4, 0); // rt_dst
  sockaddrIn(out, 20, gateway); // rt_gateway
  sockaddrIn(out, 36, 0); // rt_genmask
  writeU16le(out, 52, RTF_UP | RTF_GATEWAY);
  return out;
}

/** SIOCGIFINDEX and SIOCGIFHWADDR on `fd`: what udhcpc asks the kernel about its interface. */
export function interfaceInfo(sys: Syscalls, fd: number, ifname: string): { ifindex: number; mac: Uint8Array } | { error: string } {
  const req = ifreqAddr(ifname, 0);
  let r = sys.ioctl(fd, SIOCGIFINDEX, req);
  if (r < 0) return { error: `SIOCGIFINDEX ${ifname}: ${errnoName(r)}` };
  const ifindex = readU32le(req, 16);
  const hw = ifreqAddr(ifname, 0);
  r = sys.ioctl(fd, SIOCGIFHWADDR, hw);
  if (r < 0) return { error: `SIOCGIFHWADDR ${ifname}: ${errnoName(r)}` };
  return { ifindex, mac: hw.slice(18, 24) };
}

// ---------------------------------------------------------------- applying

function viaNetlink(sys: Syscalls, fd: number, add: boolean, c: InterfaceConfig): ConfigOutcome {
  const out: ConfigOutcome = { path: 'rtnetlink', steps: [], error: null };
  // Each `ip` invocation numbers its requests afresh.
  let nlSeq = 0;
  const request = (what: string, msg: Uint8Array, seq: number): boolean => {
    out.steps.push(what);
    const s = sys.sendto(fd, msg, { addr: 0, port: 0 });
    if (s < 0) {
      out.error = `${what}: sendto: ${errnoName(s)}`;
      return false;
    }
    const r = sys.recvfrom(fd);
    if (typeof r === 'number') {
      out.error = `${what}: no acknowledgement (${errnoName(r)})`;
      return false;
    }
    const e = parseNetlinkAck(r.data, seq);
    if (typeof e !== 'number') out.error = `${what}: ${e.error}`;
    else if (e !== 0) out.error = `${what}: RTNETLINK answers: ${errnoName(e)}`;
    return out.error === null;
  };
  const addr = `ip addr ${add ? 'add' : 'del'} ${ipToString(c.address)}/${c.prefixLen} dev ${c.ifname}`;
  const route = c.router ? `ip route ${add ? 'add' : 'del'} default via ${ipToString(c.router)} dev ${c.ifname}` : null;
  if (add) {
    if (!request(addr, addrMessage(RTM_NEWADDR, ++nlSeq, c), nlSeq)) return out;
    if (route) request(route, defaultRouteMessage(RTM_NEWROUTE, ++nlSeq, c.router!, c.ifindex), nlSeq);
  } else {
    // The route goes first: deleting the address would take a route through it along anyway.
    if (route && !request(route, defaultRouteMessage(RTM_DELROUTE, ++nlSeq, c.router!, c.ifindex), nlSeq)) return out;
    request(addr, addrMessage(RTM_DELADDR, ++nlSeq, c), nlSeq);
  }
  return out;
}

function viaIoctl(sys: Syscalls, fd: number, add: boolean, c: InterfaceConfig): ConfigOutcome {
  const out: ConfigOutcome = { path: 'ioctl', steps: [], error: null };
  const call = (what: string, request: number, arg: Uint8Array): boolean => {
    out.steps.push(what);
    const r = sys.ioctl(fd, request, arg);
    if (r < 0) out.error = `${what}: ${errnoName(r)}`;
    return r >= 0;
  };
  const mask = prefixMask(c.prefixLen);
  const gw = c.router ? ipToString(c.router) : null;
  if (add) {
    if (!call(`ifconfig ${c.ifname} ${ipToString(c.address)} (SIOCSIFADDR)`, SIOCSIFADDR, ifreqAddr(c.ifname, c.address))) return out;
    if (!call(`ifconfig ${c.ifname} netmask ${ipToString(mask)} (SIOCSIFNETMASK)`, SIOCSIFNETMASK, ifreqAddr(c.ifname, mask))) return out;
    if (gw) call(`route add default gw ${gw} (SIOCADDRT)`, SIOCADDRT, rtentryDefault(c.router!));
  } else {
    if (gw && !call(`route del default gw ${gw} (SIOCDELRT)`, SIOCDELRT, rtentryDefault(c.router!))) return out;
    // ifconfig eth0 0.0.0.0: setting the address to zero deletes it (devinet_ioctl).
    call(`ifconfig ${c.ifname} 0.0.0.0 (SIOCSIFADDR)`, SIOCSIFADDR, ifreqAddr(c.ifname, 0));
  }
  return out;
}

function apply(sys: Syscalls, add: boolean, c: InterfaceConfig): ConfigOutcome {
  const nl = sys.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  if (nl >= 0) {
    try {
      return viaNetlink(sys, nl, add, c);
    } finally {
      sys.close(nl);
    }
  }
  const fd = sys.socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return { path: null, steps: [], error: `socket(AF_NETLINK): ${errnoName(nl)}; socket(AF_INET, SOCK_DGRAM): ${errnoName(fd)}` };
  try {
    return viaIoctl(sys, fd, add, c);
  } finally {
    sys.close(fd);
  }
}

/** Give the interface its address and prefix and, with a router, the default route. */
export function addInterfaceConfig(sys: Syscalls, c: InterfaceConfig): ConfigOutcome {
  return apply(sys, true, c);
}

/** Take them away again (a lease lost, expired or NAKed). */
export function removeInterfaceConfig(sys: Syscalls, c: InterfaceConfig): ConfigOutcome {
  return apply(sys, false, c);
}

