import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  kernelCore,
  linkComparison,
  loadCostTable,
  parseCostTable,
  profileCost,
  structSize,
  symbolCost,
  type CostTable,
} from '../stack/kconfig/cost-table.js';
import { checkEnabledSymbols, formatProfile, isKconfigError, parseKconfig, type Profile } from '../stack/kconfig/kconfig.js';
import { builtinProfiles, loadProfile } from '../stack/kconfig/profiles.js';
import { SYMBOLS, driverObjects, driverSupportObjects, findSymbol, notModelled } from '../stack/kconfig/symbols.js';

const dir = mkdtempSync(join(tmpdir(), 'quarklab-kconfig-'));
let fileNo = 0;
/** Write a user fragment to a temp file and load it the way the CLI would. */
function fragment(text: string): { path: string; result: Profile | { error: string } } {
  const path = join(dir, `frag${fileNo++}.config`);
  writeFileSync(path, text);
  return { path, result: loadProfile(path) };
}

function ok<T extends object>(x: T | { error: string }): T {
  if (isKconfigError(x)) throw new Error(`unexpected error: ${x.error}`);
  return x as T;
}

function errorOf(x: unknown): string {
  if (!isKconfigError(x)) throw new Error(`expected an error, got ${JSON.stringify(x)}`);
  expect(x.error).not.toContain('\n');
  return x.error;
}

const full = ok(loadProfile('full'));
const client = ok(loadProfile('client'));
const minimal = ok(loadProfile('minimal'));
const table = ok(loadCostTable());

/** Features, with a choice counted as one feature and BASE_SMALL (a shrink switch) left out. */
function features(p: Profile): Set<string> {
  return new Set(p.enabled.filter((s) => s !== 'BASE_SMALL').map((s) => findSymbol(s)!.choice ?? s));
}
const minus = (a: Iterable<string>, b: Profile | Set<string>): string[] => {
  const bs = b instanceof Set ? b : new Set(b.enabled);
  return [...a].filter((x) => !bs.has(x)).sort();
};

describe('built-in profiles', () => {
  it('load by name, with every modelled symbol present as a key', () => {
    expect(builtinProfiles().map((p) => p.name)).toEqual(['full', 'client', 'minimal']);
    for (const p of [full, client, minimal]) {
      expect(Object.keys(p.symbols)).toEqual(SYMBOLS.map((s) => s.name).sort());
      expect(p.enabled).toEqual([...p.enabled].sort());
    }
  });

  it('nest: full ⊃ client ⊃ minimal in features', () => {
    const [f, c, m] = [features(full), features(client), features(minimal)];
    expect(minus(c, f)).toEqual([]);
    expect(minus(m, c)).toEqual([]);
    expect(f.size).toBeGreaterThan(c.size);
    expect(c.size).toBeGreaterThan(m.size);
    // The two non-feature differences: the smaller routing table and the smaller hash tables.
    expect(minus(client.enabled, full)).toEqual(['BASE_SMALL', 'FIB_LIST']);
    expect(minus(minimal.enabled, client)).toEqual([]);
  });

  it('client removes exactly what the seed lists, and keeps what it keeps', () => {
    // The seed's removals, plus quarklab's choice of default qdisc: full selects fq_codel
    // (NET_SCH_DEFAULT, DEFAULT_FQ_CODEL) where client keeps Kconfig's pfifo_fast.
    expect(minus(full.enabled, client)).toEqual(
      ['DEFAULT_FQ_CODEL', 'FIB_TRIE', 'IP_OFFLOAD', 'NET_SCH_DEFAULT', 'PACKET_MMAP', 'PROC_FS', 'TCP_FASTOPEN', 'TCP_METRICS'],
    );
    for (const kept of ['RTNETLINK', 'NET_ETHTOOL', 'INET_RAW', 'PACKET']) expect(client.symbols[kept]).toBe(true);
    expect(full.symbols['BASE_SMALL']).toBe(false);
    expect(client.symbols['BASE_SMALL']).toBe(true);
  });

  it("minimal removes the seed's three, what depends on them, and the stated judgement calls", () => {
    const removed = minus(client.enabled, minimal);
    const seed = ['INET_RAW', 'NET_ETHTOOL', 'RTNETLINK'];
    // Everything in client that (transitively) depends on a seed removal must go with it.
    const dependants = new Set<string>();
    for (let grew = true; grew; ) {
      grew = false;
      for (const s of SYMBOLS) {
        if (!client.symbols[s.name] || dependants.has(s.name) || seed.includes(s.name)) continue;
        if (s.depends.some((d) => seed.includes(d) || dependants.has(d))) {
          dependants.add(s.name);
          grew = true;
        }
      }
    }
    expect([...dependants].sort()).toEqual(['ETHTOOL_NETLINK', 'NET_SCHED', 'NET_SCH_FQ_CODEL']);
    const judgement = ['INET_DIAG', 'LPF_FILTER', 'NETLINK', 'PACKET']; // explained in minimal.config
    expect(removed).toEqual([...seed, ...dependants, ...judgement].sort());
    const header = readFileSync(minimal.source, 'utf8');
    for (const s of judgement) expect(header).toContain(`(${s})`);
  });

  it('print back to a fragment that parses to the same profile', () => {
    for (const p of [full, client, minimal]) {
      const again = ok(parseKconfig(formatProfile(p), `${p.name}.config`));
      expect(again.symbols).toEqual(p.symbols);
    }
  });
});

