/** The built-in scenarios, by name. */
import { NO_IMPAIRMENTS, type Impairments } from '../emulator/wire.js';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { dhcpOptions, dhcpScenario } from './dhcp.js';
import { dnsScenario } from './dns.js';
import { floodScenario } from './flood.js';
import { pingScenario } from './ping.js';
import type { DefinedScenario } from '../api/define-scenario.js';
import type { Scenario } from './scenario.js';
import { smokeScenario } from './smoke.js';
import { bulkScenario } from './bulk.js';
import { httpGetOptions, httpGetScenario, httpServeOptions, httpServeScenario } from './http.js';
import { slowReadersScenario, synFloodScenario, type SlowReaderScenarioOptions, type SynFloodScenarioOptions } from './tcp-stress.js';
import { udpEchoScenario } from './udp-echo.js';
import { iperf3Options, iperf3Scenario } from './iperf3.js';
import { replayOptions, replayScenario } from './replay.js';

/** Scenario options (`--scenario NAME:key=value,…`) other than the wire impairments. */
export type ScenarioOptions = Record<string, string>;

/**
 * A built-in: its --help line, how it is made from options, and the budget figures beyond
 * RAM and flash that it measures (a budget on any other is refused before the run).
 */
export interface BuiltinScenario {
  description: string;
  make: (options: ScenarioOptions) => Scenario | { error: string };
  produces?: readonly string[];
}

/** A built-in written with defineScenario: help, validation and figures come from its definition. */
function defined(d: DefinedScenario, description: string): BuiltinScenario {
  return { description, make: (o) => d.instantiate(Object.entries(o)), produces: d.produces };
}

export const SCENARIOS: Record<string, BuiltinScenario> = {
  ping: defined(pingScenario, 'the board pings the lab host 4 times (static addresses)'),
  flood: { description: 'the lab host floods the board with 3000 small echo requests back to back; the board must still answer', make: () => floodScenario(), produces: ['rtt.p99'] },
  dhcp: { description: 'the board leases an address from the lab host by DHCP (options lease=S, renewals=N, reboot=ADDR, outage=S)', make: (o) => withOptions(dhcpOptions(o), (d) => dhcpScenario(d)) },
  'dhcp-renew': { description: 'DHCP with a 60 s lease, running past T1 to renew it once', make: (o) => withOptions(dhcpOptions(o, { leaseSeconds: 60, renewals: 1 }), (d) => dhcpScenario(d, 'dhcp-renew')) },
  'dhcp-nak': { description: 'DHCP starting in INIT-REBOOT for a foreign address: NAK, then a fresh lease', make: (o) => withOptions(dhcpOptions(o, { leaseSeconds: 3600, renewals: 0, rebootAddress: 0x0a090807 }), (d) => dhcpScenario(d, 'dhcp-nak')) },
  'dhcp-expire': { description: 'DHCP with a 60 s lease and the server gone at 10 s: renew at T1, rebind at T2, expire, start over', make: (o) => withOptions(dhcpOptions(o, { leaseSeconds: 60, renewals: 0, outageSeconds: 10 }), (d) => dhcpScenario(d, 'dhcp-expire')) },
  dns: { description: 'the board resolves a name, a missing name (NXDOMAIN) and an answer over 512 bytes (TC) from the lab host', make: (o) => noOptions('dns', o, dnsScenario) },
  'udp-echo': defined(udpEchoScenario, 'UDP echo of 64 to 4000-byte datagrams (fragmented beyond the MTU) with the lab host (option sizes=A+B+…)'),
  smoke: { description: 'DHCP, then ping the gateway, then resolve the lab host by name', make: (o) => noOptions('smoke', o, () => smokeScenario()), produces: ['rtt.p99'] },
  'bulk-rx': { description: 'the board downloads 4 MB over TCP from the lab host (options bytes=N, rcvbuf=BYTES, sndbuf=BYTES)', make: (o) => withOptions(bulkOptions(o), (b) => bulkScenario({ direction: 'rx', ...b })), produces: ['goodput', 'rtt.p99'] },
  'bulk-tx': { description: 'the board uploads 4 MB over TCP to the lab host (options bytes=N, rcvbuf=BYTES, sndbuf=BYTES, ping=N: also ping the lab host N times every 10 ms during the upload)', make: (o) => withOptions(bulkOptions(o, true), (b) => bulkScenario({ direction: 'tx', ...b })), produces: ['goodput', 'rtt.p99'] },
  'http-get': { description: 'the board fetches 1 KB, 100 KB (chunked) and 1 MB from the lab host over one keep-alive HTTP/1.1 connection (options sizes=A+Bc+…, paths=/a+/b)', make: (o) => withOptions(httpGetOptions(o), (h) => httpGetScenario(h)), produces: ['goodput'] },
  'http-serve': { description: "the lab host runs 8 HTTP clients at once against the board's server, 2 requests each, the board closing first (options clients=N, sizes=A+Bc, paths=/a+/b, sndbuf=BYTES: the server's SO_SNDBUF, default 0: the kernel's own sizing)", make: (o) => withOptions(httpServeOptions(o), (h) => httpServeScenario(h)), produces: ['goodput'] },
  'slow-readers': { description: 'the board opens 8 downloads of 200 kB and reads them slowly (options connections=N, bytes=N, tcp_mem=LOW+PRESSURE+HIGH pages)', make: (o) => withOptions(slowReaderOptions(o), (v) => slowReadersScenario(v)) },
  iperf3: { description: "the lab host's iperf3 client against the board's iperf3 server: -t T, then -R (options time=S default 1, parallel=N)", make: (o) => withOptions(iperf3Options(o), (v) => iperf3Scenario(v)) },
  replay: { description: "the lab host replays a capture's frames to the board at their recorded times, addresses mapped to the lab network (options file=CAPTURE.pcapng or .pcap, device=MAC: the capture's device when it has no direction flags)", make: (o) => { const v = replayOptions(o); return 'error' in v ? v : replayScenario(v.file, v.device); } },
  'syn-flood': { description: 'spoofed SYNs at line rate against the board server while a real client connects (option duration-ms=N)', make: (o) => withOptions(synFloodOptions(o), (v) => synFloodScenario(v)) },
};

