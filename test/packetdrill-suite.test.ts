// Our packetdrill suite (test/packetdrill/*.pkt), each script a test, on quark-2m with the
// minimal profile and quark-4m with full. Every script names its oracle (an RFC section or the
// Linux 6.1 function) in its header; none was written from the board's output. A script for a
// feature the profile lacks (`// quarklab: requires SYMBOL`) must come out unsupported there.
// AWAITING lists the scripts that fail on this branch because of the TCP fidelity items of
// issue 12 (branches i12a-tcp, i12b-cc); they are asserted to fail with the reason named, so
// the list must shrink when those fixes land.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScript } from '../packetdrill/parser.js';
import { runScript } from '../packetdrill/runner.js';
import { REPO_ROOT } from './helpers/run.js';

const DIR = join(REPO_ROOT, 'test', 'packetdrill');
const SCRIPTS = readdirSync(DIR).filter((f) => f.endsWith('.pkt')).sort();

/** Script → the issue-12 item it waits for, and a piece of the failure it must show meanwhile. */
const AWAITING: Record<string, { item: string; shows: string }> = {
  'handshake-synack-window-ts.pkt': { item: '12.8 SYN-ACK window 65160', shows: 'tcp_window: expected: 65160' },
  'iw10-first-flight.pkt': { item: '12.2 initial window 10', shows: 'P. 1:7001(7000)' },
  'pingpong-piggyback.pkt': { item: '12.3 pingpong mode', shows: 'tcp_psh: expected: 1' },
  'close-passive-last-ack.pkt': { item: '12.3 pingpong on entering CLOSE_WAIT', shows: 'tcp_fin: expected: 1' },
  'close-last-ack-retransmit.pkt': { item: '12.3 pingpong on entering CLOSE_WAIT', shows: 'tcp_fin: expected: 1' },
  'persist-small-window.pkt': { item: '12.4 persist timer / tcp_write_wakeup', shows: 'timed out waiting for packet' },
  'timewait-bare-ack-silent.pkt': { item: '12.1 TIME_WAIT answers', shows: 'timing error' },
  'tlp-probe.pkt': { item: '12.6 RACK-TLP', shows: 'timed out waiting for packet' },
  'recovery-sack-fast-retransmit.pkt': { item: '12.5 congestion control ssthresh (tcp_reno_ssthresh uses cwnd)', shows: 'tcpi_snd_cwnd is 3' },
  'recovery-ssthresh-halved.pkt': { item: '12.5 congestion control ssthresh (tcp_reno_ssthresh uses cwnd)', shows: 'tcpi_snd_ssthresh is 2' },
  'rto-cwnd-one.pkt': { item: '12.5 congestion control ssthresh (tcp_reno_ssthresh uses cwnd)', shows: 'tcpi_snd_ssthresh is 2' },
  'rto-slow-start-after.pkt': { item: '12.6 loss recovery after RTO (F-RTO / retransmission of lost segments)', shows: 'expected 2000 bytes vs actual 1000 bytes' },
};

const CELLS = [
  { board: 'quark-2m', profile: 'minimal' },
  { board: 'quark-4m', profile: 'full' },
];

describe.each(CELLS)('packetdrill suite on $board $profile', (cell) => {
  it('has at least 60 scripts, each naming its oracle', () => {
    expect(SCRIPTS.length).toBeGreaterThanOrEqual(60);
    for (const f of SCRIPTS) expect(readFileSync(join(DIR, f), 'utf8'), f).toMatch(/Oracle:|RFC \d+|\(6\.1\)|_[a-z]+ \(|tcp_[a-z_]+/);
  });

  it.each(SCRIPTS)('%s', (file) => {
    const path = join(DIR, file);
    const text = readFileSync(path, 'utf8');
    const script = parseScript(`test/packetdrill/${file}`, text);
    const r = runScript(script, { board: cell.board, profile: cell.profile, toleranceUsecs: 4000, sysctls: [] });
    const needs = script.requires.map((x) => x.symbol);
    if (cell.profile === 'minimal' && needs.includes('TCP_FASTOPEN')) {
      expect(r.status).toBe('unsupported');
      return;
    }
    const waiting = AWAITING[file];
    if (waiting) {
      expect(r.status, `${file} now passes: issue ${waiting.item} landed, drop it from AWAITING`).toBe('fail');
      expect(r.message).toContain(waiting.shows);
      return;
    }
    expect(r.message ?? '').toBe('');
    expect(r.status).toBe('pass');
  });
});
