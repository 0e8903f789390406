/**
 * TCP's memory limits and table sizes, computed from the board's RAM at boot as Linux 6.1's
 * tcp_init does (net/ipv4/tcp.c, inet_hashtables.c): tcp_mem in pages from the free buffer
 * pages, tcp_rmem/tcp_wmem maxima from RAM with their floors, the established-hash size, and
 * from it max_tw_buckets, max_orphans and max_syn_backlog. BASE_SMALL shrinks the hash to 16
 * buckets as the 2014 series did.
 */
import { NS_PER_MS, NS_PER_SEC } from '../../emulator/event-queue.js';
import { tcpCaFind } from './tcp-cong-list.js';

export interface TcpSysctl {
  /** tcp_mem: low, pressure, high — in pages. */
  tcpMem: [number, number, number];
  tcpRmem: [number, number, number];
  tcpWmem: [number, number, number];
  ehashEntries: number;
  bhashEntries: number;
  maxTwBuckets: number;
  maxOrphans: number;
  maxSynBacklog: number;
  somaxconn: number;
  synRetries: number;
  synackRetries: number;
  retries2: number;
  /** tcp_orphan_retries (0 means 8 for a socket whose peer still answers). */
  orphanRetries: number;
  finTimeoutNs: number;
  keepaliveTimeNs: number;
  keepaliveIntvlNs: number;
  keepaliveProbes: number;
  syncookies: boolean;
  rtoMinNs: number;
  rtoMaxNs: number;
  rtoInitNs: number;
  delackMinNs: number;
  delackMaxNs: number;
  timewaitLenNs: number;
  /** tcp_adv_win_scale: the share of the receive buffer advertised (1: half). */
  advWinScale: number;
  /** tcp_congestion_control: the default for new sockets (cubic, or a boot value). */
  congestionControl: string;
}

const PAGE = 4096;

/**
 * nr_free_buffer_pages() as tcp_init sees it at boot: the zone's managed pages less its high
 * watermark — not the pages free. __setup_per_zone_wmarks (6.1, one zone): min = min_free_kbytes
 * in pages; low = min + tmp; high = low + tmp, where tmp = max(min / 4, managed ×
 * watermark_scale_factor (10) / 10000).
 */
export function nrFreeBufferPages(managedPages: number, minPages: number): number {
  const tmp = Math.max(minPages >> 2, Math.floor((managedPages * 10) / 10000));
  return Math.max(managedPages - (minPages + 2 * tmp), 0);
}

export function computeTcpSysctl(nrFreeBuffer: number, ramBytes: number, baseSmall: boolean, syncookies: boolean): TcpSysctl {
  // tcp_init_mem: limit = nr_free_buffer_pages / 16, at least 128 pages.
  const limit = Math.max(Math.floor(nrFreeBuffer / 16), 128);
  const tcpMem: [number, number, number] = [Math.floor(limit / 4) * 3, limit, Math.floor(limit / 4) * 3 * 2];
  // tcp_init: the per-socket maxima come from nr_free_buffer_pages itself (not tcp_mem):
  // limit = N << (PAGE_SHIFT - 7) bytes, then wmem[2] = max(64 KiB, min(4 MiB, limit)) and
  // rmem[2] = max(128 KiB, min(6 MiB, limit)).
  const perSocket = nrFreeBuffer * (PAGE / 128);
  const tcpWmem: [number, number, number] = [4096, 16384, Math.max(65536, Math.min(perSocket, 4 * 1024 * 1024))];
  const tcpRmem: [number, number, number] = [4096, 131072, Math.max(131072, Math.min(perSocket, 6 * 1024 * 1024))];
  // alloc_large_system_hash("TCP established", scale 17): one bucket per 128 KB, at least a page of buckets.
  const bucketBytes = 4;
  const fromRam = Math.max(Math.floor(ramBytes / (128 * 1024)), PAGE / bucketBytes);
  const ehashEntries = baseSmall ? 16 : pow2Floor(fromRam);
  const bhashEntries = ehashEntries;
  return {
    tcpMem,
    tcpRmem,
    tcpWmem,
    ehashEntries,
    bhashEntries,
    maxTwBuckets: Math.max(ehashEntries / 2, baseSmall ? 8 : 0),
    maxOrphans: Math.max(ehashEntries / 2, baseSmall ? 8 : 0),
    maxSynBacklog: Math.max(128, ehashEntries / 128),
    somaxconn: 4096,
    synRetries: 6,
    synackRetries: 5,
    retries2: 15,
    orphanRetries: 8,
    finTimeoutNs: 60 * NS_PER_SEC,
    keepaliveTimeNs: 7200 * NS_PER_SEC,
    keepaliveIntvlNs: 75 * NS_PER_SEC,
    keepaliveProbes: 9,
    syncookies,
    rtoMinNs: 200 * NS_PER_MS,
    rtoMaxNs: 120 * NS_PER_SEC,
    rtoInitNs: 1 * NS_PER_SEC,
    delackMinNs: 40 * NS_PER_MS,
    delackMaxNs: 200 * NS_PER_MS,
    timewaitLenNs: 60 * NS_PER_SEC,
    advWinScale: 1,
    congestionControl: 'cubic',
  };
}

