/**
 * The index page of a `quarklab test` output folder: one entry per cell linking its report.
 * This is the hook for the HTML reports (report.html per cell and an index of all cells):
 * `quarklab test` calls writeIndexPage once, after results.json is written, with the output
 * folder and the results. Until the HTML report lands it writes nothing.
 */
import type { Results } from './results.js';

export function writeIndexPage(_outDir: string, _results: Results): void {
  // Intentionally empty: the report.html work provides the index page here.
}
