/**
 * A frame player, as tcpreplay is: sends prepared Ethernet frames out of an interface through
 * a packet socket (AF_PACKET, SOCK_RAW), each at its offset from the start, as written — no
 * ARP, no routing, no checksums touched. One timer is armed at a time, for the next frame due.
 */
import type { Nanos } from '../emulator/event-queue.js';
import type { Program, ProgramContext } from './program.js';
import { AF_PACKET, SOCK_RAW } from '../stack/uapi/socket.js';
import { errnoName } from '../stack/uapi/errno.js';

export interface ReplayedFrame {
  offsetNs: Nanos;
  bytes: Uint8Array;
}

export interface FrameReplayResult {
  sent: number;
  /** sendto() refusals by errno name (a frame too long for the MTU is EMSGSIZE). */
  errors: Record<string, number>;
  startNs: Nanos | null;
  endNs: Nanos | null;
}

export class FrameReplay implements Program {
  readonly name = 'tcpreplay';
  exitCode: number | null = null;
  readonly result: FrameReplayResult = { sent: 0, errors: {}, startNs: null, endNs: null };
  private ctx!: ProgramContext;
  private fd = -1;
  private next = 0;

  constructor(
    readonly frames: readonly ReplayedFrame[],
    readonly ifindex: number,
  ) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    // Protocol 0: a send-only packet socket, taking no copy of received frames.
    const fd = ctx.sys.socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) return this.fail(`socket(AF_PACKET): ${errnoName(fd)}`);
    this.fd = fd;
    const b = ctx.sys.bind(fd, { family: AF_PACKET, ifindex: this.ifindex, protocol: 0 });
    if (b < 0) return this.fail(`bind: ${errnoName(b)}`);
    this.result.startNs = ctx.now();
    this.sendDue();
  }

  private sendDue(): void {
    const start = this.result.startNs!;
    const now = this.ctx.now();
    while (this.next < this.frames.length && start + this.frames[this.next]!.offsetNs <= now) {
      const f = this.frames[this.next++]!;
      const r = this.ctx.sys.sendto(this.fd, f.bytes);
      if (r < 0) {
        const name = errnoName(r);
        this.result.errors[name] = (this.result.errors[name] ?? 0) + 1;
      } else this.result.sent++;
    }
    if (this.next >= this.frames.length) {
      this.result.endNs = now;
      this.ctx.exit(0);
      return;
    }
    this.ctx.after(start + this.frames[this.next]!.offsetNs - now, () => this.sendDue());
  }

  private fail(msg: string): void {
    this.ctx.log(msg);
    this.ctx.exit(1);
  }
}
