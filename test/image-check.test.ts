// Images whose CRCs are all good but which are not the image of the profile they name: boot and
// `image inspect` refuse each with one line and exit 2, as a CRC mismatch is refused (issue 13,
// item 3). The images are made by hand here, section by section, the way a tool or a person
// editing an image would; the oracle is what the issue and docs/image-format.md say boot must
// refuse, not the checking code.
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, configSection, type SectionSpec } from '../emulator/flash-image.js';
import { firmwareSections } from '../scenarios/firmware.js';
import { resolveBoard } from '../scenarios/inputs.js';
import { run } from '../scenarios/run.js';
import { costTableHash, loadCostTable, type CostTable } from '../stack/kconfig/cost-table.js';
import { SYMBOLS } from '../stack/kconfig/symbols.js';
import { quarklabAsync, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';

afterAll(removeTempDirs);

let dir: string;
let table: CostTable;
let tableHash: string;

beforeAll(async () => {
  dir = tempDir();
  const t = loadCostTable();
  if ('error' in t) throw new Error(t.error);
  table = t;
  // A SHA-256 in hex (docs/image-format.md); the tests below only need it to be the table in use.
  tableHash = costTableHash(table);
  expect(tableHash).toMatch(/^[0-9a-f]{64}$/);
});

const MINIMAL = ['BASE_SMALL', 'FIB_LIST', 'INET', 'IP_MULTICAST', 'IP_PING', 'NET', 'SLOB', 'SYN_COOKIES'];

/** The sections `image build` would write for these symbols on quark-2m (names and sizes). */
function sectionsFor(enabled: readonly string[]): SectionSpec[] {
  const board = resolveBoard('quark-2m');
  if ('error' in board) throw new Error(board.error);
  const symbols = Object.fromEntries(SYMBOLS.map((s) => [s.name, enabled.includes(s.name)]));
  const built = firmwareSections(board, { name: 'hand', symbols }, table);
  if ('error' in built) throw new Error(built.error);
  return built.sections;
}

/** Write an image for quark-2m named `hand` from these sections plus a config section. */
function handImage(file: string, sections: SectionSpec[], config: Record<string, unknown>): string {
  const cfg = { board: 'quark-2m', profile: 'hand', enabled: MINIMAL, kernelCore: 'tiny', costTable: tableHash, ...config };
  const bytes = buildImage({ board: 'quark-2m', profile: 'hand', sections: [...sections, configSection(cfg)] });
  const path = join(dir, file);
  writeFileSync(path, bytes);
  return path;
}

/** run --image in-process and image inspect on the command line: both exit 2 with one line. */
async function expectRefused(path: string, message: RegExp): Promise<void> {
  const o = run({ imagePath: path });
  expect(o.exitCode, `${path}: ${o.error}`).toBe(2);
  expect(o.error).toMatch(message);
  expect(o.error).not.toContain('\n');
  expect(o.report, 'no report for bad input').toBeUndefined();
  const i = await quarklabAsync(['image', 'inspect', path]);
  expect(i.status, i.stdout).toBe(2);
  expect(stderrProblems(i.stderr)).toBeNull();
  expect(i.stdout).toBe('');
  expect(i.stderr.trim().split('\n')).toHaveLength(1);
  expect(i.stderr.trim()).toMatch(message);
}

describe('boot validates the image, not only its CRCs', () => {
  it('the image the tools build boots and inspects clean (the checks do not refuse good images)', async () => {
    const path = handImage('good.img', sectionsFor(MINIMAL), {});
    const o = run({ imagePath: path });
    expect(o.exitCode, o.error).toBe(0);
    expect((await quarklabAsync(['image', 'inspect', path])).status).toBe(0);
  });

  it('an image with a config section and nothing else (no kernel, no stack) is refused', async () => {
    const path = handImage('config-only.img', [], {});
    // 96-byte header + one 48-byte table entry + the msgpack config: a few hundred bytes.
    expect(existsSync(path)).toBe(true);
    await expectRefused(path, /^.*flash image: no section kernel\.text: profile hand with this cost table has a \d+-byte text section there$/);
  });

  it('the few-hundred-byte image of the issue (the config section as it was, nothing else) is refused', async () => {
    // The config as images carried it before the cost-table hash: board, profile, enabled, kernelCore.
    const cfg = { board: 'quark-2m', profile: 'hand', enabled: ['NET', 'INET', 'FIB_TRIE'], kernelCore: 'tiny' };
    const bytes = buildImage({ board: 'quark-2m', profile: 'hand', sections: [configSection(cfg)] });
    expect(bytes.length).toBeLessThan(300);
    const path = join(dir, 'tiny.img');
    writeFileSync(path, bytes);
    await expectRefused(path, /flash image: config section has no costTable string$/);
  });

  it('a symbol Linux and quarklab do not have is refused by name', async () => {
    const path = handImage('unknown.img', sectionsFor(MINIMAL), { enabled: [...MINIMAL, 'WIRELESS_TURBO'] });
    await expectRefused(path, /flash image: config section: unknown symbol CONFIG_WIRELESS_TURBO$/);
  });

  it('a broken dependency (INET_DIAG without NETLINK) is refused, sections sized right', async () => {
    const enabled = [...MINIMAL, 'INET_DIAG'];
    const path = handImage('dep.img', sectionsFor(enabled), { enabled });
    await expectRefused(path, /flash image: config section: CONFIG_INET_DIAG=y needs CONFIG_NETLINK, which is not set$/);
  });

  it('a cost-table hash that is not the table in use is refused', async () => {
    const other = createHash('sha256').update('some other kernel build').digest('hex');
    const path = handImage('hash.img', sectionsFor(MINIMAL), { costTable: other });
    await expectRefused(path, new RegExp(`flash image: sized by cost table ${other.slice(0, 16)}…, not by .*rebuild the image or pass the table it was built with \\(--costs\\)$`));
  });

  it('a stack section smaller than the cost table says (shrunk to fit) is refused', async () => {
    const sections = sectionsFor(MINIMAL).map((s) => (s.name === 'net:INET.text' ? { ...s, size: s.size - 4096 } : s));
    const want = sectionsFor(MINIMAL).find((s) => s.name === 'net:INET.text')!.size;
    const path = handImage('shrunk.img', sections, {});
    await expectRefused(path, new RegExp(`flash image: section net:INET\\.text is ${want - 4096} bytes, the cost table it was built with says ${want}$`));
  });

  it('a section of a symbol the config does not enable is refused', async () => {
    const path = handImage('extra.img', sectionsFor([...MINIMAL, 'INET_RAW']), {});
    await expectRefused(path, /flash image: section net:INET_RAW\.text is not part of profile hand/);
  });

  it('on the command line: run --image exits 2 with one line and writes nothing', async () => {
    const path = handImage('cli.img', [], {});
    const out = join(dir, 'cli-out');
    const r = await quarklabAsync(['run', '--image', path, '--out', out]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toMatch(new RegExp(`^quarklab run: ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: flash image: no section kernel\\.text`));
    expect(existsSync(out)).toBe(false);
  });
});
