/** ICMP header (RFC 792): the fixed 8 bytes, checked and emitted. */
import { ipChecksum } from './checksum.js';
import { readU16, writeU16 } from '../uapi/byte-order.js';

export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETERPROB = 12;

export const ICMP_HLEN = 8;

export interface IcmpRepr {
  type: number;
  code: number;
  /** The "rest of header" word: id/sequence for echo, next-hop MTU for frag-needed, pointer for parameter problem. */
  rest: number;
}

export function parseIcmp(bytes: Uint8Array, offset: number, length: number): IcmpRepr | 'truncated' | 'checksum' {
  if (length < ICMP_HLEN) return 'truncated';
  if (ipChecksum(bytes, offset, length) !== 0) return 'checksum';
  return { type: bytes[offset]!, code: bytes[offset + 1]!, rest: ((readU16(bytes, offset + 4) << 16) | readU16(bytes, offset + 6)) >>> 0 };
}

/** Write the header in front of `payloadLength` bytes already in place, and checksum the whole message. */
export function emitIcmp(r: IcmpRepr, bytes: Uint8Array, offset: number, payloadLength: number): void {
  bytes[offset] = r.type;
  bytes[offset + 1] = r.code;
  writeU16(bytes, offset + 2, 0);
  writeU16(bytes, offset + 4, r.rest >>> 16);
  writeU16(bytes, offset + 6, r.rest & 0xffff);
  writeU16(bytes, offset + 2, ipChecksum(bytes, offset, ICMP_HLEN + payloadLength));
}
