/** A `quarklab test` worker thread: runs the cells it is sent, one at a time, and posts each result. */
import { parentPort } from 'node:worker_threads';
import { runCell } from './cell.js';
import { storageFailure } from '../traces/output-error.js';
import type { Cell } from './plan.js';

export interface CellRequest {
  cell: Cell;
  outDir: string | null;
}

/** A cell's result; or how it crashed, with the file when it was a write that failed (a full disk). */
export type CellReply =
  | { index: number; result: import('./cell.js').CellResult }
  | { index: number; crash: string; output: { path: string; code: string; reason: string } | null };

parentPort!.on('message', (req: CellRequest) => {
  runCell(req.cell, req.outDir).then(
    (result) => parentPort!.postMessage({ index: req.cell.index, result } satisfies CellReply),
    (e: unknown) => {
      // A failed write anywhere in the cell (its folder, its files) is the disk, not a bug.
      const out = storageFailure(e, req.outDir ?? 'its output');
      parentPort!.postMessage({
        index: req.cell.index,
        crash: (e as Error)?.stack ?? String(e),
        output: out ? { path: out.path, code: out.code, reason: out.reason } : null,
      } satisfies CellReply);
    },
  );
});
