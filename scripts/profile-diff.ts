/**
 * What separates two profiles, in the manner of Linux's scripts/bloat-o-meter: the flash image,
 * the RAM reserved at boot and, given a scenario's measurements, the RAM used at run time — per
 * Kconfig symbol and per calibrated object, largest change first, with totals.
 *
 * Everything here compares figures the caller already has (the two firmware builds and,
 * optionally, two run reports), so the comparison has no dependency on how images are built or
 * scenarios run. The flash rows are exact: each symbol's row is the payload its sections put in
 * the image (text and data; bss has none), and the image's fixed structure — the 96-byte header
 * plus one 48-byte section-table entry per section, and the config section holding the profile —
 * is a row of its own, so the rows add up to the difference of the two image sizes byte for
 * byte. compareProfiles checks that and throws if it ever does not hold.
 */
import { ENTRY_BYTES, HEADER_BYTES, type SectionKind } from '../emulator/flash-image.js';
import type { ProfileCost, SectionSizes } from '../stack/kconfig/cost-table.js';
import { missingStackSymbol, type Profile } from '../stack/kconfig/kconfig.js';
import { ltoEstimate, type LtoEstimate } from './lto.js';

const PAGE_BYTES = 4096;

/** One side of the comparison: a profile and the firmware built for it. */
export interface DiffSide {
  profile: Profile;
  /** Length of the built image in bytes. */
  imageBytes: number;
  /** The image's sections as built (scenarios/firmware.ts). */
  sections: readonly { name: string; kind: SectionKind; size: number }[];
  /** The profile's cost from the same table (per symbol, per object). */
  stack: ProfileCost;
}

export type RowKind = 'symbol' | 'kernel' | 'driver' | 'headers' | 'config' | 'cache';

export interface DiffRow {
  name: string;
  kind: RowKind;
  /** null: not in that profile (bloat-o-meter's "-"). */
  a: number | null;
  b: number | null;
  /** b − a, with a missing side counted as 0. */
  delta: number;
}

export interface DiffTable {
  rows: DiffRow[];
  /** Symbols (or objects) only in B / only in A, as bloat-o-meter's add/remove. */
  added: number;
  removed: number;
  /** Rows in both that grew / shrank. */
  grown: number;
  shrunk: number;
  /** Sums of the positive and of the negative deltas. */
  up: number;
  down: number;
  totalA: number;
  totalB: number;
}

export interface ObjectRow {
  object: string;
  a: SectionSizes | null;
  b: SectionSizes | null;
  /** Per-section deltas, b − a. */
  delta: SectionSizes;
  /** The cost table has no such object: it is charged 0 in both. */
  missing?: true;
}

export interface ObjectTable extends Omit<DiffTable, 'rows'> {
  rows: ObjectRow[];
  /** Sum of the per-section deltas over all rows: equals the stacks' total difference. */
  totalDelta: SectionSizes;
}

export interface SideSummary {
  profile: string;
  source: string;
  imageBytes: number;
  /** RAM reserved at boot for the image's sections (see staticRam). */
  staticRamBytes: number;
  stack: SectionSizes;
  lto: LtoEstimate;
  /** The first of NET, INET this profile lacks (null when it has both): such a profile boots no
   * IPv4 stack, every scenario fails its check on it, and its saving buys no networking. */
  missingNetworking: string | null;
}

export interface RuntimeSide {
  /** null when the profile did not boot on the board; `detail` says why. */
  memory: {
    staticBytes: number;
    peakUsedBytes: number;
    peakBytes: number;
    caches: readonly { name: string; peakPages: number }[];
  } | null;
  verdict: string;
  detail?: string;
}

/** A runtime figure on each side; delta null when either side did not run. */
export interface RuntimeRow {
  name: string;
  a: number | null;
  b: number | null;
  delta: number | null;
}

export interface RuntimeDiff {
  scenario: string;
  a: { verdict: string; detail?: string };
  b: { verdict: string; detail?: string };
  /** staticBytes, peakUsedBytes, peakBytes of the board under test: bytes. */
  memory: RuntimeRow[];
  /** Slab caches and page allocations by their peak pages (only the ones that differ);
   * null when either profile did not run, as there is nothing to compare. */
  caches: DiffTable | null;
  /** Caches with the same peak on both sides. */
  unchangedCaches: number;
}

