// `quarklab profile diff`: bloat-o-meter for profiles. Every symbol that separates two profiles
// is listed with its cost, and the flash rows add up to the difference of the two images
// exactly (buildFirmware(...).image.length on each side).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ENTRY_BYTES } from '../emulator/flash-image.js';
import { buildFirmware, type Firmware } from '../scenarios/firmware.js';
import { resolveBoard } from '../scenarios/inputs.js';
import { loadCostTable, type CostTable } from '../stack/kconfig/cost-table.js';
import { calibratedFlash } from './helpers/calibration-oracle.js';
import { formatProfile, isKconfigError, parseKconfig, type Profile } from '../stack/kconfig/kconfig.js';
import { NO_LTO_FACTOR } from '../scripts/lto.js';
import { compareProfiles, type ProfileDiff } from '../scripts/profile-diff.js';
import { loadProfile } from '../stack/kconfig/profiles.js';
import { quarklabAsync, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';

afterAll(removeTempDirs);

function ok<T extends object>(x: T | { error: string }): T {
  if (isKconfigError(x)) throw new Error(`unexpected error: ${x.error}`);
  return x as Exclude<T, { error: string }>;
}

const table = ok(loadCostTable()) as CostTable;
const board = ok(resolveBoard('quark-2m'));
const full = ok(loadProfile('full'));
const client = ok(loadProfile('client'));
const minimal = ok(loadProfile('minimal'));

function firmware(p: Profile): Firmware {
  return ok(buildFirmware(board, p, table));
}

function diff(a: Profile, b: Profile): { d: ProfileDiff; fa: Firmware; fb: Firmware } {
  const fa = firmware(a);
  const fb = firmware(b);
  const side = (p: Profile, f: Firmware) => ({ profile: p, imageBytes: f.image.length, sections: f.sections, stack: f.stack });
  const d = compareProfiles(side(a, fa), side(b, fb), { board: board.name, executeInPlace: board.executeInPlace, costTable: 'default' });
  return { d, fa, fb };
}

const symmetricDifference = (a: Profile, b: Profile): string[] =>
  [...a.enabled.filter((s) => !b.symbols[s]), ...b.enabled.filter((s) => !a.symbols[s])].sort();

/** The rows of one table in the text output: name, A, B, delta (first four columns). */
function tableRows(stdout: string, heading: RegExp): { name: string; a: string; b: string; delta: number }[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => heading.test(l));
  expect(start, `heading ${heading}`).toBeGreaterThanOrEqual(0);
  const rows: { name: string; a: string; b: string; delta: number }[] = [];
  // heading, add/remove line, column heads, then rows up to "Total:".
  for (let i = start + 3; i < lines.length && !lines[i]!.startsWith('Total:'); i++) {
    const m = /^(.*?)\s+(-|\d+)\s+(-|\d+)\s+([+-]?\d+)(\s|$)/.exec(lines[i]!);
    if (!m) throw new Error(`unparsed row: ${lines[i]}`);
    rows.push({ name: m[1]!, a: m[2]!, b: m[3]!, delta: Number(m[4]) });
  }
  return rows;
}

/**
 * Flash bytes (text + data) of each symbol that separates full and minimal, summed by hand with
 * python3 over calibration/linux-6.1-i386.json's objects, by the objects Linux 6.1's Makefiles
 * put under each (net/ethtool/* but ioctl.o and common.o for ETHTOOL_NETLINK; net/sched/* but
 * sch_generic.o and sch_fq_codel.o, plus gen_estimator.o and flow_offload.o, for NET_SCHED …)
 * and the two stated shares (FIB_LIST 35% of fib_trie.o; PACKET_MMAP 45% of af_packet.o,
 * PACKET the rest), each section rounded.
 */
const FLASH_BY_HAND: Readonly<Record<string, number>> = {
  LPF_FILTER: 66_362, // net/core/filter.o
  RTNETLINK: 52_093, // rtnetlink.o + ipv4/netlink.o + nexthop.o
  ETHTOOL_NETLINK: 37_528, // 24 objects of net/ethtool/
  NET_ETHTOOL: 25_214, // ethtool/ioctl.o + common.o
  NETLINK: 22_245, // net/netlink/*.o
  NET_SCHED: 20_936,
  PROC_FS: 20_549, // net-procfs.o, ipv4/proc.o, the three sysctl objects
  IP_OFFLOAD: 14_355, // gro.o, tso.o, tcp/udp/gre_offload.o
  PACKET: 12_575, // af_packet.o less PACKET_MMAP's share
  FIB_TRIE: 11_023, // fib_trie.o: 11,003 + 20
  PACKET_MMAP: 10_289, // round(22,518 × 0.45) + round(346 × 0.45) = 10,133 + 156
  INET_DIAG: 8_015, // sock_diag.o, inet_diag.o, tcp_diag.o
  INET_RAW: 5_854, // net/ipv4/raw.o
  NET_SCH_FQ_CODEL: 5_164, // net/sched/sch_fq_codel.o
  TCP_METRICS: 4_762, // net/ipv4/tcp_metrics.o
  FIB_LIST: 3_858, // round(11,003 × 0.35) + round(20 × 0.35) = 3,851 + 7
  TCP_FASTOPEN: 2_280, // net/ipv4/tcp_fastopen.o
  BASE_SMALL: 0, // no objects
  NET_SCH_DEFAULT: 0, // a Kconfig choice of default qdisc: no objects
  DEFAULT_FQ_CODEL: 0, // likewise
};

