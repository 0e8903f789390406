/**
 * ICMP datagram sockets ("ping sockets", CONFIG_IP_PING; net/ipv4/ping.c): an unprivileged
 * program sends echo requests with socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP). The kernel owns
 * the echo identifier (it is the socket's "port") and the checksum; replies are matched to
 * the socket by that identifier.
 */
import type { SlabCache } from '../core/kmem.js';
import { allocSkb, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import { emitIcmp, ICMP_ECHO, ICMP_HLEN, type IcmpRepr } from '../wire/icmp-header.js';
import { type Ipv4Repr } from '../wire/ipv4-header.js';
import type { NetStack } from '../net-stack.js';
import { Sock, type SockAddr } from './sock.js';
import type { SockMemory } from './socket-table.js';
import { IPPROTO_ICMP } from '../uapi/in.js';
import { Errno } from '../uapi/errno.js';

export class PingSock extends Sock {
  constructor(
    stack: NetStack,
    private readonly owner: PingSockets,
    readonly mem: SockMemory,
    readonly ident: number,
  ) {
    super(stack, mem.skAddr, mem.socketAddr, mem.fileAddr);
    this.boundPort = ident;
  }

  /** Send one echo request: `message` is the ICMP header (8 bytes) and payload; id and checksum are ours. */
  sendto(message: Uint8Array, to: SockAddr | null): number {
    const dst = to ?? this.peer;
    if (!dst) return -Errno.EDESTADDRREQ;
    if (message.length < ICMP_HLEN || message[0] !== ICMP_ECHO || message[1] !== 0) return -Errno.EINVAL;
    if (this.wmemAlloc >= this.sndbuf) return -Errno.EAGAIN;
    const skb = allocSkb(this.stack.skbs, MAX_HEADER + message.length);
    if (!skb) return -Errno.ENOBUFS;
    skb.reserve(MAX_HEADER);
    const at = skb.put(message.length);
    skb.bytes.set(message, at);
    const seq = (message[6]! << 8) | message[7]!;
    emitIcmp({ type: ICMP_ECHO, code: 0, rest: ((this.ident << 16) | seq) >>> 0 }, skb.bytes, at, message.length - ICMP_HLEN);
    this.chargeWrite(skb);
    this.stack.icmp.mib['OutMsgs']!++;
    this.stack.icmp.mib['OutEchos']!++;
    // The send's cost: protocol work, the copy from the program and the checksum.
    const cpu = this.stack.env.cpu;
    cpu.charge(cpu.cycles.protocolPacket + (cpu.cycles.copyByte + cpu.cycles.checksumByte) * skb.len);
    const r = this.stack.ip.output(skb, { dst: dst.addr, src: this.boundAddr || undefined, protocol: IPPROTO_ICMP, df: true, pmtudiscWant: true, ifindex: this.bindToIfindex });
    return r < 0 ? r : message.length;
  }

  /** recvfrom: the ICMP message (header and payload) and who sent it, or -EAGAIN. */
  recvfrom(): { data: Uint8Array; from: SockAddr } | number {
    const skb = this.recvDatagram();
    if (typeof skb === 'number') return skb;
    const data = this.copyDatagram(skb);
    const from = { addr: this.owner.sourceOf(skb), port: 0 };
    skb.free();
    return { data, from };
  }

  release(): void {
    if (this.closed) return;
    this.closed = true;
    this.purgeReceiveQueue();
    this.owner.unhash(this);
  }
}

export class PingSockets {
  private readonly cache: SlabCache;
  private readonly byIdent = new Map<number, PingSock>();
  private nextIdent: number;
  private readonly srcOf = new WeakMap<SkBuff, number>();

  constructor(private readonly stack: NetStack) {
    this.cache = stack.sockets.protoCache('PING', 'inet_sock');
    this.nextIdent = stack.env.rng.split('ping-ident').nextInt(0x7fff) + 1;
  }

  create(): PingSock | number {
    const mem = this.stack.sockets.allocate(this.cache);
    if (!mem) return -Errno.ENOMEM;
    // ping_get_port: the next free identifier.
    let ident = this.nextIdent;
    while (this.byIdent.has(ident)) ident = (ident % 0xffff) + 1;
    this.nextIdent = (ident % 0xffff) + 1;
    const sk = new PingSock(this.stack, this, mem, ident);
    this.byIdent.set(ident, sk);
    return sk;
  }

  unhash(sk: PingSock): void {
    this.byIdent.delete(sk.ident);
    this.stack.sockets.free(this.cache, sk.mem);
  }

  sourceOf(skb: SkBuff): number {
    return this.srcOf.get(skb) ?? 0;
  }

  /** ping_rcv: an echo reply for one of our identifiers. */
  receive(skb: SkBuff, ip: Ipv4Repr, icmp: IcmpRepr): void {
    const sk = this.byIdent.get(icmp.rest >>> 16);
    if (!sk) {
      skb.free();
      return;
    }
    this.srcOf.set(skb, ip.src);
    if (!sk.queueRcv(skb)) skb.free();
  }

  /** ping_err: an ICMP error about one of our echo requests. */
  error(inner: Ipv4Repr, bytes: Uint8Array, transportOffset: number, errno: number): void {
    if (inner.protocol !== IPPROTO_ICMP || transportOffset + 8 > bytes.length) return;
    if (bytes[transportOffset] !== ICMP_ECHO) return;
    const ident = (bytes[transportOffset + 4]! << 8) | bytes[transportOffset + 5]!;
    this.byIdent.get(ident)?.reportError(errno);
  }

  get count(): number {
    return this.byIdent.size;
  }
}
