/**
 * The IPv4 files of /proc/net (net/ipv4/proc.c): snmp and netstat, the MIB counters in 6.1's
 * layouts, and ipv4_proc_init, which registers them with the other IPv4 files — tcp
 * (tcp_ipv4.c), udp (udp.c) and, as their own inits do in Linux, arp (arp_init), route
 * (fib_proc_init) and igmp (igmp_net_init) — in core's /proc/net (core/procfs.ts).
 */
import type { NetStack } from '../net-stack.js';
import { pairLines } from '../core/procfs.js';
import { arpSeqShow } from './arp.js';
import { fibRouteSeqShow } from './fib.js';
import { tcp4SeqShow } from './tcp-ipv4.js';
import { TCP_MIB } from './tcp-sysctl.js';
import { UDP_MIB, udp4SeqShow } from './udp.js';

/** ipv4_proc_init with tcp4_proc_init, udp4_proc_init, arp_proc_init, fib_proc_init and igmp_mc_proc_init. */
export function ipv4ProcInit(stack: NetStack): void {
  const proc = stack.procNet;
  proc.create('snmp', snmp);
  proc.create('netstat', netstat);
  proc.create('arp', arpSeqShow);
  proc.create('route', fibRouteSeqShow);
  proc.create('tcp', tcp4SeqShow);
  proc.create('udp', udp4SeqShow);
  // igmp.c's file exists only when it is built (CONFIG_IP_MULTICAST): -ENOENT without it.
  proc.create('igmp', (s) => s.igmp?.procIgmp() ?? null);
}

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

function mibValue(stack: NetStack, group: string, name: string): number {
  return stack.mib.groups.get(group)?.[name] ?? 0;
}

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
