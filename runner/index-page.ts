/**
 * The index page of a `quarklab test` output folder: index.html, one row per cell linking its
 * report.html, failed cells first. `quarklab test` calls writeIndexPage once, after
 * results.json is written.
 */
import { join } from 'node:path';
import { writeIndexPage as writeIndexHtml, type IndexCell } from '../traces/report-index.js';
import type { Results } from './results.js';

export function writeIndexPage(outDir: string, results: Results): void {
  const cells: IndexCell[] = results.cells.map((c) => ({
    name: `${c.board} / ${c.profile} / ${c.scenario} / seed ${c.seed}`,
    href: `${c.id}/report.html`,
    // An expected failure holds the gate; an unexpected pass breaks it.
    verdict: c.verdict === 'error' ? 'error' : c.ok ? 'pass' : 'fail',
    summary: c.failures[0] ?? (c.expectFail !== null ? `expected failure: ${c.expectFail}` : ''),
  }));
  writeIndexHtml(join(outDir, 'index.html'), `quarklab test: ${results.cells.length} cells`, cells);
}
