/**
 * Generic receive offload (CONFIG_IP_OFFLOAD's receive half; net/core/gro.c, tcp_offload.c):
 * within one NAPI poll, consecutive TCP segments of a flow are merged into one larger skb
 * before the stack sees them, so IP and TCP run once per merged packet instead of once per
 * frame. A segment merges when it continues the held one exactly: same addresses, ports, ACK,
 * window and options, next sequence number, no flags but ACK (PSH merges, then flushes).
 *
 * quarklab's skbs are linear, so the merged packet is built in one buffer (Linux chains the
 * frames' pages instead); its memory is that buffer, at most GRO_MAX_BYTES. Headers and
 * checksums are rewritten for the merged packet, which Linux marks CHECKSUM_UNNECESSARY.
 */
import { readU16 } from '../uapi/byte-order.js';
import { ETH_HLEN, ETH_P_IP } from '../uapi/if-ether.js';
import { IP_MF, IP_OFFSET, IPV4_HLEN, Ipv4Packet } from '../wire/ipv4-header.js';
import { TCP_ACK, TCP_HLEN, TCP_PSH, TcpPacket, tcpChecksumValid, tcpFillChecksum } from '../wire/tcp-header.js';
import { allocSkb, MAX_HEADER, type SkBuff, type SkbAllocator } from './skbuff.js';
import { IPPROTO_TCP } from '../uapi/in.js';

/** The merged packet's capacity: 16 KiB, an order-2 page allocation. */
export const GRO_MAX_BYTES = 16 * 1024;

interface Held {
  skb: SkBuff;
  /** Frames merged into it so far (1 = not merged yet). */
  count: number;
  nextSeq: number;
  segSize: number;
  flushAfter: boolean;
}

export interface GroStats {
  /** Frames offered to GRO. */
  frames: number;
  /** Packets GRO handed to the stack (merged or not). */
  delivered: number;
  /** Frames absorbed into an earlier packet. */
  merged: number;
}

export class Gro {
  readonly stats: GroStats = { frames: 0, delivered: 0, merged: 0 };
  private held: Held | null = null;

  constructor(
    private readonly skbs: SkbAllocator,
    private readonly deliver: (skb: SkBuff) => void,
    /** Charged once per frame GRO examines (dev_gro_receive, tcp4_gro_receive). */
    private readonly charge: () => void = () => {},
  ) {}

  /** napi_gro_receive: `skb.data` is at the Ethernet header. */
  receive(skb: SkBuff): void {
    this.stats.frames++;
    this.charge();
    const h = this.held;
    const seg = tcpSegment(skb);
    if (h && seg && this.continues(h, skb, seg)) {
      this.merge(h, skb, seg);
      return;
    }
    this.flush();
    if (!seg || seg.flags !== TCP_ACK || seg.payload === 0) {
      this.pass(skb);
      return;
    }
    this.held = { skb, count: 1, nextSeq: (seg.seq + seg.payload) >>> 0, segSize: seg.payload, flushAfter: false };
  }

  /** napi_gro_flush: at the end of a poll, hand up whatever is held. */
  flush(): void {
    const h = this.held;
    if (!h) return;
    this.held = null;
    if (h.count > 1) fixHeaders(h.skb);
    this.pass(h.skb);
  }

  private pass(skb: SkBuff): void {
    this.stats.delivered++;
    this.deliver(skb);
  }

  private continues(h: Held, skb: SkBuff, seg: Segment): boolean {
    if (h.flushAfter || seg.payload === 0 || seg.payload > h.segSize) return false;
    if ((seg.flags & ~TCP_PSH) !== TCP_ACK || seg.seq !== h.nextSeq) return false;
    // Same addresses and ports, ACK, window and options, byte for byte (tcp_gro_receive).
    const ipA = heldIp.wrap(h.skb.bytes, h.skb.data + ETH_HLEN);
    const ipB = frameIp.wrap(skb.bytes, skb.data + ETH_HLEN);
    if (ipA.src !== ipB.src || ipA.dst !== ipB.dst) return false;
    const tA = heldTcp.wrap(h.skb.bytes, ipA.at + IPV4_HLEN);
    const tB = frameTcp.wrap(skb.bytes, ipB.at + IPV4_HLEN);
    if (tA.ports !== tB.ports || tA.ack !== tB.ack || tA.window !== tB.window) return false;
    const thlen = tA.headerLength;
    if (thlen !== tB.headerLength) return false;
    for (let i = TCP_HLEN; i < thlen; i++) if (tA.bytes[tA.at + i] !== tB.bytes[tB.at + i]) return false;
    return h.skb.len + seg.payload <= GRO_MAX_BYTES - MAX_HEADER;
  }

