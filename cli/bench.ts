/**
 * `npm run bench`: how fast quarklab runs on this host, side by side with ns-3.
 *
 * Each case is a `quarklab run` child process, started as a user starts it, with the capture
 * written to its file (or `--capture none`). For each: virtual seconds simulated, wall seconds
 * of the whole process (start to exit), × real time (virtual ÷ wall), CPU seconds (user +
 * system, from the OS), frames per wall second, and peak RSS (the OS's maxRSS). The bench is
 * the one place wall time is read.
 *
 * When ns-3 is installed (Debian: libns3-dev and g++), bench/ns3/bulk.cc — a TCP bulk transfer
 * over a 100 Mbit/s point-to-point link with pcap on both ends — is built once into
 * node_modules/.cache/quarklab-bench/ and run in the same bench run for the same virtual time as
 * the 117 MB case, and the ratio quarklab ÷ ns-3 of × real time is printed (and the same ratio
 * in CPU time, which a loaded machine disturbs less).
 *
 *   npm run bench                 all cases
 *   npm run bench -- --quick      the 4 MB case and ns-3 only
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../emulator/package-root.js';
import { CASES, type Case } from './bench-cases.js';

interface Measured {
  virtualS: number;
  wallS: number;
  cpuS: number | null;
  frames: number | null;
  maxRssBytes: number | null;
}

const root = packageRoot();
const cli = join(root, 'dist', 'bundle', 'cli', 'main.js');
const rusageHook = join(root, 'dist', 'cli', 'bench-rusage.js');

/** Run a child to exit; wall time of the whole process. */
function timed(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<{ wallS: number; code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ wallS: (performance.now() - t0) / 1000, code: code ?? -1, stdout, stderr }));
  });
}

