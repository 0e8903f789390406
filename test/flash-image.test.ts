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
