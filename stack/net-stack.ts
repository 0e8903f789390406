/**
 * One board's network stack: the `struct net` that ties devices, neighbours, routes,
 * protocols and sockets together, built from the profile's enabled Kconfig symbols.
 *
 * A feature the profile leaves out is not constructed: its tables are not allocated and its
 * protocol handler is not registered, so packets for it take the path Linux without it takes.
 */
import type { SymbolName } from './kconfig/symbols.js';
import type { Cpu } from '../emulator/cpu.js';
import type { EthernetMac } from '../emulator/ethernet-mac.js';
import type { EventQueue } from '../emulator/event-queue.js';
import type { Prng } from '../emulator/prng.js';
import type { KernelMemory } from './core/kmem.js';
import { NetDevice } from './core/netdevice.js';
import { NeighTable } from './core/neighbour.js';
import { createSkbAllocator, type SkBuff, type SkbAllocator } from './core/skbuff.js';
import { Mib } from './core/snmp.js';
import { ProcNet } from './core/procfs.js';
import { StmmacDriver } from './drivers/stmmac.js';
import { Arp } from './ipv4/arp.js';
import type { Fib } from './ipv4/fib.js';
import { FibList } from './ipv4/fib-list.js';
import { Icmp } from './ipv4/icmp.js';
import { Ipv4 } from './ipv4/ip.js';
import { PingSockets } from './socket/ping-socket.js';
import { RawSockets } from './socket/raw-socket.js';
import { SocketTable } from './socket/socket-table.js';
import { UdpTable } from './ipv4/udp.js';
import { FibTrie } from './ipv4/fib-trie.js';
import { IpFragments } from './ipv4/ip-fragment.js';
import { Netlink } from './core/netlink.js';
import { Rtnetlink } from './core/rtnetlink.js';
import { SockDiag } from './core/sock-diag.js';
import { Genetlink } from './core/genetlink.js';
import { NETDEV_HASHENTRIES } from './core/hash-sizing.js';
import { registerEthtoolNetlink } from './core/ethtool-netlink.js';
import { TcpTable } from './ipv4/tcp.js';
import { devQueueXmit, netifReceiveSkb, xmitOne } from './core/dev.js';
import { Gro } from './core/gro.js';
import { DevAddrLists } from './core/dev-addr-lists.js';
import { Igmp } from './ipv4/igmp.js';
import { ipv4ProcInit } from './ipv4/proc.js';
import { inetDiagInit } from './ipv4/inet-diag.js';
import { devinetRtnlInit } from './ipv4/devinet.js';
import { fibRtnlInit } from './ipv4/fib-frontend.js';
import { SocketFilters } from './core/filter.js';
import { PacketSockets } from './packet/af-packet.js';
import { bootDefaultQdisc, configDefaultQdisc, qdiscCreateDefault } from './sched/sch-api.js';
import { qdiscRun, type HardStartXmit } from './sched/sch-generic.js';

/** sizeof(struct hlist_head) on i386: one pointer. */
const HLIST_HEAD_SIZE = 4;

/** The pahole sizes the stack allocates by; a cost table must have every one. */
export const STACK_STRUCTS = [
  'sk_buff', 'skb_shared_info', 'sk_buff_fclones', 'net', 'net_device', 'neighbour', 'neigh_table',
  'fib_alias', 'fib_info', 'fib_nh', 'fib_table', 'key_vector', 'tnode', 'in_ifaddr', 'file', 'socket_alloc',
  'sock', 'inet_sock', 'raw_sock', 'udp_sock', 'udp_hslot', 'tcp_sock', 'tcp_request_sock', 'tcp_timewait_sock',
  'inet_ehash_bucket', 'inet_bind_hashbucket', 'tcp_metrics_block', 'ipq', 'packet_sock', 'sk_filter', 'bpf_prog',
  'ip_mc_list', 'in_device',
] as const;

export interface StackEnv {
  name: string;
  sim: EventQueue;
  cpu: Cpu;
  mem: KernelMemory;
  rng: Prng;
  /** Enabled Kconfig symbols (without the CONFIG_ prefix). */
  config: ReadonlySet<string>;
  /** pahole sizes of kernel structures on the target (calibration `structs`). */
  structs: Readonly<Record<string, number>>;
  /** sysctl values from the board file, applied at boot (checked by applyBootSysctl). */
  sysctl?: Readonly<Record<string, string | number>>;
}

export interface InterfaceAddress {
  ifindex: number;
  addr: number;
  prefixLen: number;
  /** in_ifaddr in RAM. */
  structAddr: number;
}

