/**
 * A file quarklab writes could not be written: the disk filled up mid-run, a quota ran out, the
 * device failed. Node's error for a write through a descriptor does not say which file; this
 * one does, so the command line can say it in one line. The writers that stream during a run
 * (the captures, the trace) and the reports after it throw it.
 */
import { rmSync, writeFileSync } from 'node:fs';

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

/** errno values that mean the storage under an output failed, not quarklab. */
const STORAGE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EFBIG', 'EROFS']);
/** System calls that write (or make room to write); a failed read is not an output's fault. */
const WRITING_CALLS = new Set(['open', 'write', 'writev', 'close', 'fsync', 'ftruncate', 'rename', 'mkdir', 'copyfile']);

/** Whether `e` is the storage failing a write (a full disk, a quota, an I/O error). */
function isStorageWriteError(e: unknown): e is NodeJS.ErrnoException {
  const err = e as NodeJS.ErrnoException | null;
  return typeof err?.code === 'string' && STORAGE_ERRORS.has(err.code) && typeof err.syscall === 'string' && WRITING_CALLS.has(err.syscall);
}

/**
 * `e` as the failed write it reports: an OutputWriteError already, or the storage refusing a
 * write anywhere (named `path` when Node's error names no file). null for anything else.
 */
export function storageFailure(e: unknown, path: string): OutputWriteError | null {
  if (e instanceof OutputWriteError) return e;
  return isStorageWriteError(e) ? (outputWriteError(e.path ?? path, e) as OutputWriteError) : null;
}

/**
 * `e`, thrown while writing `path`, as an OutputWriteError when the system refused the write; any
 * other error (a bug) is returned as it is, to surface with its stack.
 */
export function outputWriteError(path: string, e: unknown): unknown {
  if (e instanceof OutputWriteError) return e;
  const err = e as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof err.code !== 'string' || typeof err.syscall !== 'string') return e;
  // Node's message is "ENOSPC: no space left on device, write": keep the words between.
  const words = err.message.startsWith(`${err.code}: `) ? err.message.slice(err.code.length + 2).replace(/, \w+( '.*')?$/, '') : err.message;
  return new OutputWriteError(path, err.code, words);
}

/**
 * writeFileSync, failing with an OutputWriteError that names the file. A file that was being
 * replaced ('w') and could not be written whole is removed, so no half of it is taken for output.
 */
export function writeOutputFile(path: string, data: string | Uint8Array, flag: 'w' | 'a' = 'w'): void {
  try {
    writeFileSync(path, data, { flag });
  } catch (e) {
    if (flag === 'w') removeQuietly(path);
    throw outputWriteError(path, e);
  }
}

/** rmSync that never throws: cleaning up after a failed write must not hide that failure. */
export function removeQuietly(path: string, recursive = false): void {
  try {
    rmSync(path, { force: true, recursive });
  } catch {
    // The first error is the one reported.
  }
}
