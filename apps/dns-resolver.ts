/**
 * A stub resolver (gethostbyname for A records) as a board program, with glibc's retry rules
 * from resolv.conf defaults: `timeout:5 attempts:2`; each round asks every nameserver in turn,
 * the timeout doubling after the first round (divided among the servers); one UDP socket per
 * server, connect()ed so only that server's answers (and its ICMP errors) arrive.
 *
 * A reply is accepted only if its ID and question match the query. NXDOMAIN is final (no
 * retry); SERVFAIL, REFUSED, NOTIMP and FORMERR move to the next server, as glibc does.
 *
 * Truncation (TC): as glibc (and musl ≥ 1.2.4) does, the query is asked again over TCP of the
 * same server (RFC 1035 §4.2.2, RFC 7766: a two-byte length before each message), within the
 * same timeout, and the full answer replaces the truncated one. When TCP cannot be used — no
 * TCP socket in the kernel, the connection refused or timed out, or `tcpRetry: false` — the
 * resolver behaves like musl ≤ 1.2.3, which never retried: it keeps the A records that fit in
 * the truncated UDP answer. Either way `truncated: true` records that the UDP answer had TC, and
 * `transport` says which answer was used.
 */
import { NS_PER_SEC, type Nanos, type TimerHandle } from '../emulator/event-queue.js';
import { Prng } from '../emulator/prng.js';
import { ipToString } from '../stack/core/addr.js';
import {
  aRecordAddress, DNS_PORT, DnsClass, DnsRcode, DnsType, emitDns, parseDns, rcodeName, sameName,
  type DnsRepr,
} from './dns-message.js';
import type { Program, ProgramContext } from './program.js';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export interface ResolverOptions {
  /** Names to look up, one after another. */
  names: string[];
  /** resolv.conf nameserver lines (up to 3, MAXNS). */
  nameservers: number[];
  /** resolv.conf `timeout:` (default 5 s). */
  timeoutNs?: Nanos;
  /** resolv.conf `attempts:` (default 2). */
  attempts?: number;
  /** Seed for query IDs; scenarios derive it from the world seed. */
  seed?: number;
  /** Ask again over TCP after a truncated UDP answer (default true, as glibc). */
  tcpRetry?: boolean;
}

export interface Resolution {
  name: string;
  addresses: number[];
  /** The final answer's RCODE name, null when no server answered. */
  rcode: string | null;
  /** The UDP answer had TC set. */
  truncated: boolean;
  /** Which answer the addresses come from: UDP, or the TCP retry after TC. */
  transport: 'udp' | 'tcp' | null;
  /** Why a TCP retry after TC did not give the answer (the truncated one was used), or null. */
  tcpError: string | null;
  /** Queries sent for this name. */
  queries: number;
  /** Virtual time from the first query to the result. */
  elapsedNs: Nanos;
  /** Why there is no answer (timeout, socket errors), or null. */
  error: string | null;
}

export interface ResolverResult {
  resolutions: Resolution[];
  /** Replies ignored: wrong ID or question, unparsable. */
  ignored: number;
}

export const RESOLVER_DEFAULTS = { timeoutNs: 5 * NS_PER_SEC, attempts: 2 };
const MAXNS = 3;

export class Resolver implements Program {
  readonly name = 'resolver';
  exitCode: number | null = null;
  readonly result: ResolverResult = { resolutions: [], ignored: 0 };
  private ctx!: ProgramContext;
  private readonly rng: Prng;
  private readonly servers: number[];
  private current: { r: Resolution; started: Nanos; round: number; server: number; fd: number; id: number; query: Uint8Array; timer: TimerHandle | null; tcp: { fd: number; got: Uint8Array; sent: boolean } | null } | null = null;
  private next = 0;

