/**
 * What `quarklab test` writes besides the cells' folders: results.json (per cell its figures,
 * budgets, verdict and content hashes), JUnit XML for Jenkins and GitLab, a Markdown summary
 * for a GitHub step summary; and what reads results back: merge (shards) and compare
 * (a baseline, like twister's footprint report and bloat-o-meter).
 */
import { readFileSync } from 'node:fs';
import { QUARKLAB_VERSION } from '../scenarios/run.js';
import { formatBytes } from '../traces/budgets.js';
import type { CellResult } from './cell.js';
import { DEFAULT_THRESHOLDS } from './plan.js';

export const RESULTS_SCHEMA_ID = 'quarklab-results/1';

export interface Results {
  $schema: string;
  quarklab: string;
  /** Cells in the whole matrix, and which shard this file holds (null: all of them). */
  matrixCells: number;
  shard: { index: number; count: number } | null;
  /** Ctrl-C stopped the run: only the cells listed finished. */
  interrupted: boolean;
  thresholds: Record<string, number>;
  cells: CellResult[];
}

export function makeResults(cells: CellResult[], matrixCells: number, shard: Results['shard'], interrupted: boolean, thresholds: Record<string, number>): Results {
  return { $schema: RESULTS_SCHEMA_ID, quarklab: QUARKLAB_VERSION, matrixCells, shard, interrupted, thresholds, cells: [...cells].sort((a, b) => a.index - b.index) };
}

export function resultsText(r: Results): string {
  return JSON.stringify(r, null, 2) + '\n';
}

export function readResults(path: string): Results | { error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: `${path}: ${code ? `cannot read (${code})` : 'not JSON'}` };
  }
  const r = doc as Partial<Results>;
  if (r?.$schema !== RESULTS_SCHEMA_ID || !Array.isArray(r.cells) || typeof r.matrixCells !== 'number') return { error: `${path}: not a quarklab results.json (${RESULTS_SCHEMA_ID})` };
  return r as Results;
}

/** Join shards' results into what one run of the whole matrix writes. */
export function mergeResults(parts: { path: string; results: Results }[]): Results | { error: string } {
  const first = parts[0]!.results;
  const byIndex = new Map<number, CellResult>();
  for (const { path, results } of parts) {
    if (results.quarklab !== first.quarklab) return { error: `${path}: written by quarklab ${results.quarklab}, the others by ${first.quarklab}` };
    if (results.matrixCells !== first.matrixCells) return { error: `${path}: a matrix of ${results.matrixCells} cells, the others ${first.matrixCells}` };
    for (const c of results.cells) {
      const had = byIndex.get(c.index);
      if (had) return { error: `${path}: cell ${c.id} is also in another shard` };
      byIndex.set(c.index, c);
    }
  }
  return makeResults([...byIndex.values()], first.matrixCells, null, parts.some((p) => p.results.interrupted), first.thresholds);
}

export function failedCount(cells: readonly CellResult[]): number {
  return cells.filter((c) => !c.ok).length;
}

function xml(s: string): string {
  // XML 1.0 allows no control characters but tab, newline, carriage return.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '?').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * JUnit XML as Jenkins and GitLab read it: one testsuite, one testcase per cell (classname
 * board.profile, name scenario and seed); a failed cell has one <failure> whose message is its
 * failed budgets and checks, each on a line of the body too. An expected failure passes, and
 * says why in <system-out>.
 */
