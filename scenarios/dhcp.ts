/**
 * Scenario `dhcp`: the board gets its address from the lab host's DHCP server — DISCOVER,
 * OFFER, REQUEST, ACK — and configures its interface through the path its profile has
 * (rtnetlink, or ioctl on the minimal profile). With a short lease and `renewals=N` the run
 * stays up past T1 and shows each renewal (a unicast REQUEST to the server) at its virtual time;
 * with `reboot=ADDR` the client first asks for an address it "remembers" (INIT-REBOOT), which
 * the server NAKs when it is not on the lab network, and starts over; with `outage=S` the lab's
 * DHCP server stops S seconds in, so the renewal at T1 goes unanswered, the client rebinds
 * (broadcast) at T2, and at the lease's end it gives the address up and starts over from
 * DISCOVER.
 */
import { defineScenario, refuse, type ScenarioRun } from '../api/define-scenario.js';
import { DhcpClient, type DhcpClientResult, type DhcpLease } from '../apps/dhcp-client.js';
import { DhcpServer } from '../apps/dhcp-server.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { ipToString, parseIp } from '../stack/uapi/addr.js';
import type { Process } from './process.js';
import type { ScenarioCheck } from './scenario.js';
import { LAB_ADDR, LAB_PREFIX } from './static-network.js';

export const DHCP_POOL_START = 0xc0000264; // 192.0.2.100
export const DHCP_POOL_END = 0xc00002c7; // 192.0.2.199
export const LAB_DOMAIN = 'lab.quarklab.test';
export const DUT_HOSTNAME = 'quark';

/** The lab host's side: its address and a DHCP server handing out the pool. */
export function startDhcpServer(t: ScenarioRun, leaseSeconds: number): { server: DhcpServer; process: Process } {
  t.lab.addAddress(LAB_ADDR, LAB_PREFIX);
  const server = new DhcpServer({
    ifindex: t.lab.ifindex,
    serverAddress: LAB_ADDR,
    prefixLen: LAB_PREFIX,
    poolStart: DHCP_POOL_START,
    poolEnd: DHCP_POOL_END,
    router: LAB_ADDR,
    dnsServers: [LAB_ADDR],
    domainName: LAB_DOMAIN,
    leaseSeconds,
  });
  const process = t.lab.spawn(server);
  return { server, process };
}

export function newDhcpClient(t: ScenarioRun, onLease: (lease: DhcpLease, how: 'bound' | 'renewed' | 'rebound') => void, rebootAddress?: number, onLeaseLost?: (lease: DhcpLease, why: 'expired' | 'nak') => void): DhcpClient {
  // The client asks the kernel for eth0's index and MAC, as udhcpc -i eth0 does.
  return new DhcpClient({
    ifname: t.board.ifname,
    hostname: DUT_HOSTNAME,
    seed: t.board.programSeed('udhcpc'),
    requestAddress: rebootAddress,
    onLease,
    onLeaseLost,
  });
}

/** A lease as the report shows it: addresses dotted. */
export function leaseFigure(l: DhcpLease | null): Record<string, unknown> | null {
  if (!l) return null;
  return { ...l, address: ipToString(l.address), routers: l.routers.map(ipToString), dnsServers: l.dnsServers.map(ipToString), serverId: ipToString(l.serverId) };
}

/** Checks every DHCP-using scenario makes on the client's lease. */
export function leaseChecks(t: ScenarioRun, r: DhcpClientResult, firstLease: DhcpLease | null): ScenarioCheck[] {
  const l = firstLease;
  // Which configuration path the profile leaves: rtnetlink when built in, else ioctl.
  const path = t.board.has('RTNETLINK') ? 'rtnetlink' : 'ioctl';
  const cfg = r.config.find((c) => c.steps.length > 0) ?? r.config[0] ?? null;
  return [
    {
      name: 'DHCP lease obtained',
      pass: l !== null && l.address >= DHCP_POOL_START && l.address <= DHCP_POOL_END && l.prefixLen === LAB_PREFIX && l.routers[0] === LAB_ADDR && l.dnsServers[0] === LAB_ADDR,
      detail: l ? `${ipToString(l.address)}/${l.prefixLen} router ${l.routers.map(ipToString).join(',')} dns ${l.dnsServers.map(ipToString).join(',')} lease ${l.leaseSeconds} s` : `no lease (state ${r.state}${r.error ? `, ${r.error}` : ''})`,
    },
    {
      name: `interface configured through ${path}`,
      pass: cfg !== null && cfg.path === path && cfg.error === null,
      detail: cfg ? `${cfg.path ?? 'no path'}: ${cfg.steps.join('; ')}${cfg.error ? ` — ${cfg.error}` : ''}` : 'never configured',
    },
  ];
}

