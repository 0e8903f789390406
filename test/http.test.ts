// HTTP/1.1: the message parser and serialisers against hand-made and hostile bytes; the board's
// server on a real stack (two booted boards) answering pipelined, malformed, HTTP/1.0 and idle
// connections; and the `http-serve` (quark-2m, minimal) and `http-get` (quark-4m, client)
// scenarios end to end — verdict, RAM, who closed first, and tshark's reading of the capture.
import { afterAll, describe, expect, it } from 'vitest';
import { HttpClient, expectationFor } from '../apps/http-client.js';
import {
  chunkFrame,
  DEFAULT_LIMITS,
  fieldValue,
  HttpParser,
  LAST_CHUNK,
  serializeRequest,
  serializeResponseHead,
  type BodyFraming,
  type HttpError,
  type HttpEvent,
  type HttpHeader,
  type HttpRequestHead,
  type HttpResponseHead,
} from '../apps/http-message.js';
import { HttpServer, INDEX_PAGE, patternByte, patternMismatches, resourceFor } from '../apps/http-server.js';
import type { Program, ProgramContext } from '../apps/program.js';
import { NS_PER_MS, NS_PER_SEC, NS_PER_US } from '../emulator/event-queue.js';
import { World } from '../emulator/world.js';
import { bootBoard, liveObjectBytes, programReservations, type BootedBoard } from '../scenarios/boot.js';
import { buildFirmware } from '../scenarios/firmware.js';
import { HTTP_SERVE_DEFAULT_CLIENTS } from '../scenarios/http.js';
import { LAB_BOARD, LAB_PROFILE, resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { Process, type TraceLine } from '../scenarios/process.js';
import { findScenario } from '../scenarios/registry.js';
import { inetAddAddress, inetAddRoute, inetFlushInterface } from '../stack/ipv4/devinet.js';
import { type SockAddr } from '../stack/uapi/in.js';
import { removeTempDirs, runToDir } from './helpers/run.js';
import { hasProtocol, malformedOrWarning, present, tsharkPass } from './helpers/tshark.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

afterAll(removeTempDirs);

const enc = (s: string): Uint8Array => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
const dec = (b: Uint8Array): string => String.fromCharCode(...b);

type Ev<H> = HttpEvent<H> | HttpError;

/** Feed `bytes` in pieces of `step` (respecting room()), collecting every event until input runs out. */
function parseAll<H extends HttpRequestHead | HttpResponseHead>(p: HttpParser<H>, bytes: Uint8Array, step = bytes.length, eof = true): Ev<H>[] {
  const out: Ev<H>[] = [];
  let off = 0;
  const drain = (): boolean => {
    for (;;) {
      const ev = p.next();
      if (ev === null) return true;
      out.push(ev);
      if ('error' in ev || ev.type === 'closed') return false;
    }
  };
  while (off < bytes.length) {
    const n = Math.min(step, p.room(), bytes.length - off);
    if (n === 0 && p.room() === 0) break;
    const err = p.feed(bytes.subarray(off, off + n));
    if (err) {
      out.push(err);
      return out;
    }
    off += n;
    if (!drain()) return out;
  }
  if (eof) {
    p.finish();
    drain();
  }
  return out;
}

/** Events with body pieces joined, for comparing runs that fed differently. */
function summarise<H>(evs: Ev<H>[]): unknown[] {
  const out: unknown[] = [];
  let body: number[] | null = null;
  for (const e of evs) {
    if ('error' in e) {
      out.push({ error: e.status });
      continue;
    }
    if (e.type === 'body') {
      body ??= [];
      body.push(...e.data);
      continue;
    }
    if (body) {
      out.push({ body: dec(new Uint8Array(body)) });
      body = null;
    }
    out.push(e.type === 'head' ? { head: e.head, framing: e.framing, keepAlive: e.keepAlive } : { type: e.type });
  }
  return out;
}

const req = (s: string): Ev<HttpRequestHead>[] => parseAll(new HttpParser<HttpRequestHead>('request'), enc(s));
const firstError = (evs: Ev<unknown>[]): HttpError | undefined => evs.find((e): e is HttpError => 'error' in e);

describe('HTTP/1.1 message parser', () => {
  it('parses a request head: method, target, version, fields in order; 1.1 persists by default', () => {
    const evs = req('GET /bytes/10?x=1 HTTP/1.1\r\nHost: board\r\nX-Two:  spaced value \t\r\nAccept: */*\r\n\r\n');
    expect(evs[0]).toEqual({
      type: 'head',
      head: { method: 'GET', target: '/bytes/10?x=1', version: '1.1', headers: [{ name: 'Host', value: 'board' }, { name: 'X-Two', value: 'spaced value' }, { name: 'Accept', value: '*/*' }] },
      framing: { kind: 'none' },
      keepAlive: true,
    });
    expect(evs.slice(1).map((e) => ('type' in e ? e.type : 'error'))).toEqual(['end', 'closed']);
  });

  it('keep-alive follows RFC 9112 §9.3: close token, HTTP/1.0 default close, 1.0 keep-alive', () => {
    const ka = (s: string) => (req(s)[0] as { keepAlive: boolean }).keepAlive;
    expect(ka('GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n')).toBe(false);
    expect(ka('GET / HTTP/1.0\r\n\r\n')).toBe(false);
    expect(ka('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')).toBe(true);
    // After a message that closes, nothing more is parsed.
    const evs = req('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(evs.filter((e) => 'type' in e && e.type === 'head')).toHaveLength(1);
  });

  it('stops at each message: pipelined requests come out one at a time, bodies included', () => {
    const two = 'POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: h\r\n\r\n';
    const p = new HttpParser<HttpRequestHead>('request');
    p.feed(enc(two));
    const seq: string[] = [];
    for (let e = p.next(); e !== null; e = p.next()) {
      if ('error' in e) throw new Error(e.error);
      seq.push(e.type === 'head' ? `head ${e.head.target}` : e.type === 'body' ? `body ${dec(e.data)}` : e.type);
      if (e.type === 'end' && seq.length === 3) expect(p.buffered).toBe(two.length - two.indexOf('GET'));
    }
    expect(seq).toEqual(['head /a', 'body hello', 'end', 'head /b', 'end']);
  });

  it('gives the same events whether fed whole or a byte at a time (chunked body, extensions, trailers)', () => {
    const msg = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=val\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: t\r\n\r\n';
    const whole = summarise(parseAll(new HttpParser<HttpResponseHead>('response'), enc(msg)));
    const bytewise = summarise(parseAll(new HttpParser<HttpResponseHead>('response'), enc(msg), 1));
    expect(bytewise).toEqual(whole);
    expect(whole).toEqual([
      { head: { version: '1.1', status: 200, reason: 'OK', headers: [{ name: 'Transfer-Encoding', value: 'chunked' }] }, framing: { kind: 'chunked' }, keepAlive: true },
      { body: 'hello, chunked!' },
      { type: 'end' },
      { type: 'closed' },
    ]);
  });

  it('frames responses by the request method and status: HEAD, 204 and 304 have no body; 1xx is interim', () => {
    const p = new HttpParser<HttpResponseHead>('response');
    for (const m of ['HEAD', 'GET', 'GET', 'GET']) p.expectResponseTo(m);
    const evs = parseAll(p, enc('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const heads = evs.filter((e): e is Extract<HttpEvent<HttpResponseHead>, { type: 'head' }> => 'type' in e && e.type === 'head');
    expect(heads.map((h) => [h.head.status, h.framing.kind])).toEqual([[200, 'none'], [100, 'none'], [204, 'none'], [304, 'none'], [200, 'length']]);
    expect(summarise(evs).at(-3)).toEqual({ body: 'ok' });
  });

  it('reads a response with neither Content-Length nor chunked until the connection closes', () => {
    const p = new HttpParser<HttpResponseHead>('response');
    const evs = parseAll(p, enc('HTTP/1.0 200 OK\r\n\r\nall of it'), 4);
    expect(summarise(evs)).toEqual([
      { head: { version: '1.0', status: 200, reason: 'OK', headers: [] }, framing: { kind: 'close' }, keepAlive: false },
      { body: 'all of it' },
      { type: 'end' },
      { type: 'closed' },
    ]);
  });

  it('answers malformed or unacceptable requests with an error value and the status to send', () => {
    const big = 'X-Pad: ' + 'a'.repeat(DEFAULT_LIMITS.maxHeadBytes) + '\r\n';
    const cases: [string, string, number][] = [
      ['no version', 'GET /\r\n\r\n', 400],
      ['two spaces', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
      ['bad method', 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
      ['space before colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
      ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\n  folded\r\n\r\n', 400],
      ['bare CR', 'GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n', 400],
      ['NUL in a value', 'GET / HTTP/1.1\r\nHost: a\0\r\n\r\n', 400],
      ['no Host in 1.1', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 400],
      ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
      ['CL and TE (smuggling)', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['CL not a number', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3a\r\n\r\nabc', 400],
      ['CL conflicting', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 400],
      ['CL negative', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', 400],
      ['TE not ending in chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
      ['TE coding not implemented', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
      ['TE in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
      ['head too large', `GET / HTTP/1.1\r\nHost: a\r\n${big}\r\n`, 431],
      ['request line too long', `GET /${'x'.repeat(DEFAULT_LIMITS.maxHeadBytes)} HTTP/1.1\r\n\r\n`, 414],
      ['too many fields', `GET / HTTP/1.1\r\nHost: a\r\n${'A: b\r\n'.repeat(DEFAULT_LIMITS.maxHeaders)}\r\n`, 431],
      ['chunk size not hex', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
      ['chunk longer than its size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n', 400],
      ['chunk size too large', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffff\r\n', 413],
      ['body over the limit', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${DEFAULT_LIMITS.maxBodyBytes + 1}\r\n\r\n`, 413],
      ['closed mid-head', 'GET / HTTP/1.1\r\nHost: a\r\n', 400],
      ['closed mid-body', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc', 400],
      ['closed mid-chunk', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab', 400],
    ];
    for (const [what, text, status] of cases) {
      const e = firstError(req(text));
      expect(e, what).toBeDefined();
      expect([what, e!.status]).toEqual([what, status]);
    }
  });

  it('stays failed after an error, refuses more than room(), and never throws on any truncation or junk', () => {
    const p = new HttpParser<HttpRequestHead>('request');
    p.feed(enc('BROKEN\r\n\r\n'));
    const e = p.next();
    expect(e).toHaveProperty('status', 400);
    expect(p.next()).toBe(e);
    expect(p.feed(enc('GET / HTTP/1.1\r\n'))).toBe(e);
    const q = new HttpParser<HttpRequestHead>('request', { ...DEFAULT_LIMITS, bufferBytes: 64, maxHeadBytes: 32, maxChunkLineBytes: 16, maxTrailerBytes: 16 });
    expect(q.room()).toBe(64);
    expect(q.feed(new Uint8Array(65))).toHaveProperty('status', 400);
    // Every prefix of a valid exchange, and seeded junk, gives events or an error value.
    const valid = enc('POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n');
    for (let n = 0; n <= valid.length; n++) expect(() => parseAll(new HttpParser<HttpRequestHead>('request'), valid.subarray(0, n), 7)).not.toThrow();
    let x = 12345;
    for (let round = 0; round < 200; round++) {
      const junk = valid.slice();
      for (let k = 0; k < 4; k++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        junk[x % junk.length] = x >>> 24;
      }
      const evs = parseAll(new HttpParser<HttpRequestHead>('request'), junk, 5);
      expect(evs.length).toBeGreaterThan(0);
      const respEvs = parseAll(new HttpParser<HttpResponseHead>('response'), junk, 3);
      expect(respEvs.length).toBeGreaterThan(0);
    }
  });
});

describe('HTTP/1.1 serialisers and resources', () => {
  it('serialises requests and response heads that parse back to the same thing', () => {
    const head: HttpRequestHead = { method: 'GET', target: '/bytes/5', version: '1.1', headers: [{ name: 'Host', value: 'b' }, { name: 'Connection', value: 'close' }] };
    const bytes = serializeRequest(head) as Uint8Array;
    expect(dec(bytes)).toBe('GET /bytes/5 HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n');
    expect((req(dec(bytes))[0] as { head: HttpRequestHead }).head).toEqual(head);
    const rh = serializeResponseHead({ version: '1.1', status: 404, reason: 'Not Found', headers: [{ name: 'Content-Length', value: '0' }] }) as Uint8Array;
    expect(dec(rh)).toBe('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  });

  it('refuses to serialise field names that are not tokens and values with CR or LF (header injection)', () => {
    const bad = (headers: HttpHeader[]) => serializeRequest({ method: 'GET', target: '/', version: '1.1', headers });
    expect(bad([{ name: 'Bad Name', value: 'x' }])).toHaveProperty('error');
    expect(bad([{ name: 'X', value: 'a\r\nInjected: 1' }])).toHaveProperty('error');
    expect(serializeRequest({ method: 'GET', target: '/a b', version: '1.1', headers: [] })).toHaveProperty('error');
    expect(serializeResponseHead({ version: '1.1', status: 42, reason: '', headers: [] })).toHaveProperty('error');
  });

  it('frames chunks as hex size, CRLF, data, CRLF and ends with a zero chunk', () => {
    expect(dec(chunkFrame(enc('x'.repeat(26))))).toBe(`1a\r\n${'x'.repeat(26)}\r\n`);
    expect(dec(LAST_CHUNK)).toBe('0\r\n\r\n');
  });

  it('names resources by path: the page, /bytes/N, /chunked/N, nothing else', () => {
    expect(resourceFor('/')).toEqual({ kind: 'page', body: INDEX_PAGE });
    expect(resourceFor('http://192.0.2.2/bytes/7?q')).toEqual({ kind: 'pattern', length: 7, chunked: false });
    expect(resourceFor('/chunked/0')).toEqual({ kind: 'pattern', length: 0, chunked: true });
    for (const p of ['/bytes/', '/bytes/01', '/bytes/-1', '/bytes/99999999999', '/chunked/1x', '/nothing', '*']) expect(resourceFor(p), p).toBeNull();
    expect(expectationFor('/missing')).toMatchObject({ status: 404 });
    // The pattern does not repeat with a short period, so misplaced data is caught.
    const a = new Uint8Array(512).map((_, i) => patternByte(i));
    expect(patternMismatches(a, 0)).toBe(0);
    expect(patternMismatches(a.subarray(256), 0)).toBeGreaterThan(200);
  });

  it('scenario options: sizes, paths and clients are checked', () => {
    expect(findScenario('http-get:sizes=10+20c')).toMatchObject({ name: 'http-get:sizes=10+20c' });
    expect(findScenario('http-serve:clients=3,paths=/+/missing')).toMatchObject({ dutPrograms: ['httpd'], labPrograms: ['http-client'] });
    for (const bad of ['http-get:sizes=1k', 'http-get:sizes=1,paths=/', 'http-get:clients=2', 'http-serve:clients=0', 'http-serve:clients=65', 'http-serve:paths=nope', 'http-serve:sndbuf=-1']) {
      expect(findScenario(bad), bad).toHaveProperty('error');
    }
  });
});

// ------------------------------------------------------------------------------------------------
// The server on a real stack: the board runs it, a lab-host program writes raw bytes at it.

const DUT_IP = 0xc0000202;
const LAB_IP = 0xc0000201;

function must<T>(x: T): Exclude<T, { error: string }> {
  if (typeof x === 'object' && x !== null && 'error' in x) throw new Error((x as { error: string }).error);
  return x as Exclude<T, { error: string }>;
}

interface Rig {
  world: World;
  dut: BootedBoard;
  lab: BootedBoard;
  trace: TraceLine[];
  spawn(on: BootedBoard, p: Program): Process;
}

function rig(): Rig {
  const table = must(resolveCostTable());
  const dutBoard = must(resolveBoard('quark-2m'));
  const labBoard = must(resolveBoard(LAB_BOARD));
  const world = new World(7);
  const lab = must(bootBoard(world, 'lab', labBoard, must(buildFirmware(labBoard, must(resolveProfile(LAB_PROFILE)), table)).image, table, programReservations(labBoard, ['raw-http'])));
  const dut = must(bootBoard(world, 'dut', dutBoard, must(buildFirmware(dutBoard, must(resolveProfile('minimal')), table)).image, table, programReservations(dutBoard, ['httpd'])));
  world.connect(dut.board, lab.board, NS_PER_US);
  expect(inetAddAddress(lab.stack, lab.dev.ifindex, LAB_IP, 24)).toBe(0);
  expect(inetAddAddress(dut.stack, dut.dev.ifindex, DUT_IP, 24)).toBe(0);
  expect(inetAddRoute(dut.stack, 0, 0, LAB_IP, dut.dev.ifindex)).toBe(0);
  const trace: TraceLine[] = [];
  return {
    world,
    dut,
    lab,
    trace,
    spawn(on, p) {
      const proc = new Process(on.role, p, on.stack, world.sim, trace);
      proc.start();
      return proc;
    },
  };
}

/** Connects, writes each piece at its time after connecting, reads until the server's FIN, closes. */
class RawClient implements Program {
  readonly name = 'raw-http';
  exitCode: number | null = null;
  private ctx!: ProgramContext;
  private fd = -1;
  private readonly got: number[] = [];
  connectedNs: number | null = null;
  eofNs: number | null = null;
  error: string | null = null;

  constructor(
    private readonly to: SockAddr,
    private readonly script: { atNs: number; text: string }[],
  ) {}

  get received(): Uint8Array {
    return new Uint8Array(this.got);
  }

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    this.fd = ctx.sys.socket(AF_INET, SOCK_STREAM, 0);
    ctx.sys.onWritable(this.fd, () => this.connected());
    ctx.sys.onReadable(this.fd, () => this.readable());
    ctx.sys.connect(this.fd, this.to);
    ctx.after(120 * NS_PER_SEC, () => this.done('no FIN from the server'));
  }

  private connected(): void {
    if (this.connectedNs !== null) return;
    this.connectedNs = this.ctx.now();
    for (const s of this.script) {
      this.ctx.after(s.atNs, () => {
        const r = this.ctx.sys.send(this.fd, enc(s.text));
        if (r !== s.text.length) this.error = `send returned ${r}`;
      });
    }
  }

  private readable(): void {
    for (;;) {
      const r = this.ctx.sys.recv(this.fd, 65536);
      if (typeof r === 'number') {
        if (r !== -Errno.EAGAIN) this.done(`recv ${r}`);
        return;
      }
      if (r.length === 0) {
        this.eofNs = this.ctx.now();
        return this.done(null);
      }
      for (const b of r) this.got.push(b);
    }
  }

  private done(err: string | null): void {
    if (err) this.error = err;
    this.ctx.exit(err ? 1 : 0);
  }
}

interface Response {
  status: number;
  headers: HttpHeader[];
  framing: BodyFraming['kind'];
  body: Uint8Array;
}

function responses(bytes: Uint8Array, methods: string[]): Response[] {
  const p = new HttpParser<HttpResponseHead>('response');
  for (const m of methods) p.expectResponseTo(m);
  const out: Response[] = [];
  let cur: { r: Response; body: number[] } | null = null;
  for (const e of parseAll(p, bytes, 1000)) {
    if ('error' in e) throw new Error(`response stream: ${e.error}`);
    if (e.type === 'head') cur = { r: { status: e.head.status, headers: e.head.headers, framing: e.framing.kind, body: new Uint8Array(0) }, body: [] };
    else if (e.type === 'body') cur!.body.push(...e.data);
    else if (e.type === 'end') {
      cur!.r.body = new Uint8Array(cur!.body);
      out.push(cur!.r);
    }
  }
  return out;
}

describe('HTTP server on the board (quark-2m, minimal) against raw clients', () => {
  it('answers pipelined requests in order, with keep-alive, then closes first after Connection: close', () => {
    const r = rig();
    const server = new HttpServer();
    r.spawn(r.dut, server);
    const pipelined =
      'GET /bytes/10 HTTP/1.1\r\nHost: b\r\n\r\n' +
      'GET /missing HTTP/1.1\r\nHost: b\r\n\r\n' +
      'HEAD /chunked/100 HTTP/1.1\r\nHost: b\r\n\r\n' +
      'POST /bytes/5 HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\n\r\nhello' +
      'GET /chunked/5000 HTTP/1.1\r\nHost: b\r\n\r\n' +
      'GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n';
    const c = new RawClient({ addr: DUT_IP, port: 80 }, [{ atNs: 0, text: pipelined }]);
    r.spawn(r.lab, c);
    r.world.sim.run(r.world.sim.now + 10 * NS_PER_SEC);
    expect(c.error).toBeNull();
    const rs = responses(c.received, ['GET', 'GET', 'HEAD', 'POST', 'GET', 'GET']);
    expect(rs.map((x) => [x.status, x.framing, x.body.length])).toEqual([
      [200, 'length', 10],
      [404, 'length', 10],
      [200, 'none', 0],
      [405, 'length', 18],
      [200, 'chunked', 5000],
      [200, 'length', INDEX_PAGE.length],
    ]);
    expect(patternMismatches(rs[0]!.body, 0)).toBe(0);
    expect(patternMismatches(rs[4]!.body, 0)).toBe(0);
    expect(fieldValue(rs[2]!.headers, 'Transfer-Encoding')).toBe('chunked');
    expect(fieldValue(rs[3]!.headers, 'Allow')).toBe('GET, HEAD');
    expect(rs.map((x) => fieldValue(x.headers, 'Connection'))).toEqual([null, null, null, null, null, 'close']);
    expect(dec(rs[5]!.body)).toBe(dec(INDEX_PAGE));
    expect(server.stats).toMatchObject({ requests: 6, closedFirst: 1, connectionsOpen: 0 });
    expect(r.dut.stack.tcp!.ext['TW']).toBe(1);
  });

  it('answers malformed requests with 4xx/5xx and Connection: close, then closes', () => {
    const r = rig();
    const server = new HttpServer();
    r.spawn(r.dut, server);
    const cases: [string, number][] = [
      ['GET /bytes/10 HTTP/1.1\r\nHost b\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', 400], // a TLS ClientHello on port 80
      ['GET / HTTP/3.0\r\nHost: b\r\n\r\n', 505],
      [`GET / HTTP/1.1\r\nHost: b\r\nX: ${'y'.repeat(9000)}\r\n\r\n`, 431],
    ];
    const clients = cases.map(([text]) => new RawClient({ addr: DUT_IP, port: 80 }, [{ atNs: 0, text }]));
    for (const c of clients) r.spawn(r.lab, c);
    r.world.sim.run(r.world.sim.now + 10 * NS_PER_SEC);
    clients.forEach((c, i) => {
      expect(c.error, cases[i]![0].slice(0, 20)).toBeNull();
      const rs = responses(c.received, ['GET']);
      expect(rs.map((x) => [x.status, fieldValue(x.headers, 'Connection')])).toEqual([[cases[i]![1], 'close']]);
    });
    expect(server.stats.badRequests).toBe(cases.length);
    expect(server.stats.closedFirst).toBe(cases.length);
  });

  it('keeps each connection’s parser apart when requests arrive in pieces, interleaved', () => {
    const r = rig();
    r.spawn(r.dut, new HttpServer());
    const a = new RawClient({ addr: DUT_IP, port: 80 }, [
      { atNs: 0, text: 'GET /bytes/3' },
      { atNs: 5 * NS_PER_MS, text: '000 HTTP/1.1\r\nHo' },
      { atNs: 10 * NS_PER_MS, text: 'st: b\r\nConnection: close\r\n\r\n' },
    ]);
    const b = new RawClient({ addr: DUT_IP, port: 80 }, [
      { atNs: 2 * NS_PER_MS, text: 'GET /chunked/2000 HTTP/1.1\r\nHost: b\r\nConnection: close\r\n' },
      { atNs: 7 * NS_PER_MS, text: '\r\n' },
    ]);
    r.spawn(r.lab, a);
    r.spawn(r.lab, b);
    r.world.sim.run(r.world.sim.now + 5 * NS_PER_SEC);
    expect(responses(a.received, ['GET']).map((x) => [x.status, x.framing, x.body.length, patternMismatches(x.body, 0)])).toEqual([[200, 'length', 3000, 0]]);
    expect(responses(b.received, ['GET']).map((x) => [x.status, x.framing, x.body.length, patternMismatches(x.body, 0)])).toEqual([[200, 'chunked', 2000, 0]]);
  });

  it('serves HTTP/1.0 without chunking (the body ends with the connection) and closes idle keep-alive connections', () => {
    const r = rig();
    r.spawn(r.dut, new HttpServer());
    const old = new RawClient({ addr: DUT_IP, port: 80 }, [{ atNs: 0, text: 'GET /chunked/50 HTTP/1.0\r\n\r\n' }]);
    const idle = new RawClient({ addr: DUT_IP, port: 80 }, [{ atNs: 0, text: 'GET /bytes/1 HTTP/1.1\r\nHost: b\r\n\r\n' }]);
    const slow = new RawClient({ addr: DUT_IP, port: 80 }, [{ atNs: 0, text: 'GET / HTTP/1.1\r\nHo' }]);
    for (const c of [old, idle, slow]) r.spawn(r.lab, c);
    const t0 = r.world.sim.now;
    r.world.sim.run(t0 + 30 * NS_PER_SEC);
    const o = responses(old.received, ['GET']);
    expect(o.map((x) => [x.status, x.framing, x.body.length, fieldValue(x.headers, 'Connection')])).toEqual([[200, 'close', 50, 'close']]);
    expect(responses(idle.received, ['GET']).map((x) => x.status)).toEqual([200]);
    // Closed by the server's keep-alive timeout (5 s) after the response / the partial head.
    expect((idle.eofNs! - t0) / NS_PER_SEC).toBeCloseTo(5, 1);
    expect(slow.received.length).toBe(0);
    expect((slow.eofNs! - t0) / NS_PER_SEC).toBeCloseTo(5, 1);
  });

  it('leaves the board’s RAM at its post-boot baseline once TIME_WAIT has expired', () => {
    const r = rig();
    const server = r.spawn(r.dut, new HttpServer());
    const client = new HttpClient({ server: { addr: DUT_IP, port: 80 }, host: '192.0.2.2', connections: [['/bytes/20000', '/chunked/20000', '/missing'].map((path) => ({ method: 'GET' as const, path, expect: expectationFor(path) }))] });
    r.spawn(r.lab, client);
    r.world.sim.run(r.world.sim.now + 5 * NS_PER_SEC);
    expect(client.exitCode).toBe(0);
    expect(client.requests.map((q) => [q.status, q.bodyBytes, q.intact])).toEqual([[200, 20000, true], [200, 20000, true], [404, 10, true]]);
    expect(client.connections[0]!.serverClosedFirst).toBe(true);
    server.exit(0);
    r.world.sim.run(r.world.sim.now + 120 * NS_PER_SEC);
    inetFlushInterface(r.dut.stack, r.dut.dev.ifindex);
    expect(r.dut.stack.tcp!.timewait.size).toBe(0);
    expect(liveObjectBytes(r.dut.board.ram)).toBe(r.dut.baselineObjects);
  });
});

// ------------------------------------------------------------------------------------------------
// The scenarios end to end, and tshark's reading of their captures.

/** tcp.analysis notes that are expected in a clean run (none seen so far; see the report). */
const ALLOWED_ANALYSIS = [/^TCP window update/i, /^TCP keep-alive/i, /^ACK to a TCP keep-alive/i];

const HTTP_FIELDS = ['tcp.stream', 'http.request.method', 'http.request.uri', 'http.response.code', 'http.content_length', 'http.transfer_encoding', 'http.connection'];

/**
 * A capture's frames in one tshark pass (a tshark start costs ~0.5 s of dissector
 * registration), each with the HTTP fields, ip.src and what the display filters `http`,
 * `tcp.connection.fin_active`, `tcp.analysis.flags` and `_ws.malformed || _ws.expert.severity
 * >= "warning"` would select it by: frame.protocols naming http, the two flags (printed "1"
 * when the frame carries them), the expert fields. The same pass prints the `-z expert` text.
 * IP and TCP checksum checking, on for the expert check, changes none of these fields while
 * every checksum is good, and a bad one is an expert error.
 */
interface Frame {
  stream: string;
  http: string[] | null;
  ipSrc: string;
  finActive: boolean;
  analysis: boolean;
  expert: string;
  warned: boolean;
}
function passOf(cap: string): { frames: Frame[]; expert: string } {
  const fields = [...HTTP_FIELDS, 'ip.src', 'frame.protocols', 'tcp.connection.fin_active', 'tcp.analysis.flags', '_ws.expert.message', '_ws.expert.severity', '_ws.malformed'];
  const pass = tsharkPass(cap, fields, { extraArgs: ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'], expert: true });
  const frames = pass.rows.map((r) => ({
    stream: r['tcp.stream']!,
    http: hasProtocol(r, 'http') ? HTTP_FIELDS.map((f) => r[f]!) : null,
    ipSrc: r['ip.src']!,
    finActive: present(r, 'tcp.connection.fin_active'),
    analysis: present(r, 'tcp.analysis.flags'),
    expert: r['_ws.expert.message']!,
    warned: malformedOrWarning(r),
  }));
  return { frames, expert: pass.expert };
}
const httpRows = (frames: Frame[]): string[][] => frames.flatMap((f) => (f.http === null ? [] : [f.http]));
const analysisNotes = (frames: Frame[]): string[] => frames.filter((f) => f.analysis).map((f) => f.expert);

describe('http-serve on quark-2m with the minimal profile (8 clients)', () => {
  const run = runToDir({ scenario: 'http-serve', board: 'quark-2m', profile: 'minimal' });
  const cap = run.capturePath!;
  let read: { frames: Frame[]; expert: string } | undefined;
  const pass = (): { frames: Frame[]; expert: string } => (read ??= passOf(cap));
  const frames = (): Frame[] => pass().frames;
  const n = HTTP_SERVE_DEFAULT_CLIENTS;
  const figures = run.report.scenario.figures as {
    tcp: { dut: Record<string, number>; lab: Record<string, number> };
    connections: { opened: number; serverClosedFirst: number; peakAtServer: number };
    latency: { min: number; mean: number; p99: number } | null;
    goodputBps: number | null;
    requests: { intact: boolean; latencyNs: number | null }[];
  };

  it('passes every check, within the 2 MiB ceiling, and RAM is back at its baseline after TIME_WAIT', () => {
    expect(run.report.checks.filter((c) => !c.pass)).toEqual([]);
    expect(run.report.verdict).toBe('pass');
    expect(run.outcome.exitCode).toBe(0);
    const dut = run.report.boards[0]!;
    expect(dut.board.ramBytes).toBe(2 * 1024 * 1024);
    expect(dut.memory!.peakBytes).toBeLessThan(dut.board.ramBytes);
    expect(dut.memory!.allocationFailures).toBe(0);
    const leak = run.report.checks.find((c) => c.name.startsWith('RAM back to post-boot baseline'));
    expect(leak?.pass).toBe(true);
    expect(dut.memory!.leakBytes).toBe(0);
  });

  it('served 2 requests on each of 8 connections at once, all intact, with latency and goodput figures', () => {
    expect(figures.connections).toMatchObject({ opened: n, serverClosedFirst: n, peakAtServer: n });
    expect(figures.requests).toHaveLength(2 * n);
    expect(figures.requests.every((q) => q.intact && q.latencyNs !== null && q.latencyNs > 0)).toBe(true);
    expect(figures.latency!.min).toBeGreaterThan(0);
    expect(figures.latency!.p99).toBeGreaterThanOrEqual(figures.latency!.mean);
    expect(figures.goodputBps).toBeGreaterThan(1e6);
  });

  it('the board closed first and holds TIME_WAIT: its TcpExt TW counts 8, the lab host’s none', () => {
    // The minimal profile has no PROC_FS: the report carries no snmp, the scenario reads the MIB.
    expect(run.report.boards[0]!.snmp).toBeNull();
    expect(figures.tcp.dut['TcpExt.TW']).toBe(n);
    expect(figures.tcp.dut['TcpExt.TCPTimeWaitOverflow']).toBe(0);
    expect(figures.tcp.dut['Tcp.PassiveOpens']).toBe(n);
    expect(figures.tcp.dut['Tcp.EstabResets']).toBe(0);
    expect(figures.tcp.dut['Tcp.OutRsts']).toBe(0);
    expect(figures.tcp.lab['TcpExt.TW']).toBe(0);
  });

  it('tshark: the FIN that starts each close comes from the board', () => {
    const fins = frames().filter((f) => f.finActive).map((f) => [f.stream, f.ipSrc]);
    expect(fins).toHaveLength(n);
    expect(new Set(fins.map((f) => f[0])).size).toBe(n);
    expect(fins.every((f) => f[1] === '192.0.2.2')).toBe(true);
  });

  it('tshark dissects the HTTP: 16 GETs, 16 × 200, Content-Length and chunked bodies, Connection: close last', () => {
    const rows = httpRows(frames());
    const requests = rows.filter((r) => r[1] === 'GET');
    const resp = rows.filter((r) => r[3] !== '');
    expect(requests.map((r) => r[2]).sort()).toEqual([...Array(n).fill('/bytes/32768'), ...Array(n).fill('/chunked/32768')]);
    expect(requests.filter((r) => r[6] === 'close').map((r) => r[2])).toEqual(Array(n).fill('/chunked/32768'));
    expect(resp.map((r) => r[3])).toEqual(Array(2 * n).fill('200'));
    expect(resp.filter((r) => r[4] === '32768' && r[5] === '')).toHaveLength(n);
    expect(resp.filter((r) => r[5] === 'chunked' && r[4] === '' && r[6] === 'close')).toHaveLength(n);
    // Each stream: a request, its response, the second request, its response.
    for (let s = 0; s < n; s++) expect(rows.filter((r) => r[0] === String(s)).map((r) => r[1] || r[3])).toEqual(['GET', '200', 'GET', '200']);
  });

  it('tshark: no malformed packets, no error-level expert info, no TCP analysis flags', () => {
    expect(pass().expert).not.toMatch(/Malformed|Errors \(|Warns \(/);
    expect(frames().filter((f) => f.warned)).toEqual([]);
    const notes = analysisNotes(frames());
    expect(notes.filter((m) => !ALLOWED_ANALYSIS.some((re) => re.test(m)))).toEqual([]);
  });
});

describe('http-get on quark-4m with the client profile', () => {
  const run = runToDir({ scenario: 'http-get', board: 'quark-4m', profile: 'client' });
  const cap = run.capturePath!;
  let read: { frames: Frame[]; expert: string } | undefined;
  const pass = (): { frames: Frame[]; expert: string } => (read ??= passOf(cap));
  const frames = (): Frame[] => pass().frames;
  const figures = run.report.scenario.figures as { requests: { path: string; bodyBytes: number; chunked: boolean; intact: boolean }[]; tcp: { dut: Record<string, number>; lab: Record<string, number> }; latency: unknown; goodputBps: number };

  it('passes every check within the ceiling; RAM back at baseline', () => {
    expect(run.report.checks.filter((c) => !c.pass)).toEqual([]);
    expect(run.outcome.exitCode).toBe(0);
    const dut = run.report.boards[0]!;
    expect(dut.memory!.peakBytes).toBeLessThan(dut.board.ramBytes);
    expect(dut.memory!.leakBytes).toBe(0);
  });

  it('fetched 1 KB, 100 KB chunked and 1 MB over one connection, intact; the lab host closed first', () => {
    expect(figures.requests.map((q) => [q.path, q.bodyBytes, q.chunked, q.intact])).toEqual([
      ['/bytes/1024', 1024, false, true],
      ['/chunked/102400', 102400, true, true],
      ['/bytes/1048576', 1048576, false, true],
    ]);
    expect(figures.goodputBps).toBeGreaterThan(10e6);
    expect(figures.tcp.lab['TcpExt.TW']).toBe(1);
    expect(figures.tcp.dut['TcpExt.TW']).toBe(0);
    expect(figures.tcp.dut['Tcp.ActiveOpens']).toBe(1);
  });

  it('tshark: three GETs on one stream, the last with Connection: close; CL 1024, chunked, CL 1048576', () => {
    const rows = httpRows(frames());
    expect(rows.map((r) => r.slice(0, 7))).toEqual([
      ['0', 'GET', '/bytes/1024', '', '', '', ''],
      ['0', '', '', '200', '1024', '', ''],
      ['0', 'GET', '/chunked/102400', '', '', '', ''],
      ['0', '', '', '200', '', 'chunked', ''],
      ['0', 'GET', '/bytes/1048576', '', '', '', 'close'],
      ['0', '', '', '200', '1048576', '', 'close'],
    ]);
    const fins = frames().filter((f) => f.finActive).map((f) => [f.ipSrc]);
    expect(fins).toEqual([['192.0.2.1']]);
  });

  it('tshark: no malformed packets, no error-level expert info, no TCP analysis flags', () => {
    expect(pass().expert).not.toMatch(/Malformed|Errors \(|Warns \(/);
    expect(analysisNotes(frames()).filter((m) => !ALLOWED_ANALYSIS.some((re) => re.test(m)))).toEqual([]);
  });
});