export class NetStack {
  readonly mib = new Mib();
  /** /proc/net: the files each part of the stack registers at init (read with PROC_FS). */
  readonly procNet = new ProcNet();
  readonly skbs: SkbAllocator;
  readonly devices: NetDevice[] = [];
  readonly drivers = new Map<number, StmmacDriver>();
  readonly addresses: InterfaceAddress[] = [];
  readonly arp: Arp;
  readonly neigh: NeighTable;
  readonly fib: Fib;
  readonly ip: Ipv4;
  readonly icmp: Icmp;
  readonly sockets: SocketTable;
  readonly ping: PingSockets | null;
  readonly raw: RawSockets | null;
  udp: UdpTable | null = null;
  tcp: TcpTable | null = null;
  ipfrag: IpFragments | null = null;
  /** AF_NETLINK (CONFIG_NETLINK) and its NETLINK_ROUTE family (CONFIG_RTNETLINK). */
  readonly netlink: Netlink | null;
  readonly rtnl: Rtnetlink | null;
  /** NETLINK_SOCK_DIAG with inet_diag/tcp_diag (CONFIG_INET_DIAG), or null: the family does not exist. */
  readonly sockDiag: SockDiag | null;
  readonly genl: Genetlink | null;
  /** Socket filters (CONFIG_LPF_FILTER) and packet sockets with their taps (CONFIG_PACKET). */
  readonly filter: SocketFilters | null;
  readonly packet: PacketSockets | null;
  /** Devices' multicast address lists and promiscuity (dev_mc_add, dev_set_promiscuity): core, always present. */
  readonly devAddr = new DevAddrLists(this);
  /** IGMP and multicast memberships (CONFIG_IP_MULTICAST), or null: no group is ever joined. */
  readonly igmp: Igmp | null;
  /** Interface/route configuration requests handled, by path: which one a program used. */
  readonly configStats = { rtnetlink: 0, ioctl: 0 };
  /** default_qdisc_ops: the kind dev_activate attaches (Kconfig's, or net.core.default_qdisc). */
  defaultQdisc: string;
  /** xmit_one bound to this stack: what the qdisc layer calls to reach the driver. */
  readonly hardStartXmit: HardStartXmit = (dev, skb) => xmitOne(this, dev, skb);
  /** Static allocations made at init (hash tables, per-netns state), for the boot memory map. */
  readonly initAllocations: { name: string; addr: number; bytes: number }[] = [];

  constructor(readonly env: StackEnv) {
    // Boot refuses a profile without these (scenarios/boot.ts, missingStackSymbol): everything
    // below is IPv4 on a network stack, and constructing it anyway would run it for free.
    for (const sym of ['NET', 'INET']) if (!env.config.has(sym)) throw new Error(`NetStack needs CONFIG_${sym}`);
    const s = env.structs;
    this.skbs = createSkbAllocator(env.mem, s['sk_buff']!, s['skb_shared_info']!, s['sk_buff_fclones']!);
    this.staticAlloc('struct net (init_net)', s['net']!);
    // netdev_init: the name and ifindex hashes of init_net, 256 hlist_heads each on every
    // profile (6.1's NETDEV_HASHBITS, not the 2014 branch's BASE_SMALL size: core/hash-sizing.ts).
    const netdevHash = NETDEV_HASHENTRIES * HLIST_HEAD_SIZE;
    this.staticAlloc('netdev name hash (dev_name_head)', netdevHash);
    this.staticAlloc('netdev index hash (dev_index_head)', netdevHash);
    // Checked before boot (scenarios/boot.ts), so an error here only keeps Kconfig's choice.
    const q = bootDefaultQdisc(env.config, env.sysctl);
    this.defaultQdisc = 'kind' in q ? q.kind : configDefaultQdisc(env.config);
    this.arp = new Arp(this);
    this.neigh = this.arp.table;
    this.fib = this.has('FIB_TRIE') ? new FibTrie(env.mem, s) : new FibList(env.mem, s);
    this.ip = new Ipv4(this);
    this.icmp = new Icmp(this);
    this.sockets = new SocketTable(this);
    this.ping = this.has('IP_PING') ? new PingSockets(this) : null;
    this.raw = this.has('INET_RAW') ? new RawSockets(this) : null;
    this.tcp = new TcpTable(this);
    this.udp = new UdpTable(this);
    this.ipfrag = new IpFragments(this);
    this.netlink = this.has('NETLINK') ? new Netlink(this) : null;
    this.rtnl = this.netlink && this.has('RTNETLINK') ? new Rtnetlink(this, this.netlink) : null;
    this.sockDiag = this.netlink && this.has('INET_DIAG') ? new SockDiag(this.netlink) : null;
    // genl_init: NETLINK_GENERIC and nlctrl come with netlink; ethnl_init registers "ethtool".
    this.genl = this.netlink ? new Genetlink(this.netlink) : null;
    if (this.genl && this.has('ETHTOOL_NETLINK')) registerEthtoolNetlink(this, this.genl);
    this.filter = this.has('LPF_FILTER') ? new SocketFilters(this) : null;
    this.packet = this.has('PACKET') ? new PacketSockets(this) : null;
    // Last, so its random stream is split off after every other component's.
    this.igmp = this.has('IP_MULTICAST') ? new Igmp(this) : null;
    ipv4ProcInit(this);
    if (this.sockDiag) inetDiagInit(this, this.sockDiag);
    if (this.rtnl) {
      devinetRtnlInit(this, this.rtnl);
      fibRtnlInit(this, this.rtnl);
    }
  }

