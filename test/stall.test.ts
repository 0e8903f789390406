// Stalls are named from the timeline. The case: minimal + TCP_METRICS − IP_MULTICAST on
// quark-2m. The figures the report must give are worked here from Linux's formula, not read
// from quarklab: the heap of this profile on quark-2m is 288 KiB (reported by boot), and
// init_per_zone_wmark_min gives min_free_kbytes = clamp(sqrt(288 × 16), 128, 262144) =
// clamp(67.9, 128, …) = 128 KiB, which quarklab caps at half the heap (144 KiB): 128 KiB.
// An order-0 process-context allocation needs free − 4 KiB ≥ 128 KiB.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../scenarios/run.js';
import { DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { isPcapngError, readPcapng } from '../traces/pcapng-reader.js';
import { REPO_ROOT, runToDir } from './helpers/run.js';

const PROFILE = join(REPO_ROOT, 'test', 'fixtures', 'profiles', 'minimal-metrics-nomcast.config');
const HEAP = 288 * 1024;
const MIN_FREE = 128 * 1024;

describe('a stalled transfer names its cause', () => {
  it('bulk-tx:loss=0.01 on quark-2m with the custom profile: the board is too small, with the figures', () => {
    const out = run({ board: 'quark-2m', profile: PROFILE, scenario: 'bulk-tx:loss=0.01' });
    const r = out.report!;
    const dut = r.boards[0]!;
    expect(dut.memory!.heapBytes).toBe(HEAP);
    expect(dut.memory!.minFreeKbytes * 1024).toBe(MIN_FREE);
    // The transfer stopped early and the run hit its limit: the failure the issue reported.
    expect(r.checks.find((c) => c.name === 'scenario completes')?.pass).toBe(false);
    const stalls = r.stalls ?? [];
    expect(stalls.length).toBe(1);
    const s = stalls[0]!;
    expect(s.cause).toBe('memory-reserve');
    expect(s.resumed).toBe(false);
    expect(s.durationNs).toBeGreaterThan(590e9);
    expect(s.detail).toMatch(/^the board is too small for profile .* on quark-2m with bulk-tx:loss=0\.01: /);
    expect(s.detail).toContain('min_free reserve of 128.0 KiB in a 288.0 KiB heap');
    // At most two pages above the reserve: a send skb needs two pages.
    expect(s.figures['maxFreeBytes']).toBeLessThanOrEqual(MIN_FREE + 2 * 4096);
    expect(s.figures['minFreeBytes']).toBe(MIN_FREE);
    // The throttles during the stall are nearly all of the run's (the run counts them too).
    const throttled = s.figures['throttled'] as number;
    expect(throttled).toBeGreaterThan(0.9 * dut.memory!.allocationThrottled);
    expect(throttled).toBeLessThanOrEqual(dut.memory!.allocationThrottled);
  }, 60_000);

  it("http-serve on quark-2m with the custom profile: every connection whose send made no progress names the same cause", () => {
    const out = run({ board: 'quark-2m', profile: PROFILE, scenario: 'http-serve' });
    const r = out.report!;
    const serverCheck = r.checks.find((c) => c.name === 'server answered every request without error')!;
    const noProgress = (serverCheck.detail.match(/send made no progress for 30 s/g) ?? []).length;
    expect(noProgress).toBeGreaterThan(0);
    const stalls = r.stalls ?? [];
    expect(stalls.length).toBe(noProgress);
    for (const s of stalls) {
      expect(s.cause).toBe('memory-reserve');
      expect(s.connection).toMatch(/^192\.0\.2\.2:80 → /);
      expect(s.detail).toContain('min_free reserve of 128.0 KiB in a 288.0 KiB heap');
    }
  }, 60_000);
});

describe('a stall with nothing coming back is named: peer gone', () => {
  it('bulk-tx:loss=0.5 on quark-4m/client: RTO backoff with no segment received, checked against the capture', () => {
    // Seed 9: a realization of the 50% loss in which nothing comes back for the rest of the run
    // (the default seed's, since byte queue limits reordered the wire's loss draws, loses ARP
    // instead: a different stall, named as such).
    const run = runToDir({ board: 'quark-4m', profile: 'client', scenario: 'bulk-tx:loss=0.5', seed: 9 });
    const stalls = run.report.stalls ?? [];
    expect(stalls.length).toBe(1);
    const s = stalls[0]!;
    expect(s.cause).toBe('peer-gone');
    // The capture (read with the pcapng reader, not the timeline) must agree: after the stall
    // began the board received no TCP segment, and it kept retransmitting.
    const cap = readPcapng(run.capture!);
    if (isPcapngError(cap)) throw new Error(cap.message);
    // The timeline's resolution is its sample: the stall is watched from the sample after the
    // last progress (fromNs is that last progress's sample).
    const from = DEFAULT_EPOCH_NS + BigInt(s.fromNs + 100_000_000);
    // …until the end of traffic (after it, programs exit and the lab host closes its side).
    const until = DEFAULT_EPOCH_NS + BigInt(run.report.virtualTimeNs);
    const afterStart = cap.packets.filter((p) => p.timestampNs >= from && p.timestampNs < until);
    const tcpIn = afterStart.filter((p) => p.direction === 'inbound' && isTcp(p.data));
    const tcpOut = afterStart.filter((p) => p.direction === 'outbound' && isTcp(p.data));
    expect(tcpIn.length).toBe(0);
    expect(tcpOut.length).toBeGreaterThan(0);
    // The stall starts at the first sample at or after the last TCP segment the board received
    // (the capture's, on the 100 ms sample grid) and runs to the end of traffic.
    const inbound = cap.packets.filter((p) => p.direction === 'inbound' && isTcp(p.data) && p.timestampNs < until);
    const lastIn = Number(inbound.at(-1)!.timestampNs - DEFAULT_EPOCH_NS);
    expect(s.fromNs).toBe(Math.ceil(lastIn / 100_000_000) * 100_000_000);
    const secs = ((run.report.virtualTimeNs - s.fromNs) / 1e9).toFixed(1).replace('.', '\\.');
    expect(s.detail).toMatch(new RegExp(`^peer gone: \\d+ retransmission timeouts in ${secs} s with no ACK`));
  }, 60_000);
});

function isTcp(frame: Uint8Array): boolean {
  return frame.length > 34 && frame[12] === 0x08 && frame[13] === 0x00 && frame[23] === 6;
}
