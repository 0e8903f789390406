// A disk that fills up while a run streams its capture and trace. The writers say which file
// could not be written; `run` and `test` print that as one line and exit 2, and leave no
// half-written capture, trace, report or cell folder behind; the library's run() throws the
// same error and keeps no descriptor open. The full disk is real: a 1 MiB tmpfs mounted for the
// test (CI runs as root), or /dev/full, which fails every write with ENOSPC.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../scenarios/run.js';
import { OutputWriteError } from '../traces/output-error.js';
import { FileTraceSink } from '../traces/trace-writer.js';
import { quarklabAsync, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';

/** Descriptors this process has open (Linux: /proc/self/fd). */
function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/** What `fn` threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
}

describe('a write that fails mid-run, in the library', () => {
  it('a capture streaming to a full device: run() throws which file and why, and closes its files', () => {
    const before = openDescriptors();
    const e = thrown(() => run({ board: 'quark-4m', profile: 'client', scenario: 'bulk-rx:bytes=1000000', captureFile: '/dev/full' }));
    expect(e).toBeInstanceOf(OutputWriteError);
    expect((e as OutputWriteError).path).toBe('/dev/full');
    expect((e as OutputWriteError).code).toBe('ENOSPC');
    expect((e as Error).message).toBe('cannot write /dev/full: no space left on device (ENOSPC)');
    expect(openDescriptors()).toBe(before);
  });

  it('a trace streaming to a full device: the same, naming the trace', () => {
    const before = openDescriptors();
    const e = thrown(() => run({ board: 'quark-4m', profile: 'client', scenario: 'bulk-rx:bytes=1000000', capture: 'none', traceSink: new FileTraceSink('/dev/full') }));
    expect(e).toBeInstanceOf(OutputWriteError);
    expect((e as Error).message).toBe('cannot write /dev/full: no space left on device (ENOSPC)');
    expect(openDescriptors()).toBe(before);
  });
});

describe('a disk that fills up mid-run, on the command line', () => {
  let disk: string;
  beforeAll(() => {
    disk = tempDir('quarklab-full-disk-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk]);
  });
  afterAll(() => {
    execFileSync('umount', [disk]);
    rmdirSync(disk);
    removeTempDirs();
  });

  /** Blocks in use on the small disk: back to none once quarklab has cleaned up. */
  const usedBlocks = (): number => {
    const s = statfsSync(disk);
    return s.blocks - s.bfree;
  };

  it('run: one line naming the capture, exit 2, nothing left behind', async () => {
    const out = join(disk, 'out');
    // A 3 MB download's capture is larger than the disk.
    const r = await quarklabAsync(['run', '--board', 'quark-4m', '--profile', 'client', '--scenario', 'bulk-rx:bytes=3000000', '--out', out]);
    expect(stderrProblems(r.stderr)).toBeNull();
    expect(r.stderr.trim()).toBe(`quarklab run: cannot write ${join(out, 'capture.pcapng')}: no space left on device (ENOSPC)`);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    // The folder the run made is gone again, and with it every byte it wrote.
    expect(readdirSync(disk)).toEqual([]);
    expect(usedBlocks()).toBe(0);
  });

  it('run into a folder that was there: its other files stay, the run leaves none of its own', async () => {
    const out = join(disk, 'kept');
    mkdirSync(out);
    execFileSync('sh', ['-c', `echo notes > ${join(out, 'notes.txt')}`]);
    const r = await quarklabAsync(['run', '--board', 'quark-4m', '--profile', 'client', '--scenario', 'bulk-rx:bytes=3000000', '--out', out]);
    expect(stderrProblems(r.stderr)).toBeNull();
    expect(r.status).toBe(2);
    expect(readdirSync(out)).toEqual(['notes.txt']);
    execFileSync('rm', ['-r', out]);
  });

  it('test -j 2: one line naming the file, exit 2, no half-written cell folder', async () => {
    const out = join(disk, 'matrix');
    const r = await quarklabAsync(['test', '--board', 'quark-4m', '--profile', 'client', '--scenario', 'bulk-rx:bytes=3000000', '--seed', '1', '--seed', '2', '-j', '2', '--out', out]);
    expect(stderrProblems(r.stderr)).toBeNull();
    expect(r.stderr).toMatch(/^quarklab test: cannot write .*\/quark-4m\.client\.bulk-rx_bytes=3000000\.seed[12]\.partial\/capture\.pcapng: no space left on device \(ENOSPC\)\n$/);
    expect(r.status).toBe(2);
    expect(readdirSync(out)).toEqual([]);
  });
});
