/**
 * ping: ICMP echo requests at an interval, as iputils/busybox ping does. It opens a raw ICMP
 * socket (root, CONFIG_INET_RAW) and falls back to an ICMP datagram socket (CONFIG_IP_PING)
 * when raw sockets are not built in; with neither it fails as ping would.
 */
import { NS_PER_MS, NS_PER_SEC, type Nanos, type TimerHandle } from '../emulator/event-queue.js';
import { ipToString } from '../stack/core/addr.js';
import { ipChecksum } from '../stack/wire/checksum.js';
import type { Program, ProgramContext } from './program.js';
import { IPPROTO_ICMP } from '../stack/uapi/in.js';
import { AF_INET, SOCK_DGRAM, SOCK_RAW } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export interface PingOptions {
  target: number;
  count: number;
  intervalNs: Nanos;
  /** ICMP payload bytes (-s), 56 by default. */
  size: number;
  /** How long to wait for the last reply (-W). */
  timeoutNs: Nanos;
}

export interface PingResult {
  transmitted: number;
  received: number;
  errors: number;
  rttNs: Nanos[];
  socketKind: 'raw' | 'ping' | 'none';
  error: string | null;
}

export class Ping implements Program {
  readonly name = 'ping';
  exitCode: number | null = null;
  readonly result: PingResult = { transmitted: 0, received: 0, errors: 0, rttNs: [], socketKind: 'none', error: null };
  private ctx!: ProgramContext;
  private fd = -1;
  private seq = 0;
  private readonly ident = 0x5151;
  private readonly sentAt = new Map<number, Nanos>();
  private deadline: TimerHandle | null = null;

  constructor(readonly opts: PingOptions) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    let fd = ctx.sys.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    this.result.socketKind = 'raw';
    if (fd === -Errno.EPROTONOSUPPORT) {
      fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
      this.result.socketKind = 'ping';
    }
    if (fd < 0) {
      this.result.socketKind = 'none';
      this.result.error = `ping: socket: ${errnoName(fd)}`;
      ctx.log(this.result.error);
      this.finish(2);
      return;
    }
    this.fd = fd;
    ctx.sys.onReadable(fd, () => this.readReplies());
    ctx.log(`PING ${ipToString(this.opts.target)}: ${this.opts.size} data bytes (${this.result.socketKind} socket)`);
    this.sendNext();
  }

  private sendNext(): void {
    const seq = this.seq++;
    const msg = new Uint8Array(8 + this.opts.size);
    msg[0] = 8; // echo request
    msg[4] = this.ident >> 8;
    msg[5] = this.ident & 255;
    msg[6] = seq >> 8;
    msg[7] = seq & 255;
    // The payload starts with the send time, as ping's timeval; the rest is ping's 0x08.. pattern.
    const t = this.ctx.now();
    for (let i = 0; i < 8 && i < this.opts.size; i++) msg[8 + i] = Math.floor(t / 2 ** (8 * (7 - i))) & 255;
    for (let i = 8; i < this.opts.size; i++) msg[8 + i] = (i + 8) & 255;
    const sum = ipChecksum(msg, 0, msg.length);
    msg[2] = sum >> 8;
    msg[3] = sum & 255;
    const r = this.ctx.sys.sendto(this.fd, msg, { addr: this.opts.target, port: 0 });
    if (r < 0) {
      this.result.errors++;
      this.ctx.log(`ping: sendto: ${errnoName(r)}`);
    } else {
      this.result.transmitted++;
      this.sentAt.set(seq, t);
    }
    if (this.seq < this.opts.count) this.ctx.after(this.opts.intervalNs, () => this.sendNext());
    else this.deadline = this.ctx.after(this.opts.timeoutNs, () => this.finish(this.result.received === this.result.transmitted ? 0 : 1));
  }

  private readReplies(): void {
    for (;;) {
      const r = this.ctx.sys.recvfrom(this.fd);
      if (typeof r === 'number') {
        if (r !== -Errno.EAGAIN) {
          this.result.errors++;
          this.ctx.log(`From ${ipToString(this.opts.target)}: ${errnoName(r)}`);
          continue;
        }
        return;
      }
      // A raw socket sees the IP header; a ping socket only the ICMP message.
      const icmp = this.result.socketKind === 'raw' ? r.data.subarray((r.data[0]! & 15) * 4) : r.data;
      if (icmp.length < 8 || icmp[0] !== 0) continue;
      if (this.result.socketKind === 'raw' && ((icmp[4]! << 8) | icmp[5]!) !== this.ident) continue;
      const seq = (icmp[6]! << 8) | icmp[7]!;
      const sent = this.sentAt.get(seq);
      if (sent === undefined) continue;
      this.sentAt.delete(seq);
      const rtt = this.ctx.now() - sent;
      this.result.received++;
      this.result.rttNs.push(rtt);
      this.ctx.log(`${icmp.length} bytes from ${ipToString(r.from.addr)}: icmp_seq=${seq} time=${(rtt / NS_PER_MS).toFixed(3)} ms`);
    }
    // Every reply is in: no need to wait out the deadline.
    if (this.seq >= this.opts.count && this.sentAt.size === 0 && this.deadline) {
      this.ctx.cancel(this.deadline);
      this.finish(this.result.received === this.result.transmitted ? 0 : 1);
    }
  }

  private finish(code: number): void {
    if (this.exitCode !== null) return;
    this.ctx.log(`--- ${ipToString(this.opts.target)} ping statistics --- ${this.result.transmitted} transmitted, ${this.result.received} received`);
    this.ctx.exit(code);
  }
}

export const PING_DEFAULTS = { count: 4, intervalNs: NS_PER_SEC, size: 56, timeoutNs: 2 * NS_PER_SEC };
