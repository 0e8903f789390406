/**
 * One cell of `quarklab test`: run it as `quarklab run` would, write its folder (report.json,
 * capture.pcapng, trace.msgpack) and return what results.json keeps of it. Nothing here reads
 * a clock, so a cell's files and its entry are the same whichever worker ran it.
 */
import { createHash } from 'node:crypto';
import { writeReportPages } from '../traces/report-pages.js';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import { writeOutputFile } from '../traces/output-error.js';
import { join } from 'node:path';
import { resolveScenario } from '../api/load-scenario.js';
import { packageRoot } from '../emulator/package-root.js';
import { run } from '../scenarios/run.js';
import { formatValue, type BudgetResult } from '../traces/budgets.js';
import { FileTraceSink } from '../traces/trace-writer.js';
import type { Cell } from './plan.js';

/** The figures results.json keeps per cell (those a budget or a baseline compare can name). */
export const RESULT_FIGURES = ['flash.image', 'ram.static', 'ram.peak', 'ram.heap-peak', 'ram.free-min', 'goodput', 'rtt.p99', 'rx.missed', 'alloc.failures'] as const;

export interface CellResult extends Pick<Cell, 'index' | 'id' | 'board' | 'profile' | 'scenario' | 'seed'> {
  /** pass, fail, xfail (failed as the plan expects), xpass (passed, expected to fail: a failure), error (bad input). */
  verdict: 'pass' | 'fail' | 'xfail' | 'xpass' | 'error';
  /** The cell counts as held (pass or xfail). */
  ok: boolean;
  expectFail: string | null;
  figures: Record<string, number | null>;
  budgets: BudgetResult[];
  /** Each failed budget or check, or the bad input, as one message. */
  failures: string[];
  hashes: { board: string | null; profile: string | null; costTable: string | null; image: string | null; report: string | null; capture: string | null };
}

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const HASH_CHUNK = new Uint8Array(1 << 20);

/** SHA-256 of a file, read a MiB at a time: a capture can be far larger than the host should hold. */
function fileHash(path: string | null): string | null {
  if (path === null || !existsSync(path)) return null;
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const hash = createHash('sha256');
    for (let n; (n = readSync(fd, HASH_CHUNK, 0, HASH_CHUNK.length, null)) > 0; ) hash.update(HASH_CHUNK.subarray(0, n));
    return hash.digest('hex');
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

function boardFile(nameOrPath: string): string {
  const builtin = join(packageRoot(), 'boards', `${nameOrPath}.json`);
  return /^[\w.-]+$/.test(nameOrPath) && existsSync(builtin) ? builtin : nameOrPath;
}

/** Run one cell, writing its folder under `outDir` (when given) atomically: all or nothing. */
export async function runCell(cell: Cell, outDir: string | null): Promise<CellResult> {
  const base = { index: cell.index, id: cell.id, board: cell.board, profile: cell.profile, scenario: cell.scenario, seed: cell.seed, expectFail: cell.expectFail };
  const empty = Object.fromEntries(RESULT_FIGURES.map((k) => [k, null])) as Record<string, number | null>;
  const noHashes = { board: null, profile: null, costTable: null, image: null, report: null, capture: null };
  const scenario = await resolveScenario(cell.scenario);
  if ('error' in scenario) return { ...base, verdict: 'error', ok: false, figures: empty, budgets: [], failures: [scenario.error], hashes: noHashes };
  // With a folder, the capture and the trace stream into it as the run goes (host memory stays
  // flat however long the cell); the folder is `.partial` until the cell is whole.
  const final = outDir === null ? null : join(outDir, cell.id);
  const partial = final === null ? null : `${final}.partial`;
  const traceSink = partial === null ? undefined : new FileTraceSink(join(partial, 'trace.msgpack'));
  const outcome = run({
    board: cell.board, profile: cell.profile, scenario, seed: cell.seed, cpu: cell.cpu, costTablePath: cell.costs, budgets: cell.budgets, sysctls: cell.sysctls, failAlloc: cell.failAlloc,
    ...(partial === null ? { capture: 'none' as const } : {
      captureFile: join(partial, 'capture.pcapng'),
      traceSink,
      inputsGood: () => {
        rmSync(partial, { recursive: true, force: true });
        mkdirSync(partial, { recursive: true });
        return null;
      },
    }),
  });
  traceSink?.close();
  if (outcome.exitCode === 2 || !outcome.report) {
    if (partial !== null) rmSync(partial, { recursive: true, force: true });
    return { ...base, verdict: 'error', ok: false, figures: empty, budgets: [], failures: [outcome.error ?? 'bad input'], hashes: noHashes };
  }
  const report = outcome.report;
  const reportText = JSON.stringify(report, null, 2) + '\n';
  const capturePath = partial === null || (outcome.captureFiles ?? []).length === 0 ? null : join(partial, 'capture.pcapng');
  const captureHash = fileHash(capturePath);
  if (final !== null && partial !== null) {
    mkdirSync(partial, { recursive: true });
    writeOutputFile(join(partial, 'report.json'), reportText);
    if (!traceSink!.opened) writeOutputFile(join(partial, 'trace.msgpack'), new Uint8Array(0));
    writeReportPages(partial, report);
    rmSync(final, { recursive: true, force: true });
    renameSync(partial, final);
  }
  const dut = report.boards.find((b) => b.role === 'dut');
  const m = dut?.memory ?? null;
  const figures: Record<string, number | null> = {
    'flash.image': outcome.image ? outcome.image.length : null,
    'ram.static': m ? m.staticBytes : null,
    'ram.peak': m ? m.peakBytes : null,
    'ram.heap-peak': m ? m.peakUsedBytes : null,
    'ram.free-min': m ? m.minFreeBytes : null,
    goodput: null,
    'rtt.p99': null,
    'rx.missed': dut ? dut.interfaces[Object.keys(dut.interfaces)[0]!]?.['rx_missed_errors'] ?? null : null,
    'alloc.failures': m ? m.allocationFailures : null,
  };
  // goodput and rtt.p99 are the scenario's own measurements.
  for (const k of ['goodput', 'rtt.p99']) figures[k] = outcome.measured?.[k] ?? null;
  const failures = [
    ...report.checks.filter((c) => !c.pass).map((c) => `check failed: ${c.name}: ${c.detail}`),
    ...report.budgets.filter((b) => b.verdict !== 'pass').map((b) => `budget ${b.key} ${b.kind === 'max' ? '≤' : '≥'} ${formatValue(b.limit, b.unit)} (${b.text}): ${b.value === null ? 'not measured' : formatValue(b.value, b.unit)}`),
  ];
  const passed = report.verdict === 'pass';
  const verdict = cell.expectFail === null ? (passed ? 'pass' : 'fail') : passed ? 'xpass' : 'xfail';
  if (verdict === 'xpass') failures.push(`expected to fail (${cell.expectFail}) but every budget and check held`);
  return {
    ...base,
    verdict,
    ok: verdict === 'pass' || verdict === 'xfail',
    figures,
    budgets: report.budgets,
    failures,
    hashes: {
      board: fileHash(boardFile(cell.board)),
      profile: fileHash(outcome.sources?.profile ?? null),
      costTable: fileHash(outcome.sources?.costTable ?? null),
      image: outcome.image ? sha256(outcome.image) : null,
      report: sha256(reportText),
      capture: captureHash,
    },
  };
}
