import { AF_INET, SOCK_DGRAM, NS_PER_MS, defineScenario, type Program, type ProgramContext } from 'quarklab';

const PORT = 1883;
const bytes = (s: string) => new TextEncoder().encode(s);

/** A UDP program: `onDatagram` sees each datagram; `fd` is its socket. */
abstract class UdpProgram implements Program {
  abstract readonly name: string;
  exitCode: number | null = null;
  fd = -1;
  start(ctx: ProgramContext, port = 0): void {
    this.fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    if (port) ctx.sys.bind(this.fd, { addr: 0, port });
    ctx.sys.onReadable(this.fd, () => {
      for (let d = ctx.sys.recvfrom(this.fd); typeof d !== 'number'; d = ctx.sys.recvfrom(this.fd)) this.onDatagram(ctx, d.data, d.from);
    });
  }
  abstract onDatagram(ctx: ProgramContext, data: Uint8Array, from: { addr: number; port: number }): void;
}

/** The lab host's collector acknowledges each reading. */
class Collector extends UdpProgram {
  readonly name = 'collector';
  readings: string[] = [];
  override start(ctx: ProgramContext): void { super.start(ctx, PORT); }
  onDatagram(ctx: ProgramContext, data: Uint8Array, from: { addr: number; port: number }): void {
    this.readings.push(new TextDecoder().decode(data));
    ctx.sys.sendto(this.fd, bytes(`ack ${this.readings.length}`), from);
  }
}

/** The board publishes `count` readings, one per interval, and counts the acks. */
class Sensor extends UdpProgram {
  readonly name = 'sensor';
  acks = 0;
  constructor(readonly server: number, readonly intervalNs: number, readonly count: number) { super(); }
  override start(ctx: ProgramContext): void {
    super.start(ctx);
    for (let i = 0; i < this.count; i++) ctx.after(i * this.intervalNs, () => ctx.sys.sendto(this.fd, bytes(`temp=${20 + i}`), { addr: this.server, port: PORT }));
    ctx.after(this.count * this.intervalNs, () => ctx.exit(0));
  }
  onDatagram(): void { this.acks++; }
}

export default defineScenario({
  name: 'sensor',
  description: 'the board publishes readings over UDP; the lab host acknowledges each',
  options: {
    'interval-ms': { type: 'integer', default: 1000, min: 10, max: 60_000, help: 'time between readings' },
    count: { type: 'integer', default: 5, min: 1, max: 1000, help: 'readings to publish' },
  },
  programs: { board: ['sensor'], lab: ['collector'] },
  state: () => ({ collector: new Collector(), sensor: null as Sensor | null }),
  lab: (t, _o, s) => void t.lab.spawn(s.collector),
  board: (t, o, s) => void t.board.spawn((s.sensor = new Sensor(t.lab.addr, o['interval-ms'] * NS_PER_MS, o.count)), () => t.finish()),
  checks: (_t, o, s) => [
    { name: 'the collector got every reading', pass: s.collector.readings.length === o.count, detail: s.collector.readings.join(' ') },
    { name: 'the sensor got every ack', pass: s.sensor!.acks === o.count, detail: `${s.sensor!.acks} of ${o.count}` },
  ],
});
