/**
 * The cost model: what a profile costs in flash and RAM, from a cost table of measured sizes.
 *
 * The default table is calibration/linux-6.1-i386.json ("Linux 6.1 i386 -Os, measured"); a team
 * can pass its own file of the same shape (from `size` of its objects and vmlinux, `pahole` of
 * its structs) to calibrate to its kernel. The file is user input: it is validated and every
 * problem comes back as a one-line `{ error }`.
 *
 * A profile's cost is the sum of its symbols' objects (stack/kconfig/symbols.ts), with the two
 * stated shares (FIB_LIST, PACKET_MMAP) applied and labelled. Sums of objects are not a linked
 * kernel: see `linkComparison` — the factor is reported beside the sums, never folded into them.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../emulator/package-root.js';
import type { KconfigError, Profile } from './kconfig.js';
import { SYMBOLS, findSymbol, type KconfigSymbol, type ObjectShare, type ShareBasis } from './symbols.js';

export interface SectionSizes {
  text: number;
  data: number;
  bss: number;
}

export interface VmlinuxBuild {
  config?: string;
  /** Berkeley `size` of vmlinux. */
  size: SectionSizes;
  /** `size -A`, per section. */
  sections: Record<string, number>;
}

export interface CostTable {
  source: string;
  /** Per-object sizes of the full build (`objects.sizes`): the per-feature cost. */
  objects: Record<string, SectionSizes>;
  /** Per-object sizes of the tiny+ipv4 build, when the table has it (for `linkComparison`). */
  objectsTinyIpv4?: Record<string, SectionSizes>;
  vmlinux: Record<string, VmlinuxBuild>;
  /** pahole sizes of the structures the stack allocates. */
  structs: Record<string, number>;
}

export interface ObjectCost extends SectionSizes {
  object: string;
  /** Present when only part of the object is charged here. */
  share?: { fraction: number; basis: ShareBasis; why: string };
  /** The table has no such object: charged 0. */
  missing?: true;
}

export interface SymbolCost extends SectionSizes {
  symbol: string;
  objects: ObjectCost[];
}

export interface ProfileCost {
  profile: string;
  /** Enabled symbols in table order (BASE_SMALL appears with no objects). */
  symbols: SymbolCost[];
  /** Plain sum of the object sizes above. */
  total: SectionSizes;
  /** Objects the table lacks (charged 0), so a custom table's gaps are visible. */
  missing: string[];
  /** Linked-kernel text / summed object text, from the table's own builds (null if it lacks them). */
  linkFactor: number | null;
  /** total.text × linkFactor: an estimate for comparison only, not used in any sum. */
  linkedTextEstimate: number | null;
  note: string;
}

const MAX_TABLE_BYTES = 8 * 1024 * 1024;
const MAX_ENTRIES = 20000;

export function defaultCostTablePath(): string | KconfigError {
  try {
    return join(packageRoot(), 'calibration', 'linux-6.1-i386.json');
  } catch (e) {
    return { error: `cannot find quarklab's package root: ${(e as Error).message}` };
  }
}

let defaultTable: CostTable | undefined;

