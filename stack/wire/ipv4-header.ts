/**
 * IPv4 header (RFC 791): a checked view over bytes (smoltcp's Ipv4Packet) and the plain parsed
 * form, with the one parser and the one emitter every layer uses.
 */
import { HeaderView } from './header-view.js';
import { ipChecksum } from './checksum.js';
import { readU16, readU32, writeU16, writeU32 } from '../uapi/byte-order.js';

export const IP_DF = 0x4000;
export const IP_MF = 0x2000;
export const IP_OFFSET = 0x1fff;

/** Header length without options. */
export const IPV4_HLEN = 20;

export interface Ipv4Repr {
  src: number;
  dst: number;
  protocol: number;
  ttl: number;
  tos: number;
  id: number;
  /** Flags (DF, MF) and fragment offset in 8-byte units, as in the header word. */
  fragOff: number;
  /** Header length in bytes (20 without options). */
  headerLength: number;
  totalLength: number;
}

export type Ipv4ParseError = 'truncated' | 'version' | 'header-length' | 'total-length' | 'checksum';

/**
 * Field accessors over a header at `at` in `bytes`. The view does not copy and can be pointed
 * at another header with `wrap`, so a per-frame path keeps one view and allocates nothing.
 * Accessors do not check bounds: callers check the length first (parseIpv4 does).
 */
export class Ipv4Packet extends HeaderView {
  get version(): number {
    return this.bytes[this.at]! >> 4;
  }
  /** IHL × 4: the header length in bytes, options included. */
  get headerLength(): number {
    return (this.bytes[this.at]! & 0x0f) * 4;
  }
  get tos(): number {
    return this.bytes[this.at + 1]!;
  }
  get totalLength(): number {
    return readU16(this.bytes, this.at + 2);
  }
  set totalLength(v: number) {
    writeU16(this.bytes, this.at + 2, v);
  }
  get id(): number {
    return readU16(this.bytes, this.at + 4);
  }
  set id(v: number) {
    writeU16(this.bytes, this.at + 4, v);
  }
  /** Flags and fragment offset, the whole 16-bit word. */
  get fragOff(): number {
    return readU16(this.bytes, this.at + 6);
  }
  get ttl(): number {
    return this.bytes[this.at + 8]!;
  }
  get protocol(): number {
    return this.bytes[this.at + 9]!;
  }
  get src(): number {
    return readU32(this.bytes, this.at + 12);
  }
  get dst(): number {
    return readU32(this.bytes, this.at + 16);
  }
  /** True when the header checksum over `headerLength` bytes verifies. */
  checksumValid(): boolean {
    return ipChecksum(this.bytes, this.at, this.headerLength) === 0;
  }
  /** Recompute the header checksum (ip_send_check). */
  fillChecksum(): void {
    writeU16(this.bytes, this.at + 10, 0);
    writeU16(this.bytes, this.at + 10, ipChecksum(this.bytes, this.at, this.headerLength));
  }
  /** The parsed form of the header the view points at. */
  repr(): Ipv4Repr {
    return this.reprInto(emptyIpv4Repr());
  }
  /** The parsed form written into `out` (a record the caller reuses); returns it. */
  reprInto(out: Ipv4Repr): Ipv4Repr {
    out.tos = this.tos;
    out.totalLength = this.totalLength;
    out.id = this.id;
    out.fragOff = this.fragOff;
    out.ttl = this.ttl;
    out.protocol = this.protocol;
    out.src = this.src;
    out.dst = this.dst;
    out.headerLength = this.headerLength;
    return out;
  }
}

/** A zeroed header record; every Ipv4Repr made here has this one shape (field order). */
export function emptyIpv4Repr(): Ipv4Repr {
  return { tos: 0, totalLength: 0, id: 0, fragOff: 0, ttl: 0, protocol: 0, src: 0, dst: 0, headerLength: 0 };
}

const view = new Ipv4Packet();

/**
 * Validate an IPv4 header as ip_rcv does, in the order Linux checks it; returns the parsed
 * form or the reason to drop (counted as InHdrErrors, or InCsumErrors for the checksum).
 */
export function parseIpv4(bytes: Uint8Array, offset: number, length: number, into?: Ipv4Repr): Ipv4Repr | Ipv4ParseError {
  if (length < IPV4_HLEN) return 'truncated';
  const v = view.wrap(bytes, offset);
  if (v.version !== 4) return 'version';
  const headerLength = v.headerLength;
  if (headerLength < IPV4_HLEN || headerLength > length) return 'header-length';
  if (!v.checksumValid()) return 'checksum';
  const totalLength = v.totalLength;
  if (totalLength > length || totalLength < headerLength) return 'total-length';
  return into ? v.reprInto(into) : v.repr();
}

/**
 * The IP header quoted inside an ICMP error (icmp_unreach): version and header length checked
 * and 8 bytes of the transport header present, but neither the checksum nor the total length,
 * since the quote is often cut short of the datagram it describes.
 */
export function parseQuotedIpv4(bytes: Uint8Array, offset: number, length: number): Ipv4Repr | null {
  if (length < IPV4_HLEN) return null;
  const v = view.wrap(bytes, offset);
  const hl = v.headerLength;
  if (v.version !== 4 || hl < IPV4_HLEN || hl + 8 > length) return null;
  return v.repr();
}

/** Write a header without options at `offset` and fill in its checksum. */
export function emitIpv4(r: Ipv4Repr, bytes: Uint8Array, offset: number): void {
  bytes[offset] = 0x40 | (r.headerLength >> 2);
  bytes[offset + 1] = r.tos;
  writeU16(bytes, offset + 2, r.totalLength);
  writeU16(bytes, offset + 4, r.id);
  writeU16(bytes, offset + 6, r.fragOff);
  bytes[offset + 8] = r.ttl;
  bytes[offset + 9] = r.protocol;
  writeU16(bytes, offset + 10, 0);
  writeU32(bytes, offset + 12, r.src);
  writeU32(bytes, offset + 16, r.dst);
  writeU16(bytes, offset + 10, ipChecksum(bytes, offset, r.headerLength));
}
