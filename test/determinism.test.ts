// Invariant 1 (docs/architecture.md): the same board, profile, scenario and seed give byte-identical
// capture, trace and report — run twice in one process, and once more through the CLI.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPcapngError, readPcapng, type PcapngPacket } from '../traces/pcapng-reader.js';
import { firstDifference, quarklabAsync, removeTempDirs, runToDir, tempDir, type RunFiles } from './helpers/run.js';

afterAll(removeTempDirs);

function expectSameRun(a: RunFiles, b: RunFiles): void {
  expect(a.capture, 'first run wrote a capture').not.toBeNull();
  expect(firstDifference(a.capture!, b.capture!), 'capture.pcapng differs').toBeNull();
  expect(b.reportJson).toBe(a.reportJson);
  expect(firstDifference(a.trace, b.trace), 'trace.msgpack differs').toBeNull();
}

function packets(capture: Uint8Array): PcapngPacket[] {
  const f = readPcapng(capture);
  if (isPcapngError(f)) throw new Error(f.message);
  return f.packets;
}

describe('determinism', () => {
  const first = runToDir({ scenario: 'ping', seed: 7 });

  it('two in-process runs of the ping scenario are byte-identical', () => {
    expect(first.outcome.exitCode).toBe(0);
    expectSameRun(first, runToDir({ scenario: 'ping', seed: 7 }));
  });

  it('two in-process runs of the flood scenario are byte-identical (thousands of same-instant events)', () => {
    const a = runToDir({ scenario: 'flood', seed: 3 });
    const b = runToDir({ scenario: 'flood', seed: 3 });
    expect(a.report.boards[0]!.interfaces['dut:eth0']!['rx_missed_errors']).toBeGreaterThan(0);
    expectSameRun(a, b);
  });

  it('a run hands its boards\' RAM back all zero: nothing wrote outside boot\'s reservations and the pages the allocator gave out', () => {
    // run() returns each board's buffer to the process's pool zeroed over only those parts
    // (emulator/ram/ram-pool.ts), and the next board boots into it. A write anywhere else — a
    // stray view, a ring outside its pages — would survive into the next run; here it would
    // show as a non-zero byte. http-serve moves TCP both ways and the lab host serves.
    const rams: Uint8Array[] = [];
    const r = runToDir({ scenario: 'http-serve', seed: 2, afterBoot: (b) => rams.push(b.board.ram.bytes) });
    expect(r.outcome.exitCode).toBe(0);
    expect(rams).toHaveLength(2);
    for (const bytes of rams) {
      const zero = Buffer.alloc(bytes.length);
      expect(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).equals(zero), `${bytes.length}-byte RAM not zero after the run`).toBe(true);
    }
  });

  it('the CLI writes the same bytes as run() for the same inputs', async () => {
    const out = tempDir();
    const r = await quarklabAsync(['run', '--scenario', 'ping', '--seed', '7', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(firstDifference(new Uint8Array(readFileSync(join(out, 'capture.pcapng'))), first.capture!), 'capture.pcapng').toBeNull();
    expect(readFileSync(join(out, 'report.json'), 'utf8')).toBe(first.reportJson);
    expect(firstDifference(new Uint8Array(readFileSync(join(out, 'trace.msgpack'))), first.trace), 'trace.msgpack').toBeNull();
  });

  it('a different seed still passes and changes only what Linux randomises (IP ID, ping ident)', () => {
    const other = runToDir({ scenario: 'ping', seed: 8 });
    expect(other.outcome.exitCode).toBe(0);
    expect(other.report.checks.map((c) => [c.name, c.pass])).toEqual(first.report.checks.map((c) => [c.name, c.pass]));
    expect(other.report.inputs.seed).toBe(8);
    // The seed is really used: the IP IDs and the ping socket's echo identifier are drawn from it.
    expect(firstDifference(other.capture!, first.capture!)).not.toBeNull();

    // Echo frames follow ping's schedule and payload; with the random fields (IP ID and the
    // ICMP identifier) and the checksums covering them masked, they are the same frames.
    const echoes = (c: Uint8Array): { ts: bigint; dir?: string; masked: string }[] =>
      packets(c)
        .filter((p) => p.data[12] === 0x08 && p.data[13] === 0x00 && p.data[23] === 1)
        .map((p) => {
          const d = p.data.slice();
          for (const at of [18, 19, 24, 25, 36, 37, 38, 39]) d[at] = 0;
          return { ts: p.timestampNs, dir: p.direction, masked: Buffer.from(d).toString('hex') };
        });
    const a = echoes(first.capture!);
    const b = echoes(other.capture!);
    expect(a).toHaveLength(8);
    expect(b).toEqual(a);
    const ident = (c: Uint8Array): number[] => packets(c).filter((p) => p.data[23] === 1).map((p) => (p.data[38]! << 8) | p.data[39]!);
    // One ping socket per run: one identifier throughout, chosen by the seed.
    expect(new Set(ident(first.capture!)).size).toBe(1);
    expect(new Set(ident(other.capture!)).size).toBe(1);
  });
});
