/**
 * Budgets a CI job sets on a run (`--budget ram.peak=1.5MiB`): parsing with units and
 * checking against the measured figures. Each gives a verdict in the report; any failure
 * makes the exit code 1.
 */
export interface BudgetSpec {
  key: string;
  limit: number;
  /** How the measured value must relate to the limit. */
  kind: 'max' | 'min';
  unit: 'bytes' | 'bit/s' | 'count' | 'ns';
  text: string;
}

export interface BudgetResult extends BudgetSpec {
  value: number | null;
  verdict: 'pass' | 'fail' | 'not measured';
}

/** The budget keys quarklab understands, with what they limit. */
export const BUDGET_KEYS: Record<string, { kind: 'max' | 'min'; unit: BudgetSpec['unit']; help: string }> = {
  'ram.peak': { kind: 'max', unit: 'bytes', help: 'peak RAM in use: boot reservations plus the peak of the kernel heap' },
  'ram.static': { kind: 'max', unit: 'bytes', help: 'RAM reserved at boot for kernel, stack and programs (after init sections are freed)' },
  'ram.heap-peak': { kind: 'max', unit: 'bytes', help: 'peak kernel heap in use (slabs and page allocations)' },
  'ram.free-min': { kind: 'min', unit: 'bytes', help: 'the least free RAM seen during the run' },
  'flash.image': { kind: 'max', unit: 'bytes', help: 'size of the firmware image' },
  'rx.missed': { kind: 'max', unit: 'count', help: 'frames the MAC dropped for a full RX ring (rx_missed_errors)' },
  'alloc.failures': { kind: 'max', unit: 'count', help: 'kernel allocations that failed' },
  goodput: { kind: 'min', unit: 'bit/s', help: 'application goodput of the scenario transfer' },
  'rtt.p99': { kind: 'max', unit: 'ns', help: '99th percentile round-trip time' },
};

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1000, kb: 1000, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 * 1024, g: 1e9, gb: 1e9, gib: 1024 ** 3 };
const RATE_UNITS: Record<string, number> = { '': 1, 'bit/s': 1, bps: 1, 'kbit/s': 1e3, kbps: 1e3, 'mbit/s': 1e6, mbps: 1e6, 'gbit/s': 1e9, gbps: 1e9 };
const TIME_UNITS: Record<string, number> = { '': 1, ns: 1, us: 1e3, ms: 1e6, s: 1e9 };

/** Parse `key=value`; a one-line error names what is wrong. */
export function parseBudget(text: string): BudgetSpec | { error: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) return { error: `budget "${text}" is not key=value (e.g. ram.peak=1.5MiB)` };
  const key = text.slice(0, eq).trim();
  const def = BUDGET_KEYS[key];
  if (!def) return { error: `unknown budget "${key}"; known: ${Object.keys(BUDGET_KEYS).join(', ')}` };
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z/]*)\s*$/.exec(text.slice(eq + 1));
  if (!m) return { error: `budget ${key}: "${text.slice(eq + 1)}" is not a number with an optional unit` };
  const table = def.unit === 'bytes' ? BYTE_UNITS : def.unit === 'bit/s' ? RATE_UNITS : def.unit === 'ns' ? TIME_UNITS : { '': 1 };
  const unit = m[2]!.toLowerCase();
  const mult = Object.hasOwn(table, unit) ? table[unit] : undefined;
  if (mult === undefined) {
    const units = Object.keys(table).filter(Boolean);
    return { error: `budget ${key}: unknown unit "${m[2]}" (${units.length > 0 ? `use ${units.join(', ')}` : `${key} is a plain count: no unit`})` };
  }
  if (def.unit === 'count' && !/^[0-9]{1,15}$/.test(m[1]!)) return { error: `budget ${key}: "${m[1]}" is not a whole count` };
  return { key, limit: Math.round(Number(m[1]) * mult), kind: def.kind, unit: def.unit, text };
}

export function checkBudget(spec: BudgetSpec, measured: Record<string, number | null>): BudgetResult {
  const value = measured[spec.key] ?? null;
  if (value === null) return { ...spec, value, verdict: 'not measured' };
  const ok = spec.kind === 'max' ? value <= spec.limit : value >= spec.limit;
  return { ...spec, value, verdict: ok ? 'pass' : 'fail' };
}

export function formatBytes(n: number): string {
  if (Math.abs(n) >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(2)} MiB`;
  if (Math.abs(n) >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function formatValue(v: number, unit: BudgetSpec['unit']): string {
  switch (unit) {
    case 'bytes':
      return formatBytes(v);
    case 'bit/s':
      return `${(v / 1e6).toFixed(2)} Mbit/s`;
    case 'ns':
      return `${(v / 1e6).toFixed(3)} ms`;
    default:
      return String(v);
  }
}
