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
import { csumFold, csumPartial, ipChecksum, pseudoHeaderSum } from '../wire/checksum.js';
import { allocSkb, MAX_HEADER, type SkBuff, type SkbAllocator } from './skbuff.js';
import { readU16, readU32, writeU16 } from '../uapi/byte-order.js';

/** The merged packet's capacity: 16 KiB, an order-2 page allocation. */
export const GRO_MAX_BYTES = 16 * 1024;
const ETH_HLEN = 14;

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
    if (!seg || seg.flags !== 0x10 || seg.payload === 0) {
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
    if ((seg.flags & ~0x08) !== 0x10 || seg.seq !== h.nextSeq) return false;
    const a = h.skb.bytes;
    const ha = h.skb.data;
    const hb = skb.data;
    // Same addresses and ports, ACK, window and options, byte for byte (tcp_gro_receive).
    const ipA = ha + ETH_HLEN;
    const ipB = hb + ETH_HLEN;
    if (readU32(a, ipA + 12) !== readU32(a, ipB + 12) || readU32(a, ipA + 16) !== readU32(a, ipB + 16)) return false;
    const tA = ipA + 20;
    const tB = ipB + 20;
    if (readU32(a, tA) !== readU32(a, tB) || readU32(a, tA + 8) !== readU32(a, tB + 8) || readU16(a, tA + 14) !== readU16(a, tB + 14)) return false;
    const thlen = (a[tA + 12]! >> 4) * 4;
    if (thlen !== (a[tB + 12]! >> 4) * 4) return false;
    for (let i = 20; i < thlen; i++) if (a[tA + i] !== a[tB + i]) return false;
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
    if (seg.flags & 0x08) {
      h.skb.bytes[h.skb.data + ETH_HLEN + 20 + 13] = h.skb.bytes[h.skb.data + ETH_HLEN + 20 + 13]! | 0x08;
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

/** A plain IPv4/TCP frame GRO may merge: no IP options or fragments, checksums good. */
function tcpSegment(skb: SkBuff): Segment | null {
  const b = skb.bytes;
  const d = skb.data;
  if (skb.len < ETH_HLEN + 40 || readU16(b, d + 12) !== 0x0800) return null;
  const ip = d + ETH_HLEN;
  if (b[ip] !== 0x45 || b[ip + 9] !== 6 || (readU16(b, ip + 6) & 0x3fff) !== 0) return null;
  const total = readU16(b, ip + 2);
  if (total > skb.len - ETH_HLEN || total < 40 || ipChecksum(b, ip, 20) !== 0) return null;
  const t = ip + 20;
  const thlen = (b[t + 12]! >> 4) * 4;
  if (thlen < 20 || 20 + thlen > total) return null;
  const src = readU32(b, ip + 12);
  const dst = readU32(b, ip + 16);
  if (csumFold(csumPartial(b, t, total - 20, pseudoHeaderSum(src, dst, 6, total - 20))) !== 0) return null;
  return { seq: readU32(b, t + 4), flags: b[t + 13]!, payload: total - 20 - thlen, payloadOffset: ETH_HLEN + 20 + thlen };
}

/** The merged packet's IP length and both checksums. */
function fixHeaders(skb: SkBuff): void {
  const b = skb.bytes;
  const ip = skb.data + ETH_HLEN;
  const total = skb.len - ETH_HLEN;
  writeU16(b, ip + 2, total);
  writeU16(b, ip + 10, 0);
  writeU16(b, ip + 10, ipChecksum(b, ip, 20));
  const t = ip + 20;
  writeU16(b, t + 16, 0);
  writeU16(b, t + 16, csumFold(csumPartial(b, t, total - 20, pseudoHeaderSum(readU32(b, ip + 12), readU32(b, ip + 16), 6, total - 20))));
}
