/**
 * The Internet checksum (RFC 1071): one's-complement sum of 16-bit words.
 * `csum_partial` returns the folded 32-bit partial sum so pseudo-headers can be added.
 */
export function csumPartial(bytes: Uint8Array, start: number, length: number, initial = 0): number {
  const v = viewsOf(bytes);
  const dv = v.dv;
  let i = bytes.byteOffset + start;
  const end = i + length;
  let sum = initial;
  if ((i & 1) === 0 && length >= FAST_MIN) {
    // A 16-bit word that starts 2 bytes before a 4-byte boundary goes in on its own; then whole
    // 32-bit words are read in host order (little-endian): each half is a 16-bit word of the
    // packet with its bytes swapped. The one's-complement sum of byte-swapped words is the
    // byte-swapped sum (RFC 1071 §2(B)), and adding whole 32-bit words folds to the same 16-bit
    // sum as adding their halves (§2(C)). So the words are added as they are, into a double that
    // stays exact (under 2^46 for any IPv4 datagram's 16384 words); its carries out of 32 bits
    // are end-around carries, worth 1 each (2^32 is 1 modulo 0xffff).
    if (i & 2) {
      sum += dv.getUint16(i);
      i += 2;
    }
    const words = v.words;
    let w = i >>> 2;
    const wordsEnd = end >>> 2;
    let a = 0;
    let b = 0;
    for (; w + 3 < wordsEnd; w += 4) {
      a += words[w]! + words[w + 1]!;
      b += words[w + 2]! + words[w + 3]!;
    }
    for (; w < wordsEnd; w++) a += words[w]!;
    const total = a + b;
    const carries = Math.floor(total / 4294967296);
    const low = total - carries * 4294967296;
    let swapped = (low >>> 16) + (low & 0xffff) + carries;
    swapped = (swapped >>> 16) + (swapped & 0xffff);
    swapped = (swapped >>> 16) + (swapped & 0xffff);
    sum += ((swapped & 0xff) << 8) | (swapped >>> 8);
    i = w << 2;
    // The tail (under 4 bytes) starts on a 4-byte boundary: its first word is a high half.
    if (i + 1 < end) {
      sum += dv.getUint16(i);
      i += 2;
    }
    if (i < end) sum += dv.getUint8(i) << 8;
    return foldPartial(sum);
  }
  // 32-bit big-endian words (as lib/checksum.c's do_csum adds whole words): the one's-complement
  // sum of 32-bit words folds to the same 16-bit sum as adding 16-bit words (RFC 1071 §2(C)).
  // The running sum is a double: exact far past any frame's 2^32-per-word total.
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
  return foldPartial(sum);
}

// The word loop reads host order and assumes little-endian (as the image format does).
if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1) throw new Error('quarklab needs a little-endian host');

/** Below this many bytes, or at an odd address, the plain loop is as quick. */
const FAST_MIN = 32;

/** End-around carries of a non-negative sum (a double below 2^53) down to 16 bits; 0 only for 0. */
function foldPartial(sum: number): number {
  // Carries out of 32 bits come back in at the bottom. Division by 2^32 rather than `%`: on a
  // double, `%` is a call to fmod, and this runs several times per packet.
  if (sum > 0xffffffff) {
    const carries = Math.floor(sum / 4294967296);
    sum = sum - carries * 4294967296 + carries;
    if (sum > 0xffffffff) sum -= 0xffffffff;
  }
  sum = (sum >>> 16) + (sum & 0xffff);
  sum = (sum >>> 16) + (sum & 0xffff);
  return (sum >>> 16) + (sum & 0xffff);
}

/** A buffer's DataView and its whole 32-bit words in host order, made once per buffer. */
interface BufferViews {
  dv: DataView<ArrayBufferLike>;
  words: Uint32Array<ArrayBufferLike>;
}

/**
 * The views of each underlying buffer, made once (a weak map), with the two most recent in fast
 * slots: a run's two boards' RAMs alternate packet by packet.
 */
const noViews: BufferViews = { dv: new DataView(new ArrayBuffer(0)), words: new Uint32Array(0) };
let bufA: ArrayBufferLike | null = null;
let viewsA: BufferViews = noViews;
let bufB: ArrayBufferLike | null = null;
let viewsB: BufferViews = noViews;
const otherViews = new WeakMap<ArrayBufferLike, BufferViews>();
function viewsOf(bytes: Uint8Array): BufferViews {
  const b = bytes.buffer;
  if (b === bufA) return viewsA;
  if (b === bufB) return viewsB;
  let v = otherViews.get(b);
  if (!v) {
    v = { dv: new DataView(b), words: new Uint32Array(b, 0, b.byteLength >>> 2) };
    otherViews.set(b, v);
  }
  // The buffer missed takes the older fast slot: the two in use settle there.
  bufB = bufA;
  viewsB = viewsA;
  bufA = b;
  viewsA = v;
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
