/**
 * The stack's /proc/net files (CONFIG_PROC_FS): net/ipv4/proc.c (snmp, netstat),
 * net/core/net-procfs.c (dev), net/ipv4/arp.c (arp), fib_trie.c (route), tcp_ipv4.c (tcp),
 * udp.c (udp) and igmp.c (igmp), in the 6.1 layouts: the same header lines, column order,
 * printf widths and padding, so a program that parses Linux's files parses these.
 *
 * Addresses print as Linux prints a __be32 with %08X on little-endian i386 (192.0.2.2 is
 * 020200C0); ports and everything else in host order. Timers show in USER_HZ clock ticks.
 * Counters the stack does not keep read 0 (they exist in the file, as in /proc, whether
 * anything touched them or not); where a value has no model it is documented at its column.
 * The lo device is not modelled, so it is in no file.
 *
 * Reading allocates the seq_file buffer (one page, kvmalloc) from board RAM for the duration
 * of the read: -ENOMEM when there is none. Without PROC_FS none of this is reachable
 * (stack/socket/syscalls.ts answers -ENOENT).
 */
import { NS_PER_SEC } from '../../emulator/event-queue.js';
import type { NetStack } from '../net-stack.js';
import { leBe32 } from '../ipv4/igmp.js';
import type { TcpSock, TcpState } from '../ipv4/tcp-sock.js';
import { prefixMask } from './addr.js';
import { UDP_MIB } from '../ipv4/udp.js';
import { TCP_MIB } from '../ipv4/tcp-sysctl.js';
import { Errno } from '../uapi/errno.js';

const PAGE_SIZE = 4096;
const USER_HZ = 100;

/** /proc/net/snmp's Ip line after Forwarding and DefaultTTL (snmp4_ipstats_list). */
export const SNMP4_IPSTATS = [
  'InReceives', 'InHdrErrors', 'InAddrErrors', 'ForwDatagrams', 'InUnknownProtos', 'InDiscards', 'InDelivers',
  'OutRequests', 'OutDiscards', 'OutNoRoutes', 'ReasmTimeout', 'ReasmReqds', 'ReasmOKs', 'ReasmFails', 'FragOKs',
  'FragFails', 'FragCreates',
] as const;

/** icmpmibmap: the per-type columns of the Icmp line, and the ICMP type each counts. */
const ICMP_MIB_MAP: readonly (readonly [string, number])[] = [
  ['DestUnreachs', 3], ['TimeExcds', 11], ['ParmProbs', 12], ['SrcQuenchs', 4], ['Redirects', 5], ['Echos', 8],
  ['EchoReps', 0], ['Timestamps', 13], ['TimestampReps', 14], ['AddrMasks', 17], ['AddrMaskReps', 18],
];

