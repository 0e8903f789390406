/**
 * Calibrating the cost model to a team's own kernel: read what binutils' `size` and `pahole`
 * print for a build and write a cost table of the shape of calibration/linux-6.1-i386.json.
 *
 *   size OBJECTS        Berkeley format, one line per object:
 *                          text    data     bss     dec     hex filename
 *                          58112     116       8   58236    e37c net/ipv4/tcp.o
 *                       paths as the build tree has them (`./net/…`, an O= build directory
 *                       prefix, or `x.o (ex net/built-in.a)` for archive members) are
 *                       normalised to `net/ipv4/tcp.o`.
 *   pahole -C S vmlinux `struct sk_buff {` … `/* size: 176, cachelines: 3, members: 28 *\/` … `};`
 *   size vmlinux; size -A vmlinux
 *                       per named build (tiny, core …): Berkeley text/data/bss and the
 *                       sections, as the kernel core of a board.
 *
 * Every input is untrusted text: lengths are bounded, every figure is checked (dec against
 * text+data+bss, hex against dec, section sums against Total) and every problem comes back as
 * one `{ error }` line naming the file and line. Nothing is guessed: objects, structs and builds
 * the listings lack are taken from the default table only when the caller asks for it
 * (`base`), and the table's `source` field says where every entry came from.
 */
import type { CostTable, SectionSizes, VmlinuxBuild } from '../stack/kconfig/cost-table.js';
import type { KconfigError } from '../stack/kconfig/kconfig.js';

/** A listing is text a person pasted or a tool wrote: a build's `size` output is a few thousand lines. */
export const MAX_LISTING_BYTES = 16 * 1024 * 1024;
const MAX_LINE_CHARS = 4096;
const MAX_ENTRIES = 20000;
const MAX_OBJECT_BYTES = 0xffffffff;
/** KMALLOC_MAX_SIZE on i386 (MAX_ORDER 11, 4 KiB pages): no slab object is larger. */
const MAX_STRUCT_BYTES = 4 * 1024 * 1024;

/** Top-level directories of a Linux source tree: where an object path starts. */
const KERNEL_TOP_DIRS = new Set([
  'arch', 'block', 'certs', 'crypto', 'drivers', 'fs', 'init', 'io_uring', 'ipc', 'kernel', 'lib', 'mm',
  'net', 'rust', 'samples', 'security', 'sound', 'usr', 'virt',
]);

export interface InputFile {
  /** As the user named it: it appears in every error and in `source`. */
  file: string;
  text: string;
}

export interface ObjectSize extends SectionSizes {
  object: string;
  line: number;
}

export interface SizeListing {
  objects: ObjectSize[];
  /** The build-directory prefix stripped from the paths, if any. */
  buildDir: string | null;
}

export interface SizeListingOptions {
  /** Strip this prefix (an O= build directory) instead of working it out. */
  buildDir?: string;
  /** Object names a cost table already knows: when the build directory is ambiguous, the
   * reading that names more of them wins. */
  knownObjects?: ReadonlySet<string>;
}

export interface StructSize {
  name: string;
  size: number;
  line: number;
}

export interface VmlinuxSize extends VmlinuxBuild {
  /** Line of the Berkeley `size` figures and of the `size -A` Total. */
  sizeLine: number;
  totalLine: number;
}

const fail = (file: string, line: number | null, msg: string): KconfigError => ({ error: line === null ? `${file}: ${msg}` : `${file}:${line}: ${msg}` });

/** Lines of an input, each checked for length; or the error. */
function linesOf(input: InputFile, what: string): string[] | KconfigError {
  if (input.text.length > MAX_LISTING_BYTES) return fail(input.file, null, `too large for ${what} (${input.text.length} characters; at most ${MAX_LISTING_BYTES})`);
  if (input.text.includes('\0')) return fail(input.file, null, `binary file, not ${what}`);
  const lines = input.text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.length > MAX_LINE_CHARS) return fail(input.file, i + 1, `line longer than ${MAX_LINE_CHARS} characters`);
  }
  return lines;
}

// ---- Berkeley `size` -------------------------------------------------------------------

