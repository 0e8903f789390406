/**
 * The networking Kconfig symbols quarklab models, and what each one costs; plus the kernel
 * core's slab allocator choice (SLOB or SLUB), which costs nothing here but decides how RAM is carved.
 *
 * A profile is a set of these symbols. Each symbol names the Linux 6.1 objects (calibration
 * `objects`, "Linux 6.1 i386 -Os, measured") that turning it off removes, so a profile's flash
 * and RAM cost is the sum of its symbols' objects. The seed's switches ("net, diet:", 2014) are
 * not in mainline, so in 6.1 their code is built unconditionally; the assignment below is what
 * an LTO build with the switch off would drop (calibration/README.md, "The seed's switches").
 *
 * Every net/ object of the calibration is either assigned to exactly one symbol here or listed
 * in `notModelled` with a reason; the drivers/net/ objects of the board's MAC and PHY are
 * `driverObjects` and belong to the board, not to a profile. test/kconfig.test.ts checks that
 * nothing is silently dropped or counted twice.
 *
 * IPv6 and Unix sockets are out of scope: no profile has them and no symbol here turns them on.
 */

/** How a `share` of an object is charged. */
export type ShareBasis =
  /** The feature's code lives inside an object owned by another symbol (its `depends`):
   * the owner is charged the rest, so owner + feature = the whole object. */
  | 'carved'
  /** The 2014 feature was a smaller rewrite of an object another symbol owns; the two are
   * alternatives (a choice) and this one is charged a fraction of that object. */
  | 'rewrite';

export interface ObjectShare {
  object: string;
  fraction: number;
  basis: ShareBasis;
  why: string;
}

export interface KconfigSymbol {
  /** Kconfig name without the CONFIG_ prefix, as Linux (or the 2014 series) spells it. */
  name: string;
  help: string;
  /** Symbols that must be y for this one to be y. */
  depends: readonly string[];
  /** Calibration object paths this symbol costs in full. */
  objects: readonly string[];
  /** A stated fraction of an object, for features with no object of their own in 6.1. */
  share?: ObjectShare;
  /** Choice group: when its members' dependencies hold, exactly one member is y. */
  choice?: string;
  /** The choice's default: y when a fragment sets no member of its choice (Kconfig's `default`). */
  choiceDefault?: true;
  /** Why a debatable object sits under this symbol (object path → reason). */
  notes?: Readonly<Record<string, string>>;
}

/** Fraction of fib_trie.o charged to FIB_LIST. */
const FIB_LIST_FRACTION = 0.35;
/** Fraction of af_packet.o that is the mmap'd ring code (PACKET_MMAP). */
const PACKET_MMAP_FRACTION = 0.45;

