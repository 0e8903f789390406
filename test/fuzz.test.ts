// quarklab fuzz: mutated frames of every protocol reach the board's parsers (the board's own
// counters show them, an oracle outside the fuzzer), the CLI prints a rate and a one-line
// verdict, and every case in test/fuzz-cases/ replays to a pass.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuzz } from '../fuzz/fuzz.js';
import { quarklabAsync, REPO_ROOT, removeTempDirs, tempDir } from './helpers/run.js';
import { afterAll } from 'vitest';

afterAll(removeTempDirs);

const CASES = join(REPO_ROOT, 'test', 'fuzz-cases');

describe('quarklab fuzz', () => {
  it('2000 frames on quark-2m minimal: every protocol seeded, invariants hold, same seed same result', () => {
    const a = fuzz({ board: 'quark-2m', profile: 'minimal', frames: 2000, seed: 7, batch: 500 });
    if ('error' in a) throw new Error(a.error);
    expect(a.failure).toBeNull();
    expect(a.frames).toBe(2000);
    for (const p of ['ethernet', 'arp', 'icmp', 'ipv4-options', 'ipv4-fragment', 'igmp', 'udp', 'dhcp', 'dns', 'tcp', 'tcp-established']) {
      expect(a.byProtocol[p] ?? 0, p).toBeGreaterThan(0);
    }
    expect(a.peakRamBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    const b = fuzz({ board: 'quark-2m', profile: 'minimal', frames: 2000, seed: 7, batch: 500 });
    expect(b).toEqual(a);
  });

  // full has what minimal lacks (TCP metrics, fq_codel, INET_DIAG, netlink): each must be back at
  // boot's level once traffic stops. 500 frames found the TCP metrics entry the check missed.
  it.each([['quark-4m', 'full'], ['quark-4m', 'client']])('1000 frames on %s %s: invariants hold', (board, profile) => {
    const r = fuzz({ board, profile, frames: 1000, seed: 1, batch: 500 });
    if ('error' in r) throw new Error(r.error);
    expect(r.failure).toBeNull();
    expect(r.frames).toBe(1000);
  });

  it('quarklab fuzz --frames 20000 (as CI runs it) prints frames/s and a one-line verdict; bad counts are usage errors', async () => {
    const dir = tempDir();
    const [ok, bad] = await Promise.all([
      quarklabAsync(['fuzz', '--frames', '20000', '--seed', '3', '--case', join(dir, 'case.json')]),
      quarklabAsync(['fuzz', '--frames', '1e6']),
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^quarklab fuzz on quark-2m with profile minimal \(seed 3\): 20000 frames in [\d.]+ s, \d+ frames\/s/m);
    expect(ok.stdout).toMatch(/^verdict: PASS /m);
    expect(readdirSync(dir)).toEqual([]); // no case file without a failure
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('quarklab fuzz: --frames must be a decimal integer from 1 to 1000000000, got "1e6"');
  });

  const cases = readdirSync(CASES).filter((f) => f.endsWith('.json'));
  it.each(cases.length > 0 ? cases : ['(none yet)'])('regression case %s replays to a pass', (f) => {
    if (f === '(none yet)') return expect(readdirSync(CASES)).toContain('README.md');
    const c = JSON.parse(readFileSync(join(CASES, f), 'utf8'));
    const r = fuzz({ board: c.board, profile: c.profile, frames: c.frames, seed: c.seed, batch: c.batch, failAlloc: c.failAlloc });
    if ('error' in r) throw new Error(r.error);
    expect(r.failure).toBeNull();
  });
});
