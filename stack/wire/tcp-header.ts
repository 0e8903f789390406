/**
 * TCP header and options (RFC 9293, RFC 7323 timestamps and window scale, RFC 2018 SACK,
 * RFC 7413 Fast Open cookie): the parsed form, a bounds-checked parser and an emitter.
 */
import { HeaderView } from './header-view.js';
import { csumFold, csumPartial, pseudoHeaderSum } from './checksum.js';
import { readU16, readU32, writeU16, writeU32 } from '../uapi/byte-order.js';
import { IPPROTO_TCP } from '../uapi/in.js';

/** Header length without options. */
export const TCP_HLEN = 20;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WINDOW = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;
export const TCPOPT_FASTOPEN = 34;

export interface SackBlock {
  start: number;
  end: number;
}

export interface TcpOptions {
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  sack?: SackBlock[];
  tsVal?: number;
  tsEcr?: number;
  /** Fast Open: an empty array is a cookie request; bytes are a cookie. */
  fastOpenCookie?: Uint8Array;
}

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  options: TcpOptions;
  /** Header length in bytes (data offset × 4). */
  headerLength: number;
}

export type TcpParseError = 'truncated' | 'data-offset' | 'checksum';

/**
 * Parse and verify a segment (`length` bytes at `offset`, header and payload). The checksum is
 * verified over the pseudo-header; options are walked with every length checked first, and a
 * malformed option ends the walk without failing the segment, as tcp_parse_options does.
 */
export function parseTcp(bytes: Uint8Array, offset: number, length: number, src: number, dst: number, into?: TcpRepr): TcpRepr | TcpParseError {
  if (length < 20) return 'truncated';
  const headerLength = (bytes[offset + 12]! >> 4) * 4;
  if (headerLength < 20 || headerLength > length) return 'data-offset';
  if (!tcpChecksumValid(bytes, offset, length, src, dst)) return 'checksum';
  // The options are a new record each time, even into a reused header: the receive path may
  // keep what they hold (SACK blocks, a Fast Open cookie) past the segment.
  const r = into ?? emptyTcpRepr();
  r.srcPort = readU16(bytes, offset);
  r.dstPort = readU16(bytes, offset + 2);
  r.seq = readU32(bytes, offset + 4);
  r.ack = readU32(bytes, offset + 8);
  r.flags = bytes[offset + 13]!;
  r.window = readU16(bytes, offset + 14);
  r.urgent = readU16(bytes, offset + 18);
  r.options = parseOptions(bytes, offset + 20, headerLength - 20);
  r.headerLength = headerLength;
  return r;
}

/**
 * A zeroed header record (no options) for a caller to fill: parseTcp's own, and the records
 * the receive and transmit paths reuse, so every TcpRepr has one shape (field order).
 */
export function emptyTcpRepr(options: TcpOptions = {}): TcpRepr {
  return { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, urgent: 0, options, headerLength: 0 };
}

/**
 * tcp_parse_options (6.1): EOL ends the list; an option with no room for its length, a length
 * under 2 ("silly options") or one running past the header ends the walk, keeping what was read
 * before it. Linux never drops a segment for its options here (and has no drop reason for it).
 */
function parseOptions(b: Uint8Array, start: number, len: number): TcpOptions {
  const o: TcpOptions = {};
  let i = start;
  const end = start + len;
  while (i < end) {
    const kind = b[i]!;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) break;
    const olen = b[i + 1]!;
    if (olen < 2 || i + olen > end) break;
    switch (kind) {
      case TCPOPT_MSS:
        if (olen === 4) o.mss = readU16(b, i + 2);
        break;
      case TCPOPT_WINDOW:
        if (olen === 3) o.wscale = Math.min(b[i + 2]!, 14);
        break;
      case TCPOPT_SACK_PERM:
        if (olen === 2) o.sackPermitted = true;
        break;
      case TCPOPT_SACK:
        if ((olen - 2) % 8 === 0) {
          o.sack = [];
          for (let j = i + 2; j < i + olen; j += 8) o.sack.push({ start: readU32(b, j), end: readU32(b, j + 4) });
        }
        break;
      case TCPOPT_TIMESTAMP:
        if (olen === 10) {
          o.tsVal = readU32(b, i + 2);
          o.tsEcr = readU32(b, i + 6);
        }
        break;
      case TCPOPT_FASTOPEN:
        if (olen === 2 || (olen >= 6 && olen <= 18)) o.fastOpenCookie = b.slice(i + 2, i + olen);
        break;
      default:
        break;
    }
    i += olen;
  }
  return o;
}

/** Bytes the options take, padded to 32 bits, in the order Linux writes them. */
export function optionsLength(o: TcpOptions): number {
  return putOptions(o, null, 0);
}

/**
 * The options layout, written once: tcp_options_write's order and padding, so captures look
 * like Linux's. With `b` null nothing is written and only the length is counted (optionsLength),
 * so the size and the bytes cannot disagree. Returns the bytes the options take from `start`.
 */
