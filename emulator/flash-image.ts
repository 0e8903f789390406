/**
 * The flash image: what a profile build writes to the board's flash and the boot loader reads.
 *
 * The emulator knows nothing of TCP here: an image is a board name, a profile name and a list of
 * generic named sections. Section payloads are deterministic filler standing for code (a PRNG
 * seeded from the section name), except `config` sections, which carry real bytes (the profile
 * as msgpack). docs/image-format.md describes the same layout for people writing tools.
 *
 * Layout, all integers little-endian (the Quark is x86):
 *
 *   Header, 96 bytes
 *     0   4  magic "QLFW"
 *     4   2  format version (1)
 *     6   2  header length (96)
 *     8   4  image length: header + section table + payloads, in bytes
 *    12   2  section count (at most 1024)
 *    14   2  section table entry length (48)
 *    16  32  board name, printable ASCII, NUL-padded
 *    48  32  profile name, printable ASCII, NUL-padded
 *    80  12  reserved, zero
 *    92   4  header CRC: CRC-32 of bytes 0..91 followed by the whole section table
 *
 *   Section table, `count` entries of 48 bytes, right after the header
 *     0  32  name, printable ASCII without spaces, NUL-padded (1–32 bytes)
 *    32   1  kind: 1 text, 2 data, 3 bss, 4 init, 5 config
 *    33   1  reserved, zero
 *    34   2  flags: 0x01 ALLOC (in RAM after load), 0x02 EXEC, 0x04 WRITE,
 *                   0x08 NOBITS (no bytes in flash), 0x10 FREE_AFTER_BOOT; fixed per kind
 *    36   4  payload offset from the start of the image (0 for bss)
 *    40   4  length: payload bytes, or for bss the RAM it reserves
 *    44   4  payload CRC-32 (0 for bss)
 *
 *   Payloads, in table order, packed with no gaps from the end of the table to the image end.
 *
 * Every byte of an image is covered by exactly one CRC (header+table, or one payload), so a
 * flipped byte anywhere is caught, and a payload flip is reported by section name. CRC-32 is
 * CRC-32/ISO-HDLC (zlib, Ethernet FCS): reflected polynomial 0xEDB88320, init and final xor
 * 0xFFFFFFFF; check value 0xCBF43926 for "123456789".
 *
 * parseImage reads untrusted bytes: it checks every length before reading and returns a one-line
 * `{ error }`, never throws. buildImage takes a spec the program made; `checkImageSpec` returns
 * the one-line reason a spec is unusable, and buildImage throws only for such a spec.
 */
// msgpackr/pack: the same Packr, without probing for the native unpack add-on at load time.
import { Packr } from 'msgpackr/pack';
import { createCipheriv, createHash } from 'node:crypto';
import * as zlib from 'node:zlib';

export const IMAGE_MAGIC = 'QLFW';
export const IMAGE_VERSION = 1;
export const HEADER_BYTES = 96;
export const ENTRY_BYTES = 48;
export const NAME_BYTES = 32;
export const MAX_SECTIONS = 1024;
/** Far above any flash part quarklab models; bounds what buildImage will allocate. */
export const MAX_IMAGE_BYTES = 256 * 1024 * 1024;

export type SectionKind = 'text' | 'data' | 'bss' | 'init' | 'config';

const KIND_CODES: Readonly<Record<SectionKind, number>> = { text: 1, data: 2, bss: 3, init: 4, config: 5 };
const KIND_BY_CODE: readonly (SectionKind | undefined)[] = [undefined, 'text', 'data', 'bss', 'init', 'config'];

export const SHF_ALLOC = 0x01;
export const SHF_EXEC = 0x02;
export const SHF_WRITE = 0x04;
export const SHF_NOBITS = 0x08;
export const SHF_FREE_AFTER_BOOT = 0x10;

/** Flags follow from the kind; they are stored so a loader need not know the kinds. */
export const KIND_FLAGS: Readonly<Record<SectionKind, number>> = {
  text: SHF_ALLOC | SHF_EXEC,
  data: SHF_ALLOC | SHF_WRITE,
  bss: SHF_ALLOC | SHF_WRITE | SHF_NOBITS,
  init: SHF_ALLOC | SHF_EXEC | SHF_FREE_AFTER_BOOT, // .init.text/.init.data: freed after boot
  config: 0, // read from flash by the loader, never copied to RAM
};

export interface SectionSpec {
  name: string;
  kind: SectionKind;
  size: number;
  /** Real payload; without it the payload is filler. Not allowed for bss; required for config. */
  bytes?: Uint8Array;
}

