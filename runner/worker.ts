/** A `quarklab test` worker thread: runs the cells it is sent, one at a time, and posts each result. */
import { parentPort } from 'node:worker_threads';
import { runCell } from './cell.js';
import type { Cell } from './plan.js';

export interface CellRequest {
  cell: Cell;
  outDir: string | null;
}

export type CellReply = { index: number; result: import('./cell.js').CellResult } | { index: number; crash: string };

parentPort!.on('message', (req: CellRequest) => {
  runCell(req.cell, req.outDir).then(
    (result) => parentPort!.postMessage({ index: req.cell.index, result } satisfies CellReply),
    (e: unknown) => parentPort!.postMessage({ index: req.cell.index, crash: (e as Error)?.stack ?? String(e) } satisfies CellReply),
  );
});
