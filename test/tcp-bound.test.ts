// The report's bound for bulk transfers: each of the five names, produced on purpose, with the
// capture (read by tshark) showing the cause independently of the report's own accounting.
//   link            bulk-rx                   nothing else limits: goodput at the link ceiling
//   receive window  bulk-rx:rcvbuf=4096       the board offers a window of a few segments
//   send buffer     bulk-tx:sndbuf=2048       the board's socket holds two segments (SO_SNDBUF doubled: 4096)
//   loss            bulk-rx:loss=0.02         2% of frames lost each way
//   cpu             bulk-rx on a 25 MHz board (test/fixtures/quark-4m-25mhz.json)
// A 4096-byte SO_SNDBUF (8192 after doubling) keeps four 1448-byte segments in flight, more than
// this 1 µs wire's bandwidth-delay product, so `bulk-tx:sndbuf=4096` is honestly link-bound here.
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../traces/report.js';
import { removeTempDirs, runToDir, type RunFiles } from './helpers/run.js';
import { eq, present, tsharkFields, tsharkPass, values, type TsharkRow } from './helpers/tshark.js';

const DUT = '192.0.2.2';

function bulk(scenario: string, board = 'quark-4m'): RunFiles {
  return runToDir({ board, profile: 'client', scenario, seed: 1 });
}

function bound(r: Report): { bound: string; detail: string } {
  return (r.scenario.figures as { bound: { bound: string; detail: string } }).bound;
}

function count(capture: string, filter: string): number {
  return tsharkFields(capture, ['frame.number'], filter).length;
}

/**
 * One tshark pass over a capture with the fields a test needs, for tests that would otherwise
 * start tshark (~0.5 s of dissector registration) once per display filter: `eq` and `present`
 * are a display filter's `==` (any occurrence) and presence; tcp.analysis.* flags are present
 * (printed as "1") or empty.
 */
function frames(capture: string, fields: string[]): TsharkRow[] {
  return tsharkPass(capture, fields).rows;
}
const anyOver = (f: TsharkRow, field: string, n: number): boolean => values(f, field).some((v) => Number(v) > n);
const first = (f: TsharkRow, field: string): number => Number(values(f, field)[0] ?? '');

afterAll(removeTempDirs);

describe('the bound of a bulk transfer', () => {
  it('link: a plain bulk-rx', () => {
    const run = bulk('bulk-rx:bytes=300000');
    expect(run.outcome.exitCode).toBe(0);
    expect(bound(run.report).bound).toBe('link');
    expect(count(run.capturePath!, 'tcp.analysis.retransmission || tcp.analysis.window_full')).toBe(0);
  });

  it('receive window: bulk-rx:rcvbuf=4096', () => {
    const run = bulk('bulk-rx:bytes=300000,rcvbuf=4096');
    expect(bound(run.report).bound, bound(run.report).detail).toBe('receive window');
    // The board (SO_RCVBUF 4096, doubled to 8192, half advertised) never offers more than 4096
    // bytes, and the lab host keeps as much in flight as that allows: within a segment of it.
    // One tshark pass; the rows are picked in JS as the display filters
    // `ip.src==DUT && tcp.flags.syn==0`, `ip.dst==DUT && tcp.len>0` and `tcp.analysis.retransmission` would.
    const rows = frames(run.capturePath!, ['ip.src', 'ip.dst', 'tcp.flags.syn', 'tcp.len', 'tcp.window_size', 'tcp.analysis.bytes_in_flight', 'tcp.analysis.retransmission']);
    const windows = rows.filter((f) => eq(f, 'ip.src', DUT) && eq(f, 'tcp.flags.syn', '0')).map((f) => first(f, 'tcp.window_size'));
    expect(Math.max(...windows)).toBeLessThanOrEqual(4096);
    const flight = rows.filter((f) => eq(f, 'ip.dst', DUT) && anyOver(f, 'tcp.len', 0)).map((f) => first(f, 'tcp.analysis.bytes_in_flight'));
    expect(Math.max(...flight)).toBeLessThanOrEqual(4096);
    expect(Math.max(...flight)).toBeGreaterThan(4096 - 1448);
    expect(rows.filter((f) => present(f, 'tcp.analysis.retransmission')).length).toBe(0);
  });

  it('send buffer: bulk-tx:sndbuf=2048', () => {
    const run = bulk('bulk-tx:bytes=300000,sndbuf=2048');
    expect(bound(run.report).bound, bound(run.report).detail).toBe('send buffer');
    // The receiver's window is never the limit (no window-full), nothing is lost, and the
    // board never has more than two segments' worth (2·1448 bytes) in flight.
    // One tshark pass, rows picked in JS as the display filters
    // `tcp.analysis.window_full || tcp.analysis.retransmission` and `ip.src==DUT && tcp.len>0` would.
    const rows = frames(run.capturePath!, ['ip.src', 'tcp.len', 'tcp.analysis.bytes_in_flight', 'tcp.analysis.window_full', 'tcp.analysis.retransmission']);
    expect(rows.filter((f) => present(f, 'tcp.analysis.window_full') || present(f, 'tcp.analysis.retransmission')).length).toBe(0);
    const flight = rows.filter((f) => eq(f, 'ip.src', DUT) && anyOver(f, 'tcp.len', 0)).map((f) => first(f, 'tcp.analysis.bytes_in_flight'));
    expect(Math.max(...flight)).toBeLessThanOrEqual(2 * 1448);
  });

  it('loss: bulk-rx:loss=0.02', () => {
    const run = bulk('bulk-rx:bytes=1000000,loss=0.02');
    expect(bound(run.report).bound, bound(run.report).detail).toBe('loss');
    expect(count(run.capturePath!, `ip.dst==${DUT} && tcp.analysis.retransmission`)).toBeGreaterThan(0);
  });

  it('cpu: bulk-rx on a board clocked at 25 MHz', () => {
    const run = bulk('bulk-rx:bytes=300000', 'test/fixtures/quark-4m-25mhz.json');
    const b = bound(run.report);
    expect(b.bound, b.detail).toBe('cpu');
    // Not the window nor loss: the capture has neither retransmissions nor a full window, and
    // goodput is well under the link (a received frame costs irq + rxFrame + protocolPacket +
    // 1514 B × (checksum + copy) ≈ 8.2 k cycles = 330 µs at 25 MHz, against 123 µs on the wire).
    expect(count(run.capturePath!, 'tcp.analysis.retransmission || tcp.analysis.window_full')).toBe(0);
    expect(b.detail).toMatch(/busy (9\d|100)% of the transfer/);
  });
});