/** Load and validate a cost table; without a path, the shipped calibration. */
export function loadCostTable(path?: string): CostTable | KconfigError {
  if (path === undefined && defaultTable) return defaultTable;
  const file = path ?? defaultCostTablePath();
  if (typeof file !== 'string') return file;
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) return { error: `${file}: not a file` };
    if (st.size > MAX_TABLE_BYTES) return { error: `${file}: too large for a cost table (${st.size} bytes)` };
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { error: `${file}: cannot read cost table (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { error: `${file}: not JSON (${(e as Error).message.split('\n')[0]})` };
  }
  const table = parseCostTable(json, file);
  if (path === undefined && !('error' in table)) defaultTable = table;
  return table;
}

/** Validate the shape of a parsed cost table. */
export function parseCostTable(json: unknown, source: string): CostTable | KconfigError {
  const fail = (what: string): KconfigError => ({ error: `${source}: ${what}` });
  if (!isRecord(json)) return fail('not a JSON object');

  const objects = sizesMap(json.objects, 'objects');
  if (typeof objects === 'string') return fail(objects);
  let objectsTinyIpv4: Record<string, SectionSizes> | undefined;
  if (json.objects_tiny_ipv4 !== undefined) {
    const t = sizesMap(json.objects_tiny_ipv4, 'objects_tiny_ipv4');
    if (typeof t === 'string') return fail(t);
    objectsTinyIpv4 = t;
  }

  if (!isRecord(json.vmlinux)) return fail('vmlinux must be an object of builds');
  const vmlinux: Record<string, VmlinuxBuild> = {};
  for (const [name, b] of Object.entries(json.vmlinux)) {
    const where = `vmlinux[${JSON.stringify(name)}]`;
    if (!isRecord(b)) return fail(`${where} must be an object`);
    const size = sectionSizes(b.size, `${where}.size`);
    if (typeof size === 'string') return fail(size);
    if (!isRecord(b.sections)) return fail(`${where}.sections must be an object of section sizes`);
    const sections: Record<string, number> = {};
    for (const [sec, v] of Object.entries(b.sections)) {
      if (!isSize(v)) return fail(`${where}.sections[${JSON.stringify(sec)}] must be a non-negative integer`);
      sections[sec] = v;
    }
    vmlinux[name] = typeof b.config === 'string' ? { config: b.config, size, sections } : { size, sections };
  }

  if (!isRecord(json.structs) || !isRecord(json.structs.sizes)) return fail('structs.sizes must be an object of struct sizes');
  const structs: Record<string, number> = {};
  const structEntries = Object.entries(json.structs.sizes);
  if (structEntries.length > MAX_ENTRIES) return fail(`structs.sizes has too many entries (${structEntries.length})`);
  for (const [name, v] of structEntries) {
    if (!isSize(v)) return fail(`structs.sizes[${JSON.stringify(name)}] must be a non-negative integer`);
    structs[name] = v;
  }

  return objectsTinyIpv4 ? { source, objects, objectsTinyIpv4, vmlinux, structs } : { source, objects, vmlinux, structs };
}

const tableHashes = new WeakMap<CostTable, string>();

/**
 * SHA-256 (hex) of the table's figures — objects, tiny+ipv4 objects, vmlinux builds, structs —
 * as JSON with every object's keys sorted, so the same figures hash the same whatever the file's
 * layout or name. An image records the hash of the table it was built with (config section,
 * docs/image-format.md) and boot refuses an image whose sizes came from another table.
 */
export function costTableHash(table: CostTable): string {
  const hit = tableHashes.get(table);
  if (hit) return hit;
  const figures = { objects: table.objects, objectsTinyIpv4: table.objectsTinyIpv4 ?? null, vmlinux: table.vmlinux, structs: table.structs };
  const hash = createHash('sha256').update(canonicalJson(figures)).digest('hex');
  tableHashes.set(table, hash);
  return hash;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isRecord(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Cost of one symbol's objects, whether or not a profile enables it. */
export function symbolCost(name: string, table: CostTable): SymbolCost | undefined {
  const sym = findSymbol(name);
  if (!sym) return undefined;
  const objects: ObjectCost[] = sym.objects.map((object) => {
    const carver = carverOf(object);
    return carver ? remainderCost(table, object, carver) : objectCost(table, object);
  });
  if (sym.share) objects.push(objectCost(table, sym.share.object, sym.share));
  return { symbol: sym.name, ...sumSizes(objects), objects };
}

/** A profile's cost: per enabled symbol, its objects and their sizes; then the totals. */
export function profileCost(profile: Pick<Profile, 'name' | 'symbols'>, table: CostTable): ProfileCost {
  const symbols: SymbolCost[] = [];
  for (const s of SYMBOLS) {
    if (profile.symbols[s.name] === true) symbols.push(symbolCost(s.name, table)!);
  }
  const total = sumSizes(symbols);
  const missing = symbols.flatMap((s) => s.objects.filter((o) => o.missing).map((o) => o.object));
  const link = linkComparison(table);
  const factor = link ? link.factor : null;
  return {
    profile: profile.name,
    symbols,
    total,
    missing: [...new Set(missing)].sort(),
    linkFactor: factor,
    linkedTextEstimate: factor === null ? null : Math.round(total.text * factor),
    note: linkNote(link),
  };
}

function linkNote(link: LinkComparison | null): string {
  const head = 'Plain sums of object sizes (object text includes rodata), not a linked kernel.';
  if (!link) return `${head} This table has no tiny/tiny+ipv4 builds to compare against.`;
  const rodata =
    link.factorWithRodata === null
      ? ''
      : ` Caveat: in the shipped calibration, Berkeley size counts vmlinux .rodata under data while ` +
        `object text includes it; counting .rodata in (delta ${link.vmlinuxTextPlusRodataDelta}) the ` +
        `factor is ${link.factorWithRodata.toFixed(3)} (see linkComparison).`;
  return (
    `${head} The calibration says object sums overstate a linked kernel by about 5%: linkFactor ` +
    `${link.factor.toFixed(3)} = vmlinux text delta ${link.vmlinuxTextDelta} (tiny→tiny+ipv4) / object text ` +
    `${link.objectsText}. It is reported beside the sums and not applied to them.${rodata}`
  );
}

export interface LinkComparison {
  /** Sum of text over the tiny+ipv4 objects. */
  objectsText: number;
  /** Berkeley text of tiny+ipv4 minus that of tiny. */
  vmlinuxTextDelta: number;
  /** vmlinuxTextDelta / objectsText: the calibration's "about 5%" correction. */
  factor: number;
  /** The same delta with .rodata added: Berkeley `size` of these vmlinux images counts .rodata
   * under data, while object text includes it, so this is the like-for-like figure. */
  vmlinuxTextPlusRodataDelta: number | null;
  factorWithRodata: number | null;
}

/** How summed object text compares with the linked kernel, from the table's own tiny builds. */
export function linkComparison(table: CostTable): LinkComparison | null {
  const tiny = table.vmlinux['tiny'];
  const ipv4 = table.vmlinux['tiny+ipv4'];
  if (!tiny || !ipv4 || !table.objectsTinyIpv4) return null;
  const objectsText = sumSizes(Object.values(table.objectsTinyIpv4)).text;
  if (objectsText === 0) return null;
  const vmlinuxTextDelta = ipv4.size.text - tiny.size.text;
  const r0 = tiny.sections['.rodata'];
  const r1 = ipv4.sections['.rodata'];
  const withRodata = r0 === undefined || r1 === undefined ? null : vmlinuxTextDelta + (r1 - r0);
  return {
    objectsText,
    vmlinuxTextDelta,
    factor: vmlinuxTextDelta / objectsText,
    vmlinuxTextPlusRodataDelta: withRodata,
    factorWithRodata: withRodata === null ? null : withRodata / objectsText,
  };
}

/** linkComparison's factor, or null when the table lacks the builds to compute it. */
export function linkFactor(table: CostTable): number | null {
  return linkComparison(table)?.factor ?? null;
}

/** pahole size of a runtime structure (sk_buff, tcp_sock …), or undefined if the table lacks it. */
export function structSize(table: CostTable, name: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(table.structs, name) ? table.structs[name] : undefined;
}

export interface KernelCore {
  build: string;
  config?: string;
  /** Berkeley size of the whole vmlinux. */
  size: SectionSizes;
  /** The .init.* sections: loaded, run once, freed after boot. */
  initSections: Record<string, number>;
  init: number;
  /** .brk: a boot-time reservation for early page tables, returned (mostly) after boot. */
  brk: number;
  /** text + data + bss minus .init.* and .brk: what stays allocated once boot is done. */
  afterBoot: number;
  note: string;
}

/** The kernel without networking (or any named build) that a profile's stack sits on. */
export function kernelCore(table: CostTable, buildName: string): KernelCore | KconfigError {
  // Own keys only: a board naming "__proto__" or "constructor" must not find Object's.
  const b = Object.hasOwn(table.vmlinux, buildName) ? table.vmlinux[buildName] : undefined;
  if (!b) {
    return { error: `${table.source}: no vmlinux build '${buildName}' (has: ${Object.keys(table.vmlinux).join(', ')})` };
  }
  const initSections: Record<string, number> = {};
  for (const [name, v] of Object.entries(b.sections)) if (name.startsWith('.init.')) initSections[name] = v;
  const init = Object.values(initSections).reduce((a, v) => a + v, 0);
  const brk = b.sections['.brk'] ?? 0;
  const whole = b.size.text + b.size.data + b.size.bss;
  const core: KernelCore = {
    build: buildName,
    size: { ...b.size },
    initSections,
    init,
    brk,
    afterBoot: whole - init - brk,
    note:
      '.init.* is freed after boot; .brk is a boot-time reservation for early page tables, most of ' +
      'it returned at boot (afterBoot counts all of it as returned). In the shipped calibration ' +
      'Berkeley size counts .rodata under data, not text.',
  };
  if (b.config !== undefined) core.config = b.config;
  return core;
}

// ---- helpers -------------------------------------------------------------------------------

/** The symbol that carves a share out of `object`, if any (PACKET_MMAP out of af_packet.o). */
function carverOf(object: string): KconfigSymbol | undefined {
  return SYMBOLS.find((x) => x.share?.object === object && x.share.basis === 'carved');
}

/** A whole object, or the stated share of it, each section rounded to a byte. */
function objectCost(table: CostTable, object: string, share?: ObjectShare): ObjectCost {
  const size = Object.prototype.hasOwnProperty.call(table.objects, object) ? table.objects[object] : undefined;
  const f = share ? share.fraction : 1;
  const out: ObjectCost = size
    ? { object, text: Math.round(size.text * f), data: Math.round(size.data * f), bss: Math.round(size.bss * f) }
    : { object, text: 0, data: 0, bss: 0, missing: true };
  if (share) out.share = { fraction: share.fraction, basis: share.basis, why: share.why };
  return out;
}

/** What the owner of a carved object is charged: the whole minus the carver's share, so that
 * owner + carver add up to the object exactly. */
function remainderCost(table: CostTable, object: string, carver: KconfigSymbol): ObjectCost {
  const whole = objectCost(table, object);
  const part = objectCost(table, object, carver.share);
  const out: ObjectCost = { object, text: whole.text - part.text, data: whole.data - part.data, bss: whole.bss - part.bss };
  if (whole.missing) out.missing = true;
  const f = round4(1 - carver.share!.fraction);
  out.share = { fraction: f, basis: 'carved', why: `the rest of the object after CONFIG_${carver.name}'s share` };
  return out;
}

