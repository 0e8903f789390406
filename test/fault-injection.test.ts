// Faults injected on purpose: --fail-alloc (failslab-style allocation failures) and --flip-flash
// (bit flips in flash before boot), through run() and the CLI.
//
// Oracles: for nth=N the failures are worked out from a clean run's own allocation count at the
// site (no seed involved: Linux's interval semantics say the Nth call fails and nothing before
// it changes); for flips, the image's section layout as this test reads it from the header with
// a DataView (docs/image-format.md), not through parseImage; a run whose flips all fell in
// padding must give the clean run's capture byte for byte.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BootedBoard } from '../scenarios/boot.js';
import { run, type RunOptions } from '../scenarios/run.js';
import type { Report } from '../traces/report.js';
import { loadReportSchema, quarklabAsync, removeTempDirs, REPO_ROOT, runToDir, schemaErrors, tempDir, type Schema } from './helpers/run.js';
import { EXPERT_FIELDS, expertProblem, tsharkFields } from './helpers/tshark.js';

afterAll(removeTempDirs);

const BASE: RunOptions = { board: 'quark-2m', profile: 'minimal', scenario: 'smoke', seed: 11, capture: 'dut' };

/** run() and the DUT's slabinfo allocs at `site` taken just after boot and at the end. */
function runCounting(opts: RunOptions, site: string): { report: Report; capture: Uint8Array; exitCode: number; allocsAfterBoot: number; allocsEnd: number; failuresEnd: number } {
  let dut: BootedBoard | null = null;
  let allocsAfterBoot = -1;
  const outcome = run({
    ...opts,
    afterBoot: (b) => {
      if (b.role !== 'dut') return;
      dut = b;
      allocsAfterBoot = b.board.ram.slabinfo().find((c) => c.name === site)?.allocs ?? 0;
    },
  });
  if (outcome.exitCode === 2) throw new Error(outcome.error);
  const end = (dut as BootedBoard | null)!.board.ram.slabinfo().find((c) => c.name === site);
  return { report: outcome.report!, capture: outcome.capture!, exitCode: outcome.exitCode, allocsAfterBoot, allocsEnd: end?.allocs ?? 0, failuresEnd: end?.failures ?? 0 };
}

const leakCheck = (r: Report) => r.checks.find((c) => c.name.startsWith('RAM back to post-boot baseline'))!;

