// The command line as CI uses it: --help everywhere, exit 2 with one line (no stack trace) for
// bad usage or input, exit 1 for a broken budget, exit 0 when everything holds. The exit codes
// and stderr are checked on a real process; other tests call main() in-process.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIOS } from '../scenarios/registry.js';
import { CLI, CLI_MISSING, quarklabAsync, quarklabProcess, readJson, REPO_ROOT, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';
import type { Report } from '../traces/report.js';

afterAll(removeTempDirs);

/** Exit 2, one line on stderr matching `pattern`, no stack trace, nothing on stdout. */
async function expectUsageError(args: string[], pattern: RegExp): Promise<void> {
  // A process, not main() in-process: only a process shows what an uncaught error prints.
  const r = await quarklabProcess(args);
  expect(r.status, `quarklab ${args.join(' ')}: ${r.stderr}`).toBe(2);
  expect(stderrProblems(r.stderr), args.join(' ')).toBeNull();
  expect(r.stderr).toMatch(pattern);
  expect(r.stdout, args.join(' ')).toBe('');
}

describe('quarklab command line', () => {
  it('is built (dist/bundle/cli/main.js)', () => {
    expect(existsSync(CLI), CLI_MISSING).toBe(true);
  });

  it('the quarklab command runs by its own shebang from a clone, as npx runs it', () => {
    // package.json's bin is a launcher tracked in git as executable (mode 100755), so a fresh
    // clone has the execute bit whatever mode the build gave the bundle.
    const bin = join(REPO_ROOT, JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).bin.quarklab as string);
    const staged = execFileSync('git', ['ls-files', '-s', 'bin/quarklab.js'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(staged).toMatch(/^100755 /);
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    expect(r.error, String(r.error)).toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^quarklab \d+\.\d+\.\d+$/);
  });

  it('--help on every command exits 0 and prints usage', async () => {
    const all = [['--help'], ['-h'], ['help'], ['run', '--help'], ['run', '-h'], ['image', '--help'], ['image', 'build', '--help'], ['image', 'inspect', '--help'], ['profiles', '--help'], ['profile', '--help'], ['calibrate', '--help']];
    const results = await Promise.all(all.map((args) => quarklabAsync(args)));
    all.forEach((args, i) => {
      const r = results[i]!;
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/^usage: quarklab/);
      expect(r.stderr, args.join(' ')).toBe('');
    });
    // run's help lists every built-in scenario, one a line, with the option syntax.
    expect(results[3]!.stdout).toMatch(/--scenario NAME\[:K=V,…\]/);
    for (const name of Object.keys(SCENARIOS)) expect(results[3]!.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
  });

  it('bad usage and bad input: exit 2, one line on stderr, no stack frames', async () => {
    await Promise.all([
      expectUsageError(['frobnicate'], /^quarklab: unknown command "frobnicate"/),
      expectUsageError(['run', '--frobnicate'], /^quarklab run: Unknown option '--frobnicate'/),
      expectUsageError(['image', 'build', '--frobnicate'], /^quarklab image: Unknown option '--frobnicate'/),
      expectUsageError(['run', '--seed', 'abc'], /^quarklab run: --seed must be a decimal integer/),
      expectUsageError(['run', '--seed', '1.5'], /--seed must be a decimal integer/),
      expectUsageError(['run', '--seed', '4294967296'], /--seed must be a decimal integer from 0 to 4294967295/),
      expectUsageError(['run', '--scenario', 'nope'], /^quarklab run: unknown scenario "nope"; built in: .*ping.*flood/),
      expectUsageError(['run', '--profile', 'tiny'], /^quarklab run: .*tiny/),
      expectUsageError(['run', '--budget', 'ram.peak=lots'], /^quarklab run: budget ram\.peak/),
      expectUsageError(['run', '--budget', 'speed=1'], /^quarklab run: unknown budget "speed"/),
    ]);
  });

  it('a profile fragment with a misspelt symbol: exit 2, suggesting the right one', async () => {
    const dir = tempDir();
    const frag = join(dir, 'typo.config');
    writeFileSync(frag, '# base: minimal\nCONFIG_TCP_FASTOPN=y\n');
    await Promise.all([
      expectUsageError(['run', '--profile', frag], /^quarklab run: .*typo\.config: unknown symbol CONFIG_TCP_FASTOPN at line 2; did you mean CONFIG_TCP_FASTOPEN\?$/m),
      expectUsageError(['image', 'build', '--profile', frag, '-o', join(dir, 'x.img')], /did you mean CONFIG_TCP_FASTOPEN\?/),
    ]);
    expect(existsSync(join(dir, 'x.img'))).toBe(false);
  });

  it('a budget the run breaks: exit 1 and the budget FAIL line; a generous one: exit 0', async () => {
    const dir = tempDir();
    const [tight, generous] = await Promise.all([
      quarklabProcess(['run', '--budget', 'ram.peak=1KiB', '--out', join(dir, 'tight')]),
      quarklabProcess(['run', '--budget', 'ram.peak=2MiB', '--budget', 'rx.missed=0', '--budget', 'flash.image=4MiB', '--out', join(dir, 'ok')]),
    ]);
    expect(tight.status, tight.stderr).toBe(1);
    expect(tight.stderr).toBe('');
    const m = /^budget FAIL ram\.peak ≤ 1\.0 KiB: (.+)$/m.exec(tight.stdout);
    expect(m, tight.stdout).not.toBeNull();
    expect(tight.stdout).toMatch(/^verdict: FAIL$/m);
    const report = readJson<Report>(join(dir, 'tight', 'report.json'));
    expect(report.budgets).toEqual([expect.objectContaining({ key: 'ram.peak', limit: 1024, verdict: 'fail' })]);
    const peak = report.budgets[0]!.value!;
    expect(peak).toBe(report.boards[0]!.memory!.peakBytes);
    // Every check held: the budget alone made it fail.
    for (const c of report.checks) expect(c.pass, c.name).toBe(true);

    expect(generous.status, generous.stdout + generous.stderr).toBe(0);
    expect(generous.stdout).toMatch(/^budget PASS ram\.peak ≤ 2\.00 MiB: /m);
    expect(generous.stdout).toMatch(/^budget PASS rx\.missed ≤ 0: 0$/m);
    expect(generous.stdout).toMatch(/^verdict: PASS$/m);
    for (const f of ['report.json', 'capture.pcapng', 'trace.msgpack']) expect(existsSync(join(dir, 'ok', f)), f).toBe(true);
  });

  it('quarklab profiles lists full, client and minimal', async () => {
    const r = await quarklabAsync(['profiles']);
    expect(r.status, r.stderr).toBe(0);
    const names = r.stdout.split('\n').map((l) => /^(\w+)\s+\d+/.exec(l)?.[1]).filter(Boolean);
    expect(names).toEqual(['full', 'client', 'minimal']);
    expect(r.stdout).toMatch(/^board quark-2m:/);
  });
});