export interface ProfileDiff {
  board: string;
  executeInPlace: boolean;
  costTable: string;
  a: SideSummary;
  b: SideSummary;
  /** Enabled symbols only in A / only in B, sorted. */
  onlyInA: string[];
  onlyInB: string[];
  flash: DiffTable;
  staticRam: DiffTable;
  objects: ObjectTable;
  /** Plain-sum caveat from the cost table (link factor, rodata). */
  note: string;
  runtime?: RuntimeDiff;
}

export interface CompareOptions {
  board: string;
  executeInPlace: boolean;
  costTable: string;
}

/** Compare two firmware builds for the same board and cost table. */
export function compareProfiles(a: DiffSide, b: DiffSide, opts: CompareOptions): ProfileDiff {
  const flash = diffTable(flashByGroup(a), flashByGroup(b), a.profile, b.profile);
  // The invariant the table exists for; a failure here is a bug in this file, not bad input.
  if (flash.totalA !== a.imageBytes || flash.totalB !== b.imageBytes) {
    throw new Error(`profile diff: flash groups sum to ${flash.totalA}/${flash.totalB}, images are ${a.imageBytes}/${b.imageBytes} bytes`);
  }
  if (sum(flash.rows.map((r) => r.delta)) !== b.imageBytes - a.imageBytes) {
    throw new Error('profile diff: flash deltas do not add up to the difference of the image sizes');
  }
  const headers = flash.rows.find((r) => r.kind === 'headers');
  if (headers) {
    const [na, nb] = [a.sections.length, b.sections.length];
    headers.name = `<image headers: ${signed(nb - na)} sections × ${ENTRY_BYTES} bytes (${na} → ${nb})>`;
  }
  const staticA = ramByGroup(a, opts.executeInPlace);
  const staticB = ramByGroup(b, opts.executeInPlace);
  const staticRam = diffTable(staticA, staticB, a.profile, b.profile);
  const onlyInA = a.profile.enabled.filter((s) => !b.profile.symbols[s]).sort();
  const onlyInB = b.profile.enabled.filter((s) => !a.profile.symbols[s]).sort();
  return {
    board: opts.board,
    executeInPlace: opts.executeInPlace,
    costTable: opts.costTable,
    a: summary(a, staticRam.totalA),
    b: summary(b, staticRam.totalB),
    onlyInA,
    onlyInB,
    flash,
    staticRam,
    objects: objectTable(a.stack, b.stack),
    note: a.stack.note,
  };
}

/** Compare the memory two runs of one scenario reported for the board under test. */
export function compareRuntime(scenario: string, a: RuntimeSide, b: RuntimeSide): RuntimeDiff {
  const both = a.memory !== null && b.memory !== null;
  const row = (name: string, pick: (m: NonNullable<RuntimeSide['memory']>) => number): RuntimeRow => {
    const va = a.memory ? pick(a.memory) : null;
    const vb = b.memory ? pick(b.memory) : null;
    return { name, a: va, b: vb, delta: va !== null && vb !== null ? vb - va : null };
  };
  const memory = [
    row('staticBytes (reserved at boot, programs included)', (m) => m.staticBytes),
    row('peakUsedBytes (heap pages in use at peak)', (m) => m.peakUsedBytes),
    row('peakBytes (static + heap peak)', (m) => m.peakBytes),
  ];
  const side = (s: RuntimeSide): { verdict: string; detail?: string } => (s.detail === undefined ? { verdict: s.verdict } : { verdict: s.verdict, detail: s.detail });
  if (!both) return { scenario, a: side(a), b: side(b), memory, caches: null, unchangedCaches: 0 };
  const pages = (s: RuntimeSide): Map<string, number> =>
    new Map((s.memory?.caches ?? []).filter((c) => c.peakPages > 0).map((c) => [c.name, c.peakPages]));
  const pa = pages(a);
  const pb = pages(b);
  const names = [...new Set([...pa.keys(), ...pb.keys()])];
  const unchangedCaches = names.filter((n) => pa.get(n) === pb.get(n)).length;
  const rows: DiffRow[] = names
    .filter((n) => pa.get(n) !== pb.get(n))
    .map((n) => {
      const va = pa.get(n) ?? null;
      const vb = pb.get(n) ?? null;
      return { name: n, kind: 'cache' as const, a: va, b: vb, delta: (vb ?? 0) - (va ?? 0) };
    });
  const caches = tally(sortRows(rows), sum(pa.values()), sum(pb.values()), (r) => r.a === null, (r) => r.b === null);
  return { scenario, a: side(a), b: side(b), memory, caches, unchangedCaches };
}