  constructor(readonly opts: ResolverOptions) {
    this.rng = new Prng(opts.seed ?? 0x52534c56);
    this.servers = opts.nameservers.slice(0, MAXNS);
  }

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    this.lookupNext();
  }

  private lookupNext(): void {
    if (this.next >= this.opts.names.length) {
      const ok = this.result.resolutions.every((r) => r.addresses.length > 0);
      this.ctx.exit(ok ? 0 : 1);
      return;
    }
    const name = this.opts.names[this.next++]!;
    const r: Resolution = { name, addresses: [], rcode: null, truncated: false, transport: null, tcpError: null, queries: 0, elapsedNs: 0, error: null };
    if (this.servers.length === 0) {
      r.error = 'no nameservers';
      return this.done(r);
    }
    this.current = { r, started: this.ctx.now(), round: 0, server: 0, fd: -1, id: 0, query: new Uint8Array(0), timer: null, tcp: null };
    this.ask();
  }

  /** Send the query to the current server of the current round and wait for its timeout. */
  private ask(): void {
    const c = this.current!;
    const attempts = this.opts.attempts ?? RESOLVER_DEFAULTS.attempts;
    if (c.round >= attempts) {
      c.r.error ??= `no answer from ${this.servers.map(ipToString).join(', ')} after ${c.r.queries} queries`;
      return this.done(c.r);
    }
    const server = this.servers[c.server]!;
    this.closeSocket();
    const fd = this.ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
      c.r.error = `socket: ${errnoName(fd)}`;
      return this.done(c.r);
    }
    c.fd = fd;
    const cr = this.ctx.sys.connect(fd, { addr: server, port: DNS_PORT });
    if (cr < 0) {
      c.r.error = `connect ${ipToString(server)}: ${errnoName(cr)}`;
      return this.advance();
    }
    this.ctx.sys.onReadable(fd, () => this.readAnswers());
    c.id = this.rng.nextU32() & 0xffff;
    const q = emitDns({
      id: c.id,
      response: false,
      opcode: 0,
      authoritative: false,
      truncated: false,
      recursionDesired: true,
      recursionAvailable: false,
      rcode: 0,
      questions: [{ name: c.r.name, type: DnsType.A, class: DnsClass.IN }],
      answers: [],
      authorities: [],
      additionals: [],
    });
    if ('error' in q) {
      c.r.error = q.error;
      return this.done(c.r);
    }
    c.query = q;
    const s = this.ctx.sys.sendto(fd, q);
    c.r.queries++;
    this.ctx.log(`query ${c.r.name} A to ${ipToString(server)} (id ${c.id}, round ${c.round + 1})${s < 0 ? `: send ${errnoName(s)}` : ''}`);
    if (s < 0) return this.advance();
    // glibc res_send: the first round waits `timeout`; later rounds double it per round,
    // shared among the servers.
    const base = this.opts.timeoutNs ?? RESOLVER_DEFAULTS.timeoutNs;
    const wait = c.round === 0 ? base : Math.max(NS_PER_SEC, Math.floor((base * 2 ** c.round) / this.servers.length));
    c.timer = this.ctx.after(wait, () => {
      c.timer = null;
      this.ctx.log(`no answer for ${c.r.name} from ${ipToString(server)} in ${wait / NS_PER_SEC} s`);
      this.advance();
    });
  }

  /** Next server, or the next round after the last one. */
  private advance(): void {
    const c = this.current!;
    this.ctx.cancel(c.timer);
    c.timer = null;
    c.server++;
    if (c.server >= this.servers.length) {
      c.server = 0;
      c.round++;
    }
    this.ask();
  }

  private readAnswers(): void {
    const c = this.current;
    if (!c || c.fd < 0) return;
    for (;;) {
      const fd = c.fd;
      const d = this.ctx.sys.recvfrom(fd);
      if (typeof d === 'number') {
        if (d === -Errno.EAGAIN) return;
        // ICMP port unreachable on a connected socket: this server is not answering.
        this.ctx.log(`${ipToString(this.servers[c.server]!)}: ${errnoName(d)}`);
        c.r.error = `${ipToString(this.servers[c.server]!)}: ${errnoName(d)}`;
        return this.advance();
      }
      const m = parseDns(d.data);
      if ('error' in m || !this.matches(m, c.id, c.r.name)) {
        this.result.ignored++;
        continue;
      }
      const rc = m.rcode;
      c.r.rcode = rcodeName(rc);
      if (rc === DnsRcode.NOERROR || rc === DnsRcode.NXDOMAIN) {
        c.r.truncated = m.truncated;
        c.r.transport = 'udp';
        c.r.addresses = addressesOf(m);
        c.r.error = null;
        this.ctx.cancel(c.timer);
        c.timer = null;
        if (m.truncated && (this.opts.tcpRetry ?? true)) return this.retryTcp();
        return this.done(c.r);
      }
      // SERVFAIL, REFUSED, NOTIMP, FORMERR: ask the next server.
      c.r.error = `${ipToString(this.servers[c.server]!)} answered ${c.r.rcode}`;
      return this.advance();
    }
  }

  private matches(m: DnsRepr, id: number, name: string): boolean {
    const q = m.questions[0];
    return m.response && m.id === id && m.questions.length === 1 && q !== undefined && sameName(q.name, name) && q.type === DnsType.A && q.class === DnsClass.IN;
  }

  // ---------------------------------------------------------------- TCP after TC

  /** Ask the same server the same question over TCP; on any failure keep the UDP answer. */
  private retryTcp(): void {
    const c = this.current!;
    this.closeSocket();
    const server = this.servers[c.server]!;
    const fd = this.ctx.sys.socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return this.tcpFailed(`socket(SOCK_STREAM): ${errnoName(fd)}`);
    c.tcp = { fd, got: new Uint8Array(0), sent: false };
    this.ctx.sys.onWritable(fd, () => this.tcpWritable());
    this.ctx.sys.onReadable(fd, () => this.tcpReadable());
    const r = this.ctx.sys.connect(fd, { addr: server, port: DNS_PORT });
    if (r < 0 && r !== -Errno.EINPROGRESS) return this.tcpFailed(`connect: ${errnoName(r)}`);
    this.ctx.log(`${c.r.name}: answer truncated (TC); asking ${ipToString(server)} again over TCP`);
    const wait = this.opts.timeoutNs ?? RESOLVER_DEFAULTS.timeoutNs;
    c.timer = this.ctx.after(wait, () => {
      c.timer = null;
      this.tcpFailed(`no answer over TCP in ${wait / NS_PER_SEC} s`);
    });
    if (r === 0) this.tcpWritable();
  }

  private tcpWritable(): void {
    const t = this.current?.tcp;
    if (!t || t.sent) return;
    const q = this.current!.query;
    const framed = new Uint8Array(2 + q.length);
    framed[0] = q.length >> 8;
    framed[1] = q.length & 255;
    framed.set(q, 2);
    const s = this.ctx.sys.send(t.fd, framed);
    if (s === -Errno.EAGAIN) return;
    if (s < 0) return this.tcpFailed(`send: ${errnoName(s)}`);
    t.sent = true;
    this.current!.r.queries++;
  }

  private tcpReadable(): void {
    const c = this.current;
    const t = c?.tcp;
    if (!c || !t) return;
    for (;;) {
      const d = this.ctx.sys.recv(t.fd, 4096);
      if (typeof d === 'number') {
        if (d === -Errno.EAGAIN) return;
        return this.tcpFailed(`recv: ${errnoName(d)}`);
      }
      if (d.length === 0) return this.tcpFailed('connection closed before the answer');
      const got = new Uint8Array(t.got.length + d.length);
      got.set(t.got);
      got.set(d, t.got.length);
      t.got = got;
      if (got.length < 2) continue;
      const len = (got[0]! << 8) | got[1]!;
      if (got.length < 2 + len) continue;
      const m = parseDns(got.subarray(2, 2 + len));
      if ('error' in m) return this.tcpFailed(`bad answer over TCP: ${m.error}`);
      if (!this.matches(m, c.id, c.r.name)) return this.tcpFailed('answer over TCP does not match the query');
      if (m.rcode === DnsRcode.NOERROR || m.rcode === DnsRcode.NXDOMAIN) {
        c.r.rcode = rcodeName(m.rcode);
        c.r.addresses = addressesOf(m);
        c.r.transport = 'tcp';
        return this.done(c.r);
      }
      return this.tcpFailed(`answered ${rcodeName(m.rcode)} over TCP`);
    }
  }

  /** The TCP retry did not work out: the truncated UDP answer stands (musl ≤ 1.2.3's result). */
  private tcpFailed(why: string): void {
    const c = this.current!;
    c.r.tcpError = why;
    this.ctx.log(`${c.r.name}: TCP retry failed (${why}); using the ${c.r.addresses.length} addresses in the truncated answer`);
    this.done(c.r);
  }

  private done(r: Resolution): void {
    if (this.current) {
      this.ctx.cancel(this.current.timer);
      r.elapsedNs = this.ctx.now() - this.current.started;
    }
    this.closeSocket();
    this.current = null;
    this.result.resolutions.push(r);
    const what = r.addresses.length > 0 ? r.addresses.map(ipToString).join(' ') : r.error ?? (r.rcode === 'NXDOMAIN' ? "can't resolve (NXDOMAIN)" : `no address (${r.rcode})`);
    this.ctx.log(`${r.name}: ${what}${r.truncated ? (r.transport === 'tcp' ? ' (TC over UDP, full answer over TCP)' : ' [TC: truncated answer]') : ''}`);
    // Let the current call stack unwind before the next lookup opens its socket.
    this.ctx.after(0, () => this.lookupNext());
  }

  private closeSocket(): void {
    const c = this.current;
    if (c && c.fd >= 0) {
      this.ctx.sys.close(c.fd);
      c.fd = -1;
    }
    if (c?.tcp) {
      this.ctx.sys.close(c.tcp.fd);
      c.tcp = null;
    }
  }
}

/** The IN A addresses in an answer section. */
function addressesOf(m: DnsRepr): number[] {
  const out: number[] = [];
  if (m.rcode !== DnsRcode.NOERROR) return out;
  for (const rr of m.answers) {
    const a = aRecordAddress(rr);
    if (a !== null && rr.class === DnsClass.IN) out.push(a);
  }
  return out;
}
