/**
 * `npm run golden`: the golden outputs. Every built-in scenario runs through the CLI, as a user
 * runs it, and the SHA-256 of its capture, report and trace is compared with the committed list
 * in test/golden/hashes.json. A refactor leaves every hash unchanged; a commit that changes the
 * wire on purpose runs `npm run golden -- --update` and says why in its message.
 *
 * Runs two cells at a time (one per core of the machines this project is built on); each cell
 * writes to its own temporary folder, removed afterwards.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../emulator/package-root.js';

interface GoldenCell {
  /** A stable name for the cell: scenario[@board/profile]. */
  name: string;
  args: string[];
}

/**
 * One cell per built-in scenario, on the board and profile that scenario is usually run on,
 * plus the full profile and the two-sided capture where they exercise code the others do not.
 */
const CELLS: GoldenCell[] = [
  { name: 'smoke', args: ['--scenario', 'smoke'] },
  { name: 'ping', args: ['--scenario', 'ping'] },
  { name: 'ping@quark-4m/full', args: ['--scenario', 'ping', '--board', 'quark-4m', '--profile', 'full', '--capture', 'all'] },
  { name: 'flood', args: ['--scenario', 'flood'] },
  { name: 'dhcp', args: ['--scenario', 'dhcp'] },
  { name: 'dhcp-renew', args: ['--scenario', 'dhcp-renew'] },
  { name: 'dhcp-nak', args: ['--scenario', 'dhcp-nak'] },
  { name: 'dhcp-expire', args: ['--scenario', 'dhcp-expire'] },
  { name: 'dns', args: ['--scenario', 'dns'] },
  { name: 'udp-echo', args: ['--scenario', 'udp-echo'] },
  { name: 'bulk-rx@quark-4m/client', args: ['--scenario', 'bulk-rx', '--board', 'quark-4m', '--profile', 'client'] },
  { name: 'bulk-tx', args: ['--scenario', 'bulk-tx'] },
  { name: 'bulk-tx:loss@quark-4m/full', args: ['--scenario', 'bulk-tx:loss=0.01', '--board', 'quark-4m', '--profile', 'full', '--seed', '7'] },
  { name: 'http-get@quark-4m/client', args: ['--scenario', 'http-get', '--board', 'quark-4m', '--profile', 'client'] },
  { name: 'http-serve', args: ['--scenario', 'http-serve'] },
  { name: 'slow-readers', args: ['--scenario', 'slow-readers'] },
  { name: 'syn-flood', args: ['--scenario', 'syn-flood'] },
];

const OUTPUT_FILES = ['capture.pcapng', 'lab.pcapng', 'report.json', 'trace.msgpack'];

type Hashes = Record<string, Record<string, string>>;

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function runCell(cell: GoldenCell, cli: string): Promise<{ hashes: Record<string, string>; exit: number; stderr: string }> {
  const out = mkdtempSync(join(tmpdir(), 'quarklab-golden-'));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'run', ...cell.args, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      const hashes: Record<string, string> = {};
      for (const f of OUTPUT_FILES) if (existsSync(join(out, f))) hashes[f] = sha256(join(out, f));
      hashes['exit'] = String(code);
      rmSync(out, { recursive: true, force: true });
      resolve({ hashes, exit: code ?? -1, stderr });
    });
  });
}

async function main(): Promise<number> {
  const update = process.argv.includes('--update');
  const root = packageRoot();
  const cli = join(root, 'dist', 'bundle', 'cli', 'main.js');
  const listPath = join(root, 'test', 'golden', 'hashes.json');
  const committed: Hashes = existsSync(listPath) ? (JSON.parse(readFileSync(listPath, 'utf8')) as Hashes) : {};

  const results: Hashes = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CELLS.length) {
      const cell = CELLS[next++]!;
      const r = await runCell(cell, cli);
      // An exit 2 is a broken cell definition, not a golden output.
      if (r.exit === 2) throw new Error(`golden cell ${cell.name}: ${r.stderr.trim()}`);
      results[cell.name] = r.hashes;
    }
  };
  await Promise.all([worker(), worker()]);

  const ordered: Hashes = {};
  for (const c of CELLS) ordered[c.name] = results[c.name]!;

  if (update) {
    writeFileSync(listPath, JSON.stringify(ordered, null, 2) + '\n');
    process.stdout.write(`golden: wrote ${CELLS.length} cells to test/golden/hashes.json\n`);
    return 0;
  }
  let differing = 0;
  for (const c of CELLS) {
    const want = committed[c.name];
    const got = ordered[c.name]!;
    const keys = new Set([...Object.keys(want ?? {}), ...Object.keys(got)]);
    const diffs = [...keys].filter((k) => want?.[k] !== got[k]);
    if (diffs.length === 0) {
      process.stdout.write(`same     ${c.name}\n`);
    } else {
      differing++;
      process.stdout.write(`DIFFERS  ${c.name}: ${diffs.join(', ')}\n`);
    }
  }
  process.stdout.write(differing === 0 ? `golden: all ${CELLS.length} cells unchanged\n` : `golden: ${differing} of ${CELLS.length} cells differ (npm run golden -- --update to accept, and say why in the commit)\n`);
  return differing === 0 ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (e: Error) => {
    process.stderr.write(`golden: ${e.message}\n`);
    process.exitCode = 2;
  },
);
