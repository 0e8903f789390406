/**
 * IPv4 header (RFC 791): checked view over bytes and the plain parsed form.
 */
import { ipChecksum } from './checksum.js';
import { readU16, readU32, writeU16, writeU32 } from '../uapi/byte-order.js';

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const IP_DF = 0x4000;
export const IP_MF = 0x2000;
export const IP_OFFSET = 0x1fff;

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
 * Validate an IPv4 header as ip_rcv does, in the order Linux checks it; returns the parsed
 * form or the reason to drop (counted as InHdrErrors, or InCsumErrors for the checksum).
 */
export function parseIpv4(bytes: Uint8Array, offset: number, length: number): Ipv4Repr | Ipv4ParseError {
  if (length < 20) return 'truncated';
  const vihl = bytes[offset]!;
  if (vihl >> 4 !== 4) return 'version';
  const headerLength = (vihl & 0x0f) * 4;
  if (headerLength < 20 || headerLength > length) return 'header-length';
  if (ipChecksum(bytes, offset, headerLength) !== 0) return 'checksum';
  const totalLength = readU16(bytes, offset + 2);
  if (totalLength > length || totalLength < headerLength) return 'total-length';
  return {
    tos: bytes[offset + 1]!,
    totalLength,
    id: readU16(bytes, offset + 4),
    fragOff: readU16(bytes, offset + 6),
    ttl: bytes[offset + 8]!,
    protocol: bytes[offset + 9]!,
    src: readU32(bytes, offset + 12),
    dst: readU32(bytes, offset + 16),
    headerLength,
  };
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
