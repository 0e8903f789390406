/**
 * HTTP/1.1 messages (RFC 9112): an incremental, bounded parser for requests and responses —
 * start line, header fields, and a body framed by Content-Length, chunked transfer coding or
 * (responses only) the end of the connection — and the serialisers for both directions.
 *
 * The parser is pull-style, as a program on a small board wants it: the program feeds at most
 * `room()` bytes from recv() into a fixed buffer, then calls `next()` for one event at a time
 * (a head, a piece of body, the end of a message). It stops at each message's end, so a server
 * answers pipelined requests one at a time and TCP flow control holds back the rest. Nothing
 * it is given makes it throw or grow: malformed input is an error value carrying the status a
 * server should answer with (400, 413, 431, 501, 505), and the parser stays failed after one.
 */

export type HttpVersion = '1.0' | '1.1';

export interface HttpHeader {
  name: string;
  value: string;
}

export interface HttpRequestHead {
  method: string;
  target: string;
  version: HttpVersion;
  headers: HttpHeader[];
}

export interface HttpResponseHead {
  version: HttpVersion;
  status: number;
  reason: string;
  headers: HttpHeader[];
}

/** How a message's body is delimited (RFC 9112 §6.3). */
export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

/** Malformed or unacceptable input: what is wrong, and the status a server answers it with. */
export interface HttpError {
  error: string;
  status: number;
}

export type HttpEvent<H> =
  /** A message's start line and header fields; `keepAlive` is whether the connection persists after it. */
  | { type: 'head'; head: H; framing: BodyFraming; keepAlive: boolean }
  /** A piece of the body (a copy: the parser's buffer is reused). */
  | { type: 'body'; data: Uint8Array }
  /** The message is complete. */
  | { type: 'end' }
  /**
   * No more messages on this stream: the peer closed it cleanly between messages, or the last
   * message ended the connection (Connection: close); bytes after that are discarded.
   */
  | { type: 'closed' };

export interface HttpLimits {
  /** The whole head: start line, header fields and the empty line (431 beyond; 414 for a request line alone). */
  maxHeadBytes: number;
  maxHeaders: number;
  /** The largest body accepted by Content-Length or by the sum of chunks (413 beyond). */
  maxBodyBytes: number;
  /** A chunk-size line with its extensions. */
  maxChunkLineBytes: number;
  /** Trailer fields after the last chunk. */
  maxTrailerBytes: number;
  /** The parser's buffer: the most recv() may hand it at once. */
  bufferBytes: number;
}

