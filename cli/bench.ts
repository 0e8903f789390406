/**
 * `npm run bench`: how fast the emulator runs on this host. Each case is a full `quarklab run`
 * (capture on) timed with the host clock — the one place wall time is read — and reported as
 * virtual seconds simulated per wall second, frames per wall second and host memory.
 */
import { performance } from 'node:perf_hooks';
import { run } from '../scenarios/run.js';

interface Case {
  label: string;
  board: string;
  profile: string;
  scenario: string;
}

const CASES: Case[] = [
  { label: 'bulk-rx 100 Mbit/s, 4 MB', board: 'quark-4m', profile: 'client', scenario: 'bulk-rx' },
  { label: 'bulk-rx 100 Mbit/s, 40 MB', board: 'quark-4m', profile: 'client', scenario: 'bulk-rx:bytes=40000000' },
  { label: 'bulk-tx 100 Mbit/s, 4 MB', board: 'quark-2m', profile: 'minimal', scenario: 'bulk-tx' },
  { label: 'ping (default run)', board: 'quark-2m', profile: 'minimal', scenario: 'ping' },
];

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(0)} MiB`;
}

// One untimed run first, so the JIT has compiled the hot paths before anything is measured.
run({ board: 'quark-2m', profile: 'minimal', scenario: 'bulk-rx:bytes=500000', seed: 1 });

const rows: string[][] = [['case', 'virtual s', 'wall s', 'virtual s / wall s', 'frames', 'frames / wall s', 'events / wall s', 'host RSS', 'heap used']];
for (const c of CASES) {
  if (global.gc) global.gc();
  const t0 = performance.now();
  const out = run({ board: c.board, profile: c.profile, scenario: c.scenario, seed: 1 });
  const wall = (performance.now() - t0) / 1000;
  const mem = process.memoryUsage();
  if (!out.report) {
    rows.push([c.label, 'failed', out.error ?? '', '', '', '', '', '', '']);
    continue;
  }
  const virtual = out.report.virtualTimeNs / 1e9;
  const dut = out.report.boards[0]!;
  const s = Object.values(dut.interfaces)[0]!;
  const frames = (s['rx_packets'] ?? 0) + (s['tx_packets'] ?? 0) + (s['rx_missed_errors'] ?? 0);
  rows.push([
    c.label,
    virtual.toFixed(3),
    wall.toFixed(3),
    (virtual / wall).toFixed(3),
    String(frames),
    Math.round(frames / wall).toString(),
    out.events !== undefined ? Math.round(out.events / wall).toString() : '-',
    mib(mem.rss),
    mib(mem.heapUsed),
  ]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
for (const r of rows) process.stdout.write(r.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ') + '\n');
process.stdout.write(`node ${process.version}, ${process.arch}; captures kept in memory and discarded\n`);
