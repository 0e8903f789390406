/**
 * Where a command writes: checked, created and probed for writing before any work starts, so
 * a bad --out or -o is one line and exit 2 up front, not a stack trace after the whole run.
 *
 * Pseudo file systems (/proc, /sys, /dev) are refused without touching them: Node's recursive
 * mkdir loops forever on some /proc paths.
 */
import { accessSync, constants, lstatSync, mkdirSync, realpathSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { errnoCode, fileKind } from '../scenarios/input-files.js';

const PSEUDO_FS = ['/proc', '/sys', '/dev'];

/** A folder made ready for the files a run writes; `undo` removes what was created. */
export interface OutputDir {
  dir: string;
  /** Remove the folders this preparation created (when the run turns out to be bad input). */
  undo(): void;
}

/** The nearest existing ancestor of `path` (itself if it exists), resolved. */
function existingAncestor(path: string): { path: string; missing: string[] } {
  let cur = resolve(path);
  const missing: string[] = [];
  for (;;) {
    try {
      lstatSync(cur);
      return { path: cur, missing };
    } catch {
      const up = dirname(cur);
      if (up === cur) return { path: cur, missing };
      missing.unshift(cur);
      cur = up;
    }
  }
}

function pseudoFs(path: string): string | null {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    real = path;
  }
  return PSEUDO_FS.find((p) => real === p || real.startsWith(p + '/')) ?? null;
}

/**
 * Create `dir` (and its parents) and prove it takes files: a probe file is written and removed,
 * and each of `files` that exists already must be a writable regular file. Errors are one line.
 */
export function prepareOutputDir(dir: string, files: readonly string[], flag: string): OutputDir | { error: string } {
  const anc = existingAncestor(dir);
  const fs = pseudoFs(anc.path);
  if (fs) return { error: `${flag} ${dir}: under ${fs}, a kernel pseudo file system; give a folder on a real file system` };
  if (anc.missing.length === 0) {
    const st = statSync(anc.path, { throwIfNoEntry: false });
    if (!st) return { error: `${flag} ${dir}: a dangling symbolic link` };
    if (!st.isDirectory()) return { error: `${flag} ${dir}: is ${st.isFile() ? 'a file' : fileKind(st)}, not a folder` };
  } else {
    const st = statSync(anc.path, { throwIfNoEntry: false });
    if (!st?.isDirectory()) return { error: `${flag} ${dir}: ${anc.path} is ${st ? (st.isFile() ? 'a file' : fileKind(st)) : 'a dangling link'}, not a folder` };
  }
  const created = anc.missing;
  const undo = (): void => {
    for (const d of [...created].reverse()) {
      try {
        rmdirSync(d);
      } catch {
        return; // not empty or already gone: leave it
      }
    }
  };
  try {
    if (created.length > 0) mkdirSync(dir, { recursive: true });
  } catch (e) {
    undo();
    return { error: `${flag} ${dir}: cannot create the folder (${errnoCode(e)})` };
  }
  for (const f of files) {
    const p = join(dir, f);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (!st.isFile()) {
      undo();
      return { error: `${flag} ${dir}: ${f} there is ${fileKind(st)}, so it cannot be written` };
    }
    try {
      accessSync(p, constants.W_OK);
    } catch (e) {
      undo();
      return { error: `${flag} ${dir}: ${f} there is not writable (${errnoCode(e)})` };
    }
  }
  const probe = join(dir, `.quarklab-probe-${process.pid}`);
  try {
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (e) {
    undo();
    return { error: `${flag} ${dir}: cannot write there (${errnoCode(e)})` };
  }
  return { dir, undo };
}

/** An output file (-o FILE): not a folder, not a device, its folder exists and takes files. */
export function checkOutputFile(path: string, flag: string): { error: string } | null {
  const fs = pseudoFs(existingAncestor(path).path);
  if (fs) return { error: `${flag} ${path}: under ${fs}, a kernel pseudo file system` };
  const st = statSync(path, { throwIfNoEntry: false });
  if (st && !st.isFile()) return { error: `${flag} ${path}: is ${fileKind(st)}, not a file` };
  const parent = dirname(resolve(path));
  const pst = statSync(parent, { throwIfNoEntry: false });
  if (!pst) return { error: `${flag} ${path}: no folder ${dirname(path)}` };
  if (!pst.isDirectory()) return { error: `${flag} ${path}: ${dirname(path)} is not a folder` };
  try {
    if (st) accessSync(path, constants.W_OK);
    const probe = join(parent, `.${basename(path)}.quarklab-probe-${process.pid}`);
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (e) {
    return { error: `${flag} ${path}: cannot write there (${errnoCode(e)})` };
  }
  return null;
}
