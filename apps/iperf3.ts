/**
 * iperf3 over the board's sockets: a server that the real `iperf3 -c` client (3.x) talks to,
 * and the matching client for the lab host, so the same test runs deterministically.
 *
 * The control protocol, as iperf3 speaks it on its control connection (port 5201):
 *   client → 37-byte cookie (36 characters and a NUL)
 *   server → PARAM_EXCHANGE (9);      client → 4-byte big-endian length + JSON parameters
 *   server → CREATE_STREAMS (10);     client opens `parallel` data connections, each sending the cookie
 *   server → TEST_START (1), TEST_RUNNING (2); data flows (client → server, or server → client with -R)
 *   client → TEST_END (4) after `time` seconds; the server closes the data connections
 *   server → EXCHANGE_RESULTS (13);   client → its results JSON; server → its results JSON
 *   server → DISPLAY_RESULTS (14);    client → IPERF_DONE (16), and both close.
 * State bytes are signed chars; ACCESS_DENIED (-1) turns away a second client while a test runs,
 * SERVER_ERROR (-2) is followed by two 32-bit error numbers. Only TCP streams are served.
 *
 * Everything runs on the board's virtual clock: durations and end_time are virtual seconds.
 */
import type { Nanos, TimerHandle } from '../emulator/event-queue.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { type SockAddr } from '../stack/socket/sock.js';
import type { Program, ProgramContext } from './program.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export const IPERF3_PORT = 5201;
export const COOKIE_SIZE = 37;
/**
 * The board server's SO_SNDBUF per stream (the kernel doubles it, to 32 KiB): about fifteen
 * full segments queued, enough for 100 Mbit/s at a few milliseconds of round trip. Left to
 * autotuning (up to tcp_wmem[2], 64 KiB) the write queue on quark-2m pushes the heap down to
 * vm.min_free_kbytes and the sender then waits for memory again and again.
 */
export const IPERF3_SERVER_SNDBUF = 16384;

export const enum Iperf3State {
  TEST_START = 1,
  TEST_RUNNING = 2,
  TEST_END = 4,
  PARAM_EXCHANGE = 9,
  CREATE_STREAMS = 10,
  SERVER_TERMINATE = 11,
  CLIENT_TERMINATE = 12,
  EXCHANGE_RESULTS = 13,
  DISPLAY_RESULTS = 14,
  IPERF_DONE = 16,
  ACCESS_DENIED = -1,
  SERVER_ERROR = -2,
}

/** A JSON message longer than this is refused: the parameters and results are a few hundred bytes. */
const MAX_JSON_BYTES = 16 * 1024;
const MAX_STREAMS = 8;
/** Bytes handed to send() at a time from the pattern buffer. */
const SEND_PIECE = 16 * 1024;
/** iperf3's i_errno for "this server does not support the test asked for" (IEUNIMP... kept generic). */
const SERVER_ERROR_UNSUPPORTED = 131;

/** What a control connection is waiting for. */
type ControlPhase = 'cookie' | 'params' | 'streams' | 'running' | 'results' | 'done' | 'closed';

/** A byte accumulator for one control connection: small, bounded, no stream reassembly beyond that. */
class ControlBuffer {
  private buf = new Uint8Array(256);
  length = 0;

  push(data: Uint8Array): boolean {
    if (this.length + data.length > MAX_JSON_BYTES + 64) return false;
    if (this.length + data.length > this.buf.length) {
      const bigger = new Uint8Array(Math.min(MAX_JSON_BYTES + 64, Math.max(this.buf.length * 2, this.length + data.length)));
      bigger.set(this.buf.subarray(0, this.length));
      this.buf = bigger;
    }
    this.buf.set(data, this.length);
    this.length += data.length;
    return true;
  }

  take(n: number): Uint8Array {
    const out = this.buf.slice(0, n);
    this.buf.copyWithin(0, n, this.length);
    this.length -= n;
    return out;
  }