/** The boot-time sysctls the TCP table takes, checked: null, or one line naming the problem. */
export function applyBootSysctl(sysctl: TcpSysctl, values: Readonly<Record<string, string | number>>, congestionControls: readonly string[]): string | null {
  for (const [key, value] of Object.entries(values)) {
    if (key === 'net.ipv4.tcp_congestion_control') {
      if (typeof value !== 'string' || !congestionControls.includes(value)) return `sysctl ${key} = ${JSON.stringify(value)}: not an available congestion control (${congestionControls.join(' ')})`;
      sysctl.congestionControl = value;
    } else if (key === 'net.core.default_qdisc') {
      continue; // the qdisc layer's: checked and applied by stack/sched/sch-api.ts
    } else {
      // Every other TCP sysctl the board has, through the same setter `sysctl -w` and
      // packetdrill preambles use: the boot value replaces what tcp_init computed.
      const r = setTcpSysctl(sysctl, key, String(value));
      if (r !== 'ok') return sysctlProblem(key, String(value), r);
    }
  }
  return null;
}

/** One line for a sysctl setting setTcpSysctl refused. */
export function sysctlProblem(name: string, value: string, r: Exclude<SysctlResult, 'ok'>): string {
  return r === 'unknown' ? `sysctl ${name}: not a sysctl the board has` : r === 'bad-value' ? `sysctl ${name}: bad value "${value}"` : `sysctl ${name}=${value}: the board does not model that setting`;
}

/** A board file's boot sysctls, checked before the board boots: null, or the problem in one line. */
export function checkBootSysctl(values: Readonly<Record<string, string | number>>, congestionControls: readonly string[]): string | null {
  const scratch = computeTcpSysctl(512, 2 << 20, false, true);
  return applyBootSysctl(scratch, values, congestionControls);
}

