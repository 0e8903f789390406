/**
 * Address forms programs and the stack share: an IPv4 address is an unsigned 32-bit number in
 * host order (struct in_addr without its byte order), a MAC a 6-byte array; their text forms
 * (inet_ntoa / inet_pton, ether_ntoa) and a prefix's netmask. It lives in uapi with the ABI so
 * board programs print and parse addresses without reaching into the stack.
 */
export type Ipv4Addr = number;

export function ipToString(a: Ipv4Addr): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Parse dotted-quad text; null when it is not one. */
export function parseIp(text: string): Ipv4Addr | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export function macToString(m: Uint8Array): string {
  return Array.from(m, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const ZERO_MAC = new Uint8Array(6);

