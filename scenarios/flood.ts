/**
 * Scenario `flood`: the lab host floods the board with small ICMP echo requests back to back,
 * faster than the board's NAPI poll and CPU can drain its RX ring, as `ping -f -s 16` from a
 * fast host does. The MAC drops what the ring cannot hold and counts it as rx_missed_errors:
 * that is the expected, reported outcome, not a failure. What must hold is that the flood runs
 * to its end and that the board still answers afterwards (it pings the lab host itself), with
 * its RAM back at the post-boot baseline once timers expire.
 */
import { Ping, PING_DEFAULTS, type PingResult } from '../apps/ping.js';
import { NS_PER_MS, NS_PER_SEC, type Nanos } from '../emulator/event-queue.js';
import type { MacStats } from '../emulator/ethernet-mac.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';
import { rttStats } from './ping.js';
import { DUT_STATIC_ADDR, LAB_ADDR, staticNetwork } from './static-network.js';

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

export function floodScenario(opts: FloodOptions = FLOOD_DEFAULTS): Scenario {
  let flood: Ping | null = null;
  let after: Ping | null = null;
  let floodEndNs = 0;
  let dutAtFloodEnd: MacStats | null = null;
  return {
    name: 'flood',
    description: `the lab host floods the board with ${opts.count} ${opts.size}-byte echo requests back to back, then the board pings the lab host`,
    dutPrograms: ['ping'],
    labPrograms: ['ping'],
    timeLimitNs: 30 * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      staticNetwork(ctx);
      flood = new Ping({ target: DUT_STATIC_ADDR, count: opts.count, size: opts.size, intervalNs: opts.intervalNs, timeoutNs: opts.timeoutNs });
      ctx.step(`scenario flood: the lab host sends ${opts.count} echo requests of ${opts.size} bytes every ${opts.intervalNs} ns`);
      ctx.spawn(ctx.lab, flood, () => {
        floodEndNs = ctx.world.sim.now;
        dutAtFloodEnd = { ...ctx.dut.board.mac.stats };
        after = new Ping({ ...PING_DEFAULTS, count: opts.afterCount, target: LAB_ADDR });
        ctx.step(`scenario flood: after the flood the board pings the lab host ${opts.afterCount} times`);
        ctx.spawn(ctx.dut, after, () => ctx.finish());
      });
    },
    result(ctx: ScenarioContext): ScenarioResult {
      const f = flood!.result;
      const a = after?.result ?? null;
      const mac = ctx.dut.board.mac.stats;
      const driver = ctx.dut.stack.drivers.get(ctx.dut.dev.ifindex);
      const icmp = ctx.dut.stack.icmp.mib;
      return {
        checks: [
          {
            name: 'flood completes',
            pass: flood!.exitCode !== null && f.transmitted === opts.count,
            detail: `the lab host sent ${f.transmitted} of ${opts.count} echo requests (${f.errors} send errors), ${f.received} answered; the board's MAC missed ${mac.rx_missed_errors} frames for a full RX ring`,
          },
          {
            name: 'board still answers after the flood',
            pass: a !== null && a.transmitted === opts.afterCount && a.received === opts.afterCount,
            detail: a === null ? 'the board never got to ping: the flood did not end' : `${a.transmitted} transmitted, ${a.received} received via ${a.socketKind} socket${a.error ? ` (${a.error})` : ''}`,
          },
        ],
        figures: {
          flood: {
            ...pingFigures(f),
            sizeBytes: opts.size,
            intervalNs: opts.intervalNs,
            unanswered: f.transmitted - f.received,
            endNs: floodEndNs,
          },
          dut: {
            framesReceived: mac.rx_packets,
            framesSent: mac.tx_packets,
            rx_missed_errors: mac.rx_missed_errors,
            rx_missed_errors_during_flood: dutAtFloodEnd?.rx_missed_errors ?? null,
            rx_dropped: ctx.dut.dev.stats.rx_dropped,
            rxAllocFailures: driver?.rxAllocFailures ?? 0,
            napiPolls: driver?.napiPolls ?? 0,
            inEchos: icmp['InEchos'] ?? 0,
            outEchoReps: icmp['OutEchoReps'] ?? 0,
          },
          afterFlood: a ? pingFigures(a) : null,
        },
        measured: { 'rtt.p99': a ? rttStats(a.rttNs)?.p99 ?? null : null },
      };
    },
  };
}