const SYMBOL_TABLE = [
  {
    name: 'NET',
    help:
      'Networking core: the socket layer, sk_buff, net_device and the receive/transmit path, ' +
      'the neighbour layer, Ethernet framing, the default qdisc and the loopback device.',
    depends: [],
    objects: [
      'net/socket.o',
      'net/devres.o',
      'net/ethernet/eth.o',
      'net/core/datagram.o',
      'net/core/dev.o',
      'net/core/dev_addr_lists.o',
      'net/core/dev_ioctl.o',
      'net/core/dst.o',
      'net/core/fib_notifier.o',
      'net/core/flow_dissector.o',
      'net/core/gen_stats.o',
      'net/core/link_watch.o',
      'net/core/neighbour.o',
      'net/core/net-sysfs.o',
      'net/core/net_namespace.o',
      'net/core/netevent.o',
      'net/core/scm.o',
      'net/core/skbuff.o',
      'net/core/sock.o',
      'net/core/utils.o',
      'net/core/xdp.o',
      'net/sched/sch_generic.o',
      'drivers/net/loopback.o',
    ],
    notes: {
      'net/core/dev_ioctl.o': 'SIOCSIFADDR and friends: the only configuration path left in the minimal profile',
      'net/core/flow_dissector.o': 'skb_get_hash() for transmit queue selection; built unconditionally',
      'net/core/gen_stats.o': 'the default qdisc (sch_generic) keeps its byte/packet counters with it',
      'net/core/net-sysfs.o': '/sys/class/net; most of it is under SYSFS, which the kernel core build carries',
      'net/core/xdp.o': 'xdp_rxq_info registration, which the stmmac driver calls even with no XDP program',
      'net/sched/sch_generic.o': 'pfifo_fast and dev_activate(): every transmit goes through a qdisc',
      'drivers/net/loopback.o': 'lo is part of the stack (CONFIG_NET builds it), not of the board',
    },
  },
  {
    name: 'INET',
    help:
      'The always-present IPv4 core: ARP, IP input/output/options/fragments, ICMP, UDP, TCP with ' +
      'cubic congestion control, routing (route cache, FIB front end and semantics), devinet ' +
      'addresses and the AF_INET socket family. The routing table itself is FIB_TRIE or FIB_LIST.',
    depends: ['NET'],
    objects: [
      'net/core/request_sock.o',
      'net/core/secure_seq.o',
      'net/core/sock_reuseport.o',
      'net/core/stream.o',
      'net/ipv4/af_inet.o',
      'net/ipv4/arp.o',
      'net/ipv4/datagram.o',
      'net/ipv4/devinet.o',
      'net/ipv4/fib_frontend.o',
      'net/ipv4/fib_notifier.o',
      'net/ipv4/fib_semantics.o',
      'net/ipv4/icmp.o',
      'net/ipv4/inet_connection_sock.o',
      'net/ipv4/inet_fragment.o',
      'net/ipv4/inet_hashtables.o',
      'net/ipv4/inet_timewait_sock.o',
      'net/ipv4/inetpeer.o',
      'net/ipv4/ip_forward.o',
      'net/ipv4/ip_fragment.o',
      'net/ipv4/ip_input.o',
      'net/ipv4/ip_options.o',
      'net/ipv4/ip_output.o',
      'net/ipv4/ip_sockglue.o',
      'net/ipv4/metrics.o',
      'net/ipv4/protocol.o',
      'net/ipv4/route.o',
      'net/ipv4/tcp.o',
      'net/ipv4/tcp_cong.o',
      'net/ipv4/tcp_cubic.o',
      'net/ipv4/tcp_input.o',
      'net/ipv4/tcp_ipv4.o',
      'net/ipv4/tcp_minisocks.o',
      'net/ipv4/tcp_output.o',
      'net/ipv4/tcp_rate.o',
      'net/ipv4/tcp_recovery.o',
      'net/ipv4/tcp_timer.o',
      'net/ipv4/tcp_ulp.o',
      'net/ipv4/udp.o',
    ],
    notes: {
      'net/core/request_sock.o': 'TCP listen queues; lives in net/core but only INET uses it',
      'net/core/secure_seq.o': 'TCP initial sequence numbers and ephemeral port offsets',
      'net/core/sock_reuseport.o': 'SO_REUSEPORT groups, used by the TCP and UDP hash tables',
      'net/core/stream.o': 'sk_stream_* memory waits: TCP is its only user here',
      'net/ipv4/fib_semantics.o': 'fib_info and next hops: shared by FIB_TRIE and FIB_LIST (the 2014 fib_list.c kept it)',
      'net/ipv4/ip_forward.o': 'forwarding is a sysctl away in every Linux IPv4 build; no 2014 switch removed it',
      'net/ipv4/tcp_cubic.o': 'the default congestion control (TCP_CONG_CUBIC=y in every calibrated build)',
      'net/ipv4/tcp_ulp.o': 'the upper-layer-protocol hook (kTLS); built unconditionally, 346 bytes',
    },
  },
  {
    name: 'TCP_FASTOPEN',
    help: 'TCP Fast Open (RFC 7413): data in the SYN, the cookie context and its key.',
    depends: ['INET'],
    objects: ['net/ipv4/tcp_fastopen.o'],
  },
  {
    name: 'TCP_METRICS',
    help:
      'Per-destination cache of RTT, RTT variance and ssthresh (tcp_metrics_block), and its ' +
      'generic-netlink interface when NETLINK is on.',
    depends: ['INET'],
    objects: ['net/ipv4/tcp_metrics.o'],
  },
  {
    name: 'SYN_COOKIES',
    help: 'SYN cookies: answer a full listen queue without keeping request socks (already optional upstream).',
    depends: ['INET'],
    objects: ['net/ipv4/syncookies.o'],
  },
  {
    name: 'INET_RAW',
    help: 'Raw IPv4 sockets (SOCK_RAW). Without it socket(AF_INET, SOCK_RAW, …) fails with EPROTONOSUPPORT.',
    depends: ['INET'],
    objects: ['net/ipv4/raw.o'],
  },
  {
    name: 'IP_PING',
    help: 'ICMP datagram ("ping") sockets: unprivileged ping without raw sockets.',
    depends: ['INET'],
    objects: ['net/ipv4/ping.o'],
  },
  {
    name: 'FIB_TRIE',
    help: 'The LC-trie routing table: scales to full Internet tables.',
    depends: ['INET'],
    objects: ['net/ipv4/fib_trie.o'],
    choice: 'FIB',
  },
  {
    name: 'FIB_LIST',
    help:
      'A linear list routing table for fewer than ~10 routes (the 2014 fib_list.c, "fib_trie.c ' +
      'with all the trie code removed"). Same lookups and netlink/ioctl behaviour as FIB_TRIE, ' +
      'less /proc output.',
    depends: ['INET'],
    objects: [],
    choice: 'FIB',
    share: {
      object: 'net/ipv4/fib_trie.o',
      fraction: FIB_LIST_FRACTION,
      basis: 'rewrite',
      why:
        'no 6.1 object: modelled as 35% of fib_trie.o, the ratio of the 2014 fib_list.c ' +
        '(22,084 characters of source) to a fib_trie.c of the same lineage (~63,000); a ' +
        'source-size estimate, not a measurement',
    },
  },
  {
    name: 'IP_OFFLOAD',
    help:
      'GRO/GSO offload callbacks for TCP, UDP and GRE and the GRO engine (napi_gro_receive ' +
      'falls back to plain netif_receive_skb without it).',
    depends: ['INET'],
    objects: [
      'net/core/gro.o',
      'net/core/tso.o',
      'net/ipv4/tcp_offload.o',
      'net/ipv4/udp_offload.o',
      'net/ipv4/gre_offload.o',
    ],
    notes: {
      'net/core/tso.o': 'software-TSO helpers for drivers: segmentation offload support',
      'net/ipv4/gre_offload.o': "GRE's GSO/GRO callbacks, registered by every 6.1 IPv4 build; offload code",
    },
  },
  {
    name: 'IP_MULTICAST',
    help:
      'IGMP and multicast group membership ("about 20 KB" in the 2014 branch help). 6.1 still ' +
      'links a 5.4 KB igmp.o without it (all-hosts membership); this model charges the whole object here.',
    depends: ['INET'],
    objects: ['net/ipv4/igmp.o'],
  },
  {
    name: 'NETLINK',
    help:
      'AF_NETLINK sockets and generic netlink: the transport under rtnetlink, ethtool netlink, ' +
      'sock_diag and the TCP metrics interface.',
    depends: ['NET'],
    objects: ['net/netlink/af_netlink.o', 'net/netlink/genetlink.o', 'net/netlink/policy.o'],
    notes: {
      'net/netlink/af_netlink.o': 'not switchable in Linux; modelled so the minimal profile can drop it with its users',
    },
  },
  {
    name: 'RTNETLINK',
    help:
      'rtnetlink (NETLINK_ROUTE): links, addresses, routes and next hops by netlink, as iproute2 ' +
      'uses. Without it configuration is by ioctl only ("old ifconfig can do without it").',
    depends: ['NETLINK'],
    objects: ['net/core/rtnetlink.o', 'net/ipv4/netlink.o', 'net/ipv4/nexthop.o'],
    notes: {
      'net/ipv4/nexthop.o': 'next-hop objects exist only through RTM_NEWNEXTHOP; without rtnetlink LTO drops them',
      'net/ipv4/netlink.o': 'RTM_GETROUTE attribute parsing',
    },
  },
  {
    name: 'NET_ETHTOOL',
    help: 'ethtool driver queries and settings through the SIOCETHTOOL ioctl.',
    depends: ['NET'],
    objects: ['net/ethtool/ioctl.o', 'net/ethtool/common.o'],
  },
  {
    name: 'ETHTOOL_NETLINK',
    help: 'The ethtool generic-netlink interface (ethtool ≥ 5.6 prefers it, falls back to the ioctl).',
    depends: ['NET_ETHTOOL', 'NETLINK'],
    objects: [
      'net/ethtool/bitset.o',
      'net/ethtool/cabletest.o',
      'net/ethtool/channels.o',
      'net/ethtool/coalesce.o',
      'net/ethtool/debug.o',
      'net/ethtool/eee.o',
      'net/ethtool/eeprom.o',
      'net/ethtool/features.o',
      'net/ethtool/fec.o',
      'net/ethtool/linkinfo.o',
      'net/ethtool/linkmodes.o',
      'net/ethtool/linkstate.o',
      'net/ethtool/module.o',
      'net/ethtool/netlink.o',
      'net/ethtool/pause.o',
      'net/ethtool/phc_vclocks.o',
      'net/ethtool/privflags.o',
      'net/ethtool/pse-pd.o',
      'net/ethtool/rings.o',
      'net/ethtool/stats.o',
      'net/ethtool/strset.o',
      'net/ethtool/tsinfo.o',
      'net/ethtool/tunnels.o',
      'net/ethtool/wol.o',
    ],
  },
  {
    name: 'LPF_FILTER',
    help:
      'Socket filters (SO_ATTACH_FILTER, classic BPF). 6.1\'s filter.o also carries eBPF and is ' +
      'far larger than 2014\'s (65 KB against a few KB).',
    depends: ['NET'],
    objects: ['net/core/filter.o'],
  },
  {
    name: 'PACKET',
    help: 'Packet sockets (AF_PACKET): raw link-layer access for DHCP clients and tcpdump.',
    depends: ['NET'],
    objects: ['net/packet/af_packet.o'],
  },
  {
    name: 'PACKET_MMAP',
    help: "Packet sockets' mmap'd TPACKET_V1–V3 rings (PACKET_RX_RING / PACKET_TX_RING).",
    depends: ['PACKET'],
    objects: [],
    share: {
      object: 'net/packet/af_packet.o',
      fraction: PACKET_MMAP_FRACTION,
      basis: 'carved',
      why:
        'the ring code is part of af_packet.o: modelled as 45% of it, the share of af_packet.c ' +
        'source taken by the prb_* block engine, frame helpers, tpacket_rcv, tpacket_snd, ' +
        'packet_set_ring and packet_mmap; a source-size estimate, not a measurement',
    },
  },
  {
    name: 'PROC_FS',
    help:
      "The stack's procfs interfaces: the SNMP/MIB counters and /proc/net files, and the " +
      '/proc/sys/net tunables (which Linux also serves from procfs). The kernel core keeps ' +
      'procfs itself; this symbol is only the networking part.',
    depends: ['NET'],
    objects: [
      'net/core/net-procfs.o',
      'net/ipv4/proc.o',
      'net/core/sysctl_net_core.o',
      'net/ipv4/sysctl_net_ipv4.o',
      'net/sysctl_net.o',
    ],
    notes: {
      'net/core/sysctl_net_core.o': '/proc/sys/net/core: PROC_SYSCTL depends on PROC_FS in Linux too',
      'net/ipv4/sysctl_net_ipv4.o': '/proc/sys/net/ipv4 (tcp_rmem, tcp_mem …); defaults still apply without it',
      'net/sysctl_net.o': 'the per-netns sysctl root',
    },
  },
  {
    name: 'INET_DIAG',
    help: 'Socket monitoring over netlink (sock_diag, inet_diag, tcp_diag): what ss(8) uses.',
    depends: ['INET', 'NETLINK'],
    objects: ['net/core/sock_diag.o', 'net/ipv4/inet_diag.o', 'net/ipv4/tcp_diag.o'],
  },
  {
    name: 'NET_SCHED',
    help:
      'The packet scheduler API (tc): configurable qdiscs, rate estimators, the mq root and ' +
      'the flow-offload infrastructure. Without it every device keeps the default pfifo_fast.',
    depends: ['NET', 'RTNETLINK'],
    objects: [
      'net/sched/sch_api.o',
      'net/sched/sch_blackhole.o',
      'net/sched/sch_fifo.o',
      'net/sched/sch_mq.o',
      'net/sched/sch_frag.o',
      'net/core/gen_estimator.o',
      'net/core/flow_offload.o',
    ],
    notes: {
      'net/sched/sch_mq.o': 'the multi-queue root; the Quark MAC model has one transmit queue',
      'net/sched/sch_frag.o': 'fragment handling for tc actions (act_ct)',
      'net/core/gen_estimator.o': 'rate estimators are only set up through tc',
      'net/core/flow_offload.o': 'flow_block/flow_rule: offloading tc (and netfilter) rules to hardware',
    },
  },
  {
    name: 'NET_SCH_FQ_CODEL',
    help: 'The fq_codel qdisc (fair queueing with CoDel AQM).',
    depends: ['NET_SCHED'],
    objects: ['net/sched/sch_fq_codel.o'],
  },
  {
    name: 'NET_SCH_DEFAULT',
    help:
      'Allow override of the default queueing discipline (net/sched/Kconfig): the DEFAULT_NET_SCH ' +
      'choice below picks it; without it every device gets pfifo_fast. No objects: the code is sch_api.c.',
    depends: ['NET_SCHED'],
    objects: [],
  },
  {
    name: 'DEFAULT_FQ_CODEL',
    help: 'fq_codel as the default qdisc (CONFIG_DEFAULT_NET_SCH="fq_codel"). No objects.',
    depends: ['NET_SCH_DEFAULT', 'NET_SCH_FQ_CODEL'],
    objects: [],
    choice: 'DEFAULT_NET_SCH',
  },
  {
    name: 'DEFAULT_PFIFO_FAST',
    help: 'pfifo_fast as the default qdisc (CONFIG_DEFAULT_NET_SCH="pfifo_fast"), Kconfig\'s default. No objects.',
    depends: ['NET_SCH_DEFAULT'],
    objects: [],
    choice: 'DEFAULT_NET_SCH',
  },
  {
    name: 'BASE_SMALL',
    help:
      'Shrink the stack\'s hash tables (2014 branch): ' +
      'IP fragment hash 1024→16 (depth 128→32), TCP established/bind hash to 16 ' +
      '(max_tw_buckets = max_orphans = 8), UDP hash 16 raised to the floor of 128. No objects. ' +
      'Linux 6.1 itself sizes only UDP_HTABLE_SIZE_MIN (256→128) by it among these; the rest are the branch\'s. ' +
      'The branch also cut the netdev name/ifindex hashes to 4 buckets; quarklab follows 6.1 there, ' +
      'which keeps NETDEV_HASHBITS 8 (include/net/net_namespace.h): both hashes are 256 buckets, ' +
      'two kmalloc(1024) at boot on every profile.',
    depends: [],
    objects: [],
  },
  // The kernel core's slab allocator (mm/Kconfig's "Choose SLAB allocator" in Linux 6.1: SLAB,
  // SLUB or SLOB; SLUB_TINY came in 6.2). Not a networking switch, but every object the stack
  // allocates comes out of it, so the board models the one the profile chooses.
  {
    name: 'SLUB',
    help:
      'SLUB (mm/slub.c): per-cache slabs of whole pages, objects packed at their aligned size, ' +
      'kmalloc in power-of-two size classes, empty slabs kept up to min_partial. Linux 6.1 ' +
      "Kconfig's default. No objects, and no measured cost: every calibration build (tiny, core, " +
      'core+net-full) ran SLOB, so the difference between mm/slub.o and mm/slob.o is not in the ' +
      'table; a SLUB profile is charged the same SLOB-built kernel core, low by that unmeasured amount.',
    depends: [],
    objects: [],
    choice: 'SLAB_ALLOCATOR',
  },
  {
    name: 'SLOB',
    help:
      'SLOB (mm/slob.c): every cache and kmalloc size shares the same pages, first fit inside a ' +
      'page on three lists by request size, an 8-byte size header on each kmalloc block (i386). ' +
      'What tinyconfig selects and what every calibration build ran, so it is quarklab\'s default ' +
      '(Linux 6.1 has it depend on EXPERT, which tinyconfig turns on). No objects: mm/ is in the ' +
      'measured kernel core.',
    depends: [],
    objects: [],
    choice: 'SLAB_ALLOCATOR',
    choiceDefault: true,
  },
] as const satisfies readonly KconfigSymbol[];

