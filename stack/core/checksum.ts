/**
 * The Internet checksum (RFC 1071): one's-complement sum of 16-bit words.
 * `csum_partial` returns the folded 32-bit partial sum so pseudo-headers can be added.
 */
export function csumPartial(bytes: Uint8Array, start: number, length: number, initial = 0): number {
  let sum = initial;
  const end = start + length;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Fold a partial sum and complement it: the value that goes into the header. */
export function csumFold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipChecksum(bytes: Uint8Array, start: number, length: number): number {
  return csumFold(csumPartial(bytes, start, length));
}

/** The TCP/UDP pseudo-header sum for IPv4 (RFC 793, RFC 768). */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}
