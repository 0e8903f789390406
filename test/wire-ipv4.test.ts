/**
 * IPv4 header and options without a board. The fixture is frame 1's IP header from
 * test/fixtures/linux-netns-http-two-requests.pcapng (`tshark -r … -x`); tshark decodes it as
 * id 0xa4bf, DF, TTL 64, length 60, checksum 0x11f9 (good).
 */
import { describe, expect, it } from 'vitest';
import { checkIpOptions } from '../stack/wire/ip-options.js';
import { emitIpv4, IP_DF, Ipv4Packet, parseIpv4, parseQuotedIpv4, type Ipv4Repr } from '../stack/wire/ipv4-header.js';

const HDR = Uint8Array.from('45 00 00 3c a4 bf 40 00 40 06 11 f9 c0 00 02 02 c0 00 02 01'.split(' '), (x) => parseInt(x, 16));
function datagram(): Uint8Array {
  const d = new Uint8Array(60);
  d.set(HDR);
  return d;
}

describe('IPv4 header (wire)', () => {
  it('parses the captured header and emits it back byte for byte', () => {
    const r = parseIpv4(datagram(), 0, 60) as Ipv4Repr;
    expect(r).toEqual({ tos: 0, totalLength: 60, id: 0xa4bf, fragOff: IP_DF, ttl: 64, protocol: 6, src: 0xc0000202, dst: 0xc0000201, headerLength: 20 });
    const out = new Uint8Array(20);
    emitIpv4(r, out, 0);
    expect(Array.from(out)).toEqual(Array.from(HDR));
  });

  it('drops in ip_rcv order: truncated, version, header length, checksum, total length', () => {
    expect(parseIpv4(datagram(), 0, 19)).toBe('truncated');
    const v6 = datagram();
    v6[0] = 0x65;
    expect(parseIpv4(v6, 0, 60)).toBe('version');
    const ihl = datagram();
    ihl[0] = 0x44; // 16-byte header
    expect(parseIpv4(ihl, 0, 60)).toBe('header-length');
    expect(parseIpv4(datagram(), 0, 24 - 4 - 1)).toBe('truncated');
    const sum = datagram();
    sum[11]! ^= 0xff;
    expect(parseIpv4(sum, 0, 60)).toBe('checksum');
    expect(parseIpv4(datagram(), 0, 59)).toBe('total-length'); // says 60, 59 arrived
  });

  it('reads a quoted header cut short, as an ICMP error carries it, but not one without 8 more bytes', () => {
    const q = datagram();
    q[11]! ^= 0xff; // quoted headers are not checksum-checked
    expect(parseQuotedIpv4(q, 0, 28)?.dst).toBe(0xc0000201);
    expect(parseQuotedIpv4(q, 0, 27)).toBeNull();
  });

  it('the view writes the length and a checksum the parser accepts (ip_send_check)', () => {
    const d = datagram();
    const v = new Ipv4Packet().wrap(d, 0);
    v.totalLength = 40;
    v.fillChecksum();
    // 0x11f9 + 60 - 40 in one's complement: ~(~0x11f9 - 20) = 0x11f9 + 0x14 = 0x120d.
    expect([d[10], d[11]]).toEqual([0x12, 0x0d]);
    expect((parseIpv4(d, 0, 40) as Ipv4Repr).totalLength).toBe(40);
  });

  it('checks option lengths as ip_options_compile does', () => {
    const h = new Uint8Array(24);
    h.set([1, 1, 1, 0], 20); // NOP NOP NOP END
    expect(checkIpOptions(h, 0, 24)).toBeNull();
    h.set([0x94, 4, 0, 0], 20); // Router Alert, well formed
    expect(checkIpOptions(h, 0, 24)).toBeNull();
    h.set([0x94, 5, 0, 0], 20); // length runs past the header: the length byte (21) is bad
    expect(checkIpOptions(h, 0, 24)).toBe(21);
    h.set([0x94, 1, 0, 0], 20); // length under 2
    expect(checkIpOptions(h, 0, 24)).toBe(21);
    h.set([1, 1, 1, 0x94], 20); // a type with no room for its length byte
    expect(checkIpOptions(h, 0, 24)).toBe(23);
  });
});
