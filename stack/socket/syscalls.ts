/**
 * The system-call surface board programs use: BSD sockets with errno-style results
 * (negative numbers), event-driven instead of blocking — a program registers a wake-up for
 * a descriptor and calls recvfrom when it fires, as it would after poll().
 *
 * One instance per program: it owns that program's file descriptors, and closing the program
 * closes them (as exit() does).
 */
import { Timer } from '../../emulator/event-queue.js';
import { tcpCaFind } from '../ipv4/tcp-cong-list.js';
import type { NetStack } from '../net-stack.js';
import type { PingSock } from './ping-socket.js';
import { RawSock } from './raw-socket.js';
import { UdpSock } from '../ipv4/udp-socket.js';
import type { TcpSock } from '../ipv4/tcp-sock.js';
import { armKeepalive } from '../ipv4/tcp-timer.js';
import { NetlinkSock } from '../core/netlink.js';
import { sockIoctl } from '../ipv4/ioctl.js';
import { devEthtool } from '../core/ethtool.js';
import { readProc } from '../core/procfs.js';
import { MC_SOCK_OPTS, type McSockOpt } from '../ipv4/igmp.js';
import { type Sock, type SockAddr } from './sock.js';
import type { SockFprog } from '../core/filter.js';
import { isSockaddrLl, type PacketSock, type PacketStatistics, type SockaddrLl } from '../packet/af-packet.js';
import type { PacketRingView } from '../packet/packet-ring.js';
import { IPPROTO_ICMP, IPPROTO_UDP } from '../uapi/in.js';
import { AF_INET, AF_NETLINK, AF_PACKET, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM } from '../uapi/socket.js';
import { SIOCETHTOOL } from '../uapi/sockios.js';
import { Errno } from '../uapi/errno.js';
import { type TpacketReq } from '../uapi/if-packet.js';

/** A received datagram; packet sockets also give the frame's sockaddr_ll. */
export type Datagram = { data: Uint8Array; from: SockAddr; sll?: SockaddrLl };

/** The datagram-shaped operations each socket kind provides. */
export interface DatagramSock extends Sock {
  /** AF_PACKET for packet sockets (their addresses are sockaddr_ll); absent for AF_INET ones. */
  readonly family?: number;
  sendto(data: Uint8Array, to: SockAddr | SockaddrLl | null): number;
  recvfrom(): Datagram | number;
  bind?(addr: SockAddr | SockaddrLl): number;
  connect?(addr: SockAddr): number;
  /** connect(AF_UNSPEC): dissolve a datagram socket's association. */
  disconnect?(): number;
  /** The options the protocol handles itself; null for those left to the socket layer. */
  setOption?(opt: SockOpt, value: number): number | null;
  getsockname?(): SockAddr;
}

export type SockOpt = 'SO_RCVBUF' | 'SO_SNDBUF' | 'SO_BINDTODEVICE' | 'SO_BROADCAST' | 'SO_KEEPALIVE' | 'TCP_NODELAY' | 'TCP_FASTOPEN' | 'TCP_FASTOPEN_CONNECT' | 'IP_HDRINCL' | 'SO_REUSEADDR' | 'IP_RECVERR' | 'SO_DETACH_FILTER' | 'PACKET_VERSION' | 'SO_LINGER';

/** getsockopt(SO_MEMINFO): the socket's memory counters (SK_MEMINFO_*), drops included. */
export interface SkMeminfo {
  rmem_alloc: number;
  rcvbuf: number;
  wmem_alloc: number;
  sndbuf: number;
  drops: number;
}

function isMcSockOpt(opt: string): opt is McSockOpt {
  return (MC_SOCK_OPTS as readonly string[]).includes(opt);
}

/** SOCK_MIN_RCVBUF / SOCK_MIN_SNDBUF on this target (2048 + the skb's true size). */
const SOCK_MIN_BUF = 2 * 2048;

export class Syscalls {
  private readonly fds = new Map<number, DatagramSock>();
  /** Stream (TCP) sockets live beside the datagram ones; one descriptor space for both. */
  private readonly streams = new Map<number, TcpSock>();
  private nextFd = 3;

