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
import { DhcpClient, type DhcpClientResult, type DhcpLease } from '../apps/dhcp-client.js';
import { DhcpServer } from '../apps/dhcp-server.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { ipToString, parseIp } from '../stack/core/addr.js';
import { inetAddAddress } from '../stack/ipv4/devinet.js';
import type { BootedBoard } from './boot.js';
import type { Process } from './process.js';
import type { Scenario, ScenarioCheck, ScenarioContext, ScenarioResult } from './scenario.js';
import { LAB_ADDR, LAB_PREFIX } from './static-network.js';

export const DHCP_POOL_START = 0xc0000264; // 192.0.2.100
export const DHCP_POOL_END = 0xc00002c7; // 192.0.2.199
export const LAB_DOMAIN = 'lab.quarklab.test';
export const DUT_HOSTNAME = 'quark';

export interface DhcpScenarioOptions {
  leaseSeconds: number;
  /** Renewals to wait for before the scenario ends (0: end once bound). */
  renewals: number;
  /** Start in INIT-REBOOT asking for this address. */
  rebootAddress?: number;
  /** Stop the lab's DHCP server this many seconds in; the scenario ends when the lease expires. */
  outageSeconds?: number;
}

export const DHCP_DEFAULTS: DhcpScenarioOptions = { leaseSeconds: 3600, renewals: 0 };

/** Parse `lease=`, `renewals=`, `reboot=` scenario options. */
export function dhcpOptions(o: Record<string, string>, base: DhcpScenarioOptions = DHCP_DEFAULTS): DhcpScenarioOptions | { error: string } {
  const out: DhcpScenarioOptions = { ...base };
  for (const [k, v] of Object.entries(o)) {
    if (k === 'lease') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 10 || n > 0xfffffffe) return { error: `lease=${v}: expected whole seconds from 10 to 4294967294` };
      out.leaseSeconds = n;
    } else if (k === 'renewals') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 100) return { error: `renewals=${v}: expected 0 to 100` };
      out.renewals = n;
    } else if (k === 'outage') {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || n > 1e6) return { error: `outage=${v}: expected seconds` };
      out.outageSeconds = n;
    } else if (k === 'reboot') {
      const a = parseIp(v);
      if (a === null) return { error: `reboot=${v}: expected a dotted-quad address` };
      out.rebootAddress = a;
    } else {
      return { error: `unknown option "${k}" (lease, renewals, reboot, outage)` };
    }
  }
  return out;
}

/** The lab host's side: its address and a DHCP server handing out the pool. */
export function startDhcpServer(ctx: ScenarioContext, leaseSeconds: number): { server: DhcpServer; process: Process } {
  inetAddAddress(ctx.lab.stack, ctx.lab.dev.ifindex, LAB_ADDR, LAB_PREFIX);
  const server = new DhcpServer({
    ifindex: ctx.lab.dev.ifindex,
    serverAddress: LAB_ADDR,
    prefixLen: LAB_PREFIX,
    poolStart: DHCP_POOL_START,
    poolEnd: DHCP_POOL_END,
    router: LAB_ADDR,
    dnsServers: [LAB_ADDR],
    domainName: LAB_DOMAIN,
    leaseSeconds,
  });
  const process = ctx.spawn(ctx.lab, server);
  return { server, process };
}

/** A seed for a board program from the world's seeded generator (never host randomness). */
export function programSeed(board: BootedBoard, program: string): number {
  return board.board.rng.split(`program:${program}`).nextU32();
}