/** /proc/net/netstat's TcpExt line in 6.1 (snmp4_net_list). */
export const SNMP4_NET = [
  'SyncookiesSent', 'SyncookiesRecv', 'SyncookiesFailed', 'EmbryonicRsts', 'PruneCalled', 'RcvPruned', 'OfoPruned',
  'OutOfWindowIcmps', 'LockDroppedIcmps', 'ArpFilter', 'TW', 'TWRecycled', 'TWKilled', 'PAWSActive', 'PAWSEstab',
  'DelayedACKs', 'DelayedACKLocked', 'DelayedACKLost', 'ListenOverflows', 'ListenDrops', 'TCPHPHits', 'TCPPureAcks',
  'TCPHPAcks', 'TCPRenoRecovery', 'TCPSackRecovery', 'TCPSACKReneging', 'TCPSACKReorder', 'TCPRenoReorder',
  'TCPTSReorder', 'TCPFullUndo', 'TCPPartialUndo', 'TCPDSACKUndo', 'TCPLossUndo', 'TCPLostRetransmit',
  'TCPRenoFailures', 'TCPSackFailures', 'TCPLossFailures', 'TCPFastRetrans', 'TCPSlowStartRetrans', 'TCPTimeouts',
  'TCPLossProbes', 'TCPLossProbeRecovery', 'TCPRenoRecoveryFail', 'TCPSackRecoveryFail', 'TCPRcvCollapsed',
  'TCPBacklogCoalesce', 'TCPDSACKOldSent', 'TCPDSACKOfoSent', 'TCPDSACKRecv', 'TCPDSACKOfoRecv', 'TCPAbortOnData',
  'TCPAbortOnClose', 'TCPAbortOnMemory', 'TCPAbortOnTimeout', 'TCPAbortOnLinger', 'TCPAbortFailed',
  'TCPMemoryPressures', 'TCPMemoryPressuresChrono', 'TCPSACKDiscard', 'TCPDSACKIgnoredOld', 'TCPDSACKIgnoredNoUndo',
  'TCPSpuriousRTOs', 'TCPMD5NotFound', 'TCPMD5Unexpected', 'TCPMD5Failure', 'TCPSackShifted', 'TCPSackMerged',
  'TCPSackShiftFallback', 'TCPBacklogDrop', 'PFMemallocDrop', 'TCPMinTTLDrop', 'TCPDeferAcceptDrop',
  'IPReversePathFilter', 'TCPTimeWaitOverflow', 'TCPReqQFullDoCookies', 'TCPReqQFullDrop', 'TCPRetransFail',
  'TCPRcvCoalesce', 'TCPOFOQueue', 'TCPOFODrop', 'TCPOFOMerge', 'TCPChallengeACK', 'TCPSYNChallenge',
  'TCPFastOpenActive', 'TCPFastOpenActiveFail', 'TCPFastOpenPassive', 'TCPFastOpenPassiveFail',
  'TCPFastOpenListenOverflow', 'TCPFastOpenCookieReqd', 'TCPFastOpenBlackhole', 'TCPSpuriousRtxHostQueues',
  'BusyPollRxPackets', 'TCPAutoCorking', 'TCPFromZeroWindowAdv', 'TCPToZeroWindowAdv', 'TCPWantZeroWindowAdv',
  'TCPSynRetrans', 'TCPOrigDataSent', 'TCPHystartTrainDetect', 'TCPHystartTrainCwnd', 'TCPHystartDelayDetect',
  'TCPHystartDelayCwnd', 'TCPACKSkippedSynRecv', 'TCPACKSkippedPAWS', 'TCPACKSkippedSeq', 'TCPACKSkippedFinWait2',
  'TCPACKSkippedTimeWait', 'TCPACKSkippedChallenge', 'TCPWinProbe', 'TCPKeepAlive', 'TCPMTUPFail', 'TCPMTUPSuccess',
  'TCPDelivered', 'TCPDeliveredCE', 'TCPAckCompressed', 'TCPZeroWindowDrop', 'TCPRcvQDrop', 'TCPWqueueTooBig',
  'TCPFastOpenPassiveAltKey', 'TcpTimeoutRehash', 'TcpDuplicateDataRehash', 'TCPDSACKRecvSegs',
  'TCPDSACKIgnoredDubious', 'TCPMigrateReqSuccess', 'TCPMigrateReqFailure',
] as const;

/** /proc/net/netstat's IpExt line (snmp4_ipextstats_list). */
export const SNMP4_IPEXTSTATS = [
  'InNoRoutes', 'InTruncatedPkts', 'InMcastPkts', 'OutMcastPkts', 'InBcastPkts', 'OutBcastPkts', 'InOctets',
  'OutOctets', 'InMcastOctets', 'OutMcastOctets', 'InBcastOctets', 'OutBcastOctets', 'InCsumErrors', 'InNoECTPkts',
  'InECT1Pkts', 'InECT0Pkts', 'InCEPkts', 'ReasmOverlaps',
] as const;

