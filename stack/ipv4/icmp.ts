/**
 * ICMP (net/ipv4/icmp.c): answers echo requests, sends destination-unreachable and
 * parameter-problem errors (rate limited as icmp_ratelimit does), and turns errors it
 * receives into errno values for the socket that sent the offending packet.
 */
import type { NetDevice } from '../core/netdevice.js';
import { allocSkb, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import { ICMP_MIB, type MibGroup, type MibNames } from '../core/snmp.js';
import { NS_PER_MS } from '../../emulator/event-queue.js';
import type { NetStack } from '../net-stack.js';
import {
  emitIcmp, ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_HLEN, ICMP_PARAMETERPROB,
  ICMP_TIME_EXCEEDED, parseIcmp,
} from '../wire/icmp-header.js';
import { parseQuotedIpv4, type Ipv4Repr } from '../wire/ipv4-header.js';
import { IPPROTO_ICMP } from '../uapi/in.js';
import { Errno } from '../uapi/errno.js';

/** icmp_err_convert: destination-unreachable codes to errno. */
function unreachErrno(code: number): number {
  switch (code) {
    case 0: return Errno.ENETUNREACH;
    case 1: return Errno.EHOSTUNREACH;
    case 2: return Errno.ENOPROTOOPT;
    case 3: return Errno.ECONNREFUSED;
    case 4: return Errno.EMSGSIZE;
    default: return Errno.EHOSTUNREACH;
  }
}

export class Icmp {
  readonly mib: MibGroup<MibNames<typeof ICMP_MIB>>;
  /** Token bucket of icmp_ratelimit (1000 ms, burst 50) for errors we send. */
  private tokens = 50;
  private lastRefill = 0;

  constructor(private readonly stack: NetStack) {
    this.mib = stack.mib.group('Icmp', ICMP_MIB);
    stack.ip.register(IPPROTO_ICMP, (skb, ip, dev) => this.receive(skb, ip, dev));
  }

  private receive(skb: SkBuff, ip: Ipv4Repr, dev: NetDevice): void {
    this.mib['InMsgs']!++;
    const r = parseIcmp(skb.bytes, skb.data, skb.len);
    if (typeof r === 'string') {
      if (r === 'checksum') this.mib['InCsumErrors']!++;
      this.mib['InErrors']!++;
      skb.free();
      return;
    }
    switch (r.type) {
      case ICMP_ECHO:
        this.mib['InEchos']!++;
        // icmp_echo_ignore_broadcasts (1) covers groups too: a joined group's echo is not answered.
        if (ip.dst !== 0xffffffff && ip.dst >>> 28 !== 0xe) this.echoReply(skb, ip, dev);
        skb.free();
        return;
      case ICMP_ECHOREPLY:
        this.mib['InEchoReps']!++;
        if (this.stack.ping) this.stack.ping.receive(skb, ip, r);
        else skb.free();
        return;
      case ICMP_DEST_UNREACH:
      case ICMP_TIME_EXCEEDED:
      case ICMP_PARAMETERPROB:
        this.mib[r.type === ICMP_DEST_UNREACH ? 'InDestUnreachs' : r.type === ICMP_TIME_EXCEEDED ? 'InTimeExcds' : 'InErrors']!++;
        this.deliverError(skb.bytes, skb.data + ICMP_HLEN, skb.len - ICMP_HLEN, r.type, r.code);
        skb.free();
        return;
      default:
        skb.free();
    }
  }

  /** Hand an ICMP error to the protocol of the quoted packet (icmp_unreach → err_handler). */
  private deliverError(bytes: Uint8Array, offset: number, length: number, type: number, code: number): void {
    // The quoted header was never checksummed by the receiver: parse without trusting it.
    if (length < 28) return;
    const inner = parseQuotedIpv4(bytes, offset, length);
    if (!inner) return;
    const errno = type === ICMP_DEST_UNREACH ? unreachErrno(code) : type === ICMP_TIME_EXCEEDED ? Errno.EHOSTUNREACH : Errno.EPROTO;
    this.stack.raw?.error(inner, errno);
    if (inner.protocol === IPPROTO_ICMP) {
      this.stack.ping?.error(inner, bytes, offset + inner.headerLength, errno);
      return;
    }
    this.stack.ip.errorHandler(inner.protocol)?.(inner, bytes, offset + inner.headerLength, errno, type, code);
  }

  /** An error raised locally for a packet we could not send (ip_link_failure). */
  localError(skb: SkBuff, type: number, code: number): void {
    const start = skb.networkHeader || skb.data;
    this.deliverError(skb.bytes, start, skb.tail - start, type, code);
  }

  private echoReply(req: SkBuff, ip: Ipv4Repr, _dev: NetDevice): void {
    const len = req.len;
    const skb = allocSkb(this.stack.skbs, MAX_HEADER + len);
    if (!skb) {
      this.mib['OutErrors']!++;
      return;
    }
    skb.reserve(MAX_HEADER);
    const at = skb.put(len);
    skb.bytes.copyWithin(at, req.data, req.data + len);
    const rest = ((skb.bytes[at + 4]! << 24) | (skb.bytes[at + 5]! << 16) | (skb.bytes[at + 6]! << 8) | skb.bytes[at + 7]!) >>> 0;
    emitIcmp({ type: ICMP_ECHOREPLY, code: 0, rest }, skb.bytes, at, len - ICMP_HLEN);
    this.mib['OutMsgs']!++;
    this.mib['OutEchoReps']!++;
    this.chargeOutput(len);
    this.stack.ip.output(skb, { src: ip.dst, dst: ip.src, protocol: IPPROTO_ICMP, tos: ip.tos });
  }

  /** icmp_push_reply's cost: the protocol work, the copy of the quoted or echoed bytes, the checksum. */
  private chargeOutput(len: number): void {
    const cpu = this.stack.env.cpu;
    cpu.charge(cpu.cycles.protocolPacket + (cpu.cycles.copyByte + cpu.cycles.checksumByte) * len);
  }

  private allowError(): boolean {
    const now = this.stack.sim.now;
    const refill = Math.floor((now - this.lastRefill) / (1000 * NS_PER_MS)) * 50;
    if (refill > 0) {
      this.tokens = Math.min(50, this.tokens + refill);
      this.lastRefill = now;
    }
    if (this.tokens <= 0) return false;
    this.tokens--;
    return true;
  }

  /**
   * icmp_send: an error quoting the offending packet's IP header and the first 8 bytes of its
   * payload. `skb` is positioned at the transport header; ip describes the header before it.
   */
  sendError(skb: SkBuff, ip: Ipv4Repr, type: number, code: number, rest: number): void {
    if (ip.dst === 0xffffffff || ip.src === 0 || (ip.fragOff & 0x1fff) !== 0) return; // never about broadcasts or non-first fragments
    if (!this.allowError()) return;
    const headerStart = skb.networkHeader || skb.data - ip.headerLength;
    // icmp_send quotes as much of the offending datagram as fits in 576 bytes (RFC 1812 §4.3.2.3).
    const quoted = Math.min(576 - 20 - 8, ip.totalLength, skb.tail - headerStart);
    const out = allocSkb(this.stack.skbs, MAX_HEADER + ICMP_HLEN + quoted);
    if (!out) {
      this.mib['OutErrors']!++;
      return;
    }
    out.reserve(MAX_HEADER);
    const at = out.put(ICMP_HLEN + quoted);
    out.bytes.copyWithin(at + ICMP_HLEN, headerStart, headerStart + quoted);
    emitIcmp({ type, code, rest }, out.bytes, at, quoted);
    this.mib['OutMsgs']!++;
    if (type === ICMP_DEST_UNREACH) this.mib['OutDestUnreachs']!++;
    if (type === ICMP_TIME_EXCEEDED) this.mib['OutTimeExcds']!++;
    this.chargeOutput(ICMP_HLEN + quoted);
    this.stack.ip.output(out, { dst: ip.src, protocol: IPPROTO_ICMP });
  }

  sendDestUnreachable(skb: SkBuff, ip: Ipv4Repr, code: number, _dev: NetDevice): void {
    this.sendError(skb, ip, ICMP_DEST_UNREACH, code, 0);
  }

  sendParameterProblem(skb: SkBuff, ip: Ipv4Repr, _dev: NetDevice): void {
    skb.networkHeader = skb.data;
    this.sendError(skb, ip, ICMP_PARAMETERPROB, 0, 20 << 24);
  }
}