describe('profile diff: the comparison', () => {
  it('the hand-summed figures and the test oracle read the same calibration', () => {
    for (const [symbol, bytes] of Object.entries(FLASH_BY_HAND)) expect(calibratedFlash(symbol), symbol).toBe(bytes);
  });

  it('full → minimal: one row per symbol that differs, with its cost, and nothing else per symbol', () => {
    const { d } = diff(full, minimal);
    const expected = symmetricDifference(full, minimal);
    expect(expected).toContain('BASE_SMALL'); // costs nothing, still listed
    expect([...d.onlyInA, ...d.onlyInB].sort()).toEqual(expected);
    const symbolRows = d.flash.rows.filter((r) => r.kind === 'symbol');
    expect(symbolRows.map((r) => r.name).sort()).toEqual(expected);
    for (const r of symbolRows) {
      const bytes = FLASH_BY_HAND[r.name]!;
      const inA = full.symbols[r.name] === true;
      // Flash: the symbol's text and data payload; bss takes no flash.
      expect(r.a, r.name).toBe(inA ? bytes : null);
      expect(r.b, r.name).toBe(inA ? null : bytes);
      expect(r.delta, r.name).toBe(inA ? 0 - bytes : bytes); // 0 - x: +0 for a symbol with no objects
    }
    expect(d.flash.added).toBe(d.onlyInB.length);
    expect(d.flash.removed).toBe(d.onlyInA.length);
  });

  for (const [a, b] of [[full, minimal], [minimal, full], [full, client], [client, minimal]] as const) {
    it(`${a.name} → ${b.name}: the flash rows add up to the difference of the two images exactly`, () => {
      const { d, fa, fb } = diff(a, b);
      const sum = d.flash.rows.reduce((s, r) => s + r.delta, 0);
      expect(sum).toBe(fb.image.length - fa.image.length);
      expect(d.flash.up + d.flash.down).toBe(fb.image.length - fa.image.length);
      expect(d.flash.totalA).toBe(fa.image.length);
      expect(d.flash.totalB).toBe(fb.image.length);
      // The fixed structure is its own line: 48 bytes per section-table entry.
      const headers = d.flash.rows.find((r) => r.kind === 'headers')!;
      expect(headers.delta).toBe((fb.sections.length - fa.sections.length) * ENTRY_BYTES);
      expect(headers.name).toMatch(new RegExp(`sections × ${ENTRY_BYTES} bytes \\(${fa.sections.length} → ${fb.sections.length}\\)`));
      // Static RAM: every section rounded up to a page, as the board reserves it.
      const resident = (f: Firmware): number =>
        f.sections.reduce((s, x) => s + (x.kind === 'config' || x.kind === 'init' ? 0 : Math.ceil(x.size / 4096) * 4096), 0);
      expect(d.staticRam.totalA).toBe(resident(fa));
      expect(d.staticRam.totalB).toBe(resident(fb));
      expect(d.staticRam.rows.reduce((s, r) => s + r.delta, 0)).toBe(resident(fb) - resident(fa));
      // Objects: the per-section deltas add up to the difference of the stack totals.
      const t = d.objects.rows.reduce((s, r) => ({ text: s.text + r.delta.text, data: s.data + r.delta.data, bss: s.bss + r.delta.bss }), { text: 0, data: 0, bss: 0 });
      expect(t).toEqual({ text: fb.stack.total.text - fa.stack.total.text, data: fb.stack.total.data - fa.stack.total.data, bss: fb.stack.total.bss - fa.stack.total.bss });
      expect(d.objects.totalDelta).toEqual(t);
    });
  }

  it('a shared object charged in part shows as shrinking, not vanishing (fib_trie.o: FIB_TRIE → FIB_LIST)', () => {
    const { d } = diff(full, minimal);
    const fib = d.objects.rows.find((r) => r.object === 'net/ipv4/fib_trie.o')!;
    expect(fib.a!.text).toBe(table.objects['net/ipv4/fib_trie.o']!.text);
    expect(fib.b!.text).toBe(Math.round(table.objects['net/ipv4/fib_trie.o']!.text * 0.35));
    expect(d.objects.shrunk).toBeGreaterThanOrEqual(1);
  });

  it('a profile against itself: no rows anywhere', () => {
    for (const p of [full, client, minimal]) {
      const { d } = diff(p, p);
      expect(d.onlyInA).toEqual([]);
      expect(d.onlyInB).toEqual([]);
      expect(d.flash.rows).toEqual([]);
      expect(d.staticRam.rows).toEqual([]);
      expect(d.objects.rows).toEqual([]);
      expect([d.flash.up, d.flash.down, d.flash.totalA - d.flash.totalB]).toEqual([0, 0, 0]);
    }
  });

  it('text after LTO uses only a measured lto-factor, and says when there is none', () => {
    const withLto = ok(parseKconfig('# base: minimal\n# lto-factor: 0.62\n', 'lto.config', { resolveBase: (n) => loadProfile(n) }));
    expect(withLto.ltoFactor).toBe(0.62);
    const { d } = diff(full, withLto);
    expect(d.a.lto).toEqual({ factor: null, textAfterLto: null, note: NO_LTO_FACTOR });
    expect(d.b.lto.factor).toBe(0.62);
    expect(d.b.lto.textAfterLto).toBe(Math.round(d.b.stack.text * 0.62));
    // The factor changes that estimate only: every section but the config (which names the
    // profile) is minimal's.
    const strip = (f: Firmware) => f.sections.filter((x) => x.kind !== 'config').map((x) => [x.name, x.size]);
    expect(strip(firmware(withLto))).toEqual(strip(firmware(minimal)));
  });

  it('lto-factor lines are checked: one per file, a ratio above 0 and at most 2', () => {
    const parse = (t: string) => parseKconfig(t, 'x.config', { resolveBase: (n) => loadProfile(n) });
    for (const [text, re] of [
      ['# base: minimal\n# lto-factor: 0\n', /x\.config: bad lto-factor '0' at line 2/],
      ['# base: minimal\n# lto-factor: 2.5\n', /bad lto-factor '2\.5' at line 2/],
      ['# base: minimal\n# lto-factor: about 0.6\n', /bad lto-factor 'about 0\.6' at line 2/],
      ['# base: minimal\n# lto-factor: 0.6\nCONFIG_PACKET=y\n# lto-factor: 0.7\n', /second '# lto-factor:' line at line 4 \(first at line 2\)/],
    ] as const) {
      const r = parse(text);
      expect(isKconfigError(r) ? r.error : 'parsed', text).toMatch(re);
    }
    // formatProfile writes it back, so a profile round-trips with its factor.
    const lean = ok(parse('# base: minimal\n# lto-factor: 0.62\n'));
    expect(ok(parseKconfig(formatProfile(lean), 'again.config')).ltoFactor).toBe(0.62);
    // It may stand after CONFIG_ lines, and a built-in profile states none.
    expect(ok(parse('# base: minimal\nCONFIG_PACKET=y\n# lto-factor: 1\n')).ltoFactor).toBe(1);
    for (const p of [full, client, minimal]) expect(p.ltoFactor).toBeUndefined();
  });
});

