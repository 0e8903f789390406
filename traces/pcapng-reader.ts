// Bounds-checked pcapng reader for tests and tools (spec: draft-ietf-opsawg-pcapng).
// Captures may come from users, so bad input is reported as a returned
// PcapngError naming the byte offset, never thrown. Reads one little-endian
// section (what PcapngWriter emits); unknown block types are skipped as the
// spec asks (3.1), unknown options are ignored (3.5).

export interface PcapngSection {
  majorVersion: number;
  minorVersion: number;
  hardware?: string;        // shb_hardware (2)
  os?: string;              // shb_os (3)
  userApplication?: string; // shb_userappl (4)
  comment?: string;         // opt_comment (1)
}

export interface PcapngInterface {
  linkType: number;
  snaplen: number;
  name?: string;        // if_name (2)
  description?: string; // if_description (3)
  mac?: Uint8Array;     // if_MACaddr (6)
  speed?: bigint;       // if_speed (8), bits per second
  tsresol: number;      // if_tsresol (9) raw byte; 6 (microseconds) when absent
  tsoffsetSeconds?: bigint; // if_tsoffset (14)
}

export interface PcapngPacket {
  interfaceId: number;
  timestampNs: bigint;
  data: Uint8Array;
  originalLength: number;
  direction?: 'inbound' | 'outbound'; // epb_flags (2) bits 0-1
  flags?: number;                     // epb_flags, whole word
  comment?: string;                   // first opt_comment (1)
  dropCount?: bigint;                 // epb_dropcount (4)
}

export interface PcapngStatistics {
  interfaceId: number;
  timestampNs: bigint;
  startTimeNs?: bigint;     // isb_starttime (2)
  endTimeNs?: bigint;       // isb_endtime (3)
  received?: bigint;        // isb_ifrecv (4)
  dropped?: bigint;         // isb_ifdrop (5)
  filterAccepted?: bigint;  // isb_filteraccept (6)
  osDropped?: bigint;       // isb_osdrop (7)
  deliveredToUser?: bigint; // isb_usrdeliv (8)
  comment?: string;
}

export interface PcapngFile {
  ok: true;
  section: PcapngSection;
  interfaces: PcapngInterface[];
  packets: PcapngPacket[];
  statistics: PcapngStatistics[];
  skippedBlocks: number; // blocks of types this reader does not interpret
}

export interface PcapngError {
  ok: false;
  offset: number;
  message: string; // one line: "pcapng: offset N: problem"
}

const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 1;
const BT_ISB = 5;
const BT_EPB = 6;
const BOM_LE = 0x1a2b3c4d;
const BOM_SWAPPED = 0x4d3c2b1a; // the magic read little-endian from a big-endian section

const utf8 = new TextDecoder('utf-8');
const pad4 = (n: number): number => (n + 3) & ~3;
const hex = (n: number): string => '0x' + n.toString(16).padStart(8, '0');

/** Thrown only inside this module and turned into a returned PcapngError. */
class Corrupt {
  constructor(readonly offset: number, readonly problem: string) {}
}

interface RawOption {
  code: number;
  offset: number; // file offset of the option header, for messages
  value: Uint8Array;
}

/** Options list (spec 3.5) in [start, end) of the file; stops at opt_endofopt or the end. */
function readOptions(bytes: Uint8Array, dv: DataView, start: number, end: number): RawOption[] {
  const out: RawOption[] = [];
  let at = start;
  while (at < end) {
    if (end - at < 4) throw new Corrupt(at, `option header needs 4 bytes, ${end - at} left in block`);
    const code = dv.getUint16(at, true);
    const len = dv.getUint16(at + 2, true);
    if (code === 0) break; // opt_endofopt
    if (at + 4 + len > end) {
      throw new Corrupt(at, `option ${code} length ${len} runs past the block end`);
    }
    out.push({ code, offset: at, value: bytes.subarray(at + 4, at + 4 + len) });
    at += 4 + pad4(len);
  }
  return out;
}

function str(o: RawOption): string {
  return utf8.decode(o.value);
}

function fixedLen(o: RawOption, n: number, name: string): DataView {
  if (o.value.length !== n) {
    throw new Corrupt(o.offset, `${name} must be ${n} bytes, got ${o.value.length}`);
  }
  return new DataView(o.value.buffer, o.value.byteOffset, n);
}

