// The live tunnel keeps the link's pace on the way out: a datagram leaves when its frame's last
// bit is on the 100 Mbit/s link, not when the MAC is handed the frame. Sent at once, a burst
// reached Linux faster than the link carries it and Linux acknowledged segments before the
// board's TX completion (issue 15's -R stall). The oracle is the serialisation time worked by
// hand: a 1514-byte frame is 8 + 1514 + 4 + 12 = 1538 bytes with preamble, FCS and gap,
// 12304 bits at 100 Mbit/s = 123.04 µs; a 60-byte frame is 8 + 60 + 4 + 12 = 84 bytes, 6.72 µs.
import type { Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { EthernetMac } from '../emulator/ethernet-mac.js';
import { EventQueue } from '../emulator/event-queue.js';
import { VxlanPort } from '../live/vxlan-port.js';

describe('VxlanPort: outgoing frames keep the link pace', () => {
  it('sends each datagram when its frame has been serialised, in order', () => {
    const sim = new EventQueue();
    const sent: { at: number; bytes: number }[] = [];
    const socket = { send: (parts: Uint8Array[]) => sent.push({ at: sim.now, bytes: parts.reduce((n, p) => n + p.length, 0) }) } as unknown as Socket;
    const mac = { linkSpeedBps: 100e6, attach: () => undefined } as unknown as EthernetMac;
    const port = new VxlanPort(sim, mac, socket, { address: '198.51.100.1', port: 4789 }, 42);
    const big = Buffer.alloc(1514);
    const small = Buffer.alloc(60);
    const done = [port.transmit(mac, big, 0, 1514), port.transmit(mac, big, 0, 1514), port.transmit(mac, small, 0, 60)];
    expect(done).toEqual([123_040, 246_080, 252_800]);
    expect(sent).toEqual([]);
    sim.run(123_039);
    expect(sent).toEqual([]);
    sim.run();
    // 8 bytes of VXLAN header in front of each frame.
    expect(sent).toEqual([{ at: 123_040, bytes: 1522 }, { at: 246_080, bytes: 1522 }, { at: 252_800, bytes: 68 }]);
    expect(port.stats.txDatagrams).toBe(3);
  });
});
