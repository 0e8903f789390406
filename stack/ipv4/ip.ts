/**
 * IPv4 input and output (net/ipv4/ip_input.c, ip_output.c).
 *
 * Input validates the header in Linux's order and counts each reason for a drop in the Ip
 * MIB; local packets go to the transport protocol registered for them. Output routes, fills
 * the header, fragments when the packet is larger than the MTU and DF is clear, and hands the
 * packet to the neighbour layer (or straight to the wire for broadcasts).
 *
 * Multicast: a datagram for a group is accepted only when the interface has joined it
 * (ip_check_mc_rcu, through IGMP; without CONFIG_IP_MULTICAST nothing is ever joined). One
 * sent to a group goes to the group's MAC (ip_eth_mc_map) with no ARP, and a copy is looped
 * back to local listeners when this host is a member and the socket has IP_MULTICAST_LOOP
 * (ip_mc_output). IpExt counts InMcastPkts/OutMcastPkts and their octets.
 */
import type { Prng } from '../../emulator/prng.js';
import { BROADCAST_MAC } from '../uapi/addr.js';
import type { NetDevice } from '../core/netdevice.js';
import { allocSkb, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import { IP_EXT_MIB, IP_MIB, type MibGroup, type MibNames } from '../core/snmp.js';
import { ethOutput } from '../ethernet/eth-output.js';
import type { NetStack } from '../net-stack.js';
import { checkIpOptions } from '../wire/ip-options.js';
import {
  emitIpv4, emptyIpv4Repr, IP_DF, IP_MF, IP_OFFSET, IPV4_HLEN, Ipv4Packet, parseIpv4, type Ipv4Repr,
} from '../wire/ipv4-header.js';
import { ETH_P_IP } from '../uapi/if-ether.js';
import { PACKET_LOOPBACK, PACKET_OTHERHOST } from '../uapi/if-packet.js';
import { Errno } from '../uapi/errno.js';

/** No IP options: one shared empty list rather than a new one per packet. */
const NO_IP_OPTIONS: readonly number[] = [];

export interface IpSendParams {
  src?: number;
  dst: number;
  protocol: number;
  ttl?: number;
  tos?: number;
  /** Set DF (path MTU discovery, IP_PMTUDISC_DO/WANT); then an oversize packet is EMSGSIZE. */
  df?: boolean;
  /** SO_BINDTODEVICE / IP_PKTINFO / IP_MULTICAST_IF: send out this interface (DHCP before it has an address). */
  ifindex?: number;
  /** IP options, already padded to a multiple of 4 bytes (IGMP's Router Alert). */
  options?: readonly number[];
  /**
   * IP_PMTUDISC_WANT (raw, ping and UDP sockets by default): DF is wanted but the stack may
   * still fragment (skb->ignore_df), so the ID comes from the hashed counter, not 0.
   */
  pmtudiscWant?: boolean;
  /** The header's ID when the caller chose it (ip_select_ident gives 0 to a DF packet without a connected socket). */
  id?: number;
  /** IP_MULTICAST_LOOP of the sending socket (sk_mc_loop; true when there is no socket). */
  mcLoop?: boolean;
}

/** ipv4_is_multicast: 224.0.0.0/4. */
export function isMulticast(addr: number): boolean {
  return addr >>> 28 === 0xe;
}

/** ip_eth_mc_map: 01:00:5e and the group's low 23 bits. */
export function ipEthMcMap(group: number): Uint8Array {
  return Uint8Array.of(0x01, 0x00, 0x5e, (group >>> 16) & 0x7f, (group >>> 8) & 0xff, group & 0xff);
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

/** ip_rt_init's idents table: alloc_large_system_hash's 2048-entry minimum on a small board. */
const IP_IDENTS_BUCKETS = 2048;
/** A jiffy at CONFIG_HZ=250 (Kconfig's default). */
const NS_PER_JIFFY = 4_000_000;

/** siphash_3u32(daddr, saddr, protocol, ip_id_key) stands here as a keyed integer mix (murmur3's finaliser). */
function identHash(dst: number, src: number, protocol: number, key: number): number {
  let h = key ^ Math.imul(dst, 0xcc9e2d51);
  h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  h ^= Math.imul(src, 0x1b873593);
  h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  h ^= protocol;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Ipv4 {
  readonly mib: MibGroup<MibNames<typeof IP_MIB>>;
  /** IpExt; ReasmOverlaps exists only where fragment reassembly is built (ip-fragment.ts adds it). */
  readonly ext: MibGroup<MibNames<typeof IP_EXT_MIB>> & { ReasmOverlaps?: number };
  /** The header output() fills for each datagram (see there). */
  private readonly outRepr: Ipv4Repr = emptyIpv4Repr();
  /**
   * The header receive() parses each datagram into. Handlers read it while they run and keep
   * no reference (reassembly copies the first fragment's); the driver hands packets up one at
   * a time and nothing on the receive path receives another before it returns.
   */
  private readonly inRepr: Ipv4Repr = emptyIpv4Repr();
  /** inet_protos: the handler for each protocol number, looked up by index per datagram. */
  private readonly handlers: (ProtocolHandler | undefined)[] = new Array<ProtocolHandler | undefined>(256).fill(undefined);
  private readonly errHandlers = new Map<number, ErrorHandler>();
  /** ip_idents / ip_tstamps: hashed per-(daddr, saddr, protocol) ID counters and when each was last used. */
  private readonly idents: Uint32Array;
  private readonly identStamps: Uint32Array;
  private readonly identKey: number;
  private readonly identRng: Prng;
  /**
   * Multicast datagrams for groups this interface has not joined (a hash-filter collision, a
   * promiscuous MAC). Linux drops them in ip_rcv_finish with no MIB counter; kept here so the
   * drop is still counted.
   */
  mcNotJoined = 0;

  constructor(private readonly stack: NetStack) {
    this.mib = stack.mib.group('Ip', IP_MIB);
    this.ext = stack.mib.group('IpExt', IP_EXT_MIB);
    this.identRng = stack.env.rng.split('ip-id');
    this.identKey = this.identRng.nextU32();
    // ip_rt_init: the counters start random (get_random_bytes), the stamps at zero. Linux takes
    // both tables (2048 × 8 bytes) from alloc_large_system_hash; they are not charged to board
    // RAM here yet: 16 KiB more at boot leaves a 2 MiB board below its min watermark under
    // http-serve's 8 clients, since the emulator does not reclaim slab pages as Linux would.
    this.idents = new Uint32Array(IP_IDENTS_BUCKETS);
    this.identStamps = new Uint32Array(IP_IDENTS_BUCKETS);
    for (let i = 0; i < IP_IDENTS_BUCKETS; i++) this.idents[i] = this.identRng.nextU32();
  }

  /**
   * __ip_select_ident: the next ID of the counter this (daddr, saddr, protocol) hashes to; a
   * counter idle for a while first jumps ahead by a random amount below the jiffies it slept
   * (ip_idents_reserve), so the IDs do not tell how many packets went elsewhere.
   */
  selectIdent(dst: number, src: number, protocol: number): number {
    const bucket = identHash(dst, src, protocol, this.identKey) & (IP_IDENTS_BUCKETS - 1);
    const now = Math.floor(this.stack.sim.now / NS_PER_JIFFY) >>> 0;
    const old = this.identStamps[bucket]!;
    let delta = 0;
    if (old !== now) {
      this.identStamps[bucket] = now;
      delta = this.identRng.nextInt(Math.max(1, (now - old) >>> 0));
    }
    const id = (this.idents[bucket]! + delta) >>> 0;
    this.idents[bucket] = (id + 1) >>> 0;
    return id & 0xffff;
  }

  register(protocol: number, handler: ProtocolHandler, onError?: ErrorHandler): void {
    this.handlers[protocol] = handler;
    if (onError) this.errHandlers.set(protocol, onError);
  }

  errorHandler(protocol: number): ErrorHandler | undefined {
    return this.errHandlers.get(protocol);
  }

  receive(skb: SkBuff, dev: NetDevice): void {
    this.mib['InReceives']!++;
    if (skb.pktType === PACKET_OTHERHOST) return this.drop(skb, 'InDiscards');
    const r = parseIpv4(skb.bytes, skb.data, skb.len, this.inRepr);
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
    if (isMulticast(r.dst)) {
      // ip_route_input_mc: only a group joined on this interface is ours (ip_check_mc_rcu).
      if (!this.stack.igmp?.checkMc(dev, r.dst, r.protocol)) {
        this.mcNotJoined++;
        skb.free();
        return;
      }
      this.ext['InMcastPkts']!++;
      this.ext['InMcastOctets']! += r.totalLength;
    } else if (!this.stack.isLocalAddress(r.dst)) {
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
    const handler = this.handlers[r.protocol];
    if (!handler) {
      this.mib['InUnknownProtos']!++;
      // icmp_send never answers a packet that was sent to a group.
      if (!isMulticast(r.dst)) this.stack.icmp.sendDestUnreachable(skb, r, 2 /* ICMP_PROT_UNREACH */, dev);
      skb.free();
      return;
    }
    this.mib['InDelivers']!++;
    handler(skb, r, dev);
  }

  private drop(skb: SkBuff, counter: MibNames<typeof IP_MIB>): void {
    this.mib[counter]++;
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
    let broadcast = p.dst === 0xffffffff;
    const multicast = isMulticast(p.dst);
    if (multicast) {
      // A group is on the link: the socket's interface (IP_MULTICAST_IF, SO_BINDTODEVICE) or
      // the one the route to the group names; never via a gateway.
      if (p.ifindex !== undefined) dev = this.stack.device(p.ifindex);
      else {
        const route = this.stack.fib.lookup(p.dst);
        if (!route) {
          this.mib['OutNoRoutes']!++;
          skb.free();
          return -Errno.ENETUNREACH;
        }
        dev = this.stack.device(route.ifindex);
        if (src === 0) src = route.prefSrc || this.stack.primaryAddress(route.ifindex);
      }
    } else if (broadcast || p.ifindex !== undefined) {
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
        return -Errno.ENETUNREACH;
      }
      dev = this.stack.device(route.ifindex);
      if (route.gateway !== 0) nextHop = route.gateway;
      if (src === 0) src = route.prefSrc || this.stack.primaryAddress(route.ifindex);
      // The subnet's broadcast address is an RTN_BROADCAST route: sent to every host, no ARP.
      const hostBits = route.prefixLen >= 31 ? 0 : 0xffffffff >>> route.prefixLen;
      if (route.gateway === 0 && hostBits !== 0 && ((p.dst | hostBits) >>> 0) === p.dst) broadcast = true;
    }
    if (!dev || !dev.up) {
      this.mib['OutNoRoutes']!++;
      skb.free();
      return -Errno.ENETUNREACH;
    }
    if (src === 0 && !broadcast) src = this.stack.primaryAddress(dev.ifindex);
    const options = p.options ?? NO_IP_OPTIONS;
    const headerLength = 20 + options.length;
    const totalLength = headerLength + skb.len;
    // The header goes into the packet before anything below IP runs, so one record per stack
    // serves every datagram (fragment() takes its own copy).
    const r = this.outRepr;
    r.src = src;
    r.dst = p.dst;
    r.protocol = p.protocol;
    r.ttl = p.ttl ?? DEFAULT_TTL;
    r.tos = p.tos ?? 0;
    r.id = 0;
    r.fragOff = p.df && totalLength <= dev.mtu ? IP_DF : 0;
    r.headerLength = headerLength;
    r.totalLength = totalLength;
    // ip_select_ident_segs: the caller's (a connected socket's inet_id), else 0 for DF, else hashed.
    r.id = p.id ?? (r.fragOff & IP_DF && !p.pmtudiscWant ? 0 : this.selectIdent(p.dst, src, p.protocol));
    skb.ifindex = dev.ifindex;
    if (totalLength > dev.mtu && p.df && !p.pmtudiscWant) {
      this.mib['FragFails']!++;
      skb.free();
      return -Errno.EMSGSIZE;
    }
    const group = multicast ? p.dst : 0;
    if (multicast) {
      // ip_mc_output: a member host hears its own datagram (before any fragmenting) …
      if (p.mcLoop !== false && this.stack.igmp?.checkMc(dev, p.dst, p.protocol)) this.loopback(skb, r, options, dev);
      // … and a TTL of 0 keeps it on this host.
      if (r.ttl === 0) {
        skb.free();
        return 0;
      }
    }
    if (totalLength > dev.mtu) return this.fragment(skb, { ...r }, dev, nextHop, broadcast, options, group);
    const at = skb.push(headerLength);
    writeHeader(r, options, skb.bytes, at);
    skb.networkHeader = at;
    this.finishOutput(skb, dev, nextHop, broadcast, group);
    return 0;
  }

  /**
   * dev_loopback_xmit: a copy of the whole datagram (header and payload) goes back up through
   * ip_rcv on `dev` once the current softirq work is done (netif_rx). Linux clones the skb and
   * shares its data; the model copies it. No copy when memory is short, as skb_clone fails.
   */
  private loopback(skb: SkBuff, r: Ipv4Repr, options: readonly number[], dev: NetDevice): void {
    const c = allocSkb(this.stack.skbs, r.headerLength + skb.len);
    if (!c) return;
    const at = c.put(r.headerLength + skb.len);
    c.bytes.copyWithin(at + r.headerLength, skb.data, skb.tail);
    writeHeader(r, options, c.bytes, at);
    c.networkHeader = at;
    c.pktType = PACKET_LOOPBACK;
    c.protocol = ETH_P_IP;
    c.ifindex = dev.ifindex;
    this.stack.sim.after(0, () => {
      c.tstamp = this.stack.sim.now;
      this.receive(c, dev);
    });
  }

  private finishOutput(skb: SkBuff, dev: NetDevice, nextHop: number, broadcast: boolean, group = 0): void {
    if (group !== 0) {
      this.ext['OutMcastPkts']!++;
      this.ext['OutMcastOctets']! += skb.len;
      ethOutput(this.stack, dev, skb, ipEthMcMap(group), ETH_P_IP);
      return;
    }
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
  private fragment(skb: SkBuff, r: Ipv4Repr, dev: NetDevice, nextHop: number, broadcast: boolean, options: readonly number[], group: number): number {
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
        return -Errno.ENOBUFS;
      }
      f.reserve(MAX_HEADER + r.headerLength);
      f.bytes.set(payload.subarray(off, off + n), f.put(n));
      const last = off + n >= payload.length;
      const at = f.push(r.headerLength);
      // Options are copied into every fragment (only the Router Alert is ever sent, and its copy bit is set).
      writeHeader({ ...r, totalLength: r.headerLength + n, fragOff: (last ? 0 : IP_MF) | (off >> 3) }, options, f.bytes, at);
      f.networkHeader = at;
      f.ifindex = dev.ifindex;
      frags.push(f);
    }
    skb.free();
    this.mib['FragOKs']!++;
    for (const f of frags) {
      this.mib['FragCreates']!++;
      this.finishOutput(f, dev, nextHop, broadcast, group);
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
    const at = skb.data;
    const iph = hdrincl.wrap(skb.bytes, at);
    if (skb.len < IPV4_HLEN || iph.version !== 4) {
      skb.free();
      return -Errno.EINVAL;
    }
    const hl = iph.headerLength;
    if (hl < IPV4_HLEN || hl > skb.len) {
      skb.free();
      return -Errno.EINVAL;
    }
    // iph->tot_len is always the real length for hdrincl (raw_send_hdrinc sets it).
    iph.totalLength = skb.len;
    // raw_send_hdrinc: ip_select_ident(net, skb, NULL) when the program left the ID zero.
    if (iph.id === 0) iph.id = (iph.fragOff & IP_DF) !== 0 ? 0 : this.selectIdent(iph.dst, iph.src, iph.protocol);
    iph.fillChecksum();
    const dst = iph.dst;
    const route = this.stack.fib.lookup(dst);
    const dev = route ? this.stack.device(route.ifindex) : undefined;
    if (!route || !dev || !dev.up) {
      this.mib['OutNoRoutes']!++;
      skb.free();
      return -Errno.ENETUNREACH;
    }
    if (skb.len > dev.mtu) {
      skb.free();
      return -Errno.EMSGSIZE;
    }
    skb.networkHeader = at;
    skb.ifindex = dev.ifindex;
    this.finishOutput(skb, dev, route.gateway !== 0 ? route.gateway : dst, dst === 0xffffffff, isMulticast(dst) ? dst : 0);
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

/** The view outputPrebuilt points at each program-built header (one, so the path allocates nothing). */
const hdrincl = new Ipv4Packet();

/** The header with its options: options go in first, so emitIpv4's checksum covers them. */
function writeHeader(r: Ipv4Repr, options: readonly number[], bytes: Uint8Array, at: number): void {
  for (let i = 0; i < options.length; i++) bytes[at + 20 + i] = options[i]!;
  emitIpv4(r, bytes, at);
}

