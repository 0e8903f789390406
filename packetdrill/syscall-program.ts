/**
 * The script's system calls, run by a program on the board through the socket API every app
 * uses (stack/socket/syscalls.ts). The board's calls never block; a call on a blocking
 * descriptor that would block (accept, connect, read, write, poll with a timeout) waits for
 * the socket's wake-up and tries again, as the kernel's sleep in the call would, while the
 * script goes on — packetdrill runs such calls on a thread of their own.
 */
import type { Program, ProgramContext } from '../apps/program.js';
import type { TimerHandle } from '../emulator/event-queue.js';
import type { SockOpt } from '../stack/socket/syscalls.js';
import type { TcpInfo } from '../stack/ipv4/tcp-sock.js';
import type { Expr, SyscallSpec } from './script.js';
import { AF_INET, AF_UNSPEC, SOCK_STREAM } from '../stack/uapi/socket.js';
import { IPPROTO_TCP } from '../stack/uapi/in.js';
import { Errno } from '../stack/uapi/errno.js';

export const CONSTANTS: Record<string, number> = {
  AF_INET,
  PF_INET: AF_INET,
  AF_UNSPEC,
  SOCK_STREAM,
  SOCK_NONBLOCK: 0x800,
  SOCK_CLOEXEC: 0x80000,
  IPPROTO_TCP,
  IPPROTO_IP: 0,
  SOL_SOCKET: 1,
  SOL_TCP: 6,
  SO_REUSEADDR: 2,
  SO_ERROR: 4,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_KEEPALIVE: 9,
  TCP_NODELAY: 1,
  TCP_INFO: 11,
  TCP_FASTOPEN: 23,
  TCP_FASTOPEN_CONNECT: 30,
  F_GETFL: 3,
  F_SETFL: 4,
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_NONBLOCK: 0x800,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  MSG_DONTWAIT: 0x40,
  MSG_NOSIGNAL: 0x4000,
  MSG_FASTOPEN: 0x20000000,
  POLLIN: 0x1,
  POLLPRI: 0x2,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  POLLRDNORM: 0x40,
  POLLWRNORM: 0x100,
  POLLRDHUP: 0x2000,
  TCP_ESTABLISHED: 1,
  TCP_SYN_SENT: 2,
  TCP_SYN_RECV: 3,
  TCP_FIN_WAIT1: 4,
  TCP_FIN_WAIT2: 5,
  TCP_TIME_WAIT: 6,
  TCP_CLOSE: 7,
  TCP_CLOSE_WAIT: 8,
  TCP_LAST_ACK: 9,
  TCP_LISTEN: 10,
  TCP_CLOSING: 11,
};

const STATE_NUMBER: Record<TcpInfo['state'], number> = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSED: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
};

/** The tcp_info fields the stack keeps, as struct tcp_info names them (times in µs). */
export function tcpInfoField(info: TcpInfo, field: string): number | undefined {
  switch (field) {
    case 'tcpi_state':
      return STATE_NUMBER[info.state];
    case 'tcpi_snd_cwnd':
      return info.cwnd;
    case 'tcpi_snd_ssthresh':
      return info.ssthresh;
    case 'tcpi_rtt':
      return Math.floor(info.srttNs / 1000);
    case 'tcpi_rttvar':
      return Math.floor(info.rttvarNs / 1000);
    case 'tcpi_rto':
      return Math.floor(info.rtoNs / 1000);
    case 'tcpi_snd_mss':
      return info.mss;
    case 'tcpi_retransmits':
      return info.retransmits;
    case 'tcpi_bytes_acked':
      return info.bytesAcked;
    case 'tcpi_bytes_received':
      return info.bytesReceived;
    default:
      return undefined;
  }
}

/** What a call did: its return (or -errno), or that it is waiting, or why it cannot run here. */
export type CallOutcome = { ret: number; check?: string } | { blocked: true } | { unsupported: string } | { error: string };

export interface Endpoints {
  localIp: number;
  remoteIp: number;
  bindPort: number;
  connectPort: number;
}

export class ScriptProgram implements Program {
  readonly name = 'packetdrill';
  exitCode: number | null = null;
  private ctx!: ProgramContext;
  /** Script descriptor → board descriptor. */
  private readonly fds = new Map<number, number>();
  private readonly nonblocking = new Set<number>();
  /** The last stream descriptor used: inline asserts read its tcp_info. */
  lastFd: number | null = null;
  private retry: (() => void) | null = null;
  /** How a blocked call goes on when woken (a partial write, a connect in progress). */
  private continuation: (() => CallOutcome) | null = null;
  private pollTimer: TimerHandle | null = null;
  /** Set when a blocked call finishes: its outcome and the time. */
  onComplete: ((o: CallOutcome) => void) | null = null;

