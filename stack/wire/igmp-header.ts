/**
 * IGMP messages (RFC 1112, RFC 2236, RFC 3376): checked parsing and emitting over bytes.
 *
 * One 8-byte header serves v1/v2 queries, reports and leaves (type, max response code,
 * checksum, group). A v3 query extends it to 12 bytes plus its source list; a v3 report is an
 * 8-byte header (type 0x22, a reserved word, the record count) followed by group records of 8
 * bytes plus 4 per source. Every length is checked before a field is read.
 */
import { ipChecksum } from './checksum.js';
import { readU16, readU32, writeU16, writeU32 } from '../uapi/byte-order.js';

export const IGMP_HOST_MEMBERSHIP_QUERY = 0x11;
export const IGMP_HOST_MEMBERSHIP_REPORT = 0x12;
export const IGMPV2_HOST_MEMBERSHIP_REPORT = 0x16;
export const IGMP_HOST_LEAVE_MESSAGE = 0x17;
export const IGMPV3_HOST_MEMBERSHIP_REPORT = 0x22;

/** IGMPv3 group record types (RFC 3376 §4.2.12). */
export const IGMPV3_MODE_IS_INCLUDE = 1;
export const IGMPV3_MODE_IS_EXCLUDE = 2;
export const IGMPV3_CHANGE_TO_INCLUDE = 3;
export const IGMPV3_CHANGE_TO_EXCLUDE = 4;
export const IGMPV3_ALLOW_NEW_SOURCES = 5;
export const IGMPV3_BLOCK_OLD_SOURCES = 6;

export const IGMP_HLEN = 8;
export const IGMPV3_QUERY_HLEN = 12;
export const IGMPV3_REPORT_HLEN = 8;
export const IGMPV3_GREC_HLEN = 8;

/** The Router Alert option (RFC 2113) every IGMP message Linux sends carries: IPOPT_RA, length 4, value 0. */
export const IPOPT_RA_BYTES: readonly number[] = [0x94, 0x04, 0x00, 0x00];

export interface IgmpHeader {
  type: number;
  /** Max response code (v2/v3 queries); 0 elsewhere (and in a v1 query). */
  code: number;
  group: number;
}

export interface Igmpv3Query extends IgmpHeader {
  /** Suppress router-side processing flag. */
  sFlag: boolean;
  qrv: number;
  qqic: number;
  sources: number[];
}

export interface Igmpv3Record {
  type: number;
  group: number;
  sources: number[];
}

export type IgmpParseError = 'truncated' | 'checksum' | 'sources';

/** The 8-byte header of any IGMP message of `length` bytes, its checksum verified over all of them. */
export function parseIgmp(bytes: Uint8Array, offset: number, length: number): IgmpHeader | IgmpParseError {
  if (length < IGMP_HLEN || offset + length > bytes.length) return 'truncated';
  if (ipChecksum(bytes, offset, length) !== 0) return 'checksum';
  return { type: bytes[offset]!, code: bytes[offset + 1]!, group: readU32(bytes, offset + 4) };
}

/** A v3 query (at least 12 bytes, its sources within `length`). The checksum is the caller's (parseIgmp). */
export function parseIgmpv3Query(bytes: Uint8Array, offset: number, length: number): Igmpv3Query | IgmpParseError {
  if (length < IGMPV3_QUERY_HLEN || offset + length > bytes.length) return 'truncated';
  const nsrcs = readU16(bytes, offset + 10);
  if (IGMPV3_QUERY_HLEN + 4 * nsrcs > length) return 'sources';
  const sources: number[] = [];
  for (let i = 0; i < nsrcs; i++) sources.push(readU32(bytes, offset + 12 + 4 * i));
  const sqrv = bytes[offset + 8]!;
  return {
    type: bytes[offset]!,
    code: bytes[offset + 1]!,
    group: readU32(bytes, offset + 4),
    sFlag: (sqrv & 0x08) !== 0,
    qrv: sqrv & 0x07,
    qqic: bytes[offset + 9]!,
    sources,
  };
}