// ---- grouping the image's sections -------------------------------------------------------

interface Group {
  kind: RowKind;
  bytes: number;
}

/** The row a section belongs to: its Kconfig symbol, the kernel core, the driver, or config. */
function groupOf(section: { name: string; kind: SectionKind }): { name: string; kind: RowKind } {
  if (section.kind === 'config') return { name: '<config section: the profile as msgpack>', kind: 'config' };
  const net = /^net:([A-Z0-9_]+)\.(text|data|bss)$/.exec(section.name);
  if (net) return { name: net[1]!, kind: 'symbol' };
  const base = section.name.replace(/\.(text|data|bss|init)$/, '');
  if (base.startsWith('driver:')) return { name: `<${base}>`, kind: 'driver' };
  return { name: `<${base === 'kernel' ? 'kernel core' : base}>`, kind: 'kernel' };
}

function addTo(m: Map<string, Group>, name: string, kind: RowKind, bytes: number): void {
  const g = m.get(name);
  if (g) g.bytes += bytes;
  else m.set(name, { kind, bytes });
}

/** Flash bytes per row: payloads (bss has none) plus the header and section table. */
function flashByGroup(side: DiffSide): Map<string, Group> {
  const m = new Map<string, Group>();
  for (const sym of side.profile.enabled) addTo(m, sym, 'symbol', 0);
  for (const s of side.sections) {
    const g = groupOf(s);
    addTo(m, g.name, g.kind, s.kind === 'bss' ? 0 : s.size);
  }
  addTo(m, HEADERS_ROW, 'headers', HEADER_BYTES + side.sections.length * ENTRY_BYTES);
  return m;
}

const HEADERS_ROW = `<image headers: ${HEADER_BYTES} + sections × ${ENTRY_BYTES}>`;

/** RAM each row reserves at boot, as emulator/board.ts lays it out: each section rounded up
 * to whole pages; text stays in flash on an execute-in-place board; init is freed after boot;
 * config is read from flash and never copied. */
function ramByGroup(side: DiffSide, executeInPlace: boolean): Map<string, Group> {
  const m = new Map<string, Group>();
  for (const sym of side.profile.enabled) addTo(m, sym, 'symbol', 0);
  for (const s of side.sections) {
    if (s.kind === 'config' || s.kind === 'init' || (s.kind === 'text' && executeInPlace)) continue;
    const g = groupOf(s);
    addTo(m, g.name, g.kind, Math.ceil(s.size / PAGE_BYTES) * PAGE_BYTES);
  }
  return m;
}

/** Rows for every group in either side that differs, and every symbol only one side enables. */
function diffTable(ma: Map<string, Group>, mb: Map<string, Group>, pa: Profile, pb: Profile): DiffTable {
  const rows: DiffRow[] = [];
  const names = [...new Set([...ma.keys(), ...mb.keys()])];
  for (const name of names) {
    const ga = ma.get(name);
    const gb = mb.get(name);
    const kind = (ga ?? gb)!.kind;
    // A symbol is absent ("-") when the profile does not enable it, even if it costs nothing.
    const va = kind === 'symbol' ? (pa.symbols[name] ? ga?.bytes ?? 0 : null) : ga?.bytes ?? null;
    const vb = kind === 'symbol' ? (pb.symbols[name] ? gb?.bytes ?? 0 : null) : gb?.bytes ?? null;
    const delta = (vb ?? 0) - (va ?? 0);
    if (va !== null && vb !== null && delta === 0) continue;
    rows.push({ name, kind, a: va, b: vb, delta });
  }
  const total = (m: Map<string, Group>): number => sum([...m.values()].map((g) => g.bytes));
  return tally(sortRows(rows), total(ma), total(mb), (r) => r.kind === 'symbol' && r.a === null, (r) => r.kind === 'symbol' && r.b === null);
}

function tally(rows: DiffRow[], totalA: number, totalB: number, isAdded: (r: DiffRow) => boolean, isRemoved: (r: DiffRow) => boolean): DiffTable {
  const t: DiffTable = { rows, added: 0, removed: 0, grown: 0, shrunk: 0, up: 0, down: 0, totalA, totalB };
  for (const r of rows) {
    if (isAdded(r)) t.added++;
    else if (isRemoved(r)) t.removed++;
    else if (r.delta > 0) t.grown++;
    else if (r.delta < 0) t.shrunk++;
    if (r.delta > 0) t.up += r.delta;
    else t.down += r.delta;
  }
  return t;
}

