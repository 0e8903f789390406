/**
 * UDP header (RFC 768): checked parse and emit, with the IPv4 pseudo-header checksum.
 */
import { csumFold, csumPartial, pseudoHeaderSum } from './checksum.js';
import { readU16, writeU16 } from '../uapi/byte-order.js';
import { IPPROTO_UDP } from '../uapi/in.js';

export const UDP_HLEN = 8;
/** Largest UDP payload in one IPv4 datagram: 65535 − 20 (IP) − 8 (UDP). */
export const UDP_MAX_PAYLOAD = 65507;

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** The header's length field: header plus payload. */
  length: number;
  checksum: number;
}

export type UdpParseError = 'truncated' | 'short-length' | 'bad-length';

/**
 * Validate the header against the IP payload it sits in, as __udp4_lib_rcv does: at least 8
 * bytes, and a length field no larger than the payload and no smaller than the header.
 */
export function parseUdp(bytes: Uint8Array, offset: number, length: number): UdpRepr | UdpParseError {
  if (length < UDP_HLEN) return 'truncated';
  const ulen = readU16(bytes, offset + 4);
  if (ulen > length) return 'short-length';
  if (ulen < UDP_HLEN) return 'bad-length';
  return { srcPort: readU16(bytes, offset), dstPort: readU16(bytes, offset + 2), length: ulen, checksum: readU16(bytes, offset + 6) };
}

/** Is the checksum of `length` bytes of UDP (header and payload) right? A zero checksum means none was sent. */
export function udpChecksumOk(bytes: Uint8Array, offset: number, length: number, src: number, dst: number): boolean {
  if (readU16(bytes, offset + 6) === 0) return true;
  return csumFold(csumPartial(bytes, offset, length, pseudoHeaderSum(src, dst, IPPROTO_UDP, length))) === 0;
}

/** Write the header in front of `payloadLength` bytes already in place and fill the checksum. */
export function emitUdp(srcPort: number, dstPort: number, src: number, dst: number, bytes: Uint8Array, offset: number, payloadLength: number): void {
  const len = UDP_HLEN + payloadLength;
  writeU16(bytes, offset, srcPort);
  writeU16(bytes, offset + 2, dstPort);
  writeU16(bytes, offset + 4, len);
  writeU16(bytes, offset + 6, 0);
  const sum = csumFold(csumPartial(bytes, offset, len, pseudoHeaderSum(src, dst, IPPROTO_UDP, len)));
  // A computed 0 is sent as all ones: 0 on the wire means "no checksum" (RFC 768).
  writeU16(bytes, offset + 6, sum === 0 ? 0xffff : sum);
}