describe('--fail-alloc', () => {
  it('nth=N fails exactly the Nth allocation at the site: N = the clean run\'s count fails once, N + 1 never and changes nothing', () => {
    const site = 'skbuff_head_cache';
    const clean = runCounting(BASE, site);
    expect(clean.exitCode).toBe(0);
    expect(clean.failuresEnd).toBe(0);
    const calls = clean.allocsEnd - clean.allocsAfterBoot;
    expect(calls).toBeGreaterThan(10); // smoke moves DHCP, DNS, ping and HTTP: many skbs

    // One past the last call: no failure, so the run is the clean run, byte for byte.
    const past = runCounting({ ...BASE, failAlloc: `nth=${calls + 1},site=${site}` }, site);
    expect(past.report.faults?.failAlloc).toEqual({ spec: `nth=${calls + 1},site=${site}`, total: 0, bySite: {} });
    expect(Buffer.compare(Buffer.from(past.capture), Buffer.from(clean.capture))).toBe(0);

    // The last call itself fails, once; the board recovers and every object comes back.
    const last = runCounting({ ...BASE, failAlloc: `nth=${calls},site=${site},times=1` }, site);
    expect(last.report.faults?.failAlloc).toEqual({ spec: `nth=${calls},site=${site},times=1`, total: 1, bySite: { [site]: 1 } });
    expect(leakCheck(last.report).pass, leakCheck(last.report).detail).toBe(true);
    expect(schemaErrors(loadReportSchema(), JSON.parse(JSON.stringify(last.report)))).toEqual([]);
  });

  it('nth=1 with times=T fails the first T calls at the site and no other site', () => {
    const r = runCounting({ ...BASE, failAlloc: 'nth=1,site=kmalloc-2k,times=3' }, 'kmalloc-2k');
    expect(r.report.faults?.failAlloc?.bySite).toEqual({ 'kmalloc-2k': 3 });
    // The site's slabinfo does not count injected failures as exhaustion.
    expect(r.failuresEnd).toBe(0);
    expect(leakCheck(r.report).pass, leakCheck(r.report).detail).toBe(true);
  });

  it('prob=P is seeded: same seed same failures, another seed others; invariants hold', () => {
    const a = run({ ...BASE, failAlloc: 'prob=0.05' });
    const b = run({ ...BASE, failAlloc: 'prob=0.05' });
    const c = run({ ...BASE, seed: 12, failAlloc: 'prob=0.05' });
    expect(a.report!.faults).toEqual(b.report!.faults);
    expect(Buffer.compare(Buffer.from(a.capture!), Buffer.from(b.capture!))).toBe(0);
    const fa = a.report!.faults!.failAlloc!;
    expect(fa.total).toBeGreaterThan(0);
    expect(Object.values(fa.bySite).reduce((s, n) => s + n, 0)).toBe(fa.total);
    expect(c.report!.faults).not.toEqual(a.report!.faults);
    for (const r of [a, c]) expect(leakCheck(r.report!).pass, leakCheck(r.report!).detail).toBe(true);
    // The summary names the sites (through the CLI below as well).
    expect(run({ ...BASE, failAlloc: 'prob=0' }).report!.faults!.failAlloc!.total).toBe(0);
  });

  it('a bulk download with 5% of allocations failing still completes intact; tshark finds no malformed frame or bad checksum', () => {
    const r = runToDir({ board: 'quark-2m', profile: 'minimal', scenario: 'bulk-rx', seed: 1, failAlloc: 'prob=0.05' });
    expect(r.outcome.exitCode, r.report.checks.filter((c) => !c.pass).map((c) => c.detail).join('; ')).toBe(0);
    const fa = r.report.faults!.failAlloc!;
    expect(fa.bySite['skbuff_head_cache'] ?? 0).toBeGreaterThan(0);
    // One tshark pass (each start costs ~0.5 s) in place of `tshark -z expert` and a display
    // filter: the expert check is read from EXPERT_FIELDS. The checksum preferences change
    // nothing else once no checksum is bad (that is an error).
    const rows = tsharkFields(r.capturePath!, [...EXPERT_FIELDS, 'tcp.analysis.retransmission', 'tcp.analysis.fast_retransmission'], undefined, ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE']);
    const bad = rows.filter((x) => expertProblem(x, 0));
    expect(bad).toEqual([]);
    // Frames the board had no skb for were dropped and the lab host sent them again: tshark sees it.
    expect(rows.filter((x) => x[4] !== '' || (x[5] ?? '') !== '').length).toBeGreaterThan(0);
  });

  it('every cache a full board allocates from is a site --fail-alloc accepts', async () => {
    const { ALLOC_SITES } = await import('../stack/core/kmem.js');
    let dut: BootedBoard | null = null;
    run({ board: 'quark-4m', profile: 'full', scenario: 'http-serve', seed: 1, capture: 'none', afterBoot: (b) => { if (b.role === 'dut') dut = b; } });
    const names = (dut as BootedBoard | null)!.board.ram.slabinfo().map((c) => c.name);
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((n) => !ALLOC_SITES.includes(n))).toEqual([]);
  });

  it('bad values are bad input: one line, exit 2, no output folder', async () => {
    const dir = tempDir();
    const cases: [string[], RegExp][] = [
      [['run', '--fail-alloc', 'prob=1.5'], /prob must be a decimal from 0 to 1, got "1\.5"/],
      [['run', '--fail-alloc', 'prob=-0.1'], /prob must be a decimal from 0 to 1/],
      [['run', '--fail-alloc', 'nth=0'], /nth must be a positive decimal integer, got "0"/],
      [['run', '--fail-alloc', 'nth=0x10'], /nth must be a positive decimal integer/],
      [['run', '--fail-alloc', 'nth=1e3'], /nth must be a positive decimal integer/],
      [['run', '--fail-alloc', 'nth=2,site=kmalloc-3k'], /no allocation site "kmalloc-3k"/],
      [['run', '--fail-alloc', 'prob=0.1,nth=2'], /give one of prob= or nth=/],
      [['run', '--fail-alloc', 'site=TCP'], /give one of prob= or nth=/],
      [['run', '--fail-alloc', 'nth=2,nth=3'], /nth given twice/],
      [['run', '--flip-flash', '0'], /--flip-flash must be a decimal integer from 1 to 1000000, got "0"/],
      [['fuzz', '--fail-alloc', 'prob=2'], /prob must be a decimal from 0 to 1/],
    ];
    const results = await Promise.all(cases.map(([args], i) => quarklabAsync([...args, ...(args[0] === 'run' ? ['--out', join(dir, `o${i}`)] : ['--case', join(dir, `c${i}.json`)])])));
    results.forEach((r, i) => {
      expect(r.status, cases[i]![0].join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stdout).toBe('');
      expect(existsSync(join(dir, `o${i}`)) || existsSync(join(dir, `c${i}.json`))).toBe(false);
    });
  });

  it('the CLI prints the failures by site and writes them to report.json', async () => {
    const dir = tempDir();
    const r = await quarklabAsync(['run', '--board', 'quark-2m', '--profile', 'minimal', '--scenario', 'smoke', '--seed', '11', '--fail-alloc', 'nth=1,site=kmalloc-2k,times=3', '--out', dir]);
    expect(r.stdout).toMatch(/^fault --fail-alloc nth=1,site=kmalloc-2k,times=3: 3 allocations failed on purpose \(kmalloc-2k 3\)$/m);
  });
});

