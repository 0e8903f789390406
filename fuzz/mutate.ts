/**
 * Mutations of a valid frame, seeded: bit flips, interesting byte values, truncation, extension,
 * a field set to a boundary, a region duplicated. Checksums are then usually repaired (the IPv4
 * header's, and the transport's) so most mutants pass the cheap checks and reach the parsers
 * behind them; sometimes they are left wrong, to exercise the drops.
 */
import type { Prng } from '../emulator/prng.js';
import { ipChecksum } from '../stack/wire/checksum.js';
import { transportChecksum } from './frames.js';
import { readU32, writeU16 } from '../stack/uapi/byte-order.js';
import { ETH_P_IP } from '../stack/uapi/if-ether.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../stack/uapi/in.js';

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x40, 0x20, 0x10, 0x05, 0x0f];
/** The largest frame the lab's MAC sends (no FCS): 1514 bytes. */
const MAX_FRAME = 1514;

export function mutate(seed: Uint8Array, rng: Prng): Uint8Array {
  let f: Uint8Array = seed.slice();
  const rounds = 1 + rng.nextInt(4);
  for (let r = 0; r < rounds; r++) f = mutateOnce(f, rng);
  if (rng.chance(0.85)) repairChecksums(f);
  return f;
}

function mutateOnce(f: Uint8Array, rng: Prng): Uint8Array {
  // Keep the Ethernet header's addresses mostly intact: a frame for another MAC is only a filter test.
  const from = f.length > 14 && rng.chance(0.9) ? 14 : 0;
  const span = Math.max(1, f.length - from);
  const at = from + rng.nextInt(span);
  switch (rng.nextInt(8)) {
    case 0: // flip one bit
      if (at < f.length) f[at]! ^= 1 << rng.nextInt(8);
      return f;
    case 1: // an interesting byte
      if (at < f.length) f[at] = INTERESTING[rng.nextInt(INTERESTING.length)]!;
      return f;
    case 2: // a random byte
      if (at < f.length) f[at] = rng.nextInt(256);
      return f;
    case 3: // a 16-bit field to a boundary (lengths, ports, offsets)
      if (at + 1 < f.length) writeU16(f, at, [0, 1, 0x7fff, 0x8000, 0xffff, f.length, f.length - 14][rng.nextInt(7)]! & 0xffff);
      return f;
    case 4: // truncate
      return f.subarray(0, Math.max(1, at));
    case 5: {
      // extend with random bytes
      const extra = 1 + rng.nextInt(64);
      const g = new Uint8Array(Math.min(MAX_FRAME, f.length + extra));
      g.set(f.subarray(0, g.length));
      for (let i = f.length; i < g.length; i++) g[i] = rng.nextInt(256);
      return g;
    }
    case 6: {
      // duplicate a region into another place (repeated options, nested headers)
      const len = 1 + rng.nextInt(Math.min(16, f.length));
      const src = rng.nextInt(Math.max(1, f.length - len));
      const dst = from + rng.nextInt(Math.max(1, f.length - from - len));
      f.copyWithin(dst, src, src + len);
      return f;
    }
    default: {
      // the IPv4 header's length, flags/offset, TTL or protocol fields
      if (f.length < 34 || ((f[12]! << 8) | f[13]!) !== ETH_P_IP) return f;
      const field = [14, 16, 20, 22, 23][rng.nextInt(5)]!;
      if (field === 14) f[14] = 0x40 | rng.nextInt(16);
      else if (field === 16) writeU16(f, 16, rng.nextInt(0x10000));
      else if (field === 20) writeU16(f, 20, [0x2000, 0x4000, 0x0001, 0x1fff, 0x2001, 0x8000][rng.nextInt(6)]!);
      else f[field] = INTERESTING[rng.nextInt(INTERESTING.length)]!;
      return f;
    }
  }
}

/** Recompute the IPv4 header checksum and, for an unfragmented UDP or TCP packet, the transport's. */
export function repairChecksums(f: Uint8Array): void {
  if (f.length < 34 || ((f[12]! << 8) | f[13]!) !== ETH_P_IP) return;
  const ihl = (f[14]! & 15) * 4;
  if (ihl < 20 || 14 + ihl > f.length) return;
  writeU16(f, 24, 0);
  writeU16(f, 24, ipChecksum(f, 14, ihl));
  const totalLen = (f[16]! << 8) | f[17]!;
  const fragmented = (((f[20]! << 8) | f[21]!) & 0x3fff) !== 0;
  const end = 14 + totalLen;
  if (fragmented || totalLen < ihl || end > f.length) return;
  const seg = f.subarray(14 + ihl, end);
  const proto = f[23]!;
  const src = readU32(f, 26);
  const dst = readU32(f, 30);
  if (proto === IPPROTO_UDP && seg.length >= 8) transportChecksum(src, dst, IPPROTO_UDP, seg, 6);
  else if (proto === IPPROTO_TCP && seg.length >= 20) transportChecksum(src, dst, IPPROTO_TCP, seg, 16);
}
