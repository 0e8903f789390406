/**
 * TCP header and options without a board. Fixtures are frames 1-3 of
 * test/fixtures/linux-netns-http-two-requests.pcapng (`tshark -r … -x`), a Linux 6.1 handshake;
 * the capture holds partial (offloaded) TCP checksums, so the checksum word is replaced by the
 * value `tshark -o tcp.check_checksum:TRUE -T fields -e tcp.checksum_calculated` printed.
 */
import { describe, expect, it } from 'vitest';
import { emitTcp, optionsLength, parseTcp, TCP_ACK, TCP_SYN, type TcpRepr } from '../stack/wire/tcp-header.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.trim().split(/\s+/), (x) => parseInt(x, 16));
}
const A = 0xc0000202; // 192.0.2.2
const B = 0xc0000201; // 192.0.2.1
// Frame 1, TCP header only (40 bytes): SYN 45972 → 8080, MSS 1460, SACK_PERM, TS, WS 10.
const SYN = hex('b3 94 1f 90 5f 01 33 e8 00 00 00 00 a0 02 fa f0 88 c9 00 00 02 04 05 b4 04 02 08 0a 38 c1 a1 6f 00 00 00 00 01 03 03 0a');
// Frame 2: the SYN-ACK, written by Linux's tcp_options_write in the same order.
const SYNACK = hex('1f 90 b3 94 54 af 8c c0 5f 01 33 e9 a0 12 fe 88 c1 db 00 00 02 04 05 b4 04 02 08 0a bc 15 25 bf 38 c1 a1 6f 01 03 03 0a');
// Frame 3: the ACK, NOP NOP TS.
const ACK = hex('b3 94 1f 90 5f 01 33 e9 54 af 8c c1 80 10 00 3f ee f4 00 00 01 01 08 0a 38 c1 a1 6f bc 15 25 bf');

describe('TCP header (wire)', () => {
  it('parses the captured SYN as tshark decodes it', () => {
    const r = parseTcp(SYN, 0, SYN.length, A, B);
    if (typeof r === 'string') throw new Error(r);
    expect([r.srcPort, r.dstPort, r.seq, r.ack, r.window, r.flags, r.headerLength]).toEqual([45972, 8080, 1593914344, 0, 64240, TCP_SYN, 40]);
    expect(r.options).toEqual({ mss: 1460, sackPermitted: true, tsVal: 952213871, tsEcr: 0, wscale: 10 });
  });

  it('emits the SYN-ACK and the ACK byte for byte as Linux did (layout and checksum)', () => {
    for (const [frame, src, dst] of [[SYNACK, B, A], [ACK, A, B]] as const) {
      const r = parseTcp(frame, 0, frame.length, src, dst) as TcpRepr;
      expect(typeof r).toBe('object');
      expect(optionsLength(r.options)).toBe(frame.length - 20);
      const out = new Uint8Array(frame.length);
      emitTcp(r, out, 0, out.length, src, dst);
      expect(Array.from(out)).toEqual(Array.from(frame));
    }
    const ack = parseTcp(ACK, 0, ACK.length, A, B) as TcpRepr;
    expect([ack.flags, ack.window, ack.options.tsVal, ack.options.tsEcr]).toEqual([TCP_ACK, 63, 952213871, 3155502527]);
  });

  it('pads a Fast Open cookie to 32 bits with NOPs after the other options', () => {
    const r: TcpRepr = { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_SYN, window: 0, urgent: 0, headerLength: 0, options: { mss: 1460, fastOpenCookie: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10) } };
    // 4 (MSS) + 2 + 10 (cookie) = 16, already aligned; a 6-byte cookie needs 0 either: 4 + 8 = 12.
    expect(optionsLength(r.options)).toBe(16);
    r.options.fastOpenCookie = Uint8Array.of(1, 2, 3, 4, 5, 6, 7); // 4 + 9 = 13 → 16, three NOPs
    expect(optionsLength(r.options)).toBe(16);
    r.headerLength = 36;
    const out = new Uint8Array(36);
    emitTcp(r, out, 0, 36, A, B);
    expect(Array.from(out.subarray(24, 36))).toEqual([34, 9, 1, 2, 3, 4, 5, 6, 7, 1, 1, 1]);
    const back = parseTcp(out, 0, 36, A, B) as TcpRepr;
    expect(Array.from(back.options.fastOpenCookie ?? [])).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('rejects a truncated segment, a bad data offset and a bad checksum', () => {
    expect(parseTcp(SYN, 0, 19, A, B)).toBe('truncated');
    const off = SYN.slice();
    off[12] = 0x40; // 16 bytes: under the 20-byte minimum
    expect(parseTcp(off, 0, off.length, A, B)).toBe('data-offset');
    off[12] = 0xb0; // 44 bytes: past the 40 there are
    expect(parseTcp(off, 0, off.length, A, B)).toBe('data-offset');
    const sum = SYN.slice();
    sum[17]! ^= 1;
    expect(parseTcp(sum, 0, sum.length, A, B)).toBe('checksum');
    expect(parseTcp(SYN, 0, SYN.length, A, 0xc0000203)).toBe('checksum'); // the pseudo-header counts
  });

  // tcp_parse_options (net/ipv4/tcp_input.c, 6.1): a length under 2 ("silly options") or one
  // running past the header ends the walk, keeping the options read before it; the segment is
  // not dropped. The SYN's options: MSS at 20, SACK_PERM at 24, TS at 26, NOP at 36, WS at 37.
  it('stops at an option whose length runs past the header or is under 2, keeping those before it', () => {
    // Rewrite an option length, then fix the checksum by the RFC 1624 difference so only the option is wrong.
    const bad = (at: number, v: number): Uint8Array => {
      const b = SYN.slice();
      const old = (b[at & ~1]! << 8) | b[(at & ~1) + 1]!;
      b[at] = v;
      const now = (b[at & ~1]! << 8) | b[(at & ~1) + 1]!;
      let c = (~((b[16]! << 8) | b[17]!) & 0xffff) + (~old & 0xffff) + now;
      while (c > 0xffff) c = (c & 0xffff) + (c >>> 16);
      const s = ~c & 0xffff;
      b[16] = s >> 8;
      b[17] = s & 255;
      return b;
    };
    const optionsOf = (b: Uint8Array) => {
      const r = parseTcp(b, 0, 40, A, B);
      if (typeof r === 'string') throw new Error(r);
      return r.options;
    };
    expect(optionsOf(bad(21, 4))).toEqual({ mss: 1460, sackPermitted: true, tsVal: 952213871, tsEcr: 0, wscale: 10 }); // the fixer keeps a good option good
    expect(optionsOf(bad(21, 1))).toEqual({}); // MSS length 1: nothing before it
    expect(optionsOf(bad(38, 5))).toEqual({ mss: 1460, sackPermitted: true, tsVal: 952213871, tsEcr: 0 }); // WS (at 37) length 5: 37 + 5 > 40
    expect(optionsOf(bad(27, 15))).toEqual({ mss: 1460, sackPermitted: true }); // TS (at 26) length 15: 26 + 15 > 40
  });
});
