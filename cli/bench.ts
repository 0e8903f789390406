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
 *   npm run bench                 all cases, 5 rounds
 *   npm run bench -- --rounds N   N rounds
 *   npm run bench -- --quick      the 4 MB case and ns-3 only, one round
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
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

/** The middle value (the mean of the two middle ones for an even count). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * One figure for a case over the rounds: the median run (by wall time) for time and CPU, and the
 * highest peak RSS any round reached (a peak is a bound, so the worst round is the honest one).
 */
function summarise(ms: Measured[]): Measured {
  const byWall = [...ms].sort((a, b) => a.wallS - b.wallS);
  const mid = byWall[(byWall.length - 1) >> 1]!;
  const rss = ms.map((m) => m.maxRssBytes).filter((v): v is number => v !== null);
  return { ...mid, maxRssBytes: rss.length ? Math.max(...rss) : null };
}

function parseFlags(): { quick: boolean; rounds: number } {
  let values: { quick?: boolean; rounds?: string };
  try {
    ({ values } = parseArgs({ options: { quick: { type: 'boolean' }, rounds: { type: 'string' } }, strict: true }));
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const rounds = values.rounds === undefined ? (values.quick ? 1 : DEFAULT_ROUNDS) : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) {
    process.stderr.write(`bench: --rounds wants a whole number from 1 to 50, not ${values.rounds}\n`);
    process.exit(2);
  }
  return { quick: values.quick ?? false, rounds };
}

/**
 * Rounds, not one pass: on a shared 2-core VM the same run's wall time moves by a third from one
 * minute to the next (ns-3 alone has taken 2.1 s and 3.9 s in consecutive bench runs). Each round
 * runs ns-3 and then every case, so a slow spell falls on both sides of a ratio; the table gives
 * each case's median round and the ratios are the median of the per-round ratios, with their range.
 */
const DEFAULT_ROUNDS = 5;

async function main(): Promise<void> {
  const { quick, rounds } = parseFlags();
  const cases = quick ? CASES.slice(0, 1) : CASES;
  const load = loadavg()[0]!;
  process.stdout.write(`node ${process.version}, ${process.arch}, ${cpus().length} CPUs, load average ${load.toFixed(2)} at start; ${rounds} round${rounds === 1 ? '' : 's'}, each ns-3 then every case\n`);
  const ns3 = buildNs3();
  const ns3Runs: Measured[] = [];
  const caseRuns: Measured[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    // ns-3 first, for the 117 MB case's virtual time (9.94 s): both runs simulate the same span.
    if ('binary' in ns3) ns3Runs.push(await runNs3(ns3.binary, 9.94));
    for (let i = 0; i < cases.length; i++) caseRuns[i]!.push(await runQuarklab(cases[i]!));
  }
  const rows: string[][] = [['case (median round; peak RSS the highest)', 'virtual s', 'wall s', '× real time', 'CPU s', 'virtual s / CPU s', 'frames / wall s', 'peak RSS']];
  cases.forEach((c, i) => rows.push(row(`quarklab ${c.label}`, summarise(caseRuns[i]!))));
  if (ns3Runs.length) rows.push(row('ns-3 3.37 TCP bulk 100 Mbit/s, pcap both ends', summarise(ns3Runs)));
  print(rows);
  if (!ns3Runs.length) {
    process.stdout.write(`ns-3: ${'skipped' in ns3 ? ns3.skipped : 'not run'}\n`);
    return;
  }
  process.stdout.write(`\nquarklab ÷ ns-3 of × real time (wall) and of virtual s per CPU s, each round against its own ns-3 run; median (range):\n`);
  const speed = (m: Measured, t: number | null): number | null => (t === null ? null : m.virtualS / t);
  cases.forEach((c, i) => {
    const wall: number[] = [];
    const cpu: number[] = [];
    caseRuns[i]!.forEach((m, r) => {
      const n = ns3Runs[r]!;
      wall.push(speed(m, m.wallS)! / speed(n, n.wallS)!);
      const a = speed(m, m.cpuS);
      const b = speed(n, n.cpuS);
      if (a !== null && b !== null) cpu.push(a / b);
    });
    const fmt = (xs: number[]): string => (xs.length ? `${median(xs).toFixed(2)}× (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})` : '-');
    process.stdout.write(`  ${c.label.padEnd(34)} ${fmt(wall).padEnd(22)} wall   ${fmt(cpu)} CPU\n`);
  });
  process.stdout.write(`load average ${loadavg()[0]!.toFixed(2)} at end\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.message}\n`);
  process.exitCode = 1;
});