  /** A kernel timer expired: charge its dispatch (run_timer_softirq) to the CPU. */
  chargeTimer(): void {
    this.env.cpu.charge(this.env.cpu.cycles.timer);
  }

  has(symbol: SymbolName): boolean {
    return this.env.config.has(symbol);
  }

  get sim(): EventQueue {
    return this.env.sim;
  }

  /** A boot-time allocation that lives as long as the stack; fails loudly because boot needs it. */
  staticAlloc(name: string, bytes: number): number {
    const addr = this.env.mem.kmalloc(bytes);
    if (addr === 0) throw new Error(`out of memory at boot allocating ${name} (${bytes} bytes)`);
    this.initAllocations.push({ name, addr, bytes });
    return addr;
  }

  /** register_netdev + the stmmac probe: a net_device in RAM bound to this MAC. */
  registerNetdev(mac: EthernetMac, opts: { napiWeight: number; rxFrameBytes: number }): NetDevice {
    const ifindex = this.devices.length + 2; // ifindex 1 is lo
    const structAddr = this.staticAlloc(`net_device ${mac.name}`, this.env.structs['net_device']!);
    const dev = new NetDevice(`eth${this.devices.length}`, ifindex, mac.address, structAddr);
    const driver = new StmmacDriver(mac, dev, this.skbs, this.env.sim, this.env.cpu, opts, (skb) => netifReceiveSkb(this, dev, skb), () => this.txWake(dev));
    dev.ops = driver;
    if (this.has('IP_OFFLOAD')) driver.gro = new Gro(
        this.skbs,
        (skb) => netifReceiveSkb(this, dev, skb),
        () => this.env.cpu.charge(this.env.cpu.cycles.groSegment),
      );
    this.devices.push(dev);
    this.drivers.set(ifindex, driver);
    return dev;
  }

  /** dev_open: allocate the rings. False on -ENOMEM. */
  devOpen(dev: NetDevice): boolean {
    if (dev.up) return true;
    if (!dev.ops!.open()) return false;
    dev.up = true;
    // dev_activate: attach the default qdisc (its tables come from board RAM), once.
    if (dev.qdisc.kind === 'noop') {
      const hashrnd = this.defaultQdisc === 'fq_codel' ? this.env.rng.split('fq_codel').nextU32() : 0;
      dev.qdisc = qdiscCreateDefault(this.defaultQdisc, this.env.mem, dev, this.env.structs['Qdisc'], hashrnd);
    }
    // __dev_open: program the receive filter; then NETDEV_UP joins 224.0.0.1 (ip_mc_up).
    this.devAddr.setRxMode(dev);
    this.igmp?.mcUp(dev);
    return true;
  }

  device(ifindex: number): NetDevice | undefined {
    return this.devices.find((d) => d.ifindex === ifindex);
  }

  /** Send a complete Ethernet frame through the device's qdisc. */
  xmit(dev: NetDevice, skb: SkBuff): void {
    devQueueXmit(this, dev, skb);
  }

  /** netif_tx_wake_queue → __netif_schedule → net_tx_action: run the qdisc again. */
  private txWake(dev: NetDevice): void {
    qdiscRun(dev.qdisc, dev, this.env.sim.now, this.hardStartXmit);
  }

  /** Is `addr` one of ours (or a broadcast we accept)? */
  isLocalAddress(addr: number): boolean {
    if (addr === 0xffffffff) return true;
    for (const a of this.addresses) {
      if (a.addr === addr) return true;
      const hostMask = a.prefixLen >= 31 ? 0 : (0xffffffff >>> a.prefixLen);
      if (hostMask !== 0 && (addr | hostMask) >>> 0 === addr && ((addr & ~hostMask) >>> 0) === ((a.addr & ~hostMask) >>> 0)) return true;
    }
    return false;
  }

  primaryAddress(ifindex: number): number {
    return this.addresses.find((a) => a.ifindex === ifindex)?.addr ?? 0;
  }
}
