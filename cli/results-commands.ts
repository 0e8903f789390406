/** `quarklab merge` (shards into one results.json) and `quarklab compare OLD NEW` (a baseline). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_THRESHOLDS } from '../runner/plan.js';
import { compareResults, failedCount, formatComparison, junitXml, mergeResults, readResults, resultsText, summaryMarkdown, type Results } from '../runner/results.js';
import { fail, write } from './output.js';

export const MERGE_HELP = `usage: quarklab merge SHARD/results.json… --out FILE [--junit FILE] [--summary FILE]

Join the results.json of 'quarklab test --shard I/N' runs into the results.json one run of the
whole matrix writes (cells in matrix order). Shards must come from one quarklab version and
one matrix, and hold no cell twice.

exit codes: 0 every cell held; 1 a cell failed, or a cell of the matrix is missing; 2 bad usage or input.`;

export const COMPARE_HELP = `usage: quarklab compare OLD/results.json NEW/results.json [--threshold FIGURE=PERCENT]…

Per cell in both, the change of flash.image, ram.static, ram.peak, goodput and rtt.p99, as
twister's footprint report and bloat-o-meter show it. Default thresholds: flash.image,
ram.static and ram.peak +0.5 %, goodput −5 %, rtt.p99 +10 % (NEW's plan thresholds, as saved
in its results.json, replace them; --threshold replaces those).

exit codes: 0 every figure within its threshold; 1 one passed it; 2 bad usage or input.`;

function readAll(paths: string[]): { path: string; results: Results }[] {
  return paths.map((path) => {
    const r = readResults(path);
    if ('error' in r) fail(r.error);
    return { path, results: r };
  });
}

export function mergeCommand(args: string[]): number {
  const { values, positionals } = parseArgs({ args, options: { out: { type: 'string' }, junit: { type: 'string' }, summary: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  if (values.help) {
    write(MERGE_HELP);
    return 0;
  }
  if (positionals.length === 0) fail('merge needs the results.json of each shard');
  if (values.out === undefined) fail('merge needs --out FILE for the merged results.json');
  const merged = mergeResults(readAll(positionals));
  if ('error' in merged) fail(merged.error);
  for (const [file, text] of [[values.out, resultsText(merged)], [values.junit, junitXml(merged)], [values.summary, summaryMarkdown(merged)]] as const) {
    if (file === undefined) continue;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  const failed = failedCount(merged.cells);
  const missing = merged.matrixCells - merged.cells.length;
  write(`merged ${positionals.length} shard${positionals.length === 1 ? '' : 's'}: ${merged.cells.length - failed} passed, ${failed} failed${missing > 0 ? `, ${missing} of ${merged.matrixCells} cells missing` : ''}`);
  return failed > 0 || missing > 0 ? 1 : 0;
}

export function compareCommand(args: string[]): number {
  const { values, positionals } = parseArgs({ args, options: { threshold: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  if (values.help) {
    write(COMPARE_HELP);
    return 0;
  }
  if (positionals.length !== 2) fail(`compare takes two results.json files, OLD and NEW (got ${positionals.length})`);
  const [old, now] = readAll(positionals);
  const thresholds: Record<string, number> = { ...DEFAULT_THRESHOLDS, ...now!.results.thresholds };
  for (const t of values.threshold ?? []) {
    const m = /^([a-z.0-9-]+)=([+-]?[0-9]+(?:\.[0-9]+)?)%?$/.exec(t);
    if (!m || !(m[1]! in DEFAULT_THRESHOLDS)) fail(`--threshold "${t}": expected FIGURE=PERCENT with FIGURE one of ${Object.keys(DEFAULT_THRESHOLDS).join(', ')}`);
    thresholds[m[1]!] = Number(m[2]);
  }
  const c = compareResults(old!.results, now!.results, thresholds);
  write(formatComparison(c));
  return c.breaches > 0 ? 1 : 0;
}
