/**
 * `npm run docs`: the worked examples in README.md come from real runs, so they cannot drift.
 *
 * A generated block is a fenced block right after a marker line `<!-- example: ID -->`. Each ID
 * names a command below; the block is the command line as a user types it, then what the
 * command printed, kept whole or cut to the lines that make the example's point (a `…` line
 * stands for what was cut). Commands run through the built CLI in a fresh temporary folder, so
 * `out/` in the output is the default output folder, as in a user's checkout.
 *
 * Blocks marked `<!-- example: ID (wall clock) -->` hold figures that depend on the machine
 * (bench, live): they are checked for shape only — the same command line and the same row names.
 *
 *   node dist/cli/docs-examples.js [FILE]           check README.md (or FILE): exit 1 and a diff when a block differs
 *   node dist/cli/docs-examples.js [FILE] --update  rewrite the blocks from fresh runs
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../emulator/package-root.js';
import { CASES } from './bench-cases.js';

interface Example {
  /** The command line shown in the block, after `$ `. */
  shown: string;
  /** Runs the command in `cwd` and returns what it printed (stdout, then stderr). */
  run(cwd: string, cli: string): string;
  /** Which printed lines the block keeps; absent: all of them. */
  keep?: (lines: string[]) => string[];
  /** Examples that must run first in the same folder (their outputs are read). */
  after?: string;
}

function quarklab(args: string[], showExit = false) {
  return (cwd: string, cli: string): string => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' });
    return r.stdout + r.stderr + (showExit ? `exit ${r.status}\n` : '');
  };
}

/** The lines that match, with a `…` line wherever lines were cut before one. */
function only(...patterns: RegExp[]) {
  return (lines: string[]): string[] => {
    const out: string[] = [];
    let cut = false;
    for (const line of lines) {
      if (patterns.some((p) => p.test(line))) {
        if (cut) out.push('…');
        cut = false;
        out.push(line);
      } else cut = true;
    }
    return out;
  };
}

function head(n: number) {
  return (lines: string[]): string[] => (lines.length > n ? [...lines.slice(0, n), '…'] : lines);
}

const EXAMPLES: Record<string, Example> = {
  smoke: { shown: 'npx quarklab run', run: quarklab(['run']) },
  'smoke-tshark': {
    shown: 'tshark -r out/capture.pcapng',
    after: 'smoke',
    run: (cwd) => spawnSync('tshark', ['-r', 'out/capture.pcapng'], { cwd, encoding: 'utf8' }).stdout,
    // The exchange without the ARP lines, which tshark prints between them.
    keep: (lines) => head(10)(lines.filter((l) => !/ ARP /.test(l))),
  },
  'full-does-not-fit': {
    shown: 'npx quarklab run --profile full; echo exit $?',
    run: quarklab(['run', '--profile', 'full'], true),
    keep: only(/^check FAIL/, /^verdict/, /^exit/),
  },
  'bulk-rx': {
    shown: 'npx quarklab run --board quark-4m --profile client --scenario bulk-rx --budget goodput=90Mbit/s',
    run: quarklab(['run', '--board', 'quark-4m', '--profile', 'client', '--scenario', 'bulk-rx', '--budget', 'goodput=90Mbit/s']),
    keep: only(/transfer complete/, /^budget/, /^verdict/),
  },
  packetdrill: {
    shown: 'npx quarklab packetdrill test/packetdrill --board quark-4m --profile full --junit junit.xml',
    run: (cwd, cli) => {
      const r = spawnSync(process.execPath, [cli, 'packetdrill', join(packageRoot(), 'test/packetdrill'), '--board', 'quark-4m', '--profile', 'full', '--junit', 'junit.xml'], { cwd, encoding: 'utf8' });
      return (r.stdout + r.stderr).split(packageRoot() + '/').join('');
    },
    keep: (lines) => [...head(1)(lines.filter((l) => l.startsWith('ok'))), ...lines.filter((l) => /passed|failed|unsupported/.test(l) && !/^(ok|FAIL|unsupported) /.test(l))],
  },
};

/**
 * Wall-clock blocks: their figures depend on the machine, so only their shape is checked — the
 * command line and every row the command prints for it.
 */
