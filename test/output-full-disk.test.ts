// A disk that fills up while a run streams its capture and trace. The writers say which file
// could not be written; `run` and `test` print that as one line and exit 2, and leave no
// half-written capture, trace, report or cell folder behind; the library's run() throws the
// same error and keeps no descriptor open. The full disk is real: a 1 MiB tmpfs mounted for the
// test (CI runs as root), or /dev/full, which fails every write with ENOSPC.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../scenarios/run.js';
import { OutputWriteError } from '../traces/output-error.js';
import { FileSink } from '../traces/byte-stream.js';
import { FileTraceSink } from '../traces/trace-writer.js';
import { CLI, quarklabAsync, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';

afterAll(() => removeTempDirs());

/** Descriptors this process has open (Linux: /proc/self/fd). */
function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/** A small tmpfs at a fresh folder (CI runs as root); `unmount` takes it away whatever is left. */
function smallDisk(options: string): { dir: string; unmount: () => void } {
  const dir = tempDir('quarklab-full-disk-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  return {
    dir,
    unmount: () => {
      try {
        execFileSync('umount', [dir]);
      } catch {
        // Something still holds a file there (a failure elsewhere in the test): detach it.
        execFileSync('umount', ['-l', dir]);
      }
    },
  };
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

  it('the second capture file cannot be opened: the first is closed again', () => {
    const dir = tempDir();
    const before = openDescriptors();
    const e = thrown(() =>
      run({ board: 'quark-4m', profile: 'client', scenario: 'ping', captureFile: join(dir, 'c.pcapng'), classicPcap: true, pcapFile: join(dir, 'missing', 'c.pcap') }),
    );
    expect(e).toBeInstanceOf(OutputWriteError);
    expect((e as OutputWriteError).code).toBe('ENOENT');
    expect(openDescriptors()).toBe(before);
  });

  it('an error that is not the system refusing a write stays what it is (a bug keeps its stack)', () => {
    const sink = new FileSink(join(tempDir(), 'x.bin'));
    sink.close();
    const e = thrown(() => sink.write(Buffer.alloc(4), 4));
    expect(e).toBeInstanceOf(TypeError);
    expect(e).not.toBeInstanceOf(OutputWriteError);
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
  let unmount: () => void;
  beforeAll(() => {
    ({ dir: disk, unmount } = smallDisk('size=1m'));
  });
  afterAll(() => unmount());

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
    writeFileSync(join(out, 'notes.txt'), 'notes\n');
    try {
      const r = await quarklabAsync(['run', '--board', 'quark-4m', '--profile', 'client', '--scenario', 'bulk-rx:bytes=3000000', '--out', out]);
      expect(stderrProblems(r.stderr)).toBeNull();
      expect(r.status).toBe(2);
      expect(readdirSync(out)).toEqual(['notes.txt']);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('test -j 2: one line naming the file, exit 2, no half-written cell folder', async () => {
    const out = join(disk, 'matrix');
    const r = await quarklabAsync(['test', '--board', 'quark-4m', '--profile', 'client', '--scenario', 'bulk-rx:bytes=3000000', '--seed', '1', '--seed', '2', '-j', '2', '--out', out]);
    expect(stderrProblems(r.stderr)).toBeNull();
    expect(r.stderr).toMatch(/^quarklab test: cannot write .*\/quark-4m\.client\.bulk-rx_bytes=3000000\.seed[12]\.partial\/capture\.pcapng: no space left on device \(ENOSPC\)\n$/);
    expect(r.status).toBe(2);
    expect(readdirSync(out)).toEqual([]);
    rmSync(out, { recursive: true, force: true });
  });

  it('standard output redirected to a full device: one line, exit 2', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" run --board quark-4m --profile client --scenario ping --out "${join(disk, 'stdout')}" > /dev/full`], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(stderrProblems(r.stderr)).toBeNull();
    expect(r.stderr).toBe('quarklab: cannot write standard output: no space left on device (ENOSPC)\n');
    expect(r.status).toBe(2);
    rmSync(join(disk, 'stdout'), { recursive: true, force: true });
  });
});

describe('a disk out of inodes: a cell\'s own folder cannot be made', () => {
  it('test: one line naming the folder, exit 2, nothing left', async () => {
    // Two inodes: the disk's root and the --out folder; the first cell's folder is one too many.
    const small = smallDisk('size=1m,nr_inodes=2');
    try {
      const out = join(small.dir, 'm');
      const r = await quarklabAsync(['test', '--board', 'quark-4m', '--profile', 'client', '--scenario', 'ping', '--seed', '1', '--seed', '2', '-j', '2', '--out', out]);
      expect(stderrProblems(r.stderr)).toBeNull();
      expect(r.stderr).toMatch(/^quarklab test: cannot write .*\/m\/quark-4m\.client\.ping\.seed[12]\.partial: no space left on device \(ENOSPC\)\n$/);
      expect(r.status).toBe(2);
      expect(readdirSync(out)).toEqual([]);
    } finally {
      small.unmount();
    }
  });
});
