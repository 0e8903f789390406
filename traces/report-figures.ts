/**
 * Figures report.md and report.html both show, taken from report.json: budgets with their
 * margins, the profile's flash and RAM by feature, and the drop counters.
 */
import { formatBytes, formatValue, type BudgetResult } from './budgets.js';
import type { BoardReport, Report } from './report.js';

export interface BudgetRow {
  key: string;
  limit: string;
  value: string;
  /** How far inside (positive) or outside (negative) the limit, in the budget's unit and as a share of it. */
  margin: string;
  verdict: string;
}

export function budgetRows(budgets: BudgetResult[]): BudgetRow[] {
  return budgets.map((b) => {
    const op = b.kind === 'max' ? '≤' : '≥';
    let margin = '—';
    if (b.value !== null) {
      const m = b.kind === 'max' ? b.limit - b.value : b.value - b.limit;
      const share = b.limit !== 0 ? ` (${((m / b.limit) * 100).toFixed(1)}%)` : '';
      margin = `${m < 0 ? '−' : '+'}${formatValue(Math.abs(m), b.unit)}${share}`;
    }
    return { key: b.key, limit: `${op} ${formatValue(b.limit, b.unit)}`, value: b.value === null ? 'not measured' : formatValue(b.value, b.unit), margin, verdict: b.verdict };
  });
}

export interface FeatureRow {
  feature: string;
  flash: number;
  ram: number;
}

/** Flash (image sections) and static RAM (boot map, init freed) per feature: kernel, driver, each net: symbol, each program. */
export function featureRows(b: BoardReport): FeatureRow[] {
  const rows = new Map<string, FeatureRow>();
  const featureOf = (name: string): string => (name.startsWith('program ') ? name.replace(/ (text|stack|heap)$/, '') : name.replace(/\.(text|data|bss|init|rodata)$/, ''));
  const row = (f: string): FeatureRow => {
    let r = rows.get(f);
    if (!r) rows.set(f, (r = { feature: f, flash: 0, ram: 0 }));
    return r;
  };
  for (const s of b.image?.sections ?? []) if (s.kind !== 'config') row(featureOf(s.name)).flash += s.bytes;
  for (const r of b.memory?.bootMap ?? []) if (!r.released) row(featureOf(r.name)).ram += r.size;
  return [...rows.values()];
}

/** Every counter that counts a loss: the MAC's and netdev's drops and errors, ARP's discards, TCP's drop reasons, the wire's losses. */
export function dropCounters(r: Report): { name: string; value: number }[] {
  const out: { name: string; value: number }[] = [];
  const dut = r.boards.find((b) => b.role === 'dut');
  if (r.wire) out.push({ name: 'wire: frames lost', value: r.wire['lost'] ?? 0 });
  if (dut) {
    for (const [dev, s] of Object.entries(dut.interfaces)) {
      for (const [k, v] of Object.entries(s)) if (/drop|missed|error|fail/.test(k)) out.push({ name: `${dev}: ${k}`, value: v });
    }
    if (dut.arp) out.push({ name: 'arp: unresolved_discards', value: dut.arp['unresolved_discards'] ?? 0 });
    for (const [k, v] of Object.entries(dut.tcp?.dropReasons ?? {})) out.push({ name: `tcp drop: ${k}`, value: v });
    if (dut.memory) {
      out.push({ name: 'allocation failures', value: dut.memory.allocationFailures });
      out.push({ name: 'allocations throttled at min_free', value: dut.memory.allocationThrottled });
    }
  }
  return out;
}

export { formatBytes };
