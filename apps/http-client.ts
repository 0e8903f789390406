/**
 * An HTTP/1.1 client program: it opens one or more TCP connections at once to a server and
 * on each sends its requests one after another (keep-alive), the last with
 * `Connection: close`. It parses each response (Content-Length or chunked), checks status,
 * framing, length and body against what was expected, and records per-request latency and
 * bytes in virtual time. After the last response it waits for the server's FIN (the server
 * closes first) before closing its own side.
 */
import type { TimerHandle } from '../emulator/event-queue.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { type SockAddr } from '../stack/socket/sock.js';
import { HttpParser, serializeRequest, type HttpEvent, type HttpResponseHead } from './http-message.js';
import { INDEX_PAGE, patternMismatches, resourceFor } from './http-server.js';
import type { Program, ProgramContext } from './program.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export interface ExpectedResponse {
  status: number;
  /** Body length expected. */
  length: number;
  /** Whether the body must come chunked (else with Content-Length). */
  chunked: boolean;
  /** The body: the server's pattern, exact bytes, or anything of the right length. */
  body: 'pattern' | Uint8Array | null;
}

export interface HttpRequestSpec {
  method: 'GET' | 'HEAD';
  path: string;
  expect: ExpectedResponse;
}

/** What the lab/board server (apps/http-server.ts) answers for `path`. */
export function expectationFor(path: string, method: 'GET' | 'HEAD' = 'GET'): ExpectedResponse {
  const r = resourceFor(path);
  const head = method === 'HEAD';
  if (r === null) return { status: 404, length: head ? 0 : 10, chunked: false, body: null };
  if (r.kind === 'page') return { status: 200, length: head ? 0 : r.body.length, chunked: false, body: head ? null : INDEX_PAGE };
  return { status: 200, length: head ? 0 : r.length, chunked: r.chunked, body: head ? null : 'pattern' };
}

export interface HttpClientOptions {
  server: SockAddr;
  /** The Host field. */
  host: string;
  /** One list of requests per connection; the connections are opened together. */
  connections: HttpRequestSpec[][];
  /** A request whose response is not complete by then fails. */
  requestTimeoutNs: number;
  /** After the last response, how long to wait for the server's FIN before closing anyway. */
  closeTimeoutNs: number;
}

export interface RequestRecord {
  connection: number;
  index: number;
  method: string;
  path: string;
  status: number | null;
  chunked: boolean | null;
  contentLength: number | null;
  /** Body bytes received. */
  bodyBytes: number;
  /** Bytes of the stream the response took: head, framing and body. */
  responseBytes: number;
  /** When the request was handed to TCP; first response byte; last byte. */
  startNs: number;
  firstByteNs: number | null;
  endNs: number | null;
  latencyNs: number | null;
  /** Body bytes that differ from what was expected. */
  corrupt: number;
  /** Status, framing, length and body all as expected. */
  intact: boolean;
  problem: string | null;
}

export interface ConnectionRecord {
  index: number;
  connectStartNs: number;
  connectedNs: number | null;
  /** When the server's FIN was seen and when this side closed. */
  peerFinNs: number | null;
  closedNs: number | null;
  /** The server's FIN arrived before this side closed (the server closed first). */
  serverClosedFirst: boolean;
  requestsDone: number;
  error: string | null;
}

type Phase = 'connecting' | 'sending' | 'receiving' | 'closing' | 'done';

class ClientConn {
  fd = -1;
  phase: Phase = 'connecting';
  readonly parser = new HttpParser<HttpResponseHead>('response');
  next = 0;
  current: RequestRecord | null = null;
  out: Uint8Array | null = null;
  outOff = 0;
  consumedAtStart = 0;
  timer: TimerHandle | null = null;
  peerFin = false;
  /** The current response's head said the connection ends after it. */
  lastKeepAlive = true;
  /** connect() returned at once: TCP Fast Open holds the SYN for the first request. */
  fastOpen = false;

