/**
 * Packet sockets (CONFIG_PACKET; net/packet/af_packet.c): link-layer access for DHCP clients
 * and capture tools. socket(AF_PACKET, SOCK_RAW | SOCK_DGRAM, protocol) hooks the socket into
 * the device layer's taps for one ethertype or all of them (ETH_P_ALL):
 *
 * - received frames: __netif_receive_skb_core hands each matching socket a copy before the
 *   protocol handler runs (dev.ts);
 * - transmitted frames: dev_queue_xmit_nit hands ETH_P_ALL sockets (only those, as in Linux) a
 *   copy marked PACKET_OUTGOING, except the socket that sent it.
 *
 * SOCK_RAW sees and writes whole frames, Ethernet header included; SOCK_DGRAM sees the frame
 * from the network header and the kernel writes the header when sending (sockaddr_ll gives the
 * destination). Copies are charged to sk_rcvbuf; a full buffer drops and counts the frame in
 * tp_drops and sk_drops (PACKET_STATISTICS). With a PACKET_RX_RING (packet-ring.ts) frames go
 * to the ring instead of the receive queue, as tpacket_rcv replaces packet_rcv.
 *
 * Protocol numbers are host order here: Linux takes htons(ETH_P_ALL) (0x0300 on i386) and
 * quarklab's byte-order-free API takes 0x0003; the same holds for sockaddr_ll's protocol.
 *
 * Linux clones the skb for each socket (sharing its data); quarklab's skbs cannot share data,
 * so each socket's copy is a new skb in board RAM, charged at its own truesize.
 */
import type { SlabCache } from '../core/kmem.js';
import type { NetDevice } from '../core/netdevice.js';
import { skbPacket } from '../core/filter.js';
import { allocSkb, type SkBuff } from '../core/skbuff.js';
import type { NetStack } from '../net-stack.js';
import { Sock, type SockAddr } from '../socket/sock.js';
import type { SockMemory } from '../socket/socket-table.js';
import type { Datagram, DatagramSock, SockOpt } from '../socket/syscalls.js';
import { PacketRing, PacketRingView } from './packet-ring.js';
import { ETH_HLEN, ETH_P_ALL, ETH_ZLEN } from '../uapi/if-ether.js';
import { emitEthernet } from '../wire/ethernet-header.js';
import { AF_PACKET, SOCK_DGRAM, SOCK_RAW } from '../uapi/socket.js';
import {
  PACKET_OUTGOING, TPACKET2_HDRLEN, TPACKET_V2, TP_STATUS_LOSING, tpacketAlign, type TpacketReq,
} from '../uapi/if-packet.js';
import { ARPHRD_ETHER } from '../uapi/if-arp.js';
import { Errno } from '../uapi/errno.js';

/** struct sockaddr_ll as a plain object (protocol in host order). */
export interface SockaddrLl {
  /** sll_family: AF_PACKET (may be left out). */
  family?: number;
  protocol: number;
  ifindex: number;
  hatype?: number;
  pkttype?: number;
  halen?: number;
  /** sll_addr: the destination when sending on SOCK_DGRAM; the source in what is received. */
  addr?: Uint8Array;
}

export function isSockaddrLl(a: SockAddr | SockaddrLl): a is SockaddrLl {
  return typeof a === 'object' && a !== null && 'ifindex' in a;
}

/** getsockopt(PACKET_STATISTICS): tpacket_stats. */
export interface PacketStatistics {
  tp_packets: number;
  tp_drops: number;
}

export class PacketSock extends Sock implements DatagramSock {
  readonly family = AF_PACKET;
  /** po->num: the protocol hooked (host order); 0 hooks nothing. */
  num: number;
  /** po->ifindex: the interface bound to, 0 for all. */
  ifindex = 0;
  /** po->running: the hook is registered. */
  running = false;
  /** po->stats.tp_packets and po->tp_drops, reset by PACKET_STATISTICS. */
  tpPackets = 0;
  tpDrops = 0;
  tpVersion = TPACKET_V2;
  ring: PacketRing | null = null;
  /** Live mappings of the ring (po->mapped). */
  mapped = 0;

  constructor(
    stack: NetStack,
    private readonly owner: PacketSockets,
    readonly mem: SockMemory,
    readonly type: number,
    protocol: number,
  ) {
    super(stack, mem.skAddr, mem.socketAddr, mem.fileAddr);
    this.num = protocol;
  }