/** TCP_ESTABLISHED … TCP_NEW_SYN_RECV (include/net/tcp_states.h), as /proc/net/tcp's st column. */
export const TCP_STATE: Readonly<Record<TcpState, number>> = {
  ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, FIN_WAIT1: 4, FIN_WAIT2: 5, TIME_WAIT: 6, CLOSED: 7, CLOSE_WAIT: 8,
  LAST_ACK: 9, LISTEN: 10, CLOSING: 11,
};
const TCP_INFINITE_SSTHRESH = 0x7fffffff;
/** TCP_ATO_MIN (HZ/25): the delayed-ACK timeout an established socket starts with. */
const TCP_ATO_MIN_NS = 40_000_000;

/** The files this stack serves, and who makes each. */
const FILES: Readonly<Record<string, (stack: NetStack) => string | null>> = {
  '/proc/net/snmp': snmp,
  '/proc/net/netstat': netstat,
  '/proc/net/dev': dev,
  '/proc/net/arp': arp,
  '/proc/net/route': route,
  '/proc/net/tcp': tcp,
  '/proc/net/udp': udp,
  // igmp.c registers the file only when it is built (CONFIG_IP_MULTICAST).
  '/proc/net/igmp': (stack) => stack.igmp?.procIgmp() ?? null,
};

/** The text of one /proc/net file, or -ENOENT / -ENOMEM. */
export function readProc(stack: NetStack, path: string): string | number {
  const make = Object.prototype.hasOwnProperty.call(FILES, path) ? FILES[path]! : null;
  if (!make) return -Errno.ENOENT;
  const buf = stack.env.mem.kmalloc(PAGE_SIZE); // seq_buf_alloc(PAGE_SIZE)
  if (buf === 0) return -Errno.ENOMEM;
  try {
    const text = make(stack);
    return text === null ? -Errno.ENOENT : text;
  } finally {
    stack.env.mem.kfree(buf);
  }
}

// ---- formatting helpers (the printf conversions the seq_show functions use) -----------------

function hex(n: number, width: number): string {
  return (n >>> 0).toString(16).toUpperCase().padStart(width, '0');
}

/** %08X of a __be32 on little-endian i386. */
function beHex(addr: number): string {
  return hex(leBe32(addr), 8);
}

function right(v: string | number, width: number): string {
  return String(v).padStart(width);
}

function left(v: string | number, width: number): string {
  return String(v).padEnd(width);
}

/** seq_setwidth + seq_pad: the record padded with spaces to `width`, then a newline. */
function padLine(s: string, width: number): string {
  return `${s.padEnd(width)}\n`;
}

/** jiffies_delta_to_clock_t: a time left (virtual ns) in clock ticks, never negative. */
function clockT(ns: number): number {
  return Math.max(0, Math.floor((ns * USER_HZ) / NS_PER_SEC));
}

function mibValue(stack: NetStack, group: string, name: string): number {
  return stack.mib.groups.get(group)?.[name] ?? 0;
}

function pairLines(prefix: string, names: readonly string[], values: readonly number[]): string {
  return `${prefix}: ${names.join(' ')}\n${prefix}: ${values.join(' ')}\n`;
}

// ---- /proc/net/snmp and /proc/net/netstat --------------------------------------------------

/**
 * snmp_seq_show: Ip (Forwarding 2 — this host does not forward — and DefaultTTL 64 first),
 * Icmp (per-type columns from the per-type counts), IcmpMsg (only the types seen, only when
 * there are any), Tcp (MaxConn signed), Udp, and UdpLite, whose socket type is not modelled
 * but whose line 6.1 always prints.
 */
