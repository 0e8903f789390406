// What the capture says about the wire, read back with tshark: each side of the link in its
// own file (--capture all), a comment on every frame the wire lost, duplicated, held back or
// corrupted, the CRC-error flag on frames the MAC dropped for a bad FCS, and (--fcs) the FCS
// itself, which tshark recomputes: good on every frame but the corrupted ones.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quarklabAsync, readJson, removeTempDirs, tempDir } from './helpers/run.js';
import { tsharkFields } from './helpers/tshark.js';
import type { Report } from '../traces/report.js';

afterAll(removeTempDirs);

const BULK = ['run', '--board', 'quark-4m', '--profile', 'client', '--capture', 'all'];
let clean: string;
let impaired: string;

beforeAll(async () => {
  [clean, impaired] = [tempDir(), tempDir()];
  const rs = await Promise.all([
    quarklabAsync([...BULK, '--scenario', 'bulk-rx:bytes=200000', '--out', clean]),
    quarklabAsync([...BULK, '--scenario', 'bulk-rx:bytes=300000,loss=0.02,corrupt=0.02,duplicate=0.02,reorder=0.02', '--fcs', '--out', impaired]),
  ]);
  for (const r of rs) expect(r.status, r.stderr).toBe(0);
});

type Row = { iface: string; dir: string; crcError: string; fcsStatus: string; comment: string; tcpProblem: boolean };
// One tshark pass per file, kept for every test that reads it (a tshark start costs ~0.5 s of
// dissector registration). The TCP analysis flags come along as fields: tcpProblem is what the
// display filter `tcp.analysis.retransmission || tcp.analysis.duplicate_ack ||
// tcp.analysis.out_of_order` selects (tshark prints "1" for a flag the frame carries).
// eth.check_fcs only decides whether tshark checks an FCS the capture carries; it changes no
// TCP analysis.
const read = new Map<string, Row[]>();
function frames(file: string): Row[] {
  let rows = read.get(file);
  if (rows === undefined) {
    const fields = ['frame.interface_name', 'frame.packet_flags_direction', 'frame.packet_flags_crc_error', 'eth.fcs.status', 'frame.comment', 'tcp.analysis.retransmission', 'tcp.analysis.duplicate_ack', 'tcp.analysis.out_of_order'];
    rows = tsharkFields(file, fields, undefined, ['-o', 'eth.check_fcs:TRUE']).map(([iface, dir, crcError, fcsStatus, comment, retrans, dupAck, ooo]) => ({
      iface: iface!,
      dir: dir!,
      crcError: crcError ?? '',
      fcsStatus: fcsStatus ?? '',
      comment: comment ?? '',
      tcpProblem: [retrans, dupAck, ooo].some((flag) => (flag ?? '') !== ''),
    }));
    read.set(file, rows);
  }
  return rows;
}
const OUT = '0x00000002';
const IN = '0x00000001';

describe('--capture all', () => {
  it("writes the lab host's side to lab.pcapng: one side per file, so tshark sees no false retransmissions", () => {
    const board = frames(join(clean, 'capture.pcapng'));
    const lab = frames(join(clean, 'lab.pcapng'));
    expect(new Set(board.map((f) => f.iface))).toEqual(new Set(['dut:eth0']));
    expect(new Set(lab.map((f) => f.iface))).toEqual(new Set(['lab:eth0']));
    // A clean wire: what one side sends, the other receives.
    expect(board.filter((f) => f.dir === OUT).length).toBeGreaterThan(50);
    expect(lab.filter((f) => f.dir === OUT).length).toBeGreaterThan(100);
    expect(lab.filter((f) => f.dir === IN).length).toBe(board.filter((f) => f.dir === OUT).length);
    expect(board.filter((f) => f.dir === IN).length).toBe(lab.filter((f) => f.dir === OUT).length);
    for (const [file, rows] of [['capture.pcapng', board], ['lab.pcapng', lab]] as const) {
      expect(rows.filter((f) => f.tcpProblem), file).toEqual([]);
    }
  });
});

describe('wire impairments in the capture', () => {
  it('comments each frame the wire lost, duplicated, held back or corrupted: as many as the wire counted', () => {
    const report = readJson<Report>(join(impaired, 'report.json'));
    const w = report.wire!;
    expect(Math.min(w.lost, w.duplicated, w.reordered, w.corrupted), JSON.stringify(w)).toBeGreaterThan(0);
    const all = [...frames(join(impaired, 'capture.pcapng')), ...frames(join(impaired, 'lab.pcapng'))];
    const sent = all.filter((f) => f.dir === OUT);
    const received = all.filter((f) => f.dir === IN);
    const count = (rows: Row[], re: RegExp): number => rows.filter((f) => re.test(f.comment)).length;
    expect(count(sent, /wire: lost/)).toBe(w.lost);
    expect(count(sent, /wire: duplicated/)).toBe(w.duplicated);
    expect(count(received, /wire: duplicate copy/)).toBe(w.duplicated);
    expect(count(sent, /wire: held back/)).toBe(w.reordered);
    expect(count(sent, /wire: corrupted/)).toBe(w.corrupted);
  });

  it('flags frames dropped for a bad FCS as CRC errors, and with --fcs tshark finds exactly those FCSs bad', () => {
    const report = readJson<Report>(join(impaired, 'report.json'));
    for (const [file, board] of [['capture.pcapng', 0], ['lab.pcapng', 1]] as const) {
      const rows = frames(join(impaired, file));
      const crcErrors = Object.values(report.boards[board]!.interfaces)[0]!['rx_crc_errors']!;
      const flagged = rows.filter((f) => f.crcError === '1');
      expect(flagged.length, file).toBe(crcErrors);
      for (const f of flagged) expect(f.comment).toMatch(/wire: corrupted.*dropped by MAC: FCS error/);
      // eth.fcs.status: 1 good, 0 bad (tshark recomputes the CRC over the captured bytes).
      expect(rows.every((f) => f.fcsStatus === (f.crcError === '1' ? '0' : '1')), file).toBe(true);
    }
  });
});