function sumSizes(items: readonly SectionSizes[]): SectionSizes {
  const t: SectionSizes = { text: 0, data: 0, bss: 0 };
  for (const i of items) {
    t.text += i.text;
    t.data += i.data;
    t.bss += i.bss;
  }
  return t;
}

function sizesMap(v: unknown, where: string): Record<string, SectionSizes> | string {
  if (!isRecord(v) || !isRecord(v.sizes)) return `${where}.sizes must be an object of {text, data, bss}`;
  const entries = Object.entries(v.sizes);
  if (entries.length > MAX_ENTRIES) return `${where}.sizes has too many entries (${entries.length})`;
  const out: Record<string, SectionSizes> = {};
  for (const [name, s] of entries) {
    const r = sectionSizes(s, `${where}.sizes[${JSON.stringify(name)}]`);
    if (typeof r === 'string') return r;
    out[name] = r;
  }
  return out;
}

function sectionSizes(v: unknown, where: string): SectionSizes | string {
  if (!isRecord(v)) return `${where} must be {text, data, bss}`;
  for (const k of ['text', 'data', 'bss'] as const) {
    if (!isSize(v[k])) return `${where}.${k} must be a non-negative integer`;
  }
  return { text: v.text as number, data: v.data as number, bss: v.bss as number };
}

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
