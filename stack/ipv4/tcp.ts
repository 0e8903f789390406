/**
 * TCP's tables and the socket calls (net/ipv4/tcp.c, af_inet.c): socket creation, bind,
 * connect, sendmsg, recvmsg, shutdown and close, the state changes they share with the
 * receive path (establishment, reset, tcp_done), and the per-socket buffer rules (receive
 * scheduling and pruning, send-buffer growth) on top of the protocol's memory
 * (core/sock-mem.ts). Listen, accept and the listener's close are in inet-connection-sock.ts,
 * the receive demultiplexing and listen path in tcp-ipv4.ts, the timers in tcp-timer.ts, Fast
 * Open in tcp-fastopen.ts.
 */
import type { Gfp, SlabCache } from '../core/kmem.js';
import { cacheAlign } from '../core/kmem.js';
import { allocSkb, allocSkbFclone, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import type { MibGroup } from '../core/snmp.js';
import type { SkbDropReason } from '../core/dropreason.js';
import { ProtoMemory, SK_MEMORY_PCPU_RESERVE } from '../core/sock-mem.js';
import type { NetStack } from '../net-stack.js';
import { type SockAddr, IPPROTO_TCP } from '../uapi/in.js';
import { ehashAdd, ehashRemove, inetPutPort, pickPort } from './inet-hashtables.js';
import { inetCskGetPort, inetCskListenStop } from './inet-connection-sock.js';
import { tcpInitCongestionControl } from './tcp-cong.js';
import { TCP_CONG_LIST } from './tcp-cong-list.js';
import { sendFastOpenSyn } from './tcp-fastopen.js';
import { TCP_ACK, TCP_RST } from '../wire/tcp-header.js';
import { icmpError, initialSeq, receive } from './tcp-ipv4.js';
import { cachedFastOpenCookie, TcpMetrics } from './tcp-metrics.js';
import { tcpTimewaitStateProcess, type RequestSock, type TimewaitProcess, type TimewaitSock } from './tcp-minisocks.js';
import { freeWindow, initConnection, sendAck, sendControl, transmitSeg, writeXmit } from './tcp-output.js';
import { TCP_MIN_MSS, TCP_MSS_DEFAULT, TcpSock, TxSeg } from './tcp-sock.js';
import {
  applyBootSysctl, computeTcpSysctl, nrFreeBufferPages, TCP_EXT_MIB, TCP_MIB, type TcpSysctl,
} from './tcp-sysctl.js';
import { armFinWait2, armKeepalive } from './tcp-timer.js';
import { Errno } from '../uapi/errno.js';

/** Buffer's native copy, applied to plain Uint8Arrays: a memcpy with no view allocated. */
const copyBytes = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

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

/** MAX_TCP_HEADER: headroom for TCP, IP and Ethernet headers in front of the payload. */
const TCP_HEADROOM = MAX_HEADER;

export class TcpTable {
  readonly sysctl: TcpSysctl;
  readonly mib: MibGroup;
  readonly ext: MibGroup;
  private readonly sockCache: SlabCache;
  readonly reqCache: SlabCache;
  readonly twCache: SlabCache;
  readonly ehash = new Map<string, TcpSock>();
  /**
   * The same established sockets indexed by number for the per-segment lookup (the role of
   * __inet_lookup_established's hash): remote address·port, then local address·port, each
   * addr × 65536 + port (48 bits, exact in a double). No string is built per segment.
   */
  readonly ehashIndex = new Map<number, Map<number, TcpSock>>();
  /**
   * The socket the last lookup found: a board's segments mostly belong to one flow, and a hit
   * here skips two Map lookups on 48-bit (heap number) keys. ehashAdd/ehashRemove clear it.
   */
  lastLookup: TcpSock | null = null;
  readonly listeners = new Map<number, TcpSock>();
  readonly requests = new Map<string, RequestSock>();
  readonly timewait = new Map<string, TimewaitSock>();
  /** Sockets bound to each explicit local port (the bind hash's owners), for inet_csk_get_port. */
  readonly boundPorts = new Map<number, number>();
  readonly rng;
  readonly secret: number;
  /** tcp_prot's memory: tcp_memory_allocated against tcp_mem, through the per-CPU reserve. */
  readonly mem: ProtoMemory;
  orphans = 0;
  /** Segments dropped, by Linux 6.1's SKB_DROP_REASON_* name (what the kfree_skb tracepoint shows). */
  readonly dropReasons: Partial<Record<SkbDropReason, number>> = {};
  /** RTT samples of every connection on this stack, for the report. */
  readonly rttSamplesSeen: number[] = [];
  /** All sockets alive (for leak checks). */
  readonly all = new Set<TcpSock>();
  /** Fast Open cookies learned per server address, when there is no metrics cache to hold them. */
  readonly fastOpenCookieMap = new Map<number, Uint8Array>();
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
    const sysctl = this.sysctl;
    const ext = this.ext;
    this.mem = new ProtoMemory({
      name: 'TCP',
      get sysctlMem() {
        return sysctl.tcpMem;
      },
      pcpuReserve: SK_MEMORY_PCPU_RESERVE,
      // tcp_enter_memory_pressure (TCPMemoryPressures exists only with PROC_FS's counters).
      enterMemoryPressure: () => ext['TCPMemoryPressures']!++,
    });
    stack.ip.register(IPPROTO_TCP, (skb, ip, dev) => receive(this, skb, ip, dev), (inner, bytes, off, errno) => icmpError(this, inner, bytes, off, errno));
  }

  // ---- memory ------------------------------------------------------------------------------

  drop(skb: SkBuff, reason: SkbDropReason): void {
    this.dropReasons[reason] = (this.dropReasons[reason] ?? 0) + 1;
    skb.free();
  }

  underPressure(): boolean {
    return this.mem.pressure;
  }

  /**
   * tcp_try_rmem_schedule: may this skb be charged to the socket's receive buffer? When not,
   * prune (collapse the receive queue, drop out-of-order data) and ask again.
   */
  rmemSchedule(sk: TcpSock, skb: SkBuff): boolean {
    if (this.rmemFits(sk, skb)) return true;
    this.pruneQueue(sk);
    if (this.rmemFits(sk, skb)) return true;
    if (sk.ofo.length > 0) {
      this.ext['OfoPruned']!++;
      for (const o of sk.ofo) o.skb.free();
      sk.ofo = [];
    }
    if (this.rmemFits(sk, skb)) return true;
    this.ext['RcvPruned']!++;
    return false;
  }

  /** Room in sk_rcvbuf and under tcp_mem[2] for this skb (a method, not a closure: it runs per segment). */
  private rmemFits(sk: TcpSock, skb: SkBuff): boolean {
    return sk.rmemAlloc + skb.truesize <= sk.rcvbuf && !this.mem.overHardLimit(skb.truesize);
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
    // sock_rfree, made once per socket (it needs only the socket and the skb it is given).
    skb.destructor = sk.rfree ??= (s) => {
      sk.rmemAlloc -= s.truesize;
      this.mem.uncharge(s.truesize);
    };
    this.mem.charge(skb.truesize);
  }

  /**
   * tcp_wmem_free_skb: a write-queue segment is acknowledged (or the socket is gone). Its
   * truesize leaves sk_wmem_queued and is uncharged now, whether or not the driver still holds
   * the clone: a writer's wake-up (tcp_check_space) depends on sk_wmem_queued, and a peer can
   * acknowledge a segment before the MAC reports it sent. Only the memory waits for the driver.
   */
  freeSeg(sk: TcpSock, seg: TxSeg): void {
    seg.acked = true;
    sk.wmemQueued -= seg.skb.truesize;
    this.mem.uncharge(seg.skb.truesize);
    if (!seg.lent) seg.skb.free();
  }

  /**
   * tcp_sndbuf_expand: room for twice max(TCP_INIT_CWND, cwnd, reordering + 1) segments at
   * per_mss = roundup_pow_of_two(mss + MAX_TCP_HEADER + SKB_DATA_ALIGN(skb_shared_info)) +
   * SKB_DATA_ALIGN(sk_buff), up to tcp_wmem[2]; it only grows. At establishment
   * (tcp_init_buffer_space) it runs whatever the memory pressure; later only without it.
   */
  sndbufExpand(sk: TcpSock, atEstablishment = false): void {
    if (sk.userSndbuf) return;
    if (!atEstablishment && this.mem.pressure) return;
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

  bind(sk: TcpSock, addr: SockAddr): number {
    if (sk.lport !== 0) return -Errno.EINVAL;
    if (addr.addr !== 0 && !this.stack.isLocalAddress(addr.addr)) return -Errno.EADDRNOTAVAIL;
    if (addr.port !== 0 && !inetCskGetPort(this, addr.port)) return -Errno.EADDRINUSE;
    sk.laddr = addr.addr;
    sk.lport = addr.port;
    return 0;
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
      sk.lport = pickPort(this, src, addr.addr, addr.port);
      if (sk.lport === 0) return -Errno.EADDRNOTAVAIL;
    }
    initConnection(sk);
    sk.iss = initialSeq(this, sk.laddr, sk.lport, sk.raddr, sk.rport);
    sk.sndUna = sk.iss;
    sk.sndNxt = sk.iss;
    const syn = this.newSeg(sk, sk.iss, 0, true, false);
    if (!syn) return -Errno.ENOBUFS;
    sk.state = 'SYN_SENT';
    ehashAdd(this, sk);
    this.mib['ActiveOpens']!++;
    if (sk.fastOpenEnabled && this.stack.has('TCP_FASTOPEN')) {
      const cookie = cachedFastOpenCookie(this, sk.raddr);
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
    transmitSeg(sk, syn, false);
    sk.sndNxt = syn.end;
    return -Errno.EINPROGRESS;
  }

  /**
   * Allocate a write-queue segment able to hold `len` payload bytes; null when memory refuses.
   * `gfp` is 'kernel' for a program's system call (sendmsg, connect, close), which stops at the
   * min watermark (vm.min_free_kbytes) so that softirq receive can still allocate.
   */
  newSeg(sk: TcpSock, seq: number, len: number, syn: boolean, fin: boolean, gfp: Gfp = 'kernel'): TxSeg | null {
    const skb = allocSkbFclone(this.stack.skbs, TCP_HEADROOM + Math.max(len, sk.mss), gfp);
    if (!skb) return null;
    if (this.mem.overHardLimit(skb.truesize) && !syn && !fin) {
      skb.free();
      return null;
    }
    skb.reserve(TCP_HEADROOM);
    const seg = new TxSeg(skb, seq, len, syn, fin);
    sk.wmemQueued += skb.truesize;
    this.mem.charge(skb.truesize);
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
    if (sk.state === 'SYN_SENT' && sk.deferSyn) return sendFastOpenSyn(sk, data);
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
    // tcp_cleanup_rbuf: ACK now if one is owed for more than rcv_mss (the once-per-two-
    // segments ACK input deferred), or for short pushed segments this read drained (not in
    // pingpong unless two came), in any state; or, unless the peer has finished sending
    // (RCV_SHUTDOWN), if reading opened the window a lot.
    if (sk.state !== 'CLOSED' && sk.state !== 'TIME_WAIT') {
      let timeToAck = sk.ackPending && (((sk.rcvNxt - sk.rcvWup) | 0) > sk.rcvMss
        || (((sk.ackPushed & 2) !== 0 || ((sk.ackPushed & 1) !== 0 && !sk.pingpong)) && sk.rmemAlloc === 0));
      if (!timeToAck && !sk.finReceived) {
        const offered = (sk.rcvWup + sk.rcvWnd - sk.rcvNxt) | 0;
        const free = freeWindow(sk);
        timeToAck = free >= 2 * offered && free - offered >= 2 * sk.advMss;
      }
      if (timeToAck) sendAck(sk);
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
      // The peer's FIN may have come meanwhile (FIN_WAIT1 → CLOSING): ours is still owed.
      if (sk.state !== 'FIN_WAIT1' && sk.state !== 'LAST_ACK' && sk.state !== 'CLOSING') return;
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
        inetCskListenStop(this, sk);
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
    if (sk.linger === 0) {
      // tcp_close: a zero linger (checked after unread data) disconnects at once, tcp_disconnect
      // resetting the peer in every state tcp_need_reset names (these, and SYN_RECV).
      this.ext['TCPAbortOnData']!++;
      if (sk.state === 'ESTABLISHED' || sk.state === 'CLOSE_WAIT' || sk.state === 'FIN_WAIT1' || sk.state === 'FIN_WAIT2') sendControl(sk, TCP_RST | TCP_ACK);
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
    if (sk.state === 'FIN_WAIT2') armFinWait2(sk);
  }

  /** Every TCP socket the stack still holds, as `STATE lport>rport` (for a leak's message). */
  socketStates(): string[] {
    return [...this.all].map((sk) => `${sk.state} ${sk.lport}>${sk.rport}${sk.closed ? '' : ' (not closed by its program)'}`);
  }

    // ---- state changes -----------------------------------------------------------------------

  onEstablished(sk: TcpSock): void {
    const wasSynRecv = sk.state === 'SYN_RECV';
    sk.state = 'ESTABLISHED';
    // tcp_initialize_rcv_mss: a guess at the peer's segment size until segments show it.
    sk.rcvMss = Math.max(Math.min(sk.advMss, sk.mss, sk.rcvWnd >> 1, TCP_MSS_DEFAULT), TCP_MIN_MSS);
    // tcp_init_transfer → tcp_init_buffer_space: the send buffer for the initial window.
    this.sndbufExpand(sk, true);
    this.metrics?.init(sk);
    tcpInitCongestionControl(sk);
    this.mib['CurrEstab']!++;
    if (this.sysctl && sk.keepalive) armKeepalive(sk);
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
    ehashRemove(this, sk);
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
    inetPutPort(this, sk);
    this.stack.sockets.free(this.sockCache, sk.mem);
  }
}
