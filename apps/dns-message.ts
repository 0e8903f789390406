/**
 * DNS messages (RFC 1035 §4): header, questions and resource records, as a checked header view
 * (`DnsHeader`) beside a plain object (`DnsRepr`) with `parseDns` and `emitDns`.
 *
 * Names may be compressed (§4.1.4). A compression pointer is followed only backwards — to an
 * offset before the label that holds it — so a chain of pointers strictly decreases and cannot
 * loop; on top of that the number of jumps and the name's length (255 bytes, labels of 63) are
 * bounded. Every length is checked before it is read: bad input is an `{ error }`, never a throw.
 */
import { readU16, readU32 } from '../stack/uapi/byte-order.js';

export const DNS_PORT = 53;
/** RFC 1035 §4.2.1: UDP messages are limited to 512 bytes; beyond that the answer is truncated (TC). */
export const DNS_UDP_MAX = 512;
export const DNS_HEADER_LEN = 12;
const MAX_NAME = 255;
const MAX_LABEL = 63;
/** More jumps than a name can have labels means a malicious chain. */
const MAX_POINTER_JUMPS = 127;

export const DnsType = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28 } as const;
export const DnsClass = { IN: 1 } as const;
export const DnsRcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export function rcodeName(rcode: number): string {
  for (const [k, v] of Object.entries(DnsRcode)) if (v === rcode) return k;
  return `RCODE${rcode}`;
}

export interface DnsQuestion {
  /** Dotted, without the trailing dot; '' is the root. */
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** RDATA as sent (names inside it stay as they were, possibly compressed). */
  data: Uint8Array;
}

export interface DnsRepr {
  id: number;
  /** QR: a response. */
  response: boolean;
  opcode: number;
  authoritative: boolean;
  truncated: boolean;
  recursionDesired: boolean;
  recursionAvailable: boolean;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

/** The fixed 12-byte header, checked once. */
export class DnsHeader {
  private constructor(readonly bytes: Uint8Array) {}

  static check(bytes: Uint8Array): DnsHeader | { error: string } {
    if (bytes.length < DNS_HEADER_LEN) return { error: `DNS message of ${bytes.length} bytes is shorter than its 12-byte header` };
    return new DnsHeader(bytes);
  }