function u64opt(o: RawOption, name: string): bigint {
  return fixedLen(o, 8, name).getBigUint64(0, true);
}

/** Timestamp options/fields: high 32 bits then low 32 bits (spec 4.3, 4.6). */
function ts64(dv: DataView, at: number): bigint {
  return (BigInt(dv.getUint32(at, true)) << 32n) | BigInt(dv.getUint32(at + 4, true));
}

/** Converts ticks of an interface's if_tsresol (spec 4.2) to nanoseconds since the epoch. */
function toNs(ticks: bigint, itf: PcapngInterface): bigint {
  const exp = BigInt(itf.tsresol & 0x7f);
  let ns: bigint;
  if (itf.tsresol & 0x80) ns = (ticks * 1_000_000_000n) >> exp; // 2^-exp seconds per tick
  else if (exp <= 9n) ns = ticks * 10n ** (9n - exp); // 10^-exp seconds per tick
  else ns = ticks / 10n ** (exp - 9n);
  return ns + (itf.tsoffsetSeconds ?? 0n) * 1_000_000_000n;
}

export function readPcapng(bytes: Uint8Array): PcapngFile | PcapngError {
  try {
    return parse(bytes);
  } catch (e) {
    if (e instanceof Corrupt) {
      return { ok: false, offset: e.offset, message: `pcapng: offset ${e.offset}: ${e.problem}` };
    }
    throw e; // a bug in this reader, not bad input
  }
}

export function isPcapngError(r: PcapngFile | PcapngError): r is PcapngError {
  return !r.ok;
}

