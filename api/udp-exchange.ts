/**
 * Ready-made board programs for the commonest exchange a firmware team tests: a client that
 * sends a message every interval and a server that answers each. Both are ordinary programs
 * on the board's socket API (socket, bind, sendto, recvfrom), so a scenario spawns them on
 * either board and checks what they recorded.
 */
import type { Program, ProgramContext } from '../apps/program.js';
import { type SockAddr } from '../stack/socket/sock.js';
import { AF_INET, SOCK_DGRAM } from '../stack/uapi/socket.js';

type Payload = Uint8Array | string;

const encoder = new TextEncoder();
const bytesOf = (p: Payload): Uint8Array => (typeof p === 'string' ? encoder.encode(p) : p);

/** Read every queued datagram whenever the socket becomes readable. */
function onDatagrams(ctx: ProgramContext, fd: number, each: (data: Uint8Array, from: SockAddr) => void): void {
  ctx.sys.onReadable(fd, () => {
    for (let d = ctx.sys.recvfrom(fd); typeof d !== 'number'; d = ctx.sys.recvfrom(fd)) each(d.data, d.from as SockAddr);
  });
}

export interface UdpServerOptions {
  /** The program's name (for boot's RAM reservation and the trace). */
  name: string;
  port: number;
  /** The answer to the n-th datagram (from 1), or null for none. */
  reply?: (data: Uint8Array, n: number, from: SockAddr) => Payload | null;
}

/** A UDP server: binds `port`, records each datagram and answers it as `reply` says. */
export class UdpServer implements Program {
  readonly name: string;
  exitCode: number | null = null;
  /** Every datagram received, in order. */
  readonly received: Uint8Array[] = [];

  constructor(private readonly opts: UdpServerOptions) {
    this.name = opts.name;
  }

  start(ctx: ProgramContext): void {
    const fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    ctx.sys.bind(fd, { addr: 0, port: this.opts.port });
    onDatagrams(ctx, fd, (data, from) => {
      this.received.push(data);
      const answer = this.opts.reply?.(data, this.received.length, from) ?? null;
      if (answer !== null) ctx.sys.sendto(fd, bytesOf(answer), from);
    });
  }
}

export interface UdpClientOptions {
  name: string;
  to: SockAddr;
  /** Messages to send, the first at once, then one every `intervalNs`. */
  count: number;
  intervalNs: number;
  /** The i-th message (from 0). */
  message: (i: number) => Payload;
}

/** A UDP client: sends `count` messages one interval apart, records the replies, and exits one interval after the last. */
export class UdpClient implements Program {
  readonly name: string;
  exitCode: number | null = null;
  /** Every reply received, in order. */
  readonly replies: Uint8Array[] = [];
  /** sendto() failures, as negative errnos. */
  readonly sendErrors: number[] = [];

  constructor(private readonly opts: UdpClientOptions) {
    this.name = opts.name;
  }

  start(ctx: ProgramContext): void {
    const { to, count, intervalNs, message } = this.opts;
    const fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    onDatagrams(ctx, fd, (data) => this.replies.push(data));
    for (let i = 0; i < count; i++) {
      ctx.after(i * intervalNs, () => {
        const r = ctx.sys.sendto(fd, bytesOf(message(i)), to);
        if (r < 0) this.sendErrors.push(r);
      });
    }
    ctx.after(count * intervalNs, () => ctx.exit(0));
  }
}
