/**
 * Scenario `smoke`: what a freshly booted board does on a real network, end to end. It leases
 * an address by DHCP (configuring its interface through rtnetlink or ioctl, whichever the
 * profile has), pings the gateway the lease names, and resolves the lab host's name through
 * the DNS server the lease names. Every step uses what the previous one configured.
 */
import { defineScenario } from '../api/define-scenario.js';
import type { DhcpClient, DhcpLease } from '../apps/dhcp-client.js';
import type { DhcpServer } from '../apps/dhcp-server.js';
import type { Resolver } from '../apps/dns-resolver.js';
import type { DnsServer } from '../apps/dns-server.js';
import { Ping, PING_DEFAULTS } from '../apps/ping.js';
import { ipToString } from '../stack/uapi/addr.js';
import { leaseChecks, leaseFigure, newDhcpClient, startDhcpServer } from './dhcp.js';
import { LAB_NAME, newResolver, resolvedCheck, startDnsServer } from './dns.js';
import { rttStats } from './ping.js';

export const SMOKE_PING_COUNT = 3;
const LEASE_SECONDS = 3600;

export const smokeScenario = defineScenario({
  name: 'smoke',
  description: 'DHCP, then ping the gateway, then resolve the lab host by name',
  programs: { board: ['udhcpc', 'ping', 'resolver'], lab: ['udhcpd', 'dnsd'] },
  produces: ['rtt.p99'],
  network: 'none',
  timeLimitSeconds: 600,
  state: () => ({ client: null as DhcpClient | null, dhcpd: null as DhcpServer | null, dnsd: null as DnsServer | null, ping: null as Ping | null, resolver: null as Resolver | null, lease: null as DhcpLease | null }),
  lab(t, _o, s) {
    s.dhcpd = startDhcpServer(t, LEASE_SECONDS).server;
    s.dnsd = startDnsServer(t);
  },
  board(t, _o, s) {
    t.step('scenario smoke: DHCP');
    s.client = newDhcpClient(t, (l, how) => {
      if (how !== 'bound' || s.lease !== null) return;
      s.lease = l;
      const gw = l.routers[0];
      if (gw === undefined) return t.finish();
      t.step(`scenario smoke: ping the gateway ${ipToString(gw)}`);
      s.ping = new Ping({ ...PING_DEFAULTS, count: SMOKE_PING_COUNT, target: gw });
      t.board.spawn(s.ping, () => {
        t.step(`scenario smoke: resolve ${LAB_NAME}`);
        s.resolver = newResolver(t, [LAB_NAME], l.dnsServers);
        t.board.spawn(s.resolver, () => t.finish());
      });
    });
    t.board.spawn(s.client);
  },
  checks(t, _o, s) {
    const pr = s.ping?.result ?? null;
    const rs = s.resolver?.result.resolutions ?? [];
    // On a lossy wire (loss=…) an echo or its reply may be lost: one answer shows the gateway
    // is reachable. On a clean wire every request must be answered.
    const lossy = t.impairments.loss > 0 || t.impairments.corrupt > 0;
    const needed = lossy ? 1 : SMOKE_PING_COUNT;
    return [
      ...leaseChecks(t, s.client!.result, s.lease),
      {
        name: 'the gateway from the lease answers ping',
        pass: pr !== null && pr.received >= needed,
        detail: pr ? `${pr.transmitted} transmitted, ${pr.received} received via ${pr.socketKind} socket${pr.error ? ` (${pr.error})` : ''}` : 'not run (no lease)',
      },
      resolvedCheck(rs[0], LAB_NAME),
    ];
  },
  figures(t, _o, s) {
    const pr = s.ping?.result ?? null;
    const rs = s.resolver?.result.resolutions ?? [];
    const c = s.client!.result;
    return {
      smoke: {
        lease: leaseFigure(s.lease),
        configStats: t.board.observe().configRequests,
        dhcp: { sent: c.sent, received: c.received, retransmissions: c.retransmissions, config: c.config },
        dhcpd: s.dhcpd ? { received: s.dhcpd.result.received, sent: s.dhcpd.result.sent } : null,
        ping: pr ? { ...pr, rttNs: undefined, rtt: rttStats(pr.rttNs) } : null,
        dns: rs.map((r) => ({ ...r, addresses: r.addresses.map(ipToString) })),
        dnsd: s.dnsd ? { queries: s.dnsd.result.queries, answered: s.dnsd.result.answered } : null,
      },
    };
  },
  measured: (_t, _o, s) => ({ 'rtt.p99': s.ping ? rttStats(s.ping.result.rttNs)?.p99 ?? null : null }),
});
