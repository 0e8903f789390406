/**
 * Slow readers: a program that opens many TCP connections and reads from them slowly (a
 * chunk per connection per tick, after an initial pause), so received data piles up in
 * socket buffers — the load that tests tcp_mem and the board's RAM ceiling.
 */
import type { Nanos } from '../emulator/event-queue.js';
import { type SockAddr } from '../stack/socket/sock.js';
import type { Program, ProgramContext } from './program.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export interface SlowReaderOptions {
  servers: SockAddr[];
  /** Nothing is read before this much time has passed. */
  pauseNs: Nanos;
  /** Then each connection reads `chunk` bytes every `intervalNs`. */
  chunk: number;
  intervalNs: Nanos;
}

interface Conn {
  fd: number;
  bytes: number;
  eof: boolean;
  error: string | null;
}

export class SlowReaders implements Program {
  readonly name = 'slow-readers';
  exitCode: number | null = null;
  readonly conns: Conn[] = [];
  private ctx!: ProgramContext;

  constructor(readonly opts: SlowReaderOptions) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    for (const server of this.opts.servers) {
      const fd = ctx.sys.socket(AF_INET, SOCK_STREAM, 0);
      const conn: Conn = { fd, bytes: 0, eof: false, error: null };
      this.conns.push(conn);
      if (fd < 0) {
        conn.error = `socket: ${errnoName(fd)}`;
        conn.eof = true;
        continue;
      }
      const r = ctx.sys.connect(fd, server);
      if (r < 0 && r !== -Errno.EINPROGRESS) {
        conn.error = `connect: ${errnoName(r)}`;
        conn.eof = true;
      }
    }
    ctx.after(this.opts.pauseNs, () => this.tick());
  }

  private tick(): void {
    for (const c of this.conns) {
      if (c.eof) continue;
      const r = this.ctx.sys.recv(c.fd, this.opts.chunk);
      if (typeof r === 'number') {
        if (r !== -Errno.EAGAIN) {
          c.error = `recv: ${errnoName(r)}`;
          c.eof = true;
        }
        continue;
      }
      if (r.length === 0) c.eof = true;
      c.bytes += r.length;
    }
    if (this.conns.every((c) => c.eof)) {
      this.ctx.log(`read ${this.conns.map((c) => c.bytes).join(', ')} bytes`);
      this.ctx.exit(this.conns.every((c) => !c.error) ? 0 : 1);
      return;
    }
    this.ctx.after(this.opts.intervalNs, () => this.tick());
  }
}