/** Largest change first (growth before shrinkage at equal size), then by name. */
function byChange<T>(delta: (r: T) => number, name: (r: T) => string): (x: T, y: T) => number {
  return (x, y) => Math.abs(delta(y)) - Math.abs(delta(x)) || delta(y) - delta(x) || cmp(name(x), name(y));
}

/** Symbols (and kernel, driver) by change; the image's fixed structure (headers, config) last. */
function sortRows(rows: DiffRow[]): DiffRow[] {
  const fixed = (r: DiffRow): number => (r.kind === 'headers' || r.kind === 'config' ? 1 : 0);
  const change = byChange<DiffRow>((r) => r.delta, (r) => r.name);
  return rows.sort((x, y) => fixed(x) - fixed(y) || change(x, y));
}

// ---- objects -----------------------------------------------------------------------------

function objectSizes(cost: ProfileCost): Map<string, { size: SectionSizes; missing: boolean }> {
  const m = new Map<string, { size: SectionSizes; missing: boolean }>();
  for (const sym of cost.symbols) {
    for (const o of sym.objects) {
      const prev = m.get(o.object);
      if (prev) {
        prev.size.text += o.text;
        prev.size.data += o.data;
        prev.size.bss += o.bss;
      } else {
        m.set(o.object, { size: { text: o.text, data: o.data, bss: o.bss }, missing: o.missing === true });
      }
    }
  }
  return m;
}

function objectTable(a: ProfileCost, b: ProfileCost): ObjectTable {
  const ma = objectSizes(a);
  const mb = objectSizes(b);
  const rows: ObjectRow[] = [];
  for (const object of [...new Set([...ma.keys(), ...mb.keys()])]) {
    const oa = ma.get(object);
    const ob = mb.get(object);
    const za = oa?.size ?? { text: 0, data: 0, bss: 0 };
    const zb = ob?.size ?? { text: 0, data: 0, bss: 0 };
    const delta = { text: zb.text - za.text, data: zb.data - za.data, bss: zb.bss - za.bss };
    if (oa && ob && delta.text === 0 && delta.data === 0 && delta.bss === 0) continue;
    const row: ObjectRow = { object, a: oa ? { ...oa.size } : null, b: ob ? { ...ob.size } : null, delta };
    if (oa?.missing || ob?.missing) row.missing = true;
    rows.push(row);
  }
  const sorted = rows.sort(byChange<ObjectRow>((r) => r.delta.text + r.delta.data + r.delta.bss, (r) => r.object));
  const totalOf = (s: SectionSizes): number => s.text + s.data + s.bss;
  const t: ObjectTable = {
    rows: sorted,
    added: 0,
    removed: 0,
    grown: 0,
    shrunk: 0,
    up: 0,
    down: 0,
    totalA: totalOf(a.total),
    totalB: totalOf(b.total),
    totalDelta: { text: b.total.text - a.total.text, data: b.total.data - a.total.data, bss: b.total.bss - a.total.bss },
  };
  for (const r of sorted) {
    const d = totalOf(r.delta);
    if (r.a === null) t.added++;
    else if (r.b === null) t.removed++;
    else if (d > 0) t.grown++;
    else if (d < 0) t.shrunk++;
    if (d > 0) t.up += d;
    else t.down += d;
  }
  return t;
}

function summary(side: DiffSide, staticRamBytes: number): SideSummary {
  return {
    profile: side.profile.name,
    source: side.profile.source,
    imageBytes: side.imageBytes,
    staticRamBytes,
    stack: { ...side.stack.total },
    lto: ltoEstimate(side.profile, side.stack.total.text),
    missingNetworking: missingStackSymbol(side.profile.enabled),
  };
}

// ---- the text form -----------------------------------------------------------------------

