/**
 * Progress while cells run. On a terminal one line updates in place (on stderr, so stdout
 * stays the results); in CI (CI set, or not a terminal) one plain line per finished cell.
 */
import type { CellResult } from './cell.js';

export interface Progress {
  started(id: string): void;
  finished(r: CellResult, done: number, total: number): void;
  /** Clear the live line before the final output. */
  end(): void;
}

export function isLiveTerminal(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && !process.env['CI'];
}

const MARK: Record<CellResult['verdict'], string> = { pass: 'PASS', fail: 'FAIL', xfail: 'XFAIL', xpass: 'XPASS', error: 'ERROR' };

export function makeProgress(total: number): Progress {
  const live = isLiveTerminal(process.stderr);
  const running = new Set<string>();
  let done = 0;
  let failed = 0;
  const draw = () => {
    const width = process.stderr.columns ?? 100;
    const line = `[${done}/${total}] ${failed} failed · running ${[...running].join(', ') || '–'}`;
    process.stderr.write(`\r\x1b[2K${line.length > width - 1 ? line.slice(0, width - 2) + '…' : line}`);
  };
  return {
    started(id) {
      running.add(id);
      if (live) draw();
    },
    finished(r, d) {
      running.delete(r.id);
      done = d;
      if (!r.ok) failed++;
      if (live) {
        if (!r.ok) process.stderr.write(`\r\x1b[2K${MARK[r.verdict]} ${r.id}\n`);
        draw();
      } else {
        process.stdout.write(`[${d}/${total}] ${MARK[r.verdict]} ${r.id}${r.failures.length ? `: ${r.failures[0]}` : ''}\n`);
      }
    },
    end() {
      if (live) process.stderr.write('\r\x1b[2K');
    },
  };
}