const BERKELEY_HEADER = /^\s*text\s+data\s+bss\s+dec\s+hex\s+filename\s*$/;
const BERKELEY_LINE = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-fA-F]+)\s+(\S.*?)\s*$/;

interface BerkeleyLine extends SectionSizes {
  name: string;
}

/** One Berkeley data line, its dec and hex checked; null if the line is not one. */
function berkeley(file: string, n: number, line: string): BerkeleyLine | KconfigError | null {
  const m = BERKELEY_LINE.exec(line);
  if (!m) return null;
  const nums = [m[1]!, m[2]!, m[3]!, m[4]!];
  if (nums.some((x) => x.length > 15) || m[5]!.length > 13) return fail(file, n, 'number too large for a size');
  const [text, data, bss, dec] = nums.map(Number) as [number, number, number, number];
  if (dec !== text + data + bss) return fail(file, n, `dec ${dec} is not text+data+bss (${text}+${data}+${bss} = ${text + data + bss}); not \`size\` output, or edited`);
  const hex = parseInt(m[5]!, 16);
  if (hex !== dec) return fail(file, n, `hex ${m[5]} is not dec ${dec} (0x${dec.toString(16)})`);
  // An i386 object's sections have 32-bit sizes, and the whole must fit a 32-bit address space.
  if (dec > MAX_OBJECT_BYTES) return fail(file, n, `${m[6]} is ${dec} bytes; an i386 object is smaller than 4 GiB (${MAX_OBJECT_BYTES + 1})`);
  return { text, data, bss, name: m[6]! };
}

/** Berkeley `size` output of a build's objects → object sizes under normalised paths. */
export function parseSizeListing(input: InputFile, opts: SizeListingOptions = {}): SizeListing | KconfigError {
  const { file } = input;
  const lines = linesOf(input, '`size` output');
  if ('error' in lines) return lines;
  const raw: { path: string; sizes: SectionSizes; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!;
    if (line.trim() === '' || BERKELEY_HEADER.test(line)) continue;
    const b = berkeley(file, n, line);
    if (b === null) {
      return fail(file, n, `cannot parse ${quote(line)}; expected \`size\` (Berkeley) output: '   text    data     bss     dec     hex filename'`);
    }
    if ('error' in b) return b;
    if (b.name === '(TOTALS)') continue; // size --totals
    const path = b.name.replace(/\s+\(ex [^()]*\)$/, ''); // archive member: "tcp.o (ex net/built-in.a)"
    if (!path.endsWith('.o')) return fail(file, n, `${quote(path)} is not an object file (.o); list the build's objects, e.g. size $(find net drivers/net -name '*.o')`);
    if (/\s/.test(path)) return fail(file, n, `object path ${quote(path)} contains white space`);
    raw.push({ path, sizes: { text: b.text, data: b.data, bss: b.bss }, line: n });
    if (raw.length > MAX_ENTRIES) return fail(file, n, `more than ${MAX_ENTRIES} objects`);
  }
  if (raw.length === 0) return fail(file, null, 'no object lines; expected `size` (Berkeley) output of the kernel build\'s .o files');

  const prefix = buildDirPrefix(file, raw, opts);
  if (typeof prefix === 'object' && prefix !== null) return prefix;

  const objects: ObjectSize[] = [];
  const seen = new Map<string, ObjectSize>();
  for (const r of raw) {
    const object = normalise(r.path, prefix);
    if (object === null) {
      return fail(file, r.line, prefix === null
        ? `${quote(r.path)} is not a path in a kernel tree (net/…, drivers/…)`
        : `${quote(r.path)} is not a kernel-tree path under the build directory ${quote(prefix)}`);
    }
    const prev = seen.get(object);
    if (prev) {
      if (prev.text === r.sizes.text && prev.data === r.sizes.data && prev.bss === r.sizes.bss) continue;
      return fail(file, r.line, `${object} listed again with different sizes (first at line ${prev.line})`);
    }
    const o = { object, ...r.sizes, line: r.line };
    seen.set(object, o);
    objects.push(o);
  }
  objects.sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : 0));
  return { objects, buildDir: prefix };
}

