// The smoke scenario, the default: DHCP, then ping the gateway named in the lease, then
// resolve the lab host through the DNS server named in the lease — on the minimal profile
// (ioctl configuration, ping socket) and the full one (rtnetlink, raw socket).
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../scenarios/registry.js';
import { removeTempDirs, runToDir } from './helpers/run.js';
import { EXPERT_FIELDS, expertProblem, tsharkFields } from './helpers/tshark.js';

afterAll(removeTempDirs);

/** Run a scenario the first time a test needs it (so a filtered run does only what it uses). */
function once<T>(make: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= make());
}

describe('smoke scenario', () => {
  it('is the default scenario', () => {
    expect(DEFAULT_SCENARIO).toBe('smoke');
  });

  for (const profile of ['minimal', 'full'] as const) {
    describe(`profile ${profile}`, () => {
      // full does not fit quark-2m's RAM; it runs on quark-4m.
      const get = once(() => runToDir({ board: profile === 'full' ? 'quark-4m' : 'quark-2m', profile, seed: 1 }));
      // One unfiltered tshark pass for both wire tests (each start costs ~0.5 s), checksums
      // checked; the display filters and `tshark -z expert` are read from its fields below.
      const scan = once(() => tsharkFields(get().capturePath!, ['frame.number', 'frame.protocols', 'ip.dst', 'dns.flags.response', 'dns.qry.name', 'dns.a', ...EXPERT_FIELDS], undefined, ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE']));

      it('leases, pings the gateway, resolves the lab host, and leaks nothing', () => {
        const run = get();
        expect(run.report.inputs.scenario).toBe('smoke');
        expect(run.report.checks.filter((c) => !c.pass)).toEqual([]);
        const path = profile === 'minimal' ? 'ioctl' : 'rtnetlink';
        expect(run.report.checks.map((c) => c.name)).toContain(`interface configured through ${path}`);
        // The kernel's own counts: udhcpc asks SIOCGIFINDEX and SIOCGIFHWADDR on both; the
        // address, mask and route go as three ioctls on minimal (no netlink at all) and as
        // RTM_NEWADDR + RTM_NEWROUTE on full.
        const stats = (run.report.scenario.figures['smoke'] as { configStats: { rtnetlink: number; ioctl: number } }).configStats;
        expect(stats).toEqual(profile === 'minimal' ? { rtnetlink: 0, ioctl: 5 } : { rtnetlink: 2, ioctl: 2 });
      });

      it('puts the steps on the wire in order: DHCP, ICMP echo to the gateway, DNS', () => {
        // 'dhcp || icmp || dns': a protocol is in the frame when frame.protocols names it.
        const rows = scan().filter((r) => r[1]!.split(':').some((p) => p === 'dhcp' || p === 'icmp' || p === 'dns'));
        const kinds = rows.map((r) => (r[1]!.includes(':dhcp') ? 'dhcp' : r[1]!.includes(':dns') ? 'dns' : 'icmp'));
        const firstIcmp = kinds.indexOf('icmp');
        const firstDns = kinds.indexOf('dns');
        expect(kinds.slice(0, 4)).toEqual(['dhcp', 'dhcp', 'dhcp', 'dhcp']);
        expect(firstIcmp).toBeGreaterThan(3);
        expect(firstDns).toBeGreaterThan(firstIcmp);
        expect(rows[firstIcmp]![2]).toBe('192.0.2.1');
        // 'dns.flags.response == 1' (a subset of those frames) on the same rows.
        const dns = rows.filter((r) => r[3]!.split(',').includes('1')).map((r) => [r[4]!, r[5]!]);
        expect(dns).toEqual([['lab.quarklab.test', '192.0.2.1']]);
      });

      it('has no malformed packets and no error-level expert info', () => {
        const bad = scan().filter((r) => expertProblem(r, 6));
        expect(bad).toEqual([]);
      });
    });
  }
});