export interface ImageSpec {
  board: string;
  profile: string;
  sections: SectionSpec[];
}

export interface ParsedSection {
  name: string;
  kind: SectionKind;
  flags: number;
  offset: number;
  length: number;
  crc: number;
  /** A view into the image (empty for bss). */
  payload: Uint8Array;
}

export interface ParsedImage {
  version: number;
  board: string;
  profile: string;
  length: number;
  headerCrc: number;
  sections: ParsedSection[];
}

export interface ImageError {
  error: string;
}

// ---- CRC-32/ISO-HDLC -----------------------------------------------------------------------

// Slicing-by-8 (Intel's method, as lib/crc32.c's CRC_LE_BITS 64): eight tables, so the loop
// folds eight bytes per step instead of one. Table 0 is the classic byte-wise table. The tables
// are Int32Array and the running value stays a signed 32-bit integer until the end: a
// Uint32Array element above 2^31 is a double in V8, and the optimised loop then bailed out
// ("lost precision") once per call — dozens of times for each image built or verified.
const CRC_TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/**
 * zlib's CRC-32 (Node 20.15+; the same CRC-32/ISO-HDLC, continued the same way). Native, it runs
 * 14× faster than the tables below over an image (0.23 against 3.1 ms per MiB here); for a
 * frame's few hundred bytes the call costs more than it saves, so short inputs stay in JS.
 */
const nativeCrc32: ((data: Uint8Array, value?: number) => number) | undefined = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
const NATIVE_CRC_MIN_BYTES = 4096;

/** CRC-32 of `bytes`; pass a previous result as `crc` to continue over more bytes. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const n = bytes.length;
  if (n >= NATIVE_CRC_MIN_BYTES && nativeCrc32 !== undefined) return nativeCrc32(bytes, crc);
  const end8 = n - (n & 7);
  // The two loops are separate functions so each is optimised whole (with its own type
  // feedback), not entered mid-loop and left into code that has never run.
  const c = crc32Tail(bytes, end8, n, crc32Blocks(bytes, end8, ~crc));
  return ~c >>> 0;
}

/** Eight bytes per step over bytes[0, end8); `c` is the running (inverted) CRC as an int32. */
function crc32Blocks(bytes: Uint8Array, end8: number, c: number): number {
  const t = CRC_TABLES;
  for (let i = 0; i < end8; i += 8) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    const hi = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
    c =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + (hi & 0xff)]! ^
      t[512 + ((hi >>> 8) & 0xff)]! ^
      t[256 + ((hi >>> 16) & 0xff)]! ^
      t[hi >>> 24]!;
  }
  return c;
}