  constructor(private readonly ends: Endpoints) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
  }

  /** getsockopt(TCP_INFO) on a board descriptor, for inline asserts. */
  tcpInfo(fd: number): TcpInfo | null {
    const info = this.ctx.sys.tcpInfo(fd);
    return typeof info === 'number' ? null : info;
  }

  get blocked(): boolean {
    return this.retry !== null;
  }

  private value(e: Expr | undefined, what: string): number | string {
    if (!e) return `missing ${what}`;
    switch (e.kind) {
      case 'int':
        return e.value;
      case 'name': {
        const v = CONSTANTS[e.name];
        return v === undefined ? `unknown symbol ${e.name}` : v;
      }
      case 'or': {
        let v = 0;
        for (const p of e.parts) {
          const x = this.value(p, what);
          if (typeof x === 'string') return x;
          v |= x;
        }
        return v;
      }
      case 'array':
        return e.items.length === 1 ? this.value(e.items[0], what) : `${what}: expected a one-element array`;
      default:
        return `${what}: expected an integer`;
    }
  }

  private fd(e: Expr | undefined): number | string {
    const v = this.value(e, 'descriptor');
    if (typeof v === 'string') return v;
    const real = this.fds.get(v);
    return real ?? -1;
  }

  /** Start a call. A blocking one finishes later through onComplete. */
  invoke(call: SyscallSpec): CallOutcome {
    this.continuation = null;
    const o = this.attempt(call);
    if (!('blocked' in o)) return o;
    this.retry = () => {
      const again = this.continuation ? this.continuation() : this.attempt(call);
      if ('blocked' in again) return;
      this.retry = null;
      this.continuation = null;
      this.ctx.cancel(this.pollTimer);
      this.pollTimer = null;
      this.onComplete?.(again);
    };
    return o;
  }

  private wake = (): void => {
    this.retry?.();
  };

  private wait(fd: number): CallOutcome {
    this.ctx.sys.onReadable(fd, this.wake);
    this.ctx.sys.onWritable(fd, this.wake);
    return { blocked: true };
  }

  private attempt(call: SyscallSpec): CallOutcome {
    const sys = this.ctx.sys;
    const a = call.args;
    const bad = (x: number | string): x is string => typeof x === 'string';
    const fdArg = (): number | string => {
      const f = this.fd(a[0]);
      if (typeof f === 'number' && f >= 0) this.lastFd = f;
      return f;
    };
    switch (call.name) {
      case 'socket': {
        // `...` is the script's address family: IPv4 here.
        const domain = a[0]?.kind === 'ellipsis' ? AF_INET : this.value(a[0], 'domain');
        const type = this.value(a[1], 'type');
        const proto = this.value(a[2], 'protocol');
        if (bad(domain)) return domain.includes('AF_INET6') ? { unsupported: 'IPv6 sockets' } : { error: domain };
        if (bad(type)) return { error: type };
        if (bad(proto)) return { error: proto };
        if (domain !== AF_INET) return { unsupported: `socket domain ${domain} (only AF_INET is modelled)` };
        if ((type & 0xf) !== SOCK_STREAM) return { unsupported: 'non-stream sockets (only TCP is modelled)' };
        const fd = sys.socket(AF_INET, SOCK_STREAM, proto);
        if (fd < 0) return { ret: fd };
        const want = call.result.kind === 'int' && call.result.value >= 0 ? call.result.value : fd;
        this.fds.set(want, fd);
        if (type & CONSTANTS.SOCK_NONBLOCK!) this.nonblocking.add(fd);
        return { ret: want };
      }
      case 'bind': {
        const fd = fdArg();
        if (bad(fd)) return { error: fd };
        if (a[1]?.kind !== 'ellipsis') return { unsupported: 'bind to an explicit address (use ...)' };
        return { ret: fd < 0 ? -Errno.EBADF : sys.bind(fd, { addr: this.ends.localIp, port: this.ends.bindPort }) };
      }
      case 'listen': {
        const fd = fdArg();
        const backlog = this.value(a[1], 'backlog');
        if (bad(fd)) return { error: fd };
        if (bad(backlog)) return { error: backlog };
        return { ret: fd < 0 ? -Errno.EBADF : sys.listen(fd, backlog) };
      }
      case 'accept':
      case 'accept4': {
        const fd = fdArg();
        if (bad(fd)) return { error: fd };
        if (fd < 0) return { ret: -Errno.EBADF };
        const r = sys.accept(fd);
        if (typeof r === 'number') {
          if (r === -Errno.EAGAIN && !this.nonblocking.has(fd)) return this.wait(fd);
          return { ret: r };
        }
        const want = call.result.kind === 'int' && call.result.value >= 0 ? call.result.value : r.fd;
        this.fds.set(want, r.fd);
        this.lastFd = r.fd;
        return { ret: want };
      }
      case 'connect': {
        const fd = fdArg();
        if (bad(fd)) return { error: fd };
        if (fd < 0) return { ret: -Errno.EBADF };
        if (a[1]?.kind !== 'ellipsis') return { unsupported: 'connect to an explicit address (use ...)' };
        const r = sys.connect(fd, { addr: this.ends.remoteIp, port: this.ends.connectPort });
        if (r === -Errno.EINPROGRESS && !this.nonblocking.has(fd)) {
          // Blocking connect: wait for the handshake (or its failure), without connecting again.
          this.continuation = () => this.waitConnect(fd);
          return this.wait(fd);
        }
        return { ret: r };
      }
      case 'write':
      case 'send':
      case 'sendto': {
        const fd = fdArg();
        const len = this.value(a[2], 'length');
        const flags = call.name === 'write' ? 0 : this.value(a[3], 'flags');
        if (bad(fd)) return { error: fd };
        if (bad(len)) return { error: len };
        if (bad(flags)) return { error: flags };
        if (fd < 0) return { ret: -Errno.EBADF };
        if (flags & ~(CONSTANTS.MSG_DONTWAIT! | CONSTANTS.MSG_NOSIGNAL! | CONSTANTS.MSG_FASTOPEN!)) return { unsupported: `send flags 0x${flags.toString(16)}` };
        if (flags & CONSTANTS.MSG_FASTOPEN!) {
          // sendto(MSG_FASTOPEN): connect with the data in the SYN when a cookie is cached.
          if (sys.setsockopt(fd, 'TCP_FASTOPEN_CONNECT', 1) !== 0) return { ret: -Errno.EOPNOTSUPP };
          const c = sys.connect(fd, { addr: this.ends.remoteIp, port: this.ends.connectPort });
          if (c !== 0) return { ret: c };
        }
        const data = new Uint8Array(len);
        const nb = this.nonblocking.has(fd) || (flags & CONSTANTS.MSG_DONTWAIT!) !== 0;
        return this.writeAll(fd, data, nb, 0);
      }
      case 'read':
      case 'recv':
      case 'recvfrom': {
        const fd = fdArg();
        const len = this.value(a[2], 'length');
        const flags = call.name === 'read' ? 0 : this.value(a[3], 'flags');
        if (bad(fd)) return { error: fd };
        if (bad(len)) return { error: len };
        if (bad(flags)) return { error: flags };
        if (fd < 0) return { ret: -Errno.EBADF };
        if (flags & ~CONSTANTS.MSG_DONTWAIT!) return { unsupported: `recv flags 0x${flags.toString(16)}` };
        const r = sys.recv(fd, len);
        if (typeof r === 'number') {
          if (r === -Errno.EAGAIN && !this.nonblocking.has(fd) && !(flags & CONSTANTS.MSG_DONTWAIT!)) return this.wait(fd);
          return { ret: r };
        }
        return { ret: r.length };
      }
      case 'close': {
        const s = this.value(a[0], 'descriptor');
        if (bad(s)) return { error: s };
        const fd = this.fds.get(s);
        if (fd === undefined) return { ret: -Errno.EBADF };
        this.fds.delete(s);
        this.nonblocking.delete(fd);
        if (this.lastFd === fd) this.lastFd = null;
        return { ret: sys.close(fd) };
      }
      case 'shutdown': {
        const fd = fdArg();
        const how = this.value(a[1], 'how');
        if (bad(fd)) return { error: fd };
        if (bad(how)) return { error: how };
        if (fd < 0) return { ret: -Errno.EBADF };
        if (how === CONSTANTS.SHUT_RD) return { unsupported: 'shutdown(SHUT_RD)' };
        return { ret: sys.shutdown(fd) };
      }
      case 'fcntl': {
        const fd = fdArg();
        const cmd = this.value(a[1], 'command');
        if (bad(fd)) return { error: fd };
        if (bad(cmd)) return { error: cmd };
        if (fd < 0) return { ret: -Errno.EBADF };
        if (cmd === CONSTANTS.F_GETFL) return { ret: CONSTANTS.O_RDWR! | (this.nonblocking.has(fd) ? CONSTANTS.O_NONBLOCK! : 0) };
        if (cmd !== CONSTANTS.F_SETFL) return { unsupported: `fcntl command ${cmd}` };
        const fl = this.value(a[2], 'flags');
        if (bad(fl)) return { error: fl };
        if (fl & CONSTANTS.O_NONBLOCK!) this.nonblocking.add(fd);
        else this.nonblocking.delete(fd);
        return { ret: 0 };
      }
      case 'setsockopt':
        return this.setsockopt(call);
      case 'getsockopt':
        return this.getsockopt(call);
      case 'poll':
        return this.poll(call);
      default:
        return { unsupported: `system call ${call.name}` };
    }
  }

  private waitConnect(fd: number): CallOutcome {
    const sys = this.ctx.sys;
    const info = sys.tcpInfo(fd);
    if (typeof info === 'number') return { ret: info };
    if (info.state === 'SYN_SENT') return this.wait(fd);
    const err = sys.getsockopt(fd, 'SO_ERROR');
    return { ret: err > 0 ? -err : info.state === 'ESTABLISHED' || info.state === 'CLOSE_WAIT' ? 0 : -Errno.ECONNREFUSED };
  }

  private writeAll(fd: number, data: Uint8Array, nonblocking: boolean, done: number): CallOutcome {
    const sys = this.ctx.sys;
    let sent = done;
    while (sent < data.length) {
      const r = sys.send(fd, data.subarray(sent));
      if (r < 0) {
        if (r === -Errno.EAGAIN && !nonblocking) {
          const total = sent;
          this.ctx.sys.onReadable(fd, this.wake);
          this.ctx.sys.onWritable(fd, this.wake);
          // Continue from where it stopped when woken.
          this.continuation = () => this.writeAll(fd, data, nonblocking, total);
          return { blocked: true };
        }
        return { ret: sent > 0 ? sent : r };
      }
      sent += r;
      if (nonblocking) break;
    }
    return { ret: sent };
  }

  private sockopt(level: number, name: number): SockOpt | null {
    if (level === CONSTANTS.SOL_SOCKET) {
      if (name === CONSTANTS.SO_REUSEADDR) return 'SO_REUSEADDR';
      if (name === CONSTANTS.SO_KEEPALIVE) return 'SO_KEEPALIVE';
      if (name === CONSTANTS.SO_SNDBUF) return 'SO_SNDBUF';
      if (name === CONSTANTS.SO_RCVBUF) return 'SO_RCVBUF';
    }
    if (level === CONSTANTS.SOL_TCP || level === CONSTANTS.IPPROTO_TCP) {
      if (name === CONSTANTS.TCP_NODELAY) return 'TCP_NODELAY';
      if (name === CONSTANTS.TCP_FASTOPEN) return 'TCP_FASTOPEN';
      if (name === CONSTANTS.TCP_FASTOPEN_CONNECT) return 'TCP_FASTOPEN_CONNECT';
    }
    return null;
  }

  private optionName(e: Expr | undefined): string {
    return e?.kind === 'name' ? e.name : String(e?.kind === 'int' ? e.value : '?');
  }

  private setsockopt(call: SyscallSpec): CallOutcome {
    const fd = this.fd(call.args[0]);
    const level = this.value(call.args[1], 'level');
    const name = this.value(call.args[2], 'option');
    if (typeof fd === 'string') return { error: fd };
    if (typeof level === 'string' || typeof name === 'string') return { unsupported: `socket option ${this.optionName(call.args[2])}` };
    const opt = this.sockopt(level, name);
    if (!opt) return { unsupported: `socket option ${this.optionName(call.args[2])}` };
    const v = this.value(call.args[3], 'option value');
    if (typeof v === 'string') return { error: v };
    if (fd < 0) return { ret: -Errno.EBADF };
    this.lastFd = fd;
    return { ret: this.ctx.sys.setsockopt(fd, opt, v) };
  }

  private getsockopt(call: SyscallSpec): CallOutcome {
    const sys = this.ctx.sys;
    const fd = this.fd(call.args[0]);
    const level = this.value(call.args[1], 'level');
    const name = this.value(call.args[2], 'option');
    if (typeof fd === 'string') return { error: fd };
    if (typeof level === 'string' || typeof name === 'string') return { unsupported: `socket option ${this.optionName(call.args[2])}` };
    if (fd < 0) return { ret: -Errno.EBADF };
    const want = call.args[3];
    if (level === CONSTANTS.SOL_TCP && name === CONSTANTS.TCP_INFO) {
      const info = sys.tcpInfo(fd);
      if (typeof info === 'number') return { ret: info };
      if (want?.kind !== 'struct') return { ret: 0 };
      for (const f of want.fields) {
        const actual = tcpInfoField(info, f.name);
        if (actual === undefined) return { unsupported: `tcp_info field ${f.name}` };
        const exp = f.value.kind === 'ellipsis' ? null : this.value(f.value, f.name);
        if (typeof exp === 'string') return { error: exp };
        if (exp !== null && exp !== actual) return { ret: 0, check: `Bad getsockopt TCP_INFO ${f.name}: expected: ${exp} actual: ${actual}` };
      }
      return { ret: 0 };
    }
    let actual: number;
    if (level === CONSTANTS.SOL_SOCKET && name === CONSTANTS.SO_ERROR) actual = sys.getsockopt(fd, 'SO_ERROR');
    else if (level === CONSTANTS.SOL_SOCKET && name === CONSTANTS.SO_RCVBUF) actual = sys.getsockopt(fd, 'SO_RCVBUF');
    else if (level === CONSTANTS.SOL_SOCKET && name === CONSTANTS.SO_SNDBUF) actual = sys.getsockopt(fd, 'SO_SNDBUF');
    else return { unsupported: `getsockopt ${this.optionName(call.args[2])}` };
    if (actual < 0) return { ret: actual };
    const exp = want === undefined || want.kind === 'ellipsis' ? null : this.value(want, 'option value');
    if (typeof exp === 'string') return { error: exp };
    if (exp !== null && exp !== actual) return { ret: 0, check: `Bad getsockopt optval: expected: ${exp} actual: ${actual}` };
    return { ret: 0 };
  }

  private poll(call: SyscallSpec): CallOutcome {
    const list = call.args[0];
    if (list?.kind !== 'array') return { error: 'poll: expected an array of pollfd structs' };
    const timeout = this.value(call.args[2], 'timeout');
    if (typeof timeout === 'string') return { error: timeout };
    const entries: Array<{ fd: number; events: number; revents: number | null }> = [];
    for (const item of list.items) {
      if (item.kind !== 'struct') return { error: 'poll: expected {fd=…, events=…, revents=…}' };
      const get = (n: string): Expr | undefined => item.fields.find((f) => f.name === n)?.value;
      const fd = this.fd(get('fd'));
      const events = this.value(get('events'), 'events');
      const rv = get('revents');
      const revents = rv === undefined || rv.kind === 'ellipsis' ? null : this.value(rv, 'revents');
      if (typeof fd === 'string') return { error: fd };
      if (typeof events === 'string') return { error: events };
      if (typeof revents === 'string') return { error: revents };
      entries.push({ fd, events, revents });
    }
    const ready = (): Array<number> =>
      entries.map((e) => {
        if (e.fd < 0) return CONSTANTS.POLLNVAL!;
        const m = this.ctx.sys.pollStream(e.fd);
        return m < 0 ? CONSTANTS.POLLNVAL! : m & (e.events | CONSTANTS.POLLERR! | CONSTANTS.POLLHUP! | CONSTANTS.POLLNVAL!);
      });
    const finish = (): CallOutcome => {
      const got = ready();
      const n = got.filter((x) => x !== 0).length;
      for (let i = 0; i < entries.length; i++) {
        const want = entries[i]!.revents;
        if (want !== null && want !== got[i]) return { ret: n, check: `poll revents for fd ${i}: expected: 0x${want.toString(16)} actual: 0x${got[i]!.toString(16)}` };
      }
      return { ret: n };
    };
    if (ready().some((x) => x !== 0) || timeout === 0) return finish();
    if (this.pollExpired) {
      this.pollExpired = false;
      return finish();
    }
    for (const e of entries) if (e.fd >= 0) this.wait(e.fd);
    if (timeout > 0 && !this.pollTimer) {
      this.pollTimer = this.ctx.after(timeout * 1_000_000, () => {
        this.pollTimer = null;
        this.pollExpired = true;
        this.retry?.();
      });
    }
    return { blocked: true };
  }

  private pollExpired = false;
}
