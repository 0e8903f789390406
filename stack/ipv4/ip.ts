/**
 * IPv4 input and output (net/ipv4/ip_input.c, ip_output.c).
 *
 * Input validates the header in Linux's order and counts each reason for a drop in the Ip
 * MIB; local packets go to the transport protocol registered for them. Output routes, fills
 * the header, fragments when the packet is larger than the MTU and DF is clear, and hands the
 * packet to the neighbour layer (or straight to the wire for broadcasts).
 */
import { BROADCAST_MAC } from '../core/addr.js';
import { ipChecksum } from '../core/checksum.js';
import type { NetDevice } from '../core/netdevice.js';
import { allocSkb, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import { IP_MIB, type MibGroup } from '../core/snmp.js';
import { ETH_P_IP, PACKET_OTHERHOST } from '../ethernet/eth.js';
import { ethOutput } from '../ethernet/eth-output.js';
import type { NetStack } from '../net-stack.js';
import { checkIpOptions } from './ip-options.js';
import { emitIpv4, IP_DF, IP_MF, IP_OFFSET, parseIpv4, type Ipv4Repr } from './ipv4-header.js';

export interface IpSendParams {
  src?: number;
  dst: number;
  protocol: number;
  ttl?: number;
  tos?: number;
  /** Set DF (path MTU discovery, IP_PMTUDISC_DO/WANT); then an oversize packet is EMSGSIZE. */
  df?: boolean;
  /** SO_BINDTODEVICE / IP_PKTINFO: send out this interface (DHCP before it has an address). */
  ifindex?: number;
}

/** A transport protocol's receive handler; the skb's data starts at the transport header. */
export type ProtocolHandler = (skb: SkBuff, ip: Ipv4Repr, dev: NetDevice) => void;
/**
 * A transport protocol's ICMP error handler: `inner` is the offending packet's IP header.
 * `type` and `code` are the ICMP message's, so a protocol can tell hard errors from soft ones
 * as its err_handler does (icmp_err_convert's `fatal`).
 */
export type ErrorHandler = (inner: Ipv4Repr, innerBytes: Uint8Array, innerTransportOffset: number, errno: number, type?: number, code?: number) => void;

export const DEFAULT_TTL = 64;

export class Ipv4 {
  readonly mib: MibGroup;
  readonly ext: MibGroup;
  private readonly handlers = new Map<number, ProtocolHandler>();
  private readonly errHandlers = new Map<number, ErrorHandler>();
  private nextId: number;

  constructor(private readonly stack: NetStack) {
    this.mib = stack.mib.group('Ip', IP_MIB);
    this.ext = stack.mib.group('IpExt', ['InCsumErrors', 'InNoRoutes', 'InTruncatedPkts', 'InBcastPkts', 'OutBcastPkts']);
    this.nextId = stack.env.rng.split('ip-id').nextInt(0x10000);
  }

  register(protocol: number, handler: ProtocolHandler, onError?: ErrorHandler): void {
    this.handlers.set(protocol, handler);
    if (onError) this.errHandlers.set(protocol, onError);
  }

  errorHandler(protocol: number): ErrorHandler | undefined {
    return this.errHandlers.get(protocol);
  }

  receive(skb: SkBuff, dev: NetDevice): void {
    this.mib['InReceives']!++;
    if (skb.pktType === PACKET_OTHERHOST) return this.drop(skb, 'InDiscards');
    const r = parseIpv4(skb.bytes, skb.data, skb.len);
    if (typeof r === 'string') {
      if (r === 'checksum') this.ext['InCsumErrors']!++;
      if (r === 'total-length' || r === 'truncated') this.ext['InTruncatedPkts']!++;
      return this.drop(skb, 'InHdrErrors');
    }
    if (r.headerLength > 20 && checkIpOptions(skb.bytes, skb.data, r.headerLength) !== null) {
      this.stack.icmp.sendParameterProblem(skb, r, dev);
      return this.drop(skb, 'InHdrErrors');
    }
    skb.trim(r.totalLength); // strip Ethernet padding (pskb_trim_rcsum)
    if (!this.stack.isLocalAddress(r.dst)) {
      // Not ours and this board does not forward (ip_forward is 0).
      return this.drop(skb, 'InAddrErrors');
    }
    if (r.dst === 0xffffffff) this.ext['InBcastPkts']!++;
    skb.networkHeader = skb.data;
    if ((r.fragOff & (IP_MF | IP_OFFSET)) !== 0) {
      const whole = this.stack.ipfrag ? this.stack.ipfrag.enqueue(skb, r) : null;
      if (!this.stack.ipfrag) return this.drop(skb, 'ReasmFails');
      if (!whole) return; // held for reassembly, or dropped and counted there
      return this.deliver(whole.skb, whole.ip, dev);
    }
    this.deliver(skb, r, dev);
  }

  /** ip_local_deliver_finish: strip the IP header and hand the packet to its protocol. */
  deliver(skb: SkBuff, r: Ipv4Repr, dev: NetDevice): void {
    skb.networkHeader = skb.data;
    skb.pull(r.headerLength);
    skb.transportHeader = skb.data;
    if (this.stack.raw && this.stack.raw.count > 0) {
      skb.data = skb.networkHeader;
      skb.len += r.headerLength;
      this.stack.raw.deliver(skb, r);
      skb.pull(r.headerLength);
    }
    const handler = this.handlers.get(r.protocol);
    if (!handler) {
      this.mib['InUnknownProtos']!++;
      this.stack.icmp.sendDestUnreachable(skb, r, 2 /* ICMP_PROT_UNREACH */, dev);
      skb.free();
      return;
    }
    this.mib['InDelivers']!++;
    handler(skb, r, dev);
  }

  private drop(skb: SkBuff, counter: string): void {
    this.mib[counter]!++;
    skb.free();
  }

  /** Choose the source address for a destination (inet_select_addr via the route). */
  sourceFor(dst: number, ifindex?: number): number {
    if (ifindex !== undefined) return this.stack.primaryAddress(ifindex);
    const route = this.stack.fib.lookup(dst);
    if (!route) return 0;
    return route.prefSrc || this.stack.primaryAddress(route.ifindex);
  }

  /**
   * ip_queue_xmit / ip_send_skb: the skb holds the transport header and payload with
   * headroom for IP and Ethernet. Returns 0 or a negative errno (the skb is consumed either way).
   */
  output(skb: SkBuff, p: IpSendParams): number {
    this.mib['OutRequests']!++;
    let dev: NetDevice | undefined;
    let nextHop = p.dst;
    let src = p.src ?? 0;
    const broadcast = p.dst === 0xffffffff;
    if (broadcast || p.ifindex !== undefined) {
      dev = p.ifindex !== undefined ? this.stack.device(p.ifindex) : this.stack.devices[0];
      if (!broadcast) {
        const route = this.stack.fib.lookup(p.dst);
        if (route && route.gateway !== 0) nextHop = route.gateway;
      }
    } else {
      const route = this.stack.fib.lookup(p.dst);
      if (!route) {
        this.mib['OutNoRoutes']!++;
        skb.free();
        return -ENETUNREACH;
      }
      dev = this.stack.device(route.ifindex);
      if (route.gateway !== 0) nextHop = route.gateway;
      if (src === 0) src = route.prefSrc || this.stack.primaryAddress(route.ifindex);
    }
    if (!dev || !dev.up) {
      this.mib['OutNoRoutes']!++;
      skb.free();
      return -ENETUNREACH;
    }
    if (src === 0 && !broadcast) src = this.stack.primaryAddress(dev.ifindex);
    const headerLength = 20;
    const totalLength = headerLength + skb.len;
    const r: Ipv4Repr = {
      src,
      dst: p.dst,
      protocol: p.protocol,
      ttl: p.ttl ?? DEFAULT_TTL,
      tos: p.tos ?? 0,
      id: this.nextId,
      fragOff: p.df && totalLength <= dev.mtu ? IP_DF : 0,
      headerLength,
      totalLength,
    };
    this.nextId = (this.nextId + 1) & 0xffff;
    skb.ifindex = dev.ifindex;
    if (totalLength > dev.mtu) {
      if (p.df) {
        this.mib['FragFails']!++;
        skb.free();
        return -EMSGSIZE;
      }
      return this.fragment(skb, r, dev, nextHop, broadcast);
    }
    const at = skb.push(headerLength);
    emitIpv4(r, skb.bytes, at);
    skb.networkHeader = at;
    this.finishOutput(skb, dev, nextHop, broadcast);
    return 0;
  }

  private finishOutput(skb: SkBuff, dev: NetDevice, nextHop: number, broadcast: boolean): void {
    if (broadcast) {
      this.ext['OutBcastPkts']!++;
      ethOutput(this.stack, dev, skb, BROADCAST_MAC, ETH_P_IP);
      return;
    }
    this.stack.neigh.output(skb, nextHop, dev.ifindex);
  }

  /**
   * ip_fragment (the slow path): copy the payload into fragments of at most MTU bytes, each
   * with its own header; offsets in 8-byte units, MF on all but the last.
   */
  private fragment(skb: SkBuff, r: Ipv4Repr, dev: NetDevice, nextHop: number, broadcast: boolean): number {
    const payload = skb.view();
    const maxData = (dev.mtu - r.headerLength) & ~7;
    const frags: SkBuff[] = [];
    for (let off = 0; off < payload.length; off += maxData) {
      const n = Math.min(maxData, payload.length - off);
      const f = allocSkb(this.stack.skbs, MAX_HEADER + r.headerLength + n);
      if (!f) {
        for (const g of frags) g.free();
        skb.free();
        this.mib['FragFails']!++;
        return -ENOBUFS;
      }
      f.reserve(MAX_HEADER + r.headerLength);
      f.bytes.set(payload.subarray(off, off + n), f.put(n));
      const last = off + n >= payload.length;
      const at = f.push(r.headerLength);
      emitIpv4({ ...r, totalLength: r.headerLength + n, fragOff: (last ? 0 : IP_MF) | (off >> 3) }, f.bytes, at);
      f.networkHeader = at;
      f.ifindex = dev.ifindex;
      frags.push(f);
    }
    skb.free();
    this.mib['FragOKs']!++;
    for (const f of frags) {
      this.mib['FragCreates']!++;
      this.finishOutput(f, dev, nextHop, broadcast);
    }
    return 0;
  }

  /**
   * raw_send_hdrinc: a packet whose IP header the program wrote (IP_HDRINCL). The kernel
   * routes it by its destination, fills in the ID and checksum when left zero, and sends it.
   * `skb.data` is at the IP header. Returns 0 or a negative errno.
   */
  outputPrebuilt(skb: SkBuff): number {
    this.mib['OutRequests']!++;
    const b = skb.bytes;
    const at = skb.data;
    if (skb.len < 20 || b[at]! >> 4 !== 4) {
      skb.free();
      return -EINVAL;
    }
    const hl = (b[at]! & 15) * 4;
    if (hl < 20 || hl > skb.len) {
      skb.free();
      return -EINVAL;
    }
    // iph->tot_len is always the real length for hdrincl (raw_send_hdrinc sets it).
    b[at + 2] = skb.len >> 8;
    b[at + 3] = skb.len & 255;
    if (b[at + 4] === 0 && b[at + 5] === 0) {
      b[at + 4] = this.nextId >> 8;
      b[at + 5] = this.nextId & 255;
      this.nextId = (this.nextId + 1) & 0xffff;
    }
    b[at + 10] = 0;
    b[at + 11] = 0;
    const sum = ipChecksum(b, at, hl);
    b[at + 10] = sum >> 8;
    b[at + 11] = sum & 255;
    const dst = ((b[at + 16]! << 24) | (b[at + 17]! << 16) | (b[at + 18]! << 8) | b[at + 19]!) >>> 0;
    const route = this.stack.fib.lookup(dst);
    const dev = route ? this.stack.device(route.ifindex) : undefined;
    if (!route || !dev || !dev.up) {
      this.mib['OutNoRoutes']!++;
      skb.free();
      return -ENETUNREACH;
    }
    if (skb.len > dev.mtu) {
      skb.free();
      return -EMSGSIZE;
    }
    skb.networkHeader = at;
    skb.ifindex = dev.ifindex;
    this.finishOutput(skb, dev, route.gateway !== 0 ? route.gateway : dst, dst === 0xffffffff);
    return 0;
  }

  /**
   * ip_link_failure: a packet we sent could not be delivered to its next hop (ARP failed).
   * Linux answers itself with ICMP host unreachable, which reaches the sending socket.
   */
  linkFailure(skb: SkBuff): void {
    this.stack.icmp.localError(skb, 3 /* ICMP_DEST_UNREACH */, 1 /* ICMP_HOST_UNREACH */);
    skb.free();
  }
}

export const ENETUNREACH = 101;
export const EHOSTUNREACH = 113;
export const EMSGSIZE = 90;
export const ENOBUFS = 105;
export const EINVAL = 22;