export const DEFAULT_LIMITS: HttpLimits = {
  maxHeadBytes: 8192,
  maxHeaders: 64,
  maxBodyBytes: 2 ** 40,
  maxChunkLineBytes: 256,
  maxTrailerBytes: 4096,
  bufferBytes: 16384,
};

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
/** tchar (RFC 9110 §5.6.2). */
const TOKEN = /^[!#$%&\x27*+\-.^_\x60|~0-9A-Za-z]+$/;
/** Chunk sizes above 2^40 are refused: 10 hex digits are enough. */
const MAX_CHUNK_HEX_DIGITS = 10;

type State =
  | { s: 'head' }
  | { s: 'length'; remaining: number }
  | { s: 'chunk-size' }
  | { s: 'chunk-data'; remaining: number }
  | { s: 'chunk-crlf' }
  | { s: 'trailers' }
  | { s: 'close-body' }
  | { s: 'end' }
  | { s: 'closed' }
  | { s: 'error'; err: HttpError };

export class HttpParser<H extends HttpRequestHead | HttpResponseHead> {
  private readonly buf: Uint8Array;
  private start = 0;
  private end = 0;
  private eof = false;
  private state: State = { s: 'head' };
  /** Body bytes of the current message so far (bounded by maxBodyBytes). */
  private bodySoFar = 0;
  private keepAlive = true;
  private trailerBytes = 0;
  /** Requests whose responses are awaited, for a response parser: HEAD's response has no body. */
  private readonly awaited: string[] = [];
  /** Bytes of the stream consumed by complete events (heads, bodies, framing). */
  consumed = 0;
  /** Messages completed. */
  messages = 0;

  constructor(
    readonly kind: H extends HttpRequestHead ? 'request' : 'response',
    readonly limits: HttpLimits = DEFAULT_LIMITS,
  ) {
    this.buf = new Uint8Array(Math.max(limits.bufferBytes, limits.maxHeadBytes + 1, limits.maxChunkLineBytes + 1, limits.maxTrailerBytes + 1));
  }

  /** A response parser must be told each request's method, in order (HEAD responses have no body). */
  expectResponseTo(method: string): void {
    this.awaited.push(method);
  }

  /** Bytes the parser can take now. */
  room(): number {
    if (this.state.s === 'closed') return this.buf.length;
    if (this.state.s === 'error' || this.eof) return 0;
    return this.buf.length - (this.end - this.start);
  }

  get buffered(): number {
    return this.end - this.start;
  }

  get failed(): HttpError | null {
    return this.state.s === 'error' ? this.state.err : null;
  }

  /** Take bytes read from the stream; more than room() is an error (the caller broke the bound). */
  feed(data: Uint8Array): HttpError | null {
    if (this.state.s === 'error') return this.state.err;
    if (data.length === 0 || this.state.s === 'closed') return null;
    if (data.length > this.room()) return this.fail(this.eof ? 'data after the end of the stream' : `${data.length} bytes fed with room for ${this.room()}`, 400);
    if (this.end + data.length > this.buf.length) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
    return null;
  }

  /** The peer closed its sending side (recv returned end of stream). */
  finish(): void {
    this.eof = true;
  }

  /** The next event; null when more input is needed. */
  next(): HttpEvent<H> | HttpError | null {
    const st = this.state;
    switch (st.s) {
      case 'error':
        return st.err;
      case 'closed':
        return { type: 'closed' };
      case 'end':
        this.state = { s: 'head' };
        this.messages++;
        if (!this.keepAlive) {
          // Nothing may follow a message that ends the connection (RFC 9112 §9.6).
          this.state = { s: 'closed' };
          this.start = this.end = 0;
        }
        return { type: 'end' };
      case 'head':
        return this.parseHead();
      case 'length': {
        if (this.buffered === 0) return this.eof ? this.fail(`connection closed with ${st.remaining} body bytes missing`, 400) : null;
        const n = Math.min(this.buffered, st.remaining);
        const data = this.take(n);
        st.remaining -= n;
        if (st.remaining === 0) this.state = { s: 'end' };
        return { type: 'body', data };
      }
      case 'close-body': {
        if (this.buffered === 0) {
          if (!this.eof) return null;
          this.keepAlive = false;
          this.state = { s: 'end' };
          return this.next();
        }
        const data = this.take(this.buffered);
        return { type: 'body', data };
      }
      case 'chunk-size': {
        const line = this.line(this.limits.maxChunkLineBytes, 'chunk-size line');
        if (line === null || 'error' in line) return line;
        const m = /^([0-9A-Fa-f]+)[ \t]*(;.*)?$/.exec(line.text);
        if (!m) return this.fail(`bad chunk-size line ${JSON.stringify(line.text.slice(0, 40))}`, 400);
        if (m[1]!.length > MAX_CHUNK_HEX_DIGITS) return this.fail(`chunk size ${m[1]} too large`, 413);
        const size = parseInt(m[1]!, 16);
        if (this.bodySoFar + size > this.limits.maxBodyBytes) return this.fail(`chunked body over ${this.limits.maxBodyBytes} bytes`, 413);
        if (size === 0) {
          this.trailerBytes = 0;
          this.state = { s: 'trailers' };
        } else this.state = { s: 'chunk-data', remaining: size };
        return this.next();
      }
      case 'chunk-data': {
        if (this.buffered === 0) return this.eof ? this.fail('connection closed inside a chunk', 400) : null;
        const n = Math.min(this.buffered, st.remaining);
        const data = this.take(n);
        st.remaining -= n;
        this.bodySoFar += n;
        if (st.remaining === 0) this.state = { s: 'chunk-crlf' };
        return { type: 'body', data };
      }
      case 'chunk-crlf': {
        const line = this.line(2, 'CRLF after chunk data');
        if (line === null || 'error' in line) return line;
        if (line.text !== '') return this.fail('chunk data longer than its size', 400);
        this.state = { s: 'chunk-size' };
        return this.next();
      }
      case 'trailers': {
        const line = this.line(this.limits.maxTrailerBytes - this.trailerBytes, 'trailer section');
        if (line === null || 'error' in line) return line;
        this.trailerBytes += line.bytes;
        if (line.text === '') {
          this.state = { s: 'end' };
          return this.next();
        }
        const f = parseField(line.text);
        if ('error' in f) return this.fail(`trailer: ${f.error}`, 400);
        return this.next();
      }
    }
  }

  private fail(error: string, status: number): HttpError {
    const err = { error, status };
    this.state = { s: 'error', err };
    return err;
  }

  private take(n: number): Uint8Array {
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    this.consumed += n;
    return out;
  }

  /**
   * One line (LF, optionally after CR) of at most `max` bytes including its end; null when not
   * all buffered yet. A bare CR or a control character is an error.
   */
  private line(max: number, what: string): { text: string; bytes: number } | HttpError | null {
    const limit = Math.min(this.end, this.start + Math.max(max, 0));
    let i = this.start;
    while (i < limit && this.buf[i] !== LF) i++;
    if (i >= limit) {
      if (this.end - this.start >= max) return this.fail(`${what} longer than ${max} bytes`, what === 'trailer section' ? 431 : 400);
      return this.eof ? this.fail(`connection closed inside a ${what}`, 400) : null;
    }
    let stop = i;
    if (stop > this.start && this.buf[stop - 1] === CR) stop--;
    let text = '';
    for (let j = this.start; j < stop; j++) {
      const c = this.buf[j]!;
      if ((c < SP && c !== HTAB) || c === 0x7f) return this.fail(`control character 0x${c.toString(16)} in ${what}`, 400);
      text += String.fromCharCode(c);
    }
    const bytes = i + 1 - this.start;
    this.start = i + 1;
    this.consumed += bytes;
    return { text, bytes };
  }

  private parseHead(): HttpEvent<H> | HttpError | null {
    // RFC 9112 §2.2: empty lines before a request-line are ignored (robustness).
    while (this.buffered > 0 && (this.buf[this.start] === LF || (this.buf[this.start] === CR && this.buffered > 1 && this.buf[this.start + 1] === LF))) {
      const n = this.buf[this.start] === CR ? 2 : 1;
      this.start += n;
      this.consumed += n;
    }
    if (this.buffered === 0) {
      if (!this.eof) return null;
      this.state = { s: 'closed' };
      return { type: 'closed' };
    }
    // Find the empty line that ends the head, within the limit.
    const limit = Math.min(this.end, this.start + this.limits.maxHeadBytes);
    let headEnd = -1;
    let firstLf = -1;
    for (let i = this.start; i < limit; i++) {
      if (this.buf[i] !== LF) continue;
      if (firstLf < 0) firstLf = i;
      if (i + 1 < this.end && this.buf[i + 1] === LF) {
        headEnd = i + 2;
        break;
      }
      if (i + 2 < this.end && this.buf[i + 1] === CR && this.buf[i + 2] === LF) {
        headEnd = i + 3;
        break;
      }
    }
    if (headEnd < 0 || headEnd - this.start > this.limits.maxHeadBytes) {
      if (this.buffered >= this.limits.maxHeadBytes) {
        if (firstLf < 0 && this.kind === 'request') return this.fail(`request line longer than ${this.limits.maxHeadBytes} bytes`, 414);
        return this.fail(`header section longer than ${this.limits.maxHeadBytes} bytes`, 431);
      }
      return this.eof ? this.fail('connection closed inside the header section', 400) : null;
    }
    const lines: string[] = [];
    let lineStart = this.start;
    for (let i = this.start; i < headEnd; i++) {
      if (this.buf[i] !== LF) continue;
      let stop = i;
      if (stop > lineStart && this.buf[stop - 1] === CR) stop--;
      let text = '';
      for (let j = lineStart; j < stop; j++) {
        const c = this.buf[j]!;
        if (c === CR) return this.fail('bare CR in the header section', 400);
        if ((c < SP && c !== HTAB) || c === 0x7f) return this.fail(`control character 0x${c.toString(16)} in the header section`, 400);
        text += String.fromCharCode(c);
      }
      lines.push(text);
      lineStart = i + 1;
    }
    this.consumed += headEnd - this.start;
    this.start = headEnd;
    lines.pop(); // the empty line
    if (lines.length - 1 > this.limits.maxHeaders) return this.fail(`more than ${this.limits.maxHeaders} header fields`, 431);
    const headers: HttpHeader[] = [];
    for (let k = 1; k < lines.length; k++) {
      const f = parseField(lines[k]!);
      if ('error' in f) return this.fail(f.error, 400);
      headers.push(f);
    }
    this.bodySoFar = 0;
    return this.kind === 'request' ? this.requestHead(lines[0]!, headers) : this.responseHead(lines[0]!, headers);
  }

  private requestHead(line: string, headers: HttpHeader[]): HttpEvent<H> | HttpError {
    const m = /^([^ ]+) ([^ ]+) HTTP\/([0-9])\.([0-9])$/.exec(line);
    if (!m) return this.fail(`bad request line ${JSON.stringify(line.slice(0, 60))}`, 400);
    if (!TOKEN.test(m[1]!)) return this.fail(`bad method ${JSON.stringify(m[1]!.slice(0, 20))}`, 400);
    if (!/^[\x21-\x7e]+$/.test(m[2]!)) return this.fail('request target has characters outside visible ASCII', 400);
    const version = httpVersion(m[3]!, m[4]!);
    if (!version) return this.fail(`HTTP/${m[3]}.${m[4]} not supported`, 505);
    const head: HttpRequestHead = { method: m[1]!, target: m[2]!, version, headers };
    // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host field.
    const hosts = headers.filter((h) => h.name.toLowerCase() === 'host').length;
    if (version === '1.1' && hosts !== 1) return this.fail(hosts === 0 ? 'HTTP/1.1 request without Host' : 'more than one Host field', 400);
    if (hosts > 1) return this.fail('more than one Host field', 400);
    const framing = this.requestFraming(head);
    if ('error' in framing) return framing;
    return this.headEvent(head as H, framing, persistent(version, headers));
  }

  private requestFraming(head: HttpRequestHead): BodyFraming | HttpError {
    const te = fieldTokens(head.headers, 'transfer-encoding');
    const cl = head.headers.filter((h) => h.name.toLowerCase() === 'content-length');
    if (te.length > 0) {
      // Both would let a proxy and this server disagree where the body ends (request smuggling).
      if (cl.length > 0) return this.fail('both Transfer-Encoding and Content-Length', 400);
      if (head.version === '1.0') return this.fail('Transfer-Encoding in an HTTP/1.0 request', 400);
      if (te[te.length - 1] !== 'chunked') return this.fail(`transfer coding "${te.join(', ')}" does not end in chunked`, 400);
      if (te.length > 1) return this.fail(`transfer coding "${te.join(', ')}" not implemented`, 501);
      return { kind: 'chunked' };
    }
    if (cl.length > 0) return this.contentLength(cl);
    return { kind: 'none' };
  }

  private responseHead(line: string, headers: HttpHeader[]): HttpEvent<H> | HttpError {
    const m = /^HTTP\/([0-9])\.([0-9]) ([0-9]{3})(?: (.*))?$/.exec(line);
    if (!m) return this.fail(`bad status line ${JSON.stringify(line.slice(0, 60))}`, 502);
    const version = httpVersion(m[1]!, m[2]!);
    if (!version) return this.fail(`HTTP/${m[1]}.${m[2]} not supported`, 502);
    const status = Number(m[3]);
    if (status < 100) return this.fail(`status ${status} out of range`, 502);
    const head: HttpResponseHead = { version, status, reason: m[4] ?? '', headers };
    const interim = status >= 100 && status < 200;
    const method = interim ? this.awaited[0] : this.awaited.shift();
    let framing: BodyFraming;
    const te = fieldTokens(headers, 'transfer-encoding');
    const cl = headers.filter((h) => h.name.toLowerCase() === 'content-length');
    if (method === 'HEAD' || interim || status === 204 || status === 304) framing = { kind: 'none' };
    else if (te.length > 0) framing = te[te.length - 1] === 'chunked' && te.length === 1 ? { kind: 'chunked' } : { kind: 'close' };
    else if (cl.length > 0) {
      const f = this.contentLength(cl);
      if ('error' in f) return f;
      framing = f;
    } else framing = { kind: 'close' };
    const keepAlive = framing.kind !== 'close' && persistent(version, headers);
    return this.headEvent(head as H, framing, interim ? true : keepAlive);
  }

  private contentLength(fields: HttpHeader[]): BodyFraming | HttpError {
    // A list of identical values is one value (RFC 9110 §8.6); anything else is an error.
    const values = new Set<string>();
    for (const f of fields) for (const v of f.value.split(',')) values.add(v.trim());
    if (values.size !== 1) return this.fail('conflicting Content-Length values', 400);
    const v = [...values][0]!;
    if (!/^[0-9]{1,15}$/.test(v)) return this.fail(`bad Content-Length ${JSON.stringify(v.slice(0, 20))}`, 400);
    const length = Number(v);
    if (length > this.limits.maxBodyBytes) return this.fail(`Content-Length ${length} over ${this.limits.maxBodyBytes}`, 413);
    return { kind: 'length', length };
  }

  private headEvent(head: H, framing: BodyFraming, keepAlive: boolean): HttpEvent<H> {
    this.keepAlive = keepAlive;
    switch (framing.kind) {
      case 'none':
        this.state = { s: 'end' };
        break;
      case 'length':
        this.state = framing.length === 0 ? { s: 'end' } : { s: 'length', remaining: framing.length };
        break;
      case 'chunked':
        this.state = { s: 'chunk-size' };
        break;
      case 'close':
        this.state = { s: 'close-body' };
        break;
    }
    return { type: 'head', head, framing, keepAlive };
  }
}

function httpVersion(major: string, minor: string): HttpVersion | null {
  if (major !== '1') return null;
  // A higher 1.x minor is answered as 1.1, the highest this speaks (RFC 9110 §2.5).
  return minor === '0' ? '1.0' : '1.1';
}

/** `name: value` with optional whitespace around the value; obs-fold and space before the colon are errors. */
function parseField(line: string): HttpHeader | { error: string } {
  if (line.startsWith(' ') || line.startsWith('\t')) return { error: 'obsolete line folding in a header field' };
  const colon = line.indexOf(':');
  if (colon <= 0) return { error: `header line without a field name: ${JSON.stringify(line.slice(0, 40))}` };
  const name = line.slice(0, colon);
  if (!TOKEN.test(name)) return { error: `bad header field name ${JSON.stringify(name.slice(0, 40))}` };
  return { name, value: line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '') };
}