  constructor(readonly stack: NetStack) {}

  socket(domain: number, type: number, protocol: number): number {
    if (domain === AF_NETLINK) {
      // No CONFIG_NETLINK: the family is not registered at all.
      if (!this.stack.netlink) return -Errno.EAFNOSUPPORT;
      const nl = this.stack.netlink.create(type, protocol);
      if (typeof nl === 'number') return nl;
      const fd = this.nextFd++;
      this.fds.set(fd, nl);
      return fd;
    }
    if (domain === AF_PACKET) {
      // No CONFIG_PACKET: the family is not registered, so socket() cannot find it.
      if (!this.stack.packet) return -Errno.EAFNOSUPPORT;
      return this.install(this.stack.packet.create(type, protocol));
    }
    if (domain !== AF_INET) return -Errno.EAFNOSUPPORT;
    let sk: DatagramSock | number;
    if (type === SOCK_RAW) {
      if (!this.stack.raw) return -Errno.EPROTONOSUPPORT; // no INET_RAW: no protosw entry for SOCK_RAW
      if (protocol === 0 || protocol > 255) return -Errno.EPROTONOSUPPORT;
      sk = this.stack.raw.create(protocol) as RawSock | number;
    } else if (type === SOCK_DGRAM && protocol === IPPROTO_ICMP) {
      if (!this.stack.ping) return -Errno.EPROTONOSUPPORT;
      sk = this.stack.ping.create() as PingSock | number;
    } else if (type === SOCK_DGRAM && (protocol === 0 || protocol === IPPROTO_UDP)) {
      if (!this.stack.udp) return -Errno.EPROTONOSUPPORT;
      sk = this.stack.udp.create();
    } else if (type === SOCK_STREAM && (protocol === 0 || protocol === 6)) {
      if (!this.stack.tcp) return -Errno.EPROTONOSUPPORT;
      const tcp = this.stack.tcp.create();
      if (typeof tcp === 'number') return tcp;
      const fd = this.nextFd++;
      this.streams.set(fd, tcp);
      return fd;
    } else {
      return -Errno.EPROTONOSUPPORT;
    }
    return this.install(sk);
  }

  private install(sk: DatagramSock | number): number {
    if (typeof sk === 'number') return sk;
    const fd = this.nextFd++;
    this.fds.set(fd, sk);
    return fd;
  }

  private get(fd: number): DatagramSock | null {
    return this.fds.get(fd) ?? null;
  }

  /** bind: a sockaddr_in ({addr, port}) for AF_INET sockets, a sockaddr_ll for packet sockets. */
  bind(fd: number, addr: SockAddr | SockaddrLl): number {
    const tcp = this.streams.get(fd);
    if (tcp) return isSockaddrLl(addr) ? -Errno.EAFNOSUPPORT : this.stack.tcp!.bind(tcp, addr);
    const sk = this.get(fd);
    if (!sk) return -Errno.EBADF;
    if (sk.family === AF_PACKET) return sk.bind!(addr);
    if (isSockaddrLl(addr)) return -Errno.EAFNOSUPPORT; // inet_bind: not an AF_INET address
    if (sk.bind) return sk.bind(addr);
    sk.boundAddr = addr.addr;
    return 0;
  }

  connect(fd: number, addr: SockAddr): number {
    const tcp = this.streams.get(fd);
    if (tcp) return this.stack.tcp!.connect(tcp, addr);
    const sk = this.get(fd);
    if (!sk) return -Errno.EBADF;
    if (sk.connect) return sk.connect(addr);
    sk.peer = { ...addr };
    return 0;
  }

  /** sendto: `to` is a sockaddr_in, or for packet sockets a sockaddr_ll. */
  sendto(fd: number, data: Uint8Array, to?: SockAddr | SockaddrLl): number {
    const sk = this.get(fd);
    if (!sk) return -Errno.EBADF;
    if (to && isSockaddrLl(to) && sk.family !== AF_PACKET) return -Errno.EAFNOSUPPORT;
    const e = sk.takeError();
    if (e) return -e;
    return sk.sendto(data, to ?? null);
  }

