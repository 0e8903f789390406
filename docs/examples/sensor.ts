import { defineScenario, NS_PER_MS, UdpClient, UdpServer } from 'quarklab';

const PORT = 1883;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

export default defineScenario({
  name: 'sensor',
  description: 'the board publishes readings over UDP; the lab host acknowledges each',
  options: {
    'interval-ms': { type: 'integer', default: 1000, min: 10, max: 60_000, help: 'time between readings' },
    count: { type: 'integer', default: 5, min: 1, max: 1000, help: 'readings to publish' },
  },
  programs: { board: ['sensor'], lab: ['collector'] },
  state: () => ({ collector: new UdpServer({ name: 'collector', port: PORT, reply: (_data, n) => `ack ${n}` }), sensor: null as UdpClient | null }),
  // The lab host's collector listens first; the board then publishes one reading per interval.
  lab: (t, _o, s) => void t.lab.spawn(s.collector),
  board(t, o, s) {
    const message = (i: number) => `temp=${20 + i}`;
    s.sensor = new UdpClient({ name: 'sensor', to: { addr: t.lab.addr, port: PORT }, count: o.count, intervalNs: o['interval-ms'] * NS_PER_MS, message });
    t.board.spawn(s.sensor, () => t.finish());
  },
  checks: (_t, o, s) => [
    { name: 'the collector got every reading', pass: s.collector.received.length === o.count, detail: s.collector.received.map(text).join(' ') },
    { name: 'the sensor got every ack', pass: s.sensor!.replies.length === o.count, detail: `${s.sensor!.replies.length} of ${o.count}` },
  ],
});