export const SYMBOLS: readonly KconfigSymbol[] = SYMBOL_TABLE;

/** A Kconfig symbol quarklab models, by name (no CONFIG_ prefix): a typo does not compile. */
export type SymbolName = (typeof SYMBOL_TABLE)[number]['name'];

/** Compile-time check: every `depends` entry names a symbol of the table (a typo there fails tsc). */
type DependsName = (typeof SYMBOL_TABLE)[number]['depends'][number];
export type DependsAreSymbols = DependsName extends SymbolName ? true : never;
const dependsAreSymbols: DependsAreSymbols = true;
void dependsAreSymbols;

/** What stack code asks of a profile: is this symbol y? */
export interface EnabledSymbols {
  has(name: SymbolName): boolean;
}

/** net/ objects pulled in by the board's drivers (page_pool for stmmac RX rings, PTP
 * classification for its timestamping, PHY self-tests via PHYLIB): charged to the board. */
export const driverSupportObjects: readonly string[] = [
  'net/core/page_pool.o',
  'net/core/ptp_classifier.o',
  'net/core/selftests.o',
];

/** Not modelled: Linux objects that no quarklab profile contains, and why. */
export const notModelled: readonly { object: string; reason: string }[] = [
  ...[
    'addrconf.o', 'addrconf_core.o', 'addrlabel.o', 'af_inet6.o', 'anycast.o', 'datagram.o',
    'exthdrs.o', 'exthdrs_core.o', 'exthdrs_offload.o', 'fib6_notifier.o', 'icmp.o',
    'inet6_connection_sock.o', 'inet6_hashtables.o', 'ioam6.o', 'ip6_checksum.o', 'ip6_fib.o',
    'ip6_flowlabel.o', 'ip6_icmp.o', 'ip6_input.o', 'ip6_offload.o', 'ip6_output.o',
    'ipv6_sockglue.o', 'mcast.o', 'mcast_snoop.o', 'ndisc.o', 'output_core.o', 'ping.o',
    'proc.o', 'protocol.o', 'raw.o', 'reassembly.o', 'route.o', 'rpl.o', 'seg6.o', 'sit.o',
    'syncookies.o', 'sysctl_net_ipv6.o', 'tcp_ipv6.o', 'tcpv6_offload.o', 'udp.o',
    'udp_offload.o', 'udplite.o',
  ].map((o) => ({
    object: `net/ipv6/${o}`,
    reason:
      'IPv6 is out of scope (no profile has it). 6.1 links ~6 KB of net/ipv6 helpers even with ' +
      'IPV6 off; an IPv4-only LTO build drops them',
  })),
  ...['af_unix.o', 'garbage.o', 'sysctl_net_unix.o'].map((o) => ({
    object: `net/unix/${o}`,
    reason: 'Unix-domain sockets are out of scope (no profile has them): quarklab models the network stack',
  })),
  ...['net/ipv4/ip_tunnel.o', 'net/ipv4/ip_tunnel_core.o', 'net/ipv4/tunnel4.o', 'net/ipv4/udp_tunnel_stub.o',
    'net/core/dst_cache.o', 'net/core/gro_cells.o'].map((object) => ({
    object,
    reason: 'IP tunnels (NET_IP_TUNNEL, INET_TUNNEL, SIT and their dst_cache/gro_cells) are not modelled',
  })),
  { object: 'net/core/fib_rules.o', reason: 'policy routing (IP_MULTIPLE_TABLES) is not modelled: the FIB has the local and main tables only' },
  { object: 'net/ipv4/fib_rules.o', reason: 'policy routing (IP_MULTIPLE_TABLES) is not modelled: the FIB has the local and main tables only' },
  { object: 'net/ipv4/ipconfig.o', reason: 'kernel IP autoconfiguration (IP_PNP) is not modelled: boards run DHCP as a userland app' },
  ...['tcp_bic.o', 'tcp_htcp.o', 'tcp_westwood.o'].map((o) => ({
    object: `net/ipv4/${o}`,
    reason: 'alternative congestion controls (TCP_CONG_ADVANCED) are not modelled: TCP uses cubic',
  })),
  { object: 'net/ipv4/udplite.o', reason: 'UDP-Lite (RFC 3828) sockets are not modelled' },
  ...driverSupportObjects.map((object) => ({
    object,
    reason: 'selected by the board\'s MAC/PHY drivers (STMMAC_ETH, PHYLIB): a board cost, see driverSupportObjects',
  })),
];