  recvfrom(fd: number): Datagram | number {
    const sk = this.get(fd);
    if (!sk) return -Errno.EBADF;
    return sk.recvfrom();
  }

  /**
   * setsockopt. SO_ATTACH_FILTER takes a struct sock_fprog (instructions as objects or bytes);
   * PACKET_RX_RING a struct tpacket_req; the others an int.
   */
  setsockopt(fd: number, opt: 'TCP_CONGESTION', value: string): number;
  setsockopt(fd: number, opt: 'SO_ATTACH_FILTER', value: SockFprog): number;
  setsockopt(fd: number, opt: 'PACKET_RX_RING', value: TpacketReq): number;
  setsockopt(fd: number, opt: McSockOpt, value: number | Uint8Array): number;
  setsockopt(fd: number, opt: SockOpt, value?: number): number;
  setsockopt(fd: number, opt: SockOpt | McSockOpt | 'SO_ATTACH_FILTER' | 'PACKET_RX_RING' | 'TCP_CONGESTION', value: number | string | Uint8Array | SockFprog | TpacketReq = 0): number {
    if (opt === 'TCP_CONGESTION') return this.congestionOption(fd, value);
    if (isMcSockOpt(opt)) return this.multicastOption(fd, opt, value as number | Uint8Array);
    if (opt === 'SO_ATTACH_FILTER' || opt === 'SO_DETACH_FILTER') return this.filterOption(fd, opt, value as SockFprog);
    if (opt === 'PACKET_RX_RING') {
      const sk = this.get(fd);
      if (!sk && !this.streams.has(fd)) return -Errno.EBADF;
      // SOL_PACKET on another family's socket reaches no handler for it.
      if (!sk || sk.family !== AF_PACKET) return -Errno.ENOPROTOOPT;
      return (sk as PacketSock).setRxRing(value as TpacketReq);
    }
    if (typeof value !== 'number') return -Errno.EINVAL;
    const tcp = this.streams.get(fd);
    if (tcp) {
      switch (opt) {
        case 'TCP_NODELAY':
          tcp.nodelay = value !== 0;
          return 0;
        case 'SO_KEEPALIVE':
          tcp.keepalive = value !== 0;
          if (tcp.keepalive && tcp.state === 'ESTABLISHED') armKeepalive(tcp);
          return 0;
        case 'TCP_FASTOPEN':
          // On a listener: the Fast Open queue length (qlen).
          if (!this.stack.has('TCP_FASTOPEN')) return -Errno.ENOPROTOOPT;
          tcp.fastOpenQlen = Math.max(0, value);
          return 0;
        case 'TCP_FASTOPEN_CONNECT':
          if (!this.stack.has('TCP_FASTOPEN')) return -Errno.ENOPROTOOPT;
          tcp.fastOpenEnabled = value !== 0;
          return 0;
        case 'SO_SNDBUF':
          tcp.userSndbuf = true;
          break;
        case 'SO_REUSEADDR':
          // sock_setsockopt: sk_reuse, for any socket family (servers set it before bind).
          tcp.reuseAddr = value !== 0;
          return 0;
        case 'SO_LINGER':
          // struct linger { l_onoff, l_linger } as one number: negative for l_onoff 0, else
          // l_linger in seconds (sock_setsockopt: SOCK_LINGER set, sk_lingertime).
          tcp.linger = value < 0 ? null : value;
          return 0;
        default:
          break;
      }
    }
    const own = this.get(fd)?.setOption?.(opt, value);
    if (own !== undefined && own !== null) return own;
    const sk = this.get(fd) ?? tcp ?? null;
    if (!sk) return -Errno.EBADF;
    switch (opt) {
      case 'SO_RCVBUF':
        // sock_setsockopt doubles the request (for bookkeeping overhead), capped at rmem_max.
        sk.rcvbuf = Math.max(SOCK_MIN_BUF, Math.min(value, this.stack.sockets.rmemDefault) * 2);
        return 0;
      case 'SO_SNDBUF':
        sk.sndbuf = Math.max(SOCK_MIN_BUF, Math.min(value, this.stack.sockets.wmemDefault) * 2);
        return 0;
      case 'SO_BINDTODEVICE':
        if (!this.stack.device(value)) return -Errno.ENODEV;
        sk.bindToIfindex = value;
        return 0;
      case 'SO_BROADCAST':
        return 0;
      case 'IP_HDRINCL':
        if (!('hdrincl' in sk)) return -Errno.ENOPROTOOPT;
        (sk as RawSock).hdrincl = value !== 0;
        return 0;
      default:
        return -Errno.ENOPROTOOPT;
    }
  }

