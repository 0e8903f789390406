/**
 * An authoritative DNS server for the lab host (UDP port 53) answering from a zone the scenario
 * gives: A records by name; NXDOMAIN for a name it does not hold; an empty NOERROR answer
 * (NODATA) for a name it holds but another type; FORMERR for a query it cannot parse past the
 * header, NOTIMP for an opcode other than QUERY. Answers are limited to 512 bytes (RFC 1035
 * §4.2.1, no EDNS): a name with more records than fit gets the ones that fit and the TC bit.
 * The same zone is served over TCP on port 53 (RFC 1035 §4.2.2, RFC 7766: each message behind
 * a two-byte length), where answers are not truncated — what a stub retries with after TC.
 */
import type { Nanos } from '../emulator/event-queue.js';
import { ipToString } from '../stack/core/addr.js';
import {
  aRecordData,
  DNS_PORT,
  DNS_UDP_MAX,
  DnsClass,
  DnsHeader,
  DnsRcode,
  DnsType,
  emitDns,
  parseDns,
  rcodeName,
  sameName,
  type DnsRecord,
  type DnsRepr,
} from './dns-message.js';
import type { Program, ProgramContext } from './program.js';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export interface DnsZone {
  /** Names (without trailing dot) to their IPv4 addresses. */
  a: Record<string, number[]>;
  ttl: number;
}

export interface DnsServerOptions {
  zone: DnsZone;
  /** Address to bind (0 for any). */
  bindAddress?: number;
}

export interface DnsServerResult {
  queries: number;
  /** Queries that came over TCP. */
  tcpQueries: number;
  answered: Record<string, number>;
  truncated: number;
  /** Datagrams that were not DNS queries at all (no header, or a response). */
  dropped: number;
  log: { timeNs: Nanos; event: string }[];
  error: string | null;
}

export class DnsServer implements Program {
  readonly name = 'dnsd';
  exitCode: number | null = null;
  readonly result: DnsServerResult = { queries: 0, tcpQueries: 0, answered: {}, truncated: 0, dropped: 0, log: [], error: null };
  private ctx!: ProgramContext;
  private fd = -1;