  /** A length-prefixed JSON message, if complete: the value, null when more is needed, or an error. */
  takeJson(): { value: Record<string, unknown> } | { error: string } | null {
    if (this.length < 4) return null;
    const n = ((this.buf[0]! << 24) | (this.buf[1]! << 16) | (this.buf[2]! << 8) | this.buf[3]!) >>> 0;
    if (n > MAX_JSON_BYTES) return { error: `JSON message of ${n} bytes (at most ${MAX_JSON_BYTES})` };
    if (this.length < 4 + n) return null;
    this.take(4);
    const text = new TextDecoder().decode(this.take(n));
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'JSON message is not an object' };
      return { value: value as Record<string, unknown> };
    } catch {
      return { error: 'JSON message does not parse' };
    }
  }

  get first(): number {
    return this.buf[0]!;
  }
}

function jsonMessage(value: unknown): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(value));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/**
 * Control bytes waiting for the socket: send() may refuse them (EAGAIN) when the board is
 * short of memory, so they wait here, in order, until the socket is writable again.
 */
class ControlOutbox {
  private queue: Uint8Array[] = [];
  private queued = 0;

  constructor(
    private readonly ctx: ProgramContext,
    private readonly fd: number,
  ) {}

  /** Queue and try to send; false when the socket failed or too much is waiting. */
  send(bytes: Uint8Array): boolean {
    if (this.queued + bytes.length > MAX_JSON_BYTES * 2) return false;
    this.queue.push(bytes);
    this.queued += bytes.length;
    return this.flush();
  }

  /** Send what the socket takes; false on a socket error. */
  flush(): boolean {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const r = this.ctx.sys.send(this.fd, head);
      if (r === -Errno.EAGAIN) return true;
      if (r < 0) return false;
      this.queued -= r;
      if (r === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(r);
    }
    return true;
  }
}

function stateByte(s: Iperf3State): Uint8Array {
  return Uint8Array.of(s & 0xff);
}

/** The data every stream sends: a fixed pattern (iperf3 sends random bytes; content does not matter). */
function dataPattern(): Uint8Array {
  const b = new Uint8Array(SEND_PIECE);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}

/** A data stream's bookkeeping on either end. */
interface DataStream {
  fd: number;
  id: number;
  bytes: number;
  /** Cookie bytes still expected (server side, before the stream is counted). */
  cookieLeft: number;
  closed: boolean;
}

/** The test the client asked for, from its JSON parameters. */
export interface Iperf3Params {
  time: number;
  parallel: number;
  reverse: boolean;
  len: number;
  /** Bytes to send instead of a time limit (-n), 0 for none. */
  bytes: number;
  /** Socket buffer size asked for with -w, 0 for none. */
  window: number;
}

export function parseParams(p: Record<string, unknown>): Iperf3Params | { error: string } {
  if (p['tcp'] !== true) return { error: 'only TCP tests are served (no -u)' };
  if (p['bidirectional'] === true) return { error: '--bidir is not served' };
  const num = (k: string, dflt: number): number => (typeof p[k] === 'number' && Number.isFinite(p[k]) ? (p[k] as number) : dflt);
  const parallel = Math.trunc(num('parallel', 1));
  if (parallel < 1 || parallel > MAX_STREAMS) return { error: `parallel ${parallel}: at most ${MAX_STREAMS} streams` };
  return { time: Math.max(0, num('time', 10)), parallel, reverse: p['reverse'] === true, len: Math.max(1, Math.trunc(num('len', 131072))), bytes: Math.max(0, Math.trunc(num('num', 0))), window: Math.max(0, Math.trunc(num('window', 0))) };
}

export interface Iperf3TestRecord {
  params: Iperf3Params;
  /** Bytes this end received (forward) or sent (reverse), over all streams. */
  bytes: number;
  startNs: Nanos;
  endNs: Nanos;
  /** The peer's results JSON. */
  peerResults: Record<string, unknown> | null;
}

export interface Iperf3ServerStats {
  tests: Iperf3TestRecord[];
  refused: number;
  errors: string[];
}

