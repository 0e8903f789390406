/**
 * Ethernet, ARP, ICMP, IGMP and UDP headers without a board. The Ethernet fixture is frame 1
 * of test/fixtures/linux-netns-http-two-requests.pcapng (`tshark -x`); the checksums are worked
 * by hand in the comments (RFC 1071: one's-complement sum of 16-bit words, complemented).
 */
import { describe, expect, it } from 'vitest';
import { emitArp, parseArp, ARPOP_REQUEST, type ArpRepr } from '../stack/wire/arp-header.js';
import { emitEthernet, EthernetFrame } from '../stack/wire/ethernet-header.js';
import { emitIcmp, parseIcmp, ICMP_ECHO } from '../stack/wire/icmp-header.js';
import { emitIgmp, parseIgmp, IGMPV2_HOST_MEMBERSHIP_REPORT } from '../stack/wire/igmp-header.js';
import { emitUdp, parseUdp, udpChecksumOk } from '../stack/wire/udp-header.js';

const bytes = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/), (x) => parseInt(x, 16));

describe('small headers (wire)', () => {
  it('Ethernet: the captured header round-trips; a 13-byte frame has no view', () => {
    const eth = bytes('ce 02 63 32 0e af 9e c9 58 b9 f6 1f 08 00');
    const f = EthernetFrame.check(eth, 0, 14)!;
    expect([f.ethertype, f.dstIsMulticast, Array.from(f.src())]).toEqual([0x0800, false, [0x9e, 0xc9, 0x58, 0xb9, 0xf6, 0x1f]]);
    const out = new Uint8Array(14);
    emitEthernet({ dst: eth.subarray(0, 6), src: f.src(), ethertype: f.ethertype }, out, 0);
    expect(Array.from(out)).toEqual(Array.from(eth));
    expect(EthernetFrame.check(eth, 0, 13)).toBeNull();
  });

  it('ARP: a request round-trips (RFC 826 layout); short, non-Ethernet and bad lengths are refused', () => {
    const req = bytes('00 01 08 00 06 04 00 01 02 00 00 00 00 01 c0 00 02 01 00 00 00 00 00 00 c0 00 02 02');
    const r = parseArp(req, 0, 28) as ArpRepr;
    expect([r.op, r.senderIp, r.targetIp]).toEqual([ARPOP_REQUEST, 0xc0000201, 0xc0000202]);
    const out = new Uint8Array(28);
    emitArp(r, out, 0);
    expect(Array.from(out)).toEqual(Array.from(req));
    expect(parseArp(req, 0, 27)).toBeNull();
    const hw = req.slice();
    hw[1] = 6; // IEEE 802 hardware type
    expect(parseArp(hw, 0, 28)).toBeNull();
    const plen = req.slice();
    plen[5] = 16; // protocol address length of IPv6
    expect(parseArp(plen, 0, 28)).toBeNull();
  });

  it('ICMP: echo with id 1 seq 1 has checksum ~(0x0800+1+1) = 0xf7fd; truncated and bad sums refused', () => {
    const out = new Uint8Array(8);
    emitIcmp({ type: ICMP_ECHO, code: 0, rest: 0x00010001 }, out, 0, 0);
    expect(Array.from(out)).toEqual([8, 0, 0xf7, 0xfd, 0, 1, 0, 1]);
    expect(parseIcmp(out, 0, 8)).toEqual({ type: ICMP_ECHO, code: 0, rest: 0x00010001 });
    expect(parseIcmp(out, 0, 7)).toBe('truncated');
    out[7] = 2;
    expect(parseIcmp(out, 0, 8)).toBe('checksum');
  });

  it('IGMP: a v2 report for 224.0.0.251 sums to ~(0x1600+0xe000+0x00fb) = 0x0904', () => {
    const out = new Uint8Array(8);
    emitIgmp({ type: IGMPV2_HOST_MEMBERSHIP_REPORT, code: 0, group: 0xe00000fb }, out, 0);
    expect(Array.from(out)).toEqual([0x16, 0, 0x09, 0x04, 0xe0, 0, 0, 0xfb]);
    expect(parseIgmp(out, 0, 8)).toEqual({ type: 0x16, code: 0, group: 0xe00000fb });
    expect(parseIgmp(out, 0, 7)).toBe('truncated');
    expect(parseIgmp(out, 4, 8)).toBe('truncated'); // runs past the buffer
    out[3]! ^= 1;
    expect(parseIgmp(out, 0, 8)).toBe('checksum');
  });

  it('UDP: 5353 → 53 from 192.0.2.1 to 192.0.2.2, no payload, has checksum 0x66bc; bad lengths refused', () => {
    // Pseudo-header c000+0201+c000+0202+0011+0008 = 0x1841c; header 14e9+0035+0008+0000 = 0x1526;
    // total 0x19942 folds to 0x9943, complemented 0x66bc.
    const out = new Uint8Array(8);
    emitUdp(5353, 53, 0xc0000201, 0xc0000202, out, 0, 0);
    expect(Array.from(out)).toEqual([0x14, 0xe9, 0, 0x35, 0, 8, 0x66, 0xbc]);
    expect(parseUdp(out, 0, 8)).toEqual({ srcPort: 5353, dstPort: 53, length: 8, checksum: 0x66bc });
    expect(udpChecksumOk(out, 0, 8, 0xc0000201, 0xc0000202)).toBe(true);
    expect(udpChecksumOk(out, 0, 8, 0xc0000201, 0xc0000203)).toBe(false);
    expect(parseUdp(out, 0, 7)).toBe('truncated');
    out[5] = 9;
    expect(parseUdp(out, 0, 8)).toBe('short-length'); // says 9, 8 arrived
    out[5] = 7;
    expect(parseUdp(out, 0, 8)).toBe('bad-length'); // under the header's own 8
  });
});