  constructor(readonly opts: DnsServerOptions) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    const fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return this.fail(`socket: ${errnoName(fd)}`);
    this.fd = fd;
    const b = ctx.sys.bind(fd, { addr: this.opts.bindAddress ?? 0, port: DNS_PORT });
    if (b < 0) return this.fail(`bind port ${DNS_PORT}: ${errnoName(b)}`);
    ctx.sys.onReadable(fd, () => this.readQueries());
    this.listenTcp();
    this.note(`serving ${Object.keys(this.opts.zone.a).length} names on port ${DNS_PORT}${this.listenFd >= 0 ? ' (UDP and TCP)' : ' (UDP)'}`);
  }

  private listenFd = -1;
  /** Bytes received so far on each TCP connection. */
  private readonly conns = new Map<number, Uint8Array>();

  /** TCP port 53 as well; a kernel without TCP sockets leaves the server UDP-only. */
  private listenTcp(): void {
    const ctx = this.ctx;
    const fd = ctx.sys.socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return;
    let r = ctx.sys.bind(fd, { addr: this.opts.bindAddress ?? 0, port: DNS_PORT });
    if (r === 0) r = ctx.sys.listen(fd, 8);
    if (r < 0) {
      this.note(`TCP port ${DNS_PORT}: ${errnoName(r)}; UDP only`);
      ctx.sys.close(fd);
      return;
    }
    this.listenFd = fd;
    ctx.sys.onReadable(fd, () => this.acceptAll());
  }

  private acceptAll(): void {
    for (;;) {
      const a = this.ctx.sys.accept(this.listenFd);
      if (typeof a === 'number') return;
      this.conns.set(a.fd, new Uint8Array(0));
      this.ctx.sys.onReadable(a.fd, () => this.readTcp(a.fd));
      this.readTcp(a.fd);
    }
  }

  /** Read length-prefixed queries, answer each; close when the client closes. */
  private readTcp(fd: number): void {
    const held = this.conns.get(fd);
    if (!held) return;
    let buf: Uint8Array = held;
    for (;;) {
      const r = this.ctx.sys.recv(fd, 4096);
      if (typeof r === 'number') {
        if (r === -Errno.EAGAIN) break;
        this.closeTcp(fd);
        return;
      }
      if (r.length === 0) {
        this.closeTcp(fd);
        return;
      }
      const joined: Uint8Array = new Uint8Array(buf.length + r.length);
      joined.set(buf);
      joined.set(r, buf.length);
      buf = joined;
      while (buf.length >= 2 && buf.length >= 2 + ((buf[0]! << 8) | buf[1]!)) {
        const len = (buf[0]! << 8) | buf[1]!;
        const query = buf.slice(2, 2 + len);
        buf = buf.slice(2 + len);
        this.result.tcpQueries++;
        const answer = this.answer(query, 0xffff);
        if (!answer) continue;
        const framed = new Uint8Array(2 + answer.length);
        framed[0] = answer.length >> 8;
        framed[1] = answer.length & 255;
        framed.set(answer, 2);
        const s = this.ctx.sys.send(fd, framed);
        if (s < framed.length) this.note(`TCP answer: send ${s < 0 ? errnoName(s) : `${s} of ${framed.length} bytes`}`);
      }
    }
    this.conns.set(fd, buf);
  }

  private closeTcp(fd: number): void {
    this.conns.delete(fd);
    this.ctx.sys.close(fd);
  }

  private readQueries(): void {
    for (;;) {
      const r = this.ctx.sys.recvfrom(this.fd);
      if (typeof r === 'number') {
        if (r === -Errno.EAGAIN) return;
        continue;
      }
      const answer = this.answer(r.data);
      if (!answer) {
        this.result.dropped++;
        continue;
      }
      const s = this.ctx.sys.sendto(this.fd, answer, r.from);
      if (s < 0) this.note(`sendto ${ipToString(r.from.addr)}:${r.from.port}: ${errnoName(s)}`);
    }
  }

  /** The response to one datagram, or null to drop it. */
  answer(query: Uint8Array, maxLength = DNS_UDP_MAX): Uint8Array | null {
    const h = DnsHeader.check(query);
    if ('error' in h || (h.flags & 0x8000) !== 0) return null;
    this.result.queries++;
    const base: DnsRepr = {
      id: h.id,
      response: true,
      opcode: (h.flags >> 11) & 15,
      authoritative: true,
      truncated: false,
      recursionDesired: (h.flags & 0x0100) !== 0,
      recursionAvailable: false,
      rcode: DnsRcode.NOERROR,
      questions: [],
      answers: [],
      authorities: [],
      additionals: [],
    };
    const q = parseDns(query);
    if ('error' in q || q.questions.length !== 1) {
      base.rcode = DnsRcode.FORMERR;
      return this.finish(base, 'error' in q ? q.error : `${q.questions.length} questions`, maxLength);
    }
    base.questions = q.questions;
    if (base.opcode !== 0) {
      base.rcode = DnsRcode.NOTIMP;
      return this.finish(base, `opcode ${base.opcode}`, maxLength);
    }
    const question = q.questions[0]!;
    const name = Object.keys(this.opts.zone.a).find((n) => sameName(n, question.name));
    if (name === undefined) {
      base.rcode = DnsRcode.NXDOMAIN;
      return this.finish(base, question.name, maxLength);
    }
    if (question.type === DnsType.A && (question.class === DnsClass.IN || question.class === 255)) {
      base.answers = this.opts.zone.a[name]!.map((addr): DnsRecord => ({ name: question.name, type: DnsType.A, class: DnsClass.IN, ttl: this.opts.zone.ttl, data: aRecordData(addr) }));
    }
    return this.finish(base, question.name, maxLength);
  }

  private finish(r: DnsRepr, what: string, maxLength: number): Uint8Array | null {
    const out = emitDns(r, { maxLength });
    if ('error' in out) {
      this.note(`cannot answer ${what}: ${out.error}`);
      return null;
    }
    const tc = (out[2]! & 0x02) !== 0;
    if (tc) this.result.truncated++;
    const rc = rcodeName(r.rcode);
    this.result.answered[rc] = (this.result.answered[rc] ?? 0) + 1;
    const count = (out[6]! << 8) | out[7]!;
    this.note(`${what}: ${rc}, ${count} answer${count === 1 ? '' : 's'}${tc ? ` of ${r.answers.length} (truncated)` : ''}`);
    return out;
  }

  private note(event: string): void {
    // answer() also serves unit tests that call it without starting the program.
    const ctx = this.ctx as ProgramContext | undefined;
    this.result.log.push({ timeNs: ctx ? ctx.now() : 0, event });
    ctx?.log(event);
  }

  private fail(error: string): void {
    this.result.error = `dnsd: ${error}`;
    this.ctx.log(this.result.error);
    this.ctx.exit(1);
  }
}