describe('user fragments', () => {
  it('base + changes: starts from client, flips symbols, switches the FIB choice', () => {
    const { result } = fragment(
      '# my board: client plus fastopen, no raw sockets, trie routing\n' +
        '# base: client\n' +
        'CONFIG_TCP_FASTOPEN=y\n' +
        '# CONFIG_INET_RAW is not set\n' +
        'CONFIG_FIB_TRIE=y\n',
    );
    const p = ok(result);
    expect(p.base).toBe('client');
    const expected = new Set(client.enabled);
    expected.add('TCP_FASTOPEN');
    expected.delete('INET_RAW');
    expected.add('FIB_TRIE');
    expected.delete('FIB_LIST');
    expect(p.enabled).toEqual([...expected].sort());
  });

  it('an unknown symbol names the nearest known one and the line', () => {
    const { path, result } = fragment('# base: client\nCONFIG_NET=y\nCONFIG_TCP_FASTOPN=y\n');
    expect(errorOf(result)).toBe(`${path}: unknown symbol CONFIG_TCP_FASTOPN at line 3; did you mean CONFIG_TCP_FASTOPEN?`);
  });

  it('a dependency violation names both symbols and the line', () => {
    const a = errorOf(fragment('# base: full\n# CONFIG_PACKET is not set\n').result);
    expect(a).toMatch(/CONFIG_PACKET_MMAP .*needs CONFIG_PACKET, turned off at line 2/);
    const b = errorOf(fragment('CONFIG_NET=y\nCONFIG_INET=y\nCONFIG_FIB_LIST=y\nCONFIG_PACKET_MMAP=y\n').result);
    expect(b).toMatch(/CONFIG_PACKET_MMAP=y at line 4 needs CONFIG_PACKET, which is not set/);
    const c = errorOf(fragment('# base: minimal\nCONFIG_RTNETLINK=y\n').result);
    expect(c).toMatch(/CONFIG_RTNETLINK=y at line 2 needs CONFIG_NETLINK, which base minimal leaves off/);
  });

  it('refuses modules', () => {
    const e = errorOf(fragment('# base: client\nCONFIG_PACKET=m\n').result);
    expect(e).toMatch(/CONFIG_PACKET=m at line 2: modules are not supported on this board/);
  });

  it('gives one-line errors for the other mistakes', () => {
    const cases: [string, RegExp][] = [
      ['# base: clinet\n', /unknown profile 'clinet'; did you mean client\?.* at line 1/],
      ['CONFIG_NET=y\n# base: client\n', /'# base:' must come before any CONFIG_ line \(line 2\)/],
      ['# base: client\nCONFIG_PACKET=y\nCONFIG_PACKET=n\n', /CONFIG_PACKET set twice, at lines 2 and 3/],
      ['# base: client\nCONFIG_PACKET=16\n', /CONFIG_PACKET=16 at line 2: .*bool/],
      ['# base: client\nPACKET=y\n', /cannot parse line 2/],
      ['# base: client\nCONFIG_IPV6=y\n', /CONFIG_IPV6=y at line 2 is not modelled by quarklab: IPv6/],
      ['# base: client\nCONFIG_FIB_TRIE=y\nCONFIG_FIB_LIST=y\n', /CONFIG_FIB_TRIE \(line 2\) and CONFIG_FIB_LIST \(line 3\) are both y/],
      ['# base: client\n# CONFIG_FIB_LIST is not set\n', /choice FIB needs exactly one .* found 0 \(at line 2\)/],
      ['CONFIG_NET=y\nCONFIG_INET=y\n', /choice FIB needs exactly one/],
      [`# base: client\n${'#'.repeat(600)}\n`, /line 2 is longer than 512/],
    ];
    for (const [text, re] of cases) {
      const { path, result } = fragment(text);
      const e = errorOf(result);
      expect(e.startsWith(`${path}: `)).toBe(true);
      expect(e).toMatch(re);
    }
    // A disabled unmodelled symbol is fine: real .config files carry them.
    expect(ok(fragment('# base: client\n# CONFIG_IPV6 is not set\nCONFIG_UNIX=n\n').result).enabled).toEqual(client.enabled);
  });

  it("takes SLOB as the slab allocator unless a fragment chooses SLUB (Linux 6.1 mm/Kconfig's choice)", () => {
    // Oracle: the calibration's builds. Every one of them ran SLOB (tinyconfig's choice), so
    // that is what a profile gets when it says nothing; Linux's own Kconfig default is SLUB.
    const calib = JSON.parse(readFileSync(new URL('../calibration/linux-6.1-i386.json', import.meta.url), 'utf8')) as {
      configs: Record<string, Record<string, string>>;
    };
    for (const [build, cfg] of Object.entries(calib.configs)) expect([build, cfg['SLOB'], cfg['SLUB']]).toEqual([build, 'y', undefined]);
    for (const p of [full, client, minimal]) expect([p.symbols['SLOB'], p.symbols['SLUB']]).toEqual([true, false]);
    const bare = ok(fragment('CONFIG_NET=y\nCONFIG_INET=y\nCONFIG_FIB_LIST=y\n').result);
    expect(bare.enabled).toEqual(['FIB_LIST', 'INET', 'NET', 'SLOB']);
    const slub = ok(fragment('# base: minimal\nCONFIG_SLUB=y\n').result);
    expect(slub.enabled).toEqual([...minimal.enabled.filter((s) => s !== 'SLOB'), 'SLUB'].sort());
    // Exactly one: both y is refused, and turning the default off without choosing another too.
    expect(errorOf(fragment('# base: minimal\nCONFIG_SLUB=y\nCONFIG_SLOB=y\n').result)).toMatch(/CONFIG_SLUB \(line 2\) and CONFIG_SLOB \(line 3\) are both y; choice SLAB_ALLOCATOR/);
    expect(errorOf(fragment('# base: minimal\n# CONFIG_SLOB is not set\n').result)).toMatch(/choice SLAB_ALLOCATOR needs exactly one of CONFIG_SLUB, CONFIG_SLOB set to y, found 0 \(at line 2\)/);
    // SLAB is Linux's third choice; quarklab does not model it.
    expect(errorOf(fragment('# base: minimal\nCONFIG_SLAB=y\n').result)).toMatch(/CONFIG_SLAB=y at line 2 is not modelled by quarklab: the SLAB allocator/);
    // The image's symbol list holds exactly one too.
    expect(checkEnabledSymbols(minimal.enabled)).toBeNull();
    expect(checkEnabledSymbols(minimal.enabled.filter((s) => s !== 'SLOB'))).toMatch(/choice SLAB_ALLOCATOR needs exactly one .* found 0/);
    expect(checkEnabledSymbols([...minimal.enabled, 'SLUB'])).toMatch(/choice SLAB_ALLOCATOR .* found 2/);
  });

  it('names the nearest built-in for a mistyped profile name, and reports unreadable paths', () => {
    expect(errorOf(loadProfile('minimul'))).toMatch(/unknown profile 'minimul'; did you mean minimal\?/);
    expect(errorOf(loadProfile(join(dir, 'nope.config')))).toMatch(/nope\.config: cannot read profile \(ENOENT\)/);
  });
});