function snmp(stack: NetStack): string {
  let out = pairLines('Ip', ['Forwarding', 'DefaultTTL', ...SNMP4_IPSTATS], [2, 64, ...SNMP4_IPSTATS.map((n) => mibValue(stack, 'Ip', n))]);
  // The per-type figures Linux keeps in icmpmsg_statistics; the stack counts these types.
  const icmp = stack.icmp.mib;
  const perType = (dir: 'In' | 'Out', type: number): number => {
    const name = ICMP_MIB_MAP.find(([, t]) => t === type)?.[0];
    return name ? (icmp[`${dir}${name}` as keyof typeof icmp] ?? 0) : 0;
  };
  const icmpNames = ['InMsgs', 'InErrors', 'InCsumErrors', ...ICMP_MIB_MAP.map(([n]) => `In${n}`), 'OutMsgs', 'OutErrors', ...ICMP_MIB_MAP.map(([n]) => `Out${n}`)];
  const icmpValues = [
    icmp['InMsgs'] ?? 0, icmp['InErrors'] ?? 0, icmp['InCsumErrors'] ?? 0, ...ICMP_MIB_MAP.map(([, t]) => perType('In', t)),
    icmp['OutMsgs'] ?? 0, icmp['OutErrors'] ?? 0, ...ICMP_MIB_MAP.map(([, t]) => perType('Out', t)),
  ];
  out += pairLines('Icmp', icmpNames, icmpValues);
  // icmpmsg_put: every non-zero In type (0–255), then every non-zero Out type, 16 to a line pair.
  const msgs: [string, number][] = [];
  for (const dir of ['In', 'Out'] as const) {
    for (let t = 0; t < 256; t++) {
      const v = perType(dir, t);
      if (v !== 0) msgs.push([`${dir}Type${t}`, v]);
    }
  }
  for (let i = 0; i < msgs.length; i += 16) {
    const chunk = msgs.slice(i, i + 16);
    out += pairLines('IcmpMsg', chunk.map(([n]) => n), chunk.map(([, v]) => v));
  }
  out += pairLines('Tcp', TCP_MIB, TCP_MIB.map((n) => mibValue(stack, 'Tcp', n)));
  out += pairLines('Udp', UDP_MIB, UDP_MIB.map((n) => mibValue(stack, 'Udp', n)));
  out += pairLines('UdpLite', UDP_MIB, UDP_MIB.map(() => 0));
  return out;
}

/** netstat_seq_show: TcpExt then IpExt (no MPTcpExt: MPTCP is not built). */
function netstat(stack: NetStack): string {
  return (
    pairLines('TcpExt', SNMP4_NET, SNMP4_NET.map((n) => mibValue(stack, 'TcpExt', n))) +
    pairLines('IpExt', SNMP4_IPEXTSTATS, SNMP4_IPEXTSTATS.map((n) => mibValue(stack, 'IpExt', n)))
  );
}

// ---- /proc/net/dev -------------------------------------------------------------------------

/**
 * dev_seq_printf_stats for each device: rtnl_link_stats64 built from the net_device's counters
 * and the MAC's (errs: frames the MAC rejected as bad; drop: dropped by the stack plus
 * rx_missed_errors; frame: CRC and length errors; multicast: stmmac does not count it).
 */
function dev(stack: NetStack): string {
  let out =
    'Inter-|   Receive                                                |  Transmit\n' +
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';
  for (const d of stack.devices) {
    const mac = stack.drivers.get(d.ifindex)?.mac.stats;
    const crc = mac?.rx_crc_errors ?? 0;
    const length = mac?.rx_length_errors ?? 0;
    const missed = mac?.rx_missed_errors ?? 0;
    const s = d.stats;
    out +=
      `${right(d.name, 6)}: ${right(s.rx_bytes, 7)} ${right(s.rx_packets, 7)} ${right(crc + length, 4)} ${right(s.rx_dropped + missed, 4)} ` +
      `${right(0, 4)} ${right(crc + length, 5)} ${right(0, 10)} ${right(0, 9)} ` +
      `${right(s.tx_bytes, 8)} ${right(s.tx_packets, 7)} ${right(mac?.tx_errors ?? 0, 4)} ${right(s.tx_dropped, 4)} ` +
      `${right(0, 4)} ${right(0, 5)} ${right(0, 7)} ${right(0, 10)}\n`;
  }
  return out;
}

