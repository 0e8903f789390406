// Scenario `flood`: the lab host sends minimum-size echo requests back to back, faster than
// quark-2m's CPU drains its RX ring. The MAC drops what does not fit and says so everywhere a
// user looks: the report (rx_missed_errors), a comment on each dropped frame in the capture,
// and the capture's interface statistics — all the same number. The board survives it.
import { afterAll, describe, expect, it } from 'vitest';
import { FLOOD_DEFAULTS } from '../scenarios/flood.js';
import { isPcapngError, readPcapng, type PcapngFile } from '../traces/pcapng-reader.js';
import { loadReportSchema, removeTempDirs, runToDir, schemaErrors } from './helpers/run.js';
import { tsharkFields, tsharkPass } from './helpers/tshark.js';

afterAll(removeTempDirs);

const RING_FULL = 'RX ring full (rx_missed_errors)';

function parse(bytes: Uint8Array): PcapngFile {
  const f = readPcapng(bytes);
  if (isPcapngError(f)) throw new Error(f.message);
  return f;
}

describe('flood scenario on quark-2m, profile minimal', () => {
  const run = runToDir({ scenario: 'flood', board: 'quark-2m', profile: 'minimal' });
  const report = run.report;
  const dut = report.boards[0]!;
  const mac = dut.interfaces['dut:eth0']!;
  const missed = mac['rx_missed_errors']!;
  const capture = parse(run.capture!);
  // One tshark pass gives the frame comments and the `-z expert` text (a start costs ~0.5 s).
  // IP checksum checking, on for the expert check, changes no comment.
  let read: ReturnType<typeof tsharkPass> | undefined;
  const pass = (): ReturnType<typeof tsharkPass> => (read ??= tsharkPass(run.capturePath!, ['frame.comment'], { extraArgs: ['-o', 'ip.check_checksum:TRUE'], expert: true }));
  const figures = report.scenario.figures as {
    flood: { transmitted: number; received: number; unanswered: number; sizeBytes: number };
    dut: { rx_missed_errors: number; framesReceived: number; inEchos: number; outEchoReps: number };
    afterFlood: { transmitted: number; received: number } | null;
  };

  it('passes: the flood completes and the board still answers afterwards', () => {
    for (const c of report.checks) expect(c.pass, `${c.name}: ${c.detail}`).toBe(true);
    expect(run.outcome.exitCode).toBe(0);
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['flood completes', 'board still answers after the flood']));
    expect(figures.flood.transmitted).toBe(FLOOD_DEFAULTS.count);
    expect(figures.afterFlood).toMatchObject({ transmitted: FLOOD_DEFAULTS.afterCount, received: FLOOD_DEFAULTS.afterCount });
    expect(schemaErrors(loadReportSchema(), JSON.parse(run.reportJson))).toEqual([]);
  });

  it('overruns the RX ring: rx_missed_errors > 0 in the report, and the figures agree with the MAC', () => {
    expect(missed).toBeGreaterThan(0);
    expect(figures.dut.rx_missed_errors).toBe(missed);
    expect(figures.dut.framesReceived).toBe(mac['rx_packets']);
    // Requests the MAC dropped were never answered; every request the stack saw was.
    expect(figures.flood.unanswered).toBeGreaterThan(0);
    expect(figures.flood.received).toBe(figures.dut.outEchoReps);
    expect(figures.dut.inEchos).toBe(figures.dut.outEchoReps);
    // Small frames on the wire: 16 bytes of ICMP payload, padded to the 60-byte minimum.
    const echo = capture.packets.find((p) => p.direction === 'inbound' && p.data[23] === 1 && p.data[34] === 8)!;
    expect(echo.data.length).toBe(60);
    expect((echo.data[16]! << 8) | echo.data[17]!).toBe(20 + 8 + FLOOD_DEFAULTS.size);
  });

  it('comments each dropped frame in the capture; their count equals rx_missed_errors', () => {
    const dropped = capture.packets.filter((p) => p.comment?.includes(RING_FULL));
    expect(dropped).toHaveLength(missed);
    for (const p of dropped) expect(p.direction).toBe('inbound');
    // The same through tshark, the tool a user opens it with.
    // The display filter `frame.comment contains "…"`: RING_FULL has no comma, so it cannot
    // straddle two comments joined with ",".
    const rows = pass().rows.filter((r) => r['frame.comment']!.includes(RING_FULL));
    expect(rows).toHaveLength(missed);
    // Every inbound frame is either delivered (rx_packets) or one of the dropped ones.
    expect(capture.packets.filter((p) => p.direction === 'inbound')).toHaveLength(mac['rx_packets']! + missed);
  });

  it('records the same drop count in the pcapng interface statistics', () => {
    expect(capture.statistics).toHaveLength(1);
    const isb = capture.statistics[0]!;
    expect(isb.dropped).toBe(BigInt(missed));
    expect(isb.received).toBe(BigInt(mac['rx_packets']! + missed));
    const [row] = tsharkFields(run.capturePath!, ['pcapng.options.option.data.interface.dropped'], undefined, ['-X', 'read_format:MIME Files Format']);
    expect(row).toEqual([String(missed)]);
  });

  it('leaves RAM at the post-boot baseline, with no allocation failures', () => {
    const m = dut.memory!;
    expect(m.leakBytes).toBe(0);
    expect(m.finalObjectBytes).toBe(m.baselineObjectBytes);
    expect(m.peakUsedBytes).toBeGreaterThan(m.baselineUsedBytes);
    expect(report.checks.find((c) => c.name.startsWith('RAM back to post-boot baseline'))!.pass).toBe(true);
  });

  it('has no malformed packets or bad checksums in tshark (drops are comments, not errors)', () => {
    const expert = pass().expert;
    expect(expert).not.toMatch(/Malformed|Errors \(/);
    expect(expert).toMatch(new RegExp(`${missed}\\s+Comment\\s+Frame\\s+dropped by MAC: RX ring full`));
  });

  it('drops nothing when CPU cost is off: the overrun comes from the per-frame CPU work', () => {
    const free = runToDir({ scenario: 'flood', cpu: false });
    expect(free.outcome.exitCode).toBe(0);
    expect(free.report.boards[0]!.interfaces['dut:eth0']!['rx_missed_errors']).toBe(0);
  });
});
