/** `quarklab test`: a matrix of cells as one CI gate. The work is in runner/; this is its CLI face. */
import { mkdirSync } from 'node:fs';
import { writeOutputFile } from '../traces/output-error.js';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { DEFAULT_BOARD, DEFAULT_PROFILE } from '../scenarios/inputs.js';
import { DEFAULT_SCENARIO } from '../scenarios/registry.js';
import { parseBudget } from '../traces/budgets.js';
import { writeIndexPage } from '../runner/index-page.js';
import { checkPlan, DEFAULT_THRESHOLDS, expandCells, planFromData, readPlanFile, type Plan } from '../runner/plan.js';
import { runPool, startWorkers } from '../runner/pool.js';
import { makeProgress } from '../runner/progress.js';
import { compareResults, failedCount, formatComparison, junitXml, makeResults, readResults, resultsText, summaryMarkdown, type Results } from '../runner/results.js';
import { fail, write } from './output.js';

export const TEST_HELP = `usage: quarklab test [--plan FILE | matrix flags] [options]

Run every cell of a matrix — boards × profiles × scenarios × seeds — as 'quarklab run' would,
on worker threads, and gate on the results: every budget and check of every cell must hold.
The matrix comes from a plan file (YAML or JSON; schema runner/plan.schema.json, see
docs/ci.md) or from repeated flags:

  quarklab test --board quark-2m --board quark-4m --profile minimal --profile ./sensor.config \\
                --scenario ping --scenario udp-echo --seed 1 --seed 2        (16 cells)

matrix (each repeatable; without --plan):
  --board NAME|FILE       default ${DEFAULT_BOARD}
  --profile NAME|FILE     built-in profile or Kconfig fragment; default ${DEFAULT_PROFILE}
  --scenario SPEC         built-in NAME[:K=V,…] or a file ./x.ts[:K=V,…]; default ${DEFAULT_SCENARIO}
  --seed N                default 1
  --budget KEY=VALUE      a budget for every cell ('quarklab run --help' lists the keys)

options:
  --plan FILE             the plan (instead of the matrix flags)
  -j, --jobs N            worker threads (default: the number of cores, here ${availableParallelism()})
  --shard I/N             run only shard I of N (cells I, I+N, … in matrix order)
  --out DIR               one folder per cell and results.json (default out/test)
  --junit FILE            JUnit XML (one testcase per cell)
  --summary FILE          Markdown summary (e.g. "$GITHUB_STEP_SUMMARY")
  --baseline FILE         compare with an older results.json: exit 1 when a figure passes
                          its threshold (default flash.image, ram.static, ram.peak +0.5 %,
                          goodput −5 %, rtt.p99 +10 %; a plan's thresholds override)
  --cpu on|off            charge CPU cycles per packet and byte (default on)
  --costs FILE            cost table from 'quarklab calibrate'
  -h, --help              this help

Progress: one updating line on a terminal, a plain line per cell in CI. Ctrl-C stops, keeps
the cells that finished and writes results for them (exit 130).

exit codes: 0 every cell held (and no figure passed its threshold); 1 a cell failed or a
figure passed its threshold; 2 bad usage or input (before any cell runs).`;

function parseShard(text: string): { index: number; count: number } {
  const m = /^([0-9]{1,4})\/([0-9]{1,4})$/.exec(text);
  const index = m ? Number(m[1]) : 0;
  const count = m ? Number(m[2]) : 0;
  if (!m || count < 1 || index < 1 || index > count) fail(`--shard must be I/N with 1 ≤ I ≤ N, got "${text}"`);
  return { index, count };
}