/**
 * The board's iperf3 server (`iperf3 -s`): one test at a time, any number of tests in a row.
 */
export class Iperf3Server implements Program {
  readonly name = 'iperf3';
  exitCode: number | null = null;
  readonly stats: Iperf3ServerStats = { tests: [], refused: 0, errors: [] };
  private ctx!: ProgramContext;
  private listenFd = -1;
  private control: { fd: number; phase: ControlPhase; in: ControlBuffer; out: ControlOutbox; cookie: Uint8Array | null } | null = null;
  private params: Iperf3Params | null = null;
  private streams: DataStream[] = [];
  /** Connections accepted but not yet identified (cookie pending): control or data. */
  private pendingConns = new Map<number, ControlBuffer>();
  private startNs = 0;
  private endNs = 0;
  private running = false;
  private readonly pattern = dataPattern();

  constructor(
    readonly port = IPERF3_PORT,
    /**
     * SO_SNDBUF for each data stream when the client asks for no window (-w), 0 for the
     * kernel's sizing. A small board bounds it, as an embedded server bounds its buffers.
     */
    readonly sndbufBytes = IPERF3_SERVER_SNDBUF,
  ) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    const fd = ctx.sys.socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return this.fatal(`socket: ${errnoName(fd)}`);
    this.listenFd = fd;
    let r = ctx.sys.bind(fd, { addr: 0, port: this.port });
    if (r === 0) r = ctx.sys.listen(fd, 8);
    if (r < 0) return this.fatal(`listen on port ${this.port}: ${errnoName(r)}`);
    ctx.sys.onReadable(fd, () => this.acceptAll());
    ctx.log(`server listening on ${this.port}`);
  }

  private acceptAll(): void {
    for (;;) {
      const a = this.ctx.sys.accept(this.listenFd);
      if (typeof a === 'number') return;
      const buf = new ControlBuffer();
      this.pendingConns.set(a.fd, buf);
      this.ctx.sys.onReadable(a.fd, () => this.readPending(a.fd));
      this.readPending(a.fd);
    }
  }

  /** A new connection sends a cookie first: a new test's control connection, or one of its data streams. */
  private readPending(fd: number): void {
    const buf = this.pendingConns.get(fd);
    if (!buf) return;
    const r = this.ctx.sys.recv(fd, COOKIE_SIZE - buf.length);
    if (typeof r === 'number') {
      if (r !== -Errno.EAGAIN) this.dropPending(fd);
      return;
    }
    if (r.length === 0) return this.dropPending(fd);
    buf.push(r);
    if (buf.length < COOKIE_SIZE) return;
    const cookie = buf.take(COOKIE_SIZE);
    this.pendingConns.delete(fd);
    const c = this.control;
    if (c && c.phase === 'streams' && c.cookie && sameBytes(cookie, c.cookie)) return this.addStream(fd);
    if (c) {
      // Busy: iperf3 answers ACCESS_DENIED and closes.
      this.stats.refused++;
      this.ctx.sys.send(fd, stateByte(Iperf3State.ACCESS_DENIED));
      this.ctx.sys.close(fd);
      return;
    }
    // iperf_accept (iperf_server_api.c) sets TCP_NODELAY on the control socket "for lower
    // latency on control messages": otherwise Nagle holds TEST_START behind the unacknowledged
    // CREATE_STREAMS byte until the client's (pingpong-delayed) ACK, 40 ms into the test.
    this.ctx.sys.setsockopt(fd, 'TCP_NODELAY', 1);
    const control = { fd, phase: 'params' as ControlPhase, in: new ControlBuffer(), out: new ControlOutbox(this.ctx, fd), cookie };
    this.control = control;
    this.ctx.sys.onReadable(fd, () => this.readControl());
    this.ctx.sys.onWritable(fd, () => {
      if (this.control === control && !control.out.flush()) this.abort('control send failed');
    });
    this.ctx.log(`accepted control connection`);
    this.sendControl(stateByte(Iperf3State.PARAM_EXCHANGE));
  }

  private dropPending(fd: number): void {
    this.pendingConns.delete(fd);
    this.ctx.sys.close(fd);
  }

  private sendControl(bytes: Uint8Array): void {
    const c = this.control;
    if (!c) return;
    if (!c.out.send(bytes)) this.abort('control send failed');
  }

  private readControl(): void {
    const c = this.control;
    if (!c) return;
    for (;;) {
      const r = this.ctx.sys.recv(c.fd, 4096);
      if (typeof r === 'number') {
        if (r === -Errno.EAGAIN) break;
        return this.abort(`control recv: ${errnoName(r)}`);
      }
      if (r.length === 0) {
        if (c.phase === 'done') return this.endTest();
        return this.abort('the client closed the control connection');
      }
      if (!c.in.push(r)) return this.abort('control connection: too much unread data');
    }
    this.stepControl();
  }

  private stepControl(): void {
    const c = this.control;
    while (c && this.control === c && c.in.length > 0) {
      if (c.phase === 'params' || c.phase === 'results') {
        const m = c.in.takeJson();
        if (m === null) return;
        if ('error' in m) return this.abort(m.error);
        if (c.phase === 'params') {
          const p = parseParams(m.value);
          if ('error' in p) {
            this.ctx.log(`refused: ${p.error}`);
            const err = new Uint8Array(9);
            err[0] = Iperf3State.SERVER_ERROR & 0xff;
            new DataView(err.buffer).setInt32(1, SERVER_ERROR_UNSUPPORTED);
            this.sendControl(err);
            return this.endTest();
          }
          this.params = p;
          c.phase = 'streams';
          this.ctx.log(`test: ${p.parallel} stream(s), ${p.reverse ? 'reverse (board sends)' : 'board receives'}, ${p.time} s`);
          this.sendControl(stateByte(Iperf3State.CREATE_STREAMS));
        } else {
          this.record(m.value);
          this.sendControl(jsonMessage(this.results()));
          this.sendControl(stateByte(Iperf3State.DISPLAY_RESULTS));
          c.phase = 'done';
        }
        continue;
      }
      const state = (c.in.take(1)[0]! << 24) >> 24;
      if (state === Iperf3State.TEST_END && c.phase === 'running') {
        this.stopStreams();
        c.phase = 'results';
        this.sendControl(stateByte(Iperf3State.EXCHANGE_RESULTS));
      } else if (state === Iperf3State.IPERF_DONE && c.phase === 'done') {
        return this.endTest();
      } else if (state === Iperf3State.CLIENT_TERMINATE) {
        return this.abort('the client terminated the test');
      } else {
        return this.abort(`unexpected state ${state} in phase ${c.phase}`);
      }
    }
  }

  private addStream(fd: number): void {
    const p = this.params!;
    // iperf3 numbers streams 1, then 3, 4, … (id 2 is skipped, as in iperf_add_stream).
    const id = this.streams.length === 0 ? 1 : this.streams.length + 2;
    const s: DataStream = { fd, id, bytes: 0, cookieLeft: 0, closed: false };
    this.streams.push(s);
    // iperf3 -w sets both buffers on each stream; without it this server bounds its send buffer.
    const sndbuf = p.window > 0 ? p.window : this.sndbufBytes;
    if (sndbuf > 0) this.ctx.sys.setsockopt(fd, 'SO_SNDBUF', sndbuf);
    if (p.window > 0) this.ctx.sys.setsockopt(fd, 'SO_RCVBUF', p.window);
    this.ctx.sys.onReadable(fd, () => this.readStream(s));
    if (p.reverse) this.ctx.sys.onWritable(fd, () => this.writeStream(s));
    if (this.streams.length < p.parallel) return;
    this.control!.phase = 'running';
    this.running = true;
    this.startNs = this.ctx.now();
    this.sendControl(Uint8Array.of(Iperf3State.TEST_START, Iperf3State.TEST_RUNNING));
    if (p.reverse) for (const st of this.streams) this.writeStream(st);
  }

  private readStream(s: DataStream): void {
    if (s.closed) return;
    for (;;) {
      const r = this.ctx.sys.recv(s.fd, 65536);
      if (typeof r === 'number') {
        if (r !== -Errno.EAGAIN) this.closeStream(s);
        return;
      }
      if (r.length === 0) return this.closeStream(s);
      if (this.running && !this.params!.reverse) s.bytes += r.length;
    }
  }

  private writeStream(s: DataStream): void {
    if (s.closed || !this.running) return;
    for (;;) {
      const r = this.ctx.sys.send(s.fd, this.pattern);
      if (r === -Errno.EAGAIN) return;
      if (r < 0) return this.closeStream(s);
      s.bytes += r;
    }
  }

  private closeStream(s: DataStream): void {
    if (s.closed) return;
    s.closed = true;
    this.ctx.sys.close(s.fd);
  }

  /** TEST_END: stop counting, read what is queued, close the data connections. */
  private stopStreams(): void {
    if (!this.params!.reverse) for (const s of this.streams) this.readStream(s);
    this.running = false;
    this.endNs = this.ctx.now();
    for (const s of this.streams) this.closeStream(s);
  }

  private results(): Record<string, unknown> {
    const secs = (this.endNs - this.startNs) / NS_PER_SEC;
    const sender = this.params!.reverse;
    return {
      cpu_util_total: 0,
      cpu_util_user: 0,
      cpu_util_system: 0,
      // The receiver has no retransmission count; iperf3 sends -1 (as an unsigned 64-bit number).
      sender_has_retransmits: sender ? 1 : -1,
      congestion_used: 'cubic',
      streams: this.streams.map((s) => ({ id: s.id, bytes: s.bytes, retransmits: sender ? 0 : -1, jitter: 0, errors: 0, packets: 0, start_time: 0, end_time: secs })),
    };
  }

  private record(peer: Record<string, unknown>): void {
    const bytes = this.streams.reduce((n, s) => n + s.bytes, 0);
    this.stats.tests.push({ params: this.params!, bytes, startNs: this.startNs, endNs: this.endNs, peerResults: peer });
    const secs = (this.endNs - this.startNs) / NS_PER_SEC;
    this.ctx.log(`${this.params!.reverse ? 'sent' : 'received'} ${bytes} bytes in ${secs.toFixed(3)} s: ${secs > 0 ? ((bytes * 8) / secs / 1e6).toFixed(2) : '-'} Mbit/s`);
  }

  private abort(why: string): void {
    this.stats.errors.push(why);
    this.ctx.log(`test aborted: ${why}`);
    this.endTest();
  }

  /** Close everything of the current test; the server waits for the next one. */
  private endTest(): void {
    this.running = false;
    for (const s of this.streams) this.closeStream(s);
    this.streams = [];
    if (this.control && this.control.phase !== 'closed') {
      this.control.phase = 'closed';
      this.ctx.sys.close(this.control.fd);
    }
    this.control = null;
    this.params = null;
  }

  private fatal(msg: string): void {
    this.stats.errors.push(msg);
    this.ctx.log(msg);
    this.ctx.exit(1);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface Iperf3ClientOptions {
  server: SockAddr;
  timeNs: Nanos;
  reverse: boolean;
  parallel: number;
  /** Seeds the cookie (iperf3 makes it random; here it is reproducible). */
  seed: number;
}

export interface Iperf3ClientResult {
  /** Bytes this end sent (forward) or received (reverse). */
  bytes: number;
  startNs: Nanos | null;
  endNs: Nanos | null;
  /** The server's results JSON. */
  serverResults: Record<string, unknown> | null;
  /** Receiver-side throughput, as iperf3 prints on its "receiver" line, bits per second. */
  receiverBps: number | null;
  error: string | null;
}

/** The cookie: 36 characters of iperf3's alphabet and a NUL. */
export function makeCookie(seed: number): Uint8Array {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const out = new Uint8Array(COOKIE_SIZE);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < COOKIE_SIZE - 1; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = alphabet.charCodeAt((x >>> 0) % 32);
  }
  return out;
}

