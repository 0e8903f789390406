/**
 * Scenario `smoke`: what a freshly booted board does on a real network, end to end. It leases
 * an address by DHCP (configuring its interface through rtnetlink or ioctl, whichever the
 * profile has), pings the gateway the lease names, and resolves the lab host's name through
 * the DNS server the lease names. Every step uses what the previous one configured.
 */
import type { DhcpClient, DhcpLease } from '../apps/dhcp-client.js';
import type { DhcpServer } from '../apps/dhcp-server.js';
import type { Resolver } from '../apps/dns-resolver.js';
import type { DnsServer } from '../apps/dns-server.js';
import { Ping, PING_DEFAULTS } from '../apps/ping.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { ipToString } from '../stack/core/addr.js';
import { leaseChecks, leaseFigure, newDhcpClient, startDhcpServer } from './dhcp.js';
import { LAB_NAME, newResolver, resolvedCheck, startDnsServer } from './dns.js';
import { rttStats } from './ping.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';

export const SMOKE_PING_COUNT = 3;

export function smokeScenario(leaseSeconds = 3600): Scenario {
  let client: DhcpClient | null = null;
  let dhcpd: DhcpServer | null = null;
  let dnsd: DnsServer | null = null;
  let ping: Ping | null = null;
  let resolver: Resolver | null = null;
  let lease: DhcpLease | null = null;
  return {
    name: 'smoke',
    description: 'DHCP, then ping the gateway, then resolve the lab host by name',
    dutPrograms: ['udhcpc', 'ping', 'resolver'],
    labPrograms: ['udhcpd', 'dnsd'],
    timeLimitNs: 600 * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      dhcpd = startDhcpServer(ctx, leaseSeconds).server;
      dnsd = startDnsServer(ctx);
      ctx.step('scenario smoke: DHCP');
      client = newDhcpClient(ctx, (l, how) => {
        if (how !== 'bound' || lease !== null) return;
        lease = l;
        const gw = l.routers[0];
        if (gw === undefined) return ctx.finish();
        ctx.step(`scenario smoke: ping the gateway ${ipToString(gw)}`);
        ping = new Ping({ ...PING_DEFAULTS, count: SMOKE_PING_COUNT, target: gw });
        ctx.spawn(ctx.dut, ping, () => {
          ctx.step(`scenario smoke: resolve ${LAB_NAME}`);
          resolver = newResolver(ctx, [LAB_NAME], l.dnsServers);
          ctx.spawn(ctx.dut, resolver, () => ctx.finish());
        });
      });
      ctx.spawn(ctx.dut, client);
    },
    result(ctx: ScenarioContext): ScenarioResult {
      const p = ping as Ping | null;
      const pr = p?.result ?? null;
      const rs = (resolver as Resolver | null)?.result.resolutions ?? [];
      const rtt = pr ? rttStats(pr.rttNs) : null;
      // On a lossy wire (loss=…) an echo or its reply may be lost: one answer shows the gateway
      // is reachable. On a clean wire every request must be answered.
      const lossy = ctx.world.wires.some((w) => w.impairments.loss > 0 || w.impairments.corrupt > 0);
      const needed = lossy ? 1 : SMOKE_PING_COUNT;
      return {
        checks: [
          ...leaseChecks(ctx, client!.result, lease),
          {
            name: 'the gateway from the lease answers ping',
            pass: pr !== null && pr.received >= needed,
            detail: pr ? `${pr.transmitted} transmitted, ${pr.received} received via ${pr.socketKind} socket${pr.error ? ` (${pr.error})` : ''}` : 'not run (no lease)',
          },
          resolvedCheck(rs[0], LAB_NAME),
        ],
        figures: {
          smoke: {
            lease: leaseFigure(lease),
            configStats: { ...ctx.dut.stack.configStats },
            dhcp: { sent: client!.result.sent, received: client!.result.received, retransmissions: client!.result.retransmissions, config: client!.result.config },
            dhcpd: dhcpd ? { received: dhcpd.result.received, sent: dhcpd.result.sent } : null,
            ping: pr ? { ...pr, rttNs: undefined, rtt } : null,
            dns: rs.map((r) => ({ ...r, addresses: r.addresses.map(ipToString) })),
            dnsd: dnsd ? { queries: dnsd.result.queries, answered: dnsd.result.answered } : null,
          },
        },
        measured: { 'rtt.p99': rtt ? rtt.p99 : null },
      };
    },
  };
}
