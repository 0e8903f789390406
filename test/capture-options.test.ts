// The capture as a file the run streams to: --snaplen cuts frames as tcpdump -s does,
// --capture none writes no capture and changes nothing else, and a run stopped part-way has
// already written a capture that reads clean up to its last whole block. tshark is the oracle.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, quarklabAsync, removeTempDirs, tempDir } from './helpers/run.js';
import { tshark, tsharkFields } from './helpers/tshark.js';

afterAll(removeTempDirs);

const PING = ['run', '--scenario', 'ping'];

describe('capture options', () => {
  it('--snaplen 64: tshark shows every frame cut to 64 bytes of its original length; --capture none: no file, same report', async () => {
    const [whole, cut, none] = [tempDir(), tempDir(), tempDir()];
    // A capture left from an earlier run must not survive a run that writes none.
    writeFileSync(join(none, 'capture.pcapng'), 'stale');
    const results = await Promise.all([
      quarklabAsync([...PING, '--out', whole]),
      quarklabAsync([...PING, '--out', cut, '--snaplen', '64']),
      quarklabAsync([...PING, '--out', none, '--capture', 'none']),
    ]);
    for (const r of results) expect(r.status, r.stderr).toBe(0);

    const frames = tsharkFields(join(cut, 'capture.pcapng'), ['frame.cap_len', 'frame.len']).map(([c, l]) => [Number(c), Number(l)]);
    const wholeFrames = tsharkFields(join(whole, 'capture.pcapng'), ['frame.cap_len', 'frame.len']).map(([c, l]) => [Number(c), Number(l)]);
    expect(frames.length).toBeGreaterThan(0);
    // Same frames, same original lengths; captured length is min(original, 64).
    expect(frames.map(([, l]) => l)).toEqual(wholeFrames.map(([, l]) => l));
    for (const [cap, len] of frames) expect(cap).toBe(Math.min(len!, 64));
    // The ping frames (98 bytes) are the ones cut: captured < original.
    expect(frames.filter(([cap, len]) => cap! < len!).length).toBeGreaterThanOrEqual(8);
    for (const [cap, len] of wholeFrames) expect(cap).toBe(len);

    expect(existsSync(join(none, 'capture.pcapng'))).toBe(false);
    expect(results[2]!.stdout).not.toMatch(/capture\.pcapng/);
    for (const f of ['report.json', 'trace.msgpack']) {
      expect(readFileSync(join(none, f)).equals(readFileSync(join(whole, f))), f).toBe(true);
      expect(readFileSync(join(cut, f)).equals(readFileSync(join(whole, f))), f).toBe(true);
    }
  });

  it('--snaplen out of range or not a number is bad usage', async () => {
    for (const bad of ['0', 'x']) {
      const r = await quarklabAsync([...PING, '--out', tempDir(), '--snaplen', bad]);
      expect(r.status, bad).toBe(2);
      expect(r.stderr).toMatch(/--snaplen/);
    }
  });

  it('the capture is in its file while the run goes; a run stopped there leaves a capture tshark reads clean', async () => {
    const out = tempDir();
    const capture = join(out, 'capture.pcapng');
    const child = spawn(process.execPath, [CLI, 'run', '--board', 'quark-4m', '--profile', 'client', '--scenario', 'bulk-rx:bytes=60000000', '--out', out], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let running = true;
    void exited.then(() => (running = false));
    // Wait for the first flushed blocks, then freeze the process (SIGSTOP lets a write in
    // progress finish) and take the file as an interrupted run would leave it.
    while (running && (!existsSync(capture) || statSync(capture).size === 0)) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGSTOP');
    // The signal is delivered when the process next returns from the kernel: wait until it has
    // stopped (state T in /proc), so a write it was making has finished.
    const stopped = (): boolean => {
      try {
        return /^\d+ \(.*\) T /.test(readFileSync(`/proc/${child.pid}/stat`, 'utf8'));
      } catch {
        return true; // gone: the wasRunning check below reports it
      }
    };
    while (running && !stopped()) await new Promise((r) => setTimeout(r, 2));
    const cutShort = join(tempDir(), 'cut.pcapng');
    const wasRunning = running;
    copyFileSync(capture, cutShort);
    child.kill('SIGKILL');
    await exited;
    expect(wasRunning, 'the run had already ended: the capture was not streamed').toBe(true);
    expect(existsSync(join(out, 'report.json')), 'the run was stopped before its report').toBe(false);
    const size = statSync(cutShort).size;
    expect(size).toBeGreaterThan(0);
    // Far less than the whole capture (about 70 MB for this transfer): it was written as it went.
    expect(size).toBeLessThan(20_000_000);
    const r = tshark(['-n', '-r', cutShort, '-T', 'fields', '-e', 'frame.number']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/cut short|damaged|corrupt|error/i);
    expect(r.stdout.trim().split('\n').length).toBeGreaterThan(100);
    // The oracle sees a torn block: the same file less its last 10 bytes does not read clean.
    const torn = join(tempDir(), 'torn.pcapng');
    writeFileSync(torn, readFileSync(cutShort).subarray(0, size - 10));
    const t = tshark(['-n', '-r', torn, '-T', 'fields', '-e', 'frame.number']);
    expect(`${t.status} ${t.stderr}`).toMatch(/cut short|damaged|corrupt|error/i);
  });
});