export function newDhcpClient(ctx: ScenarioContext, onLease: (lease: DhcpLease, how: 'bound' | 'renewed' | 'rebound') => void, rebootAddress?: number, onLeaseLost?: (lease: DhcpLease, why: 'expired' | 'nak') => void): DhcpClient {
  // The client asks the kernel for eth0's index and MAC, as udhcpc -i eth0 does.
  return new DhcpClient({
    ifname: ctx.dut.dev.name,
    hostname: DUT_HOSTNAME,
    seed: programSeed(ctx.dut, 'udhcpc'),
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

/** Which configuration path the profile leaves: rtnetlink when built in, else ioctl. */
export function expectedConfigPath(board: BootedBoard): 'rtnetlink' | 'ioctl' {
  return board.stack.has('RTNETLINK') ? 'rtnetlink' : 'ioctl';
}

/** Checks every DHCP-using scenario makes on the client's lease. */
export function leaseChecks(ctx: ScenarioContext, r: DhcpClientResult, firstLease: DhcpLease | null): ScenarioCheck[] {
  const l = firstLease;
  const path = expectedConfigPath(ctx.dut);
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

export function dhcpScenario(opts: DhcpScenarioOptions = DHCP_DEFAULTS, name = 'dhcp'): Scenario {
  let client: DhcpClient | null = null;
  let server: DhcpServer | null = null;
  let firstLease: DhcpLease | null = null;
  const renewedAt: number[] = [];
  const leaseStarts: number[] = [];
  let expiredAt: number | null = null;
  const outage = opts.outageSeconds;
  return {
    name,
    description: `the board leases an address by DHCP (lease ${opts.leaseSeconds} s${opts.renewals ? `, ${opts.renewals} renewal${opts.renewals > 1 ? 's' : ''}` : ''}${outage !== undefined ? `, server stopped at ${outage} s` : ''})`,
    dutPrograms: ['udhcpc'],
    labPrograms: ['udhcpd'],
    // Loss can push acquisition through several 64 s backoffs; renewals need the lease's T1s; an
    // outage ends when the lease runs out after it.
    // (Capped at 90 days: virtual time is exact to 2^53 ns, about 104 days.)
    timeLimitNs: Math.min(90 * 86400, 600 + Math.ceil(opts.leaseSeconds * 0.5) * opts.renewals + (outage !== undefined ? outage + opts.leaseSeconds : 0)) * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      const lab = startDhcpServer(ctx, opts.leaseSeconds);
      server = lab.server;
      ctx.step(`scenario ${name}: DHCP from the lab host, lease ${opts.leaseSeconds} s`);
      if (outage !== undefined) {
        ctx.world.sim.after(outage * NS_PER_SEC, () => {
          ctx.step(`scenario ${name}: the lab's DHCP server stops`);
          lab.process.exit(0);
        });
      }
      client = newDhcpClient(
        ctx,
        (lease, how) => {
          leaseStarts.push(lease.startNs);
          if (how === 'bound' && firstLease === null) firstLease = lease;
          if (how === 'renewed') renewedAt.push(ctx.world.sim.now);
          if (outage === undefined && renewedAt.length >= opts.renewals) ctx.finish();
        },
        opts.rebootAddress,
        (_lease, why) => {
          if (why !== 'expired' || expiredAt !== null) return;
          expiredAt = ctx.world.sim.now;
          if (outage !== undefined) ctx.finish();
        },
      );
      ctx.spawn(ctx.dut, client);
    },
    result(ctx: ScenarioContext): ScenarioResult {
      const r = client!.result;
      const checks = leaseChecks(ctx, r, firstLease);
      if (opts.renewals > 0) {
        // Each renewal's REQUEST goes out exactly T1 after the lease it renews began.
        const renewRequests = r.events.filter((e) => /^sent DHCPREQUEST for .* to /.test(e.event) && !e.event.includes('255.255.255.255'));
        const l = firstLease as DhcpLease | null;
        const expected = l ? l.startNs + l.t1Seconds * NS_PER_SEC : null;
        const first = renewRequests[0]?.timeNs ?? null;
        checks.push({
          name: `lease renewed ${opts.renewals} time${opts.renewals > 1 ? 's' : ''} at T1`,
          pass: r.renewals >= opts.renewals && renewedAt.length >= opts.renewals && first !== null && first === expected,
          detail: `${renewedAt.length} renewal ACKs; first renewal REQUEST at ${first === null ? '—' : (first / NS_PER_SEC).toFixed(6)} s, lease start + T1 = ${expected === null ? '—' : (expected / NS_PER_SEC).toFixed(6)} s`,
        });
      }
      if (outage !== undefined) {
        // Unanswered: the unicast renewal at T1, the broadcast rebind at T2; at the lease's end
        // the address goes and the client starts over with DISCOVER.
        const l = firstLease as DhcpLease | null;
        const at = (s: number) => (l ? l.startNs + s * NS_PER_SEC : null);
        const sentAt = (re: RegExp) => r.events.find((e) => re.test(e.event))?.timeNs ?? null;
        const renewT = sentAt(/^sent DHCPREQUEST for \S+ to 192\.0\.2\.1 /);
        const rebind = r.events.filter((e) => /^sent DHCPREQUEST for \S+ to 255\.255\.255\.255/.test(e.event) && e.timeNs > (l?.startNs ?? 0) + NS_PER_SEC)[0]?.timeNs ?? null;
        const discoverAfter = r.events.find((e) => e.event.startsWith('sent DHCPDISCOVER') && expiredAt !== null && e.timeNs >= expiredAt)?.timeNs ?? null;
        const fmt = (t: number | null) => (t === null ? '—' : `${(t / NS_PER_SEC).toFixed(6)} s`);
        checks.push(
          { name: 'renewal REQUEST at T1, unicast to the server', pass: l !== null && renewT === at(l.t1Seconds), detail: `sent ${fmt(renewT)}, T1 ${fmt(l ? at(l.t1Seconds) : null)}` },
          { name: 'rebinding REQUEST at T2, broadcast', pass: l !== null && rebind === at(l.t2Seconds) && r.rebinds >= 1, detail: `sent ${fmt(rebind)}, T2 ${fmt(l ? at(l.t2Seconds) : null)}` },
          {
            name: 'at expiry the address is removed and the client starts over with DISCOVER',
            pass: l !== null && expiredAt === at(l.leaseSeconds) && discoverAfter === expiredAt && !ctx.dut.stack.addresses.some((a) => a.addr === l.address),
            detail: `expired ${fmt(expiredAt)} (lease end ${fmt(l ? at(l.leaseSeconds) : null)}), DISCOVER ${fmt(discoverAfter)}, addresses now ${ctx.dut.stack.addresses.map((a) => ipToString(a.addr)).join(' ') || 'none'}`,
          },
        );
      }
      if (opts.rebootAddress !== undefined) {
        checks.push({ name: 'INIT-REBOOT for a foreign address is NAKed and the client starts over', pass: r.naks >= 1 && firstLease !== null, detail: `${r.naks} NAKs, then ${firstLease ? 'a lease' : 'no lease'}` });
      }
      return {
        checks,
        figures: {
          dhcp: {
            lease: leaseFigure(firstLease),
            leaseStartsNs: leaseStarts,
            renewedAtNs: renewedAt,
            expiredAtNs: expiredAt,
            // The kernel's counts of configuration requests by path (rtnetlink messages, ioctls).
            configStats: { ...ctx.dut.stack.configStats },
            client: { ...r, lease: leaseFigure(r.lease), events: r.events.map((e) => `${(e.timeNs / NS_PER_SEC).toFixed(6)} ${e.event}`) },
            server: server ? { received: server.result.received, sent: server.result.sent, dropped: server.result.dropped, leases: server.result.leases.map((x) => ({ ...x, address: ipToString(x.address) })) } : null,
          },
        },
        measured: {},
      };
    },
  };
}
