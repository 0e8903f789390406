/**
 * Scenario `ping`: the board pings the lab host N times over a statically configured link.
 */
import { Ping, PING_DEFAULTS } from '../apps/ping.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';
import { LAB_ADDR, staticNetwork } from './static-network.js';

export function rttStats(rtts: readonly number[]): { min: number; mean: number; max: number; p99: number } | null {
  if (rtts.length === 0) return null;
  const sorted = [...rtts].sort((a, b) => a - b);
  const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
  return { min: sorted[0]!, mean: Math.round(sorted.reduce((s, v) => s + v, 0) / sorted.length), max: sorted[sorted.length - 1]!, p99 };
}

export function pingScenario(count = PING_DEFAULTS.count): Scenario {
  let ping: Ping | null = null;
  return {
    name: 'ping',
    description: `the board pings the lab host ${count} times`,
    dutPrograms: ['ping'],
    labPrograms: [],
    timeLimitNs: (count + 30) * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      staticNetwork(ctx);
      ping = new Ping({ ...PING_DEFAULTS, count, target: LAB_ADDR });
      ctx.step(`scenario ping: ${count} echo requests to the lab host`);
      ctx.spawn(ctx.dut, ping, () => ctx.finish());
    },
    result(): ScenarioResult {
      const r = ping!.result;
      const rtt = rttStats(r.rttNs);
      return {
        checks: [
          { name: 'ping replies', pass: r.received === count && r.transmitted === count, detail: `${r.transmitted} transmitted, ${r.received} received via ${r.socketKind} socket${r.error ? ` (${r.error})` : ''}` },
        ],
        figures: { ping: { ...r, rttNs: undefined, rtt } },
        measured: { 'rtt.p99': rtt ? rtt.p99 : null },
      };
    },
  };
}