interface DhcpRun {
  /** INIT-REBOOT's address, parsed from reboot=. */
  rebootAddress: number | null;
  client: DhcpClient | null;
  server: DhcpServer | null;
  firstLease: DhcpLease | null;
  renewedAt: number[];
  leaseStarts: number[];
  expiredAt: number | null;
}

/** The presets' defaults: `dhcp-renew` is `dhcp` with lease=60,renewals=1, and so on. */
interface DhcpDefaults {
  lease: number;
  renewals: number;
  outage: number | null;
  reboot: string | null;
}

const fmt = (t: number | null) => (t === null ? '—' : `${(t / NS_PER_SEC).toFixed(6)} s`);

function dhcpScenario(name: string, summary: string, d: DhcpDefaults) {
  return defineScenario({
    name,
    summary,
    description: (o) => `the board leases an address by DHCP (lease ${o.lease} s${o.renewals ? `, ${o.renewals} renewal${o.renewals > 1 ? 's' : ''}` : ''}${o.outage !== null ? `, server stopped at ${o.outage} s` : ''})`,
    options: {
      lease: { type: 'integer', default: d.lease, min: 10, max: 0xfffffffe, help: "the server's lease time, in seconds" },
      renewals: { type: 'integer', default: d.renewals, min: 0, max: 100, help: 'renewals to wait for before the scenario ends (0: end once bound)' },
      reboot: { type: 'string', default: d.reboot as string | null, pattern: /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/, help: 'start in INIT-REBOOT asking for this dotted-quad address' },
      outage: { type: 'number', default: d.outage as number | null, min: 0, max: 1e6, help: "stop the lab's DHCP server this many seconds in; the run ends when the lease expires" },
    },
    programs: { board: ['udhcpc'], lab: ['udhcpd'] },
    network: 'none',
    // Loss can push acquisition through several 64 s backoffs; renewals need the lease's T1s; an
    // outage ends when the lease runs out after it.
    // (Capped at 90 days: virtual time is exact to 2^53 ns, about 104 days.)
    timeLimitSeconds: (o) => Math.min(90 * 86400, 600 + Math.ceil(o.lease * 0.5) * o.renewals + (o.outage !== null ? o.outage + o.lease : 0)),
    state: (o): DhcpRun | ReturnType<typeof refuse> => {
      const rebootAddress = o.reboot === null ? null : parseIp(o.reboot);
      if (rebootAddress === null && o.reboot !== null) return refuse(`reboot=${o.reboot}: expected a dotted-quad address`);
      return { rebootAddress, client: null, server: null, firstLease: null, renewedAt: [], leaseStarts: [], expiredAt: null };
    },
    lab(t, o, s) {
      const lab = startDhcpServer(t, o.lease);
      s.server = lab.server;
      t.step(`scenario ${name}: DHCP from the lab host, lease ${o.lease} s`);
      const outage = o.outage;
      if (outage !== null) {
        t.after(outage * NS_PER_SEC, () => {
          t.step(`scenario ${name}: the lab's DHCP server stops`);
          lab.process.exit(0);
        });
      }
    },
    board(t, o, s) {
      s.client = newDhcpClient(
        t,
        (lease, how) => {
          s.leaseStarts.push(lease.startNs);
          if (how === 'bound' && s.firstLease === null) s.firstLease = lease;
          if (how === 'renewed') s.renewedAt.push(t.now());
          if (o.outage === null && s.renewedAt.length >= o.renewals) t.finish();
        },
        s.rebootAddress ?? undefined,
        (_lease, why) => {
          if (why !== 'expired' || s.expiredAt !== null) return;
          s.expiredAt = t.now();
          if (o.outage !== null) t.finish();
        },
      );
      t.board.spawn(s.client);
    },
    checks(t, o, s) {
      const r = s.client!.result;
      const l = s.firstLease;
      const checks = leaseChecks(t, r, l);
      if (o.renewals > 0) {
        // Each renewal's REQUEST goes out exactly T1 after the lease it renews began.
        const renewRequests = r.events.filter((e) => /^sent DHCPREQUEST for .* to /.test(e.event) && !e.event.includes('255.255.255.255'));
        const expected = l ? l.startNs + l.t1Seconds * NS_PER_SEC : null;
        const first = renewRequests[0]?.timeNs ?? null;
        checks.push({
          name: `lease renewed ${o.renewals} time${o.renewals > 1 ? 's' : ''} at T1`,
          pass: r.renewals >= o.renewals && s.renewedAt.length >= o.renewals && first !== null && first === expected,
          detail: `${s.renewedAt.length} renewal ACKs; first renewal REQUEST at ${first === null ? '—' : (first / NS_PER_SEC).toFixed(6)} s, lease start + T1 = ${expected === null ? '—' : (expected / NS_PER_SEC).toFixed(6)} s`,
        });
      }
      if (o.outage !== null) {
        // Unanswered: the unicast renewal at T1, the broadcast rebind at T2; at the lease's end
        // the address goes and the client starts over with DISCOVER.
        const at = (sec: number) => (l ? l.startNs + sec * NS_PER_SEC : null);
        const sentAt = (re: RegExp) => r.events.find((e) => re.test(e.event))?.timeNs ?? null;
        const renewT = sentAt(/^sent DHCPREQUEST for \S+ to 192\.0\.2\.1 /);
        const rebind = r.events.filter((e) => /^sent DHCPREQUEST for \S+ to 255\.255\.255\.255/.test(e.event) && e.timeNs > (l?.startNs ?? 0) + NS_PER_SEC)[0]?.timeNs ?? null;
        const expiredAt = s.expiredAt;
        const discoverAfter = r.events.find((e) => e.event.startsWith('sent DHCPDISCOVER') && expiredAt !== null && e.timeNs >= expiredAt)?.timeNs ?? null;
        const addresses = t.board.observe().addresses;
        checks.push(
          { name: 'renewal REQUEST at T1, unicast to the server', pass: l !== null && renewT === at(l.t1Seconds), detail: `sent ${fmt(renewT)}, T1 ${fmt(l ? at(l.t1Seconds) : null)}` },
          { name: 'rebinding REQUEST at T2, broadcast', pass: l !== null && rebind === at(l.t2Seconds) && r.rebinds >= 1, detail: `sent ${fmt(rebind)}, T2 ${fmt(l ? at(l.t2Seconds) : null)}` },
          {
            name: 'at expiry the address is removed and the client starts over with DISCOVER',
            pass: l !== null && expiredAt === at(l.leaseSeconds) && discoverAfter === expiredAt && !addresses.includes(l.address),
            detail: `expired ${fmt(expiredAt)} (lease end ${fmt(l ? at(l.leaseSeconds) : null)}), DISCOVER ${fmt(discoverAfter)}, addresses now ${addresses.map(ipToString).join(' ') || 'none'}`,
          },
        );
      }
      if (s.rebootAddress !== null) {
        checks.push({ name: 'INIT-REBOOT for a foreign address is NAKed and the client starts over', pass: r.naks >= 1 && l !== null, detail: `${r.naks} NAKs, then ${l ? 'a lease' : 'no lease'}` });
      }
      return checks;
    },
    figures(t, _o, s) {
      const r = s.client!.result;
      const server = s.server;
      return {
        dhcp: {
          lease: leaseFigure(s.firstLease),
          leaseStartsNs: s.leaseStarts,
          renewedAtNs: s.renewedAt,
          expiredAtNs: s.expiredAt,
          // The kernel's counts of configuration requests by path (rtnetlink messages, ioctls).
          configStats: t.board.observe().configRequests,
          client: { ...r, lease: leaseFigure(r.lease), events: r.events.map((e) => `${(e.timeNs / NS_PER_SEC).toFixed(6)} ${e.event}`) },
          server: server ? { received: server.result.received, sent: server.result.sent, dropped: server.result.dropped, leases: server.result.leases.map((x) => ({ ...x, address: ipToString(x.address) })) } : null,
        },
      };
    },
  });
}

export const dhcpScenarios = [
  dhcpScenario('dhcp', 'the board leases an address from the lab host by DHCP', { lease: 3600, renewals: 0, outage: null, reboot: null }),
  dhcpScenario('dhcp-renew', 'DHCP with a 60 s lease, running past T1 to renew it once', { lease: 60, renewals: 1, outage: null, reboot: null }),
  dhcpScenario('dhcp-nak', 'DHCP starting in INIT-REBOOT for a foreign address: NAK, then a fresh lease', { lease: 3600, renewals: 0, outage: null, reboot: '10.9.8.7' }),
  dhcpScenario('dhcp-expire', 'DHCP with a 60 s lease and the server gone at 10 s: renew at T1, rebind at T2, expire, start over', { lease: 60, renewals: 0, outage: 10, reboot: null }),
];