function stripDot(path: string): string {
  let p = path.replace(/\/{2,}/g, '/');
  while (p.startsWith('./')) p = p.slice(2);
  return p;
}

function inTree(path: string): boolean {
  const first = path.split('/')[0]!;
  return KERNEL_TOP_DIRS.has(first) && path.includes('/');
}

/** The object's path in the tree, `prefix` removed; null if it is neither in-tree nor under it. */
function normalise(path: string, prefix: string | null): string | null {
  const p = stripDot(path);
  const rest = prefix !== null && p.startsWith(prefix) ? stripDot(p.slice(prefix.length)) : p;
  return inTree(rest) && !rest.split('/').includes('..') ? rest : null;
}

/** Where the kernel tree starts in each path: every prefix after which a top-level source
 * directory follows. */
function candidatePrefixes(path: string): string[] {
  const out: string[] = [];
  const parts = path.split('/');
  for (let i = 1; i < parts.length - 1; i++) {
    if (KERNEL_TOP_DIRS.has(parts[i]!)) out.push(parts.slice(0, i).join('/') + '/');
  }
  return out;
}

/**
 * The build directory prefixed to the paths, or null when every path is already in-tree. All
 * paths come from one build, so the prefix is one that every prefixed path allows; when several
 * do (a build directory called /src/net/…, or only drivers/net objects), the one that turns
 * more paths into objects the cost table knows wins, then the shortest.
 */
function buildDirPrefix(
  file: string,
  raw: readonly { path: string; line: number }[],
  opts: SizeListingOptions,
): string | null | KconfigError {
  if (opts.buildDir !== undefined) {
    const d = stripDot(opts.buildDir.trim());
    if (d === '' || d === '.' || d === '/') return null;
    return d.endsWith('/') ? d : d + '/';
  }
  let common: string[] | null = null;
  let firstLine = 0;
  for (const r of raw) {
    const p = stripDot(r.path);
    if (inTree(p)) continue;
    const c = candidatePrefixes(p);
    if (c.length === 0) {
      return fail(file, r.line, `cannot tell where the kernel tree starts in ${quote(r.path)}; pass --build-dir DIR (the directory the paths are relative to)`);
    }
    if (common === null) {
      common = c;
      firstLine = r.line;
      continue;
    }
    const next: string[] = common.filter((x) => c.includes(x));
    if (next.length === 0) {
      return fail(file, r.line, `${quote(r.path)} is not in the same build directory as line ${firstLine}; list one build, or pass --build-dir DIR`);
    }
    common = next;
  }
  if (common === null) return null;
  if (common.length === 1) return common[0]!;
  const known = opts.knownObjects ?? new Set<string>();
  const score = (prefix: string): number => raw.filter((r) => known.has(normalise(r.path, prefix) ?? '')).length;
  const ranked = common.map((p) => ({ p, s: score(p) })).sort((a, b) => b.s - a.s || a.p.length - b.p.length);
  return ranked[0]!.p;
}

// ---- pahole ----------------------------------------------------------------------------

