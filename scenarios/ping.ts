/**
 * Scenario `ping`: the board pings the lab host N times over a statically configured link.
 */
import { defineScenario } from '../api/define-scenario.js';
import { Ping, PING_DEFAULTS } from '../apps/ping.js';

export function rttStats(rtts: readonly number[]): { min: number; mean: number; max: number; p99: number } | null {
  if (rtts.length === 0) return null;
  // A typed array sorts numerically without a comparator call per step: a long bulk run has
  // tens of thousands of samples.
  const sorted = Float64Array.from(rtts).sort();
  const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
  return { min: sorted[0]!, mean: Math.round(sorted.reduce((s, v) => s + v, 0) / sorted.length), max: sorted[sorted.length - 1]!, p99 };
}

const count = PING_DEFAULTS.count;

export const pingScenario = defineScenario({
  name: 'ping',
  summary: `the board pings the lab host ${count} times (static addresses)`,
  description: `the board pings the lab host ${count} times`,
  programs: { board: ['ping'] },
  produces: ['rtt.p99'],
  timeLimitSeconds: count + 30,
  state: () => ({ ping: null as Ping | null }),
  board(t, _o, s) {
    s.ping = new Ping({ ...PING_DEFAULTS, count, target: t.lab.addr });
    t.step(`scenario ping: ${count} echo requests to the lab host`);
    t.board.spawn(s.ping, () => t.finish());
  },
  checks(_t, _o, s) {
    const r = s.ping!.result;
    return [{ name: 'ping replies', pass: r.received === count && r.transmitted === count, detail: `${r.transmitted} transmitted, ${r.received} received via ${r.socketKind} socket${r.error ? ` (${r.error})` : ''}` }];
  },
  figures: (_t, _o, s) => ({ ping: { ...s.ping!.result, rttNs: undefined, rtt: rttStats(s.ping!.result.rttNs) } }),
  measured: (_t, _o, s) => ({ 'rtt.p99': rttStats(s.ping!.result.rttNs)?.p99 ?? null }),
});
