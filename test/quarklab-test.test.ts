// `quarklab test` as CI runs it: the 16-cell matrix from repeated flags on two workers and as
// two one-worker shards (cells byte-identical, shards disjoint and covering, merge equal to the
// whole run), JUnit read back by an independent XML parser, budgets and expected failures,
// plans refused before anything runs, and a baseline compare.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { CLI, quarklabAsync, readJson, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';

afterAll(removeTempDirs);

interface CellEntry { id: string; index: number; verdict: string; ok: boolean; failures: string[]; figures: Record<string, number | null>; hashes: Record<string, string | null> }
interface ResultsFile { matrixCells: number; shard: unknown; quarklab: string; cells: CellEntry[] }

/** Every file under `dir`, relative path → bytes. */
function tree(dir: string, prefix = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) for (const [k, v] of tree(p, `${prefix}${name}/`)) out.set(k, v);
    else out.set(`${prefix}${name}`, readFileSync(p));
  }
  return out;
}

function cellFolders(dir: string): Map<string, Buffer> {
  return new Map([...tree(dir)].filter(([k]) => k.includes('/')));
}

const MATRIX = ['--board', 'quark-2m', '--board', 'quark-4m', '--profile', 'minimal', '--profile', './sensor.config', '--scenario', 'ping', '--scenario', 'udp-echo', '--seed', '1', '--seed', '2'];

describe('quarklab test: the 16-cell matrix', () => {
  const work = tempDir('quarklab-matrix-');
  // A fragment file is a profile like any other: minimal without IP multicast.
  writeFileSync(join(work, 'sensor.config'), '# base: minimal\n# CONFIG_IP_MULTICAST is not set\n');
  const runs = Promise.all([
    quarklabAsync(['test', ...MATRIX, '-j', '2', '--out', 'whole', '--junit', 'whole/junit.xml', '--summary', 'whole/summary.md'], { cwd: work }),
    quarklabAsync(['test', ...MATRIX, '-j', '1', '--shard', '1/2', '--out', 'shard1'], { cwd: work }),
    quarklabAsync(['test', ...MATRIX, '-j', '1', '--shard', '2/2', '--out', 'shard2'], { cwd: work }),
  ]);

  it('passes on two workers and on one, with byte-identical cells', async () => {
    const [whole, s1, s2] = await runs;
    for (const r of [whole!, s1!, s2!]) expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(whole!.stdout).toMatch(/^16 passed, 0 failed$/m);
    const results = readJson<ResultsFile>(join(work, 'whole', 'results.json'));
    expect(results.cells.map((c) => c.verdict)).toEqual(Array(16).fill('pass'));
    // 2 boards × 2 profiles × 2 scenarios × 2 seeds, each its own folder.
    expect(new Set(results.cells.map((c) => c.id)).size).toBe(16);
    const wholeCells = cellFolders(join(work, 'whole'));
    const shardCells = new Map([...cellFolders(join(work, 'shard1')), ...cellFolders(join(work, 'shard2'))]);
    expect([...shardCells.keys()].sort()).toEqual([...wholeCells.keys()].sort());
    for (const [k, v] of shardCells) expect(v.equals(wholeCells.get(k)!), k).toBe(true);
    // Each cell's folder has its capture, report and trace, and results.json hashes them.
    for (const c of results.cells) {
      expect(wholeCells.has(`${c.id}/capture.pcapng`)).toBe(true);
      expect(wholeCells.has(`${c.id}/report.html`), `${c.id}/report.html`).toBe(true);
      expect(readFileSync(join(work, 'whole', 'index.html'), 'utf8')).toContain(`href="${c.id}/report.html"`);
      expect(c.hashes.report).toMatch(/^[0-9a-f]{64}$/);
      for (const h of ['board', 'profile', 'costTable', 'image', 'capture']) expect(c.hashes[h], `${c.id} ${h}`).toMatch(/^[0-9a-f]{64}$/);
    }
    // The fragment is a profile of its own: without IGMP its image is smaller than minimal's.
    const flash = (id: string) => results.cells.find((c) => c.id === id)!.figures['flash.image']!;
    expect(flash('quark-2m.sensor.config.ping.seed1')).toBeLessThan(flash('quark-2m.minimal.ping.seed1'));
  });

  it('shards are disjoint, cover the matrix, and merge to the whole run', async () => {
    await runs;
    const a = readJson<ResultsFile>(join(work, 'shard1', 'results.json'));
    const b = readJson<ResultsFile>(join(work, 'shard2', 'results.json'));
    const ia = a.cells.map((c) => c.index);
    const ib = b.cells.map((c) => c.index);
    expect(ia.filter((i) => ib.includes(i))).toEqual([]);
    expect([...ia, ...ib].sort((x, y) => x - y)).toEqual([...Array(16).keys()]);
    expect(ia.length).toBe(8);
    const merged = await quarklabAsync(['merge', 'shard1/results.json', 'shard2/results.json', '--out', 'merged/results.json'], { cwd: work });
    expect(merged.status, merged.stderr).toBe(0);
    expect(readFileSync(join(work, 'merged', 'results.json'), 'utf8')).toBe(readFileSync(join(work, 'whole', 'results.json'), 'utf8'));
    // A shard given twice is refused.
    const twice = await quarklabAsync(['merge', 'shard1/results.json', 'shard1/results.json', '--out', 'x.json'], { cwd: work });
    expect(twice.status).toBe(2);
    expect(stderrProblems(twice.stderr)).toBeNull();
  });

  it('writes JUnit an independent XML parser reads with 16 tests and no failures, and a Markdown table', async () => {
    await runs;
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(readFileSync(join(work, 'whole', 'junit.xml'), 'utf8'));
    const suite = doc.testsuites.testsuite;
    expect(Number(suite.tests)).toBe(16);
    expect(Number(suite.failures)).toBe(0);
    expect(suite.testcase).toHaveLength(16);
    const md = readFileSync(join(work, 'whole', 'summary.md'), 'utf8');
    expect(md.split('\n').filter((l) => l.startsWith('| `'))).toHaveLength(16);
  });
});