export async function testCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      plan: { type: 'string' },
      board: { type: 'string', multiple: true },
      profile: { type: 'string', multiple: true },
      scenario: { type: 'string', multiple: true },
      seed: { type: 'string', multiple: true },
      budget: { type: 'string', multiple: true },
      jobs: { type: 'string', short: 'j' },
      shard: { type: 'string' },
      out: { type: 'string' },
      junit: { type: 'string' },
      summary: { type: 'string' },
      baseline: { type: 'string' },
      cpu: { type: 'string' },
      costs: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    write(TEST_HELP);
    return 0;
  }
  const jobs = values.jobs === undefined ? availableParallelism() : Number(values.jobs);
  if (values.jobs !== undefined && (!/^[0-9]{1,3}$/.test(values.jobs) || jobs < 1)) fail(`-j must be a whole number of workers from 1, got "${values.jobs}"`);
  const shard = values.shard === undefined ? null : parseShard(values.shard);
  if (values.cpu !== undefined && values.cpu !== 'on' && values.cpu !== 'off') fail(`--cpu must be on or off, got "${values.cpu}"`);

  let plan: Plan;
  if (values.plan !== undefined) {
    const flags = ['board', 'profile', 'scenario', 'seed', 'budget'].filter((k) => (values as Record<string, unknown>)[k] !== undefined);
    if (flags.length > 0) fail(`give --plan or the matrix flags, not both (--${flags[0]} with --plan ${values.plan})`);
    const p = readPlanFile(values.plan);
    if ('error' in p) fail(p.error);
    plan = p;
    if (values.cpu !== undefined) plan.cpu = values.cpu !== 'off';
    if (values.costs !== undefined) plan.costs = values.costs;
  } else {
    const seeds = (values.seed ?? ['1']).map((s) => {
      if (!/^[0-9]{1,10}$/.test(s) || Number(s) > 0xffffffff) fail(`--seed must be an integer from 0 to 4294967295, got "${s}"`);
      return Number(s);
    });
    const budgets: Record<string, string> = {};
    for (const b of values.budget ?? []) {
      const spec = parseBudget(b);
      if ('error' in spec) fail(spec.error);
      if (spec.key in budgets) fail(`--budget ${spec.key} given twice`);
      budgets[spec.key] = b.slice(b.indexOf('=') + 1);
    }
    const p = planFromData(
      { boards: values.board ?? [DEFAULT_BOARD], profiles: values.profile ?? [DEFAULT_PROFILE], scenarios: values.scenario ?? [DEFAULT_SCENARIO], seeds, budgets: { default: budgets }, cpu: values.cpu !== 'off', ...(values.costs ? { costs: values.costs } : {}) },
      'flags',
      process.cwd(),
    );
    if ('error' in p) fail(p.error.replace(/^plan flags: /, ''));
    plan = p;
  }
  const all = expandCells(plan);
  const cells = shard ? all.filter((c) => c.index % shard.count === shard.index - 1) : all;
  // The workers (no more than there are cells) load their code while this thread checks the
  // plan's inputs; a bad input ends them before anything runs.
  const count = Math.min(jobs, cells.length);
  // With two or more workers, V8's background compiler threads only take cores from them:
  // measured on 2 cores, a -j 1 run of four 40 MB cells spent 1.2 CPU s in those threads
  // against 0.3 s compiling in the worker itself, and -j 2 went from 2.86 s to 2.35 s without
  // them. Isolates created from here on (the workers) compile on their own thread.
  if (count >= 2) setFlagsFromString('--no-concurrent-recompilation');
  const workers = startWorkers(count);
  try {
    const problem = await checkPlan(plan);
    if (problem) fail(problem.error);
    let baseline: Results | null = null;
    if (values.baseline !== undefined) {
      const b = readResults(values.baseline);
      if ('error' in b) fail(b.error);
      baseline = b;
    }

    const outDir = values.out ?? join('out', 'test');
    mkdirSync(outDir, { recursive: true });
    const progress = makeProgress(cells.length);
    const pool = runPool(cells, workers, outDir, { started: (c) => progress.started(c.id), finished: (r, d, t) => progress.finished(r, d, t) });
    // Ctrl-C: stop handing out cells; a second one while results are written is ignored, so
    // nothing is left half-written.
    const onSigint = () => pool.stop();
    process.on('SIGINT', onSigint);
    let outcome;
    try {
      outcome = await pool.done;
    } catch (e) {
      process.off('SIGINT', onSigint);
      throw e;
    } finally {
      progress.end();
    }
    const results = makeResults(outcome.results, all.length, shard, outcome.interrupted, plan.thresholds);
    const comparison = baseline ? compareResults(baseline, results, plan.thresholds ?? DEFAULT_THRESHOLDS) : null;
    // The handler stays while the results are written (a second Ctrl-C must not cut them in half),
    // and goes however that ends.
    try {
      writeOutputFile(join(outDir, 'results.json'), resultsText(results));
      writeIndexPage(outDir, results);
      if (values.junit !== undefined) {
        mkdirSync(dirname(values.junit), { recursive: true });
        writeOutputFile(values.junit, junitXml(results));
      }
      if (values.summary !== undefined) {
        mkdirSync(dirname(values.summary), { recursive: true });
        writeOutputFile(values.summary, summaryMarkdown(results, comparison), values.summary === process.env['GITHUB_STEP_SUMMARY'] ? 'a' : 'w');
      }
    } finally {
      process.off('SIGINT', onSigint);
    }
    const failed = failedCount(results.cells);
    if (comparison) write(formatComparison(comparison));
    write(`${results.cells.length - failed} passed, ${failed} failed${outcome.interrupted ? `, ${cells.length - results.cells.length} not run (interrupted)` : ''}`);
    write(`wrote ${join(outDir, 'results.json')} and ${results.cells.length} cell folder${results.cells.length === 1 ? '' : 's'}`);
    if (outcome.interrupted) return 130;
    return failed > 0 || (comparison?.breaches ?? 0) > 0 ? 1 : 0;
  } finally {
    await workers.close();
  }
}
