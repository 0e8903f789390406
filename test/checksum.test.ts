/**
 * csumPartial against RFC 1071 done the plain way: 16-bit big-endian words summed with
 * end-around carry, byte by byte, written here from the RFC and nothing else. The word loop
 * in stack/wire/checksum.ts reads 32-bit host-order words at aligned addresses; this checks
 * every alignment of buffer, start and length against the plain sum, and RFC 1071's own
 * worked example.
 */
import { describe, expect, it } from 'vitest';
import { csumFold, csumPartial } from '../stack/wire/checksum.js';

/** RFC 1071 §4.1's algorithm on bytes: pairs as 16-bit words, an odd last byte padded with zero. */
function rfc1071Sum(b: Uint8Array, start: number, length: number, initial: number): number {
  let sum = initial;
  for (let i = 0; i < length; i += 2) {
    const hi = b[start + i]!;
    const lo = i + 1 < length ? b[start + i + 1]! : 0;
    sum += (hi << 8) | lo;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** xorshift32: fixed test bytes, the same every run. */
function bytesFrom(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

describe('the Internet checksum (csumPartial)', () => {
  it("RFC 1071 §3's example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2, at every alignment", () => {
    const example = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    for (let pad = 0; pad < 8; pad++) {
      // Long enough for the word loop: the example, then 40 zero bytes (adding nothing).
      const buf = new Uint8Array(pad + 48);
      buf.set(example, pad);
      expect(csumPartial(buf, pad, 48, 0)).toBe(0xddf2);
      expect(csumPartial(buf, pad, 8, 0)).toBe(0xddf2);
    }
  });

  it('equals the plain RFC 1071 sum for every buffer offset, start and length up to 1600 bytes', () => {
    const backing = bytesFrom(0x1071, 4096);
    let compared = 0;
    for (let bufOffset = 0; bufOffset < 4; bufOffset++) {
      const view = new Uint8Array(backing.buffer, bufOffset, backing.length - bufOffset);
      for (let start = 0; start < 4; start++) {
        for (let length = 0; length <= 1600; length += length < 80 ? 1 : 37) {
          for (const initial of [0, 0x1234, 0x3fffe]) {
            const want = rfc1071Sum(view, start, length, initial);
            const got = csumPartial(view, start, length, initial);
            // Both folded to 16 bits; zero only for an all-zero sum.
            expect(got, `offset ${bufOffset} start ${start} length ${length} initial ${initial}`).toBe(want);
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(1500);
  });

  it('verifies a datagram of 64 KiB whose own checksum is filled in, and notices one flipped bit', () => {
    const b = bytesFrom(7, 65536);
    b[16] = 0;
    b[17] = 0;
    const check = csumFold(csumPartial(b, 0, b.length, 0));
    b[16] = check >> 8;
    b[17] = check & 0xff;
    expect(csumFold(csumPartial(b, 0, b.length, 0))).toBe(0);
    expect(csumFold(rfc1071Sum(b, 0, b.length, 0))).toBe(0);
    b[40_000] = b[40_000]! ^ 0x10;
    expect(csumFold(csumPartial(b, 0, b.length, 0))).not.toBe(0);
  });

  it('carries the largest sums right: 64 KiB of 0xff and of 0x80 at every alignment, with a large initial', () => {
    // All-ones words make every 32-bit addition carry, the case where a wrong end-around carry
    // shows; 0x80 bytes leave carries that do not all cancel.
    for (const fill of [0xff, 0x80, 0x01]) {
      const b = new Uint8Array(65540).fill(fill);
      for (let start = 0; start < 4; start++) {
        for (const length of [65535, 65534, 4097]) {
          for (const initial of [0, 0xfffe, 0x7ffffffe]) {
            expect(csumPartial(b, start, length, initial), `fill ${fill} start ${start} length ${length} initial ${initial}`)
              .toBe(rfc1071Sum(b, start, length, initial));
          }
        }
      }
    }
    // ffffffff + ffffffff + 00000001 is 1_ffffffff: folding its carry back in gives 2^32, which
    // must fold once more. At an odd start (the big-endian word loop) and at an even one.
    for (let start = 0; start < 4; start++) {
      const b = new Uint8Array(start + 12);
      b.fill(0xff, start, start + 8);
      b[start + 11] = 1;
      expect(csumPartial(b, start, 12, 0), `start ${start}`).toBe(rfc1071Sum(b, start, 12, 0));
    }
  });

  it('an all-zero range sums to 0, not 0xffff (one\'s complement keeps +0 and −0 apart here)', () => {
    const z = new Uint8Array(256);
    expect(csumPartial(z, 2, 200, 0)).toBe(0);
    expect(rfc1071Sum(z, 2, 200, 0)).toBe(0);
  });
});
