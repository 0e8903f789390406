/**
 * index.html for a matrix of runs (`quarklab test`): one self-contained page listing every cell,
 * failed ones first, each linking to its own report.html.
 */
import { writeOutputFile } from './output-error.js';
import { escapeHtml } from './report-html.js';

export interface IndexCell {
  /** What the cell ran, e.g. "quark-2m / minimal / bulk-tx:loss=0.01". */
  name: string;
  /** Path of the cell's report.html relative to the index page. */
  href: string;
  verdict: 'pass' | 'fail' | 'error';
  /** One line: the first failed check, a stall's cause, or a figure worth showing. */
  summary: string;
}

/** Failed and errored cells first (in the order given), then passed ones. */
export function indexHtml(title: string, cells: readonly IndexCell[]): string {
  const order = (c: IndexCell): number => (c.verdict === 'pass' ? 1 : 0);
  const sorted = cells.map((c, i) => ({ c, i })).sort((a, b) => order(a.c) - order(b.c) || a.i - b.i).map((x) => x.c);
  const failed = cells.filter((c) => c.verdict !== 'pass').length;
  const rows = sorted
    .map((c) => `<tr class="${c.verdict}"><td class="v">${c.verdict.toUpperCase()}</td><td><a href="${escapeHtml(c.href)}">${escapeHtml(c.name)}</a></td><td>${escapeHtml(c.summary)}</td></tr>`)
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${escapeHtml(title)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:20px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
tr.fail .v,tr.error .v{color:#b3261e;font-weight:bold}tr.pass .v{color:#2a7d2a;font-weight:bold}</style></head><body>
<h1>${escapeHtml(title)}</h1><p>${cells.length} cells, ${failed} failed.</p>
<table><thead><tr><th>verdict</th><th>cell</th><th>summary</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}

/** Write the index page to `path`. */
export function writeIndexPage(path: string, title: string, cells: readonly IndexCell[]): void {
  writeOutputFile(path, indexHtml(title, cells));
}