  /**
   * TCP_CONGESTION (do_tcp_setsockopt → tcp_set_congestion_control): the name of a registered
   * congestion control, or -ENOENT; on a connected socket the new ops start afresh
   * (tcp_reinit_congestion_control). Non-TCP sockets: -ENOPROTOOPT.
   */
  private congestionOption(fd: number, value: unknown): number {
    const tcp = this.streams.get(fd);
    if (!tcp) return this.get(fd) ? -Errno.ENOPROTOOPT : -Errno.EBADF;
    if (typeof value !== 'string') return -Errno.EINVAL;
    const ops = tcpCaFind(value);
    if (!ops) return -Errno.ENOENT;
    if (ops === tcp.congOps) return 0;
    tcp.congOps = ops;
    ops.init(tcp);
    return 0;
  }

  /** getsockopt(TCP_CONGESTION): the socket's congestion control name. */
  congestionControl(fd: number): string | number {
    const tcp = this.streams.get(fd);
    if (!tcp) return this.get(fd) ? -Errno.ENOPROTOOPT : -Errno.EBADF;
    return tcp.congOps.name;
  }

  /**
   * SO_ATTACH_FILTER / SO_DETACH_FILTER. Linux 6.1 always has these options; the 2014
   * series' LPF_FILTER switch compiled sk_attach_filter out, leaving sock_setsockopt without
   * the cases, so they fall to its default: -ENOPROTOOPT. Filters run on the UDP, raw and
   * packet receive paths; TCP, ping and netlink sockets are refused with -EOPNOTSUPP
   * (quarklab does not run filters there yet, and accepting one that never runs would hide it).
   */
  private filterOption(fd: number, opt: 'SO_ATTACH_FILTER' | 'SO_DETACH_FILTER', prog: SockFprog): number {
    const sk = this.get(fd);
    if (!sk && !this.streams.has(fd)) return -Errno.EBADF;
    const filters = this.stack.filter;
    if (!filters) return -Errno.ENOPROTOOPT;
    if (!sk || !this.runsFilters(sk)) return -Errno.EOPNOTSUPP;
    return opt === 'SO_ATTACH_FILTER' ? filters.attach(sk, prog) : filters.detach(sk);
  }

  private runsFilters(sk: DatagramSock): boolean {
    return sk.family === AF_PACKET || sk instanceof UdpSock || sk instanceof RawSock;
  }

  /**
   * The IPPROTO_IP multicast options (IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP with a struct
   * ip_mreq/ip_mreqn; IP_MULTICAST_IF/TTL/LOOP/ALL). The 2014 series made them depend on
   * IP_MULTICAST: without it ip_setsockopt has no such options, so -ENOPROTOOPT. TCP refuses
   * memberships (-EPROTO, is_icsk) and a TTL or interface (-EINVAL, SOCK_STREAM); the loop and
   * all flags it accepts and ignores. Memberships are kept on UDP sockets only: raw and ping
   * sockets answer -EOPNOTSUPP (Linux lets them join; not modelled), other families -ENOPROTOOPT.
   */
  private multicastOption(fd: number, opt: McSockOpt, value: number | Uint8Array): number {
    const sk = this.get(fd);
    const tcp = this.streams.get(fd);
    if (!sk && !tcp) return -Errno.EBADF;
    const igmp = this.stack.igmp;
    if (!igmp) return -Errno.ENOPROTOOPT;
    if (tcp) {
      if (opt === 'IP_ADD_MEMBERSHIP' || opt === 'IP_DROP_MEMBERSHIP') return -Errno.EPROTO;
      return opt === 'IP_MULTICAST_TTL' || opt === 'IP_MULTICAST_IF' ? -Errno.EINVAL : 0;
    }
    if (sk instanceof UdpSock) return igmp.setsockopt(sk, opt, value);
    // Raw and ping sockets are AF_INET too (no family field, not netlink).
    const inet = sk instanceof RawSock || (sk!.family === undefined && !(sk instanceof NetlinkSock));
    return inet ? -Errno.EOPNOTSUPP : -Errno.ENOPROTOOPT;
  }

