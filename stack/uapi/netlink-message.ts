/**
 * Netlink wire format (include/uapi/linux/netlink.h, rtnetlink.h): struct nlmsghdr, struct
 * rtattr, and the route family's fixed headers, read and written as real bytes. Netlink is
 * host byte order — little-endian on i386 — while addresses inside attributes stay in network
 * order (__be32). Every read is bounds-checked against the message it belongs to.
 *
 * It is the NLMSG_ and RTA_ macros of those headers as functions, with no kernel state, so it
 * lives in uapi: programs (ss, net-config) build and read their messages with it, and the
 * kernel's families (rtnetlink, sock_diag) answer with it.
 */
import { readU16le, readU32le, writeU16le, writeU32le } from './byte-order.js';
import { NLMSG_HDRLEN, nlmsgAlign } from './netlink.js';
import { RTA_HDRLEN } from './rtnetlink.js';

export interface NlmsgHeader {
  /** Offset of the header in the buffer. */
  at: number;
  len: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

/** One nlmsghdr at `at`, if a whole one (and the length it claims) fits before `end`. */
export function parseNlmsg(b: Uint8Array, at: number, end: number): NlmsgHeader | null {
  if (at + NLMSG_HDRLEN > end) return null;
  const len = readU32le(b, at);
  if (len < NLMSG_HDRLEN || len > end - at) return null;
  return { at, len, type: readU16le(b, at + 4), flags: readU16le(b, at + 6), seq: readU32le(b, at + 8), pid: readU32le(b, at + 12) };
}

/** An attribute: where its payload is and how long it is. */
export interface Attr {
  at: number;
  len: number;
}

/**
 * nla_parse (liberal, as rtnetlink parses these messages): attributes from `at` to `end`; a
 * malformed attribute ends the walk and what follows is ignored, as Linux warns and ignores
 * "bytes leftover". The last attribute of a type wins.
 */
export function parseAttrs(b: Uint8Array, at: number, end: number): Map<number, Attr> {
  const out = new Map<number, Attr>();
  while (at + RTA_HDRLEN <= end) {
    const len = readU16le(b, at);
    if (len < RTA_HDRLEN || len > end - at) break;
    out.set(readU16le(b, at + 2) & 0x3fff, { at: at + RTA_HDRLEN, len: len - RTA_HDRLEN });
    at += nlmsgAlign(len);
  }
  return out;
}

/** An NLA_STRING / NLA_NUL_STRING attribute's text, up to its first NUL. */
export function attrString(b: Uint8Array, a: Attr): string {
  let s = '';
  for (let i = 0; i < a.len && b[a.at + i] !== 0; i++) s += String.fromCharCode(b[a.at + i]!);
  return s;
}

/** Builds netlink messages into a growing byte array. */
export class NlWriter {
  private buf = new Uint8Array(256);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** Start a message; returns its offset for `end`. */
  begin(type: number, flags: number, seq: number, pid: number): number {
    this.room(NLMSG_HDRLEN);
    const at = this.length;
    this.buf.fill(0, at, at + NLMSG_HDRLEN);
    writeU16le(this.buf, at + 4, type);
    writeU16le(this.buf, at + 6, flags);
    writeU32le(this.buf, at + 8, seq);
    writeU32le(this.buf, at + 12, pid);
    this.length += NLMSG_HDRLEN;
    return at;
  }

  bytes(data: Uint8Array): void {
    this.room(nlmsgAlign(data.length));
    this.buf.set(data, this.length);
    this.buf.fill(0, this.length + data.length, this.length + nlmsgAlign(data.length));
    this.length += nlmsgAlign(data.length);
  }

  attr(type: number, payload: Uint8Array): void {
    const len = RTA_HDRLEN + payload.length;
    this.room(nlmsgAlign(len));
    writeU16le(this.buf, this.length, len);
    writeU16le(this.buf, this.length + 2, type);
    this.buf.set(payload, this.length + RTA_HDRLEN);
    this.buf.fill(0, this.length + len, this.length + nlmsgAlign(len));
    this.length += nlmsgAlign(len);
  }

  u32(type: number, v: number): void {
    const p = new Uint8Array(4);
    writeU32le(p, 0, v);
    this.attr(type, p);
  }

  be32(type: number, v: number): void {
    this.attr(type, Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255));
  }

  str(type: number, s: string): void {
    const p = new Uint8Array(s.length + 1);
    for (let i = 0; i < s.length; i++) p[i] = s.charCodeAt(i) & 0x7f;
    this.attr(type, p);
  }

  u8(type: number, v: number): void {
    this.attr(type, Uint8Array.of(v & 0xff));
  }

  u16(type: number, v: number): void {
    this.attr(type, Uint8Array.of(v & 0xff, (v >>> 8) & 0xff));
  }

  /** An NLA_FLAG attribute: present, no payload. */
  flag(type: number): void {
    this.attr(type, new Uint8Array(0));
  }

  /** nla_nest_start: an attribute whose payload is the attributes written until nestEnd. */
  nestStart(type: number): number {
    this.room(RTA_HDRLEN);
    const at = this.length;
    writeU16le(this.buf, at + 2, type);
    this.length += RTA_HDRLEN;
    return at;
  }

  nestEnd(at: number): void {
    writeU16le(this.buf, at, this.length - at);
  }

  /** Fill in the length of the message begun at `at`. */
  end(at: number): void {
    writeU32le(this.buf, at, this.length - at);
  }

  /** Drop everything from `at` on (a message that did not fit). */
  truncate(at: number): void {
    this.length = at;
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
