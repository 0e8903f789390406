import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  ENTRY_BYTES,
  HEADER_BYTES,
  buildImage,
  checkImageSpec,
  configSection,
  crc32,
  describeImage,
  fillDeterministic,
  parseImage,
  readConfigSection,
  type ImageSpec,
  type ParsedImage,
} from '../emulator/flash-image.js';
import { loadCostTable, profileCost, type CostTable } from '../stack/kconfig/cost-table.js';
import { isKconfigError } from '../stack/kconfig/kconfig.js';
import { loadProfile } from '../stack/kconfig/profiles.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

function parsed(x: ReturnType<typeof parseImage>): ParsedImage {
  if ('error' in x) throw new Error(x.error);
  return x;
}

function errorOf(x: ReturnType<typeof parseImage>): string {
  if (!('error' in x)) throw new Error('expected parseImage to fail');
  expect(x.error).not.toContain('\n');
  return x.error;
}

const profile = { name: 'client', enabled: ['INET', 'NET'], symbols: { INET: true, NET: true } };
const spec: ImageSpec = {
  board: 'quark-2m',
  profile: 'client',
  sections: [
    configSection(profile),
    { name: 'stack:NET.text', kind: 'text', size: 700 },
    { name: 'stack:NET.data', kind: 'data', size: 61 },
    { name: 'stack:NET.bss', kind: 'bss', size: 4096 },
    { name: 'core.init', kind: 'init', size: 333 },
    { name: 'empty.text', kind: 'text', size: 0 },
    { name: 'stack:INET.text', kind: 'text', size: 512 },
  ],
};