// ---- /proc/net/arp -------------------------------------------------------------------------

/** arp_seq_show: every neighbour, ATF_COM (0x2) once its address is valid. */
function arp(stack: NetStack): string {
  let out = 'IP address       HW type     Flags       HW address            Mask     Device\n';
  for (const n of stack.neigh.entries.values()) {
    const valid = n.state === 'REACHABLE' || n.state === 'STALE' || n.state === 'DELAY' || n.state === 'PROBE';
    const ha = Array.from(n.hwAddr ?? new Uint8Array(6), (b) => b.toString(16).padStart(2, '0')).join(':');
    const ip = `${n.addr >>> 24}.${(n.addr >>> 16) & 255}.${(n.addr >>> 8) & 255}.${n.addr & 255}`;
    const devName = stack.device(n.ifindex)?.name ?? '*';
    out += `${left(ip, 16)} 0x${left((1).toString(16), 10)}0x${left((valid ? 2 : 0).toString(16), 10)}${left(ha, 17)}     *        ${devName}\n`;
  }
  return out;
}

// ---- /proc/net/route -----------------------------------------------------------------------

/**
 * fib_route_seq_show: the main table in trie order (by prefix, longer prefixes of the same
 * key first, then by metric), each row padded to 127 characters. Flags: RTF_UP, RTF_GATEWAY
 * for a route via a gateway, RTF_HOST for a /32.
 */
function route(stack: NetStack): string {
  let out = padLine('Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT', 127);
  const routes = [...stack.fib.routes()].sort((a, b) => (a.dst >>> 0) - (b.dst >>> 0) || b.prefixLen - a.prefixLen || a.metric - b.metric);
  for (const r of routes) {
    const mask = prefixMask(r.prefixLen);
    const flags = 0x1 | (r.gateway !== 0 ? 0x2 : 0) | (r.prefixLen === 32 ? 0x4 : 0);
    const name = stack.device(r.ifindex)?.name ?? '*';
    out += padLine(`${name}\t${beHex(r.dst)}\t${beHex(r.gateway)}\t${hex(flags, 4)}\t0\t0\t${r.metric}\t${beHex(mask)}\t0\t0\t0`, 127);
  }
  return out;
}

// ---- /proc/net/tcp -------------------------------------------------------------------------

/**
 * tcp4_seq_show: listening sockets, then connections, half-open requests and TIME_WAIT socks,
 * each row padded to 149 characters. Linux walks its hash buckets; the model has no bucket
 * order, so listeners go by port and the rest in the order they were made. The socket's
 * inode number is the RAM address of its socket_alloc (unique while it lives); the kernel
 * pointer column (%pK) is the struct sock's RAM address.
 */
