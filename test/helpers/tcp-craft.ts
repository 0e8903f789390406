// Crafted TCP segments for the malformed-input tests: a TCP header (with raw option bytes and a
// data offset that may lie) plus payload, checksummed over the IPv4 pseudo-header unless the
// case is a bad checksum; and a tap that records the TCP segments a board's MAC sends, so a
// test sees the ACKs a drop provokes exactly as they leave the board.
import { csumFold, csumPartial, pseudoHeaderSum } from '../../stack/wire/checksum.js';
import type { BootedBoard } from '../../scenarios/boot.js';
import { readU16, readU32, writeU16, writeU32 } from '../../stack/uapi/byte-order.js';

/** The flag bits by their short names, as the tests write them; the layout is the wire layer's. */
export { TCP_ACK as ACK, TCP_FIN as FIN, TCP_PSH as PSH, TCP_RST as RST, TCP_SYN as SYN } from '../../stack/wire/tcp-header.js';

export interface TcpFields {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window?: number;
  /** Raw option bytes, written after the 20-byte header (padded with NOPs to 4 bytes). */
  options?: Uint8Array;
  payload?: Uint8Array;
  /** Data offset to write (in 32-bit words) instead of the true header length. */
  doff?: number;
  /** Write a checksum that is off by one (the segment is otherwise correct). */
  badChecksum?: boolean;
}

/** A TCP segment (header, options, payload) with a correct checksum for src → dst unless asked. */
export function tcpSegment(f: TcpFields): Uint8Array {
  const opts = f.options ?? new Uint8Array(0);
  const optLen = (opts.length + 3) & ~3;
  const payload = f.payload ?? new Uint8Array(0);
  const b = new Uint8Array(20 + optLen + payload.length);
  writeU16(b, 0, f.sport);
  writeU16(b, 2, f.dport);
  writeU32(b, 4, f.seq >>> 0);
  writeU32(b, 8, f.ack >>> 0);
  b[12] = ((f.doff ?? (20 + optLen) / 4) & 15) << 4;
  b[13] = f.flags;
  writeU16(b, 14, f.window ?? 1024);
  b.fill(1, 20 + opts.length, 20 + optLen); // NOP padding
  b.set(opts, 20);
  b.set(payload, 20 + optLen);
  const sum = csumFold(csumPartial(b, 0, b.length, pseudoHeaderSum(f.src, f.dst, 6, b.length)));
  writeU16(b, 16, f.badChecksum ? (sum + 1) & 0xffff : sum);
  return b;
}

export interface SentSegment {
  time: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  payloadLength: number;
}

/** Record every IPv4/TCP frame `board` sends; read `.segments`, clear with `.clear()`. */
export function tapTcpOut(board: BootedBoard): { segments: SentSegment[]; clear: () => void } {
  const segments: SentSegment[] = [];
  board.board.mac.addTap((e) => {
    if (e.direction !== 'outbound') return;
    const f = e.frame;
    if (f.length < 14 + 20 || readU16(f, 12) !== 0x0800 || f[14 + 9] !== 6) return;
    const ihl = (f[14]! & 15) * 4;
    const total = readU16(f, 16);
    const t = 14 + ihl;
    const doff = (f[t + 12]! >> 4) * 4;
    segments.push({
      time: e.time,
      sport: readU16(f, t),
      dport: readU16(f, t + 2),
      seq: readU32(f, t + 4),
      ack: readU32(f, t + 8),
      flags: f[t + 13]!,
      window: readU16(f, t + 14),
      payloadLength: total - ihl - doff,
    });
  });
  return { segments, clear: () => void segments.splice(0) };
}
