/**
 * A small HTTP/1.1 origin server, as a board would run one: it listens on a TCP port, accepts
 * many connections at once (each with its own parser and response state), and serves
 *
 *   GET /            a small page
 *   GET /bytes/N     N bytes of a deterministic pattern, with Content-Length
 *   GET /chunked/N   the same N bytes with chunked transfer coding (a streamed resource)
 *
 * HEAD works for each; other paths are 404, other methods 405, malformed requests 400 (or
 * the parser's 413/414/431/501/505), after which the connection is closed. Connections persist
 * (keep-alive) unless the request says `Connection: close` or is HTTP/1.0 without keep-alive:
 * then the server sends its FIN after the response, so it closes first and holds TIME_WAIT.
 *
 * Memory is bounded per connection: a 16 KiB parser buffer and one response piece of at most
 * 4 KiB; bodies are generated as TCP takes them, never held whole. The server reads the next
 * request only after answering the previous one, so pipelined requests wait in TCP's buffer.
 * No Date field: a server without a reliable clock must not send one (RFC 9110 §6.6.1).
 */
import type { TimerHandle } from '../emulator/event-queue.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { type SockAddr } from '../stack/socket/sock.js';
import {
  asciiBytes,
  chunkFrame,
  DEFAULT_LIMITS,
  HttpParser,
  LAST_CHUNK,
  reasonPhrase,
  serializeResponseHead,
  type HttpError,
  type HttpHeader,
  type HttpLimits,
  type HttpRequestHead,
  type HttpVersion,
} from './http-message.js';
import type { Program, ProgramContext } from './program.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export const HTTP_PORT = 80;
/** The largest /bytes/N or /chunked/N served (1 GiB); larger N is 404. */
export const MAX_RESOURCE_BYTES = 1 << 30;
/** Body bytes per send piece, and per chunk of a chunked body. */
export const PIECE_BYTES = 4096;
const SERVER_NAME = 'quarklab-httpd/0.1';

export const INDEX_PAGE = asciiBytes(
  '<!DOCTYPE html>\n<html><head><title>quarklab</title></head>\n<body><h1>quarklab board</h1>\n' +
    '<p>Try <a href="/bytes/1024">/bytes/N</a> or <a href="/chunked/1024">/chunked/N</a>.</p></body></html>\n',
);
const NOT_FOUND_BODY = asciiBytes('not found\n');

/** Byte `i` of every /bytes/N and /chunked/N body: a hash of the offset, so misplaced data shows. */
export function patternByte(i: number): number {
  return Math.imul(i + 1, 0x9e3779b1) >>> 24;
}

export function fillPattern(out: Uint8Array, offset: number): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.imul(offset + i + 1, 0x9e3779b1) >>> 24;
}

/** How many bytes of `data` (body bytes from `offset` on) differ from the pattern. */
export function patternMismatches(data: Uint8Array, offset: number): number {
  let bad = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== Math.imul(offset + i + 1, 0x9e3779b1) >>> 24) bad++;
  return bad;
}

/** What a target names: the page, a pattern body (with its framing), or nothing. */
export type Resource = { kind: 'page'; body: Uint8Array } | { kind: 'pattern'; length: number; chunked: boolean } | null;