  /** packet_bind: sockaddr_ll only; protocol 0 keeps the current one; ifindex 0 is every device. */
  bind(addr: SockAddr | SockaddrLl): number {
    if (!isSockaddrLl(addr) || (addr.family !== undefined && addr.family !== AF_PACKET)) return -Errno.EINVAL;
    if (!Number.isInteger(addr.ifindex) || !Number.isInteger(addr.protocol) || addr.protocol < 0 || addr.protocol > 0xffff) return -Errno.EINVAL;
    if (addr.ifindex !== 0 && !this.stack.device(addr.ifindex)) return -Errno.ENODEV;
    const proto = addr.protocol || this.num;
    if (proto === this.num && addr.ifindex === this.ifindex) return 0;
    this.owner.unhook(this);
    this.num = proto;
    this.ifindex = addr.ifindex;
    if (proto !== 0) this.owner.hook(this);
    return 0;
  }

  /** packet_snd: one frame out of the bound (or given) interface. Bytes sent or -errno. */
  sendto(data: Uint8Array, to: SockAddr | SockaddrLl | null): number {
    let ifindex = this.ifindex;
    let proto = this.num;
    let dst: Uint8Array | undefined;
    if (to) {
      if (!isSockaddrLl(to) || (to.family !== undefined && to.family !== AF_PACKET)) return -Errno.EINVAL;
      if (!Number.isInteger(to.ifindex) || !Number.isInteger(to.protocol) || to.protocol < 0 || to.protocol > 0xffff) return -Errno.EINVAL;
      ifindex = to.ifindex;
      proto = to.protocol;
      dst = to.addr;
    }
    const dev = ifindex === 0 ? undefined : this.stack.device(ifindex);
    if (!dev) return -Errno.ENXIO;
    if (!dev.up) return -Errno.ENETDOWN;
    const reserve = this.type === SOCK_RAW ? ETH_HLEN : 0;
    if (data.length > dev.mtu + reserve) return -Errno.EMSGSIZE;
    if (this.type === SOCK_RAW && data.length < ETH_HLEN) return -Errno.EINVAL; // dev_validate_header
    if (this.type === SOCK_DGRAM && (!dst || dst.length < 6)) return -Errno.EINVAL; // no header possible
    if (this.wmemAlloc >= this.sndbuf) return -Errno.EAGAIN; // sock_alloc_send_skb, non-blocking
    const skb = allocSkb(this.stack.skbs, Math.max(ETH_ZLEN, ETH_HLEN + data.length));
    if (!skb) return -Errno.ENOBUFS;
    if (this.type === SOCK_DGRAM) {
      skb.reserve(ETH_HLEN);
      skb.bytes.set(data, skb.put(data.length));
      emitEthernet({ dst: dst!.subarray(0, 6), src: dev.hwAddr, ethertype: proto }, skb.bytes, skb.push(ETH_HLEN));
    } else {
      skb.bytes.set(data, skb.put(data.length));
    }
    skb.protocol = proto;
    skb.ifindex = dev.ifindex;
    this.chargeWrite(skb);
    this.owner.sentBy(skb, this);
    this.stack.xmit(dev, skb);
    return data.length;
  }

  /** Packet sockets cannot connect (sock_no_connect). */
  connect(): number {
    return -Errno.EOPNOTSUPP;
  }

  /** packet_recvmsg: the oldest frame (from the header the socket type sees) and its sockaddr_ll. */
  recvfrom(): Datagram | number {
    const skb = this.recvDatagram();
    if (typeof skb === 'number') return skb;
    const data = skb.view().slice();
    const mac = skb.networkHeader - ETH_HLEN;
    const sll: SockaddrLl = {
      family: AF_PACKET,
      protocol: skb.protocol,
      ifindex: skb.ifindex,
      hatype: ARPHRD_ETHER,
      pkttype: skb.pktType,
      halen: 6,
      addr: skb.bytes.slice(mac + 6, mac + 12), // dev_parse_header: the source address
    };
    skb.free();
    return { data, from: { addr: 0, port: 0 }, sll };
  }

  /** Numeric SOL_PACKET options; null for the socket layer's. */
  setOption(opt: SockOpt, value: number): number | null {
    if (opt !== 'PACKET_VERSION') return null;
    if (!this.owner.mmap) return -Errno.ENOPROTOOPT; // the ring code (and its version switch) is out
    // Only TPACKET_V2 rings are modelled: V1 and V3 are refused rather than laid out wrongly.
    if (value !== TPACKET_V2) return -Errno.EINVAL;
    if (this.ring) return -Errno.EBUSY;
    this.tpVersion = value;
    return 0;
  }