  private merge(h: Held, skb: SkBuff, seg: Segment): void {
    if (h.count === 1) {
      // The first merge moves the held frame into a buffer big enough for the whole packet.
      const big = allocSkb(this.skbs, GRO_MAX_BYTES - 512);
      if (!big) {
        this.flush();
        this.held = { skb, count: 1, nextSeq: (seg.seq + seg.payload) >>> 0, segSize: seg.payload, flushAfter: false };
        return;
      }
      big.reserve(32);
      big.bytes.copyWithin(big.put(h.skb.len), h.skb.data, h.skb.data + h.skb.len);
      big.tstamp = h.skb.tstamp;
      big.ifindex = h.skb.ifindex;
      h.skb.free();
      h.skb = big;
    }
    if (h.skb.tailroom() < seg.payload) {
      this.flush();
      this.receive(skb);
      return;
    }
    const from = skb.data + seg.payloadOffset;
    h.skb.bytes.copyWithin(h.skb.put(seg.payload), from, from + seg.payload);
    // PSH is carried over and ends the merge.
    if (seg.flags & TCP_PSH) {
      const th = heldTcp.wrap(h.skb.bytes, h.skb.data + ETH_HLEN + IPV4_HLEN);
      th.flags = th.flags | TCP_PSH;
      h.flushAfter = true;
    }
    h.count++;
    h.nextSeq = (h.nextSeq + seg.payload) >>> 0;
    this.stats.merged++;
    skb.free();
  }
}

interface Segment {
  seq: number;
  flags: number;
  payload: number;
  payloadOffset: number;
}

// One view of each kind per role, repointed per frame, so GRO allocates no views.
const heldIp = new Ipv4Packet();
const frameIp = new Ipv4Packet();
const heldTcp = new TcpPacket();
const frameTcp = new TcpPacket();

/** A plain IPv4/TCP frame GRO may merge: no IP options or fragments, checksums good. */
function tcpSegment(skb: SkBuff): Segment | null {
  const b = skb.bytes;
  const d = skb.data;
  if (skb.len < ETH_HLEN + IPV4_HLEN + TCP_HLEN || readU16(b, d + 12) !== ETH_P_IP) return null;
  const ip = frameIp.wrap(b, d + ETH_HLEN);
  if (ip.version !== 4 || ip.headerLength !== IPV4_HLEN || ip.protocol !== IPPROTO_TCP || (ip.fragOff & (IP_MF | IP_OFFSET)) !== 0) return null;
  const total = ip.totalLength;
  if (total > skb.len - ETH_HLEN || total < IPV4_HLEN + TCP_HLEN || !ip.checksumValid()) return null;
  const t = frameTcp.wrap(b, ip.at + IPV4_HLEN);
  const thlen = t.headerLength;
  if (thlen < TCP_HLEN || IPV4_HLEN + thlen > total) return null;
  if (!tcpChecksumValid(b, t.at, total - IPV4_HLEN, ip.src, ip.dst)) return null;
  return { seq: t.seq, flags: t.flags, payload: total - IPV4_HLEN - thlen, payloadOffset: ETH_HLEN + IPV4_HLEN + thlen };
}

/** The merged packet's IP length and both checksums. */
function fixHeaders(skb: SkBuff): void {
  const ip = heldIp.wrap(skb.bytes, skb.data + ETH_HLEN);
  const total = skb.len - ETH_HLEN;
  ip.totalLength = total;
  ip.fillChecksum();
  tcpFillChecksum(skb.bytes, ip.at + IPV4_HLEN, total - IPV4_HLEN, ip.src, ip.dst);
}