export function resourceFor(target: string): Resource {
  // origin-form, or absolute-form whose path is used (RFC 9112 §3.2.2); the query is ignored.
  let path = target;
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(path);
  if (abs) path = abs[1] === '' ? '/' : abs[1]!;
  const q = path.search(/[?#]/);
  if (q >= 0) path = path.slice(0, q);
  if (path === '/' || path === '/index.html') return { kind: 'page', body: INDEX_PAGE };
  const m = /^\/(bytes|chunked)\/(0|[1-9][0-9]{0,9})$/.exec(path);
  if (!m) return null;
  const length = Number(m[2]);
  if (length > MAX_RESOURCE_BYTES) return null;
  return { kind: 'pattern', length, chunked: m[1] === 'chunked' };
}

export interface HttpServerOptions {
  port: number;
  /** listen() backlog. */
  backlog: number;
  /** Connections served at once; more wait in the accept queue. */
  maxConnections: number;
  /** A keep-alive connection idle this long is closed. */
  keepAliveTimeoutNs: number;
  /** After the server's FIN, how long to read and discard before closing regardless. */
  lingerNs: number;
  /** A response that makes no progress (TCP takes nothing) this long is abandoned. */
  sendTimeoutNs: number;
  /** Request bodies accepted (and discarded) up to this size. */
  maxRequestBodyBytes: number;
  /**
   * SO_SNDBUF for each accepted connection (the kernel doubles it), or 0 to leave the kernel's
   * default and its autotuning. A small board bounds what many connections can pin in RAM.
   */
  sndbufBytes: number;
  /** TCP_NODELAY on each connection: a response's last partial segment is not held for an ACK (Nagle). */
  nodelay: boolean;
}

export const HTTP_SERVER_DEFAULTS: HttpServerOptions = {
  port: HTTP_PORT,
  backlog: 16,
  maxConnections: 16,
  keepAliveTimeoutNs: 5 * NS_PER_SEC,
  lingerNs: 2 * NS_PER_SEC,
  sendTimeoutNs: 30 * NS_PER_SEC,
  maxRequestBodyBytes: 65536,
  sndbufBytes: 0,
  nodelay: true,
};

export interface HttpServerStats {
  connectionsAccepted: number;
  connectionsOpen: number;
  peakConnections: number;
  requests: number;
  /** Responses completed (fully handed to TCP), by status. */
  responses: Record<string, number>;
  /** Body bytes handed to TCP. */
  bodyBytes: number;
  /** Connections on which the server sent its FIN before the client's arrived. */
  closedFirst: number;
  /** Connections the client closed first (between requests). */
  closedByClient: number;
  /** Connections closed for idling past the keep-alive timeout. */
  idleTimeouts: number;
  /** Responses abandoned because TCP took nothing for sendTimeoutNs. */
  sendTimeouts: number;
  /** Malformed requests (answered with a 4xx/5xx and a close). */
  badRequests: number;
  errors: string[];
}

type Phase = 'reading' | 'writing' | 'lingering';

/** What is left to send of the response in progress. */
interface Outgoing {
  status: number;
  /** The head, then each body piece, is sent from here. */
  pending: Uint8Array | null;
  pendingOff: number;
  /** Pattern body still to generate (none for the page, errors and HEAD). */
  body: { offset: number; remaining: number; chunked: boolean; lastChunkSent: boolean } | null;
  closeAfter: boolean;
}

class Connection {
  readonly parser: HttpParser<HttpRequestHead>;
  phase: Phase = 'reading';
  request: { head: HttpRequestHead; keepAlive: boolean } | null = null;
  out: Outgoing | null = null;
  timer: TimerHandle | null = null;
  /** When TCP last took response bytes (for the send timeout). */
  lastProgressNs = 0;
  peerFin = false;
  closed = false;
  readonly scratch = new Uint8Array(PIECE_BYTES);

  constructor(
    readonly fd: number,
    readonly peer: SockAddr,
    limits: HttpLimits,
  ) {
    this.parser = new HttpParser<HttpRequestHead>('request', limits);
  }
}

export class HttpServer implements Program {
  readonly name = 'httpd';
  exitCode: number | null = null;
  readonly opts: HttpServerOptions;
  readonly stats: HttpServerStats = { connectionsAccepted: 0, connectionsOpen: 0, peakConnections: 0, requests: 0, responses: {}, bodyBytes: 0, closedFirst: 0, closedByClient: 0, idleTimeouts: 0, sendTimeouts: 0, badRequests: 0, errors: [] };
  /** Runs whenever a connection closes (the scenario waits for the last). */
  onConnectionClosed: (() => void) | null = null;
  private ctx!: ProgramContext;
  private listenFd = -1;
  private readonly conns = new Map<number, Connection>();
  private readonly limits: HttpLimits;

  constructor(opts: Partial<HttpServerOptions> = {}) {
    this.opts = { ...HTTP_SERVER_DEFAULTS, ...opts };
    this.limits = { ...DEFAULT_LIMITS, maxBodyBytes: this.opts.maxRequestBodyBytes };
  }

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    const fd = ctx.sys.socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return this.fatal(`socket: ${errnoName(fd)}`);
    this.listenFd = fd;
    let r = ctx.sys.bind(fd, { addr: 0, port: this.opts.port });
    if (r === 0) r = ctx.sys.listen(fd, this.opts.backlog);
    if (r < 0) return this.fatal(`listen on port ${this.opts.port}: ${errnoName(r)}`);
    // A server with the TCP_FASTOPEN option (its queue length): requests can arrive in the SYN.
    // Kernels without Fast Open refuse the option, and the server works as before.
    ctx.sys.setsockopt(fd, 'TCP_FASTOPEN', this.opts.backlog);
    ctx.sys.onReadable(fd, () => this.acceptAll());
    ctx.log(`listening on port ${this.opts.port}, backlog ${this.opts.backlog}`);
  }

  private fatal(msg: string): void {
    this.stats.errors.push(msg);
    this.ctx.log(msg);
    this.ctx.exit(1);
  }

  private acceptAll(): void {
    while (this.conns.size < this.opts.maxConnections) {
      const a = this.ctx.sys.accept(this.listenFd);
      if (typeof a === 'number') {
        if (a !== -Errno.EAGAIN) this.stats.errors.push(`accept: ${errnoName(a)}`);
        return;
      }
      if (this.opts.sndbufBytes > 0) {
        const r = this.ctx.sys.setsockopt(a.fd, 'SO_SNDBUF', this.opts.sndbufBytes);
        if (r < 0) this.stats.errors.push(`setsockopt SO_SNDBUF: ${errnoName(r)}`);
      }
      if (this.opts.nodelay) this.ctx.sys.setsockopt(a.fd, 'TCP_NODELAY', 1);
      const c = new Connection(a.fd, a.peer, this.limits);
      this.conns.set(a.fd, c);
      this.stats.connectionsAccepted++;
      this.stats.connectionsOpen = this.conns.size;
      this.stats.peakConnections = Math.max(this.stats.peakConnections, this.conns.size);
      this.ctx.sys.onReadable(c.fd, () => this.pump(c));
      this.ctx.sys.onWritable(c.fd, () => this.pump(c));
      this.armTimer(c, this.opts.keepAliveTimeoutNs, () => this.idle(c));
      this.pump(c);
    }
  }

  /** Everything a wake-up can move on: read and answer requests, write responses, linger. */
  private pump(c: Connection): void {
    while (!c.closed) {
      if (c.phase === 'writing') {
        if (!this.write(c)) return;
        continue;
      }
      if (c.phase === 'lingering') {
        this.linger(c);
        return;
      }
      const ev = c.parser.next();
      if (ev === null) {
        if (!this.read(c)) return;
        continue;
      }
      if ('error' in ev) {
        this.badRequest(c, ev);
        continue;
      }
      switch (ev.type) {
        case 'head':
          this.cancelTimer(c);
          this.stats.requests++;
          c.request = { head: ev.head, keepAlive: ev.keepAlive };
          break;
        case 'body':
          break; // request bodies are read and discarded
        case 'end':
          this.respond(c);
          break;
        case 'closed':
          // The client closed between requests: close our side too (it closed first).
          this.stats.closedByClient++;
          this.closeConn(c);
          return;
      }
    }
  }

  /** recv into the parser; false when nothing more can be read now. */
  private read(c: Connection): boolean {
    if (c.peerFin) return false;
    const room = c.parser.room();
    if (room === 0) return false;
    const r = this.ctx.sys.recv(c.fd, room);
    if (typeof r === 'number') {
      if (r !== -Errno.EAGAIN) this.abort(c, `recv: ${errnoName(r)}`);
      return false;
    }
    if (r.length === 0) {
      c.peerFin = true;
      c.parser.finish();
      return true;
    }
    c.parser.feed(r);
    return true;
  }

  private badRequest(c: Connection, err: HttpError): void {
    this.stats.badRequests++;
    this.ctx.log(`${c.fd}: ${err.status} ${err.error}`);
    const body = asciiBytes(`${err.error}\n`);
    this.startResponse(c, err.status, '1.1', [{ name: 'Content-Type', value: 'text/plain' }, { name: 'Content-Length', value: String(body.length) }], body, null, true);
  }

  private respond(c: Connection): void {
    const req = c.request!;
    const head = req.head;
    const version: HttpVersion = head.version;
    let closeAfter = !req.keepAlive;
    const isHead = head.method === 'HEAD';
    if (head.method !== 'GET' && !isHead) {
      const body = asciiBytes('only GET and HEAD\n');
      this.startResponse(c, 405, version, [{ name: 'Allow', value: 'GET, HEAD' }, { name: 'Content-Type', value: 'text/plain' }, { name: 'Content-Length', value: String(body.length) }], body, null, closeAfter);
      return;
    }
    const res = resourceFor(head.target);
    if (res === null) {
      this.startResponse(c, 404, version, [{ name: 'Content-Type', value: 'text/plain' }, { name: 'Content-Length', value: String(NOT_FOUND_BODY.length) }], isHead ? null : NOT_FOUND_BODY, null, closeAfter);
      return;
    }
    if (res.kind === 'page') {
      this.startResponse(c, 200, version, [{ name: 'Content-Type', value: 'text/html' }, { name: 'Content-Length', value: String(res.body.length) }], isHead ? null : res.body, null, closeAfter);
      return;
    }
    const fields: HttpHeader[] = [{ name: 'Content-Type', value: 'application/octet-stream' }];
    let chunked = res.chunked;
    if (chunked && version === '1.0') {
      // An HTTP/1.0 client does not know chunked: delimit the body by closing instead.
      chunked = false;
      closeAfter = true;
    } else if (chunked) fields.push({ name: 'Transfer-Encoding', value: 'chunked' });
    else fields.push({ name: 'Content-Length', value: String(res.length) });
    const body = isHead ? null : { offset: 0, remaining: res.length, chunked, lastChunkSent: false };
    this.startResponse(c, 200, version, fields, null, body, closeAfter);
  }

  private startResponse(c: Connection, status: number, version: HttpVersion, fields: HttpHeader[], fixedBody: Uint8Array | null, body: Outgoing['body'], closeAfter: boolean): void {
    const headers: HttpHeader[] = [{ name: 'Server', value: SERVER_NAME }, ...fields];
    if (closeAfter) headers.push({ name: 'Connection', value: 'close' });
    else if (version === '1.0') headers.push({ name: 'Connection', value: 'keep-alive' });
    const head = serializeResponseHead({ version: '1.1', status, reason: reasonPhrase(status), headers });
    if ('error' in head) {
      this.abort(c, `response head: ${head.error}`);
      return;
    }
    let pending = head;
    if (fixedBody) {
      pending = new Uint8Array(head.length + fixedBody.length);
      pending.set(head, 0);
      pending.set(fixedBody, head.length);
      this.stats.bodyBytes += fixedBody.length;
    }
    c.out = { status, pending, pendingOff: 0, body, closeAfter };
    c.phase = 'writing';
    c.lastProgressNs = this.ctx.now();
    this.armTimer(c, this.opts.sendTimeoutNs, () => this.sendStalled(c));
  }

  /** One timer per response: when it fires, give up only if TCP took nothing for the whole timeout. */
  private sendStalled(c: Connection): void {
    if (c.closed || c.phase !== 'writing') return;
    const quiet = this.ctx.now() - c.lastProgressNs;
    if (quiet < this.opts.sendTimeoutNs) {
      this.armTimer(c, this.opts.sendTimeoutNs - quiet, () => this.sendStalled(c));
      return;
    }
    this.stats.sendTimeouts++;
    this.abort(c, `send made no progress for ${this.opts.sendTimeoutNs / NS_PER_SEC} s`);
  }

  /** The next piece of the body to send, or null when the response is all handed to TCP. */
  private nextPiece(c: Connection): Uint8Array | null {
    const b = c.out!.body;
    if (!b) return null;
    if (b.remaining === 0) {
      if (b.chunked && !b.lastChunkSent) {
        b.lastChunkSent = true;
        return LAST_CHUNK;
      }
      return null;
    }
    const n = Math.min(b.remaining, PIECE_BYTES);
    const data = c.scratch.subarray(0, n);
    fillPattern(data, b.offset);
    b.offset += n;
    b.remaining -= n;
    this.stats.bodyBytes += n;
    return b.chunked ? chunkFrame(data) : data;
  }

  /** Send what TCP takes; true when the response is complete (the connection moved on). */
  private write(c: Connection): boolean {
    const o = c.out!;
    for (;;) {
      if (o.pending === null || o.pendingOff >= o.pending.length) {
        o.pending = this.nextPiece(c);
        o.pendingOff = 0;
        if (o.pending === null) break;
      }
      const r = this.ctx.sys.send(c.fd, o.pendingOff === 0 ? o.pending : o.pending.subarray(o.pendingOff));
      if (r === -Errno.EAGAIN) return false;
      if (r < 0) {
        this.abort(c, `send: ${errnoName(r)}`);
        return false;
      }
      o.pendingOff += r;
      c.lastProgressNs = this.ctx.now();
    }
    const key = String(o.status);
    this.stats.responses[key] = (this.stats.responses[key] ?? 0) + 1;
    c.out = null;
    c.request = null;
    if (o.closeAfter) {
      this.startClose(c);
      return true;
    }
    c.phase = 'reading';
    this.armTimer(c, this.opts.keepAliveTimeoutNs, () => this.idle(c));
    return true;
  }

  /** The server closes first: FIN after the response, then read and discard until the client's FIN. */
  private startClose(c: Connection): void {
    if (!c.peerFin) this.stats.closedFirst++;
    this.ctx.sys.shutdown(c.fd);
    c.phase = 'lingering';
    this.armTimer(c, this.opts.lingerNs, () => this.closeConn(c));
  }

  private linger(c: Connection): void {
    for (;;) {
      const r = this.ctx.sys.recv(c.fd, 65536);
      if (typeof r === 'number') {
        if (r !== -Errno.EAGAIN) this.closeConn(c);
        return;
      }
      if (r.length === 0) {
        this.closeConn(c);
        return;
      }
    }
  }

  private idle(c: Connection): void {
    if (c.closed || c.phase !== 'reading' || c.request !== null) return;
    this.stats.idleTimeouts++;
    this.startClose(c);
    this.pump(c);
  }

  private abort(c: Connection, msg: string): void {
    this.stats.errors.push(`connection from port ${c.peer.port}: ${msg}`);
    this.ctx.log(`${c.fd}: ${msg}`);
    this.closeConn(c);
  }

  private closeConn(c: Connection): void {
    if (c.closed) return;
    c.closed = true;
    this.cancelTimer(c);
    this.ctx.sys.close(c.fd);
    this.conns.delete(c.fd);
    this.stats.connectionsOpen = this.conns.size;
    this.onConnectionClosed?.();
    // A slot is free: take a connection waiting in the accept queue.
    if (this.exitCode === null && this.listenFd >= 0) this.acceptAll();
  }

  private armTimer(c: Connection, delay: number, run: () => void): void {
    this.cancelTimer(c);
    c.timer = this.ctx.after(delay, () => {
      c.timer = null;
      run();
    });
  }

  private cancelTimer(c: Connection): void {
    if (c.timer) this.ctx.cancel(c.timer);
    c.timer = null;
  }
}