/** A field's comma-separated values, lower-cased, across repeated fields. */
export function fieldTokens(headers: readonly HttpHeader[], name: string): string[] {
  const want = name.toLowerCase();
  const out: string[] = [];
  for (const h of headers) {
    if (h.name.toLowerCase() !== want) continue;
    for (const t of h.value.split(',')) {
      const v = t.trim().toLowerCase();
      if (v !== '') out.push(v);
    }
  }
  return out;
}

/** The value of a field (repeated fields joined with ", "), or null. */
export function fieldValue(headers: readonly HttpHeader[], name: string): string | null {
  const want = name.toLowerCase();
  const vs = headers.filter((h) => h.name.toLowerCase() === want).map((h) => h.value);
  return vs.length === 0 ? null : vs.join(', ');
}

/** Whether the connection persists after this message (RFC 9112 §9.3). */
export function persistent(version: HttpVersion, headers: readonly HttpHeader[]): boolean {
  const c = fieldTokens(headers, 'connection');
  if (c.includes('close')) return false;
  return version === '1.1' || c.includes('keep-alive');
}

// ---- serialising -------------------------------------------------------------------------------

const REASONS: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

function fieldsText(headers: readonly HttpHeader[]): string | { error: string } {
  let s = '';
  for (const h of headers) {
    if (!TOKEN.test(h.name)) return { error: `bad header field name ${JSON.stringify(h.name.slice(0, 40))}` };
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(h.value) || /[^\x00-\xff]/.test(h.value)) return { error: `header ${h.name}: value has control or non-Latin-1 characters` };
    s += `${h.name}: ${h.value.trim()}\r\n`;
  }
  return s;
}

