// Scenario replay: a capture from `run --scenario flood` (quark-2m, minimal) replayed into the
// client profile on quark-4m must draw at least 90% as many echo replies from the board as the
// original run did; tshark counts the replies in both captures. The classic pcap written
// alongside replays the same way (no direction flags: the device is found by its MAC), and a
// malformed capture is refused with one line and exit 2 before anything runs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quarklabAsync, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';
import { EXPERT_FIELDS, expertProblem, tsharkFields } from './helpers/tshark.js';

const REPLIES = 'icmp.type == 0 && ip.src == 192.0.2.2';

function replies(cap: string): number {
  return tsharkFields(cap, ['frame.number'], REPLIES).length;
}

describe('replay: a flood capture into the client profile', () => {
  const orig = tempDir('quarklab-replay-orig-');
  const fromPcapng = tempDir('quarklab-replay-ng-');
  const fromPcap = tempDir('quarklab-replay-pcap-');
  let original = 0;

  beforeAll(async () => {
    const r = await quarklabAsync(['run', '--scenario', 'flood', '--pcap', '--out', orig]);
    expect(r.status, r.stderr).toBe(0);
    original = replies(join(orig, 'capture.pcapng'));
    const [a, b] = await Promise.all([
      quarklabAsync(['run', '--board', 'quark-4m', '--profile', 'client', '--scenario', `replay:file=${join(orig, 'capture.pcapng')}`, '--out', fromPcapng]),
      quarklabAsync(['run', '--board', 'quark-4m', '--profile', 'client', '--scenario', `replay:file=${join(orig, 'capture.pcap')}`, '--out', fromPcap]),
    ]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
  });

  afterAll(removeTempDirs);

  it('the original flood drew hundreds of replies (the figure replay is held to)', () => {
    expect(original).toBeGreaterThan(500);
  });

  it('the pcapng replay gets at least 90% as many echo replies, answered to the mapped lab host', () => {
    const cap = join(fromPcapng, 'capture.pcapng');
    // One unfiltered tshark pass (each start costs ~0.75 s here) for both display filters and
    // the expert check, the filters applied to its rows with tshark's meaning of == on a field a
    // frame carries more than once (an ICMP error quoting a datagram): any occurrence equal.
    const icmp = tsharkFields(cap, ['icmp.type', 'ip.src', 'eth.dst', 'ip.dst', ...EXPERT_FIELDS], undefined, ['-o', 'ip.check_checksum:TRUE']).map((r) => ({ types: r[0]!.split(','), srcs: r[1]!.split(','), row: r }));
    const n = icmp.filter((f) => f.types.includes('0') && f.srcs.includes('192.0.2.2')).length; // REPLIES
    expect(n).toBeGreaterThanOrEqual(Math.ceil(original * 0.9));
    // Every request reached the board as from the lab host, to the board's address and MAC.
    const requests = icmp.filter((f) => f.types.includes('8')).map((f) => [f.row[2]!, f.row[1]!, f.row[3]!]); // icmp.type == 8
    expect(requests.length).toBe(3000);
    expect(new Set(requests.map((r) => r.join(' ')))).toEqual(new Set(['02:51:00:00:00:02 192.0.2.1 192.0.2.2']));
    const bad = icmp.map((f) => f.row).filter((r) => expertProblem(r, 4));
    expect(bad).toEqual([]);
  });

  it('the classic pcap replays as well, its device found from the frames alone', () => {
    expect(replies(join(fromPcap, 'capture.pcapng'))).toBeGreaterThanOrEqual(Math.ceil(original * 0.9));
  });

  it('refuses a malformed capture with one line and exit 2, writing nothing', async () => {
    const dir = tempDir('quarklab-replay-bad-');
    const bad = join(dir, 'bad.pcapng');
    // A pcapng whose Interface Description Block claims more bytes than the file holds.
    writeFileSync(bad, readFileSync(join(orig, 'capture.pcapng')).subarray(0, 100));
    const out = join(dir, 'out');
    const r = await quarklabAsync(['run', '--scenario', `replay:file=${bad}`, '--out', out]);
    expect(r.status).toBe(2);
    expect(stderrProblems(r.stderr)).toBeNull();
    expect(r.stderr).toMatch(/bad\.pcapng: pcapng: offset \d+: truncated block/);
    expect(existsSync(out)).toBe(false);
    const garbage = join(dir, 'garbage.pcap');
    writeFileSync(garbage, 'this is not a capture at all');
    const g = await quarklabAsync(['run', '--scenario', `replay:file=${garbage}`, '--out', out]);
    expect(g.status).toBe(2);
    expect(stderrProblems(g.stderr)).toBeNull();
    expect(existsSync(out)).toBe(false);
  });
});
