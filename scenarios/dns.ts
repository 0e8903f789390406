/**
 * Scenario `dns`: the lab host serves a small zone on port 53 and the board's stub resolver
 * looks up three names over statically configured addresses: one that exists, one that does
 * not (NXDOMAIN), and one whose A records do not fit in 512 bytes — a truncated UDP answer
 * (TC), which the resolver asks again over TCP as glibc does, getting every record.
 */
import { defineScenario, type ScenarioRun } from '../api/define-scenario.js';
import { Resolver, type Resolution } from '../apps/dns-resolver.js';
import { DnsServer, type DnsZone } from '../apps/dns-server.js';
import { ipToString } from '../stack/uapi/addr.js';
import { LAB_DOMAIN } from './dhcp.js';
import type { ScenarioCheck } from './scenario.js';
import { LAB_ADDR } from './static-network.js';

export const LAB_NAME = LAB_DOMAIN; // lab.quarklab.test → the lab host
export const MISSING_NAME = `nonexistent.${LAB_DOMAIN}`;
export const BIG_NAME = `big.${LAB_DOMAIN}`;
/** Addresses for BIG_NAME: 40 A records (16 bytes each compressed) are more than 512 bytes. */
export const BIG_COUNT = 40;

/** The lab zone: the lab host under two names, and a name with too many records for UDP. */
export function labZone(): DnsZone {
  const big: number[] = [];
  for (let i = 0; i < BIG_COUNT; i++) big.push((0xc6336400 + 1 + i) >>> 0); // 198.51.100.1… (TEST-NET-2)
  return {
    ttl: 300,
    a: {
      [LAB_NAME]: [LAB_ADDR],
      [`gateway.${LAB_DOMAIN}`]: [LAB_ADDR],
      [BIG_NAME]: big,
    },
  };
}

export function startDnsServer(t: ScenarioRun): DnsServer {
  const server = new DnsServer({ zone: labZone() });
  t.lab.spawn(server);
  return server;
}

export function newResolver(t: ScenarioRun, names: string[], nameservers: number[]): Resolver {
  return new Resolver({ names, nameservers, seed: t.board.programSeed('resolver') });
}

/** The check that `name` resolved to exactly the lab host. */
export function resolvedCheck(r: Resolution | undefined, name: string): ScenarioCheck {
  return {
    name: `${name} resolves to the lab host`,
    pass: r !== undefined && r.rcode === 'NOERROR' && r.addresses.length === 1 && r.addresses[0] === LAB_ADDR,
    detail: r ? `${r.rcode ?? 'no answer'}: ${r.addresses.map(ipToString).join(' ') || '—'} after ${r.queries} quer${r.queries === 1 ? 'y' : 'ies'}${r.error ? ` (${r.error})` : ''}` : 'not looked up',
  };
}

export const dnsScenario = defineScenario({
  name: 'dns',
  summary: 'the board resolves a name, a missing name (NXDOMAIN) and an answer over 512 bytes (TC) from the lab host',
  description: 'the board resolves a name, a missing name (NXDOMAIN) and a truncated answer (TC) from the lab host',
  programs: { board: ['resolver'], lab: ['dnsd'] },
  timeLimitSeconds: 120,
  state: () => ({ resolver: null as Resolver | null, server: null as DnsServer | null }),
  lab(t, _o, s) {
    s.server = startDnsServer(t);
  },
  board(t, _o, s) {
    s.resolver = newResolver(t, [LAB_NAME, MISSING_NAME, BIG_NAME], [LAB_ADDR]);
    t.step('scenario dns: three lookups against the lab host');
    t.board.spawn(s.resolver, () => t.finish());
  },
  checks(_t, _o, s) {
    const rs = s.resolver!.result.resolutions;
    const find = (n: string) => rs.find((r) => r.name === n);
    const missing = find(MISSING_NAME);
    const big = find(BIG_NAME);
    return [
      resolvedCheck(find(LAB_NAME), LAB_NAME),
      { name: `${MISSING_NAME} is NXDOMAIN`, pass: missing?.rcode === 'NXDOMAIN' && missing.addresses.length === 0, detail: missing ? `${missing.rcode ?? 'no answer'}${missing.error ? ` (${missing.error})` : ''}` : 'not looked up' },
      {
        // Over TCP every record arrives; if TCP could not be used, the ones that fit in 512 bytes.
        name: `${BIG_NAME}: UDP answer over 512 bytes is truncated (TC), then answered in full over TCP`,
        pass: big !== undefined && big.truncated && big.rcode === 'NOERROR' && (big.transport === 'tcp' ? big.addresses.length === BIG_COUNT : big.addresses.length > 0 && big.addresses.length < BIG_COUNT && big.tcpError !== null),
        detail: big ? `${big.rcode ?? 'no answer'}, TC ${big.truncated}, ${big.addresses.length} of ${BIG_COUNT} addresses over ${big.transport ?? '—'}${big.tcpError ? ` (TCP retry: ${big.tcpError})` : ''}` : 'not looked up',
      },
    ];
  },
  figures: (_t, _o, s) => ({
    dns: {
      resolutions: s.resolver!.result.resolutions.map((r) => ({ ...r, addresses: r.addresses.map(ipToString) })),
      ignored: s.resolver!.result.ignored,
      server: s.server ? { queries: s.server.result.queries, tcpQueries: s.server.result.tcpQueries, answered: s.server.result.answered, truncated: s.server.result.truncated, dropped: s.server.result.dropped } : null,
    },
  }),
});
