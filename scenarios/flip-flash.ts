/**
 * `--flip-flash N`: flash faults. N distinct bits of the board's flash part, chosen by the seed,
 * are flipped before boot. A bit inside the image lands in the header and section table (covered
 * by the header CRC) or in one section's payload (covered by its own CRC), so the boot loader
 * refuses the image and the run fails naming what broke; a bit past the image's end lands in
 * erased flash the loader never reads (padding), and the board boots as if nothing happened.
 *
 * This is an injected fault, reported as a failed check (exit 1) — unlike an image the user
 * hands over broken, which is bad input (exit 2) and refused before any work.
 */
import { ENTRY_BYTES, HEADER_BYTES, parseImage, type ParsedImage } from '../emulator/flash-image.js';
import { Prng } from '../emulator/prng.js';
import type { FaultsReport } from '../traces/report.js';

export type FlippedBit = NonNullable<FaultsReport['flipFlash']>['bits'][number];

/** Where image byte `offset` lies: 'header' (header and section table), a section, or 'padding'. */
function whereIs(image: Uint8Array, parsed: ParsedImage, offset: number): string {
  if (offset >= image.length) return 'padding';
  if (offset < HEADER_BYTES + parsed.sections.length * ENTRY_BYTES) return 'header';
  for (const s of parsed.sections) {
    if (s.kind !== 'bss' && offset >= s.offset && offset < s.offset + s.length) return s.name;
  }
  throw new Error(`flip-flash: byte ${offset} is in no section of a packed image`);
}

/**
 * Flip `n` distinct bits of a `flashBytes`-byte part holding `image` at offset 0. Returns the
 * image as flash now holds it (a copy; the original is untouched) and the bits, by offset. The
 * bits come from a generator of the world's kind seeded by `seed` and split by name, apart from
 * the world's own sequence, so a run whose flips all fell in padding is the run without them.
 */
export function flipFlashBits(image: Uint8Array, flashBytes: number, n: number, seed: number): { image: Uint8Array; bits: FlippedBit[] } {
  const parsed = parseImage(image);
  // The image given here was built or already validated: a parse error is our own bug.
  if ('error' in parsed) throw new Error(`flip-flash: ${parsed.error}`);
  const rng = new Prng(seed).split('flip-flash');
  const totalBits = flashBytes * 8;
  const chosen = new Set<number>();
  // n is at most a million and the part has millions of bits: repeats are rare, retries cheap.
  while (chosen.size < Math.min(n, totalBits)) chosen.add(Math.floor(rng.nextFloat() * totalBits));
  const flipped = image.slice();
  const bits: FlippedBit[] = [...chosen].sort((a, b) => a - b).map((b) => {
    const offset = b >>> 3;
    const bit = b & 7;
    if (offset < flipped.length) flipped[offset] = flipped[offset]! ^ (1 << bit);
    return { offset, bit, section: whereIs(image, parsed, offset) };
  });
  return { image: flipped, bits };
}

/** The flips for a check's detail: where each fell, padding last. */
export function describeFlips(bits: readonly FlippedBit[]): string {
  return bits.map((b) => `bit ${b.bit} of byte ${b.offset} (${b.section})`).join(', ');
}