function latin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function serializeRequest(head: HttpRequestHead): Uint8Array | { error: string } {
  if (!TOKEN.test(head.method)) return { error: `bad method ${JSON.stringify(head.method.slice(0, 20))}` };
  if (!/^[\x21-\x7e]+$/.test(head.target)) return { error: 'request target must be visible ASCII without spaces' };
  const fields = fieldsText(head.headers);
  if (typeof fields !== 'string') return fields;
  return latin1(`${head.method} ${head.target} HTTP/${head.version}\r\n${fields}\r\n`);
}

export function serializeResponseHead(head: HttpResponseHead): Uint8Array | { error: string } {
  if (!Number.isInteger(head.status) || head.status < 100 || head.status > 999) return { error: `status ${head.status} out of range` };
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(head.reason) || /[^\x00-\xff]/.test(head.reason)) return { error: 'reason phrase has control or non-Latin-1 characters' };
  const fields = fieldsText(head.headers);
  if (typeof fields !== 'string') return fields;
  return latin1(`HTTP/${head.version} ${head.status} ${head.reason}\r\n${fields}\r\n`);
}

/** One chunk of a chunked body: size in hex, CRLF, the data, CRLF. Empty data is not a chunk. */
export function chunkFrame(data: Uint8Array): Uint8Array {
  const size = latin1(`${data.length.toString(16)}\r\n`);
  const out = new Uint8Array(size.length + data.length + 2);
  out.set(size, 0);
  out.set(data, size.length);
  out[out.length - 2] = CR;
  out[out.length - 1] = LF;
  return out;
}

/** The last chunk and an empty trailer section. */
export const LAST_CHUNK: Uint8Array = latin1('0\r\n\r\n');

export function asciiBytes(s: string): Uint8Array {
  return latin1(s);
}