describe('quarklab test: budgets, expected failures, plans', () => {
  it('fails a broken budget with its message and passes an expected failure (plan file, JUnit counts)', async () => {
    const work = tempDir('quarklab-plan-');
    writeFileSync(
      join(work, 'quarklab.yaml'),
      [
        'boards: [quark-2m]',
        'profiles: [minimal]',
        'scenarios: [ping, "udp-echo:sizes=64"]',
        'seeds: [1, 2]',
        'budgets:',
        '  default: { ram.peak: 4MiB }',
        '  scenario:',
        '    ping: { ram.peak: 1KiB }',
        'expect-fail:',
        '  - { scenario: ping, seed: 1, reason: "ram.peak budget is aspirational" }',
      ].join('\n'),
    );
    // One worker: each worker thread loads the emulator anew (~0.4 s), and what is written does
    // not depend on the worker count (the matrix above shows -j1 and -j2 byte-identical).
    const r = await quarklabAsync(['test', '--plan', 'quarklab.yaml', '-j', '1', '--out', 'o', '--junit', 'o/junit.xml'], { cwd: work });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^3 passed, 1 failed$/m);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(readFileSync(join(work, 'o', 'junit.xml'), 'utf8'));
    const suite = doc.testsuites.testsuite;
    expect([Number(suite.tests), Number(suite.failures)]).toEqual([4, 1]);
    const failed = (suite.testcase as { name: string; failure?: { message: string } }[]).filter((t) => t.failure);
    expect(failed.map((t) => t.name)).toEqual(['ping seed 2']);
    // The message names the budget, its limit and the measured value (1 KiB is far below any boot).
    expect(failed[0]!.failure!.message).toMatch(/^budget ram\.peak ≤ 1\.0 KiB \(ram\.peak=1KiB\): [0-9.]+ MiB$/);
    const res = readJson<ResultsFile>(join(work, 'o', 'results.json'));
    expect(res.cells.map((c) => c.verdict)).toEqual(['xfail', 'fail', 'pass', 'pass']);
  });

  it('refuses a budget on a figure the scenario never measures, before anything runs (plan and run)', async () => {
    const work = tempDir('quarklab-refuse-');
    writeFileSync(join(work, 'plan.json'), JSON.stringify({ boards: ['quark-2m'], profiles: ['minimal'], scenarios: ['ping'], budgets: { scenario: { ping: { goodput: '1Mbit/s' } } } }));
    const plan = await quarklabAsync(['test', '--plan', 'plan.json', '--out', 'o'], { cwd: work });
    expect(plan.status).toBe(2);
    expect(stderrProblems(plan.stderr)).toBeNull();
    expect(plan.stderr).toMatch(/plan plan\.json: budgets\.scenario\.ping: budget goodput: scenario ping does not measure goodput/);
    expect(readdirSync(work)).toEqual(['plan.json']);
    const flags = await quarklabAsync(['test', '--scenario', 'ping', '--budget', 'goodput=1', '--out', 'o'], { cwd: work });
    expect(flags.status).toBe(2);
    expect(flags.stderr).toMatch(/--budget: budget goodput: scenario ping does not measure goodput/);
    const run = await quarklabAsync(['run', '--scenario', 'ping', '--budget', 'goodput=1', '--out', 'o'], { cwd: work });
    expect(run.status).toBe(2);
    expect(stderrProblems(run.stderr)).toBeNull();
    expect(readdirSync(work)).toEqual(['plan.json']);
  });

  it('checks scenario options against their schema: one line, exit 2', async () => {
    const cases: [string, RegExp][] = [
      ['udp-echo:sizes=', /sizes=: expected at least one whole number/],
      ['udp-echo:sizes=64+1e3', /sizes=64\+1e3: expected whole numbers/],
      ['udp-echo:size=64', /unknown option "size" \(sizes\)/],
      ['udp-echo:sizes=64,sizes=128', /"sizes" given twice/],
      ['ping:count=3', /unknown option "count" \(it takes none\)/],
    ];
    const rs = await Promise.all(cases.map(([spec]) => quarklabAsync(['run', '--scenario', spec, '--out', tempDir()])));
    rs.forEach((r, i) => {
      expect(r.status, cases[i]![0]).toBe(2);
      expect(stderrProblems(r.stderr), cases[i]![0]).toBeNull();
      expect(r.stderr).toMatch(cases[i]![1]);
    });
  });
});

