/**
 * Scenario `dns`: the lab host serves a small zone on port 53 and the board's stub resolver
 * looks up three names over statically configured addresses: one that exists, one that does
 * not (NXDOMAIN), and one whose A records do not fit in 512 bytes — a truncated UDP answer
 * (TC), which the resolver asks again over TCP as glibc does, getting every record.
 */
import { Resolver, type Resolution } from '../apps/dns-resolver.js';
import { DnsServer, type DnsZone } from '../apps/dns-server.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { ipToString } from '../stack/core/addr.js';
import { LAB_DOMAIN, programSeed } from './dhcp.js';
import type { Scenario, ScenarioCheck, ScenarioContext, ScenarioResult } from './scenario.js';
import { LAB_ADDR, staticNetwork } from './static-network.js';

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

export function startDnsServer(ctx: ScenarioContext): DnsServer {
  const server = new DnsServer({ zone: labZone() });
  ctx.spawn(ctx.lab, server);
  return server;
}

export function newResolver(ctx: ScenarioContext, names: string[], nameservers: number[]): Resolver {
  return new Resolver({ names, nameservers, seed: programSeed(ctx.dut, 'resolver') });
}

/** The check that `name` resolved to exactly the lab host. */
export function resolvedCheck(r: Resolution | undefined, name: string): ScenarioCheck {
  return {
    name: `${name} resolves to the lab host`,
    pass: r !== undefined && r.rcode === 'NOERROR' && r.addresses.length === 1 && r.addresses[0] === LAB_ADDR,
    detail: r ? `${r.rcode ?? 'no answer'}: ${r.addresses.map(ipToString).join(' ') || '—'} after ${r.queries} quer${r.queries === 1 ? 'y' : 'ies'}${r.error ? ` (${r.error})` : ''}` : 'not looked up',
  };
}

export function dnsScenario(): Scenario {
  let resolver: Resolver | null = null;
  let server: DnsServer | null = null;
  return {
    name: 'dns',
    description: 'the board resolves a name, a missing name (NXDOMAIN) and a truncated answer (TC) from the lab host',
    dutPrograms: ['resolver'],
    labPrograms: ['dnsd'],
    timeLimitNs: 120 * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      staticNetwork(ctx);
      server = startDnsServer(ctx);
      resolver = newResolver(ctx, [LAB_NAME, MISSING_NAME, BIG_NAME], [LAB_ADDR]);
      ctx.step('scenario dns: three lookups against the lab host');
      ctx.spawn(ctx.dut, resolver, () => ctx.finish());
    },
    result(): ScenarioResult {
      const rs = resolver!.result.resolutions;
      const find = (n: string) => rs.find((r) => r.name === n);
      const missing = find(MISSING_NAME);
      const big = find(BIG_NAME);
      return {
        checks: [
          resolvedCheck(find(LAB_NAME), LAB_NAME),
          { name: `${MISSING_NAME} is NXDOMAIN`, pass: missing?.rcode === 'NXDOMAIN' && missing.addresses.length === 0, detail: missing ? `${missing.rcode ?? 'no answer'}${missing.error ? ` (${missing.error})` : ''}` : 'not looked up' },
          {
            // Over TCP every record arrives; if TCP could not be used, the ones that fit in 512 bytes.
            name: `${BIG_NAME}: UDP answer over 512 bytes is truncated (TC), then answered in full over TCP`,
            pass: big !== undefined && big.truncated && big.rcode === 'NOERROR' && (big.transport === 'tcp' ? big.addresses.length === BIG_COUNT : big.addresses.length > 0 && big.addresses.length < BIG_COUNT && big.tcpError !== null),
            detail: big ? `${big.rcode ?? 'no answer'}, TC ${big.truncated}, ${big.addresses.length} of ${BIG_COUNT} addresses over ${big.transport ?? '—'}${big.tcpError ? ` (TCP retry: ${big.tcpError})` : ''}` : 'not looked up',
          },
        ],
        figures: {
          dns: {
            resolutions: rs.map((r) => ({ ...r, addresses: r.addresses.map(ipToString) })),
            ignored: resolver!.result.ignored,
            server: server ? { queries: server.result.queries, tcpQueries: server.result.tcpQueries, answered: server.result.answered, truncated: server.result.truncated, dropped: server.result.dropped } : null,
          },
        },
        measured: {},
      };
    },
  };
}