/** The image's layout as docs/image-format.md gives it, read here without parseImage. */
function layout(image: Uint8Array): { tableEnd: number; sections: { name: string; offset: number; length: number; bss: boolean }[] } {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const count = v.getUint16(12, true);
  const sections = [];
  for (let i = 0; i < count; i++) {
    const e = 96 + 48 * i;
    const raw = image.subarray(e, e + 32);
    const name = Buffer.from(raw.subarray(0, raw.indexOf(0) < 0 ? 32 : raw.indexOf(0))).toString('latin1');
    sections.push({ name, offset: v.getUint32(e + 36, true), length: v.getUint32(e + 40, true), bss: image[e + 32] === 3 });
  }
  return { tableEnd: 96 + 48 * count, sections };
}

function sectionAt(image: Uint8Array, offset: number): string {
  if (offset >= image.length) return 'padding';
  const l = layout(image);
  if (offset < l.tableEnd) return 'header';
  return l.sections.find((s) => !s.bss && offset >= s.offset && offset < s.offset + s.length)!.name;
}

describe('--flip-flash', () => {
  it('a flip in a section fails the boot naming it (exit 1); one in padding boots as if nothing happened', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 6; seed++) {
      const opts: RunOptions = { board: 'quark-2m', profile: 'minimal', scenario: 'ping', seed, capture: 'dut' };
      const o = run({ ...opts, flipFlash: 1 });
      expect(o.exitCode, o.error).not.toBe(2);
      const bits = o.report!.faults!.flipFlash!.bits;
      expect(bits).toHaveLength(1);
      const { offset, bit, section } = bits[0]!;
      expect(offset).toBeLessThan(4 * 1024 * 1024);
      expect(bit).toBeGreaterThanOrEqual(0);
      const where = sectionAt(o.image!, offset);
      expect(section).toBe(where);
      seen.add(where === 'padding' ? 'padding' : 'image');
      if (where === 'padding') {
        const clean = run(opts);
        expect(o.exitCode).toBe(clean.exitCode);
        expect(Buffer.compare(Buffer.from(o.capture!), Buffer.from(clean.capture!))).toBe(0);
      } else {
        expect(o.exitCode).toBe(1);
        const check = o.report!.checks[0]!;
        expect(check.pass).toBe(false);
        expect(check.detail).toContain(where === 'header' ? 'header' : `CRC mismatch in section ${where}`);
        expect(o.report!.boards).toEqual([]);
        expect(schemaErrors(loadReportSchema(), JSON.parse(JSON.stringify(o.report)))).toEqual([]);
      }
    }
    // Seeds 1–6 were picked to cover both outcomes (the image is ~40% of quark-2m's 4 MiB flash).
    expect([...seen].sort()).toEqual(['image', 'padding']);
  });

  it('the same flipped image given by the user is bad input (exit 2), not a fault', async () => {
    const dir = tempDir();
    const built = run({ board: 'quark-2m', profile: 'minimal', scenario: 'ping', seed: 1, flipFlash: 1 });
    const { offset, bit } = built.report!.faults!.flipFlash!.bits[0]!;
    const bad = built.image!.slice();
    bad[offset] = bad[offset]! ^ (1 << bit);
    writeFileSync(join(dir, 'bad.img'), bad);
    const [user, injected] = await Promise.all([
      quarklabAsync(['run', '--board', 'quark-2m', '--image', join(dir, 'bad.img'), '--scenario', 'ping', '--out', join(dir, 'u')]),
      quarklabAsync(['run', '--board', 'quark-2m', '--profile', 'minimal', '--scenario', 'ping', '--seed', '1', '--flip-flash', '1', '--out', join(dir, 'i')]),
    ]);
    expect(user.status).toBe(2);
    expect(user.stderr).toContain(`CRC mismatch in section ${sectionAt(built.image!, offset)}`);
    expect(existsSync(join(dir, 'u'))).toBe(false);
    expect(injected.status).toBe(1);
    expect(injected.stdout).toMatch(/^check FAIL firmware image boots \(flash faults injected\): the boot loader refused the image: flash image: CRC mismatch in section \S+; flipped: bit \d of byte \d+ \(\S+\)$/m);
  });
});