/** bloat-o-meter's layout: a summary line, a table with old/new/delta, a total line. */
export function formatProfileDiff(d: ProfileDiff): string {
  const A = d.a.profile;
  const B = d.b.profile;
  const out: string[] = [];
  out.push(
    `profile diff ${A} → ${B} on board ${d.board} (${d.executeInPlace ? 'text executes in place from flash' : 'text is copied to RAM at boot'}); costs: ${d.costTable}`,
  );
  if (d.onlyInA.length + d.onlyInB.length === 0 && d.flash.rows.length === 0) out.push(`no difference: both profiles enable the same symbols`);
  for (const side of [d.a, d.b]) {
    if (side.missingNetworking === null) continue;
    const what = side.missingNetworking === 'NET' ? 'no network stack' : 'no IPv4';
    out.push(
      `warning: ${side.profile} has CONFIG_${side.missingNetworking} off: ${what}. It boots, but every scenario fails its ` +
        `check on it; the bytes below are what dropping networking costs, not a saving that keeps the job done.`,
    );
  }

  out.push('', 'flash: image bytes per symbol (its text and data sections; bss takes no flash)');
  out.push(...formatTable(d.flash, A, B, 'symbol'));

  out.push('', `static RAM: reserved at boot per symbol (text${d.executeInPlace ? ' stays in flash' : ''} + data + bss, each section rounded up to a 4 KiB page; init is freed after boot; program reservations depend on the scenario and are not counted)`);
  out.push(...formatTable(d.staticRam, A, B, 'symbol'));

  out.push('', 'objects: summed calibrated sizes (object text includes rodata); delta split into text/data/bss');
  out.push(...formatObjects(d.objects, A, B));

  out.push('', `text after LTO: ${A}: ${d.a.lto.note}; ${B}: ${d.b.lto.note}`);

  if (d.runtime) {
    const r = d.runtime;
    out.push('', `runtime RAM: scenario ${r.scenario} on each (verdicts: ${A} ${r.a.verdict}, ${B} ${r.b.verdict})`);
    for (const [name, s] of [[A, r.a], [B, r.b]] as const) if (s.detail) out.push(`  ${name}: ${s.detail}`);
    out.push(...grid(['memory (bytes)', A, B, 'delta'], r.memory.map((m) => [m.name, cell(m.a), cell(m.b), m.delta === null ? 'n/a' : signed(m.delta)])));
    if (r.caches) {
      out.push(...formatTable(r.caches, A, B, 'cache (peak pages)', r.unchangedCaches > 0 ? `${r.unchangedCaches} caches with the same peak not shown` : undefined));
    } else {
      out.push('caches: not compared, one profile did not run');
    }
  }
  out.push('', `note: ${d.note}`);
  return out.join('\n') + '\n';
}

function formatTable(t: DiffTable, A: string, B: string, first: string, footnote?: string): string[] {
  const out = [headline(t)];
  out.push(...formatRows(t.rows, A, B, first));
  out.push(totalLine(A, B, t.totalA, t.totalB));
  if (footnote) out.push(footnote);
  return out;
}

function formatRows(rows: readonly DiffRow[], A: string, B: string, first: string): string[] {
  const cells = rows.map((r) => [r.name, cell(r.a), cell(r.b), signed(r.delta)]);
  return grid([first, A, B, 'delta'], cells);
}

function formatObjects(t: ObjectTable, A: string, B: string): string[] {
  const total = (s: SectionSizes | null): number | null => (s === null ? null : s.text + s.data + s.bss);
  const cells = t.rows.map((r) => [
    r.object + (r.missing ? ' (not in cost table)' : ''),
    cell(total(r.a)),
    cell(total(r.b)),
    signed(r.delta.text + r.delta.data + r.delta.bss),
    signed(r.delta.text),
    signed(r.delta.data),
    signed(r.delta.bss),
  ]);
  const d = t.totalDelta;
  return [
    headline(t),
    ...grid(['object', A, B, 'delta', 'text', 'data', 'bss'], cells),
    `${totalLine(A, B, t.totalA, t.totalB)} (text ${signed(d.text)}, data ${signed(d.data)}, bss ${signed(d.bss)})`,
  ];
}

function headline(t: Omit<DiffTable, 'rows'>): string {
  return `add/remove: ${t.added}/${t.removed} grow/shrink: ${t.grown}/${t.shrunk} up/down: ${t.up}/${t.down} (${t.up + t.down})`;
}

function totalLine(A: string, B: string, a: number, b: number): string {
  const chg = a === 0 ? (b === 0 ? '+0.00%' : 'n/a') : `${b >= a ? '+' : '-'}${(Math.abs(b - a) * 100 / a).toFixed(2)}%`;
  return `Total: ${A}=${a}, ${B}=${b}, chg ${chg}`;
}

function grid(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const fmt = (r: string[]): string => r.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]! + 1))).join(' ').trimEnd();
  return [fmt(head), ...rows.map(fmt)];
}

function cell(v: number | null): string {
  return v === null ? '-' : String(v);
}

function signed(v: number): string {
  return v > 0 ? `+${v}` : String(v === 0 ? 0 : v);
}

function sum(xs: Iterable<number>): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