describe('symbol table against the calibration', () => {
  const calib = JSON.parse(readFileSync(new URL('../calibration/linux-6.1-i386.json', import.meta.url), 'utf8')) as {
    objects: { sizes: Record<string, unknown> };
    objects_tiny_ipv4: { sizes: Record<string, unknown> };
  };
  const all = [...new Set([...Object.keys(calib.objects.sizes), ...Object.keys(calib.objects_tiny_ipv4.sizes)])].sort();

  it('assigns every net/ object exactly once or says why not (no gaps, no doubles)', () => {
    const owner = new Map<string, string[]>();
    const note = (o: string, who: string): void => void owner.set(o, [...(owner.get(o) ?? []), who]);
    for (const s of SYMBOLS) for (const o of s.objects) note(o, s.name);
    for (const n of notModelled) note(n.object, 'notModelled');
    for (const o of driverObjects) note(o, 'driverObjects');
    const gaps = all.filter((o) => !owner.has(o));
    const doubles = [...owner].filter(([, who]) => who.length > 1).map(([o, who]) => `${o}: ${who.join(', ')}`);
    expect(gaps).toEqual([]);
    expect(doubles).toEqual([]);
    // Nothing names an object the calibration does not have (a typo would cost 0 silently).
    expect([...owner.keys()].filter((o) => !all.includes(o))).toEqual([]);
    // drivers/ objects are the board's, except the loopback device, which is the stack's.
    for (const o of all.filter((x) => x.startsWith('drivers/'))) {
      expect(driverObjects.includes(o) || o === 'drivers/net/loopback.o').toBe(true);
    }
    for (const o of driverSupportObjects) expect(notModelled.some((n) => n.object === o)).toBe(true);
  });

  it('has consistent dependencies and shares', () => {
    const names = new Set(SYMBOLS.map((s) => s.name));
    for (const s of SYMBOLS) {
      for (const d of s.depends) expect(names.has(d), `${s.name} depends on ${d}`).toBe(true);
      if (!s.share) continue;
      const owners = SYMBOLS.filter((o) => o.objects.includes(s.share!.object));
      expect(owners.length, `${s.name}'s share has one owner`).toBe(1);
      expect(s.share.fraction).toBeGreaterThan(0);
      expect(s.share.fraction).toBeLessThan(1);
      if (s.share.basis === 'carved') expect(s.depends).toContain(owners[0]!.name);
      else expect(owners[0]!.choice).toBe(s.choice);
    }
  });

  it('splits af_packet.o between PACKET and PACKET_MMAP without losing a byte', () => {
    const whole = table.objects['net/packet/af_packet.o']!;
    const pkt = symbolCost('PACKET', table)!;
    const mmap = symbolCost('PACKET_MMAP', table)!;
    expect(pkt.text + mmap.text).toBe(whole.text);
    expect(pkt.data + mmap.data).toBe(whole.data);
    expect(mmap.objects[0]!.share?.basis).toBe('carved');
  });
});

