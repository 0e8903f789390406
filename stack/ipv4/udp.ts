/**
 * UDP (net/ipv4/udp.c): the socket hash table, port allocation, the receive path and ICMP
 * errors. The table of udp_hslots is sized and allocated at init as udp_table_init does; the
 * udp_sock structures come from the "UDP" slab cache.
 *
 * Receive, in __udp4_lib_rcv's order: header and length checks (InErrors), then broadcasts and
 * multicasts go to every matching socket (none: IgnoredMulti; a group also needs the socket's
 * membership or IP_MULTICAST_ALL, ip_mc_sf_allow); unicast is checksummed (InCsumErrors and
 * InErrors), looked up (none: NoPorts and an ICMP port unreachable) and queued against the
 * socket's receive buffer (full: RcvbufErrors and InErrors). Linux verifies the checksum of a
 * datagram that has a socket lazily, at recvmsg; quarklab verifies it before queueing, which
 * counts the same and keeps a corrupt datagram from holding receive-buffer memory.
 */
import type { Prng } from '../../emulator/prng.js';
import { udpHashSize, type HashSize } from '../core/hash-sizing.js';
import type { SlabCache } from '../core/kmem.js';
import { ProtoMemory } from '../core/sock-mem.js';
import type { NetDevice } from '../core/netdevice.js';
import { allocSkb, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import type { MibGroup, MibNames } from '../core/snmp.js';
import type { NetStack } from '../net-stack.js';
import { type SockAddr } from '../socket/sock.js';
import { isMulticast } from './ip.js';
import { type Ipv4Repr } from '../wire/ipv4-header.js';
import { emitUdp, parseUdp, UDP_HLEN, UDP_MAX_PAYLOAD, udpChecksumOk } from '../wire/udp-header.js';
import { UdpSock } from './udp-socket.js';
import { readU16 } from '../uapi/byte-order.js';
import { Errno } from '../uapi/errno.js';
import { IPPROTO_UDP } from '../uapi/in.js';

/** /proc/net/snmp's Udp line in Linux 6.1. */
export const UDP_MIB = ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors', 'InCsumErrors', 'IgnoredMulti', 'MemErrors'] as const;

const PAGE_SIZE = 4096;

/** icmp_err_convert (net/ipv4/icmp.c): errno for each destination-unreachable code, and whether it is a hard error. */
const UNREACH: readonly (readonly [number, boolean])[] = [
  [Errno.ENETUNREACH, false], // net unreachable
  [Errno.EHOSTUNREACH, false], // host unreachable
  [Errno.ENOPROTOOPT, true], // protocol unreachable
  [Errno.ECONNREFUSED, true], // port unreachable
  [Errno.EMSGSIZE, false], // fragmentation needed (handled apart: a hard error under PMTU discovery)
  [Errno.EOPNOTSUPP, false], // source route failed
  [Errno.ENETUNREACH, true], // net unknown
  [112 /* EHOSTDOWN */, true], // host unknown
  [64 /* ENONET */, true], // host isolated
  [Errno.ENETUNREACH, true], // net administratively prohibited
  [Errno.EHOSTUNREACH, true], // host administratively prohibited
  [Errno.ENETUNREACH, false], // net unreachable for TOS
  [Errno.EHOSTUNREACH, false], // host unreachable for TOS
  [Errno.EHOSTUNREACH, true], // communication administratively prohibited
  [Errno.EHOSTUNREACH, true], // host precedence violation
  [Errno.EHOSTUNREACH, true], // precedence cutoff
];

export class UdpTable {
  readonly mib: MibGroup<MibNames<typeof UDP_MIB>>;
  readonly cache: SlabCache;
  /** The udp_hslot array (port hash and address hash halves) in RAM. */
  readonly hash: HashSize & { addr: number };
  /** Sockets per port-hash slot, newest first (hlist_add_head). */
  private readonly slots: UdpSock[][];
  /** net.ipv4.ip_local_port_range. */
  localPortRange: [number, number] = [32768, 60999];
  /** net.ipv4.udp_mem in pages {min, pressure, max}, sized from RAM as udp_init does. */
  readonly udpMem: [number, number, number];
  /**
   * udp_prot's memory: received datagrams queued on UDP sockets (udp_memory_allocated) against
   * udp_mem. Charges reach the global count at once, not through a per-CPU reserve as in 6.1.
   */
  readonly mem: ProtoMemory;
  private readonly rng: Prng;
  private live = 0;

  constructor(private readonly stack: NetStack) {
    const env = stack.env;
    this.mib = stack.mib.group('Udp', UDP_MIB);
    this.cache = stack.sockets.protoCache('UDP', 'udp_sock');
    const size = udpHashSize(env.mem.size, env.structs['udp_hslot']!, stack.has('BASE_SMALL'));
    // alloc_large_system_hash takes whole pages (alloc_pages_exact) after boot's memblock days.
    const addr = stack.staticAlloc(`udp_table (${size.entries} slots)`, Math.ceil(size.bytes / PAGE_SIZE) * PAGE_SIZE);
    this.hash = { ...size, addr };
    this.slots = Array.from({ length: size.entries }, () => []);
    // udp_init: limit = nr_free_buffer_pages / 8, at least 128 pages; {limit/4*3, limit, limit/4*3*2}.
    const limit = Math.max(128, Math.floor(env.mem.freePages() / 8));
    this.udpMem = [Math.floor(limit / 4) * 3, limit, Math.floor(limit / 4) * 3 * 2];
    // udp_prot has no memory_pressure: only udp_mem[2] (the hard limit) is ever checked.
    this.mem = new ProtoMemory({ name: 'UDP', sysctlMem: this.udpMem, pcpuReserve: 0, enterMemoryPressure: null });
    this.rng = env.rng.split('udp-port');
    stack.ip.register(
      IPPROTO_UDP,
      (skb, ip, dev) => this.receive(skb, ip, dev),
      (inner, bytes, off, errno, type, code) => this.error(inner, bytes, off, errno, type, code),
    );
  }

  /** Sockets open now. */
  get count(): number {
    return this.live;
  }

  /** Every hashed socket with its slot, in table order (what /proc/net/udp walks). */
  hashed(): { slot: number; sk: UdpSock }[] {
    const out: { slot: number; sk: UdpSock }[] = [];
    this.slots.forEach((chain, slot) => {
      for (const sk of chain) out.push({ slot, sk });
    });
    return out;
  }

  /** socket(AF_INET, SOCK_DGRAM, 0): a udp_sock in RAM, not yet bound. */
  create(): UdpSock | number {
    const mem = this.stack.sockets.allocate(this.cache);
    if (!mem) return -Errno.ENOBUFS;
    this.live++;
    return new UdpSock(this.stack, this, mem);
  }

  destroy(sk: UdpSock): void {
    this.unhash(sk);
    this.stack.sockets.free(this.cache, sk.mem);
    this.live--;
  }

  private slotOf(port: number): number {
    return port & this.hash.mask;
  }

  private hashSock(sk: UdpSock, port: number): void {
    sk.boundPort = port;
    sk.slot = this.slotOf(port);
    this.slots[sk.slot]!.unshift(sk);
  }

  private unhash(sk: UdpSock): void {
    if (sk.slot < 0) return;
    const list = this.slots[sk.slot]!;
    const i = list.indexOf(sk);
    if (i >= 0) list.splice(i, 1);
    sk.slot = -1;
  }

  /** udp_lib_lport_inuse: would `sk` on `port` clash with a socket already there? */
  private inUse(sk: UdpSock, port: number): boolean {
    for (const o of this.slots[this.slotOf(port)]!) {
      if (o === sk || o.boundPort !== port) continue;
      if (o.reuse && sk.reuse) continue;
      if (o.bindToIfindex !== undefined && sk.bindToIfindex !== undefined && o.bindToIfindex !== sk.bindToIfindex) continue;
      // inet_rcv_saddr_equal with wildcards: the same address, or either bound to any.
      if (o.boundAddr === 0 || sk.boundAddr === 0 || o.boundAddr === sk.boundAddr) return true;
    }
    return false;
  }

  /**
   * udp_lib_get_port: a given port, or for 0 an ephemeral one searched as Linux does — start
   * at a random port in ip_local_port_range and step through each hash slot by a random odd
   * multiple of the table size, so every port of the range is tried once. 0 or -EADDRINUSE.
   */
  getPort(sk: UdpSock, port: number): number {
    if (port !== 0) {
      if (this.inUse(sk, port)) return -Errno.EADDRINUSE;
      this.hashSock(sk, port);
      return 0;
    }
    const [low, high] = this.localPortRange;
    const remaining = high - low + 1;
    let rand = this.rng.nextU32();
    let first = (Math.floor((rand * remaining) / 2 ** 32) + low) & 0xffff;
    rand = Math.imul((rand | 1) >>> 0, this.hash.entries) >>> 0;
    const last = (first + this.hash.entries) & 0xffff;
    do {
      let snum = first;
      do {
        if (snum >= low && snum <= high && !this.inUse(sk, snum)) {
          this.hashSock(sk, snum);
          return 0;
        }
        snum = (snum + rand) & 0xffff;
      } while (snum !== first);
      first = (first + 1) & 0xffff;
    } while (first !== last);
    return -Errno.EADDRINUSE;
  }

  /** Is `addr` a broadcast address here (limited, or directed to one of our subnets)? */
  isBroadcast(addr: number): boolean {
    if (addr === 0xffffffff) return true;
    for (const a of this.stack.addresses) {
      if (a.prefixLen >= 31) continue;
      if (((a.addr | (0xffffffff >>> a.prefixLen)) >>> 0) === addr) return true;
    }
    return false;
  }

  /** inet_bind for UDP. */
  bind(sk: UdpSock, addr: SockAddr): number {
    if (sk.boundPort !== 0 || sk.closed) return -Errno.EINVAL;
    if (addr.port < 0 || addr.port > 0xffff || !Number.isInteger(addr.port)) return -Errno.EINVAL;
    const a = addr.addr >>> 0;
    const multicast = a >>> 28 === 0xe;
    if (a !== 0 && !multicast && !this.stack.isLocalAddress(a)) return -Errno.EADDRNOTAVAIL;
    sk.boundAddr = a;
    // A socket bound to a broadcast or multicast address still sends from a unicast source.
    sk.saddr = multicast || this.isBroadcast(a) ? 0 : a;
    const r = this.getPort(sk, addr.port);
    if (r < 0) {
      sk.boundAddr = 0;
      sk.saddr = 0;
      return r;
    }
    sk.userBoundAddr = a !== 0;
    sk.userBoundPort = addr.port !== 0;
    return 0;
  }

  /** inet_autobind: an ephemeral port for a socket that sends or connects before bind. */
  private autobind(sk: UdpSock): boolean {
    return sk.boundPort !== 0 || this.getPort(sk, 0) === 0;
  }

  /**
   * The interface a datagram to `dst` must leave by: SO_BINDTODEVICE, or for a group the
   * socket's IP_MULTICAST_IF (udp_sendmsg's ipc.oif), else the route's choice.
   */
  private oif(sk: UdpSock, dst: number): number | undefined {
    if (sk.bindToIfindex !== undefined) return sk.bindToIfindex;
    return isMulticast(dst) && sk.mcIndex !== 0 ? sk.mcIndex : undefined;
  }

  /** The source a datagram to `dst` leaves with, or a negative errno when there is no route. */
  private route(sk: UdpSock, dst: number): { src: number; mtu: number } | number {
    const ifindex = this.oif(sk, dst);
    if (dst === 0xffffffff) {
      const dev = ifindex !== undefined ? this.stack.device(ifindex) : this.stack.devices[0];
      if (!dev) return -Errno.ENETUNREACH;
      return { src: sk.saddr || this.stack.primaryAddress(dev.ifindex), mtu: dev.mtu };
    }
    const r = this.stack.fib.lookup(dst);
    if (!r && ifindex === undefined) return -Errno.ENETUNREACH;
    const dev = this.stack.device(ifindex ?? r!.ifindex);
    if (!dev) return -Errno.ENETUNREACH;
    const mcSrc = isMulticast(dst) ? sk.mcAddr : 0;
    return { src: sk.saddr || mcSrc || this.stack.ip.sourceFor(dst, ifindex), mtu: dev.mtu };
  }

  /** ip4_datagram_connect: fix the peer, choose the source, take a port. */
  connect(sk: UdpSock, addr: SockAddr): number {
    if (sk.closed) return -Errno.EINVAL;
    if (addr.port <= 0 || addr.port > 0xffff || !Number.isInteger(addr.port)) {
      // Linux accepts port 0 here, but nothing can be sent to it; quarklab refuses it early.
      return -Errno.EINVAL;
    }
    const dst = addr.addr >>> 0;
    if (this.isBroadcast(dst) && !sk.broadcast) return -Errno.EACCES;
    const rt = this.route(sk, dst);
    if (typeof rt === 'number') return rt;
    if (!this.autobind(sk)) return -Errno.EAGAIN;
    if (sk.saddr === 0) sk.saddr = rt.src;
    if (sk.boundAddr === 0) sk.boundAddr = rt.src;
    sk.peer = { addr: dst, port: addr.port };
    // ip4_datagram_connect: inet_id = get_random_u16(); its packets number from it from now on.
    sk.inetId = this.rng.nextInt(0x10000);
    return 0;
  }

  /** __udp_disconnect: forget the peer and whatever connect chose (not what bind chose). */
  disconnect(sk: UdpSock): void {
    sk.peer = null;
    sk.bindToIfindex = undefined;
    if (!sk.userBoundAddr) {
      sk.boundAddr = 0;
      sk.saddr = 0;
    }
    if (!sk.userBoundPort) {
      this.unhash(sk);
      sk.boundPort = 0;
    }
  }

  /** udp_sendmsg: one datagram, fragmented by IP when it is larger than the MTU. Bytes sent or -errno. */
  sendmsg(sk: UdpSock, data: Uint8Array, to: SockAddr | null): number {
    const len = data.length;
    if (len > UDP_MAX_PAYLOAD) return -Errno.EMSGSIZE;
    let dst: SockAddr;
    if (to) {
      if (to.port <= 0 || to.port > 0xffff) return -Errno.EINVAL;
      dst = { addr: to.addr >>> 0, port: to.port };
    } else {
      if (!sk.peer) return -Errno.EDESTADDRREQ;
      dst = sk.peer;
    }
    if (!this.autobind(sk)) return -Errno.EAGAIN;
    if (this.isBroadcast(dst.addr) && !sk.broadcast) return -Errno.EACCES;
    const rt = this.route(sk, dst.addr);
    if (typeof rt === 'number') {
      this.stack.ip.mib['OutNoRoutes']!++;
      return rt;
    }
    // sock_alloc_send_skb: no room in the send buffer (a non-blocking socket gets EAGAIN).
    if (sk.wmemAlloc >= sk.sndbuf) {
      this.mib['SndbufErrors']!++;
      return -Errno.EAGAIN;
    }
    const skb = allocSkb(this.stack.skbs, MAX_HEADER + UDP_HLEN + len);
    if (!skb) {
      this.mib['SndbufErrors']!++;
      return -Errno.ENOBUFS;
    }
    skb.reserve(MAX_HEADER);
    const at = skb.put(UDP_HLEN + len);
    skb.bytes.set(data, at + UDP_HLEN);
    emitUdp(sk.boundPort, dst.port, rt.src, dst.addr, skb.bytes, at, len);
    // udp_sendmsg's cost: the copy from the program, the checksum, the protocol work.
    const cpu = this.stack.env.cpu;
    cpu.charge(cpu.cycles.protocolPacket + (cpu.cycles.copyByte + cpu.cycles.checksumByte) * (UDP_HLEN + len));
    skb.transportHeader = at;
    sk.chargeWrite(skb);
    // IP_PMTUDISC_WANT (the default): DF when the datagram fits the MTU, fragments when not.
    const df = 20 + UDP_HLEN + len <= rt.mtu;
    // A group gets the socket's IP_MULTICAST_TTL (1 by default) and IP_MULTICAST_LOOP.
    const group = isMulticast(dst.addr);
    let id: number | undefined;
    if (sk.peer) {
      id = sk.inetId;
      sk.inetId = (sk.inetId + 1) & 0xffff;
    }
    const r = this.stack.ip.output(skb, { src: rt.src, dst: dst.addr, protocol: IPPROTO_UDP, df, pmtudiscWant: true, id, ifindex: this.oif(sk, dst.addr), ttl: group ? sk.mcTtl : undefined, mcLoop: sk.mcLoop });
    if (r < 0) {
      if (r === -Errno.ENOBUFS) this.mib['SndbufErrors']!++;
      return r;
    }
    this.mib['OutDatagrams']!++;
    return len;
  }

  private drop(skb: SkBuff, ...counters: MibNames<typeof UDP_MIB>[]): void {
    for (const c of counters) this.mib[c]++;
    skb.free();
  }

  /** __udp4_lib_rcv: `skb.data` is at the UDP header. */
  private receive(skb: SkBuff, ip: Ipv4Repr, dev: NetDevice): void {
    const uh = parseUdp(skb.bytes, skb.data, skb.len);
    if (typeof uh === 'string') return this.drop(skb, 'InErrors');
    skb.trim(uh.length); // pskb_trim_rcsum: the UDP length rules over IP padding
    if (this.isBroadcast(ip.dst) || isMulticast(ip.dst)) return this.broadcastDeliver(skb, ip, uh.srcPort, uh.dstPort, dev);
    if (!udpChecksumOk(skb.bytes, skb.data, skb.len, ip.src, ip.dst)) return this.drop(skb, 'InCsumErrors', 'InErrors');
    const sk = this.lookup(ip.src, uh.srcPort, ip.dst, uh.dstPort, dev.ifindex);
    if (!sk) {
      this.mib['NoPorts']!++;
      this.stack.icmp.sendDestUnreachable(skb, ip, 3 /* ICMP_PORT_UNREACH */, dev);
      skb.free();
      return;
    }
    this.queue(sk, skb);
  }

  /**
   * __udp4_lib_lookup: sockets bound to the destination address are tried before wildcard
   * ones; among them compute_score prefers connected and device-bound sockets.
   */
  lookup(saddr: number, sport: number, daddr: number, dport: number, ifindex: number | undefined): UdpSock | null {
    const chain = this.slots[this.slotOf(dport)]!;
    for (const want of daddr === 0 ? [0] : [daddr, 0]) {
      let best: UdpSock | null = null;
      let bestScore = -1;
      for (const sk of chain) {
        if (sk.boundPort !== dport || sk.boundAddr !== want) continue;
        let score = 2;
        if (sk.peer) {
          if (sk.peer.addr !== saddr || sk.peer.port !== sport) continue;
          score += 8;
        }
        if (sk.bindToIfindex !== undefined) {
          if (ifindex !== undefined && sk.bindToIfindex !== ifindex) continue;
          score += 4;
        }
        if (score > bestScore) {
          best = sk;
          bestScore = score;
        }
      }
      if (best) return best;
    }
    return null;
  }

  /**
   * __udp4_lib_mcast_deliver for broadcasts and multicasts: every socket on the port that is
   * not bound to another address, connected elsewhere or bound to another device — and, for a
   * group, that ip_mc_sf_allow admits — gets the datagram (each one a copy but the last, which
   * gets the original).
   */
  private broadcastDeliver(skb: SkBuff, ip: Ipv4Repr, sport: number, dport: number, dev: NetDevice): void {
    const matches = this.slots[this.slotOf(dport)]!.filter((sk) =>
      sk.boundPort === dport &&
      (sk.boundAddr === 0 || sk.boundAddr === ip.dst) &&
      (!sk.peer || (sk.peer.addr === ip.src && sk.peer.port === sport)) &&
      (sk.bindToIfindex === undefined || sk.bindToIfindex === dev.ifindex) &&
      (this.stack.igmp === null || this.stack.igmp.sfAllow(sk, ip.dst, ip.src, dev.ifindex)));
    if (matches.length === 0) return this.drop(skb, 'IgnoredMulti');
    if (!udpChecksumOk(skb.bytes, skb.data, skb.len, ip.src, ip.dst)) return this.drop(skb, 'InCsumErrors', 'InErrors');
    for (let i = 0; i < matches.length; i++) {
      const last = i === matches.length - 1;
      const copy = last ? skb : this.copy(skb);
      if (!copy) {
        this.mib['InErrors']!++;
        continue;
      }
      this.queue(matches[i]!, copy);
    }
  }

  /** A private copy of the datagram from its IP header on, for one more receiving socket. */
  private copy(skb: SkBuff): SkBuff | null {
    const start = skb.networkHeader;
    const len = skb.tail - start;
    const c = allocSkb(this.stack.skbs, len);
    if (!c) return null;
    const at = c.put(len);
    c.bytes.copyWithin(at, start, skb.tail);
    c.networkHeader = at;
    c.transportHeader = at + (skb.transportHeader - start);
    c.pull(skb.data - start);
    c.ifindex = skb.ifindex;
    return c;
  }

  /** udp_queue_rcv_skb: strip the header and charge the socket, or drop and count. */
  private queue(sk: UdpSock, skb: SkBuff): void {
    skb.transportHeader = skb.data;
    // sk_filter_trim_cap (CONFIG_LPF_FILTER): the filter sees the datagram from its UDP header.
    // A drop counts InErrors and sk_drops, as udp_queue_rcv_one_skb's drop label does in 6.1.
    if (this.stack.filter && !this.stack.filter.run(sk, skb, UDP_HLEN)) {
      sk.drops++;
      return this.drop(skb, 'InErrors');
    }
    skb.pull(UDP_HLEN);
    if (this.mem.overHardLimit(skb.truesize)) return this.drop(skb, 'MemErrors', 'InErrors');
    if (!sk.queueRcv(skb)) return this.drop(skb, 'RcvbufErrors', 'InErrors');
    this.mem.charge(skb.truesize);
    const release = skb.destructor;
    skb.destructor = (s) => {
      release?.(s);
      this.mem.uncharge(s.truesize);
    };
  }

  /**
   * __udp4_lib_err: an ICMP error about a datagram we sent. `inner` is our own header as
   * quoted, so the socket is looked up with source and destination swapped. Without
   * IP_RECVERR Linux reports only hard errors, and only to connected sockets.
   */
  private error(inner: Ipv4Repr, bytes: Uint8Array, off: number, errno: number, type?: number, code?: number): void {
    const sport = readU16(bytes, off);
    const dport = readU16(bytes, off + 2);
    const sk = this.lookup(inner.dst, dport, inner.src, sport, undefined);
    if (!sk) {
      this.stack.icmp.mib['InErrors']!++;
      return;
    }
    let err = errno;
    let hard: boolean;
    if (type === 3 && code === 4) {
      err = Errno.EMSGSIZE; // path MTU discovery is on (IP_PMTUDISC_WANT): a hard error
      hard = true;
    } else if (type === 3 && code !== undefined) {
      const e = UNREACH[code];
      err = e ? e[0] : Errno.EHOSTUNREACH;
      hard = e ? e[1] : false;
    } else if (type === 12) {
      hard = true; // parameter problem: EPROTO
    } else {
      hard = type === undefined ? err === Errno.ECONNREFUSED : false; // time exceeded: soft
    }
    if (!sk.recverr && (!hard || !sk.connected)) return;
    sk.reportError(err);
  }
}
