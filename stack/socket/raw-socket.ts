/**
 * Raw IPv4 sockets (CONFIG_INET_RAW; net/ipv4/raw.c), for one protocol number each: the
 * program writes the transport header and payload (the kernel adds the IP header) and reads
 * every packet of that protocol addressed to the board, IP header included — how busybox
 * ping works as root.
 */
import { skbPacket } from '../core/filter.js';
import type { SlabCache } from '../core/kmem.js';
import { allocSkb, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import type { Ipv4Repr } from '../wire/ipv4-header.js';
import type { NetStack } from '../net-stack.js';
import { Sock, type SockAddr } from './sock.js';
import type { SockMemory } from './socket-table.js';
import { ETH_HLEN } from '../uapi/if-ether.js';
import { Errno } from '../uapi/errno.js';
import { readU32 } from '../uapi/byte-order.js';

export class RawSock extends Sock {
  /** IP_HDRINCL: the program supplies the IP header too (always on for IPPROTO_RAW). */
  hdrincl = false;

  constructor(
    stack: NetStack,
    private readonly owner: RawSockets,
    readonly mem: SockMemory,
    readonly protocol: number,
  ) {
    super(stack, mem.skAddr, mem.socketAddr, mem.fileAddr);
  }

  sendto(payload: Uint8Array, to: SockAddr | null): number {
    const dst = to ?? this.peer;
    if (!dst) return -Errno.EDESTADDRREQ;
    if (this.wmemAlloc >= this.sndbuf) return -Errno.EAGAIN;
    const skb = allocSkb(this.stack.skbs, MAX_HEADER + payload.length);
    if (!skb) return -Errno.ENOBUFS;
    skb.reserve(MAX_HEADER);
    skb.bytes.set(payload, skb.put(payload.length));
    this.chargeWrite(skb);
    if (this.hdrincl) {
      const r = this.stack.ip.outputPrebuilt(skb);
      return r < 0 ? r : payload.length;
    }
    // The send's cost: protocol work, the copy from the program and the checksum.
    const cpu = this.stack.env.cpu;
    cpu.charge(cpu.cycles.protocolPacket + (cpu.cycles.copyByte + cpu.cycles.checksumByte) * skb.len);
    // raw_sendmsg: IP_PMTUDISC_WANT by default (inet_create), so DF is set when the packet fits.
    const r = this.stack.ip.output(skb, { dst: dst.addr, src: this.boundAddr || undefined, protocol: this.protocol, df: true, pmtudiscWant: true, ifindex: this.bindToIfindex });
    return r < 0 ? r : payload.length;
  }

  /** The whole IP packet as received, and its source. */
  recvfrom(): { data: Uint8Array; from: SockAddr } | number {
    const skb = this.recvDatagram();
    if (typeof skb === 'number') return skb;
    const data = this.copyDatagram(skb);
    const src = readU32(data, 12); // iphdr->saddr
    skb.free();
    return { data, from: { addr: src, port: 0 } };
  }

  release(): void {
    if (this.closed) return;
    this.closed = true;
    this.purgeReceiveQueue();
    this.owner.unhash(this);
  }
}

export class RawSockets {
  private readonly cache: SlabCache;
  private readonly socks: RawSock[] = [];
  /** Copies refused because a raw socket's receive buffer was full. */
  rcvbufErrors = 0;

  constructor(private readonly stack: NetStack) {
    this.cache = stack.sockets.protoCache('RAW', 'raw_sock');
  }

  create(protocol: number): RawSock | number {
    const mem = this.stack.sockets.allocate(this.cache);
    if (!mem) return -Errno.ENOMEM;
    const sk = new RawSock(this.stack, this, mem, protocol);
    this.socks.push(sk);
    return sk;
  }

  unhash(sk: RawSock): void {
    const i = this.socks.indexOf(sk);
    if (i >= 0) this.socks.splice(i, 1);
    this.stack.sockets.free(this.cache, sk.mem);
  }

  /**
   * raw_v4_input: before the protocol handler runs, each matching raw socket gets its own
   * copy of the packet from the IP header on. `skb.data` is at the IP header.
   */
  deliver(skb: SkBuff, ip: Ipv4Repr): void {
    for (const sk of this.socks) {
      if (sk.protocol !== ip.protocol) continue;
      if (sk.boundAddr !== 0 && sk.boundAddr !== ip.dst) continue;
      // sk_filter in sock_queue_rcv_skb (CONFIG_LPF_FILTER), over the IP packet: a rejected
      // packet is dropped uncounted, as raw_rcv_skb does; a kept one is cut to the verdict.
      const keep = this.stack.filter ? this.stack.filter.verdict(sk, skbPacket(skb, skb.data, skb.data - ETH_HLEN), skb.len) : skb.len;
      if (keep === 0) continue;
      const len = Math.min(skb.len, Math.max(1, keep));
      const copy = allocSkb(this.stack.skbs, len);
      if (!copy) continue;
      copy.bytes.copyWithin(copy.put(len), skb.data, skb.data + len);
      if (!sk.queueRcv(copy)) {
        this.rcvbufErrors++;
        copy.free();
      }
    }
  }

  /** raw_icmp_error: errors about packets a raw socket sent (ip_link_failure, ICMP). */
  error(inner: Ipv4Repr, errno: number): void {
    for (const sk of this.socks) if (sk.protocol === inner.protocol) sk.reportError(errno);
  }

  get count(): number {
    return this.socks.length;
  }
}