function pow2Floor(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

export const TCP_MIB = ['RtoAlgorithm', 'RtoMin', 'RtoMax', 'MaxConn', 'ActiveOpens', 'PassiveOpens', 'AttemptFails', 'EstabResets', 'CurrEstab', 'InSegs', 'OutSegs', 'RetransSegs', 'InErrs', 'OutRsts', 'InCsumErrors'] as const;

export const TCP_EXT_MIB = [
  'SyncookiesSent', 'SyncookiesRecv', 'SyncookiesFailed', 'EmbryonicRsts', 'PruneCalled', 'RcvPruned', 'OfoPruned',
  'OutOfWindowIcmps', 'TW', 'TWKilled', 'PAWSEstab', 'DelayedACKs', 'DelayedACKLost', 'ListenOverflows', 'ListenDrops',
  'TCPHPHits', 'TCPPureAcks', 'TCPHPAcks', 'TCPSackRecovery', 'TCPRenoRecovery', 'TCPSACKReneging', 'TCPFullUndo',
  'TCPLossUndo', 'TCPFastRetrans', 'TCPSlowStartRetrans', 'TCPTimeouts', 'TCPLossProbes', 'TCPAbortOnData',
  'TCPAbortOnClose', 'TCPAbortOnMemory', 'TCPAbortOnTimeout', 'TCPMemoryPressures', 'TCPSackShifted', 'TCPBacklogDrop',
  'TCPRcvQDrop', 'TCPOFOQueue', 'TCPOFODrop', 'TCPOFOMerge', 'TCPChallengeACK', 'TCPSYNChallenge', 'TCPReqQFullDoCookies',
  'TCPReqQFullDrop', 'TCPRcvCollapsed', 'TCPSpuriousRtxHostQueues', 'TCPTimeWaitOverflow', 'TCPWantZeroWindowAdv',
  'TCPToZeroWindowAdv', 'TCPFromZeroWindowAdv', 'TCPOrigDataSent', 'TCPACKSkippedSeq', 'TCPACKSkippedChallenge', 'TCPACKSkippedPAWS', 'TCPACKSkippedTimeWait',
  'TCPWinProbe', 'TCPKeepAlive', 'TCPDSACKRecv', 'TCPDSACKOldSent', 'TCPSackMerged', 'TCPZeroWindowDrop',
  'TCPFastOpenActive', 'TCPFastOpenActiveFail', 'TCPFastOpenPassive', 'TCPFastOpenPassiveFail', 'TCPFastOpenListenOverflow',
  'TCPFastOpenCookieReqd', 'TCPMemoryPressuresChrono', 'BadSegs',
  'TCPHystartTrainDetect', 'TCPHystartTrainCwnd', 'TCPHystartDelayDetect', 'TCPHystartDelayCwnd',
  'TCPLossProbeRecovery', 'TCPDSACKUndo', 'TCPDSACKOfoSent', 'TCPDSACKOfoRecv', 'TCPDSACKRecvSegs', 'TCPSpuriousRTOs',
  'TCPLostRetransmit', 'TCPDSACKIgnoredNoUndo',
] as const;

/**
 * `sysctl -w net.ipv4.NAME=VALUE` on the board's TCP (net/ipv4/sysctl_net_ipv4.c names). The
 * tunables the stack reads are set; switches the stack does not have are accepted only at the
 * value that matches what it does (tcp_sack=1: it always offers SACK), so a script or
 * firmware tuning that the board would silently ignore is refused instead.
 */
export type SysctlResult = 'ok' | 'unknown' | 'bad-value' | 'not-modelled';

const SEC = NS_PER_SEC;

/** Switches with one fixed behaviour in this stack: the only value it can honour. */
export const TCP_FIXED_SYSCTLS: Record<string, string> = {
  'net.ipv4.tcp_sack': '1',
  'net.ipv4.tcp_timestamps': '1',
  'net.ipv4.tcp_window_scaling': '1',
  'net.ipv4.tcp_ecn': '0',
  // The loss-recovery switches at Linux 6.1's defaults, which is what the stack always does:
  // D-SACK (tcp_dsack 1), RACK (tcp_recovery 1), TLP (tcp_early_retrans 3), F-RTO (tcp_frto 2).
  'net.ipv4.tcp_dsack': '1',
  'net.ipv4.tcp_fack': '0',
  'net.ipv4.tcp_recovery': '1',
  'net.ipv4.tcp_early_retrans': '3',
  'net.ipv4.tcp_frto': '2',
  'net.ipv4.tcp_fastopen': '3',
  'net.ipv4.tcp_abort_on_overflow': '0',
  'net.ipv4.tcp_mtu_probing': '0',
  'net.ipv4.tcp_no_metrics_save': '0',
};

export function setTcpSysctl(s: TcpSysctl, name: string, raw: string): SysctlResult {
  const nums = raw.trim().split(/\s+/).map((x) => (/^0x[0-9a-f]+$/i.test(x) ? parseInt(x, 16) : /^-?\d+$/.test(x) ? Number(x) : NaN));
  const one = (): number | null => (nums.length === 1 && Number.isSafeInteger(nums[0]) ? nums[0]! : null);
  const three = (): [number, number, number] | null => (nums.length === 3 && nums.every((n) => Number.isSafeInteger(n) && n > 0) && nums[0]! <= nums[1]! && nums[1]! <= nums[2]! ? [nums[0]!, nums[1]!, nums[2]!] : null);
  const setInt = (min: number, max: number, apply: (v: number) => void): SysctlResult => {
    const v = one();
    if (v === null || v < min || v > max) return 'bad-value';
    apply(v);
    return 'ok';
  };
  const setTriple = (apply: (v: [number, number, number]) => void): SysctlResult => {
    const v = three();
    if (!v) return 'bad-value';
    apply(v);
    return 'ok';
  };
  switch (name) {
    case 'net.ipv4.tcp_syncookies':
      // 2 (always send cookies) is not modelled: the board uses them only when the queue is full.
      return setInt(0, 1, (v) => (s.syncookies = v === 1)) === 'ok' ? 'ok' : one() === 2 ? 'not-modelled' : 'bad-value';
    case 'net.ipv4.tcp_syn_retries':
      return setInt(1, 127, (v) => (s.synRetries = v));
    case 'net.ipv4.tcp_synack_retries':
      return setInt(0, 255, (v) => (s.synackRetries = v));
    case 'net.ipv4.tcp_retries2':
      return setInt(0, 255, (v) => (s.retries2 = v));
    case 'net.ipv4.tcp_orphan_retries':
      return setInt(0, 255, (v) => (s.orphanRetries = v === 0 ? 8 : v));
    case 'net.ipv4.tcp_fin_timeout':
      return setInt(1, 1 << 30, (v) => (s.finTimeoutNs = v * SEC));
    case 'net.ipv4.tcp_keepalive_time':
      return setInt(1, 32767, (v) => (s.keepaliveTimeNs = v * SEC));
    case 'net.ipv4.tcp_keepalive_intvl':
      return setInt(1, 32767, (v) => (s.keepaliveIntvlNs = v * SEC));
    case 'net.ipv4.tcp_keepalive_probes':
      return setInt(1, 127, (v) => (s.keepaliveProbes = v));
    case 'net.ipv4.tcp_adv_win_scale':
      return setInt(-31, 31, (v) => (s.advWinScale = v));
    case 'net.ipv4.tcp_max_syn_backlog':
      return setInt(1, 1 << 30, (v) => (s.maxSynBacklog = v));
    case 'net.ipv4.tcp_max_tw_buckets':
      return setInt(0, 1 << 30, (v) => (s.maxTwBuckets = v));
    case 'net.ipv4.tcp_max_orphans':
      return setInt(0, 1 << 30, (v) => (s.maxOrphans = v));
    case 'net.ipv4.tcp_congestion_control':
      // The default for sockets made after this (tcp_set_default_congestion_control).
      if (!tcpCaFind(raw.trim())) return 'bad-value';
      s.congestionControl = raw.trim();
      return 'ok';
    case 'net.core.somaxconn':
      return setInt(0, 65535, (v) => (s.somaxconn = v));
    case 'net.ipv4.tcp_rmem':
      return setTriple((v) => (s.tcpRmem = v));
    case 'net.ipv4.tcp_wmem':
      return setTriple((v) => (s.tcpWmem = v));
    case 'net.ipv4.tcp_mem':
      return setTriple((v) => (s.tcpMem = v));
    default: {
      const fixed = TCP_FIXED_SYSCTLS[name];
      if (fixed === undefined) return 'unknown';
      const v = one();
      return raw.trim() === fixed || (v !== null && String(v) === fixed) ? 'ok' : 'not-modelled';
    }
  }
}
