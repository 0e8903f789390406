// The deterministic iperf3 scenario: the lab host's iperf3 client against the board's iperf3
// server, -t 0.3 then -R (short: the rate settles within milliseconds). The receiver figures are held to the link's ceiling worked by hand —
// a 1448-byte payload (MSS 1460 less 12 bytes of timestamps) rides a 1514-byte frame, 1538
// bytes on the wire with preamble, FCS and gap: 100 Mbit/s × 1448 / 1538 = 94.148 Mbit/s —
// and the bytes the server counted are checked against what tshark sees in the capture.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quarklabAsync, removeTempDirs, tempDir } from './helpers/run.js';
import { tsharkFields } from './helpers/tshark.js';

const LINK_CEILING_BPS = (100e6 * 1448) / 1538;

interface Figures {
  forward: { bytes: number; receiverBps: number; error: string | null };
  reverse: { bytes: number; receiverBps: number; error: string | null };
  serverTests: { reverse: boolean; bytes: number }[];
}

describe('iperf3 scenario on quark-2m minimal', () => {
  const out = tempDir('quarklab-iperf3-');
  let figures: Figures;

  beforeAll(async () => {
    const r = await quarklabAsync(['run', '--scenario', 'iperf3:time=0.3', '--out', out]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    figures = (JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { scenario: { figures: Figures } }).scenario.figures;
  });

  afterAll(removeTempDirs);

  it('both directions run near the link ceiling and never above it', () => {
    for (const d of [figures.forward, figures.reverse]) {
      expect(d.error).toBeNull();
      expect(d.receiverBps).toBeLessThanOrEqual(LINK_CEILING_BPS * 1.001);
      expect(d.receiverBps).toBeGreaterThan(LINK_CEILING_BPS * 0.95);
    }
  });

  it('the bytes the board counted are the data-stream bytes tshark sees arrive and leave', () => {
    const cap = join(out, 'capture.pcapng');
    // Data streams are the 5201 connections other than the first (control) one of each test.
    const rows = tsharkFields(cap, ['tcp.stream', 'tcp.srcport', 'tcp.len'], 'tcp.port == 5201 && tcp.len > 0');
    const perStream = new Map<string, { toBoard: number; fromBoard: number }>();
    for (const [stream, sport, len] of rows) {
      const s = perStream.get(stream!) ?? { toBoard: 0, fromBoard: 0 };
      if (sport === '5201') s.fromBoard += Number(len);
      else s.toBoard += Number(len);
      perStream.set(stream!, s);
    }
    const streams = [...perStream.values()];
    const upload = Math.max(...streams.map((s) => s.toBoard));
    const download = Math.max(...streams.map((s) => s.fromBoard));
    const [fwd, rev] = figures.serverTests;
    // Forward: the server counts what it read before TEST_END; the rest arrived after (and was reset).
    expect(fwd!.reverse).toBe(false);
    expect(fwd!.bytes).toBeLessThanOrEqual(upload - 37);
    expect(fwd!.bytes).toBeGreaterThan((upload - 37) * 0.95);
    // Reverse: everything the server queued went out on the wire.
    expect(rev!.reverse).toBe(true);
    expect(rev!.bytes).toBe(download);
    expect(figures.reverse.bytes).toBeLessThanOrEqual(download);
  });
});
