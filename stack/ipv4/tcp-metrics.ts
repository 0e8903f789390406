/**
 * The TCP metrics cache (CONFIG_TCP_METRICS; net/ipv4/tcp_metrics.c): what a finished
 * connection learned about its destination — smoothed RTT and its variance, ssthresh and
 * cwnd — kept per address in a tcp_metrics_block in board RAM, and used to seed the next
 * connection there (its first RTO from the cached RTT, its ssthresh from the cached one).
 *
 * The hash table is allocated at boot with Linux's size (tcpmhash_entries: 8192 slots below
 * 512 MiB of RAM), a real cost on a 2 MiB board. Each bucket holds at most
 * TCP_METRICS_RECLAIM_DEPTH entries; a new destination then reuses the oldest. quarklab boots
 * with net.ipv4.tcp_no_ssthresh_metrics_save = 0, so ssthresh is cached as well as RTT.
 */
import { fnv1a } from '../../emulator/prng.js';
import type { NetStack } from '../net-stack.js';
import type { TcpTable } from './tcp.js';
import type { TcpSock } from './tcp-sock.js';

export const TCP_METRICS_RECLAIM_DEPTH = 5;
const TCP_METRICS_TIMEOUT_NS = 3600e9;

export interface MetricsBlock {
  addr: number;
  daddr: number;
  /** Smoothed RTT and variance in ns, 0 when unknown. */
  rtt: number;
  rttvar: number;
  ssthresh: number;
  cwnd: number;
  stamp: number;
  fastOpenCookie: Uint8Array | null;
}

export class TcpMetrics {
  readonly slots: number;
  private readonly buckets: MetricsBlock[][];
  readonly hashAddr: number;
  /** Lookups that seeded a new connection. */
  seeded = 0;

  constructor(private readonly stack: NetStack) {
    // tcp_metrics_hash_alloc: 8K slots (16K from 512 MiB up), one pointer each.
    this.slots = stack.env.mem.size >= 512 * 1024 * 1024 ? 16384 : 8192;
    this.hashAddr = stack.staticAlloc('TCP metrics hash', this.slots * 4);
    this.buckets = Array.from({ length: this.slots }, () => []);
  }

  private bucket(daddr: number): MetricsBlock[] {
    return this.buckets[fnv1a(`m:${daddr}`) % this.slots]!;
  }

  get size(): number {
    return this.buckets.reduce((n, b) => n + b.length, 0);
  }

  lookup(daddr: number): MetricsBlock | undefined {
    const m = this.bucket(daddr).find((x) => x.daddr === daddr);
    if (m && this.stack.sim.now - m.stamp > TCP_METRICS_TIMEOUT_NS) {
      // tcpm_check_stamp: stale metrics are forgotten.
      m.rtt = m.rttvar = m.ssthresh = m.cwnd = 0;
    }
    return m;
  }

  /** tcpm_new: an entry for this destination, reusing the oldest when the bucket is full. */
  private entry(daddr: number): MetricsBlock | null {
    const b = this.bucket(daddr);
    const found = b.find((x) => x.daddr === daddr);
    if (found) return found;
    if (b.length >= TCP_METRICS_RECLAIM_DEPTH) {
      b.sort((x, y) => x.stamp - y.stamp);
      const old = b[0]!;
      Object.assign(old, { daddr, rtt: 0, rttvar: 0, ssthresh: 0, cwnd: 0, fastOpenCookie: null });
      return old;
    }
    const addr = this.stack.env.mem.kmalloc(this.stack.env.structs['tcp_metrics_block']!);
    if (addr === 0) return null;
    const m: MetricsBlock = { addr, daddr, rtt: 0, rttvar: 0, ssthresh: 0, cwnd: 0, stamp: this.stack.sim.now, fastOpenCookie: null };
    b.push(m);
    return m;
  }

  /** tcp_update_metrics: at the end of a connection, fold what it measured into the cache. */
  update(sk: TcpSock): void {
    if (sk.srtt === 0 || sk.raddr === 0) return;
    const m = this.entry(sk.raddr);
    if (!m) return;
    m.stamp = this.stack.sim.now;
    // The cache moves a quarter of the way toward each new sample, as tcp_update_metrics does.
    m.rtt = m.rtt === 0 ? sk.srtt : m.rtt - (m.rtt - sk.srtt) / 4;
    m.rttvar = m.rttvar === 0 ? sk.rttvar : m.rttvar - (m.rttvar - sk.rttvar) / 4;
    if (sk.ssthresh < 0x7fffffff) m.ssthresh = m.ssthresh === 0 ? sk.ssthresh : Math.round((m.ssthresh + sk.ssthresh) / 2);
    m.cwnd = m.cwnd === 0 ? sk.cwnd : Math.round((m.cwnd + sk.cwnd) / 2);
  }

  /** tcp_init_metrics: seed a new connection's first RTO and ssthresh from the cache. */
  init(sk: TcpSock): void {
    const m = this.lookup(sk.raddr);
    if (!m || m.rtt === 0) return;
    this.seeded++;
    if (m.ssthresh > 0) sk.ssthresh = m.ssthresh;
    if (sk.srtt === 0 || m.rtt > sk.srtt) {
      const min = sk.table.sysctl.rtoMinNs;
      sk.rto = Math.round(m.rtt + Math.max(2 * m.rtt, min));
    }
  }

  storeCookie(daddr: number, cookie: Uint8Array): void {
    const m = this.entry(daddr);
    if (m) m.fastOpenCookie = cookie.slice();
  }

  flush(): void {
    for (const b of this.buckets) {
      for (const m of b) this.stack.env.mem.kfree(m.addr);
      b.length = 0;
    }
  }
}

// ---- Fast Open client cookies (tcp_fastopen_cache_get/set live in tcp_metrics.c) ----------

/** tcp_fastopen_cache_set: Linux keeps client cookies in the metrics cache. */
export function fastOpenCookieLearned(sk: TcpSock, cookie: Uint8Array): void {
  const t = sk.table;
  if (!t.stack.has('TCP_FASTOPEN')) return;
  if (t.metrics) t.metrics.storeCookie(sk.raddr, cookie);
  else t.fastOpenCookieMap.set(sk.raddr, cookie.slice());
}

/** tcp_fastopen_cache_get: the cookie learned from this server, if any. */
export function cachedFastOpenCookie(t: TcpTable, daddr: number): Uint8Array | undefined {
  return t.metrics ? (t.metrics.lookup(daddr)?.fastOpenCookie ?? undefined) : t.fastOpenCookieMap.get(daddr);
}