  /**
   * setsockopt(PACKET_RX_RING): set up the ring (tp_block_nr > 0) or tear it down (all 0).
   * Changing the ring purges the receive queue, as packet_set_ring does.
   *
   * Unlike Linux, whose default is TPACKET_V1 until PACKET_VERSION says otherwise, a socket's
   * ring here is always TPACKET_V2 (the only layout modelled); PACKET_VERSION = TPACKET_V2 is
   * accepted, so Linux programs work unchanged.
   */
  setRxRing(req: TpacketReq): number {
    if (!this.owner.mmap) return -Errno.ENOPROTOOPT;
    if (typeof req !== 'object' || req === null) return -Errno.EINVAL;
    if (this.mapped > 0) return -Errno.EBUSY;
    if (req.tp_block_nr !== 0) {
      if (this.ring) return -Errno.EBUSY;
      const ring = PacketRing.create(this.stack.env.mem, req, TPACKET2_HDRLEN);
      if (typeof ring === 'number') return ring;
      this.ring = ring;
    } else {
      if (req.tp_frame_nr !== 0) return -Errno.EINVAL;
      this.ring?.free();
      this.ring = null;
    }
    this.purgeReceiveQueue();
    return 0;
  }

  /** mmap of the ring: -ENODEV without PACKET_MMAP (sock_no_mmap), -EINVAL with no ring. */
  mapRing(): PacketRingView | number {
    if (!this.owner.mmap) return -Errno.ENODEV;
    if (!this.ring) return -Errno.EINVAL;
    this.mapped++;
    return new PacketRingView(this.ring, this.stack.env.mem.bytes, () => this.mapped--);
  }

  /** getsockopt(PACKET_STATISTICS): read and reset; tp_packets includes the drops. */
  statistics(): PacketStatistics {
    const st = { tp_packets: this.tpPackets + this.tpDrops, tp_drops: this.tpDrops };
    this.tpPackets = 0;
    this.tpDrops = 0;
    return st;
  }

  /** packet_release: off the taps, queue purged, ring pages and socket memory freed. */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.unhook(this);
    this.purgeReceiveQueue();
    this.ring?.free();
    this.ring = null;
    this.owner.destroy(this);
  }
}

/** What a tap knows about the frame it copies. */
interface TapFrame {
  skb: SkBuff;
  /** Address of the Ethernet header; the frame runs to skb.tail. */
  mac: number;
  protocol: number;
  pktType: number;
  ifindex: number;
  tstamp: number;
}

export class PacketSockets {
  private readonly cache: SlabCache;
  /** Registered hooks (ptype_all and ptype_base), newest first as dev_add_pack puts them. */
  private readonly hooks: PacketSock[] = [];
  /** Which packet socket sent an skb, so its own frames are not looped back (skb_loop_sk). */
  private readonly senders = new WeakMap<SkBuff, PacketSock>();
  /** CONFIG_PACKET_MMAP: the ring code exists. */
  readonly mmap: boolean;
  live = 0;

  constructor(private readonly stack: NetStack) {
    this.cache = stack.sockets.protoCache('PACKET', 'packet_sock');
    this.mmap = stack.has('PACKET_MMAP');
  }