async function runQuarklab(c: Case): Promise<Measured> {
  const out = mkdtempSync(join(tmpdir(), 'quarklab-bench-'));
  const usageFile = join(out, 'rusage.json');
  try {
    const args = ['--import', rusageHook, cli, 'run', '--board', 'quark-4m', '--profile', 'client', '--scenario', `bulk-rx:bytes=${c.bytes}`, '--out', out, '--capture', c.capture];
    const r = await timed(process.execPath, args, { env: { ...process.env, QUARKLAB_BENCH_RUSAGE: usageFile } });
    if (r.code !== 0) throw new Error(`quarklab run for "${c.label}" exited ${r.code}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { virtualTimeNs: number; boards: { interfaces: Record<string, Record<string, number>> }[] };
    const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { userCPUTime: number; systemCPUTime: number; maxRSS: number };
    const iface = Object.values(report.boards[0]!.interfaces)[0]!;
    return {
      virtualS: report.virtualTimeNs / 1e9,
      wallS: r.wallS,
      cpuS: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
      frames: (iface['rx_packets'] ?? 0) + (iface['tx_packets'] ?? 0) + (iface['rx_missed_errors'] ?? 0),
      maxRssBytes: usage.maxRSS * 1024,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- ns-3

const NS3_SOURCE = join(root, 'bench', 'ns3', 'bulk.cc');
const NS3_LIBS = ['-lns3-core', '-lns3-network', '-lns3-internet', '-lns3-point-to-point', '-lns3-applications', '-lns3-bridge', '-lns3-traffic-control', '-lns3-stats', '-lns3-csma'];

/** Build the ns-3 program once per source version; null (and why) when ns-3 or g++ is missing. */
function buildNs3(): { binary: string } | { skipped: string } {
  if (!existsSync(NS3_SOURCE)) return { skipped: `${NS3_SOURCE} missing` };
  const source = readFileSync(NS3_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const cacheDir = join(root, 'node_modules', '.cache', 'quarklab-bench');
  const binary = join(cacheDir, `ns3bulk-${hash}`);
  if (existsSync(binary)) return { binary };
  mkdirSync(cacheDir, { recursive: true });
  const r = spawnSync('g++', ['-O2', '-std=c++17', NS3_SOURCE, '-o', binary, ...NS3_LIBS], { encoding: 'utf8' });
  if (r.error) return { skipped: `g++ not found (${r.error.message})` };
  if (r.status !== 0) return { skipped: `ns-3 not installed or did not build (apt-get install libns3-dev g++): ${r.stderr.trim().split('\n')[0] ?? ''}` };
  return { binary };
}

/** GNU time, when present, gives a child's CPU time and maxRSS (Node does not for non-Node children). */
function gnuTime(): string | null {
  for (const p of ['/usr/bin/time', '/bin/time']) if (existsSync(p)) return p;
  return null;
}

async function runNs3(binary: string, virtualS: number): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'quarklab-bench-ns3-'));
  try {
    const time = gnuTime();
    const statsFile = join(dir, 'time.txt');
    const r = time
      ? await timed(time, ['-f', '%U %S %M', '-o', statsFile, binary, virtualS.toFixed(3), '1'], { cwd: dir })
      : await timed(binary, [virtualS.toFixed(3), '1'], { cwd: dir });
    if (r.code !== 0) throw new Error(`ns-3 exited ${r.code}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
    let cpuS: number | null = null;
    let maxRssBytes: number | null = null;
    if (time) {
      const [u, s, m] = readFileSync(statsFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      cpuS = u! + s!;
      maxRssBytes = m! * 1024;
    }
    return { virtualS, wallS: r.wallS, cpuS, frames: null, maxRssBytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- table

const mib = (n: number | null): string => (n === null ? '-' : `${(n / (1024 * 1024)).toFixed(0)} MiB`);

function row(label: string, m: Measured): string[] {
  return [
    label,
    m.virtualS.toFixed(2),
    m.wallS.toFixed(2),
    (m.virtualS / m.wallS).toFixed(2),
    m.cpuS === null ? '-' : m.cpuS.toFixed(2),
    m.cpuS === null ? '-' : (m.virtualS / m.cpuS).toFixed(2),
    m.frames === null ? '-' : Math.round(m.frames / m.wallS).toString(),
    mib(m.maxRssBytes),
  ];
}

function print(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) process.stdout.write(r.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ') + '\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const cases = quick ? CASES.slice(0, 1) : CASES;
  const load = loadavg()[0]!;
  process.stdout.write(`node ${process.version}, ${process.arch}, ${cpus().length} CPUs, load average ${load.toFixed(2)} at start\n`);
  const ns3 = buildNs3();
  const results: { c: Case; m: Measured }[] = [];
  const rows: string[][] = [['case', 'virtual s', 'wall s', '× real time', 'CPU s', 'virtual s / CPU s', 'frames / wall s', 'peak RSS']];
  let ns3m: Measured | null = null;
  // ns-3 first, for the 117 MB case's virtual time (9.94 s): both runs simulate the same span.
  if ('binary' in ns3) {
    ns3m = await runNs3(ns3.binary, 9.94);
  }
  for (const c of cases) {
    const m = await runQuarklab(c);
    results.push({ c, m });
    rows.push(row(`quarklab ${c.label}`, m));
  }
  if (ns3m) rows.push(row('ns-3 3.37 TCP bulk 100 Mbit/s, pcap both ends', ns3m));
  print(rows);
  if (!ns3m) {
    process.stdout.write(`ns-3: ${'skipped' in ns3 ? ns3.skipped : 'not run'}\n`);
    return;
  }
  process.stdout.write(`\nquarklab ÷ ns-3, × real time (wall) and virtual s per CPU s, same bench run:\n`);
  for (const { c, m } of results) {
    const wall = m.virtualS / m.wallS / (ns3m.virtualS / ns3m.wallS);
    const cpu = m.cpuS !== null && ns3m.cpuS !== null ? m.virtualS / m.cpuS / (ns3m.virtualS / ns3m.cpuS) : null;
    process.stdout.write(`  ${c.label.padEnd(34)} ${wall.toFixed(2)}× (wall)   ${cpu === null ? '-' : cpu.toFixed(2) + '× (CPU)'}\n`);
  }
  process.stdout.write(`load average ${loadavg()[0]!.toFixed(2)} at end\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.message}\n`);
  process.exitCode = 1;
});