  get id(): number {
    return readU16(this.bytes, 0);
  }
  get flags(): number {
    return readU16(this.bytes, 2);
  }
  get qdcount(): number {
    return readU16(this.bytes, 4);
  }
  get ancount(): number {
    return readU16(this.bytes, 6);
  }
  get nscount(): number {
    return readU16(this.bytes, 8);
  }
  get arcount(): number {
    return readU16(this.bytes, 10);
  }
}

/** Read a possibly compressed name at `offset`; `next` is where the bytes after it start. */
export function readName(msg: Uint8Array, offset: number): { name: string; next: number } | { error: string } {
  const labels: string[] = [];
  let at = offset;
  let next = -1;
  let jumps = 0;
  let wireLen = 1; // the root's zero byte
  // Pointers must point before the start of the label sequence they interrupt.
  let floor = offset;
  for (;;) {
    if (at >= msg.length) return { error: `name at ${offset}: runs past the end of the message` };
    const len = msg[at]!;
    if ((len & 0xc0) === 0xc0) {
      if (at + 1 >= msg.length) return { error: `name at ${offset}: truncated compression pointer` };
      const target = ((len & 0x3f) << 8) | msg[at + 1]!;
      if (target >= floor) return { error: `name at ${offset}: compression pointer to ${target} does not point backwards` };
      if (++jumps > MAX_POINTER_JUMPS) return { error: `name at ${offset}: too many compression pointers` };
      if (next < 0) next = at + 2;
      floor = target;
      at = target;
      continue;
    }
    if ((len & 0xc0) !== 0) return { error: `name at ${offset}: label type 0x${(len & 0xc0).toString(16)} is not supported` };
    if (len === 0) {
      if (next < 0) next = at + 1;
      return { name: labels.join('.'), next };
    }
    if (len > MAX_LABEL) return { error: `name at ${offset}: label of ${len} bytes` };
    if (at + 1 + len > msg.length) return { error: `name at ${offset}: label runs past the end of the message` };
    wireLen += 1 + len;
    if (wireLen > MAX_NAME) return { error: `name at ${offset}: longer than 255 bytes` };
    let label = '';
    for (let i = at + 1; i <= at + len; i++) {
      const c = msg[i]!;
      // Escape what would make the dotted form ambiguous or unprintable, as dig does.
      label += c === 0x2e || c === 0x5c ? `\\${String.fromCharCode(c)}` : c > 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\${c.toString().padStart(3, '0')}`;
    }
    labels.push(label);
    at += 1 + len;
  }
}

function readRecord(msg: Uint8Array, offset: number): { rr: DnsRecord; next: number } | { error: string } {
  const n = readName(msg, offset);
  if ('error' in n) return n;
  const at = n.next;
  if (at + 10 > msg.length) return { error: `record "${n.name}" at ${offset}: fixed fields run past the end` };
  const rdlen = readU16(msg, at + 8);
  if (at + 10 + rdlen > msg.length) return { error: `record "${n.name}" at ${offset}: RDATA of ${rdlen} bytes runs past the end` };
  const rr: DnsRecord = { name: n.name, type: readU16(msg, at), class: readU16(msg, at + 2), ttl: readU32(msg, at + 4), data: msg.slice(at + 10, at + 10 + rdlen) };
  if (rr.type === DnsType.A && rdlen !== 4) return { error: `A record "${n.name}": RDATA of ${rdlen} bytes, expected 4` };
  return { rr, next: at + 10 + rdlen };
}

export function parseDns(msg: Uint8Array): DnsRepr | { error: string } {
  const h = DnsHeader.check(msg);
  if ('error' in h) return h;
  const f = h.flags;
  const repr: DnsRepr = {
    id: h.id,
    response: (f & 0x8000) !== 0,
    opcode: (f >> 11) & 15,
    authoritative: (f & 0x0400) !== 0,
    truncated: (f & 0x0200) !== 0,
    recursionDesired: (f & 0x0100) !== 0,
    recursionAvailable: (f & 0x0080) !== 0,
    rcode: f & 15,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
  };
  let at = DNS_HEADER_LEN;
  // Each question takes at least 5 bytes and each record 11: counts beyond that are lies.
  if (DNS_HEADER_LEN + 5 * h.qdcount + 11 * (h.ancount + h.nscount + h.arcount) > msg.length) {
    return { error: `header counts ${h.qdcount}/${h.ancount}/${h.nscount}/${h.arcount} cannot fit in ${msg.length} bytes` };
  }
  for (let i = 0; i < h.qdcount; i++) {
    const n = readName(msg, at);
    if ('error' in n) return n;
    if (n.next + 4 > msg.length) return { error: `question "${n.name}": type and class run past the end` };
    repr.questions.push({ name: n.name, type: readU16(msg, n.next), class: readU16(msg, n.next + 2) });
    at = n.next + 4;
  }
  for (const [count, list] of [[h.ancount, repr.answers], [h.nscount, repr.authorities], [h.arcount, repr.additionals]] as const) {
    for (let i = 0; i < count; i++) {
      const r = readRecord(msg, at);
      if ('error' in r) return r;
      list.push(r.rr);
      at = r.next;
    }
  }
  return repr;
}

/**
 * Split a dotted name into label bytes, checking RFC 1035 limits. The escapes readName writes
 * (`\.`, `\\`, `\DDD`) are read back, so a parsed name emits as the same bytes.
 */
export function nameLabels(name: string): Uint8Array[] | { error: string } {
  if (name === '' || name === '.') return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let wire = 1;
  const close = (): string | null => {
    if (cur.length === 0) return `name "${name}": empty label`;
    if (cur.length > MAX_LABEL) return `name "${name}": label longer than 63 bytes`;
    wire += 1 + cur.length;
    labels.push(Uint8Array.from(cur));
    cur = [];
    return null;
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) {
      const digits = /^[0-9]{3}/.exec(name.slice(i + 1, i + 4));
      if (digits && Number(digits[0]) <= 255) {
        cur.push(Number(digits[0]));
        i += 3;
      } else if (i + 1 < name.length) {
        cur.push(name.charCodeAt(++i) & 0xff);
      } else {
        return { error: `name "${name}": ends in a lone backslash` };
      }
    } else if (c === 0x2e) {
      if (i === name.length - 1) break; // the trailing dot of a fully qualified name
      const e = close();
      if (e) return { error: e };
    } else {
      cur.push(c & 0xff);
    }
  }
  const e = close();
  if (e) return { error: e };
  if (wire > MAX_NAME) return { error: `name "${name}": longer than 255 bytes` };
  return labels;
}

/** A message under construction, with the name-compression dictionary of RFC 1035 §4.1.4. */
class Writer {
  private buf = new Uint8Array(512);
  len = 0;
  private readonly suffixes = new Map<string, number>();

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v & 255;
  }
  u16(v: number): void {
    this.u8(v >>> 8);
    this.u8(v);
  }
  u32(v: number): void {
    this.u16(v >>> 16);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** Write a name, pointing at an earlier copy of its longest known suffix. */
  name(name: string): string | null {
    const labels = nameLabels(name);
    if ('error' in labels) return labels.error;
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).map((l) => String.fromCharCode(...l).toLowerCase()).join('.');
      const at = this.suffixes.get(key);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return null;
      }
      if (this.len < 0x4000) this.suffixes.set(key, this.len);
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
    return null;
  }
  patch16(at: number, v: number): void {
    this.buf[at] = v >>> 8;
    this.buf[at + 1] = v & 255;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export interface EmitOptions {
  /**
   * Largest message to write (512 over UDP). Records that do not fit are left out and TC is
   * set (RFC 1035 §4.2.1, RFC 2181 §9): the answer carries the records that fit.
   */
  maxLength?: number;
}

export function emitDns(r: DnsRepr, opts: EmitOptions = {}): Uint8Array | { error: string } {
  const max = opts.maxLength ?? Infinity;
  const w = new Writer();
  w.u16(r.id);
  w.u16(0); // flags, written last (TC may change)
  w.u16(r.questions.length);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  for (const q of r.questions) {
    const e = w.name(q.name);
    if (e) return { error: e };
    w.u16(q.type);
    w.u16(q.class);
  }
  if (w.len > max) return { error: `the question section alone is ${w.len} bytes, more than ${max}` };
  let truncated = r.truncated;
  const counts = [0, 0, 0];
  const sections = [r.answers, r.authorities, r.additionals];
  outer: for (let s = 0; s < 3; s++) {
    for (const rr of sections[s]!) {
      const mark = w.len;
      const e = w.name(rr.name);
      if (e) return { error: e };
      w.u16(rr.type);
      w.u16(rr.class);
      w.u32(rr.ttl);
      w.u16(rr.data.length);
      w.bytes(rr.data);
      if (w.len > max) {
        // Roll back the record that did not fit; a dropped additional record is not truncation.
        w.len = mark;
        if (s < 2) truncated = true;
        break outer;
      }
      counts[s]!++;
    }
  }
  const flags =
    (r.response ? 0x8000 : 0) |
    ((r.opcode & 15) << 11) |
    (r.authoritative ? 0x0400 : 0) |
    (truncated ? 0x0200 : 0) |
    (r.recursionDesired ? 0x0100 : 0) |
    (r.recursionAvailable ? 0x0080 : 0) |
    (r.rcode & 15);
  w.patch16(2, flags);
  w.patch16(6, counts[0]!);
  w.patch16(8, counts[1]!);
  w.patch16(10, counts[2]!);
  return w.result();
}

/** The IPv4 address in an A record's RDATA. */
export function aRecordAddress(rr: DnsRecord): number | null {
  return rr.type === DnsType.A && rr.data.length === 4 ? readU32(rr.data, 0) : null;
}

export function aRecordData(addr: number): Uint8Array {
  return Uint8Array.of(addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255);
}

/** Names compare case-insensitively (RFC 1035 §2.3.3). */
export function sameName(a: string, b: string): boolean {
  const norm = (s: string) => (s.endsWith('.') ? s.slice(0, -1) : s).toLowerCase();
  return norm(a) === norm(b);
}