describe('profile cost', () => {
  const costs = [full, client, minimal].map((p) => profileCost(p, table));
  const [f, c, m] = costs as [ReturnType<typeof profileCost>, ReturnType<typeof profileCost>, ReturnType<typeof profileCost>];

  it('prints per-profile totals', () => {
    for (const x of costs) {
      console.log(
        `${x.profile.padEnd(8)} text ${x.total.text} data ${x.total.data} bss ${x.total.bss} ` +
          `(linked-text estimate ${x.linkedTextEstimate})`,
      );
      expect(x.missing).toEqual([]);
      expect(x.total.text).toBe(x.symbols.reduce((a, s) => a + s.text, 0));
    }
  });

  it('orders minimal < client < full in text and data', () => {
    expect(m.total.text).toBeLessThan(c.total.text);
    expect(c.total.text).toBeLessThan(f.total.text);
    expect(m.total.data).toBeLessThan(c.total.data);
    expect(c.total.data).toBeLessThan(f.total.data);
  });

  it("puts the full profile's IPv4 text in the range of the measured tiny→tiny+ipv4 delta", () => {
    const delta = table.vmlinux['tiny+ipv4']!.size.text - table.vmlinux['tiny']!.size.text;
    expect(delta).toBe(631603);
    const ratio = f.total.text / delta;
    console.log(`full profile text ${f.total.text} vs measured IPv4 delta ${delta}: ratio ${ratio.toFixed(3)}`);
    expect(Math.abs(ratio - 1)).toBeLessThan(0.25);
  });

  it('labels shares and keeps the link factor out of the sums', () => {
    const fibList = c.symbols.find((s) => s.symbol === 'FIB_LIST')!;
    expect(fibList.objects[0]!.share).toMatchObject({ basis: 'rewrite', fraction: 0.35 });
    expect(fibList.text).toBe(Math.round(table.objects['net/ipv4/fib_trie.o']!.text * 0.35));
    expect(f.linkFactor).toBeCloseTo(631603 / 666761, 6);
    expect(f.note).toMatch(/about 5%/);
    const link = linkComparison(table)!;
    expect(link.objectsText).toBe(666761);
    console.log(
      `link: objects ${link.objectsText}, vmlinux text delta ${link.vmlinuxTextDelta} (x${link.factor.toFixed(3)}), ` +
        `text+rodata delta ${link.vmlinuxTextPlusRodataDelta} (x${link.factorWithRodata?.toFixed(3)})`,
    );
  });
});

