/**
 * Scenario `flood`: the lab host floods the board with small ICMP echo requests back to back,
 * faster than the board's NAPI poll and CPU can drain its RX ring, as `ping -f -s 16` from a
 * fast host does. The MAC drops what the ring cannot hold and counts it as rx_missed_errors:
 * that is the expected, reported outcome, not a failure. What must hold is that the flood runs
 * to its end and that the board still answers afterwards (it pings the lab host itself), with
 * its RAM back at the post-boot baseline once timers expire.
 */
import { defineScenario } from '../api/define-scenario.js';
import type { BoardObservation } from '../api/observe.js';
import { Ping, PING_DEFAULTS, type PingResult } from '../apps/ping.js';
import { NS_PER_MS, type Nanos } from '../emulator/event-queue.js';
import { rttStats } from './ping.js';

export interface FloodOptions {
  /** Echo requests the lab host sends. */
  count: number;
  /** ICMP payload bytes: 16 gives a 58-byte frame, padded to the 60-byte minimum. */
  size: number;
  /** Gap between requests: 6,720 ns is one minimum frame (84 bytes on the wire) at 100 Mbit/s. */
  intervalNs: Nanos;
  /** How long the flooder waits for the last reply. */
  timeoutNs: Nanos;
  /** Normal pings from the board to the lab host after the flood. */
  afterCount: number;
}

export const FLOOD_DEFAULTS: FloodOptions = {
  count: 3000,
  size: 16,
  intervalNs: 6_720,
  timeoutNs: 500 * NS_PER_MS,
  afterCount: 3,
};

function pingFigures(r: PingResult): Record<string, unknown> {
  return { transmitted: r.transmitted, received: r.received, errors: r.errors, socketKind: r.socketKind, error: r.error, rtt: rttStats(r.rttNs) };
}

const opts = FLOOD_DEFAULTS;

export const floodScenario = defineScenario({
  name: 'flood',
  summary: `the lab host floods the board with ${opts.count} small echo requests back to back; the board must still answer`,
  description: `the lab host floods the board with ${opts.count} ${opts.size}-byte echo requests back to back, then the board pings the lab host`,
  programs: { board: ['ping'], lab: ['ping'] },
  produces: ['rtt.p99'],
  timeLimitSeconds: 30,
  state: () => ({ flood: null as Ping | null, after: null as Ping | null, floodEndNs: 0, dutAtFloodEnd: null as BoardObservation | null }),
  lab(t, _o, s) {
    s.flood = new Ping({ target: t.board.addr, count: opts.count, size: opts.size, intervalNs: opts.intervalNs, timeoutNs: opts.timeoutNs });
    t.step(`scenario flood: the lab host sends ${opts.count} echo requests of ${opts.size} bytes every ${opts.intervalNs} ns`);
    t.lab.spawn(s.flood, () => {
      s.floodEndNs = t.now();
      s.dutAtFloodEnd = t.board.observe();
      s.after = new Ping({ ...PING_DEFAULTS, count: opts.afterCount, target: t.lab.addr });
      t.step(`scenario flood: after the flood the board pings the lab host ${opts.afterCount} times`);
      t.board.spawn(s.after, () => t.finish());
    });
  },
  checks(t, _o, s) {
    const f = s.flood!.result;
    const a = s.after?.result ?? null;
    return [
      {
        name: 'flood completes',
        pass: s.flood!.exitCode !== null && f.transmitted === opts.count,
        detail: `the lab host sent ${f.transmitted} of ${opts.count} echo requests (${f.errors} send errors), ${f.received} answered; the board's MAC missed ${t.board.observe().netdev['rx_missed_errors']} frames for a full RX ring`,
      },
      {
        name: 'board still answers after the flood',
        pass: a !== null && a.transmitted === opts.afterCount && a.received === opts.afterCount,
        detail: a === null ? 'the board never got to ping: the flood did not end' : `${a.transmitted} transmitted, ${a.received} received via ${a.socketKind} socket${a.error ? ` (${a.error})` : ''}`,
      },
    ];
  },
  figures(t, _o, s) {
    const f = s.flood!.result;
    const a = s.after?.result ?? null;
    const dut = t.board.observe();
    const icmp = dut.counters['Icmp'] ?? {};
    return {
      flood: { ...pingFigures(f), sizeBytes: opts.size, intervalNs: opts.intervalNs, unanswered: f.transmitted - f.received, endNs: s.floodEndNs },
      dut: {
        framesReceived: dut.netdev['rx_packets'],
        framesSent: dut.netdev['tx_packets'],
        rx_missed_errors: dut.netdev['rx_missed_errors'],
        rx_missed_errors_during_flood: s.dutAtFloodEnd?.netdev['rx_missed_errors'] ?? null,
        rx_dropped: dut.netdev['netdev_rx_dropped'],
        rxAllocFailures: dut.driver.rxAllocFailures,
        napiPolls: dut.driver.napiPolls,
        inEchos: icmp['InEchos'] ?? 0,
        outEchoReps: icmp['OutEchoReps'] ?? 0,
      },
      afterFlood: a ? pingFigures(a) : null,
    };
  },
  measured: (_t, _o, s) => ({ 'rtt.p99': s.after ? rttStats(s.after.result.rttNs)?.p99 ?? null : null }),
});
