// Stalls the stall sweep found (docs/stall-sweep.md), each kept as a test.
//
// slow-readers:loss=0.05 on quark-4m with client: a lost window update left the lab host (the
// sender) with a non-zero peer window too small for its next segment and nothing in flight.
// quarklab armed the probe timer only for a zero window, so both ends stayed silent until the
// 600 s limit. Linux's tcp_check_probe_timer arms it whatever the window
// (linux-6.1-tcp-facts.md, "Persist"), and the probe's answer reopens the transfer.
import { describe, expect, it } from 'vitest';
import { run } from '../scenarios/run.js';

describe('stalls found by the sweep', () => {
  it('slow-readers:loss=0.05 on quark-4m/client completes: the probe timer covers a too-small window', () => {
    const out = run({ board: 'quark-4m', profile: 'client', scenario: 'slow-readers:loss=0.05' });
    const r = out.report!;
    expect(r.checks.find((c) => c.name === 'scenario completes')).toBeUndefined();
    const downloads = r.checks.find((c) => c.name === 'every slow download completes intact')!;
    expect(downloads.pass, downloads.detail).toBe(true);
    expect(r.virtualTimeNs).toBeLessThan(60e9);
    // The sender is the lab host: its window probes are what got the transfer going again.
    const lab = r.boards.find((b) => b.role === 'lab')!;
    expect(lab.snmp!['TcpExt']!['TCPWinProbe']).toBeGreaterThan(0);
    expect(r.stalls ?? []).toEqual([]);
  }, 60_000);
});
