/**
 * Byte order: the one place multi-byte fields are read and written. Network order (big-endian,
 * Linux's be16/be32 and get_unaligned_be*) is what every header on the wire uses; little-endian
 * (le16/le32) is the board's host order, the layout of structs a program passes through
 * ioctl, netlink, ethtool, the packet ring and BPF. It lives in uapi (as Linux's
 * include/uapi/linux/byteorder does) because programs and the stack both need it; it imports
 * nothing, so every layer may use it.
 */

/** A big-endian (network order) u16 at `o`. */
export function readU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
/** A big-endian (network order) u32 at `o`, as an unsigned number. */
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 255;
  b[o + 1] = v & 255;
}
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 255;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

/** A little-endian (host order) u16 at `o`. */
export function readU16le(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}
/** A little-endian (host order) u32 at `o`, as an unsigned number (`| 0` makes it an s32). */
export function readU32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
export function writeU16le(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 255;
  b[o + 1] = (v >>> 8) & 255;
}
export function writeU32le(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 255;
  b[o + 1] = (v >>> 8) & 255;
  b[o + 2] = (v >>> 16) & 255;
  b[o + 3] = (v >>> 24) & 255;
}

/** A network-order address read as a host integer on little-endian i386 (what %08X of a __be32 prints). */
export function leBe32(addr: number): number {
  return (((addr & 0xff) << 24) | (((addr >>> 8) & 0xff) << 16) | (((addr >>> 16) & 0xff) << 8) | (addr >>> 24)) >>> 0;
}