export const DEFAULT_SCENARIO = 'smoke';

function withOptions<T>(parsed: T | { error: string }, make: (v: T) => Scenario): Scenario | { error: string } {
  if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) return parsed;
  return make(parsed as T);
}

function noOptions(name: string, o: ScenarioOptions, make: () => Scenario): Scenario | { error: string } {
  const keys = Object.keys(o);
  return keys.length > 0 ? { error: `unknown option "${keys[0]}": scenario ${name} takes only the wire options (${IMPAIRMENT_KEYS.join(', ')})` } : make();
}

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
  const s = SCENARIOS[name];
  if (!s) return { error: `unknown scenario "${name}"; built in: ${Object.keys(SCENARIOS).join(', ')}` };
  const split = takeImpairments(options);
  if ('error' in split) return { error: `scenario ${name}: ${split.error}` };
  const restKeys = Object.keys(split.rest);
  // A scenario whose maker takes no options accepts only the wire options.
  if (s.make.length === 0 && restKeys.length > 0) return { error: `scenario ${name}: unknown option "${restKeys[0]}" (only ${IMPAIRMENT_KEYS.join(', ')})` };
  const made = withProduces(s.make(split.rest), s.produces ?? []);
  if ('error' in made) return { error: `scenario ${name}: ${made.error}` };
  if (Object.keys(options).length === 0) return made;
  const label = `${name}:${Object.entries(options).map(([k, v]) => `${k}=${v}`).join(',')}`;
  const impairments = { ...NO_IMPAIRMENTS, ...made.impairments, ...split.impairments };
  return Object.assign(Object.create(Object.getPrototypeOf(made) as object) as Scenario, made, { name: label, impairments });
}

/** bulk-rx / bulk-tx options: bytes=N (default 4 MB); rcvbuf=BYTES, sndbuf=BYTES on the board's socket. */
function bulkOptions(o: ScenarioOptions, pingable = false): { bytes: number; rcvbuf?: number; sndbuf?: number; ping?: number } | { error: string } {
  const keys = pingable ? ['bytes', 'rcvbuf', 'sndbuf', 'ping'] : ['bytes', 'rcvbuf', 'sndbuf'];
  for (const k of Object.keys(o)) if (!keys.includes(k)) return { error: `unknown option "${k}" (${keys.map((k) => (k === 'bytes' || k === 'ping' ? `${k}=N` : `${k}=BYTES`)).join(', ')})` };
  const bytes = o['bytes'] === undefined ? 4_000_000 : Number(o['bytes']);
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 1_000_000_000) return { error: `bytes=${o['bytes']}: expected a whole number of bytes from 1 to 1000000000` };
  const out: { bytes: number; rcvbuf?: number; sndbuf?: number; ping?: number } = { bytes };
  for (const key of ['rcvbuf', 'sndbuf'] as const) {
    const n = wholeNumber(o, key, -1, 1, 64 * 1024 * 1024);
    if (typeof n !== 'number') return n;
    if (n > 0) out[key] = n;
  }
  const ping = wholeNumber(o, 'ping', -1, 1, 10_000);
  if (typeof ping !== 'number') return ping;
  if (ping > 0) out.ping = ping;
  return out;
}

function wholeNumber(o: ScenarioOptions, key: string, dflt: number, min: number, max: number): number | { error: string } {
  if (o[key] === undefined) return dflt;
  const n = Number(o[key]);
  return Number.isInteger(n) && n >= min && n <= max ? n : { error: `${key}=${o[key]}: expected a whole number from ${min} to ${max}` };
}

function slowReaderOptions(o: ScenarioOptions): SlowReaderScenarioOptions | { error: string } {
  for (const k of Object.keys(o)) if (!['connections', 'bytes', 'tcp_mem'].includes(k)) return { error: `unknown option "${k}" (connections=N, bytes=N, tcp_mem=A+B+C)` };
  const connections = wholeNumber(o, 'connections', 8, 1, 64);
  if (typeof connections !== 'number') return connections;
  const bytes = wholeNumber(o, 'bytes', 200_000, 1, 100_000_000);
  if (typeof bytes !== 'number') return bytes;
  const out: SlowReaderScenarioOptions = { connections, bytes };
  if (o['tcp_mem'] !== undefined) {
    const parts = o['tcp_mem'].split('+').map(Number);
    if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 1) || parts[0]! > parts[1]! || parts[1]! > parts[2]!) return { error: `tcp_mem=${o['tcp_mem']}: expected three rising page counts like 16+24+32` };
    out.tcpMem = [parts[0]!, parts[1]!, parts[2]!];
  }
  return out;
}

function synFloodOptions(o: ScenarioOptions): SynFloodScenarioOptions | { error: string } {
  for (const k of Object.keys(o)) if (k !== 'duration-ms') return { error: `unknown option "${k}" (duration-ms=N)` };
  const durationMs = wholeNumber(o, 'duration-ms', 500, 10, 60_000);
  return typeof durationMs === 'number' ? { durationMs } : durationMs;
}

function withProduces(made: Scenario | { error: string }, produces: readonly string[]): Scenario | { error: string } {
  return 'error' in made || made.produces !== undefined ? made : Object.assign(Object.create(Object.getPrototypeOf(made) as object) as Scenario, made, { produces });
}
