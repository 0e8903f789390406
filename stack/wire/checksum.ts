/**
 * The Internet checksum (RFC 1071): one's-complement sum of 16-bit words.
 * `csum_partial` returns the folded 32-bit partial sum so pseudo-headers can be added.
 */
export function csumPartial(bytes: Uint8Array, start: number, length: number, initial = 0): number {
  // 32-bit big-endian words (as lib/checksum.c's do_csum adds whole words): the one's-complement
  // sum of 32-bit words folds to the same 16-bit sum as adding 16-bit words (RFC 1071 §2(C)).
  // The running sum is a double: exact far past any frame's 2^32-per-word total.
  const dv = viewOf(bytes);
  let i = bytes.byteOffset + start;
  const end = i + length;
  let sum = initial;
  for (const end4 = end - 3; i < end4; i += 4) sum += dv.getUint32(i);
  // Tail: a 16-bit word is the high half of the 32-bit word it starts; a last odd byte is the
  // high byte of its 16-bit word.
  let highHalf = true;
  if (i + 1 < end) {
    sum += dv.getUint16(i) * 65536;
    i += 2;
    highHalf = false;
  }
  if (i < end) sum += (dv.getUint8(i) << 8) * (highHalf ? 65536 : 1);
  sum = (sum % 4294967296) + Math.floor(sum / 4294967296);
  sum = (sum % 4294967296) + Math.floor(sum / 4294967296);
  sum = (sum >>> 16) + (sum & 0xffff);
  sum = (sum >>> 16) + (sum & 0xffff);
  return (sum >>> 16) + (sum & 0xffff);
}

/**
 * One DataView per underlying buffer, made once (a weak map), with the two most recent in fast
 * slots: a run's two boards' RAMs alternate packet by packet.
 */
let bufA: ArrayBufferLike | null = null;
let viewA: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
let bufB: ArrayBufferLike | null = null;
let viewB: DataView<ArrayBufferLike> = viewA;
const otherViews = new WeakMap<ArrayBufferLike, DataView<ArrayBufferLike>>();
function viewOf(bytes: Uint8Array): DataView<ArrayBufferLike> {
  const b = bytes.buffer;
  if (b === bufA) return viewA;
  if (b === bufB) return viewB;
  let v = otherViews.get(b);
  if (!v) {
    v = new DataView(b);
    otherViews.set(b, v);
  }
  // The buffer missed takes the older fast slot: the two in use settle there.
  bufB = bufA;
  viewB = viewA;
  bufA = b;
  viewA = v;
  return v;
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
