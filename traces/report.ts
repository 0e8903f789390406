/**
 * report.json: what a run measured and whether each budget and check held. The shape is
 * published as traces/report.schema.json; `summarize` renders the short human summary.
 */
import type { BudgetResult } from './budgets.js';
import { formatBytes, formatValue } from './budgets.js';
import type { StallReport } from './stall.js';
import type { WireStats } from '../emulator/wire.js';
import type { QdiscShow } from '../stack/sched/qdisc.js';

export const REPORT_SCHEMA_ID = 'quarklab-report/1';

export interface MemoryRegionReport {
  name: string;
  kind: string;
  start: number;
  size: number;
  released: boolean;
}

export interface CacheReport {
  name: string;
  objectSize: number;
  active: number;
  peakActive: number;
  totalObjects: number;
  pages: number;
  peakPages: number;
  /** RAM the kind holds now and at most: its slabs' pages on SLUB; on SLOB its live objects'
   * bytes (kmalloc's header and rounding included), since SLOB keeps no per-cache slabs. */
  heldBytes: number;
  peakHeldBytes: number;
  failures: number;
}

/** One TCP socket as ss -tan prints it. */
export interface SocketRow {
  state: string;
  recvQ: number;
  sendQ: number;
  local: string;
  peer: string;
}

/** The board's TCP sockets when the scenario's traffic ended, and where the list came from. */
export interface SocketsReport {
  source: 'ss (sock_diag)' | 'ss (/proc/net/tcp)' | 'kernel tables';
  detail: string;
  rows: SocketRow[];
}

export interface BoardReport {
  role: string;
  board: { name: string; ramBytes: number; flashBytes: number; kernelCore: string; executeInPlace: boolean; linkSpeedMbps: number; cpuClockHz: number };
  profile: { name: string; enabled: string[] };
  image: { bytes: number; flashBytes: number; sections: { name: string; kind: string; bytes: number }[] } | null;
  memory: {
    /** The slab allocator the kernel was built with (the profile's CONFIG_SLOB or CONFIG_SLUB). */
    allocator: 'slob' | 'slub';
    totalBytes: number;
    /** RAM held by boot reservations after init sections were freed. */
    staticBytes: number;
    initFreedBytes: number;
    heapBytes: number;
    baselineUsedBytes: number;
    peakUsedBytes: number;
    finalUsedBytes: number;
    /** Live kernel object bytes after boot and at the end (slab slots in use plus page allocations). */
    baselineObjectBytes: number;
    finalObjectBytes: number;
    /** finalObjectBytes − baselineObjectBytes once timers expired and the interface was deconfigured: anything but 0 is a leak. */
    leakBytes: number;
    /** static + peak heap: the most RAM the board had in use at once. */
    peakBytes: number;
    minFreeBytes: number;
    bootMap: MemoryRegionReport[];
    caches: CacheReport[];
    allocationFailures: number;
    /** Programs' (GFP_KERNEL) allocations held back at vm.min_free_kbytes and retried later. */
    allocationThrottled: number;
    minFreeKbytes: number;
  } | null;
  interfaces: Record<string, Record<string, number>>;
  /** Per MAC: its device's qdisc as `tc -s qdisc show` reports it (kind, sent, drops, backlog, …). */
  qdiscs: Record<string, QdiscShow>;
  /** TCP sockets at the end of the scenario (null: not taken, as for the lab host). */
  sockets: SocketsReport | null;
  snmp: Record<string, Record<string, number>> | null;
  arp: Record<string, number> | null;
  /** TCP's limits as computed from this board's RAM, its memory use and its drops by reason. */
  tcp: {
    tcpMemPages: number[];
    tcpRmem: number[];
    tcpWmem: number[];
    ehashEntries: number;
    maxTwBuckets: number;
    maxOrphans: number;
    memAllocatedPeakBytes: number;
    memoryPressureEntered: boolean;
    dropReasons: Record<string, number>;
  } | null;
  cpu: { cyclesUsed: number; utilisation: number } | null;
}

export interface CheckReport {
  name: string;
  pass: boolean;
  detail: string;
}

/** Faults injected on purpose (present only when a run asked for them). */
export interface FaultsReport {
  /** --fail-alloc: the flag as given, and the allocations it made fail, by site (cache name). */
  failAlloc?: { spec: string; total: number; bySite: Record<string, number> };
  /** --flip-flash: each bit flipped in the image before boot, and where it fell. */
  flipFlash?: { flips: number; bits: { offset: number; bit: number; section: string }[] };
}

export interface Report {
  $schema: string;
  quarklab: string;
  inputs: { board: string; profile: string; scenario: string; seed: number; cpu: boolean; epochNs: string; costTable: string; sysctl?: Record<string, string> };
  virtualTimeNs: number;
  boards: BoardReport[];
  /** What the wire did to the frames it carried (its seeded impairments). */
  wire: WireStats | null;
  scenario: { name: string; description: string; figures: Record<string, unknown> };
  checks: CheckReport[];
  budgets: BudgetResult[];
  notes: string[];
  /** Transfers that stopped moving, each with its cause (from the timeline). */
  stalls: StallReport[];
  faults?: FaultsReport;
  verdict: 'pass' | 'fail';
}

