/**
 * TCP's tables and the socket calls (net/ipv4/tcp_ipv4.c, tcp.c, inet_connection_sock.c):
 * demultiplexing to established, timewait and listening sockets, the listen path with its
 * SYN and accept queues, SYN cookies, connect/accept/send/recv/close, timers, and memory
 * accounting against tcp_mem.
 */
import type { NetDevice } from '../core/netdevice.js';
import { allocSkb, allocSkbFclone, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import type { MibGroup } from '../core/snmp.js';
import { cacheAlign, type Gfp, type SlabCache } from '../core/kmem.js';
import type { NetStack } from '../net-stack.js';
import { Errno, skMemDefault, type SockAddr } from '../socket/sock.js';
import { IPPROTO_TCP, type Ipv4Repr } from '../wire/ipv4-header.js';
import { sampleRtt, tcpRcv } from './tcp-input.js';
import * as outputFns from './tcp-output.js';
import { parseTcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpRepr } from '../wire/tcp-header.js';
import {
  cookieCheck,
  cookieCount,
  cookieInitSequence,
  cookieTimestamp,
  COOKIE_MSS,
  decodeCookieTimestamp,
  tupleKey,
  tcpTimewaitStateProcess,
  type RequestSock,
  type TimewaitProcess,
  type TimewaitSock,
} from './tcp-minisocks.js';
import { armRetransmitTimer, sendAck, sendControl, sendResetFor, transmit, writeXmit } from './tcp-output.js';
import { TcpSock, type TxSeg } from './tcp-sock.js';
import { fastOpenCookie, passiveDecision } from './tcp-fastopen.js';
import { TcpMetrics } from './tcp-metrics.js';

/** Buffer's native copy, applied to plain Uint8Arrays: a memcpy with no view allocated. */
const copyBytes = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;
import { applyBootSysctl, computeTcpSysctl, nrFreeBufferPages, TCP_EXT_MIB, TCP_MIB, type TcpSysctl } from './tcp-sysctl.js';

/** SK_MEMORY_PCPU_RESERVE: 1 << (20 − PAGE_SHIFT) pages, 1 MiB per CPU (include/net/sock.h, 6.1). */
export const SK_MEMORY_PCPU_RESERVE = 256;
/** MAX_TCP_HEADER: L1_CACHE_ALIGN(128 + MAX_HEADER), MAX_HEADER being LL_MAX_HEADER (32) on a plain build. */
const MAX_TCP_HEADER = 192;
const TCP_INIT_CWND = 10;
/** tcp_reordering's default (TCP_FASTRETRANS_THRESH). */
const TCP_REORDERING = 3;

function roundupPowOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
import { tcpEnterLoss, tcpInitCongestionControl } from './tcp-recovery.js';
import { noteRetransmit } from './tcp-tlp.js';
import { TCP_CONG_LIST } from './tcp-cong-list.js';

const EPHEMERAL_LOW = 32768;
const EPHEMERAL_HIGH = 60999;
/** MAX_TCP_HEADER: headroom for TCP, IP and Ethernet headers in front of the payload. */
const TCP_HEADROOM = MAX_HEADER;

export class TcpTable {
  readonly sysctl: TcpSysctl;
  readonly mib: MibGroup;
  readonly ext: MibGroup;
  private readonly sockCache: SlabCache;
  private readonly reqCache: SlabCache;
  private readonly twCache: SlabCache;
  readonly ehash = new Map<string, TcpSock>();
  /**
   * The same established sockets indexed by number for the per-segment lookup (the role of
   * __inet_lookup_established's hash): remote address·port, then local address·port, each
   * addr × 65536 + port (48 bits, exact in a double). No string is built per segment.
   */
  private readonly ehashIndex = new Map<number, Map<number, TcpSock>>();
  readonly listeners = new Map<number, TcpSock>();
  readonly requests = new Map<string, RequestSock>();
  readonly timewait = new Map<string, TimewaitSock>();
  private readonly boundPorts = new Map<number, number>();
  private readonly rng;
  private readonly secret: number;
  /** Bytes of truesize charged to TCP sockets (what sk_forward_alloc rounds up to pages). */
  memAllocated = 0;
  memAllocatedPeak = 0;
  /** Pages charged so far (memAllocated rounded up), last passed on to the per-CPU reserve. */
  private chargedPages = 0;
  /** tcp_proto.per_cpu_fw_alloc on the board's one CPU: pages not yet moved to the global count. */
  pcpuReservePages = 0;
  /** tcp_memory_allocated, the global count tcp_mem is compared with (pages; may dip below 0). */
  memoryAllocatedPages = 0;
  /** Times tcp_mem[1] was crossed (TCPMemoryPressures exists only with PROC_FS's counters). */
  pressureEpisodes = 0;
  memPressure = false;
  orphans = 0;
  /** Segments dropped, by Linux 6.1's SKB_DROP_REASON_* name (what the kfree_skb tracepoint shows). */
  readonly dropReasons: Record<string, number> = {};
  /** RTT samples of every connection on this stack, for the report. */
  readonly rttSamplesSeen: number[] = [];
  /** All sockets alive (for leak checks). */
  readonly all = new Set<TcpSock>();
  /** Fast Open cookies learned per server address, when there is no metrics cache to hold them. */
  private readonly fastOpenCookieMap = new Map<number, Uint8Array>();
  /** The per-destination metrics cache (CONFIG_TCP_METRICS), or null. */
  readonly metrics: TcpMetrics | null;
  /** TIME_WAIT's rules: Linux's, unless a test puts a double here to see a broken one caught. */
  timewaitProcess: TimewaitProcess = tcpTimewaitStateProcess;

  constructor(readonly stack: NetStack) {
    const env = stack.env;
    this.sysctl = computeTcpSysctl(nrFreeBufferPages(env.mem.managedPages(), env.mem.reservePages()), env.mem.size, stack.has('BASE_SMALL'), stack.has('SYN_COOKIES'));
    // Checked before boot (checkBootSysctl), so no error can come back here.
    applyBootSysctl(this.sysctl, env.sysctl ?? {}, TCP_CONG_LIST.map((c) => c.name));
    this.mib = stack.mib.group('Tcp', TCP_MIB);
    this.ext = stack.mib.group('TcpExt', TCP_EXT_MIB);
    this.mib['RtoAlgorithm'] = 1;
    this.mib['RtoMin'] = 200;
    this.mib['RtoMax'] = 120000;
    this.mib['MaxConn'] = -1;
    this.sockCache = stack.sockets.protoCache('TCP', 'tcp_sock');
    this.reqCache = env.mem.createCache('request_sock_TCP', env.structs['tcp_request_sock']!);
    this.twCache = env.mem.createCache('tw_sock_TCP', env.structs['tcp_timewait_sock']!);
    // The established and bind hash tables are allocated at boot (alloc_large_system_hash).
    stack.staticAlloc('TCP established hash', this.sysctl.ehashEntries * env.structs['inet_ehash_bucket']!);
    stack.staticAlloc('TCP bind hash', this.sysctl.bhashEntries * env.structs['inet_bind_hashbucket']!);
    this.rng = env.rng.split('tcp');
    this.secret = this.rng.nextU32();
    this.metrics = stack.has('TCP_METRICS') ? new TcpMetrics(stack) : null;
    stack.ip.register(IPPROTO_TCP, (skb, ip, dev) => this.receive(skb, ip, dev), (inner, bytes, off, errno) => this.icmpError(inner, bytes, off, errno));
  }

  // ---- memory ------------------------------------------------------------------------------

  drop(skb: SkBuff, reason: string): void {
    this.dropReasons[reason] = (this.dropReasons[reason] ?? 0) + 1;
    skb.free();
  }

  underPressure(): boolean {
    return this.memPressure;
  }

  /**
   * sk_memory_allocated_add/sub (include/net/sock.h, 6.1): a charge goes to the CPU's reserve,
   * which moves to the global tcp_memory_allocated only when it reaches ±SK_MEMORY_PCPU_RESERVE
   * (1 MiB, 256 pages). With one CPU, tcp_mem sees nothing until a whole MiB is charged.
   */
  private syncMemoryAllocated(): void {
    const pages = Math.ceil(this.memAllocated / 4096);
    this.pcpuReservePages += pages - this.chargedPages;
    this.chargedPages = pages;
    if (this.pcpuReservePages >= SK_MEMORY_PCPU_RESERVE || this.pcpuReservePages <= -SK_MEMORY_PCPU_RESERVE) {
      this.memoryAllocatedPages += this.pcpuReservePages;
      this.pcpuReservePages = 0;
    }
  }

  /** proto_memory_allocated: the global count, never below zero. */
  protoMemoryAllocated(): number {
    return Math.max(0, this.memoryAllocatedPages);
  }

  private updatePressure(): void {
    if (this.memAllocated > this.memAllocatedPeak) this.memAllocatedPeak = this.memAllocated;
    this.syncMemoryAllocated();
    const pages = this.protoMemoryAllocated();
    if (!this.memPressure && pages > this.sysctl.tcpMem[1]) {
      this.memPressure = true;
      this.pressureEpisodes++;
      this.ext['TCPMemoryPressures']!++;
    } else if (this.memPressure && pages < this.sysctl.tcpMem[0]) this.memPressure = false;
  }

  /**
   * __sk_mem_raise_allocated: charge `extra` bytes (to the CPU's reserve, flushed at a full
   * reserve), then compare the global count with tcp_mem[2]; above it nothing more may be
   * charged. Nothing is committed here: the caller charges for real if this says yes.
   */
  private overHardLimit(extra: number): boolean {
    const pages = Math.ceil((this.memAllocated + extra) / 4096);
    const reserve = this.pcpuReservePages + pages - this.chargedPages;
    const global = reserve >= SK_MEMORY_PCPU_RESERVE ? this.memoryAllocatedPages + reserve : this.memoryAllocatedPages;
    return Math.max(0, global) > this.sysctl.tcpMem[2];
  }

  /**
   * tcp_try_rmem_schedule: may this skb be charged to the socket's receive buffer? When not,
   * prune (collapse the receive queue, drop out-of-order data) and ask again.
   */
  rmemSchedule(sk: TcpSock, skb: SkBuff): boolean {
    const fits = (): boolean => sk.rmemAlloc + skb.truesize <= sk.rcvbuf && !this.overHardLimit(skb.truesize);
    if (fits()) return true;
    this.pruneQueue(sk);
    if (fits()) return true;
    if (sk.ofo.length > 0) {
      this.ext['OfoPruned']!++;
      for (const o of sk.ofo) o.skb.free();
      sk.ofo = [];
    }
    if (fits()) return true;
    this.ext['RcvPruned']!++;
    return false;
  }

  /**
   * tcp_prune_queue → tcp_collapse: copy the data of wasteful skbs (truesize more than twice
   * their data, as tcp_win_from_space judges) into dense ones sized to the data, giving
   * truesize back. Dense skbs are left alone.
   */
  private pruneQueue(sk: TcpSock): void {
    this.ext['PruneCalled']!++;
    const wasteful = (skb: SkBuff): boolean => skb.truesize - (skb.truesize >> this.sysctl.advWinScale) > skb.len;
    const queue = sk.receiveQueue;
    const out: SkBuff[] = [];
    let i = 0;
    let collapsed = 0;
    while (i < queue.length) {
      if (!wasteful(queue[i]!)) {
        out.push(queue[i++]!);
        continue;
      }
      // A run of wasteful skbs: copy it into as few skbs as it needs.
      let j = i;
      let bytes = 0;
      while (j < queue.length && wasteful(queue[j]!)) bytes += queue[j++]!.len;
      if (j - i < 2) {
        out.push(queue[i++]!);
        continue;
      }
      const chunk = 4096 - 64 - 256 - TCP_HEADROOM;
      let src = i;
      let off = 0;
      let failed = false;
      while (bytes > 0) {
        const dense = allocSkb(this.stack.skbs, Math.min(chunk, bytes));
        if (!dense) {
          failed = true;
          break;
        }
        while (dense.tailroom() > 0 && src < j) {
          const from = queue[src]!;
          const n = Math.min(dense.tailroom(), from.len - off);
          dense.bytes.copyWithin(dense.put(n), from.data + off, from.data + off + n);
          off += n;
          bytes -= n;
          if (off === from.len) {
            from.free();
            collapsed++;
            src++;
            off = 0;
          }
        }
        this.chargeRcv(sk, dense);
        out.push(dense);
      }
      if (failed) {
        // No memory to collapse into: keep the rest as it was.
        if (off > 0) queue[src]!.pull(off);
        for (; src < j; src++) out.push(queue[src]!);
      }
      i = j;
    }
    sk.receiveQueue = out;
    this.ext['TCPRcvCollapsed']! += collapsed;
  }

  /** skb_set_owner_r: charge a received skb to the socket and to tcp_memory_allocated. */
  chargeRcv(sk: TcpSock, skb: SkBuff): void {
    sk.rmemAlloc += skb.truesize;
    this.memAllocated += skb.truesize;
    skb.destructor = (s) => {
      sk.rmemAlloc -= s.truesize;
      this.memAllocated -= s.truesize;
      this.updatePressure();
    };
    this.updatePressure();
  }

  /** A write-queue segment is acknowledged (or the socket is gone): free it unless the driver holds it. */
  freeSeg(sk: TcpSock, seg: TxSeg): void {
    seg.acked = true;
    if (seg.lent) return;
    sk.wmemQueued -= seg.skb.truesize;
    this.memAllocated -= seg.skb.truesize;
    seg.skb.free();
    this.updatePressure();
  }

  /**
   * tcp_sndbuf_expand: room for twice max(TCP_INIT_CWND, cwnd, reordering + 1) segments at
   * per_mss = roundup_pow_of_two(mss + MAX_TCP_HEADER + SKB_DATA_ALIGN(skb_shared_info)) +
   * SKB_DATA_ALIGN(sk_buff), up to tcp_wmem[2]; it only grows. At establishment
   * (tcp_init_buffer_space) it runs whatever the memory pressure; later only without it.
   */
  sndbufExpand(sk: TcpSock, atEstablishment = false): void {
    if (sk.userSndbuf) return;
    if (!atEstablishment && this.memPressure) return;
    const structs = this.stack.env.structs;
    const mss = Math.max(sk.mssClamp, sk.mss);
    const perMss = roundupPowOfTwo(mss + MAX_TCP_HEADER + cacheAlign(structs['skb_shared_info']!)) + cacheAlign(structs['sk_buff']!);
    const segs = Math.max(TCP_INIT_CWND, sk.cwnd, TCP_REORDERING + 1);
    const want = Math.min(this.sysctl.tcpWmem[2], 2 * segs * perMss);
    if (want > sk.sndbuf) sk.sndbuf = want;
  }

  // ---- sockets -----------------------------------------------------------------------------

  create(): TcpSock | number {
    const mem = this.stack.sockets.allocate(this.sockCache);
    if (!mem) return -Errno.ENOBUFS;
    const sk = new TcpSock(this.stack, this, mem);
    this.all.add(sk);
    return sk;
  }

  private pickPort(laddr: number, raddr: number, rport: number): number {
    // __inet_hash_connect: a randomised start, then the first port free for this 4-tuple.
    const range = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const start = this.rng.nextInt(range);
    for (let i = 0; i < range; i++) {
      const port = EPHEMERAL_LOW + ((start + i) % range);
      if (this.listeners.has(port)) continue;
      const key = tupleKey(laddr, port, raddr, rport);
      if (!this.ehash.has(key) && !this.timewait.has(key)) return port;
    }
    return 0;
  }

  bind(sk: TcpSock, addr: SockAddr): number {
    if (sk.lport !== 0) return -Errno.EINVAL;
    if (addr.addr !== 0 && !this.stack.isLocalAddress(addr.addr)) return -Errno.EADDRNOTAVAIL;
    if (addr.port !== 0 && (this.listeners.has(addr.port) || (this.boundPorts.get(addr.port) ?? 0) > 0)) return -Errno.EADDRINUSE;
    sk.laddr = addr.addr;
    sk.lport = addr.port;
    if (addr.port) this.boundPorts.set(addr.port, (this.boundPorts.get(addr.port) ?? 0) + 1);
    return 0;
  }

  listen(sk: TcpSock, backlog: number): number {
    if (sk.state !== 'CLOSED' && sk.state !== 'LISTEN') return -Errno.EINVAL;
    if (sk.lport === 0) return -Errno.EINVAL;
    // inet_listen: sk_max_ack_backlog is the backlog as given (capped at somaxconn), 0 included.
    sk.backlog = Math.max(0, Math.min(backlog, this.sysctl.somaxconn));
    if (sk.state === 'LISTEN') return 0;
    sk.state = 'LISTEN';
    this.listeners.set(sk.lport, sk);
    return 0;
  }

  accept(sk: TcpSock): TcpSock | number {
    if (sk.state !== 'LISTEN') return -Errno.EINVAL;
    const child = sk.acceptQueue.shift();
    if (!child) return -Errno.EAGAIN;
    if (child.passiveFastOpen) sk.fastOpenPending = Math.max(0, sk.fastOpenPending - 1);
    child.parent = null;
    return child;
  }

  private initConnection(sk: TcpSock): void {
    const mtu = this.stack.device(this.routeIfindex(sk.raddr))?.mtu ?? 1500;
    sk.advMss = mtu - 40;
    sk.mss = sk.advMss;
    sk.windowClamp = sk.fullSpace();
    sk.rcvWscale = this.wscaleFor(sk.rcvbuf);
    const full = sk.fullSpace();
    const initial = Math.min(full > sk.advMss ? full - (full % sk.advMss) : full, 65535);
    sk.rcvWnd = initial;
    sk.rcvSsthresh = initial;
    // Quick ACKs at the start (tcp_incr_quickack): up to 16 segments ACKed at once.
    sk.quickAcks = Math.min(16, Math.floor(initial / (2 * sk.advMss)));
    sk.tsOffset = this.rng.nextU32();
    // inet_id = get_random_u16() (tcp_v4_connect, tcp_v4_syn_recv_sock).
    sk.inetId = this.rng.nextInt(0x10000);
  }

  private routeIfindex(dst: number): number {
    return this.stack.fib.lookup(dst)?.ifindex ?? this.stack.devices[0]?.ifindex ?? 0;
  }

  /** secure_tcp_seq: a keyed hash of the 4-tuple plus a clock ticking every 64 ns. */
  private initialSeq(laddr: number, lport: number, raddr: number, rport: number): number {
    const h = cookieInitSequence(this.secret, laddr, raddr, lport, rport, 0, 0, 0);
    return (h + Math.floor(this.stack.sim.now / 64)) >>> 0;
  }

  connect(sk: TcpSock, addr: SockAddr): number {
    if (sk.state === 'ESTABLISHED') return -Errno.EISCONN;
    if (sk.state === 'SYN_SENT') return -Errno.EALREADY;
    if (sk.state !== 'CLOSED') return -Errno.EINVAL;
    const src = sk.laddr || this.stack.ip.sourceFor(addr.addr);
    if (src === 0) return -Errno.ENETUNREACH;
    sk.laddr = src;
    sk.raddr = addr.addr;
    sk.rport = addr.port;
    if (sk.lport === 0) {
      sk.lport = this.pickPort(src, addr.addr, addr.port);
      if (sk.lport === 0) return -Errno.EADDRNOTAVAIL;
    }
    this.initConnection(sk);
    sk.iss = this.initialSeq(sk.laddr, sk.lport, sk.raddr, sk.rport);
    sk.sndUna = sk.iss;
    sk.sndNxt = sk.iss;
    const syn = this.newSeg(sk, sk.iss, 0, true, false);
    if (!syn) return -Errno.ENOBUFS;
    sk.state = 'SYN_SENT';
    this.ehashAdd(sk);
    this.mib['ActiveOpens']!++;
    if (sk.fastOpenEnabled && this.stack.has('TCP_FASTOPEN')) {
      const cookie = this.cachedFastOpenCookie(sk.raddr);
      if (cookie) {
        // tcp_fastopen_defer_connect: connect() succeeds now; the SYN leaves with the first write.
        sk.fastOpenCookieToSend = cookie;
        sk.deferSyn = true;
        sk.onWritable?.();
        return 0;
      }
      // No cookie yet: ask for one with an empty Fast Open option.
      sk.fastOpenCookieToSend = new Uint8Array(0);
    }
    outputFns.transmitSeg(sk, syn, false);
    sk.sndNxt = syn.end;
    return -Errno.EINPROGRESS;
  }

  /** Allocate a write-queue segment able to hold `len` payload bytes; null when memory refuses. */
  /**
   * `gfp` is 'kernel' for a program's system call (sendmsg, connect, close), which stops at the
   * min watermark (vm.min_free_kbytes) so that softirq receive can still allocate.
   */
  newSeg(sk: TcpSock, seq: number, len: number, syn: boolean, fin: boolean, gfp: Gfp = 'kernel'): TxSeg | null {
    const skb = allocSkbFclone(this.stack.skbs, TCP_HEADROOM + Math.max(len, sk.mss), gfp);
    if (!skb) return null;
    if (this.overHardLimit(skb.truesize) && !syn && !fin) {
      skb.free();
      return null;
    }
    skb.reserve(TCP_HEADROOM);
    const seg: TxSeg = { skb, payload: skb.data, seq, len, syn, fin, end: (seq + len + (syn ? 1 : 0) + (fin ? 1 : 0)) >>> 0, sentAt: 0, txCount: 0, retransmitted: false, sacked: false, lost: false, lent: false, acked: false, rtxInFlight: false };
    sk.wmemQueued += skb.truesize;
    this.memAllocated += skb.truesize;
    this.updatePressure();
    sk.writeQueue.push(seg);
    return seg;
  }

  /**
   * tcp_sendmsg: copy the program's bytes into write-queue segments of at most one MSS while
   * the send buffer and tcp_mem allow; returns bytes taken or -EAGAIN.
   */
  send(sk: TcpSock, data: Uint8Array): number {
    const e = sk.takeError();
    if (e) return -e;
    if (sk.shutdownWr || sk.finQueued) return -Errno.EPIPE;
    if (sk.state === 'SYN_SENT' && sk.deferSyn) return this.sendFastOpenSyn(sk, data);
    if (sk.state === 'SYN_SENT' || (sk.state === 'SYN_RECV' && !sk.passiveFastOpen)) return -Errno.EAGAIN;
    if (sk.state !== 'ESTABLISHED' && sk.state !== 'CLOSE_WAIT' && sk.state !== 'SYN_RECV') return -Errno.EPIPE;
    let copied = 0;
    const cpu = this.stack.env.cpu;
    while (copied < data.length) {
      let tail = sk.writeQueue[sk.writeQueue.length - 1];
      if (!tail || sk.isSent(tail) || tail.fin || tail.syn || tail.len >= sk.mss) {
        if (sk.wmemQueued >= sk.sndbuf) {
          sk.setLimited('sndbuf');
          break;
        }
        const seg = this.newSeg(sk, tail ? tail.end : sk.sndNxt, 0, false, false);
        if (!seg) {
          this.waitForMemory(sk);
          break;
        }
        tail = seg;
      }
      const n = Math.min(sk.mss - tail.len, data.length - copied);
      sk.stack.env.mem.bytes.set(data.subarray(copied, copied + n), tail.payload + tail.len);
      tail.skb.len = tail.len + n;
      tail.len += n;
      tail.end = (tail.seq + tail.len) >>> 0;
      copied += n;
    }
    cpu.charge(cpu.cycles.copyByte * copied);
    if (copied > 0) writeXmit(sk);
    return copied > 0 ? copied : -Errno.EAGAIN;
  }

  /** tcp_recvmsg: copy up to `max` bytes out; an empty array is end of stream. */
  recv(sk: TcpSock, max: number): Uint8Array | number {
    if (sk.state === 'LISTEN') return -Errno.ENOTCONN;
    let queued = 0;
    for (let i = 0; i < sk.receiveQueue.length && queued < max; i++) queued += sk.receiveQueue[i]!.len;
    // The buffer holds everything this call can take: min(queued, max) bytes.
    const out = new Uint8Array(Math.min(queued, max));
    const n = this.recvInto(sk, out, 0, max);
    return n >= 0 ? out : n;
  }

  /**
   * recv() into the caller's buffer (tcp_recvmsg copying to the user's iovec): bytes copied,
   * 0 at end of stream, or -errno (-EAGAIN when nothing is queued). Allocates nothing.
   */
  recvInto(sk: TcpSock, into: Uint8Array, offset: number, max: number): number {
    if (sk.state === 'LISTEN') return -Errno.ENOTCONN;
    let n = 0;
    while (n < max && sk.receiveQueue.length > 0) {
      const skb = sk.receiveQueue[0]!;
      const take = Math.min(skb.len, max - n);
      copyBytes.call(skb.bytes, into, offset + n, skb.data, skb.data + take);
      n += take;
      skb.pull(take);
      if (skb.len === 0) {
        sk.receiveQueue.shift();
        skb.free();
      }
    }
    if (n === 0) {
      const e = sk.takeError();
      if (e) return -e;
      if (sk.finReceived || sk.state === 'CLOSED') return 0;
      return -Errno.EAGAIN;
    }
    const cpu = this.stack.env.cpu;
    cpu.charge(cpu.cycles.copyByte * n);
    // tcp_cleanup_rbuf: ACK now if one is owed for more than a segment (the once-per-two-
    // segments ACK input deferred), or if reading opened the window a lot.
    if (sk.state === 'ESTABLISHED' || sk.state === 'FIN_WAIT1' || sk.state === 'FIN_WAIT2') {
      const offered = (sk.rcvWup + sk.rcvWnd - sk.rcvNxt) | 0;
      const free = outputFns.freeWindow(sk);
      if ((sk.ackPending && ((sk.rcvNxt - sk.rcvWup) | 0) > sk.advMss) || (free >= 2 * offered && free - offered >= 2 * sk.advMss)) sendAck(sk);
    }
    return n;
  }

  /** Bytes queued for the program to read (SIOCINQ). */
  readable(sk: TcpSock): number {
    return sk.receiveQueue.reduce((n, x) => n + x.len, 0);
  }

  /** shutdown(SHUT_WR) / the sending half of close(): queue a FIN after the data. */
  shutdown(sk: TcpSock): number {
    if (sk.finQueued) return 0;
    if (sk.state === 'SYN_SENT' || sk.state === 'CLOSED' || sk.state === 'LISTEN') {
      sk.shutdownWr = true;
      return 0;
    }
    sk.shutdownWr = true;
    if (sk.state !== 'ESTABLISHED' && sk.state !== 'CLOSE_WAIT' && sk.state !== 'SYN_RECV') return 0;
    sk.finQueued = true;
    const tail = sk.writeQueue[sk.writeQueue.length - 1];
    if (tail && !sk.isSent(tail) && !tail.fin && !tail.syn) {
      tail.fin = true;
      tail.end = (tail.end + 1) >>> 0;
    } else {
      // The FIN needs its own segment; it may exceed the send buffer (sk_forced_mem_schedule)
      // and is allocated GFP_ATOMIC, as tcp_send_fin does.
      if (!this.newSeg(sk, tail ? tail.end : sk.sndNxt, 0, false, true, 'atomic')) this.queueFinLater(sk);
    }
    // CurrEstab counts ESTABLISHED and CLOSE_WAIT connections (RFC 4022 tcpCurrEstab).
    if (sk.state === 'ESTABLISHED' || sk.state === 'CLOSE_WAIT') this.mib['CurrEstab']!--;
    sk.state = sk.state === 'CLOSE_WAIT' ? 'LAST_ACK' : 'FIN_WAIT1';
    writeXmit(sk);
    return 0;
  }

  /**
   * sk_stream_wait_memory: a write that found no memory (rather than a full send buffer) is
   * retried after a short random wait (2 jiffies to HZ/5), since no ACK may come to wake it.
   */
  private waitForMemory(sk: TcpSock): void {
    if (sk.memWaitTimer) return;
    const wait = 8_000_000 + this.rng.nextInt(192_000_000);
    sk.memWaitTimer = this.stack.sim.after(wait, () => {
      sk.memWaitTimer = null;
      if (sk.state === 'ESTABLISHED' || sk.state === 'CLOSE_WAIT') sk.onWritable?.();
    });
  }

  /**
   * No memory for the FIN's segment now: try again shortly (TCP_RESOURCE_PROBE_INTERVAL), so
   * the FIN is queued — and retransmitted if lost — once memory frees up.
   */
  private queueFinLater(sk: TcpSock): void {
    this.stack.sim.cancel(sk.finTimer);
    sk.finTimer = this.stack.sim.after(500_000_000, () => {
      sk.finTimer = null;
      if (sk.state !== 'FIN_WAIT1' && sk.state !== 'LAST_ACK') return;
      const tail = sk.writeQueue[sk.writeQueue.length - 1];
      if (tail?.fin) return;
      // Atomic: a timer runs in softirq context, as tcp_send_fin's retry would.
      if (!this.newSeg(sk, tail ? tail.end : sk.sndNxt, 0, false, true, 'atomic')) this.queueFinLater(sk);
      else writeXmit(sk);
    });
  }

  /** close(): the program lets go. Unread data means RST (RFC 2525), else a FIN. */
  close(sk: TcpSock): void {
    if (sk.closed) return;
    sk.closed = true;
    sk.orphan = true;
    sk.onReadable = null;
    sk.onWritable = null;
    sk.onError = null;
    switch (sk.state) {
      case 'LISTEN':
        this.listeners.delete(sk.lport);
        for (const [key, req] of [...this.requests]) if (req.listener === sk) this.dropRequest(key, req);
        for (const child of sk.acceptQueue.splice(0)) {
          sendControl(child, TCP_RST | TCP_ACK);
          this.destroy(child, 0);
        }
        this.destroy(sk, 0);
        return;
      case 'CLOSED':
      case 'SYN_SENT':
        this.destroy(sk, 0);
        return;
      default:
        break;
    }
    const unread = sk.receiveQueue.reduce((s, x) => s + x.len, 0);
    if (unread > 0) {
      this.ext['TCPAbortOnClose']!++;
      sendControl(sk, TCP_RST | TCP_ACK);
      this.destroy(sk, 0);
      return;
    }
    this.orphans++;
    if (this.orphans > this.sysctl.maxOrphans) {
      // tcp_check_oom: too many orphans; reset this one (TCPAbortOnMemory).
      this.ext['TCPAbortOnMemory']!++;
      sendControl(sk, TCP_RST | TCP_ACK);
      this.destroy(sk, 0);
      return;
    }
    this.shutdown(sk);
    if (sk.state === 'FIN_WAIT2') this.armFinWait2(sk);
  }

  // ---- state changes -----------------------------------------------------------------------

  onEstablished(sk: TcpSock): void {
    const wasSynRecv = sk.state === 'SYN_RECV';
    sk.state = 'ESTABLISHED';
    // tcp_init_transfer → tcp_init_buffer_space: the send buffer for the initial window.
    this.sndbufExpand(sk, true);
    this.metrics?.init(sk);
    tcpInitCongestionControl(sk);
    this.mib['CurrEstab']!++;
    if (this.sysctl && sk.keepalive) this.armKeepalive(sk);
    if (wasSynRecv) return;
    sk.onWritable?.();
  }

  resetByPeer(sk: TcpSock): void {
    if (sk.state === 'ESTABLISHED' || sk.state === 'CLOSE_WAIT') this.mib['EstabResets']!++;
    const errno = sk.state === 'SYN_SENT' ? Errno.ECONNREFUSED : sk.state === 'CLOSE_WAIT' ? Errno.EPIPE : Errno.ECONNRESET;
    this.destroy(sk, errno);
  }

  /** tcp_done: the connection is over; report `errno` to the program if it still holds it. */
  destroy(sk: TcpSock, errno: number): void {
    if (sk.state !== 'LISTEN' && sk.state !== 'CLOSED' && sk.state !== 'SYN_SENT') this.metrics?.update(sk);
    if (sk.state === 'ESTABLISHED' || sk.state === 'CLOSE_WAIT') this.mib['CurrEstab']!--;
    const wasOrphan = sk.orphan && sk.state !== 'LISTEN' && sk.state !== 'CLOSED' && sk.state !== 'SYN_SENT' && sk.finQueued;
    if (wasOrphan) this.orphans = Math.max(0, this.orphans - 1);
    sk.state = 'CLOSED';
    for (const t of [sk.rtxTimer, sk.delackTimer, sk.persistTimer, sk.keepaliveTimer, sk.closeTimer, sk.finTimer, sk.memWaitTimer]) this.stack.sim.cancel(t);
    sk.rtxTimer = sk.delackTimer = sk.persistTimer = sk.keepaliveTimer = sk.closeTimer = sk.finTimer = sk.memWaitTimer = null;
    sk.setLimited(null);
    this.ehashRemove(sk);
    for (const seg of sk.writeQueue.splice(0)) this.freeSeg(sk, seg);
    for (const o of sk.ofo.splice(0)) o.skb.free();
    if (errno) sk.reportError(errno);
    sk.onReadable?.();
    if (sk.closed) this.freeSock(sk);
  }

  private freeSock(sk: TcpSock): void {
    if (!this.all.has(sk)) return;
    this.all.delete(sk);
    sk.purgeReceiveQueue();
    if (sk.lport && this.boundPorts.has(sk.lport)) {
      const n = this.boundPorts.get(sk.lport)! - 1;
      if (n <= 0) this.boundPorts.delete(sk.lport);
      else this.boundPorts.set(sk.lport, n);
    }
    this.stack.sockets.free(this.sockCache, sk.mem);
  }

  armFinWait2(sk: TcpSock): void {
    this.stack.sim.cancel(sk.closeTimer);
    sk.closeTimer = this.stack.sim.after(this.sysctl.finTimeoutNs, () => {
      sk.closeTimer = null;
      if (sk.state === 'FIN_WAIT2') this.destroy(sk, 0);
    });
  }

  private ehashAdd(sk: TcpSock): void {
    this.ehash.set(tupleKey(sk.laddr, sk.lport, sk.raddr, sk.rport), sk);
    const rkey = sk.raddr * 65536 + sk.rport;
    let byLocal = this.ehashIndex.get(rkey);
    if (!byLocal) this.ehashIndex.set(rkey, (byLocal = new Map()));
    byLocal.set(sk.laddr * 65536 + sk.lport, sk);
  }

  private ehashRemove(sk: TcpSock): void {
    this.ehash.delete(tupleKey(sk.laddr, sk.lport, sk.raddr, sk.rport));
    const rkey = sk.raddr * 65536 + sk.rport;
    const byLocal = this.ehashIndex.get(rkey);
    if (!byLocal) return;
    byLocal.delete(sk.laddr * 65536 + sk.lport);
    if (byLocal.size === 0) this.ehashIndex.delete(rkey);
  }

  /** The established socket for a 4-tuple, if any. */
  private lookupEstablished(laddr: number, lport: number, raddr: number, rport: number): TcpSock | undefined {
    return this.ehashIndex.get(raddr * 65536 + rport)?.get(laddr * 65536 + lport);
  }

  private isLocalUnicast(addr: number): boolean {
    const a = this.stack.addresses;
    for (let i = 0; i < a.length; i++) if (a[i]!.addr === addr) return true;
    return false;
  }

  /** tcp_time_wait: swap the full socket for a timewait sock for TCP_TIMEWAIT_LEN. */
  enterTimeWait(sk: TcpSock): void {
    const key = tupleKey(sk.laddr, sk.lport, sk.raddr, sk.rport);
    if (this.timewait.size < this.sysctl.maxTwBuckets) {
      const addr = this.twCache.alloc();
      if (addr !== 0) {
        const tw: TimewaitSock = { key, addr, laddr: sk.laddr, lport: sk.lport, raddr: sk.raddr, rport: sk.rport, sndNxt: sk.sndNxt, rcvNxt: sk.rcvNxt, rcvWnd: sk.rcvWnd >>> sk.rcvWscale, tsRecent: sk.tsRecent, tsOffset: sk.tsOffset, tstampOk: sk.tstampOk, timer: null, lastOowAck: null };
        tw.timer = this.stack.sim.after(this.sysctl.timewaitLenNs, () => this.killTimewait(tw));
        this.timewait.set(key, tw);
        this.ext['TW']!++;
      } else this.ext['TCPTimeWaitOverflow']!++;
    } else this.ext['TCPTimeWaitOverflow']!++;
    sk.state = 'TIME_WAIT';
    this.ehashRemove(sk);
    this.destroy(sk, 0);
  }

  private killTimewait(tw: TimewaitSock): void {
    this.stack.chargeTimer();
    this.stack.sim.cancel(tw.timer);
    this.timewait.delete(tw.key);
    this.twCache.free(tw.addr);
  }

  // ---- timers ------------------------------------------------------------------------------

  /** tcp_retransmit_timer: back off, collapse the window to one segment, resend the head. */
  retransmitTimer(sk: TcpSock): void {
    const head = sk.writeQueue.find((s) => sk.isSent(s));
    if (!head || sk.state === 'CLOSED') return;
    const s = this.sysctl;
    if (sk.orphan && this.outOfResources()) {
      // tcp_out_of_resources: too many orphans, or memory short — an orphan is reset, not retried.
      this.ext['TCPAbortOnMemory']!++;
      sendControl(sk, TCP_RST | TCP_ACK);
      this.destroy(sk, 0);
      return;
    }
    // tcp_orphan_retries: a socket nobody holds gives up after 8 tries rather than retries2.
    const limit = sk.state === 'SYN_SENT' ? s.synRetries : sk.orphan ? s.orphanRetries : s.retries2;
    if (head.txCount > limit) {
      this.ext['TCPAbortOnTimeout']!++;
      if (sk.state === 'SYN_SENT') this.mib['AttemptFails']!++;
      sendControl(sk, TCP_RST | TCP_ACK);
      this.destroy(sk, sk.errSoft || Errno.ETIMEDOUT);
      return;
    }
    this.ext['TCPTimeouts']!++;
    if (sk.state === 'ESTABLISHED' || sk.state === 'CLOSE_WAIT' || sk.state === 'FIN_WAIT1' || sk.state === 'LAST_ACK' || sk.state === 'CLOSING') {
      // tcp_enter_loss: everything outstanding and not SACKed is lost; restart from one segment.
      tcpEnterLoss(sk, sk.backoff === 0);
      sk.recovery = { highSeq: sk.sndNxt, kind: 'loss' };
      for (const seg of sk.writeQueue) {
        if (!sk.isSent(seg) || seg.sacked) continue;
        seg.lost = true;
        seg.rtxInFlight = false;
      }
      this.ext['TCPSlowStartRetrans']!++;
    }
    sk.backoff = Math.min(sk.backoff + 1, 15);
    head.lost = false;
    if (outputFns.transmitSeg(sk, head, true)) {
      head.rtxInFlight = true;
      noteRetransmit(sk);
    }
    armRetransmitTimer(sk);
  }

  /** tcp_check_oom: more orphans than tcp_max_orphans, or TCP memory past tcp_mem[2], or RAM at its reserve. */
  private outOfResources(): boolean {
    return this.orphans > this.sysctl.maxOrphans || this.overHardLimit(0) || this.stack.env.mem.freePages() <= this.stack.env.mem.reservePages();
  }

  /** tcp_reset_xmit_timer(ICSK_TIME_PROBE0, tcp_probe0_when): max(rto, TCP_RTO_MIN), backed off per probe. */
  armPersist(sk: TcpSock): void {
    if (sk.persistTimer) return;
    const timeout = Math.min(Math.max(sk.rto, this.sysctl.rtoMinNs) * 2 ** sk.probesOut, this.sysctl.rtoMaxNs);
    sk.persistTimer = this.stack.sim.after(timeout, () => {
      sk.persistTimer = null;
      this.stack.chargeTimer();
      if (sk.state === 'CLOSED') return;
      const head = sk.writeQueue.find((s) => !sk.isSent(s));
      // tcp_send_probe0: data in flight (its RTO takes over) or nothing to send: stop probing.
      if (sk.sndNxt !== sk.sndUna || !head) {
        sk.probesOut = 0;
        return;
      }
      if (this.writeWakeup(sk, head)) {
        sk.probesOut = 0;
        return;
      }
      sk.probesOut++;
      this.armPersist(sk);
    });
  }

  /**
   * tcp_write_wakeup: when the window is open but too small for the next segment, send as much
   * of it as fits (min(window, MSS), splitting the segment) with PSH and return true; when it is
   * shut, send a zero-window probe (a segment below snd_una the peer must answer) and return false.
   */
  private writeWakeup(sk: TcpSock, head: TxSeg): boolean {
    const wndEnd = (sk.sndUna + sk.sndWnd) >>> 0;
    if (((sk.sndNxt - wndEnd) | 0) < 0 && head.len > 0) {
      const room = (wndEnd - head.seq) | 0;
      const size = Math.min(room, sk.mss);
      if (size < head.len && !this.fragmentSeg(sk, head, size)) return false;
      head.psh = true;
      if (!outputFns.transmitSeg(sk, head, false)) return false;
      sk.sndNxt = head.end;
      return true;
    }
    this.ext['TCPWinProbe']!++;
    sendControl(sk, TCP_ACK, (sk.sndUna - 1) >>> 0);
    return false;
  }

  /** tcp_fragment: split an unsent write-queue segment after `size` bytes (GFP_ATOMIC: a timer). */
  private fragmentSeg(sk: TcpSock, seg: TxSeg, size: number): boolean {
    const restLen = seg.len - size;
    const rest = this.newSeg(sk, (seg.seq + size) >>> 0, restLen, false, seg.fin, 'atomic');
    if (!rest) return false;
    // newSeg appended it; it belongs right after `seg`.
    sk.writeQueue.pop();
    sk.writeQueue.splice(sk.writeQueue.indexOf(seg) + 1, 0, rest);
    this.stack.env.mem.bytes.copyWithin(rest.payload, seg.payload + size, seg.payload + seg.len);
    rest.skb.len = restLen;
    seg.len = size;
    seg.skb.len = size;
    seg.fin = false;
    seg.end = (seg.seq + size) >>> 0;
    return true;
  }

  cancelPersist(sk: TcpSock): void {
    this.stack.sim.cancel(sk.persistTimer);
    sk.persistTimer = null;
    sk.probesOut = 0;
  }

  armKeepalive(sk: TcpSock): void {
    this.stack.sim.cancel(sk.keepaliveTimer);
    const s = this.sysctl;
    const idle = sk.now - sk.lastRecvTime;
    const wait = sk.keepaliveProbesSent > 0 ? s.keepaliveIntvlNs : Math.max(s.keepaliveTimeNs - idle, 1);
    sk.keepaliveTimer = this.stack.sim.after(wait, () => {
      sk.keepaliveTimer = null;
      this.stack.chargeTimer();
      if (sk.state !== 'ESTABLISHED' || !sk.keepalive) return;
      if (sk.now - sk.lastRecvTime < s.keepaliveTimeNs && sk.keepaliveProbesSent === 0) return this.armKeepalive(sk);
      if (sk.keepaliveProbesSent >= s.keepaliveProbes) {
        // tcp_keepalive_timer: tcp_send_active_reset, then tcp_write_err.
        sendControl(sk, TCP_RST | TCP_ACK);
        this.destroy(sk, Errno.ETIMEDOUT);
        return;
      }
      sk.keepaliveProbesSent++;
      this.ext['TCPKeepAlive']!++;
      sendControl(sk, TCP_ACK, (sk.sndUna - 1) >>> 0);
      this.armKeepalive(sk);
    });
  }

  // ---- receive -----------------------------------------------------------------------------

  /** tcp_v4_rcv. */
  receive(skb: SkBuff, ip: Ipv4Repr, _dev: NetDevice): void {
    this.mib['InSegs']!++;
    const th = parseTcp(skb.bytes, skb.data, skb.len, ip.src, ip.dst);
    if (typeof th === 'string') {
      if (th === 'checksum') this.mib['InCsumErrors']!++;
      this.mib['InErrs']!++;
      this.drop(skb, th === 'checksum' ? 'TCP_CSUM' : th === 'options' ? 'TCP_OPTIONS' : 'PKT_TOO_SMALL');
      return;
    }
    if (ip.dst === 0xffffffff || !this.isLocalUnicast(ip.dst)) {
      // Not to a unicast address of ours (TCP never uses broadcasts).
      skb.free();
      return;
    }
    const payload = skb.len - th.headerLength;
    const sk = this.lookupEstablished(ip.dst, th.dstPort, ip.src, th.srcPort);
    if (sk) {
      tcpRcv(sk, skb, ip, th);
      return;
    }
    const key = tupleKey(ip.dst, th.dstPort, ip.src, th.srcPort);
    const tw = this.timewait.get(key);
    if (tw && this.timewaitRcv(tw, skb, ip, th, payload)) return;
    const req = this.requests.get(key);
    const listener = this.listeners.get(th.dstPort);
    if (req) {
      this.requestRcv(req, skb, ip, th, payload);
      return;
    }
    if (listener) {
      this.listenRcv(listener, skb, ip, th, payload);
      return;
    }
    sendResetFor(this.stack, ip.src, ip.dst, th, payload);
    skb.free();
  }

  /**
   * tcp_v4_rcv's TIME_WAIT branch. Returns false when a new SYN killed the timewait sock and the
   * segment goes on to the listener (TCP_TW_SYN); otherwise the segment is consumed here.
   */
  private timewaitRcv(tw: TimewaitSock, skb: SkBuff, ip: Ipv4Repr, th: TcpRepr, payload: number): boolean {
    const syn = (th.flags & TCP_SYN) !== 0;
    const seg = { seq: th.seq, endSeq: (th.seq + payload + (syn ? 1 : 0) + (th.flags & TCP_FIN ? 1 : 0)) >>> 0, syn, ack: (th.flags & TCP_ACK) !== 0, rst: (th.flags & TCP_RST) !== 0, tsVal: th.options.tsVal };
    const verdict = this.timewaitProcess(tw, seg, this.stack.sim.now, () => this.rescheduleTimewait(tw));
    switch (verdict) {
      case 'syn':
        if (this.listeners.has(th.dstPort)) {
          this.killTimewait(tw);
          return false;
        }
        // No listener: tcp_v4_rcv's no_tcp_socket path answers with RST.
        sendResetFor(this.stack, ip.src, ip.dst, th, payload);
        break;
      case 'kill':
        this.killTimewait(tw);
        break;
      case 'ack':
        this.timewaitAck(tw);
        break;
      case 'rst':
        sendResetFor(this.stack, ip.src, ip.dst, th, payload);
        break;
      case 'skipped':
        this.ext['TCPACKSkippedTimeWait']!++;
        break;
      case 'success':
        break;
    }
    skb.free();
    return true;
  }

  /** inet_twsk_reschedule(tw, TCP_TIMEWAIT_LEN). */
  private rescheduleTimewait(tw: TimewaitSock): void {
    this.stack.sim.cancel(tw.timer);
    tw.timer = this.stack.sim.after(this.sysctl.timewaitLenNs, () => this.killTimewait(tw));
  }

  /** tcp_v4_timewait_ack: the final ACK again, from the per-CPU control socket. */
  private timewaitAck(tw: TimewaitSock): void {
    const out = allocSkb(this.stack.skbs, MAX_HEADER);
    if (!out) return;
    out.reserve(MAX_HEADER);
    const options = tw.tstampOk ? { tsVal: (Math.floor(this.stack.sim.now / 1e6) + tw.tsOffset) >>> 0, tsEcr: tw.tsRecent } : {};
    transmit(this.stack, out, { srcPort: tw.lport, dstPort: tw.rport, seq: tw.sndNxt, ack: tw.rcvNxt, flags: TCP_ACK, window: tw.rcvWnd, urgent: 0, options, headerLength: 0 }, tw.laddr, tw.raddr, null);
  }

  /** A segment for a listening socket: a SYN starts a request sock (or a cookie), an ACK may complete one. */
  private listenRcv(listener: TcpSock, skb: SkBuff, ip: Ipv4Repr, th: TcpRepr, payload: number): void {
    if (th.flags & TCP_RST) {
      skb.free();
      return;
    }
    if (th.flags & TCP_ACK) {
      if (!(th.flags & TCP_SYN) && this.sysctl.syncookies) {
        this.cookieAck(listener, skb, ip, th, payload);
        return;
      }
      sendResetFor(this.stack, ip.src, ip.dst, th, payload);
      skb.free();
      return;
    }
    if (!(th.flags & TCP_SYN)) {
      skb.free();
      return;
    }
    // tcp_conn_request. sk_acceptq_is_full: more than the backlog already waits for accept().
    if (listener.acceptQueue.length > listener.backlog) {
      this.ext['ListenOverflows']!++;
      this.ext['ListenDrops']!++;
      skb.free();
      return;
    }
    const synQueueFull = listener.synQueueLen >= listener.backlog;
    if (synQueueFull) {
      if (this.sysctl.syncookies) {
        this.ext['TCPReqQFullDoCookies']!++;
        this.sendCookieSynAck(listener, ip, th);
      } else {
        this.ext['TCPReqQFullDrop']!++;
        this.ext['ListenDrops']!++;
      }
      skb.free();
      return;
    }
    const addr = this.reqCache.alloc();
    if (addr === 0) {
      this.ext['ListenDrops']!++;
      skb.free();
      return;
    }
    const o = th.options;
    const key = tupleKey(ip.dst, th.dstPort, ip.src, th.srcPort);
    // The request sock takes the listener's buffer settings to choose its window and scale.
    const rcvWscale = this.wscaleFor(listener.rcvbuf);
    const synData = payload > 0 ? skb.bytes.slice(skb.data + th.headerLength, skb.data + skb.len) : null;
    const req = this.newRequest(listener, ip, th, {
      key,
      addr,
      iss: this.initialSeq(ip.dst, th.dstPort, ip.src, th.srcPort),
      irs: th.seq,
      mss: Math.min(o.mss ?? 536, (this.stack.device(this.routeIfindex(ip.src))?.mtu ?? 1500) - 40),
      wscaleOk: o.wscale !== undefined,
      sndWscale: o.wscale ?? 0,
      rcvWscale: o.wscale !== undefined ? rcvWscale : 0,
      sackOk: o.sackPermitted === true,
      tsOffset: this.rng.nextU32(),
    });
    skb.free();
    this.requests.set(key, req);
    listener.synQueueLen++;
    if (this.fastOpenAcceptData(listener, req, th, payload) && synData && this.fastOpenChild(listener, req, th, synData)) {
      this.dropRequest(key, req);
      return;
    }
    this.sendSynAck(req);
  }

  /** A request sock's common fields, from the listener and the segment's addresses; callers set the rest. */
  private newRequest(listener: TcpSock, ip: Ipv4Repr, th: TcpRepr, fields: Pick<RequestSock, 'iss' | 'irs' | 'mss' | 'wscaleOk' | 'sndWscale' | 'rcvWscale' | 'sackOk'> & Partial<RequestSock>): RequestSock {
    return {
      key: '',
      addr: 0,
      listener,
      laddr: ip.dst,
      lport: th.dstPort,
      raddr: ip.src,
      rport: th.srcPort,
      tstampOk: th.options.tsVal !== undefined,
      tsRecent: th.options.tsVal ?? 0,
      tsOffset: 0,
      window: th.window,
      retries: 0,
      timer: null,
      synData: null,
      ...fields,
    };
  }

  /**
   * tcp_select_initial_window's scale: ilog2(max(space, tcp_rmem[2], rmem_max)) − 15, clamped
   * to 0..14, so the largest buffer the socket may grow to can be offered.
   */
  private wscaleFor(rcvbuf: number): number {
    const rmemMax = skMemDefault(this.stack.env.structs['sk_buff']!, this.stack.env.structs['skb_shared_info']!);
    const space = Math.max(this.sysctl.tcpRmem[2], rmemMax, rcvbuf - (rcvbuf >> this.sysctl.advWinScale));
    return Math.min(Math.max(Math.floor(Math.log2(space)) - 15, 0), 14);
  }

  private sendSynAck(req: RequestSock, cookie?: { seq: number; tsVal?: number }): void {
    const skb = allocSkb(this.stack.skbs, MAX_HEADER);
    if (!skb) return;
    skb.reserve(MAX_HEADER);
    const listener = req.listener;
    const full = listener.rcvbuf - (listener.rcvbuf >> this.sysctl.advWinScale);
    const advMss = (this.stack.device(this.routeIfindex(req.raddr))?.mtu ?? 1500) - 40;
    // tcp_openreq_init_rwin: the space is rounded down to the MSS less the timestamp option
    // (TCPOLEN_TSTAMP_ALIGNED, 12) when the peer offered timestamps: 45 × 1448 = 65160.
    const quantum = advMss - (req.tstampOk ? 12 : 0);
    const window = Math.min(full > quantum ? full - (full % quantum) : full, 65535);
    const options: import('../wire/tcp-header.js').TcpOptions = { mss: advMss };
    if (req.tstampOk) {
      options.tsVal = cookie?.tsVal ?? (Math.floor(this.stack.sim.now / 1e6) + req.tsOffset) >>> 0;
      options.tsEcr = req.tsRecent;
    }
    if (req.sackOk) options.sackPermitted = true;
    if (req.wscaleOk) options.wscale = req.rcvWscale;
    if (req.sendCookie) options.fastOpenCookie = req.sendCookie;
    transmit(this.stack, skb, { srcPort: req.lport, dstPort: req.rport, seq: cookie?.seq ?? req.iss, ack: (req.irs + 1) >>> 0, flags: TCP_SYN | TCP_ACK, window, urgent: 0, options, headerLength: 0 }, req.laddr, req.raddr, null);
    if (cookie) return;
    if (req.retries === 0) req.synAckSentAt = this.stack.sim.now;
    // inet_csk_reqsk_queue_hash_add: the SYN-ACK is retransmitted 1 s, 2 s, 4 s … up to synack_retries.
    this.stack.sim.cancel(req.timer);
    req.timer = this.stack.sim.after(this.sysctl.rtoInitNs * 2 ** req.retries, () => {
      req.timer = null;
      if (req.retries >= this.sysctl.synackRetries) {
        this.dropRequest(req.key, req);
        return;
      }
      req.retries++;
      this.mib['RetransSegs']!++;
      this.sendSynAck(req);
    });
  }

  private dropRequest(key: string, req: RequestSock): void {
    this.stack.sim.cancel(req.timer);
    this.requests.delete(key);
    req.listener.synQueueLen--;
    this.reqCache.free(req.addr);
  }

  /** The handshake's final ACK (or data) for a request sock: make the child and queue it for accept(). */
  private requestRcv(req: RequestSock, skb: SkBuff, ip: Ipv4Repr, th: TcpRepr, payload: number): void {
    if (th.flags & TCP_RST) {
      this.ext['EmbryonicRsts']!++;
      this.dropRequest(req.key, req);
      skb.free();
      return;
    }
    if (th.flags & TCP_SYN && !(th.flags & TCP_ACK)) {
      // A retransmitted SYN: answer with the SYN-ACK again (inet_rtx_syn_ack).
      skb.free();
      this.sendSynAck(req);
      return;
    }
    if (!(th.flags & TCP_ACK) || th.ack !== ((req.iss + 1) >>> 0)) {
      sendResetFor(this.stack, ip.src, ip.dst, th, payload);
      skb.free();
      return;
    }
    const listener = req.listener;
    this.dropRequest(req.key, req);
    this.completeHandshake(listener, req, skb, ip, th);
  }

  /** The handshake's last ACK: a full child socket takes over the segment, or the listener drops it. */
  private completeHandshake(listener: TcpSock, req: RequestSock, skb: SkBuff, ip: Ipv4Repr, th: TcpRepr): void {
    const child = this.makeChild(listener, req, th);
    if (!child) {
      this.ext['ListenDrops']!++;
      skb.free();
      return;
    }
    // tcp_synack_rtt_meas: the SYN-ACK's round trip is the first RTT sample, unless it was
    // retransmitted (Karn: tcp_rtx_synack clears snt_synack's use) or came from a cookie.
    if (req.synAckSentAt !== undefined && req.retries === 0) sampleRtt(child, this.stack.sim.now - req.synAckSentAt);
    tcpRcv(child, skb, ip, th);
  }

  /** tcp_create_openreq_child + inet_csk_complete_hashdance: a full socket for an accepted connection. */
  private makeChild(listener: TcpSock, req: RequestSock, th: TcpRepr): TcpSock | null {
    if (listener.acceptQueue.length > listener.backlog) {
      this.ext['ListenOverflows']!++;
      return null;
    }
    const child = this.create();
    if (typeof child === 'number') return null;
    this.setupChild(child, listener, req, th);
    child.state = 'ESTABLISHED';
    this.sndbufExpand(child, true);
    this.mib['CurrEstab']!++;
    this.mib['PassiveOpens']!++;
    child.parent = listener;
    this.ehashAdd(child);
    listener.acceptQueue.push(child);
    listener.onReadable?.();
    return child;
  }

  /** tcp_create_openreq_child: the connection's state as the handshake agreed it. */
  private setupChild(child: TcpSock, listener: TcpSock, req: RequestSock, th: TcpRepr): void {
    child.laddr = req.laddr;
    child.lport = req.lport;
    child.raddr = req.raddr;
    child.rport = req.rport;
    child.rcvbuf = listener.rcvbuf;
    child.sndbuf = listener.sndbuf;
    child.userSndbuf = listener.userSndbuf;
    child.nodelay = listener.nodelay;
    child.congOps = listener.congOps;
    child.keepalive = listener.keepalive;
    this.initConnection(child);
    child.rcvWscale = req.rcvWscale;
    child.tsOffset = req.tsOffset;
    child.iss = req.iss;
    child.sndUna = (req.iss + 1) >>> 0;
    child.sndNxt = child.sndUna;
    child.irs = req.irs;
    child.rcvNxt = (req.irs + 1) >>> 0;
    child.rcvWup = child.rcvNxt;
    child.lastAckedRcvNxt = child.rcvNxt;
    child.mss = req.mss;
    child.mssClamp = req.mss;
    // tcp_create_openreq_child: icsk_ack.lrcvtime starts now.
    child.lrcvtime = this.stack.sim.now;
    child.wscaleOk = req.wscaleOk;
    child.sndWscale = req.sndWscale;
    child.sackOk = req.sackOk;
    child.tstampOk = req.tstampOk;
    child.tsRecent = req.tsRecent;
    if (child.tstampOk) child.mss -= 12;
    child.sndWnd = th.window << child.sndWscale;
    child.sndWl1 = th.seq;
    child.sndWl2 = th.ack;
    child.maxWindow = child.sndWnd;
    this.metrics?.init(child);
  }

  private sendCookieSynAck(listener: TcpSock, ip: Ipv4Repr, th: TcpRepr): void {
    const o = th.options;
    const peerMss = o.mss ?? 536;
    let mssIndex = 0;
    for (let i = COOKIE_MSS.length - 1; i >= 0; i--) {
      if (peerMss >= COOKIE_MSS[i]!) {
        mssIndex = i;
        break;
      }
    }
    const seq = cookieInitSequence(this.secret, ip.src, ip.dst, th.srcPort, th.dstPort, th.seq, cookieCount(this.stack.sim.now), mssIndex);
    this.ext['SyncookiesSent']!++;
    const rcvWscale = this.wscaleFor(listener.rcvbuf);
    // Without timestamps a cookie cannot carry window scale or SACK (cookie_init_timestamp).
    const req = this.newRequest(listener, ip, th, {
      iss: seq,
      irs: th.seq,
      mss: COOKIE_MSS[mssIndex]!,
      wscaleOk: o.wscale !== undefined && o.tsVal !== undefined,
      sndWscale: o.wscale ?? 0,
      rcvWscale,
      sackOk: o.sackPermitted === true && o.tsVal !== undefined,
    });
    // cookie_init_timestamp stores the peer's own window scale (snd_wscale); ours is recomputed.
    const tsVal = o.tsVal !== undefined ? cookieTimestamp(Math.floor(this.stack.sim.now / 1e6), o.wscale !== undefined ? Math.min(o.wscale, 14) : null, o.sackPermitted === true) : undefined;
    this.sendSynAck(req, { seq, tsVal });
  }

  /** cookie_v4_check: an ACK for a listener with no request sock may carry a valid cookie. */
  private cookieAck(listener: TcpSock, skb: SkBuff, ip: Ipv4Repr, th: TcpRepr, payload: number): void {
    const cookie = (th.ack - 1) >>> 0;
    const seq = (th.seq - 1) >>> 0;
    const mssIndex = cookieCheck(this.secret, ip.src, ip.dst, th.srcPort, th.dstPort, seq, cookie, cookieCount(this.stack.sim.now));
    if (mssIndex < 0) {
      this.ext['SyncookiesFailed']!++;
      sendResetFor(this.stack, ip.src, ip.dst, th, payload);
      skb.free();
      return;
    }
    this.ext['SyncookiesRecv']!++;
    const ts = th.options.tsEcr !== undefined ? decodeCookieTimestamp(th.options.tsEcr) : { wscale: null, sackOk: false };
    const req = this.newRequest(listener, ip, th, {
      iss: cookie,
      irs: seq,
      mss: COOKIE_MSS[mssIndex]!,
      // cookie_timestamp_decode gives back the peer's scale; ours comes from the buffer as at the SYN.
      wscaleOk: ts.wscale !== null,
      sndWscale: ts.wscale ?? 0,
      rcvWscale: ts.wscale !== null ? this.wscaleFor(listener.rcvbuf) : 0,
      sackOk: ts.sackOk,
    });
    this.completeHandshake(listener, req, skb, ip, th);
  }

  /** ICMP errors for our segments (tcp_v4_err): hard errors abort a connection still opening. */
  private icmpError(inner: Ipv4Repr, bytes: Uint8Array, off: number, errno: number): void {
    if (off + 8 > bytes.length) return;
    const sport = (bytes[off]! << 8) | bytes[off + 1]!;
    const dport = (bytes[off + 2]! << 8) | bytes[off + 3]!;
    const sk = this.ehash.get(tupleKey(inner.src, sport, inner.dst, dport));
    if (!sk) return;
    if (sk.state === 'SYN_SENT') {
      this.mib['AttemptFails']!++;
      this.destroy(sk, errno);
    } else sk.errSoft = errno; // sk_err_soft: reported only if the connection later times out
  }

  // ---- Fast Open hooks (CONFIG_TCP_FASTOPEN; see tcp-fastopen.ts) ---------------------------

  /** tcp_fastopen_cache_set: Linux keeps client cookies in the metrics cache. */
  fastOpenCookieLearned(sk: TcpSock, cookie: Uint8Array): void {
    if (!this.stack.has('TCP_FASTOPEN')) return;
    if (this.metrics) this.metrics.storeCookie(sk.raddr, cookie);
    else this.fastOpenCookieMap.set(sk.raddr, cookie.slice());
  }

  cachedFastOpenCookie(daddr: number): Uint8Array | undefined {
    return this.metrics ? (this.metrics.lookup(daddr)?.fastOpenCookie ?? undefined) : this.fastOpenCookieMap.get(daddr);
  }

  /** tcp_sendmsg_fastopen: the held SYN leaves now, carrying up to one MSS of the write. */
  private sendFastOpenSyn(sk: TcpSock, data: Uint8Array): number {
    const syn = sk.writeQueue[0]!;
    const n = Math.min(data.length, sk.mss - 40);
    sk.stack.env.mem.bytes.set(data.subarray(0, n), syn.payload);
    syn.skb.len = n;
    syn.len = n;
    syn.end = (syn.seq + 1 + n) >>> 0;
    sk.deferSyn = false;
    outputFns.transmitSeg(sk, syn, false);
    sk.sndNxt = syn.end;
    return n;
  }

  /** The SYN-ACK answers a Fast Open SYN: was its data accepted? If not, send it after the handshake. */
  fastOpenSynAckReceived(sk: TcpSock, ack: number): void {
    const syn = sk.writeQueue[0];
    if (!syn || !syn.syn || syn.len === 0) return;
    if (ack === syn.end) {
      this.ext['TCPFastOpenActive']!++;
      return;
    }
    this.ext['TCPFastOpenActiveFail']!++;
    syn.syn = false;
    syn.seq = ack;
    syn.end = (ack + syn.len) >>> 0;
    sk.sndNxt = ack;
  }

  private tfoSecret(): number {
    return this.secret ^ 0x7f0f0f0f;
  }

  /** Decide on a SYN's Fast Open option; returns true when the data rides with a child made now. */
  private fastOpenAcceptData(listener: TcpSock, req: RequestSock, th: TcpRepr, payload: number): boolean {
    if (!this.stack.has('TCP_FASTOPEN')) return false;
    const valid = fastOpenCookie(this.tfoSecret(), req.raddr);
    const d = passiveDecision(listener, th, payload, valid);
    switch (d.kind) {
      case 'none':
        return false;
      case 'request':
        this.ext['TCPFastOpenCookieReqd']!++;
        req.sendCookie = valid;
        return false;
      case 'reject':
        if (d.reason === 'queue-full') this.ext['TCPFastOpenListenOverflow']!++;
        else this.ext['TCPFastOpenPassiveFail']!++;
        req.sendCookie = valid;
        return false;
      case 'accept':
        this.ext['TCPFastOpenPassive']!++;
        return true;
    }
  }

  /**
   * tcp_fastopen_create_child: the child exists from the SYN, in SYN_RECV, with the SYN's data
   * queued for the program and a SYN-ACK of its own that acknowledges it.
   */
  private fastOpenChild(listener: TcpSock, req: RequestSock, th: TcpRepr, data: Uint8Array): boolean {
    if (listener.acceptQueue.length > listener.backlog) return false;
    const child = this.create();
    if (typeof child === 'number') return false;
    this.setupChild(child, listener, req, th);
    this.sndbufExpand(child, true);
    child.passiveFastOpen = true;
    child.state = 'SYN_RECV';
    child.sndUna = req.iss;
    child.sndNxt = req.iss;
    child.rcvNxt = (req.irs + 1 + data.length) >>> 0;
    child.rcvWup = child.rcvNxt;
    child.sndWnd = th.window;
    const skb = allocSkb(this.stack.skbs, data.length);
    if (!skb) {
      this.destroyUnhashed(child);
      return false;
    }
    skb.bytes.set(data, skb.put(data.length));
    this.chargeRcv(child, skb);
    child.receiveQueue.push(skb);
    child.info.bytesReceived += data.length;
    const synAck = this.newSeg(child, req.iss, 0, true, false, 'atomic');
    if (!synAck) {
      this.destroyUnhashed(child);
      return false;
    }
    listener.fastOpenPending++;
    child.parent = listener;
    this.ehashAdd(child);
    outputFns.transmitSeg(child, synAck, false);
    child.sndNxt = synAck.end;
    this.mib['PassiveOpens']!++;
    listener.acceptQueue.push(child);
    listener.onReadable?.();
    return true;
  }

  private destroyUnhashed(sk: TcpSock): void {
    sk.closed = true;
    this.destroy(sk, 0);
  }
}
