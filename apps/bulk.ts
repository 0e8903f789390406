/**
 * Bulk transfer programs, like iperf: a source that sends N bytes as fast as TCP takes them
 * and a sink that reads everything and measures goodput in virtual time. Either end can
 * connect or listen, so the board can be sender or receiver in either role.
 */
import type { Nanos } from '../emulator/event-queue.js';
import { type SockAddr } from '../stack/socket/sock.js';
import type { Program, ProgramContext } from './program.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export type BulkRole = { connect: SockAddr } | { listen: number };

/** SO_RCVBUF / SO_SNDBUF to set on the socket before connecting or listening (iperf -w). */
export interface BulkBuffers {
  rcvbuf?: number;
  sndbuf?: number;
}

export interface BulkStats {
  bytes: number;
  /** When the connection was established (connect completed or accepted). */
  startNs: Nanos | null;
  /** When the last byte was read (sink) or the last send was accepted (source). */
  endNs: Nanos | null;
  error: string | null;
  /** Receiver-side goodput over [start, end], bits per second. */
  goodputBps: number | null;
  tcpInfo: unknown;
}

/** The source's pattern, byte i of the stream being (i * 7 + 3) & 255: it repeats every 256 bytes. */
const PATTERN_PERIOD = 256;
const RECV_BYTES = 65536;
const PATTERN = Buffer.alloc(RECV_BYTES + PATTERN_PERIOD);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = (i * 7 + 3) & 255;

abstract class BulkProgram implements Program {
  abstract readonly name: string;
  exitCode: number | null = null;
  readonly stats: BulkStats = { bytes: 0, startNs: null, endNs: null, error: null, goodputBps: null, tcpInfo: null };
  protected ctx!: ProgramContext;
  protected fd = -1;
  protected listenFd = -1;

  constructor(
    protected readonly role: BulkRole,
    protected readonly buffers: BulkBuffers = {},
  ) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    const fd = ctx.sys.socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return this.fail(`socket: ${errnoName(fd)}`);
    // A listener's buffers pass to the connection it accepts, as in Linux.
    for (const [opt, v] of [['SO_RCVBUF', this.buffers.rcvbuf], ['SO_SNDBUF', this.buffers.sndbuf]] as const) {
      if (v === undefined) continue;
      const r = ctx.sys.setsockopt(fd, opt, v);
      if (r < 0) return this.fail(`setsockopt ${opt}: ${errnoName(r)}`);
    }
    if ('connect' in this.role) {
      this.fd = fd;
      ctx.sys.onWritable(fd, () => this.connected());
      ctx.sys.onReadable(fd, () => this.readable());
      const r = ctx.sys.connect(fd, this.role.connect);
      if (r !== -Errno.EINPROGRESS && r < 0) return this.fail(`connect: ${errnoName(r)}`);
    } else {
      this.listenFd = fd;
      let r = ctx.sys.bind(fd, { addr: 0, port: this.role.listen });
      if (r === 0) r = ctx.sys.listen(fd, 16);
      if (r < 0) return this.fail(`listen: ${errnoName(r)}`);
      ctx.sys.onReadable(fd, () => this.acceptOne());
    }
  }

  private acceptOne(): void {
    const a = this.ctx.sys.accept(this.listenFd);
    if (typeof a === 'number') return;
    this.ctx.sys.close(this.listenFd);
    this.listenFd = -1;
    this.fd = a.fd;
    this.ctx.sys.onWritable(this.fd, () => this.writable());
    this.ctx.sys.onReadable(this.fd, () => this.readable());
    this.connected();
  }

  private connected(): void {
    if (this.stats.startNs === null) {
      this.stats.startNs = this.ctx.now();
      this.ctx.log(`connected`);
      this.ctx.sys.onWritable(this.fd, () => this.writable());
    }
    this.writable();
  }

  protected abstract writable(): void;
  protected abstract readable(): void;

  protected fail(msg: string): void {
    this.stats.error = msg;
    this.ctx.log(msg);
    this.finish(1);
  }

  /** Take the connection's TCP_INFO, then exit (which closes the descriptors). */
  protected finish(code: number): void {
    if (this.exitCode !== null) return;
    if (this.fd >= 0) {
      const info = this.ctx.sys.tcpInfo(this.fd);
      if (typeof info !== 'number') this.stats.tcpInfo = info;
    }
    this.ctx.exit(code);
  }
}