describe('quarklab profile diff', () => {
  it('full minimal: every differing symbol with its cost; the rows sum to the image difference', async () => {
    const r = await quarklabAsync(['profile', 'diff', 'full', 'minimal']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const { fa, fb } = diff(full, minimal);
    const rows = tableRows(r.stdout, /^flash: image bytes/);
    const symbols = rows.filter((x) => !x.name.startsWith('<'));
    expect(symbols.map((x) => x.name).sort()).toEqual(symmetricDifference(full, minimal));
    for (const x of symbols) expect(Math.abs(x.delta), x.name).toBe(FLASH_BY_HAND[x.name]);
    expect(rows.reduce((s, x) => s + x.delta, 0)).toBe(fb.image.length - fa.image.length);
    // 18 removed: 16 costed symbols plus NET_SCH_DEFAULT and DEFAULT_FQ_CODEL (full's default qdisc, no objects).
    expect(r.stdout).toMatch(/^add\/remove: 2\/18 grow\/shrink: 0\/2 up\/down: \d+\/-\d+ \(-\d+\)$/m);
    expect(r.stdout).toContain(`Total: full=${fa.image.length}, minimal=${fb.image.length}, chg -`);
    expect(r.stdout).toMatch(/^<image headers: -41 sections × 48 bytes \(66 → 25\)>\s+3264\s+1296\s+-1968$/m);
    expect(r.stdout).toContain(`text after LTO: full: ${NO_LTO_FACTOR}; minimal: ${NO_LTO_FACTOR}`);
    // Static RAM and objects tables are there too.
    expect(tableRows(r.stdout, /^static RAM:/).length).toBe(symbols.length);
    expect(tableRows(r.stdout, /^objects:/).find((x) => x.name === 'net/core/filter.o')!.delta).toBe(-66538);
  });

  it('--json is the same comparison, machine-readable', async () => {
    const r = await quarklabAsync(['profile', 'diff', 'client', 'minimal', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as ProfileDiff;
    const { d } = diff(client, minimal);
    expect(j.flash).toEqual(d.flash);
    expect(j.objects).toEqual(d.objects);
    expect(j.onlyInA).toEqual(symmetricDifference(client, minimal).filter((s) => client.symbols[s]));
  });

  it('a profile against itself: empty tables', async () => {
    const r = await quarklabAsync(['profile', 'diff', 'client', 'client']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('no difference');
    expect(r.stdout.match(/^add\/remove: 0\/0 grow\/shrink: 0\/0 up\/down: 0\/0 \(0\)$/gm)?.length).toBe(3);
    for (const h of [/^flash:/, /^static RAM:/, /^objects:/]) expect(tableRows(r.stdout, h)).toEqual([]);
  });

  it('a fragment path with a measured lto-factor, against a built-in', async () => {
    const dir = tempDir();
    const frag = join(dir, 'lean.config');
    writeFileSync(frag, '# base: minimal\n# lto-factor: 0.5\n# CONFIG_IP_MULTICAST is not set\n');
    const r = await quarklabAsync(['profile', 'diff', 'minimal', frag]);
    expect(r.status, r.stderr).toBe(0);
    const rows = tableRows(r.stdout, /^flash:/);
    expect(rows.find((x) => x.name === 'IP_MULTICAST')).toMatchObject({ b: '-' });
    const text = firmware(ok(loadProfile(frag))).stack.total.text;
    expect(r.stdout).toContain(`text after LTO: minimal: ${NO_LTO_FACTOR}; lean: text after LTO ${Math.round(text * 0.5)} (${text} × measured lto-factor 0.5)`);
  });

  it('--scenario: runtime RAM of each run, compared; static RAM moves as the static table says', async () => {
    const r = await quarklabAsync(['profile', 'diff', 'client', 'minimal', '--board', 'quark-4m', '--scenario', 'ping', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as ProfileDiff;
    const rt = j.runtime!;
    expect(rt.scenario).toBe('ping');
    expect([rt.a.verdict, rt.b.verdict]).toEqual(['pass', 'pass']);
    const [st, peakUsed, peak] = rt.memory;
    for (const m of rt.memory) expect(m.delta).toBe(m.b! - m.a!);
    // Same scenario, same programs: the boot reservation differs by exactly the image's static RAM.
    expect(st!.delta).toBe(j.staticRam.totalB - j.staticRam.totalA);
    expect(peak!.delta).toBe(st!.delta! + peakUsed!.delta!);
    expect(rt.caches).not.toBeNull();
    for (const c of rt.caches!.rows) expect(c.delta).toBe((c.b ?? 0) - (c.a ?? 0));
  });

  it('--scenario with a profile that does not boot: says so and compares nothing', async () => {
    const r = await quarklabAsync(['profile', 'diff', 'full', 'minimal', '--scenario', 'ping']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}full: did not run: profile full does not fit quark-2m/m);
    expect(r.stdout).toContain('caches: not compared, one profile did not run');
  });

  it('bad input: exit 2 with one line', async () => {
    for (const [args, re] of [
      [['profile', 'diff', 'full', 'fulll'], /^quarklab profile: unknown profile 'fulll'; did you mean full\?/],
      [['profile', 'diff', 'full'], /^quarklab profile: profile diff takes two profiles/],
      [['profile', 'diff', 'full', 'minimal', '--costs', '/nonexistent.json'], /^quarklab profile: \/nonexistent\.json: cannot read cost table/],
      [['profile', 'diff', 'full', 'minimal', '--board', 'nope'], /^quarklab profile: board "nope"/],
      [['profile', 'diff', 'full', 'minimal', '--scenario', 'nope'], /^quarklab profile: unknown scenario "nope"/],
      [['profile', 'frobnicate'], /^quarklab profile: unknown profile command "frobnicate"/],
    ] as const) {
      const res = await quarklabAsync([...args]);
      expect(res.status, args.join(' ')).toBe(2);
      expect(stderrProblems(res.stderr), args.join(' ')).toBeNull();
      expect(res.stderr).toMatch(re);
      expect(res.stdout).toBe('');
    }
  });

  it('--help', async () => {
    const r = await quarklabAsync(['profile', 'diff', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: quarklab profile diff A B/);
  });
});