/** Byte-wise over bytes[from, n). */
function crc32Tail(bytes: Uint8Array, from: number, n: number, c: number): number {
  const t = CRC_TABLES;
  for (let i = from; i < n; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c;
}

// ---- building ------------------------------------------------------------------------------

/** Why a spec cannot be built (one line), or null. */
export function checkImageSpec(spec: ImageSpec): string | null {
  const nameErr = (what: string, s: string, spaces: boolean): string | null => {
    const re = spaces ? /^[\x20-\x7e]{1,32}$/ : /^[\x21-\x7e]{1,32}$/;
    return re.test(s) ? null : `${what} ${JSON.stringify(s.slice(0, 40))} must be 1–${NAME_BYTES} printable ASCII characters${spaces ? '' : ' without spaces'}`;
  };
  const e = nameErr('board name', spec.board, true) ?? nameErr('profile name', spec.profile, true);
  if (e) return e;
  if (spec.sections.length > MAX_SECTIONS) return `too many sections (${spec.sections.length}; at most ${MAX_SECTIONS})`;
  const seen = new Set<string>();
  let total = HEADER_BYTES + spec.sections.length * ENTRY_BYTES;
  for (const s of spec.sections) {
    const ne = nameErr('section name', s.name, false);
    if (ne) return ne;
    if (seen.has(s.name)) return `duplicate section name ${s.name}`;
    seen.add(s.name);
    if (!(s.kind in KIND_CODES)) return `section ${s.name}: unknown kind ${String(s.kind)}`;
    if (!Number.isSafeInteger(s.size) || s.size < 0 || s.size > MAX_IMAGE_BYTES) return `section ${s.name}: bad size ${s.size}`;
    if (s.kind === 'bss' && s.bytes) return `section ${s.name}: bss has no payload bytes`;
    if (s.kind === 'config' && !s.bytes) return `section ${s.name}: a config section needs its bytes`;
    if (s.bytes && s.bytes.length !== s.size) return `section ${s.name}: size ${s.size} but ${s.bytes.length} bytes given`;
    if (s.kind !== 'bss') total += s.size;
    if (total > MAX_IMAGE_BYTES) return `image larger than ${MAX_IMAGE_BYTES} bytes`;
  }
  return null;
}

export function buildImage(spec: ImageSpec): Uint8Array {
  const problem = checkImageSpec(spec);
  if (problem) throw new RangeError(`buildImage: ${problem}`);

  const tableEnd = HEADER_BYTES + spec.sections.length * ENTRY_BYTES;
  const length = tableEnd + spec.sections.reduce((a, s) => a + (s.kind === 'bss' ? 0 : s.size), 0);
  const image = new Uint8Array(length);
  const view = new DataView(image.buffer);

  writeAscii(image, 0, IMAGE_MAGIC, 4);
  view.setUint16(4, IMAGE_VERSION, true);
  view.setUint16(6, HEADER_BYTES, true);
  view.setUint32(8, length, true);
  view.setUint16(12, spec.sections.length, true);
  view.setUint16(14, ENTRY_BYTES, true);
  writeAscii(image, 16, spec.board, NAME_BYTES);
  writeAscii(image, 48, spec.profile, NAME_BYTES);

  let cursor = tableEnd;
  spec.sections.forEach((s, i) => {
    const e = HEADER_BYTES + i * ENTRY_BYTES;
    writeAscii(image, e, s.name, NAME_BYTES);
    image[e + 32] = KIND_CODES[s.kind];
    view.setUint16(e + 34, KIND_FLAGS[s.kind], true);
    view.setUint32(e + 40, s.size, true);
    if (s.kind === 'bss') return; // offset 0, crc 0: nothing in flash
    const payload = image.subarray(cursor, cursor + s.size);
    if (s.bytes) payload.set(s.bytes);
    else fillDeterministic(payload, s.name);
    view.setUint32(e + 36, cursor, true);
    view.setUint32(e + 44, crc32(payload), true);
    cursor += s.size;
  });

  view.setUint32(92, headerCrc(image, spec.sections.length), true);
  return image;
}

/**
 * Filler standing for code: the AES-128-CTR keystream (counter block from zero) under a key
 * that is the first 16 bytes of SHA-256 of the section name, so the same section always has the
 * same bytes and different sections differ. AES and SHA-256 are OpenSSL's own, native code: a
 * full image's megabyte of filler takes well under a millisecond, where a JavaScript generator
 * ran cold (a fresh process or worker builds each image once) at tens of milliseconds.
 */
export function fillDeterministic(out: Uint8Array, name: string): void {
  if (out.length === 0) return;
  let at = 0;
  for (const chunk of keystreamOf(name, out.length).chunks) {
    if (at >= out.length) break;
    const n = Math.min(chunk.length, out.length - at);
    out.set(n === chunk.length ? chunk : chunk.subarray(0, n), at);
    at += n;
  }
}

/**
 * A name's keystream so far and the cipher that continues it. Images a process builds share
 * section names — both boards of a run have the kernel core's sections, a test plan's profiles
 * most of the stack's — and the same name always has the same bytes, so each is made once: the
 * next image copies them. What is kept is bounded; past the bound it starts over.
 */
interface Keystream {
  cipher: ReturnType<typeof createCipheriv>;
  chunks: Uint8Array[];
  length: number;
}
const keystreams = new Map<string, Keystream>();
let keystreamBytesKept = 0;
const KEYSTREAM_CHUNK = 64 * 1024;
const KEYSTREAM_BYTES_KEPT = 16 * 1024 * 1024;

/** `name`'s keystream, at least `length` bytes of it (kept for the next image when it fits the bound). */
function keystreamOf(name: string, length: number): Keystream {
  if (length > KEYSTREAM_BYTES_KEPT) return extend(newKeystream(name), length, false);
  let ks = keystreams.get(name);
  const more = length - (ks ? ks.length : 0);
  if (more > 0 && keystreamBytesKept + more > KEYSTREAM_BYTES_KEPT) {
    keystreams.clear();
    keystreamBytesKept = 0;
    ks = undefined;
  }
  if (!ks) {
    ks = newKeystream(name);
    keystreams.set(name, ks);
  }
  return extend(ks, length, true);
}

function newKeystream(name: string): Keystream {
  const key = createHash('sha256').update(name, 'utf8').digest().subarray(0, 16);
  return { cipher: createCipheriv('aes-128-ctr', key, ZERO_BLOCK), chunks: [], length: 0 };
}

/** Make `ks` at least `length` bytes long. */
function extend(ks: Keystream, length: number, kept: boolean): Keystream {
  // CTR is a stream: OpenSSL carries a part-used counter block from one update to the next, so
  // the keystream continues exactly wherever the last piece ended.
  while (ks.length < length) {
    const n = Math.min(KEYSTREAM_CHUNK, length - ks.length);
    const chunk = ks.cipher.update(n === KEYSTREAM_CHUNK ? KEYSTREAM_ZEROS : KEYSTREAM_ZEROS.subarray(0, n));
    ks.chunks.push(chunk);
    ks.length += chunk.length;
    if (kept) keystreamBytesKept += chunk.length;
  }
  return ks;
}

const ZERO_BLOCK = new Uint8Array(16);
const KEYSTREAM_ZEROS = new Uint8Array(KEYSTREAM_CHUNK);
// Typed-array views over image and frame bytes read multi-byte integers in host order.
if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1) throw new Error('quarklab needs a little-endian host');

