/**
 * report.html: one self-contained page (uPlot, its CSS and the data inlined; nothing loaded
 * from the network or another file) that opens from a CI artefact. Verdict, stalls, checks and
 * budgets with margins on top; then the timeline's plots — RAM in use against the board's
 * ceiling, free RAM against min_free, RAM per cache and per owner, goodput, and each TCP
 * connection — which zoom (drag) and show values on hover; then flash and RAM by feature and
 * the drop counters.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { formatBytes } from './budgets.js';
import type { Report } from './report.js';
import { budgetRows, dropCounters, featureRows } from './report-figures.js';
import type { ParsedTrace } from './trace-reader.js';

/** TCP connections drawn (the first ones the timeline saw); the rest are listed. */
export const MAX_CONN_PLOTS = 8;
/** Caches drawn in the per-cache plot: the largest at their peak. */
export const MAX_CACHE_SERIES = 10;

const require = createRequire(import.meta.url);
let uplotAssets: { js: string; css: string } | null = null;
function uplot(): { js: string; css: string } {
  if (!uplotAssets) {
    const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
    const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
    uplotAssets = { js, css };
  }
  return uplotAssets;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface SeriesSpec {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: boolean;
}
interface PlotSpec {
  id: string;
  title: string;
  unit: string;
  x: number[];
  series: SeriesSpec[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const sec = (ns: number[]): number[] => ns.map((t) => t / 1e9);
const kib = (b: number[]): number[] => b.map((v) => v / 1024);
const flat = (n: number, v: number): number[] => new Array<number>(n).fill(v);

/** The plots of a timeline, as data (also what the browser test counts points against). */
export function timelinePlots(trace: ParsedTrace): PlotSpec[] {
  const h = trace.header!;
  const m = trace.mem;
  const x = sec(m.t);
  const n = x.length;
  const plots: PlotSpec[] = [];
  plots.push({
    id: 'ram-in-use', title: 'RAM in use (static + heap) against the board', unit: 'KiB', x,
    series: [
      { label: 'in use', values: kib(m.used.map((u) => u + h.staticBytes)), color: COLORS[0]! },
      { label: 'board RAM (ceiling)', values: flat(n, h.ramBytes / 1024), color: '#000', dash: true },
      { label: 'ceiling − min_free', values: flat(n, (h.ramBytes - h.minFreeBytes) / 1024), color: COLORS[1]!, dash: true },
    ],
  });
  plots.push({
    id: 'ram-free', title: 'Free RAM against min_free (process allocations wait at or below it)', unit: 'KiB', x,
    series: [
      { label: 'free', values: kib(m.free), color: COLORS[2]! },
      { label: 'min_free', values: flat(n, h.minFreeBytes / 1024), color: COLORS[1]!, dash: true },
    ],
  });
  const peak = trace.caches.map((c) => ({ c, peak: Math.max(0, ...(m.caches[c.id] ?? [0])) })).filter((p) => p.peak > 0);
  peak.sort((a, b) => b.peak - a.peak || (a.c.name < b.c.name ? -1 : 1));
  plots.push({
    id: 'ram-caches', title: `RAM per slab cache (the ${Math.min(MAX_CACHE_SERIES, peak.length)} largest at peak)`, unit: 'KiB', x,
    series: peak.slice(0, MAX_CACHE_SERIES).map((p, i) => ({ label: p.c.name, values: (m.caches[p.c.id] ?? []).map((pages) => pages * 4), color: COLORS[i % COLORS.length]! })),
  });
  plots.push({
    id: 'ram-owners', title: 'RAM per owner', unit: 'KiB', x,
    series: [
      ...h.owners.map((o, i) => ({ label: o, values: kib(m.owners[i] ?? []), color: COLORS[i % COLORS.length]! })),
      ...(h.tcpMemBytes ? [{ label: 'tcp_mem pressure', values: flat(n, h.tcpMemBytes[1]! / 1024), color: '#000', dash: true }] : []),
    ],
  });
  const interval = h.intervalNs / 1e9;
  plots.push({
    id: 'goodput', title: 'Goodput per sample interval', unit: 'Mbit/s', x,
    series: [{ label: 'goodput', values: m.goodput.map((b) => (b * 8) / interval / 1e6), color: COLORS[0]! }],
  });
  for (const c of trace.conns.slice(0, MAX_CONN_PLOTS)) {
    const cx = sec(c.t);
    plots.push({
      id: `tcp-${c.id}-cwnd`, title: `TCP ${c.local} → ${c.remote}: cwnd and ssthresh`, unit: 'segments', x: cx,
      series: [
        { label: 'cwnd', values: c.cwnd, color: COLORS[0]! },
        { label: 'ssthresh', values: c.ssthresh, color: COLORS[1]! },
        { label: 'RTO backoff', values: c.backoff, color: COLORS[4]! },
      ],
    });
    plots.push({
      id: `tcp-${c.id}-bytes`, title: `TCP ${c.local} → ${c.remote}: in flight, windows, send buffer`, unit: 'KiB', x: cx,
      series: [
        { label: 'in flight', values: kib(c.inflight), color: COLORS[0]! },
        { label: 'peer window (snd_wnd)', values: kib(c.sndWnd), color: COLORS[2]! },
        { label: 'receive window', values: kib(c.rcvWnd), color: COLORS[3]! },
        { label: 'send queue (wmem_queued)', values: kib(c.wmemQueued), color: COLORS[4]! },
        { label: 'sndbuf', values: kib(c.sndbuf), color: '#000', dash: true },
      ],
    });
    plots.push({
      id: `tcp-${c.id}-rtt`, title: `TCP ${c.local} → ${c.remote}: srtt and RTO`, unit: 'ms', x: cx,
      series: [
        { label: 'srtt', values: c.srttUs.map((u) => u / 1000), color: COLORS[0]! },
        { label: 'RTO', values: c.rtoMs, color: COLORS[1]! },
        { label: 'write waits for memory (1 = yes)', values: c.memWait.map((b) => (b ? 1 : 0)), color: COLORS[5]! },
      ],
    });
  }
  return plots;
}

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** JSON safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

export function reportHtml(r: Report, trace: ParsedTrace | null): string {
  const { js, css } = uplot();
  const i = r.inputs;
  const title = `quarklab ${i.scenario} on ${i.board}, profile ${i.profile}`;
  const parts: string[] = [];
  parts.push(`<header><h1>${escapeHtml(title)}</h1><p class="verdict ${r.verdict}">${r.verdict.toUpperCase()}</p>`);
  parts.push(`<p>seed ${i.seed} · ${(r.virtualTimeNs / 1e9).toFixed(3)} s virtual · cost table ${escapeHtml(i.costTable)}</p></header>`);
  if (r.stalls && r.stalls.length > 0) {
    parts.push('<section id="stalls"><h2>Stalls</h2><ul>');
    for (const s of r.stalls) parts.push(`<li><b class="cause">${s.cause}</b> ${escapeHtml(s.connection)}, from ${(s.fromNs / 1e9).toFixed(1)} s for ${(s.durationNs / 1e9).toFixed(1)} s${s.resumed ? ' (then resumed)' : ''}: <span class="detail">${escapeHtml(s.detail)}</span>.</li>`);
    parts.push('</ul></section>');
  }
  parts.push('<section id="checks"><h2>Checks</h2>');
  parts.push(table(['', 'check', 'detail'], r.checks.map((c) => [c.pass ? '<span class="pass">PASS</span>' : '<span class="fail">FAIL</span>', escapeHtml(c.name), escapeHtml(c.detail)])));
  parts.push('</section><section id="budgets"><h2>Budgets</h2>');
  parts.push(r.budgets.length === 0 ? '<p>No budgets given (<code>--budget KEY=VALUE</code>).</p>' : table(['budget', 'limit', 'value', 'margin', 'verdict'], budgetRows(r.budgets).map((b) => [escapeHtml(b.key), escapeHtml(b.limit), escapeHtml(b.value), escapeHtml(b.margin), `<span class="${b.verdict === 'pass' ? 'pass' : 'fail'}">${b.verdict.toUpperCase()}</span>`])));
  parts.push('</section>');
  const plots = trace && trace.header ? timelinePlots(trace) : [];
  parts.push('<section id="timeline"><h2>Timeline</h2>');
  if (plots.length === 0) parts.push('<p>No timeline (the board did not boot).</p>');
  else {
    parts.push(`<p>Sampled every ${(trace!.header!.intervalNs / 1e6).toFixed(0)} ms of virtual time (${trace!.mem.t.length} samples). Drag to zoom, double-click to reset; hover for values.</p>`);
    for (const p of plots) parts.push(`<div class="plot" id="${p.id}"></div>`);
    if (trace!.conns.length > MAX_CONN_PLOTS) parts.push(`<p>${trace!.conns.length - MAX_CONN_PLOTS} more TCP connections are in trace.msgpack (<code>quarklab trace DIR</code>).</p>`);
    const agg = new Map<string, { kind: string; site: string; n: number; first: number; last: number }>();
    for (const e of trace!.events) {
      const k = `${e.kind}\u0000${e.site}`;
      const a = agg.get(k);
      if (a) {
        a.n += e.n;
        a.last = e.t;
      } else agg.set(k, { kind: e.kind, site: e.site, n: e.n, first: e.t, last: e.t });
    }
    parts.push('<h3>Events</h3>');
    parts.push(agg.size === 0 ? '<p>None.</p>' : table(['kind', 'site', 'count', 'first (s)', 'last (s)'], [...agg.values()].map((a) => [a.kind, escapeHtml(a.site), String(a.n), (a.first / 1e9).toFixed(1), (a.last / 1e9).toFixed(1)])));
  }
  parts.push('</section>');
  const dut = r.boards.find((b) => b.role === 'dut');
  if (dut) {
    parts.push('<section id="features"><h2>Flash and RAM by feature</h2>');
    const rows = featureRows(dut);
    parts.push(table(['feature', 'flash', 'static RAM'], [...rows.map((f) => [escapeHtml(f.feature), formatBytes(f.flash), formatBytes(f.ram)]), ['<b>total</b>', formatBytes(rows.reduce((s, f) => s + f.flash, 0)), formatBytes(rows.reduce((s, f) => s + f.ram, 0))]], 'num'));
    if (dut.memory) parts.push(`<p>RAM ${formatBytes(dut.memory.totalBytes)}, slab allocator ${dut.memory.allocator.toUpperCase()}: heap ${formatBytes(dut.memory.heapBytes)}, min_free ${formatBytes(dut.memory.minFreeKbytes * 1024)}, peak in use ${formatBytes(dut.memory.peakBytes)}.</p>`);
    parts.push('</section>');
  }
  if (dut?.sockets) {
    parts.push(`<section id="sockets"><h2>Sockets at the end of the scenario</h2><p>From ${escapeHtml(dut.sockets.source)}: ${escapeHtml(dut.sockets.detail)}.</p>`);
    parts.push(dut.sockets.rows.length === 0 ? '<p>None.</p>' : table(['state', 'Recv-Q', 'Send-Q', 'local', 'peer'], dut.sockets.rows.map((x) => [x.state, String(x.recvQ), String(x.sendQ), escapeHtml(x.local), escapeHtml(x.peer)])));
    parts.push('</section>');
  }
  parts.push('<section id="drops"><h2>Drops</h2>');
  parts.push(table(['counter', 'value'], dropCounters(r).map((d) => [escapeHtml(d.name), String(d.value)]), 'num'));
  parts.push('</section>');
  if (r.notes.length > 0) parts.push(`<section id="notes"><h2>Notes</h2><ul>${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul></section>`);

  const client = `
(function () {
  var plots = JSON.parse(document.getElementById('plot-data').textContent);
  var made = [];
  plots.forEach(function (p) {
    var el = document.getElementById(p.id);
    var data = [p.x].concat(p.series.map(function (s) { return s.values; }));
    var opts = {
      title: p.title, width: Math.max(480, Math.min(1100, document.body.clientWidth - 40)), height: 260,
      scales: { x: { time: false } },
      axes: [{ label: 'virtual time (s)' }, { label: p.unit, size: 70 }],
      series: [{ label: 't (s)', value: function (u, v) { return v == null ? '' : v.toFixed(3); } }].concat(p.series.map(function (s) {
        return { label: s.label, stroke: s.color, width: 1.5, dash: s.dash ? [6, 4] : undefined,
          value: function (u, v) { return v == null ? '—' : (Math.round(v * 100) / 100).toString(); } };
      })),
      cursor: { drag: { x: true, y: false } }
    };
    var u = new uPlot(opts, data, el);
    made.push({ id: p.id, points: u.data[0].length, series: u.series.length - 1 });
  });
  window.quarklabPlots = made;
})();`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}: ${r.verdict.toUpperCase()}</title>
<style>${css}
body{font:14px/1.45 system-ui,sans-serif;margin:20px;color:#222;max-width:1140px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #ddd}h3{font-size:15px}
.verdict{display:inline-block;font-weight:bold;padding:2px 10px;border-radius:4px;color:#fff}
.verdict.pass{background:#2a7d2a}.verdict.fail{background:#b3261e}
.pass{color:#2a7d2a;font-weight:bold}.fail{color:#b3261e;font-weight:bold}.cause{color:#b3261e}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
table.num td:not(:first-child){text-align:right}.plot{margin:12px 0}
.verdict.pass,.verdict.fail{color:#fff}
</style></head><body>
${parts.join('\n')}
<script id="plot-data" type="application/json">${scriptJson(plots)}</script>
<script>${js}</script>
<script>${client}</script>
</body></html>
`;
}
