// Firmware images through the command line: build, inspect, boot; a flipped byte is caught by
// its section's CRC (exit 2, one line naming the section); an image bigger than flash is a
// fit failure (exit 1).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImage, type ParsedImage } from '../emulator/flash-image.js';
import { run } from '../scenarios/run.js';
import { quarklabAsync, readJson, REPO_ROOT, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';

afterAll(removeTempDirs);

let dir: string;
let img: string;
let bytes: Uint8Array;
let parsed: ParsedImage;

beforeAll(async () => {
  dir = tempDir();
  img = join(dir, 'fw.img');
  const r = await quarklabAsync(['image', 'build', '--board', 'quark-2m', '--profile', 'minimal', '-o', img]);
  if (r.status !== 0) throw new Error(`image build exited ${r.status}: ${r.stderr}`);
  bytes = new Uint8Array(readFileSync(img));
  const p = parseImage(bytes);
  if ('error' in p) throw new Error(p.error);
  parsed = p;
});

/** A copy of the image with one byte flipped at `offset`, written next to it. */
function flipped(name: string, offset: number): string {
  const b = bytes.slice();
  b[offset] = b[offset]! ^ 0x5a;
  const path = join(dir, name);
  writeFileSync(path, b);
  return path;
}

describe('firmware image on the command line', () => {
  it('builds an image that inspect verifies and lists, section by section', async () => {
    expect(parsed.board).toBe('quark-2m');
    expect(parsed.profile).toBe('minimal');
    const r = await quarklabAsync(['image', 'inspect', img]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`flash image "minimal" for board "quark-2m": format 1, ${bytes.length} bytes, ${parsed.sections.length} sections`);
    for (const s of parsed.sections) expect(r.stdout).toMatch(new RegExp(`^${s.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+${s.kind}\\b`, 'm'));
    expect(r.stdout).toMatch(/^config: \{.*"profile":"minimal"/m);
  });

  it('boots the image it built: run --image passes', async () => {
    const out = join(dir, 'good');
    const r = await quarklabAsync(['run', '--image', img, '--out', out]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(readJson<{ verdict: string }>(join(out, 'report.json')).verdict).toBe('pass');
  });

  it('a byte flipped inside a named section payload: run --image exits 2 naming that section', async () => {
    // A section of the stack's own code, well inside its payload.
    const s = parsed.sections.find((x) => x.name.startsWith('net:') && x.kind === 'text' && x.length > 100)!;
    expect(s, 'image has a net:*.text section').toBeDefined();
    const bad = flipped('flipped.img', s.offset + (s.length >> 1));
    const r = await quarklabAsync(['run', '--image', bad, '--out', join(dir, 'bad')]);
    expect(r.status).toBe(2);
    expect(stderrProblems(r.stderr)).toBeNull();
    expect(r.stderr.trim()).toBe(`quarklab run: ${bad}: flash image: CRC mismatch in section ${s.name}`);
    expect(existsSync(join(dir, "bad")), "no output folder left behind").toBe(false);
    expect(r.stdout).toBe('');
    // inspect catches it the same way.
    const i = await quarklabAsync(['image', 'inspect', bad]);
    expect(i.status).toBe(2);
    expect(stderrProblems(i.stderr)).toBeNull();
    expect(i.stderr).toContain(`CRC mismatch in section ${s.name}`);
  });

  it('flips elsewhere (header, config section, last payload byte) are each caught with exit 2, in-process too', () => {
    const config = parsed.sections.find((x) => x.kind === 'config')!;
    const last = parsed.sections.filter((x) => x.kind !== 'bss').at(-1)!;
    const cases: [string, number, RegExp][] = [
      ['header.img', 20, /CRC mismatch in header\/section table/],
      ['config.img', config.offset + 1, new RegExp(`CRC mismatch in section ${config.name}$`)],
      ['last.img', last.offset + last.length - 1, new RegExp(`CRC mismatch in section ${last.name.replace(/[.:]/g, '\\$&')}$`)],
    ];
    for (const [name, offset, pattern] of cases) {
      const o = run({ imagePath: flipped(name, offset) });
      expect(o.exitCode, name).toBe(2);
      expect(o.error, name).toMatch(pattern);
      expect(o.error, name).not.toContain('\n');
    }
  });

  it('an image larger than the flash part: exit 1 from image build, bad input (exit 2) to run --image', async () => {
    // quark-2m with a 1 MiB flash part: the 1.7 MiB minimal image cannot be written to it.
    const board = JSON.parse(readFileSync(join(REPO_ROOT, 'boards', 'quark-2m.json'), 'utf8')) as Record<string, unknown>;
    board['name'] = 'quark-2m-small-flash';
    board['flashBytes'] = 1 << 20;
    delete board['$schema'];
    const boardFile = join(dir, 'small-flash.json');
    writeFileSync(boardFile, JSON.stringify(board));
    const b = await quarklabAsync(['image', 'build', '--board', boardFile, '--profile', 'minimal', '-o', join(dir, 'big.img')]);
    expect(b.status, b.stderr).toBe(1);
    expect(b.stdout).toMatch(/does NOT fit, by (\d+) bytes/);
    const bigBytes = readFileSync(join(dir, 'big.img')).length;
    expect(b.stdout).toContain(`by ${bigBytes - (1 << 20)} bytes`);

    // Given as a file to boot, an image larger than the flash cannot legally be written there:
    // bad input, refused before reading past the flash size.
    const r = await quarklabAsync(['run', '--board', boardFile, '--image', img, '--out', join(dir, 'big')]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(`quarklab run: ${img}: firmware image is ${bytes.length} bytes, larger than quark-2m-small-flash's ${1 << 20}-byte flash`);
    expect(existsSync(join(dir, 'big'))).toBe(false);
  });
});