export function junitXml(r: Results): string {
  const failures = failedCount(r.cells);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites name="quarklab test" tests="${r.cells.length}" failures="${failures}" errors="0" skipped="0">`);
  out.push(`  <testsuite name="quarklab" tests="${r.cells.length}" failures="${failures}" errors="0" skipped="0">`);
  for (const c of r.cells) {
    const open = `    <testcase classname="${xml(`${tail(c.board)}.${tail(c.profile)}`)}" name="${xml(`${c.scenario} seed ${c.seed}`)}"`;
    if (c.ok && c.expectFail === null) {
      out.push(`${open}/>`);
      continue;
    }
    out.push(`${open}>`);
    if (!c.ok) out.push(`      <failure message="${xml(c.failures.join('; '))}" type="${c.verdict}">${xml(c.failures.join('\n'))}</failure>`);
    if (c.expectFail !== null) out.push(`      <system-out>${xml(`expected failure: ${c.expectFail}${c.failures.length ? `\n${c.failures.join('\n')}` : ''}`)}</system-out>`);
    out.push('    </testcase>');
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

function tail(p: string): string {
  return p.includes('/') ? p.slice(p.lastIndexOf('/') + 1) : p;
}

function fig(key: string, v: number | null): string {
  if (v === null) return '–';
  if (key === 'goodput') return `${(v / 1e6).toFixed(2)} Mbit/s`;
  if (key === 'rtt.p99') return `${(v / 1e6).toFixed(3)} ms`;
  return formatBytes(v);
}

const VERDICT_MARK: Record<CellResult['verdict'], string> = { pass: '✅ pass', fail: '❌ fail', xfail: '✅ expected failure', xpass: '❌ unexpected pass', error: '❌ bad input' };

/** Markdown for a GitHub step summary: a line of totals, a table of cells, then each failure. */
export function summaryMarkdown(r: Results, comparison?: Comparison | null): string {
  const failed = failedCount(r.cells);
  const out: string[] = [`## quarklab test: ${failed === 0 ? 'all held' : `${failed} of ${r.cells.length} cells failed`}`, ''];
  if (r.interrupted) out.push(`Interrupted: ${r.cells.length} of ${r.matrixCells} cells finished.`, '');
  if (r.shard) out.push(`Shard ${r.shard.index}/${r.shard.count} of a ${r.matrixCells}-cell matrix.`, '');
  out.push('| cell | verdict | flash | static RAM | RAM peak | goodput | rtt p99 |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const c of r.cells) {
    out.push(`| \`${c.id}\` | ${VERDICT_MARK[c.verdict]} | ${fig('flash.image', c.figures['flash.image'] ?? null)} | ${fig('ram.static', c.figures['ram.static'] ?? null)} | ${fig('ram.peak', c.figures['ram.peak'] ?? null)} | ${fig('goodput', c.figures['goodput'] ?? null)} | ${fig('rtt.p99', c.figures['rtt.p99'] ?? null)} |`);
  }
  const notes = r.cells.filter((c) => c.failures.length > 0 || c.expectFail !== null);
  if (notes.length > 0) {
    out.push('', '### Failures and expected failures', '');
    for (const c of notes) {
      if (c.expectFail !== null) out.push(`- \`${c.id}\`: expected to fail: ${c.expectFail}`);
      for (const f of c.failures) out.push(`- \`${c.id}\`: ${f.replace(/\|/g, '\\|')}`);
    }
  }
  if (comparison) out.push('', '### Against the baseline', '', '```', formatComparison(comparison), '```');
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- baseline compare

export const COMPARED_FIGURES = Object.keys(DEFAULT_THRESHOLDS);

export interface FigureDelta {
  figure: string;
  old: number | null;
  new: number | null;
  /** Relative change in percent; null when either side was not measured or old is 0. */
  percent: number | null;
  threshold: number;
  breached: boolean;
}

export interface Comparison {
  cells: { id: string; deltas: FigureDelta[] }[];
  /** Cells in only one of the two. */
  onlyOld: string[];
  onlyNew: string[];
  breaches: number;
}

/**
 * Per cell in both, each figure's change against its threshold: a positive threshold is the
 * most a figure may grow (flash, RAM, rtt), a negative one the most it may shrink (goodput).
 */
export function compareResults(old: Results, now: Results, thresholds: Record<string, number>): Comparison {
  const oldById = new Map(old.cells.map((c) => [c.id, c]));
  const newIds = new Set(now.cells.map((c) => c.id));
  const cells: Comparison['cells'] = [];
  let breaches = 0;
  for (const c of now.cells) {
    const o = oldById.get(c.id);
    if (!o) continue;
    const deltas = COMPARED_FIGURES.map((figure): FigureDelta => {
      const a = o.figures[figure] ?? null;
      const b = c.figures[figure] ?? null;
      const threshold = thresholds[figure] ?? DEFAULT_THRESHOLDS[figure]!;
      const percent = a === null || b === null ? null : a === 0 ? (b === 0 ? 0 : null) : ((b - a) / a) * 100;
      const breached = percent !== null && (threshold >= 0 ? percent > threshold : percent < threshold);
      if (breached) breaches++;
      return { figure, old: a, new: b, percent, threshold, breached };
    });
    cells.push({ id: c.id, deltas });
  }
  return { cells, onlyOld: old.cells.filter((c) => !newIds.has(c.id)).map((c) => c.id), onlyNew: now.cells.filter((c) => !oldById.has(c.id)).map((c) => c.id), breaches };
}

export function formatComparison(c: Comparison): string {
  const out: string[] = [];
  for (const cell of c.cells) {
    const parts = cell.deltas.filter((d) => d.old !== null || d.new !== null).map((d) => {
      const delta = d.old !== null && d.new !== null ? d.new - d.old : null;
      const sign = delta !== null && delta > 0 ? '+' : '';
      const shown = delta === null ? 'n/a' : d.figure === 'goodput' || d.figure === 'rtt.p99' ? `${sign}${fig(d.figure, delta)}` : `${sign}${delta} B`;
      const pct = d.percent === null ? '' : ` (${d.percent >= 0 ? '+' : ''}${d.percent.toFixed(2)} %)`;
      return `${d.figure} ${shown}${pct}${d.breached ? ` OVER ${d.threshold >= 0 ? '+' : ''}${d.threshold} %` : ''}`;
    });
    out.push(`${cell.deltas.some((d) => d.breached) ? 'FAIL' : 'ok  '} ${cell.id}: ${parts.join(', ')}`);
  }
  for (const id of c.onlyOld) out.push(`gone ${id}: only in the baseline`);
  for (const id of c.onlyNew) out.push(`new  ${id}: not in the baseline`);
  out.push(c.breaches === 0 ? 'compare: every figure within its threshold' : `compare: ${c.breaches} figure${c.breaches === 1 ? '' : 's'} over threshold`);
  return out.join('\n');
}