function tcp(stack: NetStack): string {
  let out = padLine('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode', 149);
  const t = stack.tcp;
  if (!t) return out;
  const now = stack.sim.now;
  let sl = 0;
  const row = (s: string): void => {
    out += padLine(`${right(sl++, 4)}: ${s}`, 149);
  };
  const addrs = (laddr: number, lport: number, raddr: number, rport: number): string => `${beHex(laddr)}:${hex(lport, 4)} ${beHex(raddr)}:${hex(rport, 4)}`;
  const sockRow = (sk: TcpSock): void => {
    const listen = sk.state === 'LISTEN';
    const last = sk.writeQueue[sk.writeQueue.length - 1];
    const txQueue = listen || !last ? 0 : (last.end - sk.sndUna) >>> 0;
    const rxQueue = listen ? sk.acceptQueue.length : sk.receiveQueue.reduce((n, skb) => n + skb.len, 0);
    let tr = 0;
    let when = 0;
    const pending = (h: { at: number; cancelled: boolean } | null): boolean => h !== null && !h.cancelled;
    if (pending(sk.rtxTimer)) [tr, when] = [1, sk.rtxTimer!.at - now];
    else if (pending(sk.persistTimer)) [tr, when] = [4, sk.persistTimer!.at - now];
    else if (pending(sk.keepaliveTimer)) [tr, when] = [2, sk.keepaliveTimer!.at - now];
    const ssthresh = listen ? sk.fastOpenQlen : sk.ssthresh >= TCP_INFINITE_SSTHRESH ? -1 : sk.ssthresh;
    const ato = listen ? 0 : clockT(TCP_ATO_MIN_NS);
    row(
      `${addrs(sk.laddr, sk.lport, sk.raddr, sk.rport)} ${hex(TCP_STATE[sk.state], 2)} ${hex(txQueue, 8)}:${hex(rxQueue, 8)} ` +
        `${hex(tr, 2)}:${hex(clockT(when), 8)} ${hex(sk.retransmits, 8)} ${right(0, 5)} ${right(sk.probesOut, 8)} ${sk.socketAddr} 1 ` +
        `${sk.skAddr.toString(16).padStart(8, '0')} ${clockT(sk.rto)} ${ato} ${sk.quickAcks << 1} ${sk.cwnd} ${ssthresh}`,
    );
  };
  for (const port of [...t.listeners.keys()].sort((a, b) => a - b)) sockRow(t.listeners.get(port)!);
  for (const sk of t.ehash.values()) sockRow(sk);
  for (const req of t.requests.values()) {
    // get_openreq4: SYN_RECV, the SYN-ACK timer, no inode, reference count 0.
    const when = req.timer && !req.timer.cancelled ? req.timer.at - now : 0;
    row(`${addrs(req.laddr, req.lport, req.raddr, req.rport)} 03 00000000:00000000 01:${hex(clockT(when), 8)} ${hex(req.retries, 8)} ${right(0, 5)} ${right(0, 8)} 0 0 ${req.addr.toString(16).padStart(8, '0')}`);
  }
  for (const tw of t.timewait.values()) {
    // get_timewait4_sock: timer 3 (the TIME_WAIT timer), reference count 3 as inet_twsk_hashdance leaves it.
    const when = tw.timer && !tw.timer.cancelled ? tw.timer.at - now : 0;
    row(`${addrs(tw.laddr, tw.lport, tw.raddr, tw.rport)} 06 00000000:00000000 03:${hex(clockT(when), 8)} 00000000 ${right(0, 5)} ${right(0, 8)} 0 3 ${tw.addr.toString(16).padStart(8, '0')}`);
  }
  return out;
}

// ---- /proc/net/udp -------------------------------------------------------------------------

/**
 * udp4_seq_show: every socket in the port hash, its hash slot first (Linux prints the bucket,
 * not a sequence number), state 07 (TCP_CLOSE) or 01 when connected, the bytes charged to
 * its send and receive buffers, its drops; each row padded to 127 characters.
 */
function udp(stack: NetStack): string {
  let out = padLine('   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops', 127);
  for (const { slot, sk } of stack.udp?.hashed() ?? []) {
    const peer = sk.peer;
    out += padLine(
      `${right(slot, 5)}: ${beHex(sk.boundAddr)}:${hex(sk.boundPort, 4)} ${beHex(peer?.addr ?? 0)}:${hex(peer?.port ?? 0, 4)} ` +
        `${hex(peer ? 1 : 7, 2)} ${hex(sk.wmemAlloc, 8)}:${hex(sk.rmemAlloc, 8)} 00:00000000 00000000 ${right(0, 5)} ${right(0, 8)} ` +
        `${sk.socketAddr} 2 ${sk.skAddr.toString(16).padStart(8, '0')} ${sk.drops}`,
      127,
    );
  }
  return out;
}