/** Sends `total` bytes, then closes its side. */
export class BulkSource extends BulkProgram {
  readonly name = 'bulk-source';
  private readonly chunk: Uint8Array;
  private sentAll = false;

  constructor(
    role: BulkRole,
    readonly total: number,
    buffers: BulkBuffers = {},
  ) {
    super(role, buffers);
    // A recognisable, deterministic pattern so the sink can check integrity.
    this.chunk = new Uint8Array(65536);
    for (let i = 0; i < this.chunk.length; i++) this.chunk[i] = (i * 7 + 3) & 255;
  }

  protected writable(): void {
    if (this.stats.startNs === null || this.sentAll) return;
    while (this.stats.bytes < this.total) {
      const off = this.stats.bytes % this.chunk.length;
      const n = Math.min(this.chunk.length - off, this.total - this.stats.bytes);
      const r = this.ctx.sys.send(this.fd, this.chunk.subarray(off, off + n));
      if (r === -Errno.EAGAIN) return;
      if (r < 0) return this.fail(`send: ${errnoName(r)}`);
      this.stats.bytes += r;
    }
    this.sentAll = true;
    this.stats.endNs = this.ctx.now();
    this.ctx.sys.shutdown(this.fd);
  }

  protected readable(): void {
    // The sink sends nothing but perhaps a request, which is read and discarded; reading end of
    // stream (or an error) ends the program. Read until the queue is empty: the request and
    // the sink's FIN may come in one wakeup.
    for (;;) {
      const r = this.ctx.sys.recv(this.fd, 4096);
      if (typeof r === 'number') {
        if (r !== -Errno.EAGAIN) this.fail(`recv: ${errnoName(r)}`);
        return;
      }
      if (r.length === 0) {
        if (this.sentAll) this.finish(0);
        return;
      }
    }
  }
}

/** Reads until end of stream, checking the pattern, and reports goodput. */
export class BulkSink extends BulkProgram {
  readonly name = 'bulk-sink';
  corrupt = 0;
  /** The sink's read buffer, reused for every recv. */
  private readonly buf = Buffer.alloc(RECV_BYTES);
  private requestSent = false;

  /**
   * `request`: bytes the sink sends as soon as it is connected, before reading, as a client that
   * speaks first does (iperf3's client sends its 37-byte cookie, an HTTP client its request).
   * The source reads and discards them.
   */
  constructor(
    role: BulkRole,
    readonly expected: number,
    buffers: BulkBuffers = {},
    private readonly request: Uint8Array | null = null,
  ) {
    super(role, buffers);
  }

  protected writable(): void {
    if (!this.request || this.requestSent || this.stats.startNs === null) return;
    const r = this.ctx.sys.send(this.fd, this.request);
    if (r === -Errno.EAGAIN) return;
    if (r < 0) return this.fail(`send: ${errnoName(r)}`);
    if (r !== this.request.length) return this.fail(`send: ${r} of ${this.request.length} bytes of the request`);
    this.requestSent = true;
  }

  protected readable(): void {
    for (;;) {
      const n = this.ctx.sys.recvInto(this.fd, this.buf, 0, this.buf.length);
      if (n < 0) {
        if (n !== -Errno.EAGAIN) this.fail(`recv: ${errnoName(n)}`);
        return;
      }
      if (n === 0) {
        const secs = this.stats.endNs !== null && this.stats.startNs !== null ? (this.stats.endNs - this.stats.startNs) / 1e9 : 0;
        this.stats.goodputBps = secs > 0 ? (this.stats.bytes * 8) / secs : null;
        this.ctx.log(`received ${this.stats.bytes} bytes, goodput ${this.stats.goodputBps === null ? '-' : (this.stats.goodputBps / 1e6).toFixed(2)} Mbit/s`);
        this.finish(this.stats.bytes === this.expected && this.corrupt === 0 ? 0 : 1);
        return;
      }
      // The pattern repeats every 256 bytes: compare against it whole (a memcmp), and count
      // the bad bytes one by one only when something differs.
      const phase = this.stats.bytes % PATTERN_PERIOD;
      if (this.buf.compare(PATTERN, phase, phase + n, 0, n) !== 0) {
        for (let i = 0; i < n; i++) if (this.buf[i] !== PATTERN[phase + i]) this.corrupt++;
      }
      this.stats.bytes += n;
      this.stats.endNs = this.ctx.now();
    }
  }
}
