/**
 * IPv4 options (RFC 791 §3.1), checked as ip_options_compile does: every option's length is
 * bounds-checked before it is read. quarklab acts on none of them (no source routing, no
 * record route), but a malformed option list makes the packet invalid.
 */
export const IPOPT_END = 0;
export const IPOPT_NOOP = 1;

/** Returns null when the options are well formed, else the offset (from the header start) of the bad byte. */
export function checkIpOptions(bytes: Uint8Array, headerStart: number, headerLength: number): number | null {
  let i = headerStart + 20;
  const end = headerStart + headerLength;
  while (i < end) {
    const type = bytes[i]!;
    if (type === IPOPT_END) return null;
    if (type === IPOPT_NOOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return i - headerStart;
    const len = bytes[i + 1]!;
    if (len < 2 || i + len > end) return i + 1 - headerStart;
    i += len;
  }
  return null;
}
