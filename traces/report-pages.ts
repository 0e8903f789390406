/**
 * Writes report.html and report.md next to report.json, reading the run's trace.msgpack from the
 * same folder (the timeline was streamed there during the run).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Report } from './report.js';
import { reportHtml } from './report-html.js';
import { reportMarkdown } from './report-md.js';
import { readTrace, type ParsedTrace } from './trace-reader.js';
import { writeOutputFile } from './output-error.js';

export function writeReportPages(dir: string, report: Report): { html: string; md: string; traceError?: string } {
  const tracePath = join(dir, 'trace.msgpack');
  let trace: ParsedTrace | null = null;
  let traceError: string | undefined;
  if (existsSync(tracePath)) {
    const t = readTrace(new Uint8Array(readFileSync(tracePath)), tracePath);
    if ('error' in t) traceError = t.error;
    else trace = t;
  }
  const html = join(dir, 'report.html');
  const md = join(dir, 'report.md');
  writeOutputFile(html, reportHtml(report, trace));
  writeOutputFile(md, reportMarkdown(report) + '\n');
  return { html, md, traceError };
}
