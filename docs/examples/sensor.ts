import { AF_INET, SOCK_DGRAM, NS_PER_MS, defineScenario, type Program, type ProgramContext } from 'quarklab';

const PORT = 1883;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** On the board: publish a reading every interval, count the collector's acks. */
class Sensor implements Program {
  readonly name = 'sensor';
  exitCode: number | null = null;
  acks = 0;
  constructor(readonly server: number, readonly intervalNs: number, readonly count: number) {}
  start(ctx: ProgramContext): void {
    const fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    ctx.sys.onReadable(fd, () => {
      for (let d = ctx.sys.recvfrom(fd); typeof d !== 'number'; d = ctx.sys.recvfrom(fd)) if (text(d.data).startsWith('ack')) this.acks++;
    });
    let sent = 0;
    const publish = () => {
      ctx.sys.sendto(fd, new TextEncoder().encode(`temp=${20 + sent}`), { addr: this.server, port: PORT });
      if (++sent < this.count) ctx.after(this.intervalNs, publish);
      else ctx.after(this.intervalNs, () => ctx.exit(0));
    };
    publish();
  }
}

/** On the lab host: acknowledge each reading. */
class Collector implements Program {
  readonly name = 'collector';
  exitCode: number | null = null;
  readings: string[] = [];
  start(ctx: ProgramContext): void {
    const fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    ctx.sys.bind(fd, { addr: 0, port: PORT });
    ctx.sys.onReadable(fd, () => {
      for (let d = ctx.sys.recvfrom(fd); typeof d !== 'number'; d = ctx.sys.recvfrom(fd)) {
        this.readings.push(text(d.data));
        ctx.sys.sendto(fd, new TextEncoder().encode(`ack ${this.readings.length}`), d.from);
      }
    });
  }
}

export default defineScenario({
  name: 'sensor',
  description: 'the board publishes readings over UDP; the lab host acknowledges each',
  options: {
    'interval-ms': { type: 'integer', default: 1000, min: 10, max: 60_000, help: 'time between readings' },
    count: { type: 'integer', default: 5, min: 1, max: 1000, help: 'readings to publish' },
  },
  programs: { board: ['sensor'], lab: ['collector'] },
  state: () => ({ sensor: null as Sensor | null, collector: new Collector() }),
  lab: (t, _o, s) => void t.lab.spawn(s.collector),
  board(t, o, s) {
    s.sensor = new Sensor(t.lab.addr, o['interval-ms'] * NS_PER_MS, o.count);
    t.board.spawn(s.sensor, () => t.finish());
  },
  checks: (_t, o, s) => [
    { name: 'the collector got every reading', pass: s.collector.readings.length === o.count, detail: s.collector.readings.join(' ') },
    { name: 'the sensor got every ack', pass: s.sensor!.acks === o.count, detail: `${s.sensor!.acks} of ${o.count}` },
  ],
});