/** The Quark X1000 MAC (stmmac, a Synopsys DesignWare MAC), its PCS and the PHY layer: board cost. */
export const driverObjects: readonly string[] = [
  'drivers/net/ethernet/stmicro/stmmac/chain_mode.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac-generic.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac1000_core.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac1000_dma.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac100_core.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac100_dma.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac4_core.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac4_descs.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac4_dma.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac4_lib.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac5.o',
  'drivers/net/ethernet/stmicro/stmmac/dwmac_lib.o',
  'drivers/net/ethernet/stmicro/stmmac/dwxgmac2_core.o',
  'drivers/net/ethernet/stmicro/stmmac/dwxgmac2_descs.o',
  'drivers/net/ethernet/stmicro/stmmac/dwxgmac2_dma.o',
  'drivers/net/ethernet/stmicro/stmmac/enh_desc.o',
  'drivers/net/ethernet/stmicro/stmmac/hwif.o',
  'drivers/net/ethernet/stmicro/stmmac/mmc_core.o',
  'drivers/net/ethernet/stmicro/stmmac/norm_desc.o',
  'drivers/net/ethernet/stmicro/stmmac/ring_mode.o',
  'drivers/net/ethernet/stmicro/stmmac/stmmac_ethtool.o',
  'drivers/net/ethernet/stmicro/stmmac/stmmac_hwtstamp.o',
  'drivers/net/ethernet/stmicro/stmmac/stmmac_main.o',
  'drivers/net/ethernet/stmicro/stmmac/stmmac_mdio.o',
  'drivers/net/ethernet/stmicro/stmmac/stmmac_platform.o',
  'drivers/net/ethernet/stmicro/stmmac/stmmac_ptp.o',
  'drivers/net/ethernet/stmicro/stmmac/stmmac_tc.o',
  'drivers/net/ethernet/stmicro/stmmac/stmmac_xdp.o',
  'drivers/net/mii.o',
  'drivers/net/pcs/pcs-xpcs-nxp.o',
  'drivers/net/pcs/pcs-xpcs.o',
  'drivers/net/phy/linkmode.o',
  'drivers/net/phy/mdio-boardinfo.o',
  'drivers/net/phy/mdio_bus.o',
  'drivers/net/phy/mdio_device.o',
  'drivers/net/phy/mdio_devres.o',
  'drivers/net/phy/phy-c45.o',
  'drivers/net/phy/phy-core.o',
  'drivers/net/phy/phy.o',
  'drivers/net/phy/phy_device.o',
  'drivers/net/phy/phylink.o',
  'drivers/net/phy/swphy.o',
];

