// report.html in a real browser: Debian's chromium, headless, driven by playwright-core (which
// uses the installed browser and downloads nothing). The page must open from the file with no
// console error and no request leaving it, and each plot must hold as many points as the
// trace has samples for it — counted here from trace.msgpack with msgpackr directly, not with
// quarklab's reader.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { unpackMultiple } from 'msgpackr';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { writeReportPages } from '../traces/report-pages.js';
import { runToDir } from './helpers/run.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('report.html', () => {
  it('opens in headless chromium from the file alone, and every plot has one point per sample', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} (apt-get install chromium)`).toBe(true);
    // A short lossy upload long enough for several samples with the TCP connection in them
    // (about 0.8 s of virtual time: 5 % loss on 2 MB). 1 MB at 3 % used to take 0.29 s because a
    // tail loss waited for a 200 ms RTO; with tail loss probes it is over in 88 ms, before the
    // first 100 ms sample sees the connection.
    const run = runToDir({ board: 'quark-2m', profile: 'minimal', scenario: 'bulk-tx:bytes=2000000,loss=0.05' });
    const pages = writeReportPages(run.dir, run.report);
    expect(pages.traceError).toBeUndefined();

    const memSamples: number[] = [];
    const tcpSamples = new Map<number, number>();
    unpackMultiple(readFileSync(join(run.dir, 'trace.msgpack')), (r: Record<string, unknown>) => {
      if (r['k'] === 'mem') memSamples.push(r['t'] as number);
      if (r['k'] === 'tcp' && r['gone'] !== true) tcpSamples.set(r['id'] as number, (tcpSamples.get(r['id'] as number) ?? 0) + 1);
      return true;
    });
    expect(memSamples.length).toBeGreaterThanOrEqual(3);
    expect(tcpSamples.size).toBeGreaterThan(0);
    // docs/trace-format.md: a sample every 100 ms of virtual time from the start of the scenario,
    // and one last at the end of its traffic (at most 100 ms after the one before it).
    const INTERVAL_NS = 100_000_000;
    expect(memSamples[0]).toBe(0);
    for (let i = 1; i < memSamples.length - 1; i++) expect(memSamples[i]! - memSamples[i - 1]!, `sample ${i}`).toBe(INTERVAL_NS);
    const lastGap = memSamples.at(-1)! - memSamples.at(-2)!;
    expect(lastGap).toBeGreaterThanOrEqual(0);
    expect(lastGap).toBeLessThanOrEqual(INTERVAL_NS);
    expect(memSamples.at(-1)).toBe(run.report.virtualTimeNs);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (req) => requests.push(req.url()));
      const url = pathToFileURL(pages.html).href;
      await page.goto(url, { waitUntil: 'load' });
      await page.waitForFunction(() => Array.isArray((window as unknown as { quarklabPlots?: unknown[] }).quarklabPlots));
      const plots = await page.evaluate(() => (window as unknown as { quarklabPlots: { id: string; points: number; series: number }[] }).quarklabPlots);
      const verdict = await page.textContent('.verdict');
      const canvases = await page.locator('.plot canvas').count();
      expect(errors).toEqual([]);
      expect(requests.filter((u) => u !== url)).toEqual([]);
      expect(verdict).toBe(run.report.verdict.toUpperCase());
      expect(canvases).toBe(plots.length);
      // RAM, free, caches, owners, goodput, then three plots per connection.
      expect(plots.length).toBe(5 + 3 * tcpSamples.size);
      for (const p of plots) {
        const conn = /^tcp-(\d+)-/.exec(p.id);
        const expected = conn ? tcpSamples.get(Number(conn[1])) : memSamples.length;
        expect(p.points, p.id).toBe(expected);
        expect(p.series, p.id).toBeGreaterThan(0);
      }
    } finally {
      await browser.close();
    }
  }, 30_000);
});
