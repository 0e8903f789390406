/** report.md: the verdict and figures of report.json in Markdown, for terminals and CI summaries. */
import { formatBytes } from './budgets.js';
import type { Report } from './report.js';
import { budgetRows, dropCounters, featureRows } from './report-figures.js';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function reportMarkdown(r: Report): string {
  const out: string[] = [];
  const i = r.inputs;
  out.push(`# quarklab ${i.scenario} on ${i.board}, profile ${i.profile}: ${r.verdict.toUpperCase()}`);
  out.push('');
  out.push(`Seed ${i.seed}, ${(r.virtualTimeNs / 1e9).toFixed(3)} s virtual, cost table ${i.costTable}.`);
  out.push('');
  if (r.stalls && r.stalls.length > 0) {
    out.push('## Stalls');
    out.push('');
    for (const s of r.stalls) out.push(`- **${s.cause}** — ${cell(s.connection)}, from ${(s.fromNs / 1e9).toFixed(1)} s for ${(s.durationNs / 1e9).toFixed(1)} s${s.resumed ? ' (then resumed)' : ''}: ${s.detail}.`);
    out.push('');
  }
  out.push('## Checks');
  out.push('');
  out.push('| | check | detail |');
  out.push('|---|---|---|');
  for (const c of r.checks) out.push(`| ${c.pass ? 'PASS' : '**FAIL**'} | ${cell(c.name)} | ${cell(c.detail)} |`);
  out.push('');
  if (r.budgets.length > 0) {
    out.push('## Budgets');
    out.push('');
    out.push('| budget | limit | value | margin | verdict |');
    out.push('|---|---|---|---|---|');
    for (const b of budgetRows(r.budgets)) out.push(`| ${b.key} | ${b.limit} | ${b.value} | ${b.margin} | ${b.verdict === 'pass' ? 'PASS' : `**${b.verdict.toUpperCase()}**`} |`);
    out.push('');
  }
  const dut = r.boards.find((b) => b.role === 'dut');
  if (dut?.memory) {
    const m = dut.memory;
    out.push('## Memory');
    out.push('');
    out.push(`RAM ${formatBytes(m.totalBytes)}, slab allocator ${m.allocator.toUpperCase()}: static ${formatBytes(m.staticBytes)}, heap ${formatBytes(m.heapBytes)} (min_free ${formatBytes(m.minFreeKbytes * 1024)}); peak in use ${formatBytes(m.peakBytes)}, least free ${formatBytes(m.minFreeBytes)}; ` +
      `${m.allocationFailures} allocation failures, ${m.allocationThrottled} throttled.`);
    out.push('');
  }
  if (dut) {
    out.push('## Flash and RAM by feature');
    out.push('');
    out.push('| feature | flash | static RAM |');
    out.push('|---|---:|---:|');
    for (const f of featureRows(dut)) out.push(`| ${cell(f.feature)} | ${formatBytes(f.flash)} | ${formatBytes(f.ram)} |`);
    out.push('');
  }
  if (dut?.sockets) {
    out.push('## Sockets at the end of the scenario');
    out.push('');
    out.push(`From ${dut.sockets.source}: ${dut.sockets.detail}.`);
    out.push('');
    if (dut.sockets.rows.length > 0) {
      out.push('| state | Recv-Q | Send-Q | local | peer |');
      out.push('|---|---:|---:|---|---|');
      for (const x of dut.sockets.rows) out.push(`| ${x.state} | ${x.recvQ} | ${x.sendQ} | ${x.local} | ${x.peer} |`);
      out.push('');
    }
  }
  out.push('## Drops');
  out.push('');
  out.push('| counter | value |');
  out.push('|---|---:|');
  for (const d of dropCounters(r)) out.push(`| ${cell(d.name)} | ${d.value} |`);
  out.push('');
  if (r.notes.length > 0) {
    out.push('## Notes');
    out.push('');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}