const PAHOLE_OPEN = /^(struct|union)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{\s*$/;
/** The size comment of the outermost type: one level of indentation (pahole uses a tab). */
const PAHOLE_SIZE = /^(?:\t| {8})\/\*\s*size:\s*(\d+),\s*cachelines:/;

/**
 * `pahole` output → the size of each struct (or union) it prints.
 *
 * pahole (dwarves 1.24, as Debian ships it) closes every struct with a `/* size: N, cachelines:
 * … *\/` summary but prints none for a top-level union (test/fixtures/calibrate/real/
 * structs.pahole, from a real run). A union's size is not recoverable from its member lines
 * alone (tail padding to the strictest member's alignment is not shown), and the stack
 * allocates no unions, so a union without a summary is read and skipped, not guessed at; one
 * with a summary is recorded like a struct.
 */
export function parsePahole(input: InputFile): StructSize[] | KconfigError {
  const { file } = input;
  const lines = linesOf(input, 'pahole output');
  if ('error' in lines) return lines;
  const out: StructSize[] = [];
  const seen = new Map<string, StructSize>();
  let open: { kind: string; name: string; line: number; size: number | null } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!;
    if (open === null) {
      const m = PAHOLE_OPEN.exec(line);
      if (m) {
        open = { kind: m[1]!, name: m[2]!, line: n, size: null };
        continue;
      }
      const t = line.trim();
      if (t === '' || (t.startsWith('/*') && t.endsWith('*/'))) continue;
      return fail(file, n, `expected 'struct NAME {' (pahole output), found ${quote(line)}`);
    }
    if (line.startsWith('}')) {
      if (open.size === null && open.kind === 'union') {
        open = null;
        continue;
      }
      if (open.size === null) return fail(file, open.line, `struct ${open.name} has no '/* size: N, cachelines: …' line before its closing brace at line ${n}`);
      const prev = seen.get(open.name);
      if (prev && prev.size !== open.size) return fail(file, open.line, `struct ${open.name} again with size ${open.size} (size ${prev.size} at line ${prev.line})`);
      if (!prev) {
        const s = { name: open.name, size: open.size, line: open.line };
        seen.set(open.name, s);
        out.push(s);
        if (out.length > MAX_ENTRIES) return fail(file, n, `more than ${MAX_ENTRIES} structs`);
      }
      open = null;
      continue;
    }
    const sz = PAHOLE_SIZE.exec(line);
    if (sz && open.size === null) {
      if (sz[1]!.length > 12) return fail(file, n, 'struct size too large');
      open.size = Number(sz[1]);
      if (open.size === 0) return fail(file, n, `struct ${open.name} has size 0; a struct the stack allocates has at least one byte`);
      if (open.size > MAX_STRUCT_BYTES) return fail(file, n, `struct ${open.name} has size ${open.size}, more than KMALLOC_MAX_SIZE (${MAX_STRUCT_BYTES})`);
    }
  }
  if (open !== null) return fail(file, open.line, `struct ${open.name} is not closed (no '}' at the start of a line before the end of the file)`);
  if (out.length === 0) return fail(file, null, "no 'struct NAME {' blocks; expected pahole output, e.g. pahole -C sk_buff,tcp_sock vmlinux");
  return out;
}

// ---- vmlinux: `size` and `size -A` -----------------------------------------------------

/** Sections `size -A` lists that are never loaded: debug information and tool notes. */
const UNLOADED_SECTION = /^\.(z?debug|comment$|GCC\.command\.line$|note\.GNU-stack$|gnu_debuglink$|gnu_debugaltlink$)/;

/**
 * A vmlinux's Berkeley `size` line and its `size -A` listing, in one file
 * (`{ size vmlinux; size -A vmlinux; } > FILE`). Berkeley text, data and bss cannot be derived
 * from the section list (they depend on each section's flags), so both are required.
 */