  /**
   * The text of a /proc/net file (open, read to the end, close): snmp, netstat, dev, arp,
   * route, tcp, udp, and igmp with IP_MULTICAST. Without PROC_FS there is no /proc/net at all:
   * -ENOENT.
   */
  readProc(path: string): string | number {
    if (!this.stack.has('PROC_FS')) return -Errno.ENOENT;
    return readProc(this.stack, path);
  }

  /**
   * `sysctl -w NAME=VALUE`: a write to /proc/sys. Modelled: net.ipv4.tcp_mem (pages, as
   * proc_doulongvec_minmax reads it) and net.ipv4.tcp_rmem / tcp_wmem (bytes, each at least 1
   * as proc_dointvec_minmax with SYSCTL_ONE); like Linux, fewer than three values change only
   * the first ones. Without PROC_FS (so no PROC_SYSCTL) there is no /proc/sys: -ENOENT; an
   * unknown name -ENOENT, a bad value -EINVAL.
   */
  writeSysctl(name: string, value: string): number {
    if (!this.stack.has('PROC_FS')) return -Errno.ENOENT;
    const tcp = this.stack.tcp;
    const key = name.replace(/\//g, '.');
    const target = key === 'net.ipv4.tcp_mem' ? 'tcpMem' : key === 'net.ipv4.tcp_rmem' ? 'tcpRmem' : key === 'net.ipv4.tcp_wmem' ? 'tcpWmem' : null;
    if (target === null || !tcp) return -Errno.ENOENT;
    const fields = value.trim().split(/\s+/);
    if (fields.length < 1 || fields.length > 3 || fields.some((f) => !/^[0-9]+$/.test(f))) return -Errno.EINVAL;
    const numbers = fields.map(Number);
    if (target !== 'tcpMem' && numbers.some((n) => n < 1 || n > 0x7fffffff)) return -Errno.EINVAL;
    const next: [number, number, number] = [...tcp.sysctl[target]];
    numbers.forEach((n, i) => (next[i] = n));
    tcp.sysctl[target] = next;
    return 0;
  }

  /** getsockopt(PACKET_STATISTICS): packets and drops since the last call (then reset). */
  packetStatistics(fd: number): PacketStatistics | number {
    const sk = this.get(fd);
    if (!sk) return this.streams.has(fd) ? -Errno.ENOPROTOOPT : -Errno.EBADF;
    return sk.family === AF_PACKET ? (sk as PacketSock).statistics() : -Errno.ENOPROTOOPT;
  }

  /**
   * mmap of a packet socket's PACKET_RX_RING: a view over the ring in board RAM, or -EINVAL
   * when there is no ring, -ENODEV without PACKET_MMAP (no mmap operation at all).
   */
  packetRing(fd: number): PacketRingView | number {
    const sk = this.get(fd);
    if (!sk) return this.streams.has(fd) ? -Errno.ENODEV : -Errno.EBADF;
    return sk.family === AF_PACKET ? (sk as PacketSock).mapRing() : -Errno.ENODEV;
  }

  /** getsockopt(SO_MEMINFO). */
  meminfo(fd: number): SkMeminfo | number {
    const sk = this.get(fd) ?? this.streams.get(fd);
    if (!sk) return -Errno.EBADF;
    return { rmem_alloc: sk.rmemAlloc, rcvbuf: sk.rcvbuf, wmem_alloc: sk.wmemAlloc, sndbuf: sk.sndbuf, drops: sk.drops };
  }

  getsockopt(fd: number, opt: 'SO_RCVBUF' | 'SO_SNDBUF' | 'SO_ERROR'): number {
    const sk = this.get(fd) ?? this.streams.get(fd);
    if (!sk) return -Errno.EBADF;
    if (opt === 'SO_RCVBUF') return sk.rcvbuf;
    if (opt === 'SO_SNDBUF') return sk.sndbuf;
    return sk.takeError();
  }

  /**
   * ioctl on a socket: `arg` is the program's buffer (struct ifreq, struct rtentry or an int),
   * read and written in place. Interface and route requests need an AF_INET socket.
   */
  ioctl(fd: number, request: number, arg: Uint8Array): number {
    const sk = this.get(fd) ?? this.streams.get(fd);
    if (!sk) return -Errno.EBADF;
    if (request === SIOCETHTOOL) {
      // dev_ioctl → dev_ethtool; the 2014 series' NET_ETHTOOL switch left a stub that answers EOPNOTSUPP.
      if (arg.length < 32) return -Errno.EFAULT; // get_user_ifreq
      return this.stack.has('NET_ETHTOOL') ? devEthtool(this.stack, arg) : -Errno.EOPNOTSUPP;
    }
    return sockIoctl(this.stack, sk, request, arg);
  }

  /** getsockname: the local address and port (0.0.0.0:0 before bind or autobind). */
  getsockname(fd: number): SockAddr | number {
    const sk = this.get(fd) ?? this.streams.get(fd);
    if (!sk) return -Errno.EBADF;
    const dg = this.get(fd);
    return dg?.getsockname ? dg.getsockname() : { addr: sk.boundAddr, port: sk.boundPort };
  }

  /** connect(fd, AF_UNSPEC): a datagram socket forgets its peer. */
  disconnect(fd: number): number {
    const sk = this.get(fd);
    if (!sk) return this.streams.has(fd) ? -Errno.EOPNOTSUPP : -Errno.EBADF;
    if (sk.disconnect) return sk.disconnect();
    sk.peer = null;
    return 0;
  }

  /**
   * A program's wake-up runs as the scheduler would run the woken process: after the kernel
   * work in progress (softirq, the rest of the packet) is done, once however often it is woken.
   */
  private deferred(fd: number, wake: () => void): () => void {
    // One timer per wake-up, made once: waking a program allocates nothing.
    const timer = new Timer(() => {
      // A descriptor closed meanwhile wakes nobody.
      if (this.fds.has(fd) || this.streams.has(fd)) wake();
    });
    const sim = this.stack.sim;
    return () => {
      if (timer.pending) return;
      sim.mod(timer, sim.now);
    };
  }

  onReadable(fd: number, wake: () => void): number {
    const sk = this.get(fd) ?? this.streams.get(fd);
    if (!sk) return -Errno.EBADF;
    const woken = this.deferred(fd, wake);
    sk.onReadable = woken;
    sk.onError = () => woken();
    return 0;
  }

  close(fd: number): number {
    const tcp = this.streams.get(fd);
    if (tcp) {
      this.streams.delete(fd);
      this.stack.tcp!.close(tcp);
      return 0;
    }
    const sk = this.get(fd);
    if (!sk) return -Errno.EBADF;
    this.fds.delete(fd);
    sk.onReadable = null;
    sk.onError = null;
    this.stack.filter?.socketClosed(sk); // sk_destruct frees the filter
    sk.release();
    return 0;
  }

  /** exit(): close every descriptor the program still holds. */
  closeAll(): void {
    for (const fd of [...this.fds.keys(), ...this.streams.keys()].sort((a, b) => a - b)) this.close(fd);
  }

  get openCount(): number {
    return this.fds.size + this.streams.size;
  }

  // ---- stream sockets ------------------------------------------------------------------------

  private stream(fd: number): TcpSock | number {
    const sk = this.streams.get(fd);
    if (sk) return sk;
    return this.fds.has(fd) ? -Errno.EOPNOTSUPP : -Errno.EBADF;
  }

  listen(fd: number, backlog: number): number {
    const sk = this.stream(fd);
    return typeof sk === 'number' ? sk : this.stack.tcp!.listen(sk, backlog);
  }

  /** accept4 with SOCK_NONBLOCK: a new descriptor, or -EAGAIN when none is waiting. */
  accept(fd: number): { fd: number; peer: SockAddr } | number {
    const sk = this.stream(fd);
    if (typeof sk === 'number') return sk;
    const child = this.stack.tcp!.accept(sk);
    if (typeof child === 'number') return child;
    const nfd = this.nextFd++;
    this.streams.set(nfd, child);
    return { fd: nfd, peer: { addr: child.raddr, port: child.rport } };
  }

  /** send(): bytes queued, or -EAGAIN when the send buffer is full (wait for onWritable). */
  send(fd: number, data: Uint8Array): number {
    const sk = this.stream(fd);
    return typeof sk === 'number' ? sk : this.stack.tcp!.send(sk, data);
  }

  /** recv(): up to `max` bytes; an empty array at end of stream; -EAGAIN when nothing is queued. */
  recv(fd: number, max = 65536): Uint8Array | number {
    const sk = this.stream(fd);
    return typeof sk === 'number' ? sk : this.stack.tcp!.recv(sk, max);
  }

  /** recv() into `buf` from `offset`: bytes copied, 0 at end of stream, -EAGAIN when nothing is queued. */
  recvInto(fd: number, buf: Uint8Array, offset = 0, max = buf.length - offset): number {
    const sk = this.stream(fd);
    return typeof sk === 'number' ? sk : this.stack.tcp!.recvInto(sk, buf, offset, max);
  }

  shutdown(fd: number): number {
    const sk = this.stream(fd);
    return typeof sk === 'number' ? sk : this.stack.tcp!.shutdown(sk);
  }

  /** Wake the program when a connect completes or send-buffer space frees up. */
  onWritable(fd: number, wake: () => void): number {
    const sk = this.stream(fd);
    if (typeof sk === 'number') return sk;
    sk.onWritable = this.deferred(fd, wake);
    return 0;
  }

  /**
   * poll() readiness of a stream socket as tcp_poll computes it: POLLIN for queued data, a
   * waiting child on a listener or the peer's FIN (with POLLRDHUP); POLLOUT once connected
   * with a third of the send buffer free (sk_stream_is_writeable); POLLHUP when closed or shut
   * both ways; POLLERR for a pending error.
   */
  pollStream(fd: number): number {
    const sk = this.stream(fd);
    if (typeof sk === 'number') return sk;
    const POLLIN = 0x1 | 0x40; // POLLIN | POLLRDNORM
    const POLLOUT = 0x4 | 0x100; // POLLOUT | POLLWRNORM
    let mask = 0;
    if (sk.state === 'LISTEN') return sk.acceptQueue.length > 0 ? POLLIN : 0;
    if (sk.err) mask |= 0x8;
    if (sk.state === 'CLOSED' || (sk.shutdownWr && sk.finReceived)) mask |= 0x10;
    if (sk.finReceived) mask |= POLLIN | 0x2000; // POLLRDHUP
    if (sk.state !== 'SYN_SENT' && (sk.state !== 'SYN_RECV' || sk.passiveFastOpen)) {
      if (sk.receiveQueue.some((skb) => skb.len > 0)) mask |= POLLIN;
      if (!sk.shutdownWr && sk.state !== 'CLOSED' && sk.sndbuf - sk.wmemQueued >= sk.wmemQueued >> 1) mask |= POLLOUT;
      else if (sk.shutdownWr) mask |= POLLOUT;
    }
    return mask;
  }

  /** getsockopt(TCP_INFO): the connection's state and counters. */
  tcpInfo(fd: number): ReturnType<TcpSock['tcpInfo']> | number {
    const sk = this.stream(fd);
    return typeof sk === 'number' ? sk : sk.tcpInfo();
  }
}
