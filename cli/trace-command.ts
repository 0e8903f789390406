/** `quarklab trace DIR`: print a run's timeline (DIR/trace.msgpack), or export it as CSV or JSON. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes } from '../traces/budgets.js';
import { readTrace, type ParsedTrace } from '../traces/trace-reader.js';
import { fail, write } from './output.js';

export const TRACE_HELP = `usage: quarklab trace DIR|FILE [--csv mem|tcp|events|lines] [--json]

Print the timeline a run wrote to DIR/trace.msgpack (docs/trace-format.md): the header, a line
per sample (free RAM, TCP memory, goodput), each TCP connection's last state, and the events.

options:
  --csv mem|tcp|events|lines   one table as CSV on stdout: memory samples (with a column per
                               owner and per slab cache), TCP samples, events, or program lines
  --json                       the whole timeline as JSON (columns per series)
  -h, --help                   this help`;

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(rows: unknown[][]): string {
  return rows.map((r) => r.map(csvCell).join(',')).join('\n');
}

function toCsv(t: ParsedTrace, table: string): string {
  const m = t.mem;
  if (table === 'mem') {
    const head = ['t_ns', 'free', 'used', 'tcp_mem', 'pressure', 'goodput_bytes', ...t.header!.owners.map((o) => `owner:${o}`), ...t.caches.map((c) => `cache_pages:${c.name}`)];
    return csv([head, ...m.t.map((time, i) => [time, m.free[i], m.used[i], m.tcpMem[i], m.pressure[i] ? 1 : 0, m.goodput[i], ...m.owners.map((o) => o[i]), ...m.caches.map((c) => c[i])])]);
  }
  if (table === 'tcp') {
    const head = ['t_ns', 'conn', 'local', 'remote', 'state', 'cwnd', 'ssthresh', 'srtt_us', 'rto_ms', 'backoff', 'inflight', 'snd_wnd', 'rcv_wnd', 'sndbuf', 'wmem_queued', 'sndbuf_full', 'mem_wait', 'pressure', 'acked', 'received'];
    const rows: unknown[][] = [head];
    for (const c of t.conns) {
      for (let i = 0; i < c.t.length; i++) {
        rows.push([c.t[i], c.id, c.local, c.remote, c.state[i], c.cwnd[i], c.ssthresh[i], c.srttUs[i], c.rtoMs[i], c.backoff[i], c.inflight[i], c.sndWnd[i], c.rcvWnd[i], c.sndbuf[i], c.wmemQueued[i], c.sndbufFull[i] ? 1 : 0, c.memWait[i] ? 1 : 0, c.pressure[i] ? 1 : 0, c.acked[i], c.received[i]]);
      }
    }
    return csv(rows);
  }
  if (table === 'events') return csv([['t_ns', 'kind', 'site', 'count'], ...t.events.map((e) => [e.t, e.kind, e.site, e.n])]);
  return csv([['t_ns', 'board', 'program', 'line'], ...t.lines.map((l) => [l.t, l.board, l.program, l.line])]);
}

function summary(t: ParsedTrace): string {
  const h = t.header!;
  const out: string[] = [];
  out.push(`${h.format} v${h.version}: ${h.scenario} on ${h.board} with profile ${h.profile} (seed ${h.seed}), a sample every ${h.intervalNs / 1e6} ms`);
  out.push(`RAM ${formatBytes(h.ramBytes)}, static ${formatBytes(h.staticBytes)}, heap ${formatBytes(h.heapBytes)}, min_free ${formatBytes(h.minFreeBytes)}; ${t.mem.t.length} samples, ${t.conns.length} TCP connections, ${t.events.length} events`);
  out.push('time s     free      tcp_mem   goodput Mbit/s');
  const interval = h.intervalNs / 1e9;
  for (let i = 0; i < t.mem.t.length; i++) {
    out.push(`${(t.mem.t[i]! / 1e9).toFixed(1).padStart(7)}  ${formatBytes(t.mem.free[i]!).padStart(10)}  ${formatBytes(t.mem.tcpMem[i]!).padStart(10)}  ${((t.mem.goodput[i]! * 8) / interval / 1e6).toFixed(2).padStart(8)}${t.mem.pressure[i] ? '  pressure' : ''}`);
  }
  for (const c of t.conns) {
    const n = c.t.length - 1;
    if (n < 0) continue;
    out.push(`tcp ${c.id} ${c.local} → ${c.remote}: ${c.t.length} samples, last at ${(c.t[n]! / 1e9).toFixed(1)} s ${c.state[n]} cwnd ${c.cwnd[n]} srtt ${(c.srttUs[n]! / 1000).toFixed(1)} ms, acked ${c.acked[n]} B, received ${c.received[n]} B`);
  }
  for (const e of t.events) out.push(`event ${(e.t / 1e9).toFixed(1)} s ${e.kind} ${e.site} ×${e.n}`);
  for (const l of t.lines) out.push(`${(l.t / 1e9).toFixed(6)} ${l.board} ${l.program}: ${l.line}`);
  return out.join('\n');
}

export function traceCommand(args: string[]): number {
  const { values, positionals } = parseArgs({ args, options: { csv: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  if (values.help) {
    write(TRACE_HELP);
    return 0;
  }
  if (positionals.length !== 1) fail('give one run folder (or trace.msgpack file)');
  if (values.csv !== undefined && !['mem', 'tcp', 'events', 'lines'].includes(values.csv)) fail(`--csv must be mem, tcp, events or lines, got "${values.csv}"`);
  if (values.csv !== undefined && values.json) fail('give --csv or --json, not both');
  const arg = positionals[0]!;
  const path = existsSync(arg) && statSync(arg).isDirectory() ? join(arg, 'trace.msgpack') : arg;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    fail(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const t = readTrace(bytes, path);
  if ('error' in t) fail(t.error);
  if (!t.header) fail(`${path}: empty timeline (the board did not boot)`);
  if (values.json) write(JSON.stringify(t));
  else if (values.csv) write(toCsv(t, values.csv));
  else write(summary(t));
  return 0;
}