export function parseVmlinuxSize(input: InputFile): VmlinuxSize | KconfigError {
  const { file } = input;
  const lines = linesOf(input, '`size` output of vmlinux');
  if ('error' in lines) return lines;
  let berk: (BerkeleyLine & { line: number }) | null = null;
  let aName: string | null = null;
  let inSections = false;
  let total: { value: number; line: number } | null = null;
  const listed: { name: string; size: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!;
    const t = line.trim();
    if (t === '' || BERKELEY_HEADER.test(line)) continue;
    const named = /^(\S.*?)\s+:\s*$/.exec(line);
    if (named) {
      if (aName !== null) return fail(file, n, `a second \`size -A\` listing (${quote(named[1]!)}); one vmlinux per file`);
      aName = named[1]!;
      continue;
    }
    if (/^section\s+size\s+addr\s*$/.test(t)) {
      if (aName === null || inSections || total) return fail(file, n, "'section size addr' header outside a `size -A` listing");
      inSections = true;
      continue;
    }
    const tot = /^Total\s+(\d+)\s*$/.exec(t);
    if (tot) {
      if (!inSections) return fail(file, n, "'Total' line outside a `size -A` listing");
      total = { value: Number(tot[1]), line: n };
      inSections = false;
      continue;
    }
    if (inSections) {
      const s = /^(\S+)\s+(\d+)\s+(\d+)\s*$/.exec(line);
      if (!s) return fail(file, n, `cannot parse section line ${quote(line)}; expected 'NAME SIZE ADDR' as \`size -A\` prints`);
      if (s[2]!.length > 12) return fail(file, n, 'section size too large');
      if (listed.some((x) => x.name === s[1])) return fail(file, n, `section ${s[1]} listed twice`);
      listed.push({ name: s[1]!, size: Number(s[2]) });
      if (listed.length > 10000) return fail(file, n, 'too many sections');
      continue;
    }
    const b = berkeley(file, n, line);
    if (b === null) return fail(file, n, `cannot parse ${quote(line)}; expected \`size vmlinux\` and \`size -A vmlinux\` output`);
    if ('error' in b) return b;
    if (berk) return fail(file, n, `a second Berkeley \`size\` line (first at line ${berk.line}); one vmlinux per file`);
    berk = { ...b, line: n };
  }
  if (inSections) return fail(file, lines.length, '`size -A` listing has no Total line');
  if (!berk) return fail(file, null, 'no Berkeley `size vmlinux` line (text data bss dec hex filename); write both: { size vmlinux; size -A vmlinux; } > FILE');
  if (aName === null || !total) return fail(file, null, 'no `size -A vmlinux` listing (per-section sizes); write both: { size vmlinux; size -A vmlinux; } > FILE');
  const listedSum = listed.reduce((s, x) => s + x.size, 0);
  if (listedSum !== total.value) return fail(file, total.line, `Total ${total.value} is not the sum of the sections listed (${listedSum})`);
  const base = (p: string): string => p.split('/').pop()!;
  if (base(berk.name) !== base(aName)) return fail(file, berk.line, `the \`size\` line is for ${quote(berk.name)} but the \`size -A\` listing is for ${quote(aName)}`);
  const sections: Record<string, number> = {};
  for (const s of listed) if (!UNLOADED_SECTION.test(s.name)) sections[s.name] = s.size;
  return { size: { text: berk.text, data: berk.data, bss: berk.bss }, sections, sizeLine: berk.line, totalLine: total.line };
}

// ---- the table -------------------------------------------------------------------------

export interface CalibrateInputs {
  size: InputFile;
  pahole?: InputFile;
  /** Named builds (tiny, core …): each a file with `size` and `size -A` of its vmlinux. */
  vmlinux?: readonly { name: string; input: InputFile }[];
  buildDir?: string;
  /** Fill what the listings lack from this table, marked as such in `source`. */
  base?: { path: string; table: CostTable };
  /** Names the prefix heuristic may match against (usually the default table's objects). */
  knownObjects?: ReadonlySet<string>;
}

/** The JSON written: the shape parseCostTable reads, plus `about` and `source`. */
export interface CalibratedTable {
  about: string;
  source: {
    tool: string;
    size: string;
    buildDir: string | null;
    pahole: string | null;
    vmlinux: Record<string, string>;
    baseDefaults: string | null;
    /** Where each entry came from: "FILE:LINE" of a listing, or "defaults: FILE". */
    objects: Record<string, string>;
    structs: Record<string, string>;
    builds: Record<string, string>;
    objects_tiny_ipv4?: string;
  };
  vmlinux: Record<string, VmlinuxBuild>;
  objects: { build: string; columns: string; sizes: Record<string, SectionSizes> };
  objects_tiny_ipv4?: { build: string; columns: string; note: string; sizes: Record<string, SectionSizes> };
  structs: { build: string; note: string; sizes: Record<string, number> };
}

