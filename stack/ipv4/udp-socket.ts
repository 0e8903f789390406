/**
 * A UDP socket (struct udp_sock): what bind, connect, sendto, recvfrom and the socket options
 * do to one socket. The table it is hashed in, the port search and the receive path are in
 * udp.ts.
 *
 * Two local addresses, as Linux keeps them: `boundAddr` is inet_rcv_saddr (what arriving
 * datagrams must be addressed to; 0 for any) and `saddr` is inet_saddr (the source used when
 * sending; 0 to choose per datagram). They differ when the socket is bound to a broadcast address.
 */
import { Sock, type SockAddr } from '../socket/sock.js';
import type { SockMemory } from '../socket/socket-table.js';
import type { Datagram, DatagramSock, SockOpt } from '../socket/syscalls.js';
import type { NetStack } from '../net-stack.js';
import type { UdpTable } from './udp.js';
import type { IpMcSocklist } from './igmp.js';
import { readU16, readU32 } from '../uapi/byte-order.js';

export class UdpSock extends Sock implements DatagramSock {
  /** inet_saddr: the source address for sending (0: chosen by route per datagram). */
  saddr = 0;
  /** SO_BROADCAST: may send to (and connect to) a broadcast address. */
  broadcast = false;
  /** SO_REUSEADDR (sk_reuse): may share a port with other sockets that also set it. */
  reuse = false;
  /** IP_RECVERR: every ICMP error is reported, not only hard errors on connected sockets. */
  recverr = false;
  /** SOCK_BINDADDR_LOCK / SOCK_BINDPORT_LOCK: the program chose these with bind(). */
  userBoundAddr = false;
  userBoundPort = false;
  /** Hash slot the socket sits in while it has a port, -1 when unhashed. */
  slot = -1;
  /**
   * inet_sock's multicast state, with inet_create's defaults: IP_MULTICAST_TTL 1,
   * IP_MULTICAST_LOOP on, IP_MULTICAST_IF unset, IP_MULTICAST_ALL on, and the socket's group
   * memberships (ip_mc_socklist, newest first; only IGMP adds to it).
   */
  mcTtl = 1;
  mcLoop = true;
  mcIndex = 0;
  mcAddr = 0;
  mcAll = true;
  readonly mcList: IpMcSocklist[] = [];

  constructor(
    stack: NetStack,
    readonly table: UdpTable,
    readonly mem: SockMemory,
  ) {
    super(stack, mem.skAddr, mem.socketAddr, mem.fileAddr);
  }

  /** inet_id: the IP ID of the next datagram once connected (ip_select_ident_segs). */
  inetId = 0;

  get connected(): boolean {
    return this.peer !== null;
  }

  bind(addr: SockAddr): number {
    return this.table.bind(this, addr);
  }

  connect(addr: SockAddr): number {
    return this.table.connect(this, addr);
  }

  /** connect(AF_UNSPEC): dissolve the association (udp_disconnect). */
  disconnect(): number {
    this.table.disconnect(this);
    return 0;
  }

  sendto(data: Uint8Array, to: SockAddr | null): number {
    return this.table.sendmsg(this, data, to);
  }

  /**
   * udp_recvmsg: a pending error first (sock_error), then the oldest datagram and who sent it.
   * The sender is read from the packet's own headers in RAM.
   */
  recvfrom(): Datagram | number {
    const skb = this.recvDatagram();
    if (typeof skb === 'number') return skb;
    const data = this.copyDatagram(skb);
    const from = { addr: readU32(skb.bytes, skb.networkHeader + 12), port: readU16(skb.bytes, skb.transportHeader) };
    skb.free();
    // Linux counts InDatagrams when the program reads the datagram, not when it is queued.
    this.table.mib['InDatagrams']!++;
    return { data, from };
  }

  /** The options UDP itself handles; null for the ones the socket layer does. */
  setOption(opt: SockOpt, value: number): number | null {
    switch (opt) {
      case 'SO_BROADCAST':
        this.broadcast = value !== 0;
        return 0;
      case 'SO_REUSEADDR':
        this.reuse = value !== 0;
        return 0;
      case 'IP_RECVERR':
        this.recverr = value !== 0;
        return 0;
      default:
        return null;
    }
  }

  getsockname(): SockAddr {
    return { addr: this.boundAddr, port: this.boundPort };
  }

  release(): void {
    if (this.closed) return;
    this.closed = true;
    // inet_release: ip_mc_drop_socket leaves the socket's groups first.
    this.stack.igmp?.dropSocket(this);
    this.purgeReceiveQueue();
    this.table.destroy(this);
  }
}