describe('CRC-32/ISO-HDLC', () => {
  it('has the catalogue check value', () => {
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
  it('continues over split input', () => {
    const a = ascii('12345');
    const b = ascii('6789');
    expect(crc32(b, crc32(a))).toBe(0xcbf43926);
  });
  it('matches a bit-at-a-time CRC from the polynomial on random lengths and offsets', () => {
    // The oracle shifts one bit at a time with the reflected polynomial 0xEDB88320 (no
    // tables); checked first against the catalogue value so the oracle itself is right.
    const bitwise = (bytes: Uint8Array): number => {
      let c = 0xffffffff;
      for (const b of bytes) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
      }
      return (c ^ 0xffffffff) >>> 0;
    };
    expect(bitwise(ascii('123456789'))).toBe(0xcbf43926);
    let seed = 12345; // a fixed LCG, so a failure reproduces
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8;
    const pool = new Uint8Array(70_000).map(() => next() & 0xff);
    // Short lengths cover every tail (0–7 bytes past the 8-byte blocks); offsets 0–7 put the
    // blocks at every alignment; a few long runs cover many blocks in a row.
    const cases: [number, number][] = [];
    for (let len = 0; len <= 40; len++) cases.push([len % 8, len]);
    for (let i = 0; i < 60; i++) cases.push([next() % 8, next() % 2000]);
    cases.push([3, 65_537], [0, 69_992], [7, 69_993]);
    for (const [off, len] of cases) {
      const bytes = pool.subarray(off, off + len);
      expect(crc32(bytes), `offset ${off} length ${len}`).toBe(bitwise(bytes));
    }
    // Continuing over a split at any point gives the CRC of the whole.
    const whole = pool.subarray(5, 5 + 1001);
    for (const cut of [0, 1, 7, 8, 9, 500, 1000, 1001]) {
      expect(crc32(whole.subarray(cut), crc32(whole.subarray(0, cut)))).toBe(bitwise(whole));
    }
    // Long inputs take zlib's CRC; continuing from a short prefix's CRC into it, and from its CRC
    // into a short tail, must agree with the whole as well.
    const long = pool.subarray(1, 1 + 69_000);
    for (const cut of [3, 5000, 68_990]) {
      expect(crc32(long.subarray(cut), crc32(long.subarray(0, cut))), `cut ${cut}`).toBe(bitwise(long));
    }
  });
});

describe('section filler', () => {
  // The oracle is the openssl command line, not Node's crypto: the key is the first 16 bytes of
  // `openssl dgst -sha256` of the name, and the filler is what `openssl enc -aes-128-ctr` makes
  // of zeros with a zero counter block.
  const reference = (name: string, length: number): Uint8Array => {
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-hex'], { input: name, encoding: 'utf8' });
    const key = /([0-9a-f]{64})\s*$/.exec(digest)![1]!.slice(0, 32);
    const out = execFileSync('openssl', ['enc', '-aes-128-ctr', '-K', key, '-iv', '0'.repeat(32), '-nosalt'], { input: Buffer.alloc(length) });
    return new Uint8Array(out);
  };
  it('gives the AES-128-CTR keystream openssl gives, at any length and buffer offset', () => {
    // The keystream starts from a zero counter, so each name's reference is a prefix of one long
    // run. 64 KiB and more cross the filler's internal chunk boundary; odd lengths end mid-block.
    // A name is made once per process and extended when a longer section asks for more: the
    // longer views after shorter ones continue it from mid-block and from a chunk boundary.
    const cases: Record<string, [number, number][]> = {
      'core.text': [[0, 0], [1, 3]],
      'stack:NET.text': [[3, 1001], [0, 70_001], [5, 999]],
      'kernel.text': [[0, 65_536], [2, 2 * 65_536 + 7]],
    };
    for (const [name, views] of Object.entries(cases)) {
      const ref = reference(name, Math.max(...views.map(([, len]) => len)));
      for (const [off, len] of views) {
        const host = new Uint8Array(off + len + 5).fill(0xa5);
        fillDeterministic(host.subarray(off, off + len), name);
        expect(Buffer.from(host.subarray(off, off + len)).equals(ref.subarray(0, len)), `${name} ${len} bytes at ${off}`).toBe(true);
        // Nothing written outside the given view.
        expect([...host.subarray(0, off), ...host.subarray(off + len)].every((b) => b === 0xa5)).toBe(true);
      }
    }
  });
});

describe('flash image', () => {
  const image = buildImage(spec);

  it('round-trips sections, names and the config', () => {
    const p = parsed(parseImage(image));
    expect(p.board).toBe('quark-2m');
    expect(p.profile).toBe('client');
    expect(p.length).toBe(image.length);
    expect(p.sections.map((s) => [s.name, s.kind, s.length])).toEqual(spec.sections.map((s) => [s.name, s.kind, s.size]));
    const bss = p.sections.find((s) => s.kind === 'bss')!;
    expect(bss.payload.length).toBe(0);
    const flashPayload = spec.sections.filter((s) => s.kind !== 'bss').reduce((a, s) => a + s.size, 0);
    expect(image.length).toBe(HEADER_BYTES + spec.sections.length * ENTRY_BYTES + flashPayload);
    const cfg = readConfigSection(p);
    expect(cfg).toEqual({ value: profile });
    const filler = new Uint8Array(700);
    fillDeterministic(filler, 'stack:NET.text');
    expect(p.sections[1]!.payload).toEqual(filler);
  });

  it('is deterministic and seeds filler from the section name', () => {
    expect(buildImage(spec)).toEqual(image);
    const a = new Uint8Array(64);
    const b = new Uint8Array(64);
    fillDeterministic(a, 'stack:NET.text');
    fillDeterministic(b, 'stack:INET.text');
    expect(a).not.toEqual(b);
  });

  it('names the section when any single payload byte is flipped', () => {
    const p = parsed(parseImage(image));
    let checked = 0;
    for (const s of p.sections) {
      for (let i = s.offset; i < s.offset + (s.kind === 'bss' ? 0 : s.length); i++) {
        const bad = image.slice();
        bad[i]! ^= 0x01 << (i % 8);
        expect(errorOf(parseImage(bad))).toBe(`flash image: CRC mismatch in section ${s.name}`);
        checked++;
      }
    }
    expect(checked).toBe(image.length - HEADER_BYTES - spec.sections.length * ENTRY_BYTES);
  });

  it('rejects a flip anywhere in the header or section table', () => {
    const end = HEADER_BYTES + spec.sections.length * ENTRY_BYTES;
    for (let i = 0; i < end; i++) {
      const bad = image.slice();
      bad[i]! ^= 0x80;
      errorOf(parseImage(bad));
    }
  });

  it('gives one-line errors for truncation, bad magic and trailing bytes', () => {
    expect(errorOf(parseImage(image.subarray(0, 10)))).toMatch(/truncated: 10 bytes, shorter than the 96-byte header/);
    expect(errorOf(parseImage(image.subarray(0, image.length - 1)))).toMatch(
      new RegExp(`truncated: header says ${image.length} bytes, have ${image.length - 1}`),
    );
    expect(errorOf(parseImage(new Uint8Array(0)))).toMatch(/truncated/);
    const magic = image.slice();
    magic.set(ascii('ELF\x7f'), 0);
    expect(errorOf(parseImage(magic))).toMatch(/bad magic 45 4c 46 7f \(expected 51 4c 46 57 "QLFW"\)/);
    const longer = new Uint8Array(image.length + 3);
    longer.set(image);
    expect(errorOf(parseImage(longer))).toMatch(/3 trailing bytes/);
  });

  it('parses images that sit at an offset inside a larger buffer (a flash part)', () => {
    const flash = new Uint8Array(image.length + 100).fill(0xff);
    flash.set(image, 100);
    expect(parsed(parseImage(flash.subarray(100))).sections.length).toBe(spec.sections.length);
  });

  it('describes the image like size -A', () => {
    const text = describeImage(parsed(parseImage(image)));
    console.log(text);
    expect(text.split('\n')[0]).toContain('"client" for board "quark-2m"');
    for (const s of spec.sections) expect(text).toContain(s.name);
    expect(text).toMatch(/stack:NET\.bss\s+bss\s+A-WN-\s+-\s+4096/);
  });

  it('refuses unusable specs with a reason', () => {
    const long = 'x'.repeat(33);
    expect(checkImageSpec({ ...spec, board: long })).toMatch(/board name/);
    expect(checkImageSpec({ ...spec, sections: [...spec.sections, spec.sections[1]!] })).toMatch(/duplicate section name stack:NET.text/);
    expect(checkImageSpec({ ...spec, sections: [{ name: 'b', kind: 'bss', size: 1, bytes: new Uint8Array(1) }] })).toMatch(/bss/);
    expect(checkImageSpec({ ...spec, sections: [{ name: 'has space', kind: 'text', size: 1 }] })).toMatch(/without spaces/);
    expect(() => buildImage({ ...spec, profile: '' })).toThrow(RangeError);
  });
});

describe('an image built from a profile', () => {
  it('carries one text/data/bss section per enabled symbol and the profile itself', () => {
    const table = loadCostTable();
    const client = loadProfile('client');
    if (isKconfigError(table) || isKconfigError(client)) throw new Error('fixtures failed to load');
    const cost = profileCost(client, table as CostTable);
    const sections: ImageSpec['sections'] = [configSection(client)];
    for (const s of cost.symbols) {
      for (const kind of ['text', 'data', 'bss'] as const) {
        if (s[kind] > 0) sections.push({ name: `stack:${s.symbol}.${kind}`, kind, size: s[kind] });
      }
    }
    const image = buildImage({ board: 'quark-2m', profile: client.name, sections });
    const p = parsed(parseImage(image));
    const cfg = readConfigSection(p);
    expect('value' in cfg && cfg.value).toEqual(client);
    const text = p.sections.filter((s) => s.kind === 'text').reduce((a, s) => a + s.length, 0);
    expect(text).toBe(cost.total.text);
    expect(image.length).toBeGreaterThan(cost.total.text + cost.total.data);
  });
});