/** `iperf3 -c SERVER -t T [-R] [-P N]` on a board. */
export class Iperf3Client implements Program {
  readonly name = 'iperf3-client';
  exitCode: number | null = null;
  readonly result: Iperf3ClientResult = { bytes: 0, startNs: null, endNs: null, serverResults: null, receiverBps: null, error: null };
  private ctx!: ProgramContext;
  private controlFd = -1;
  private readonly in = new ControlBuffer();
  private out!: ControlOutbox;
  private phase: 'state' | 'results' = 'state';
  private readonly cookie: Uint8Array;
  private streams: DataStream[] = [];
  private sending = false;
  private timer: TimerHandle | null = null;
  private readonly pattern = dataPattern();

  constructor(readonly opts: Iperf3ClientOptions) {
    this.cookie = makeCookie(opts.seed);
  }

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    const fd = ctx.sys.socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return this.fail(`socket: ${errnoName(fd)}`);
    this.controlFd = fd;
    // iperf_connect (iperf_api.c) sets TCP_NODELAY on the control socket, as the server does.
    ctx.sys.setsockopt(fd, 'TCP_NODELAY', 1);
    this.out = new ControlOutbox(ctx, fd);
    let sentCookie = false;
    ctx.sys.onWritable(fd, () => {
      if (!sentCookie) {
        sentCookie = true;
        this.sendControl(this.cookie);
      } else if (!this.out.flush()) this.fail('control send failed');
    });
    ctx.sys.onReadable(fd, () => this.readControl());
    const r = ctx.sys.connect(fd, this.opts.server);
    if (r !== -Errno.EINPROGRESS && r < 0) this.fail(`connect: ${errnoName(r)}`);
  }

  private readControl(): void {
    for (;;) {
      const r = this.ctx.sys.recv(this.controlFd, 4096);
      if (typeof r === 'number') {
        if (r === -Errno.EAGAIN) break;
        return this.fail(`control recv: ${errnoName(r)}`);
      }
      if (r.length === 0) return this.exitCode === null ? this.fail('the server closed the control connection') : undefined;
      if (!this.in.push(r)) return this.fail('control connection: too much unread data');
    }
    while (this.exitCode === null && this.in.length > 0) {
      if (this.phase === 'results') {
        const m = this.in.takeJson();
        if (m === null) return;
        if ('error' in m) return this.fail(m.error);
        this.result.serverResults = m.value;
        this.phase = 'state';
        continue;
      }
      const state = (this.in.take(1)[0]! << 24) >> 24;
      switch (state) {
        case Iperf3State.PARAM_EXCHANGE:
          this.sendControl(jsonMessage({ tcp: true, omit: 0, time: this.opts.timeNs / NS_PER_SEC, num: 0, blockcount: 0, parallel: this.opts.parallel, ...(this.opts.reverse ? { reverse: true } : {}), len: 131072, pacing_timer: 1000, client_version: '3.12' }));
          break;
        case Iperf3State.CREATE_STREAMS:
          for (let i = 0; i < this.opts.parallel; i++) this.openStream(i);
          break;
        case Iperf3State.TEST_START:
          break;
        case Iperf3State.TEST_RUNNING:
          this.result.startNs = this.ctx.now();
          this.sending = !this.opts.reverse;
          for (const s of this.streams) this.writeStream(s);
          this.timer = this.ctx.after(this.opts.timeNs, () => this.endTest());
          break;
        case Iperf3State.EXCHANGE_RESULTS: {
          const secs = ((this.result.endNs ?? 0) - (this.result.startNs ?? 0)) / NS_PER_SEC;
          const sender = !this.opts.reverse;
          this.sendControl(jsonMessage({ cpu_util_total: 0, cpu_util_user: 0, cpu_util_system: 0, sender_has_retransmits: sender ? 1 : -1, congestion_used: 'cubic', streams: this.streams.map((s) => ({ id: s.id, bytes: s.bytes, retransmits: 0, jitter: 0, errors: 0, packets: 0, start_time: 0, end_time: secs })) }));
          this.phase = 'results';
          break;
        }
        case Iperf3State.DISPLAY_RESULTS:
          this.sendControl(stateByte(Iperf3State.IPERF_DONE));
          this.report();
          this.ctx.exit(this.result.error ? 1 : 0);
          return;
        case Iperf3State.ACCESS_DENIED:
          return this.fail('the server is busy running a test');
        case Iperf3State.SERVER_ERROR:
          return this.fail('the server reported an error');
        default:
          return this.fail(`unexpected state ${state}`);
      }
    }
  }

  private sendControl(bytes: Uint8Array): void {
    if (!this.out.send(bytes)) this.fail('control send failed');
  }

  private openStream(i: number): void {
    const fd = this.ctx.sys.socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return this.fail(`socket: ${errnoName(fd)}`);
    const s: DataStream = { fd, id: i === 0 ? 1 : i + 2, bytes: 0, cookieLeft: COOKIE_SIZE, closed: false };
    this.streams.push(s);
    this.ctx.sys.onWritable(fd, () => {
      if (s.cookieLeft > 0) {
        s.cookieLeft = 0;
        this.ctx.sys.send(fd, this.cookie);
      }
      this.writeStream(s);
    });
    this.ctx.sys.onReadable(fd, () => this.readStream(s));
    const r = this.ctx.sys.connect(fd, this.opts.server);
    if (r !== -Errno.EINPROGRESS && r < 0) this.fail(`connect: ${errnoName(r)}`);
  }

  private writeStream(s: DataStream): void {
    if (!this.sending || s.closed || s.cookieLeft > 0) return;
    for (;;) {
      const r = this.ctx.sys.send(s.fd, this.pattern);
      if (r === -Errno.EAGAIN) return;
      if (r < 0) return;
      s.bytes += r;
    }
  }

  private readStream(s: DataStream): void {
    for (;;) {
      const r = this.ctx.sys.recv(s.fd, 65536);
      if (typeof r === 'number' || r.length === 0) return;
      if (this.result.startNs !== null && this.result.endNs === null) s.bytes += r.length;
    }
  }

  private endTest(): void {
    this.sending = false;
    this.result.endNs = this.ctx.now();
    this.sendControl(stateByte(Iperf3State.TEST_END));
  }

  private report(): void {
    const r = this.result;
    r.bytes = this.streams.reduce((n, s) => n + s.bytes, 0);
    const server = r.serverResults;
    const serverStreams = Array.isArray(server?.['streams']) ? (server!['streams'] as Record<string, unknown>[]) : [];
    if (this.opts.reverse) {
      const secs = ((r.endNs ?? 0) - (r.startNs ?? 0)) / NS_PER_SEC;
      r.receiverBps = secs > 0 ? (r.bytes * 8) / secs : null;
    } else {
      let bytes = 0;
      let secs = 0;
      for (const s of serverStreams) {
        bytes += typeof s['bytes'] === 'number' ? s['bytes'] : 0;
        secs = Math.max(secs, typeof s['end_time'] === 'number' ? s['end_time'] : 0);
      }
      r.receiverBps = secs > 0 ? (bytes * 8) / secs : null;
    }
    this.ctx.log(`${this.opts.reverse ? 'reverse: received' : 'sent'} ${r.bytes} bytes; receiver ${r.receiverBps === null ? '-' : (r.receiverBps / 1e6).toFixed(2)} Mbit/s`);
  }

  private fail(msg: string): void {
    if (this.exitCode !== null) return;
    this.ctx.cancel(this.timer);
    this.result.error = msg;
    this.ctx.log(msg);
    this.ctx.exit(1);
  }
}
