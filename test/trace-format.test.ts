// trace.msgpack is a stream of msgpack maps written through a bounded buffer (docs/trace-format.md).
// Decoded here with msgpackr's unpackMultiple directly; the sample times are checked against the
// 100 ms grid worked by hand, and `quarklab trace` against the record count.
import { unpackMultiple } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { indexHtml } from '../traces/report-index.js';
import { reportMarkdown } from '../traces/report-md.js';
import { TRACE_BUFFER_BYTES, TraceWriter, type TraceSink } from '../traces/trace-writer.js';
import { quarklabAsync, runToDir } from './helpers/run.js';

describe('trace.msgpack', () => {
  it('is a header, samples on the 100 ms grid up to the end of traffic, and an end record; quarklab trace reads it', async () => {
    const run = runToDir({ scenario: 'ping' });
    const recs: Record<string, unknown>[] = [];
    unpackMultiple(Buffer.from(run.trace), (r: Record<string, unknown>) => {
      recs.push(r);
      return true;
    });
    expect(recs[0]!['k']).toBe('header');
    expect(recs[0]!['format']).toBe('quarklab-trace');
    expect(recs.at(-1)!['k']).toBe('end');
    const times = recs.filter((r) => r['k'] === 'mem').map((r) => r['t'] as number);
    expect(recs.at(-1)!['samples']).toBe(times.length);
    // 0, 100 ms, 200 ms … before the end of traffic, then one sample at the end of traffic (a
    // tick due at that very instant runs only if it comes before the event that ended traffic).
    const end = run.report.virtualTimeNs;
    const grid: number[] = [];
    for (let t = 0; t < end; t += 100_000_000) grid.push(t);
    const body = times.slice(0, -1);
    expect(body.length === grid.length ? body : body.slice(0, -1)).toEqual(grid);
    if (body.length !== grid.length) expect(body.at(-1)).toBe(end);
    expect(times.at(-1)).toBe(end);
    // Program lines are in the stream too.
    expect(recs.filter((r) => r['k'] === 'line').length).toBe(run.outcome.trace.length);
    const csv = await quarklabAsync(['trace', run.dir, '--csv', 'mem']);
    expect(csv.status).toBe(0);
    expect(csv.stdout.trim().split('\n').length).toBe(times.length + 1);
    const bad = await quarklabAsync(['trace', run.reportPath]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n').length).toBe(1);
  }, 30_000);

  it('goes to its sink in chunks no larger than the buffer, however many records', () => {
    const chunks: number[] = [];
    const parts: Uint8Array[] = [];
    const sink: TraceSink = { write: (c) => (chunks.push(c.length), parts.push(c.slice())), close: () => {} };
    const w = new TraceWriter(sink);
    for (let i = 0; i < 20_000; i++) w.write({ k: 'ev', t: i, kind: 'drop', site: 'wire: frame lost', n: 1 });
    w.close();
    expect(chunks.length).toBeGreaterThan(5);
    expect(Math.max(...chunks)).toBeLessThanOrEqual(TRACE_BUFFER_BYTES);
    let n = 0;
    unpackMultiple(Buffer.concat(parts), (r: Record<string, unknown>) => (expect(r['t']).toBe(n++), true));
    expect(n).toBe(20_000);
  });
});

describe('report.md and the index page', () => {
  it('report.md gives the verdict and every check', () => {
    const run = runToDir({ scenario: 'ping' });
    const md = reportMarkdown(run.report);
    expect(md.split('\n')[0]).toMatch(/: PASS$/);
    for (const c of run.report.checks) expect(md).toContain(c.name);
  }, 30_000);

  it('the index lists failed cells first, keeping the given order within each group', () => {
    const html = indexHtml('sweep', [
      { name: 'a', href: 'a/report.html', verdict: 'pass', summary: '' },
      { name: 'b', href: 'b/report.html', verdict: 'fail', summary: 'stall' },
      { name: 'c', href: 'c/report.html', verdict: 'pass', summary: '' },
      { name: 'd', href: 'd/report.html', verdict: 'error', summary: 'exit 2' },
    ]);
    const order = [...html.matchAll(/<a href="(\w)\/report.html">/g)].map((m) => m[1]);
    expect(order).toEqual(['b', 'd', 'a', 'c']);
    expect(html).toContain('4 cells, 2 failed.');
  });
});