export function calibrate(inputs: CalibrateInputs): CalibratedTable | KconfigError {
  const listing = parseSizeListing(inputs.size, {
    ...(inputs.buildDir !== undefined ? { buildDir: inputs.buildDir } : {}),
    ...(inputs.knownObjects ? { knownObjects: inputs.knownObjects } : {}),
  });
  if ('error' in listing) return listing;
  const structs = inputs.pahole ? parsePahole(inputs.pahole) : [];
  if ('error' in structs) return structs;
  const builds: { name: string; file: string; v: VmlinuxSize }[] = [];
  for (const { name, input } of inputs.vmlinux ?? []) {
    if (!/^[A-Za-z0-9_.+-]{1,64}$/.test(name)) return fail(input.file, null, `bad build name ${quote(name)} (letters, digits, _ . + -)`);
    if (builds.some((b) => b.name === name)) return fail(input.file, null, `build ${name} given twice`);
    const v = parseVmlinuxSize(input);
    if ('error' in v) return v;
    builds.push({ name, file: input.file, v });
  }
  const base = inputs.base;
  const defaults = base ? `defaults: ${base.path}` : '';

  const objectSizes: Record<string, SectionSizes> = {};
  const objectSource: Record<string, string> = {};
  for (const o of listing.objects) {
    objectSizes[o.object] = { text: o.text, data: o.data, bss: o.bss };
    objectSource[o.object] = `${inputs.size.file}:${o.line}`;
  }
  if (base) {
    for (const [name, s] of Object.entries(base.table.objects)) {
      if (objectSizes[name]) continue;
      objectSizes[name] = { ...s };
      objectSource[name] = defaults;
    }
  }
  const sortedObjects = sortKeys(objectSizes);

  const structSizes: Record<string, number> = {};
  const structSource: Record<string, string> = {};
  for (const s of structs) {
    structSizes[s.name] = s.size;
    structSource[s.name] = `${inputs.pahole!.file}:${s.line}`;
  }
  if (base) {
    for (const [name, size] of Object.entries(base.table.structs)) {
      if (name in structSizes) continue;
      structSizes[name] = size;
      structSource[name] = defaults;
    }
  }

  const vmlinux: Record<string, VmlinuxBuild> = {};
  const buildSource: Record<string, string> = {};
  for (const b of builds) {
    vmlinux[b.name] = { config: `calibrated from ${b.file}`, size: b.v.size, sections: b.v.sections };
    buildSource[b.name] = `${b.file}:${b.v.sizeLine}`;
  }
  if (base) {
    for (const [name, b] of Object.entries(base.table.vmlinux)) {
      if (vmlinux[name]) continue;
      vmlinux[name] = structuredClone(b);
      buildSource[name] = defaults;
    }
  }

  const table: CalibratedTable = {
    about:
      'Cost table written by `quarklab calibrate` from the listed `size` and `pahole` output of a kernel build. ' +
      'Figures are bytes; object text includes rodata (Berkeley size). `source` says where each entry came from.',
    source: {
      tool: 'quarklab calibrate',
      size: inputs.size.file,
      buildDir: listing.buildDir,
      pahole: inputs.pahole?.file ?? null,
      vmlinux: Object.fromEntries(builds.map((b) => [b.name, b.file])),
      baseDefaults: base?.path ?? null,
      objects: sortKeys(objectSource),
      structs: structSource,
      builds: buildSource,
    },
    vmlinux,
    objects: { build: `calibrated from ${inputs.size.file}`, columns: 'text (incl. rodata), data, bss', sizes: sortedObjects },
    structs: { build: inputs.pahole ? `calibrated from ${inputs.pahole.file}` : 'none given', note: 'sizeof from pahole', sizes: structSizes },
  };
  // linkComparison sets the default tiny+ipv4 objects against the tiny and tiny+ipv4 builds:
  // keep them only when those builds are the defaults' too, or the comparison would mix kernels.
  if (base?.table.objectsTinyIpv4 && buildSource['tiny'] === defaults && buildSource['tiny+ipv4'] === defaults) {
    table.objects_tiny_ipv4 = {
      build: 'tiny+ipv4',
      columns: 'text (incl. rodata), data, bss',
      note: `from ${base.path}, with its tiny and tiny+ipv4 builds`,
      sizes: sortKeys(base.table.objectsTinyIpv4),
    };
    table.source.objects_tiny_ipv4 = defaults;
  }
  return table;
}

function sortKeys<T>(r: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k]!;
  return out;
}

function quote(s: string): string {
  const p = s.replace(/[^\x20-\x7e]/g, '?');
  return `'${p.length > 60 ? `${p.slice(0, 60)}…` : p}'`;
}