  constructor(
    readonly specs: HttpRequestSpec[],
    readonly record: ConnectionRecord,
  ) {}
}

export class HttpClient implements Program {
  readonly name = 'http-client';
  exitCode: number | null = null;
  readonly requests: RequestRecord[] = [];
  readonly connections: ConnectionRecord[] = [];
  private ctx!: ProgramContext;
  private readonly conns: ClientConn[] = [];
  private readonly opts: HttpClientOptions;

  constructor(opts: Partial<HttpClientOptions> & Pick<HttpClientOptions, 'server' | 'connections'>) {
    this.opts = { host: 'localhost', requestTimeoutNs: 60 * NS_PER_SEC, closeTimeoutNs: 10 * NS_PER_SEC, ...opts };
  }

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    this.opts.connections.forEach((specs, index) => {
      const record: ConnectionRecord = { index, connectStartNs: ctx.now(), connectedNs: null, peerFinNs: null, closedNs: null, serverClosedFirst: false, requestsDone: 0, error: null };
      this.connections.push(record);
      const c = new ClientConn(specs, record);
      this.conns.push(c);
      const fd = ctx.sys.socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) return this.fail(c, `socket: ${errnoName(fd)}`);
      c.fd = fd;
      // Requests are small and each waits for its response: no Nagle delay for them.
      ctx.sys.setsockopt(fd, 'TCP_NODELAY', 1);
      // As curl --tcp-fastopen: where the kernel has Fast Open, the first request rides in the
      // SYN once a cookie is cached; without it the option is refused and nothing changes.
      ctx.sys.setsockopt(fd, 'TCP_FASTOPEN_CONNECT', 1);
      ctx.sys.onWritable(fd, () => this.pump(c));
      ctx.sys.onReadable(fd, () => this.pump(c));
      const r = ctx.sys.connect(fd, this.opts.server);
      if (r !== -Errno.EINPROGRESS && r < 0) return this.fail(c, `connect: ${errnoName(r)}`);
      c.fastOpen = r === 0;
      this.arm(c, this.opts.requestTimeoutNs, 'connect timed out');
    });
    this.maybeExit();
  }

  /** Every request expected, and every one complete and intact. */
  get allIntact(): boolean {
    const expected = this.opts.connections.reduce((s, l) => s + l.length, 0);
    return this.requests.length === expected && this.requests.every((r) => r.intact) && this.connections.every((c) => c.error === null);
  }

  private pump(c: ClientConn): void {
    for (;;) {
      switch (c.phase) {
        case 'done':
          return;
        case 'connecting': {
          const e = this.ctx.sys.getsockopt(c.fd, 'SO_ERROR');
          if (e > 0) return this.fail(c, `connect: ${errnoName(e)}`);
          const info = this.ctx.sys.tcpInfo(c.fd);
          const ready = typeof info !== 'number' && (info.state === 'ESTABLISHED' || (c.fastOpen && info.state === 'SYN_SENT'));
          if (!ready) {
            if (typeof info !== 'number' && info.state === 'CLOSED') return this.fail(c, 'connect: connection closed');
            return;
          }
          c.record.connectedNs = this.ctx.now();
          c.phase = 'sending';
          this.beginRequest(c);
          break;
        }
        case 'sending': {
          if (!this.sendSome(c)) return;
          c.phase = 'receiving';
          break;
        }
        case 'receiving':
        case 'closing': {
          if (!this.receive(c)) return;
          break;
        }
      }
    }
  }

  private beginRequest(c: ClientConn): void {
    const spec = c.specs[c.next]!;
    const last = c.next === c.specs.length - 1;
    const headers = [
      { name: 'Host', value: this.opts.host },
      { name: 'User-Agent', value: 'quarklab-http-client/0.1' },
      { name: 'Accept', value: '*/*' },
    ];
    if (last) headers.push({ name: 'Connection', value: 'close' });
    const rec: RequestRecord = { connection: c.record.index, index: c.next, method: spec.method, path: spec.path, status: null, chunked: null, contentLength: null, bodyBytes: 0, responseBytes: 0, startNs: this.ctx.now(), firstByteNs: null, endNs: null, latencyNs: null, corrupt: 0, intact: false, problem: null };
    this.requests.push(rec);
    c.current = rec;
    c.next++;
    c.consumedAtStart = c.parser.consumed;
    const bytes = serializeRequest({ method: spec.method, target: spec.path, version: '1.1', headers });
    if ('error' in bytes) {
      this.fail(c, `request ${spec.path}: ${bytes.error}`);
      return;
    }
    c.parser.expectResponseTo(spec.method);
    c.out = bytes;
    c.outOff = 0;
    this.arm(c, this.opts.requestTimeoutNs, `no complete response to ${spec.method} ${spec.path} in time`);
  }

  /** True when the request is all handed to TCP. */
  private sendSome(c: ClientConn): boolean {
    while (c.out && c.outOff < c.out.length) {
      const r = this.ctx.sys.send(c.fd, c.out.subarray(c.outOff));
      if (r === -Errno.EAGAIN) return false;
      if (r < 0) {
        this.fail(c, `send: ${errnoName(r)}`);
        return false;
      }
      c.outOff += r;
    }
    c.out = null;
    return true;
  }

  /** Read and parse; true when the phase changed and the loop should go on. */
  private receive(c: ClientConn): boolean {
    for (;;) {
      const ev = c.parser.next();
      // After the last response the parser has nothing more to say; recv shows the FIN.
      if (ev !== null && !('type' in ev && ev.type === 'closed' && c.phase === 'closing')) {
        if ('error' in ev) {
          this.fail(c, `bad response: ${ev.error}`);
          return false;
        }
        if (this.event(c, ev)) return true;
        if (c.phase === 'done') return false;
        continue;
      }
      if (c.peerFin) return false;
      const room = c.parser.room();
      if (room === 0) return false;
      const r = this.ctx.sys.recv(c.fd, room);
      if (typeof r === 'number') {
        if (r !== -Errno.EAGAIN) this.fail(c, `recv: ${errnoName(r)}`);
        return false;
      }
      if (r.length === 0) {
        c.peerFin = true;
        c.record.peerFinNs = this.ctx.now();
        c.parser.finish();
        if (c.phase === 'closing') {
          this.closeConn(c, true);
          return false;
        }
        continue;
      }
      if (c.current && c.current.firstByteNs === null) c.current.firstByteNs = this.ctx.now();
      const err = c.parser.feed(r);
      if (err) {
        this.fail(c, `bad response: ${err.error}`);
        return false;
      }
    }
  }

  /** One parser event; true when the connection moved to another phase (sending the next request). */
  private event(c: ClientConn, ev: HttpEvent<HttpResponseHead>): boolean {
    const rec = c.current;
    switch (ev.type) {
      case 'head': {
        if (!rec) {
          this.fail(c, `response with status ${ev.head.status} to no request`);
          return false;
        }
        if (ev.head.status >= 100 && ev.head.status < 200) return false; // interim: the real one follows
        rec.status = ev.head.status;
        rec.chunked = ev.framing.kind === 'chunked';
        rec.contentLength = ev.framing.kind === 'length' ? ev.framing.length : null;
        c.lastKeepAlive = ev.keepAlive;
        return false;
      }
      case 'body': {
        if (!rec) return false;
        const want = c.specs[rec.index]!.expect.body;
        if (want === 'pattern') rec.corrupt += patternMismatches(ev.data, rec.bodyBytes);
        else if (want instanceof Uint8Array) {
          for (let i = 0; i < ev.data.length; i++) if (want[rec.bodyBytes + i] !== ev.data[i]) rec.corrupt++;
        }
        rec.bodyBytes += ev.data.length;
        return false;
      }
      case 'end': {
        if (!rec) return false;
        if (rec.status === null) return false; // the end of an interim response
        this.completeRequest(c, rec);
        if (c.phase === 'done') return false;
        if (c.next < c.specs.length) {
          if (!c.lastKeepAlive) {
            this.fail(c, `server closed the connection after request ${rec.index + 1} of ${c.specs.length}`);
            return false;
          }
          c.phase = 'sending';
          this.beginRequest(c);
          return true;
        }
        if (c.lastKeepAlive) rec.problem = rec.problem ?? 'last response did not say Connection: close';
        if (rec.problem) rec.intact = false;
        c.phase = 'closing';
        this.arm(c, this.opts.closeTimeoutNs, 'server did not close after the last response');
        if (c.peerFin) {
          this.closeConn(c, true);
          return false;
        }
        return false;
      }
      case 'closed':
        this.fail(c, 'connection closed before the response');
        return false;
    }
  }

  private completeRequest(c: ClientConn, rec: RequestRecord): void {
    const exp = c.specs[rec.index]!.expect;
    rec.endNs = this.ctx.now();
    rec.latencyNs = rec.endNs - rec.startNs;
    rec.responseBytes = c.parser.consumed - c.consumedAtStart;
    const problems: string[] = [];
    if (rec.status !== exp.status) problems.push(`status ${rec.status}, expected ${exp.status}`);
    if (rec.chunked !== exp.chunked) problems.push(rec.chunked ? 'chunked, expected Content-Length' : 'not chunked');
    if (rec.bodyBytes !== exp.length) problems.push(`${rec.bodyBytes} body bytes, expected ${exp.length}`);
    if (!exp.chunked && rec.contentLength !== null && rec.contentLength !== exp.length) problems.push(`Content-Length ${rec.contentLength}`);
    if (rec.corrupt > 0) problems.push(`${rec.corrupt} body bytes differ`);
    rec.problem = problems.length > 0 ? problems.join('; ') : null;
    rec.intact = problems.length === 0;
    c.record.requestsDone++;
    c.current = null;
    this.disarm(c);
  }

  private closeConn(c: ClientConn, serverFirst: boolean): void {
    if (c.phase === 'done') return;
    this.disarm(c);
    c.record.serverClosedFirst = serverFirst;
    this.ctx.sys.close(c.fd);
    c.record.closedNs = this.ctx.now();
    c.phase = 'done';
    this.maybeExit();
  }

  private fail(c: ClientConn, msg: string): void {
    if (c.phase === 'done') return;
    c.record.error = msg;
    if (c.current && !c.current.problem) c.current.problem = msg;
    this.ctx.log(`connection ${c.record.index}: ${msg}`);
    this.disarm(c);
    if (c.fd >= 0) this.ctx.sys.close(c.fd);
    c.record.closedNs = this.ctx.now();
    c.phase = 'done';
    this.maybeExit();
  }

  private arm(c: ClientConn, delay: number, why: string): void {
    this.disarm(c);
    c.timer = this.ctx.after(delay, () => {
      c.timer = null;
      if (c.phase === 'closing') {
        c.record.error = why;
        this.closeConn(c, false);
      } else this.fail(c, why);
    });
  }

  private disarm(c: ClientConn): void {
    if (c.timer) this.ctx.cancel(c.timer);
    c.timer = null;
  }

  private maybeExit(): void {
    if (this.exitCode !== null || this.conns.length < this.opts.connections.length) return;
    if (this.conns.some((c) => c.phase !== 'done')) return;
    const bytes = this.requests.reduce((s, r) => s + r.bodyBytes, 0);
    this.ctx.log(`${this.requests.length} requests on ${this.connections.length} connection(s), ${bytes} body bytes, ${this.requests.filter((r) => !r.intact).length} not intact`);
    this.ctx.exit(this.allIntact ? 0 : 1);
  }
}
