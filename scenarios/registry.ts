/**
 * The built-in scenarios, by name: each written with defineScenario, as a user's is, so its
 * --help lines and its option checks come from its schema.
 */
import { NO_IMPAIRMENTS, type Impairments } from '../emulator/wire.js';
import { NS_PER_MS } from '../emulator/event-queue.js';
import type { DefinedScenario } from '../api/define-scenario.js';
import { bulkRxScenario, bulkTxScenario } from './bulk.js';
import { dhcpScenarios } from './dhcp.js';
import { dnsScenario } from './dns.js';
import { floodScenario } from './flood.js';
import { httpGetScenario, httpServeScenario } from './http.js';
import { iperf3Scenario } from './iperf3.js';
import { pingScenario } from './ping.js';
import { replayScenario } from './replay.js';
import type { Scenario } from './scenario.js';
import { smokeScenario } from './smoke.js';
import { slowReadersScenario, synFloodScenario } from './tcp-stress.js';
import { udpEchoScenario } from './udp-echo.js';

/** Scenario options (`--scenario NAME:key=value,…`) other than the wire impairments. */
export type ScenarioOptions = Record<string, string>;

/** In the order `--help` lists them. */
export const SCENARIOS: Readonly<Record<string, DefinedScenario>> = Object.fromEntries(
  [pingScenario, floodScenario, ...dhcpScenarios, dnsScenario, udpEchoScenario, smokeScenario, bulkRxScenario, bulkTxScenario, httpGetScenario, httpServeScenario, slowReadersScenario, iperf3Scenario, replayScenario, synFloodScenario].map((d) => [d.name, d]),
);

export const DEFAULT_SCENARIO = 'smoke';

/** Wire impairments any scenario can be run with: probabilities, and the reorder hold in ms. */
const IMPAIRMENT_KEYS = ['loss', 'duplicate', 'reorder', 'corrupt', 'reorder-delay-ms'];
/** How long a reordered frame is held when only `reorder=` is given. */
const DEFAULT_REORDER_DELAY_NS = 2 * NS_PER_MS;

/**
 * Split `NAME:key=value,key=value` (the form `--scenario` takes) into the name and its options;
 * options passed separately are added to those.
 */
export function parseScenarioSpec(spec: string, extra: ScenarioOptions = {}): { name: string; options: ScenarioOptions } | { error: string } {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const options: ScenarioOptions = {};
  if (colon >= 0) {
    for (const part of spec.slice(colon + 1).split(',')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) return { error: `scenario option "${part}": expected key=value` };
      if (Object.hasOwn(options, part.slice(0, eq))) return { error: `scenario option "${part.slice(0, eq)}" given twice` };
      options[part.slice(0, eq)] = part.slice(eq + 1);
    }
  }
  return { name, options: { ...options, ...extra } };
}

export function takeImpairments(options: ScenarioOptions): { impairments: Partial<Impairments>; rest: ScenarioOptions } | { error: string } {
  const impairments: Partial<Impairments> = {};
  const rest: ScenarioOptions = {};
  for (const [k, v] of Object.entries(options)) {
    if (!IMPAIRMENT_KEYS.includes(k)) {
      rest[k] = v;
      continue;
    }
    const n = Number(v);
    if (k === 'reorder-delay-ms') {
      if (v === '' || !Number.isFinite(n) || n < 0 || n > 10_000) return { error: `${k}=${v}: expected milliseconds from 0 to 10000` };
      impairments.reorderDelayNs = Math.round(n * NS_PER_MS);
    } else {
      if (v === '' || !Number.isFinite(n) || n < 0 || n > 1) return { error: `${k}=${v}: expected a probability from 0 to 1` };
      impairments[k as 'loss' | 'duplicate' | 'reorder' | 'corrupt'] = n;
    }
  }
  if ((impairments.reorder ?? 0) > 0 && impairments.reorderDelayNs === undefined) impairments.reorderDelayNs = DEFAULT_REORDER_DELAY_NS;
  return { impairments, rest };
}

/**
 * The scenario for `NAME[:key=value,…]`. Wire options (loss=0.05, duplicate, reorder, corrupt,
 * reorder-delay-ms) apply to any scenario and override its own impairments; the rest go to the
 * scenario. The scenario's name then carries its options, so reports say what was run.
 */
export function findScenario(spec: string, extra?: ScenarioOptions): Scenario | { error: string } {
  const parsed = parseScenarioSpec(spec, extra);
  if ('error' in parsed) return parsed;
  const { name, options } = parsed;
  const s = Object.hasOwn(SCENARIOS, name) ? SCENARIOS[name] : undefined;
  if (!s) return { error: `unknown scenario "${name}"; built in: ${Object.keys(SCENARIOS).join(', ')}` };
  const split = takeImpairments(options);
  if ('error' in split) return { error: `scenario ${name}: ${split.error}` };
  const made = s.instantiate(Object.entries(split.rest));
  if ('error' in made) return { error: `scenario ${name}: ${made.error}` };
  if (Object.keys(options).length === 0) return made;
  const label = `${name}:${Object.entries(options).map(([k, v]) => `${k}=${v}`).join(',')}`;
  const impairments = { ...NO_IMPAIRMENTS, ...made.impairments, ...split.impairments };
  return Object.assign(Object.create(Object.getPrototypeOf(made) as object) as Scenario, made, { name: label, impairments });
}