const WALL_CLOCK: Record<string, { shown: string; rows: () => string[] }> = {
  bench: { shown: 'npm run bench', rows: () => CASES.map((c) => c.label) },
};

const MARKER = /^<!-- example: ([a-z0-9-]+)( \(wall clock\))? -->$/;

interface Block {
  id: string;
  wallClock: boolean;
  /** Line indexes of the opening and closing fence. */
  open: number;
  close: number;
}

function findBlocks(lines: string[]): Block[] | { error: string } {
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i] ?? '');
    if (!m) continue;
    const id = m[1] ?? '';
    if (!(m[2] ? WALL_CLOCK[id] : EXAMPLES[id])) return { error: `line ${i + 1}: no example named "${id}"` };
    if (!(lines[i + 1] ?? '').startsWith('```')) return { error: `line ${i + 1}: the marker must be followed by a fenced block` };
    const close = lines.findIndex((l, j) => j > i + 1 && l.startsWith('```'));
    if (close < 0) return { error: `line ${i + 2}: the block is not closed` };
    blocks.push({ id, wallClock: !!m[2], open: i + 1, close });
  }
  return blocks;
}

/** Runs every example once (in dependency order, sharing one folder) and returns its block text. */
function generate(ids: string[]): Map<string, string[]> {
  const cli = join(packageRoot(), 'dist/bundle/cli/main.js');
  const cwd = mkdtempSync(join(tmpdir(), 'quarklab-docs-'));
  const out = new Map<string, string[]>();
  try {
    const want = new Set(ids);
    for (const id of ids) { const dep = EXAMPLES[id]?.after; if (dep) want.add(dep); }
    for (const [id, ex] of Object.entries(EXAMPLES)) {
      if (!want.has(id)) continue;
      const printed = ex.run(cwd, cli).replace(/\n$/, '').split('\n');
      out.set(id, [`$ ${ex.shown}`, ...(ex.keep ? ex.keep(printed) : printed)]);
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  return out;
}

/** Checks (or with `update`, rewrites) one Markdown file; returns the differences found. */
function checkFile(path: string, update: boolean): string[] {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const blocks = findBlocks(lines);
  if ('error' in blocks) return [`${path}: ${blocks.error}`];
  const generated = generate(blocks.filter((b) => !b.wallClock).map((b) => b.id));
  const problems: string[] = [];
  for (const b of [...blocks].reverse()) {
    const committed = lines.slice(b.open + 1, b.close);
    if (b.wallClock) {
      const spec = WALL_CLOCK[b.id]!;
      if (committed[0] !== `$ ${spec.shown}`) problems.push(`${path}:${b.open + 2}: wall-clock block "${b.id}" must start with "$ ${spec.shown}"`);
      for (const row of spec.rows()) {
        if (!committed.some((l) => l.includes(row))) problems.push(`${path}:${b.open + 2}: wall-clock block "${b.id}" has no row "${row}", which the command prints`);
      }
      continue;
    }
    const fresh = generated.get(b.id) ?? [];
    if (fresh.join('\n') === committed.join('\n')) continue;
    if (update) lines.splice(b.open + 1, committed.length, ...fresh);
    else problems.push(diff(`${path}:${b.open + 2} example "${b.id}"`, committed, fresh));
  }
  if (update && problems.length === 0) writeFileSync(path, lines.join('\n'));
  return problems;
}

function diff(where: string, committed: string[], fresh: string[]): string {
  const out = [`${where} differs from what the code prints:`];
  const n = Math.max(committed.length, fresh.length);
  for (let i = 0; i < n; i++) {
    if (committed[i] === fresh[i]) continue;
    if (committed[i] !== undefined) out.push(`- ${committed[i]}`);
    if (fresh[i] !== undefined) out.push(`+ ${fresh[i]}`);
  }
  return out.join('\n');
}

function main(): void {
  const args = process.argv.slice(2);
  const update = args.includes('--update');
  const file = args.find((a) => !a.startsWith('--')) ?? join(packageRoot(), 'README.md');
  const problems = checkFile(file, update);
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error('docs: examples differ; run `npm run docs -- --update` and commit the result');
    process.exit(1);
  }
  console.log(update ? `docs: examples in ${file} regenerated` : `docs: examples in ${file} match what the code prints`);
}

main();