function parse(bytes: Uint8Array): PcapngFile {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const file: PcapngFile = {
    ok: true,
    section: { majorVersion: 0, minorVersion: 0 },
    interfaces: [],
    packets: [],
    statistics: [],
    skippedBlocks: 0,
  };

  if (bytes.length < 12) {
    throw new Corrupt(0, `file is ${bytes.length} bytes, too short for a Section Header Block`);
  }
  const first = dv.getUint32(0, true);
  if (first !== BT_SHB) {
    const classic = [0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1].includes(first);
    throw new Corrupt(0, classic
      ? 'this is a classic pcap file, not pcapng'
      : `bad magic ${hex(first)}, expected Section Header Block ${hex(BT_SHB)}`);
  }
  const bom = dv.getUint32(8, true);
  if (bom === BOM_SWAPPED) throw new Corrupt(8, 'big-endian section is not supported');
  if (bom !== BOM_LE) throw new Corrupt(8, `bad byte-order magic ${hex(bom)}`);

  let at = 0;
  while (at < bytes.length) {
    // Generic block (spec 3.1): type, total length, body, total length again.
    if (bytes.length - at < 12) {
      throw new Corrupt(at, `truncated block header: ${bytes.length - at} bytes left, need 12`);
    }
    const type = dv.getUint32(at, true);
    const total = dv.getUint32(at + 4, true);
    if (total < 12 || total % 4 !== 0) {
      throw new Corrupt(at, `block ${hex(type)} has invalid total length ${total}`);
    }
    if (total > bytes.length - at) {
      throw new Corrupt(at, `truncated block ${hex(type)}: length ${total}, ${bytes.length - at} bytes left`);
    }
    const trailer = dv.getUint32(at + total - 4, true);
    if (trailer !== total) {
      throw new Corrupt(at + total - 4, `block ${hex(type)} trailing length ${trailer} != leading length ${total}`);
    }
    const body = at + 8;
    const end = at + total - 4;
    const need = (n: number, name: string): void => {
      if (end - body < n) throw new Corrupt(at, `${name} body is ${end - body} bytes, need at least ${n}`);
    };

    switch (type) {
      case BT_SHB: { // spec 4.1
        if (at !== 0) throw new Corrupt(at, 'more than one section is not supported');
        need(16, 'Section Header Block');
        const s = file.section;
        s.majorVersion = dv.getUint16(body + 4, true);
        s.minorVersion = dv.getUint16(body + 6, true);
        if (s.majorVersion !== 1) throw new Corrupt(body + 4, `unsupported pcapng major version ${s.majorVersion}`);
        for (const o of readOptions(bytes, dv, body + 16, end)) {
          if (o.code === 1) s.comment ??= str(o);
          else if (o.code === 2) s.hardware = str(o);
          else if (o.code === 3) s.os = str(o);
          else if (o.code === 4) s.userApplication = str(o);
        }
        break;
      }
      case BT_IDB: { // spec 4.2
        need(8, 'Interface Description Block');
        const itf: PcapngInterface = {
          linkType: dv.getUint16(body, true),
          snaplen: dv.getUint32(body + 4, true),
          tsresol: 6,
        };
        for (const o of readOptions(bytes, dv, body + 8, end)) {
          if (o.code === 2) itf.name = str(o);
          else if (o.code === 3) itf.description = str(o);
          else if (o.code === 6) {
            fixedLen(o, 6, 'if_MACaddr');
            itf.mac = o.value.slice();
          }
          else if (o.code === 8) itf.speed = u64opt(o, 'if_speed');
          else if (o.code === 9) itf.tsresol = fixedLen(o, 1, 'if_tsresol').getUint8(0);
          else if (o.code === 14) itf.tsoffsetSeconds = fixedLen(o, 8, 'if_tsoffset').getBigInt64(0, true);
        }
        if ((itf.tsresol & 0x7f) > 63) throw new Corrupt(at, `if_tsresol ${itf.tsresol} is out of range`);
        file.interfaces.push(itf);
        break;
      }
      case BT_EPB: { // spec 4.3
        need(20, 'Enhanced Packet Block');
        const interfaceId = dv.getUint32(body, true);
        const itf = file.interfaces[interfaceId];
        if (itf === undefined) {
          throw new Corrupt(body, `packet refers to interface ${interfaceId}, only ${file.interfaces.length} defined`);
        }
        const capLen = dv.getUint32(body + 12, true);
        const dataStart = body + 20;
        if (capLen > end - dataStart) {
          throw new Corrupt(body + 12, `captured length ${capLen} exceeds block body (${end - dataStart} bytes)`);
        }
        const pkt: PcapngPacket = {
          interfaceId,
          timestampNs: toNs(ts64(dv, body + 4), itf),
          data: bytes.slice(dataStart, dataStart + capLen),
          originalLength: dv.getUint32(body + 16, true),
        };
        for (const o of readOptions(bytes, dv, dataStart + pad4(capLen), end)) {
          if (o.code === 1) pkt.comment ??= str(o);
          else if (o.code === 2) {
            const flags = fixedLen(o, 4, 'epb_flags').getUint32(0, true);
            pkt.flags = flags;
            const dir = flags & 3;
            if (dir === 1) pkt.direction = 'inbound';
            else if (dir === 2) pkt.direction = 'outbound';
          } else if (o.code === 4) pkt.dropCount = u64opt(o, 'epb_dropcount');
        }
        file.packets.push(pkt);
        break;
      }
      case BT_ISB: { // spec 4.6
        need(12, 'Interface Statistics Block');
        const interfaceId = dv.getUint32(body, true);
        const itf = file.interfaces[interfaceId];
        if (itf === undefined) {
          throw new Corrupt(body, `statistics refer to interface ${interfaceId}, only ${file.interfaces.length} defined`);
        }
        const st: PcapngStatistics = { interfaceId, timestampNs: toNs(ts64(dv, body + 4), itf) };
        for (const o of readOptions(bytes, dv, body + 12, end)) {
          if (o.code === 1) st.comment ??= str(o);
          else if (o.code === 2) st.startTimeNs = toNs(ts64(fixedLen(o, 8, 'isb_starttime'), 0), itf);
          else if (o.code === 3) st.endTimeNs = toNs(ts64(fixedLen(o, 8, 'isb_endtime'), 0), itf);
          else if (o.code === 4) st.received = u64opt(o, 'isb_ifrecv');
          else if (o.code === 5) st.dropped = u64opt(o, 'isb_ifdrop');
          else if (o.code === 6) st.filterAccepted = u64opt(o, 'isb_filteraccept');
          else if (o.code === 7) st.osDropped = u64opt(o, 'isb_osdrop');
          else if (o.code === 8) st.deliveredToUser = u64opt(o, 'isb_usrdeliv');
        }
        file.statistics.push(st);
        break;
      }
      default:
        file.skippedBlocks++; // SPB, NRB, DSB, custom...: not needed by our tools
    }
    at += total;
  }
  return file;
}