describe('quarklab fuzz --fail-alloc', () => {
  it('nth=7 on quark-2m minimal: failures at several sites, every invariant holds, same seed same counts', async () => {
    const { fuzz } = await import('../fuzz/fuzz.js');
    const a = fuzz({ board: 'quark-2m', profile: 'minimal', frames: 2000, seed: 5, batch: 500, failAlloc: 'nth=7' });
    if ('error' in a) throw new Error(a.error);
    expect(a.failure).toBeNull();
    const fa = a.failAlloc!;
    expect(Object.keys(fa.bySite).length).toBeGreaterThan(1);
    expect(Object.values(fa.bySite).reduce((s, n) => s + n, 0)).toBe(fa.total);
    const b = fuzz({ board: 'quark-2m', profile: 'minimal', frames: 2000, seed: 5, batch: 500, failAlloc: 'nth=7' });
    expect(b).toEqual(a);
  });
});

describe('fail-alloc in a plan', () => {
  it('reaches every cell and its report; a bad value is refused naming the plan', async () => {
    const { planFromData, expandCells } = await import('../runner/plan.js');
    const { runCell } = await import('../runner/cell.js');
    const doc = { boards: ['quark-2m'], profiles: ['minimal'], scenarios: ['smoke'], seeds: [11], 'fail-alloc': 'nth=1,site=kmalloc-2k,times=3' };
    const plan = planFromData(doc, 'p.json', REPO_ROOT);
    if ('error' in plan) throw new Error(plan.error);
    const cells = expandCells(plan);
    expect(cells.map((c) => c.failAlloc)).toEqual(['nth=1,site=kmalloc-2k,times=3']);
    expect(schemaErrors(JSON.parse(readFileSync(join(REPO_ROOT, 'runner', 'plan.schema.json'), 'utf8')) as Schema, doc)).toEqual([]);
    const dir = tempDir();
    await runCell(cells[0]!, dir);
    const report = JSON.parse(readFileSync(join(dir, cells[0]!.id, 'report.json'), 'utf8')) as Report;
    // The same injection as the run() test above: the first three kmalloc-2k calls.
    expect(report.faults?.failAlloc?.bySite).toEqual({ 'kmalloc-2k': 3 });
    const bad = planFromData({ ...doc, 'fail-alloc': 'prob=0.1,site=nosuch' }, 'p.json', REPO_ROOT);
    expect(bad).toEqual({ error: expect.stringMatching(/^plan p\.json: fail-alloc "prob=0\.1,site=nosuch": no allocation site "nosuch"/) });
  });
});