  /** packet_create: -ESOCKTNOSUPPORT for other types, -ENOBUFS without memory. */
  create(type: number, protocol: number): PacketSock | number {
    // SOCK_PACKET (the obsolete pre-2.2 interface) is not modelled: refused like any other type.
    if (type !== SOCK_RAW && type !== SOCK_DGRAM) return -Errno.ESOCKTNOSUPPORT;
    // Linux truncates any int to 16 bits; quarklab refuses what is not an ethertype.
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 0xffff) return -Errno.EINVAL;
    const mem = this.stack.sockets.allocate(this.cache);
    if (!mem) return -Errno.ENOBUFS;
    this.live++;
    const po = new PacketSock(this.stack, this, mem, type, protocol);
    if (protocol !== 0) this.hook(po);
    return po;
  }

  destroy(po: PacketSock): void {
    this.stack.sockets.free(this.cache, po.mem);
    this.live--;
  }

  /** register_prot_hook. */
  hook(po: PacketSock): void {
    if (po.running) return;
    po.running = true;
    this.hooks.unshift(po);
  }

  /** unregister_prot_hook. */
  unhook(po: PacketSock): void {
    if (!po.running) return;
    po.running = false;
    const i = this.hooks.indexOf(po);
    if (i >= 0) this.hooks.splice(i, 1);
  }

  sentBy(skb: SkBuff, po: PacketSock): void {
    this.senders.set(skb, po);
  }

  get count(): number {
    return this.live;
  }

  /**
   * The receive taps of __netif_receive_skb_core: `skb.data` is at the network header (the
   * Ethernet header just before it). True when some hook matched the frame — Linux then has a
   * handler for it, so an unknown ethertype is not counted in rx_nohandler.
   */
  receive(skb: SkBuff, dev: NetDevice): boolean {
    if (this.hooks.length === 0) return false;
    let matched = false;
    const frame: TapFrame = { skb, mac: skb.data - ETH_HLEN, protocol: skb.protocol, pktType: skb.pktType, ifindex: dev.ifindex, tstamp: skb.tstamp || this.stack.sim.now };
    for (const po of this.hooks) {
      if (po.ifindex !== 0 && po.ifindex !== dev.ifindex) continue;
      if (po.num !== ETH_P_ALL && po.num !== skb.protocol) continue;
      matched = true;
      this.deliver(po, frame);
    }
    return matched;
  }

  /** dev_queue_xmit_nit: `skb.data` is at the Ethernet header of a frame about to be sent. */
  transmit(skb: SkBuff, dev: NetDevice): void {
    if (this.hooks.length === 0 || skb.len < ETH_HLEN) return;
    const sender = this.senders.get(skb);
    const b = skb.bytes;
    const frame: TapFrame = { skb, mac: skb.data, protocol: (b[skb.data + 12]! << 8) | b[skb.data + 13]!, pktType: PACKET_OUTGOING, ifindex: dev.ifindex, tstamp: this.stack.sim.now };
    for (const po of this.hooks) {
      if (po.num !== ETH_P_ALL || po === sender) continue;
      if (po.ifindex !== 0 && po.ifindex !== dev.ifindex) continue;
      this.deliver(po, frame);
    }
  }

  /**
   * packet_rcv / tpacket_rcv for one socket: run its filter over what the socket type sees
   * (0 drops silently, as drop_n_restore does; otherwise it caps the bytes kept), then queue a
   * copy or fill a ring frame.
   */
  private deliver(po: PacketSock, f: TapFrame): void {
    const start = po.type === SOCK_RAW ? f.mac : f.mac + ETH_HLEN;
    const len = f.skb.tail - start;
    let snaplen = len;
    if (this.stack.filter) {
      const pkt = { ...skbPacket(f.skb, start, f.mac), network: f.mac + ETH_HLEN, protocol: f.protocol, pktType: f.pktType, ifindex: f.ifindex };
      const res = this.stack.filter.verdict(po, pkt, len);
      if (res === 0) return;
      if (snaplen > res) snaplen = res;
    }
    if (po.ring) return this.tpacketRcv(po, po.ring, f, start, len, snaplen);
    if (po.rmemAlloc >= po.rcvbuf) return this.dropAccount(po);
    const hdr = start - f.mac;
    // Copy the Ethernet header even when the filter keeps less: recvfrom reports its source.
    const n = Math.min(Math.max(ETH_HLEN, hdr + snaplen), f.skb.tail - f.mac);
    const copy = allocSkb(this.stack.skbs, n);
    if (!copy) return this.dropAccount(po);
    const at = copy.put(n);
    copy.bytes.copyWithin(at, f.mac, f.mac + n);
    copy.trim(hdr + snaplen);
    copy.networkHeader = at + ETH_HLEN;
    copy.pull(hdr);
    copy.protocol = f.protocol;
    copy.pktType = f.pktType;
    copy.ifindex = f.ifindex;
    copy.tstamp = f.tstamp;
    this.stack.env.cpu.charge(this.stack.env.cpu.cycles.copyByte * n);
    if (!po.queueRcv(copy)) {
      copy.free();
      return this.dropAccount(po);
    }
    po.tpPackets++;
  }

  /** drop_n_acct: the frame was for this socket but there was no room for it. */
  private dropAccount(po: PacketSock): void {
    po.tpDrops++;
    po.drops++;
  }

  /** tpacket_rcv (TPACKET_V2): where the frame goes in a ring slot, and the copy. */
  private tpacketRcv(po: PacketSock, ring: PacketRing, f: TapFrame, start: number, len: number, snaplen: number): void {
    let macoff: number;
    let netoff: number;
    if (po.type === SOCK_DGRAM) {
      macoff = netoff = tpacketAlign(TPACKET2_HDRLEN) + 16;
    } else {
      netoff = tpacketAlign(TPACKET2_HDRLEN + Math.max(16, ETH_HLEN));
      macoff = netoff - ETH_HLEN;
    }
    if (macoff + snaplen > ring.frameSize) snaplen = Math.max(0, ring.frameSize - macoff);
    const srcAddr = f.skb.bytes.slice(f.mac + 6, f.mac + 12);
    const flags = po.tpDrops > 0 ? TP_STATUS_LOSING : 0;
    const filled = ring.fill(start, { len, snaplen, mac: macoff, net: netoff, tstampNs: f.tstamp, flags, protocol: f.protocol, ifindex: f.ifindex, pktType: f.pktType, srcAddr });
    if (!filled) {
      po.tpDrops++; // a full ring: tp_drops only (sk_drops is packet_rcv's)
    } else {
      po.tpPackets++;
      this.stack.env.cpu.charge(this.stack.env.cpu.cycles.copyByte * snaplen);
    }
    po.onReadable?.();
  }
}