// ---- parsing -------------------------------------------------------------------------------

export function parseImage(bytes: Uint8Array): ParsedImage | ImageError {
  const fail = (msg: string): ImageError => ({ error: `flash image: ${msg}` });
  if (bytes.length < HEADER_BYTES) return fail(`truncated: ${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  const magic = bytes.subarray(0, 4);
  if (readAscii(magic) !== IMAGE_MAGIC) return fail(`bad magic ${hex(magic)} (expected ${hex(new TextEncoder().encode(IMAGE_MAGIC))} "${IMAGE_MAGIC}")`);
  const version = view.getUint16(4, true);
  if (version !== IMAGE_VERSION) return fail(`unsupported format version ${version} (this quarklab reads ${IMAGE_VERSION})`);
  const headerLen = view.getUint16(6, true);
  const entryLen = view.getUint16(14, true);
  if (headerLen !== HEADER_BYTES || entryLen !== ENTRY_BYTES) {
    return fail(`header length ${headerLen} / entry length ${entryLen}, expected ${HEADER_BYTES} / ${ENTRY_BYTES}`);
  }
  const length = view.getUint32(8, true);
  if (bytes.length < length) return fail(`truncated: header says ${length} bytes, have ${bytes.length}`);
  if (bytes.length > length) return fail(`${bytes.length - length} trailing bytes after the ${length} the header declares`);
  const count = view.getUint16(12, true);
  if (count > MAX_SECTIONS) return fail(`${count} sections (at most ${MAX_SECTIONS})`);
  const tableEnd = HEADER_BYTES + count * ENTRY_BYTES;
  if (tableEnd > length) return fail(`section table (${count} entries) runs past the end of the ${length}-byte image`);

  const storedCrc = view.getUint32(92, true);
  if (headerCrc(bytes, count) !== storedCrc) return fail('CRC mismatch in header/section table');
  if (bytes.subarray(80, 92).some((b) => b !== 0)) return fail('reserved header bytes are not zero');
  const board = readName(bytes.subarray(16, 48), true);
  if (board === null) return fail('bad board name in header');
  const profile = readName(bytes.subarray(48, 80), true);
  if (profile === null) return fail('bad profile name in header');

  const sections: ParsedSection[] = [];
  const seen = new Set<string>();
  let cursor = tableEnd;
  for (let i = 0; i < count; i++) {
    const e = HEADER_BYTES + i * ENTRY_BYTES;
    const name = readName(bytes.subarray(e, e + NAME_BYTES), false);
    if (name === null) return fail(`bad name in section table entry ${i}`);
    if (seen.has(name)) return fail(`duplicate section name ${name}`);
    seen.add(name);
    const kind = KIND_BY_CODE[bytes[e + 32]!];
    if (!kind) return fail(`section ${name}: unknown kind ${bytes[e + 32]}`);
    if (bytes[e + 33] !== 0) return fail(`section ${name}: reserved byte is not zero`);
    const flags = view.getUint16(e + 34, true);
    if (flags !== KIND_FLAGS[kind]) return fail(`section ${name}: flags 0x${flags.toString(16)} do not match kind ${kind} (0x${KIND_FLAGS[kind].toString(16)})`);
    const offset = view.getUint32(e + 36, true);
    const len = view.getUint32(e + 40, true);
    const crc = view.getUint32(e + 44, true);
    if (kind === 'bss') {
      if (offset !== 0 || crc !== 0) return fail(`section ${name}: bss must have offset 0 and CRC 0`);
      sections.push({ name, kind, flags, offset, length: len, crc, payload: bytes.subarray(0, 0) });
      continue;
    }
    if (offset !== cursor) return fail(`section ${name}: payload at offset ${offset}, expected ${cursor} (payloads are packed in table order)`);
    if (len > length - offset) return fail(`section ${name}: ${len}-byte payload at offset ${offset} runs past the end of the ${length}-byte image`);
    const payload = bytes.subarray(offset, offset + len);
    if (crc32(payload) !== crc) return fail(`CRC mismatch in section ${name}`);
    sections.push({ name, kind, flags, offset, length: len, crc, payload });
    cursor += len;
  }
  if (cursor !== length) return fail(`${length - cursor} bytes after the last payload belong to no section`);
  return { version, board, profile, length, headerCrc: storedCrc, sections };
}

/** A human table of the image, in the spirit of `size -A`. */
export function describeImage(parsed: ParsedImage): string {
  const rows = parsed.sections.map((s) => [
    s.name,
    s.kind,
    flagLetters(s.flags),
    s.kind === 'bss' ? '-' : String(s.offset),
    String(s.length),
    s.kind === 'bss' ? '-' : `0x${s.crc.toString(16).padStart(8, '0')}`,
  ]);
  const head = ['section', 'kind', 'flags', 'offset', 'size', 'crc32'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const fmt = (r: string[]): string =>
    r.map((cell, c) => (c <= 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  const sum = (pred: (s: ParsedSection) => boolean): number =>
    parsed.sections.filter(pred).reduce((a, s) => a + s.length, 0);
  return [
    `flash image "${parsed.profile}" for board "${parsed.board}": format ${parsed.version}, ${parsed.length} bytes, ${parsed.sections.length} sections`,
    fmt(head),
    ...rows.map(fmt),
    `flash ${parsed.length}  RAM at load ${sum((s) => (s.flags & SHF_ALLOC) !== 0)}  ` +
      `of which bss ${sum((s) => (s.flags & SHF_NOBITS) !== 0)}, freed after boot ${sum((s) => (s.flags & SHF_FREE_AFTER_BOOT) !== 0)}`,
    'flags: A alloc, X exec, W write, N nobits (no flash bytes), F freed after boot',
  ].join('\n');
}

// ---- the config section --------------------------------------------------------------------

// Records off: plain msgpack maps, readable by any msgpack tool and the same bytes every run.
const packr = new Packr({ useRecords: false });

/** A `config` section holding `value` (e.g. the profile) as msgpack. */
export function configSection(value: unknown, name = 'config'): SectionSpec {
  const bytes = packr.pack(value);
  return { name, kind: 'config', size: bytes.length, bytes: new Uint8Array(bytes) };
}

/** Decode a config section of a parsed (so CRC-checked) image. */
export function readConfigSection(parsed: ParsedImage, name = 'config'): { value: unknown } | ImageError {
  const s = parsed.sections.find((x) => x.name === name);
  if (!s) return { error: `flash image: no section ${name}` };
  if (s.kind !== 'config') return { error: `flash image: section ${name} is ${s.kind}, not config` };
  try {
    return { value: packr.unpack(s.payload) };
  } catch (e) {
    return { error: `flash image: section ${name} is not valid msgpack (${(e as Error).message.split('\n')[0]})` };
  }
}

// ---- helpers -------------------------------------------------------------------------------

function headerCrc(image: Uint8Array, count: number): number {
  const tableEnd = HEADER_BYTES + count * ENTRY_BYTES;
  return crc32(image.subarray(HEADER_BYTES, tableEnd), crc32(image.subarray(0, 92)));
}

function writeAscii(out: Uint8Array, at: number, s: string, width: number): void {
  for (let i = 0; i < s.length && i < width; i++) out[at + i] = s.charCodeAt(i);
}

function readAscii(b: Uint8Array): string {
  return String.fromCharCode(...b);
}

/** A NUL-padded name: printable ASCII, at least one character, nothing but NULs after the end. */
function readName(b: Uint8Array, spaces: boolean): string | null {
  let end = b.indexOf(0);
  if (end === -1) end = b.length;
  if (end === 0) return null;
  for (let i = end; i < b.length; i++) if (b[i] !== 0) return null;
  const lo = spaces ? 0x20 : 0x21;
  for (let i = 0; i < end; i++) if (b[i]! < lo || b[i]! > 0x7e) return null;
  return readAscii(b.subarray(0, end));
}

function flagLetters(flags: number): string {
  return (
    (flags & SHF_ALLOC ? 'A' : '-') +
    (flags & SHF_EXEC ? 'X' : '-') +
    (flags & SHF_WRITE ? 'W' : '-') +
    (flags & SHF_NOBITS ? 'N' : '-') +
    (flags & SHF_FREE_AFTER_BOOT ? 'F' : '-')
  );
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}
