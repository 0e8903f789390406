/**
 * A file quarklab writes could not be written: the disk filled up mid-run, a quota ran out, the
 * device failed. Node's error for a write through a descriptor does not say which file; this
 * one does, so the command line can say it in one line. The writers that stream during a run
 * (the captures, the trace) and the reports after it throw it.
 */
import { writeFileSync } from 'node:fs';

export class OutputWriteError extends Error {
  constructor(
    readonly path: string,
    /** errno's name (ENOSPC, EDQUOT, EIO …), or '' when the cause was not a system error. */
    readonly code: string,
    /** What went wrong, in words: "no space left on device". */
    readonly reason: string,
  ) {
    super(`cannot write ${path}: ${reason}${code ? ` (${code})` : ''}`);
    this.name = 'OutputWriteError';
  }
}

/** `e`, thrown while writing `path`, as an OutputWriteError (one already is passes through). */
export function outputWriteError(path: string, e: unknown): OutputWriteError {
  if (e instanceof OutputWriteError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = typeof err?.code === 'string' ? err.code : '';
  // Node's message is "ENOSPC: no space left on device, write": keep the words between.
  const message = err instanceof Error ? err.message : String(e);
  const words = code && message.startsWith(`${code}: `) ? message.slice(code.length + 2).replace(/, \w+( '.*')?$/, '') : message;
  return new OutputWriteError(path, code, words);
}

/** writeFileSync, failing with an OutputWriteError that names the file ('a' appends). */
export function writeOutputFile(path: string, data: string | Uint8Array, flag: 'w' | 'a' = 'w'): void {
  try {
    writeFileSync(path, data, { flag });
  } catch (e) {
    throw outputWriteError(path, e);
  }
}