/** The group records of a v3 report; 'truncated' when a record runs past `length`. */
export function parseIgmpv3Report(bytes: Uint8Array, offset: number, length: number): Igmpv3Record[] | IgmpParseError {
  if (length < IGMPV3_REPORT_HLEN || offset + length > bytes.length) return 'truncated';
  const n = readU16(bytes, offset + 6);
  const out: Igmpv3Record[] = [];
  let at = IGMPV3_REPORT_HLEN;
  for (let i = 0; i < n; i++) {
    if (at + IGMPV3_GREC_HLEN > length) return 'truncated';
    const auxWords = bytes[offset + at + 1]!;
    const nsrcs = readU16(bytes, offset + at + 2);
    const end = at + IGMPV3_GREC_HLEN + 4 * nsrcs + 4 * auxWords;
    if (end > length) return 'truncated';
    const sources: number[] = [];
    for (let k = 0; k < nsrcs; k++) sources.push(readU32(bytes, offset + at + 8 + 4 * k));
    out.push({ type: bytes[offset + at]!, group: readU32(bytes, offset + at + 4), sources });
    at = end;
  }
  return out;
}

/** IGMPV3_MRC / IGMPV3_QQIC: the 8-bit "floating point" code, in tenths of a second (MRC) or seconds (QQIC). */
export function igmpv3Exp(code: number): number {
  if (code < 0x80) return code;
  const exp = (code >> 4) & 7;
  const mant = code & 0x0f;
  return (mant | 0x10) << (exp + 3);
}

/** A v1/v2 message: type, code, group; the checksum is filled in. */
export function emitIgmp(h: IgmpHeader, bytes: Uint8Array, offset: number): void {
  bytes[offset] = h.type;
  bytes[offset + 1] = h.code;
  writeU16(bytes, offset + 2, 0);
  writeU32(bytes, offset + 4, h.group);
  writeU16(bytes, offset + 2, ipChecksum(bytes, offset, IGMP_HLEN));
}

/** A v3 query with its sources (for a lab-side querier); 12 + 4·n bytes, checksum filled in. */
export function emitIgmpv3Query(q: Omit<Igmpv3Query, 'type'>, bytes: Uint8Array, offset: number): number {
  const len = IGMPV3_QUERY_HLEN + 4 * q.sources.length;
  bytes[offset] = IGMP_HOST_MEMBERSHIP_QUERY;
  bytes[offset + 1] = q.code;
  writeU16(bytes, offset + 2, 0);
  writeU32(bytes, offset + 4, q.group);
  bytes[offset + 8] = (q.sFlag ? 0x08 : 0) | (q.qrv & 7);
  bytes[offset + 9] = q.qqic;
  writeU16(bytes, offset + 10, q.sources.length);
  q.sources.forEach((s, i) => writeU32(bytes, offset + 12 + 4 * i, s));
  writeU16(bytes, offset + 2, ipChecksum(bytes, offset, len));
  return len;
}

/** The 8-byte v3 report header with no records yet (igmpv3_newpack). */
export function emitIgmpv3ReportHeader(bytes: Uint8Array, offset: number): void {
  bytes[offset] = IGMPV3_HOST_MEMBERSHIP_REPORT;
  bytes.fill(0, offset + 1, offset + IGMPV3_REPORT_HLEN);
}

/** Append a source-less group record (add_grhead) and count it in the report header at `report`. */
export function emitIgmpv3Record(bytes: Uint8Array, report: number, at: number, type: number, group: number): void {
  bytes[at] = type;
  bytes[at + 1] = 0;
  writeU16(bytes, at + 2, 0);
  writeU32(bytes, at + 4, group);
  writeU16(bytes, report + 6, readU16(bytes, report + 6) + 1);
}

/** igmpv3_sendpack: the checksum over the whole report. */
export function finishIgmpv3Report(bytes: Uint8Array, report: number, length: number): void {
  writeU16(bytes, report + 2, 0);
  writeU16(bytes, report + 2, ipChecksum(bytes, report, length));
}