function putOptions(o: TcpOptions, b: Uint8Array | null, start: number): number {
  let i = start;
  if (o.mss !== undefined) {
    if (b) {
      b[i] = TCPOPT_MSS;
      b[i + 1] = 4;
      writeU16(b, i + 2, o.mss);
    }
    i += 4;
  }
  if (o.tsVal !== undefined) {
    // SACK_PERM shares the timestamp's 12 bytes when both are sent; NOP NOP otherwise.
    if (b) {
      if (o.sackPermitted) {
        b[i] = TCPOPT_SACK_PERM;
        b[i + 1] = 2;
      } else {
        b[i] = TCPOPT_NOP;
        b[i + 1] = TCPOPT_NOP;
      }
      b[i + 2] = TCPOPT_TIMESTAMP;
      b[i + 3] = 10;
      writeU32(b, i + 4, o.tsVal);
      writeU32(b, i + 8, o.tsEcr ?? 0);
    }
    i += 12;
  } else if (o.sackPermitted) {
    if (b) {
      b[i] = TCPOPT_NOP;
      b[i + 1] = TCPOPT_NOP;
      b[i + 2] = TCPOPT_SACK_PERM;
      b[i + 3] = 2;
    }
    i += 4;
  }
  if (o.wscale !== undefined) {
    if (b) {
      b[i] = TCPOPT_NOP;
      b[i + 1] = TCPOPT_WINDOW;
      b[i + 2] = 3;
      b[i + 3] = o.wscale;
    }
    i += 4;
  }
  if (o.sack && o.sack.length > 0) {
    if (b) {
      b[i] = TCPOPT_NOP;
      b[i + 1] = TCPOPT_NOP;
      b[i + 2] = TCPOPT_SACK;
      b[i + 3] = 2 + 8 * o.sack.length;
    }
    i += 4;
    for (const blk of o.sack) {
      if (b) {
        writeU32(b, i, blk.start);
        writeU32(b, i + 4, blk.end);
      }
      i += 8;
    }
  }
  if (o.fastOpenCookie) {
    if (b) {
      b[i] = TCPOPT_FASTOPEN;
      b[i + 1] = 2 + o.fastOpenCookie.length;
      b.set(o.fastOpenCookie, i + 2);
    }
    i += 2 + o.fastOpenCookie.length;
    while ((i - start) % 4 !== 0) {
      if (b) b[i] = TCPOPT_NOP;
      i++;
    }
  }
  return i - start;
}

/**
 * Write the header at `offset` (payload already follows it) and the checksum over
 * `segmentLength` bytes.
 */
export function emitTcp(r: TcpRepr, b: Uint8Array, offset: number, segmentLength: number, src: number, dst: number): void {
  writeU16(b, offset, r.srcPort);
  writeU16(b, offset + 2, r.dstPort);
  writeU32(b, offset + 4, r.seq);
  writeU32(b, offset + 8, r.ack);
  b[offset + 12] = (r.headerLength / 4) << 4;
  b[offset + 13] = r.flags;
  writeU16(b, offset + 14, r.window);
  writeU16(b, offset + 16, 0);
  writeU16(b, offset + 18, r.urgent);
  putOptions(r.options, b, offset + TCP_HLEN);
  tcpFillChecksum(b, offset, segmentLength, src, dst);
}

/** Recompute the checksum of the segment at `offset` over the pseudo-header (tcp_v4_send_check). */
export function tcpFillChecksum(b: Uint8Array, offset: number, segmentLength: number, src: number, dst: number): void {
  writeU16(b, offset + 16, 0);
  writeU16(b, offset + 16, csumFold(csumPartial(b, offset, segmentLength, pseudoHeaderSum(src, dst, IPPROTO_TCP, segmentLength))));
}

/** True when the segment's checksum over the pseudo-header verifies. */
export function tcpChecksumValid(b: Uint8Array, offset: number, segmentLength: number, src: number, dst: number): boolean {
  return csumFold(csumPartial(b, offset, segmentLength, pseudoHeaderSum(src, dst, IPPROTO_TCP, segmentLength))) === 0;
}

/**
 * Field accessors over a TCP header at `at` (smoltcp's TcpPacket), for paths that look at a
 * segment without parsing it (GRO). `wrap` repoints it; no bounds checks, callers check length.
 */
export class TcpPacket extends HeaderView {
  /** Source and destination ports as one 32-bit word, for comparing flows. */
  get ports(): number {
    return readU32(this.bytes, this.at);
  }
  get seq(): number {
    return readU32(this.bytes, this.at + 4);
  }
  get ack(): number {
    return readU32(this.bytes, this.at + 8);
  }
  /** Data offset × 4: the header length in bytes, options included. */
  get headerLength(): number {
    return (this.bytes[this.at + 12]! >> 4) * 4;
  }
  get flags(): number {
    return this.bytes[this.at + 13]!;
  }
  set flags(v: number) {
    this.bytes[this.at + 13] = v;
  }
  get window(): number {
    return readU16(this.bytes, this.at + 14);
  }
}

/** Sequence-space comparisons (RFC 9293 §3.4), modulo 2^32. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLeq(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