describe('baseline compare', () => {
  it('catches a profile grown by one symbol and passes an unchanged one', async () => {
    const work = tempDir('quarklab-baseline-');
    // The same profile file name in two releases: the second enables packet sockets (PACKET).
    for (const [dir, extra] of [['v1', ''], ['v2', 'CONFIG_PACKET=y\n']] as const) {
      mkdirSync(join(work, dir));
      writeFileSync(join(work, dir, 'fw.config'), `# base: minimal\n${extra}`);
    }
    const v1 = await quarklabAsync(['test', '--profile', 'v1/fw.config', '--scenario', 'ping', '--out', 'old'], { cwd: work });
    expect(v1.status, v1.stderr).toBe(0);
    const [same, grown] = await Promise.all([
      quarklabAsync(['test', '--profile', 'v1/fw.config', '--scenario', 'ping', '--out', 'same', '--baseline', 'old/results.json'], { cwd: work }),
      quarklabAsync(['test', '--profile', 'v2/fw.config', '--scenario', 'ping', '--out', 'grown', '--baseline', 'old/results.json'], { cwd: work }),
    ]);
    expect(same.status, same.stdout).toBe(0);
    expect(same.stdout).toMatch(/every figure within its threshold/);
    expect(grown.status, grown.stdout).toBe(1);
    // af_packet.o adds 12575 bytes of text and data (profile diff minimal client shows it),
    // three section headers 144 and "PACKET" in the msgpack config section 7: 12726 bytes, over
    // 0.5 % of the image (minimal's 1770985 bytes — 76 of them the config section's costTable
    // entry, docs/image-format.md, and 5 its "SLOB" in the enabled list, a msgpack fixstr of
    // 1 + 4 — less 5 for the profile name "fw"), so flash.image is flagged.
    const old = readJson<ResultsFile>(join(work, 'old', 'results.json')).cells[0]!.figures['flash.image']!;
    const now = readJson<ResultsFile>(join(work, 'grown', 'results.json')).cells[0]!.figures['flash.image']!;
    expect([old, now - old]).toEqual([1770985 - 5, 12575 + 144 + 7]);
    expect(grown.stdout).toMatch(new RegExp(`flash\\.image \\+${now - old} B \\(\\+[0-9.]+ %\\) OVER \\+0\\.5 %`));
    const cmp = await quarklabAsync(['compare', 'old/results.json', 'grown/results.json'], { cwd: work });
    expect(cmp.status).toBe(1);
    const cmpSame = await quarklabAsync(['compare', 'old/results.json', 'same/results.json'], { cwd: work });
    expect(cmpSame.status).toBe(0);
    // A threshold loosened above the growth lets it pass.
    const loose = await quarklabAsync(['compare', 'old/results.json', 'grown/results.json', '--threshold', 'flash.image=5', '--threshold', 'ram.static=5', '--threshold', 'ram.peak=5'], { cwd: work });
    expect(loose.status, loose.stdout).toBe(0);
  });

  it('profile diff --fail-over exits 1 only when B outgrows A by more than the bytes given', async () => {
    const [over, under, shrink] = await Promise.all([
      quarklabAsync(['profile', 'diff', 'minimal', 'client', '--fail-over', '1000']),
      quarklabAsync(['profile', 'diff', 'minimal', 'client', '--fail-over', '300000']),
      quarklabAsync(['profile', 'diff', 'client', 'minimal', '--fail-over', '0']),
    ]);
    // client − minimal is 257489 bytes of flash (2028474 − 1770985: both carry CONFIG_SLOB).
    expect(over.status).toBe(1);
    expect(over.stderr).toMatch(/client is 257489 bytes larger than minimal in flash, over --fail-over 1000/);
    expect(under.status).toBe(0);
    expect(shrink.status).toBe(0);
  });

  it('--version prints package.json version', async () => {
    const r = await quarklabAsync(['--version']);
    expect(r.stdout).toBe(`quarklab ${readJson<{ version: string }>(join(__dirname, '..', 'package.json')).version}\n`);
  });
});

describe('Ctrl-C', () => {
  it('stops, keeps the cells that finished and writes results for them only', async () => {
    const work = tempDir('quarklab-sigint-');
    const child = spawn(process.execPath, [CLI, 'test', '--scenario', 'ping', '--seed', '1', '--seed', '2', '--seed', '3', '--seed', '4', '-j', '1', '--out', 'o'], { cwd: work, env: { ...process.env, CI: 'true' } });
    let stdout = '';
    let interrupted = false;
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        // After the first cell finishes, as a person would press Ctrl-C.
        if (stdout.includes('[1/4]') && !interrupted) {
          interrupted = true;
          child.kill('SIGINT');
          resolve();
        }
      });
    });
    expect(await exited).toBe(130);
    const results = readJson<ResultsFile & { interrupted: boolean }>(join(work, 'o', 'results.json'));
    expect(results.interrupted).toBe(true);
    expect(results.cells.length).toBeGreaterThanOrEqual(1);
    expect(results.cells.length).toBeLessThan(4);
    // Exactly the finished cells have folders; nothing half-written is left.
    expect(readdirSync(join(work, 'o')).sort()).toEqual([...results.cells.map((c) => c.id), 'index.html', 'results.json'].sort());
  });
});