/**
 * Real Linux symbols a user may copy from a kernel .config that quarklab does not model.
 * `=n` / "is not set" is accepted (they are off in every profile); `=y` is refused with the reason.
 */
export const unmodelledSymbols: Readonly<Record<string, string>> = {
  IPV6: 'IPv6 is out of scope',
  IPV6_SIT: 'IPv6 is out of scope',
  UNIX: 'Unix-domain sockets are out of scope',
  IP_ADVANCED_ROUTER: 'advanced routing is not modelled',
  IP_MULTIPLE_TABLES: 'policy routing is not modelled',
  IP_ROUTE_MULTIPATH: 'multipath routing is not modelled',
  FIB_RULES: 'policy routing is not modelled',
  IP_PNP: 'kernel IP autoconfiguration is not modelled (run DHCP as a userland app)',
  IP_PNP_DHCP: 'kernel IP autoconfiguration is not modelled (run DHCP as a userland app)',
  NET_IP_TUNNEL: 'IP tunnels are not modelled',
  INET_TUNNEL: 'IP tunnels are not modelled',
  TCP_CONG_ADVANCED: 'only cubic congestion control is modelled',
  TCP_CONG_BIC: 'only cubic congestion control is modelled',
  TCP_CONG_HTCP: 'only cubic congestion control is modelled',
  TCP_CONG_WESTWOOD: 'only cubic congestion control is modelled',
  INET_TCP_DIAG: 'folded into CONFIG_INET_DIAG',
  SYSCTL: 'the /proc/sys/net tunables are part of CONFIG_PROC_FS here',
  RPS: 'RPS depends on SMP and the Quark X1000 is uniprocessor',
  XPS: 'XPS depends on SMP and the Quark X1000 is uniprocessor',
  PAGE_POOL: 'selected by the board driver, not by a profile',
  NET_PTP_CLASSIFY: 'selected by the board driver, not by a profile',
  NET_SELFTESTS: 'selected by the board driver, not by a profile',
  SLAB: 'the SLAB allocator is not modelled; choose CONFIG_SLOB (the default) or CONFIG_SLUB',
};

const byName = new Map(SYMBOLS.map((s) => [s.name, s]));

export function findSymbol(name: string): KconfigSymbol | undefined {
  return byName.get(name);
}

export const symbolNames: readonly string[] = SYMBOLS.map((s) => s.name);