/** The summary line for --fail-alloc (run and fuzz print the same). */
export function failAllocLine(fa: NonNullable<FaultsReport['failAlloc']>): string {
  const sites = Object.entries(fa.bySite).map(([k, v]) => `${k} ${v}`).join(', ');
  return `fault --fail-alloc ${fa.spec}: ${fa.total} allocation${fa.total === 1 ? '' : 's'} failed on purpose${fa.total > 0 ? ` (${sites})` : ''}`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** The few lines a person reads on stdout: memory map, peak by cache, frames, drops, verdicts. */
export function summarize(r: Report): string {
  const out: string[] = [];
  out.push(`quarklab ${r.inputs.scenario} on ${r.inputs.board} with profile ${r.inputs.profile} (seed ${r.inputs.seed}, ${(r.virtualTimeNs / 1e9).toFixed(3)} s virtual)`);
  const dut = r.boards.find((b) => b.role === 'dut');
  if (dut?.image) out.push(`image: ${formatBytes(dut.image.bytes)} of ${formatBytes(dut.image.flashBytes)} flash`);
  if (dut?.memory) {
    const m = dut.memory;
    out.push(`boot memory map (${formatBytes(m.totalBytes)} RAM, slab allocator ${m.allocator.toUpperCase()}):`);
    const groups = new Map<string, number>();
    for (const region of m.bootMap) {
      if (region.released) continue;
      const key = region.name.startsWith('net:') ? 'network stack' : region.name.startsWith('program ') ? region.name.replace(/ (text|stack|heap)$/, '') : region.name.split('.')[0]!;
      groups.set(key, (groups.get(key) ?? 0) + region.size);
    }
    for (const [k, v] of groups) out.push(`  ${pad(k, 28)} ${formatBytes(v)}`);
    out.push(`  ${pad('init sections (freed)', 28)} ${formatBytes(m.initFreedBytes)}`);
    out.push(`  ${pad('heap', 28)} ${formatBytes(m.heapBytes)} (baseline in use ${formatBytes(m.baselineUsedBytes)}, peak ${formatBytes(m.peakUsedBytes)}, end ${formatBytes(m.finalUsedBytes)})`);
    // Ties by name in code-unit order: localeCompare would start ICU's collator, 12 ms of every run.
    const top = [...m.caches].filter((c) => c.peakHeldBytes > 0).sort((a, b) => b.peakHeldBytes - a.peakHeldBytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, 6);
    out.push(`peak RAM by cache: ${top.map((c) => `${c.name} ${formatBytes(c.peakHeldBytes)}`).join(', ')}`);
  }
  if (dut) {
    for (const [name, s] of Object.entries(dut.interfaces)) {
      out.push(`${name}: rx ${s['rx_packets']} frames, tx ${s['tx_packets']} frames, rx_missed_errors ${s['rx_missed_errors']}, rx_crc_errors ${s['rx_crc_errors']}`);
      const q = dut.qdiscs[name];
      if (q) out.push(`${name} qdisc ${q.kind}: sent ${q.sentPackets} pkt, dropped ${q.drops}, overlimits ${q.overlimits}, requeues ${q.requeues}, marks ${q.marks}, backlog ${q.backlogBytes}b ${q.qlen}p`);
    }
  }
  if (dut?.sockets) {
    out.push(`sockets at the end of the scenario (${dut.sockets.source}): ${dut.sockets.rows.length === 0 ? 'none' : dut.sockets.rows.length}`);
    for (const s of dut.sockets.rows) out.push(`  ${pad(s.state, 10)} ${String(s.recvQ).padStart(6)} ${String(s.sendQ).padStart(6)} ${pad(s.local, 21)} ${s.peer}`);
  }
  for (const c of r.checks) out.push(`check ${c.pass ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`);
  for (const b of r.budgets) {
    const v = b.value === null ? 'not measured' : formatValue(b.value, b.unit);
    out.push(`budget ${b.verdict === 'pass' ? 'PASS' : 'FAIL'} ${b.key} ${b.kind === 'max' ? '≤' : '≥'} ${formatValue(b.limit, b.unit)}: ${v}`);
  }
  for (const s of r.stalls ?? []) out.push(`stall ${s.connection} from ${(s.fromNs / 1e9).toFixed(1)} s for ${(s.durationNs / 1e9).toFixed(1)} s: ${s.detail}`);
  const fa = r.faults?.failAlloc;
  if (fa) out.push(failAllocLine(fa));
  const ff = r.faults?.flipFlash;
  if (ff) out.push(`fault --flip-flash ${ff.flips}: ${ff.bits.map((b) => `bit ${b.bit} of byte ${b.offset} (${b.section})`).join(', ')}`);
  for (const n of r.notes) out.push(`note: ${n}`);
  out.push(`verdict: ${r.verdict.toUpperCase()}`);
  return out.join('\n');
}
