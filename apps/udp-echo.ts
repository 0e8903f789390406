/**
 * UDP echo (RFC 862, port 7): a server that sends every datagram back to where it came from,
 * and a client that sends datagrams of chosen sizes — up to larger than the MTU, so IP
 * fragments them and the other side reassembles — and checks each echo is the same bytes.
 * Lost datagrams (or a lost fragment, which loses the whole datagram) are sent again after a
 * timeout, a bounded number of times.
 */
import { NS_PER_SEC, type Nanos, type TimerHandle } from '../emulator/event-queue.js';
import { ipToString } from '../stack/core/addr.js';
import type { Program, ProgramContext } from './program.js';
import { AF_INET, SOCK_DGRAM } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export const ECHO_PORT = 7;

export interface EchoServerResult {
  echoed: number;
  bytes: number;
  errors: number;
  error: string | null;
}

export class UdpEchoServer implements Program {
  readonly name = 'echod';
  exitCode: number | null = null;
  readonly result: EchoServerResult = { echoed: 0, bytes: 0, errors: 0, error: null };
  private ctx!: ProgramContext;
  private fd = -1;

  constructor(readonly port = ECHO_PORT) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    const fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return this.fail(`socket: ${errnoName(fd)}`);
    this.fd = fd;
    const b = ctx.sys.bind(fd, { addr: 0, port: this.port });
    if (b < 0) return this.fail(`bind port ${this.port}: ${errnoName(b)}`);
    ctx.sys.onReadable(fd, () => this.echo());
  }

  private echo(): void {
    for (;;) {
      const r = this.ctx.sys.recvfrom(this.fd);
      if (typeof r === 'number') {
        if (r === -Errno.EAGAIN) return;
        this.result.errors++;
        continue;
      }
      const s = this.ctx.sys.sendto(this.fd, r.data, r.from);
      if (s < 0) {
        this.result.errors++;
        this.ctx.log(`echo to ${ipToString(r.from.addr)}:${r.from.port}: ${errnoName(s)}`);
        continue;
      }
      this.result.echoed++;
      this.result.bytes += r.data.length;
    }
  }

  private fail(error: string): void {
    this.result.error = `echod: ${error}`;
    this.ctx.log(this.result.error);
    this.ctx.exit(1);
  }
}

export interface EchoClientOptions {
  server: number;
  port?: number;
  /** Payload sizes, sent one after another (each waits for its echo). */
  sizes: number[];
  timeoutNs?: Nanos;
  /** Sends per datagram before giving up on it. */
  tries?: number;
}

export interface EchoExchange {
  size: number;
  sent: number;
  /** The echo came back byte for byte. */
  intact: boolean;
  /** An echo came back but differed (length or content). */
  mismatched: boolean;
  rttNs: Nanos | null;
  error: string | null;
}

export interface EchoClientResult {
  exchanges: EchoExchange[];
  error: string | null;
}

/** The payload for datagram `seq` of `size` bytes: a sequence tag, then a position pattern. */
export function echoPayload(seq: number, size: number): Uint8Array {
  const d = new Uint8Array(size);
  for (let i = 0; i < size; i++) d[i] = (i * 7 + seq * 31 + (i >>> 8)) & 255;
  if (size >= 4) {
    d[0] = 0x51;
    d[1] = 0x4c;
    d[2] = (seq >>> 8) & 255;
    d[3] = seq & 255;
  }
  return d;
}

export class UdpEchoClient implements Program {
  readonly name = 'udp-echo';
  exitCode: number | null = null;
  readonly result: EchoClientResult = { exchanges: [], error: null };
  private ctx!: ProgramContext;
  private fd = -1;
  private seq = 0;
  private payload: Uint8Array = new Uint8Array(0);
  private sentAt = 0;
  private timer: TimerHandle | null = null;

  constructor(readonly opts: EchoClientOptions) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    const fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return this.fail(`socket: ${errnoName(fd)}`);
    this.fd = fd;
    const c = ctx.sys.connect(fd, { addr: this.opts.server, port: this.opts.port ?? ECHO_PORT });
    if (c < 0) return this.fail(`connect: ${errnoName(c)}`);
    ctx.sys.onReadable(fd, () => this.readEcho());
    this.nextDatagram();
  }

  private get current(): EchoExchange {
    return this.result.exchanges[this.result.exchanges.length - 1]!;
  }

  private nextDatagram(): void {
    if (this.seq >= this.opts.sizes.length) {
      this.ctx.exit(this.result.exchanges.every((e) => e.intact) ? 0 : 1);
      return;
    }
    const size = this.opts.sizes[this.seq]!;
    this.payload = echoPayload(this.seq, size);
    this.seq++;
    this.result.exchanges.push({ size, sent: 0, intact: false, mismatched: false, rttNs: null, error: null });
    this.send();
  }

  private send(): void {
    const e = this.current;
    e.sent++;
    this.sentAt = this.ctx.now();
    const s = this.ctx.sys.sendto(this.fd, this.payload);
    this.ctx.log(`sent ${e.size} bytes to ${ipToString(this.opts.server)}:${this.opts.port ?? ECHO_PORT}${e.sent > 1 ? ` (try ${e.sent})` : ''}${s < 0 ? `: ${errnoName(s)}` : ''}`);
    if (s < 0) e.error = `sendto: ${errnoName(s)}`;
    this.timer = this.ctx.after(this.opts.timeoutNs ?? 2 * NS_PER_SEC, () => {
      this.timer = null;
      if (e.sent < (this.opts.tries ?? 3)) return this.send();
      e.error ??= `no echo after ${e.sent} tries`;
      this.ctx.log(`${e.size} bytes: ${e.error}`);
      this.nextDatagram();
    });
  }

  private readEcho(): void {
    for (;;) {
      const r = this.ctx.sys.recvfrom(this.fd);
      if (typeof r === 'number') {
        if (r === -Errno.EAGAIN) return;
        this.current.error = `recvfrom: ${errnoName(r)}`;
        continue;
      }
      const e = this.current;
      if (e.intact) continue; // a duplicate echo of one already checked
      const tag = r.data.length >= 4 ? (r.data[2]! << 8) | r.data[3]! : -1;
      if (tag !== this.seq - 1 && r.data.length >= 4) continue; // a late echo of an earlier datagram
      const same = r.data.length === this.payload.length && r.data.every((b, i) => b === this.payload[i]);
      if (!same) {
        e.mismatched = true;
        this.ctx.log(`echo of ${e.size} bytes came back as ${r.data.length} bytes that differ`);
        continue;
      }
      e.intact = true;
      e.error = null;
      e.rttNs = this.ctx.now() - this.sentAt;
      this.ctx.log(`echo of ${e.size} bytes intact in ${(e.rttNs / 1e6).toFixed(3)} ms`);
      this.ctx.cancel(this.timer);
      this.timer = null;
      this.ctx.after(0, () => this.nextDatagram());
      return;
    }
  }

  private fail(error: string): void {
    this.result.error = `udp-echo: ${error}`;
    this.ctx.log(this.result.error);
    this.ctx.exit(1);
  }
}