describe('cost table', () => {
  it('looks up struct sizes', () => {
    expect(structSize(table, 'sk_buff')).toBe(176);
    expect(structSize(table, 'tcp_sock')).toBe(1696);
    expect(structSize(table, 'toString')).toBeUndefined();
  });

  it('gives the kernel core with init and brk separated', () => {
    const tiny = ok(kernelCore(table, 'tiny'));
    expect(tiny.init).toBe(64611 + 65844);
    expect(tiny.brk).toBe(1138688);
    expect(tiny.afterBoot).toBe(862189 + 293108 + 1200128 - tiny.init - tiny.brk);
    const core = ok(kernelCore(table, 'core'));
    expect(Object.keys(core.initSections).sort()).toEqual(['.init.data', '.init.text']);
    expect(errorOf(kernelCore(table, 'huge'))).toMatch(/no vmlinux build 'huge' \(has: tiny, /);
  });

  it('rejects a badly shaped table with a one-line error', () => {
    const good = JSON.parse(readFileSync(table.source, 'utf8')) as Record<string, unknown>;
    const bad = structuredClone(good) as { objects: { sizes: Record<string, { text: unknown }> } };
    bad.objects.sizes['net/core/dev.o']!.text = -1;
    expect(errorOf(parseCostTable(bad, 't.json'))).toBe("t.json: objects.sizes[\"net/core/dev.o\"].text must be a non-negative integer");
    expect(errorOf(parseCostTable([], 't.json'))).toBe('t.json: not a JSON object');
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{"objects": ');
    expect(errorOf(loadCostTable(path))).toMatch(/broken\.json: not JSON/);
    const custom = ok(parseCostTable(good, 'mine.json')) as CostTable;
    expect(profileCost(client, custom).total).toEqual(profileCost(client, table).total);
  });
});
