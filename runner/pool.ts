/**
 * Running cells on N worker threads. Cells are handed out in matrix order to whichever worker
 * is free; results are kept by cell index, so what is written never depends on N or timing.
 * stop() (Ctrl-C) hands out no more cells, ends the workers, and removes the half-written
 * folders of the cells they were running: what finished stays.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CellResult } from './cell.js';
import type { Cell } from './plan.js';
import type { CellReply, CellRequest } from './worker.js';
import { packageRoot } from '../emulator/package-root.js';
import { OutputWriteError, removeQuietly } from '../traces/output-error.js';

/**
 * The worker thread's script: always the bundled one (scripts/bundle.ts), whether this module
 * runs from the bundle, from tsc's dist/ or from the TypeScript sources under vitest. A worker
 * starts by loading its script's whole module graph; bundled, that is a few files, not ~150.
 */
const WORKER_PATH = join(packageRoot(), 'dist', 'bundle', 'runner', 'worker.js');

export interface PoolEvents {
  started?(cell: Cell): void;
  finished?(result: CellResult, done: number, total: number): void;
}

export interface PoolRun {
  /** Resolves when every cell finished, or stop() was called and the workers ended. */
  done: Promise<{ results: CellResult[]; interrupted: boolean }>;
  stop(): void;
}

/**
 * Worker threads, started before the plan's inputs are checked so that loading their code
 * overlaps the main thread's own work: a worker's first cell can begin as soon as the check is
 * done. `close()` ends the ones runPool did not take (bad input, or fewer cells than workers).
 */
export interface Workers {
  readonly threads: Worker[];
  close(): Promise<void>;
}

export function startWorkers(count: number): Workers {
  const threads = Array.from({ length: Math.max(0, count) }, () => new Worker(WORKER_PATH));
  return {
    threads,
    close: async () => {
      await Promise.all(threads.splice(0).map((w) => w.terminate()));
    },
  };
}

/** Run `cells` on the started workers (at most one per cell; the rest are ended now). */
export function runPool(cells: readonly Cell[], started: Workers, outDir: string | null, events: PoolEvents = {}): PoolRun {
  const results: CellResult[] = [];
  const running = new Map<Worker, Cell>();
  let next = 0;
  let stopped = false;
  let settle!: (v: { results: CellResult[]; interrupted: boolean }) => void;
  let fail!: (e: Error) => void;
  const done = new Promise<{ results: CellResult[]; interrupted: boolean }>((res, rej) => {
    settle = res;
    fail = rej;
  });
  if (cells.length > 0 && started.threads.length === 0) throw new Error('runPool: cells to run but no workers started');
  const count = Math.min(started.threads.length, Math.max(1, cells.length));
  // The workers this pool owns from now on; the spares are ended at once.
  const workers: Worker[] = started.threads.splice(0, count);
  void started.close();
  const finish = async (unfinished: readonly Cell[] = []) => {
    await Promise.all(workers.map((w) => w.terminate()));
    if (outDir !== null) for (const c of unfinished) rmSync(join(outDir, `${c.id}.partial`), { recursive: true, force: true });
    results.sort((a, b) => a.index - b.index);
    settle({ results, interrupted: stopped && results.length < cells.length });
  };
  const feed = (w: Worker) => {
    if (stopped || next >= cells.length) {
      running.delete(w);
      if (running.size === 0) void finish();
      return;
    }
    const cell = cells[next++]!;
    running.set(w, cell);
    events.started?.(cell);
    w.postMessage({ cell, outDir } satisfies CellRequest);
  };
  if (cells.length === 0) {
    void finish();
    return { done, stop: () => {} };
  }
  for (const w of workers) {
    w.on('message', (reply: CellReply) => {
      if (stopped) return;
      if ('crash' in reply) {
        stopped = true;
        const unfinished = [...running.values()];
        void Promise.all(workers.map((x) => x.terminate())).then(() => {
          // The cells cut short leave no half-written folder. A write that failed (the disk is
          // full) is said in one line, naming the file; anything else is a bug: its stack.
          if (outDir !== null) for (const c of unfinished) removeQuietly(join(outDir, `${c.id}.partial`), true);
          if (reply.output) fail(new OutputWriteError(reply.output.path, reply.output.code, reply.output.reason));
          else fail(new Error(`cell ${cells[reply.index]!.id} crashed: ${reply.crash}`));
        });
        return;
      }
      results.push(reply.result);
      events.finished?.(reply.result, results.length, cells.length);
      feed(w);
    });
    w.on('error', (e) => {
      if (!stopped) {
        stopped = true;
        void Promise.all(workers.map((x) => x.terminate())).then(() => fail(e));
      }
    });
    feed(w);
  }
  return {
    done,
    stop() {
      if (stopped) return;
      stopped = true;
      const unfinished = [...running.values()];
      running.clear();
      void finish(unfinished);
    },
  };
}
