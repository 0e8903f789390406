// pcapng writer (little-endian, one section), following the pcapng spec
// draft-ietf-opsawg-pcapng ("the spec" below; section numbers from draft -02).
// Wireshark's native format: it keeps per-interface names, nanosecond time,
// per-packet direction and comments, and interface statistics, which classic
// pcap cannot. Output depends only on the calls made: no host name, no clock.
//
// Blocks stream through a fixed-size buffer to a sink (a file as the run goes, or memory for
// library callers), so the writer holds no more than that buffer however long the capture.
import { BlockStream, MemorySink, type ByteSink } from './byte-stream.js';

export interface PcapngInterfaceOptions {
  name: string;            // if_name, e.g. "dut:eth0"
  description: string;     // if_description, e.g. "board quark-2m, profile client"
  linkSpeedBps: number;    // if_speed (bits per second)
  macAddress?: Uint8Array; // if_MACaddr (6 bytes)
  snaplen?: number;        // default 65535
  fcsLengthBits?: number;  // if_fcslen: frames end with an FCS of this many bits
}

export interface PcapngPacketOptions {
  direction?: 'inbound' | 'outbound';  // epb_flags direction bits
  comment?: string;                    // opt_comment
  dropCount?: number;                  // epb_dropcount
  originalLength?: number;             // defaults to data.length
}

export interface PcapngInterfaceStats {
  received: bigint | number;         // isb_ifrecv
  dropped: bigint | number;          // isb_ifdrop
  deliveredToUser?: bigint | number; // isb_usrdeliv
  osDropped?: bigint | number;       // isb_osdrop
  startTimeNs?: bigint;              // isb_starttime
  endTimeNs?: bigint;                // isb_endtime
}

// Block types (spec 4.1-4.6, 11.1).
const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_ISB = 0x00000005;
const BT_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const LINKTYPE_ETHERNET = 1;
const TSRESOL_NS = 9; // if_tsresol: 10^-9 s per tick (spec 4.2)

// Option codes (spec 3.5 common, 4.1 SHB, 4.2 IDB, 4.3 EPB, 4.6 ISB).
const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const SHB_HARDWARE = 2;
const SHB_OS = 3;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_MACADDR = 6;
const IF_SPEED = 8;
const IF_TSRESOL = 9;
const IF_FCSLEN = 13;
const EPB_FLAGS = 2;
const EPB_DROPCOUNT = 4;
const ISB_STARTTIME = 2;
const ISB_ENDTIME = 3;
const ISB_IFRECV = 4;
const ISB_IFDROP = 5;
const ISB_OSDROP = 7;
const ISB_USRDELIV = 8;

// epb_flags bits 0-1: 01 = inbound, 10 = outbound; bits 5-8: FCS length in bytes; bit 24 of
// the link-layer-dependent errors (bits 16-31): CRC error (spec 4.3.1).
const EPB_DIR_INBOUND = 1;
const EPB_DIR_OUTBOUND = 2;
const EPB_FCSLEN_SHIFT = 5;
const EPB_CRC_ERROR = 1 << 24;

const U64_MAX = (1n << 64n) - 1n;
const utf8 = new TextEncoder();

const pad4 = (n: number): number => (n + 3) & ~3;

function u64(value: bigint | number, what: string): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new Error(`pcapng: ${what} must be an integer, got ${value}`);
  }
  const v = BigInt(value);
  if (v < 0n || v > U64_MAX) throw new Error(`pcapng: ${what} out of u64 range: ${v}`);
  return v;
}

/** Options list (spec 3.5): code u16, length u16, value padded to 32 bits, then opt_endofopt. */
class Options {
  private readonly items: { code: number; value: Uint8Array }[] = [];

  string(code: number, s: string | undefined): this {
    return s === undefined ? this : this.bytes(code, utf8.encode(s)); // strings are UTF-8, no NUL
  }
  bytes(code: number, value: Uint8Array): this {
    if (value.length > 0xffff) throw new Error(`pcapng: option ${code} longer than 65535 bytes`);
    this.items.push({ code, value });
    return this;
  }
  u32(code: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    return this.bytes(code, b);
  }
  u64(code: number, v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v, true);
    return this.bytes(code, b);
  }
  /** Timestamps in options use the EPB layout: high 32 bits, then low 32 bits (spec 4.6). */
  timestamp(code: number, ns: bigint): this {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, Number(ns >> 32n), true);
    dv.setUint32(4, Number(ns & 0xffffffffn), true);
    return this.bytes(code, b);
  }

  encode(): Uint8Array {
    // An empty list may be omitted entirely (spec 3.5); otherwise end with opt_endofopt.
    if (this.items.length === 0) return new Uint8Array(0);
    const size = this.items.reduce((n, o) => n + 4 + pad4(o.value.length), 0) + 4;
    const out = new Uint8Array(size);
    const dv = new DataView(out.buffer);
    let at = 0;
    for (const o of this.items) {
      dv.setUint16(at, o.code, true);
      dv.setUint16(at + 2, o.value.length, true);
      out.set(o.value, at + 4);
      at += 4 + pad4(o.value.length); // padding bytes stay zero
    }
    dv.setUint16(at, OPT_ENDOFOPT, true);
    dv.setUint16(at + 2, 0, true);
    return out;
  }
}

/**
 * Generic block (spec 3.1): type u32, total length u32, body padded to 32 bits,
 * total length repeated at the end so readers can walk backwards.
 */
function block(type: number, fixed: Uint8Array, options: Options): Uint8Array {
  const opts = options.encode();
  const total = 12 + pad4(fixed.length) + opts.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, total, true);
  out.set(fixed, 8);
  out.set(opts, 8 + pad4(fixed.length));
  dv.setUint32(total - 4, total, true);
  return out;
}

function checkTimestamp(ns: bigint, what: string): void {
  if (ns < 0n || ns > U64_MAX) throw new Error(`pcapng: ${what} out of range: ${ns}`);
}

/** A 64-bit timestamp as the two 32-bit words an EPB stores: exact, and no BigInt per packet. */
export class Timestamp64 {
  /** The epoch (time zero) split into words once. */
  private readonly epochHi: number;
  private readonly epochLo: number;
  hi = 0;
  lo = 0;
  constructor(epochNs: bigint) {
    checkTimestamp(epochNs, 'epoch');
    this.epochHi = Number(epochNs >> 32n);
    this.epochLo = Number(epochNs & 0xffffffffn);
  }
  /** Set hi/lo to epoch + `ns` (a non-negative integer below 2^53). */
  set(ns: number): void {
    const hiPart = Math.floor(ns / 4294967296);
    let lo = this.epochLo + (ns - hiPart * 4294967296);
    let hi = this.epochHi + hiPart;
    if (lo >= 4294967296) {
      lo -= 4294967296;
      hi++;
    }
    if (hi > 0xffffffff) throw new Error(`pcapng: timestamp out of u64 range`);
    this.hi = hi;
    this.lo = lo;
  }
}

export class PcapngWriter {
  private readonly out: BlockStream;
  private readonly memory: MemorySink | null;
  private readonly snaplens: number[] = [];

  constructor(section: { hardware?: string; os?: string; userApplication?: string; comment?: string }, sink?: ByteSink) {
    this.memory = sink ? null : new MemorySink();
    this.out = new BlockStream(sink ?? this.memory!);
    // SHB (spec 4.1): byte-order magic, version 1.0, section length -1 ("not
    // specified", allowed by the spec) so the header never depends on later blocks.
    const fixed = new Uint8Array(16);
    const dv = new DataView(fixed.buffer);
    dv.setUint32(0, BYTE_ORDER_MAGIC, true);
    dv.setUint16(4, 1, true);
    dv.setUint16(6, 0, true);
    dv.setBigInt64(8, -1n, true);
    const opts = new Options()
      .string(OPT_COMMENT, section.comment)
      .string(SHB_HARDWARE, section.hardware)
      .string(SHB_OS, section.os)
      .string(SHB_USERAPPL, section.userApplication);
    this.out.append(block(BT_SHB, fixed, opts));
  }

  /**
   * IDB (spec 4.2). Ids are assigned in order of IDBs in the section. The spec
   * allows an IDB anywhere before the first block that refers to it, so adding
   * one after some packets is legal; referring to a missing one is not.
   */
  addInterface(opts: PcapngInterfaceOptions): number {
    const snaplen = opts.snaplen ?? 65535;
    if (!Number.isInteger(snaplen) || snaplen < 0 || snaplen > 0xffffffff) {
      throw new Error(`pcapng: bad snaplen ${snaplen}`);
    }
    if (opts.macAddress !== undefined && opts.macAddress.length !== 6) {
      throw new Error(`pcapng: if_MACaddr must be 6 bytes, got ${opts.macAddress.length}`);
    }
    const fixed = new Uint8Array(8);
    const dv = new DataView(fixed.buffer);
    dv.setUint16(0, LINKTYPE_ETHERNET, true);
    dv.setUint16(2, 0, true); // reserved
    dv.setUint32(4, snaplen, true);
    const o = new Options().string(IF_NAME, opts.name).string(IF_DESCRIPTION, opts.description);
    if (opts.macAddress !== undefined) o.bytes(IF_MACADDR, opts.macAddress);
    o.u64(IF_SPEED, u64(opts.linkSpeedBps, 'if_speed'));
    o.bytes(IF_TSRESOL, Uint8Array.of(TSRESOL_NS));
    if (opts.fcsLengthBits !== undefined) o.bytes(IF_FCSLEN, Uint8Array.of(opts.fcsLengthBits));
    this.out.append(block(BT_IDB, fixed, o));
    this.snaplens.push(snaplen);
    return this.snaplens.length - 1;
  }

  /** EPB (spec 4.3). Data longer than the interface snaplen is cut, as a capture would. */
  addPacket(interfaceId: number, timestampNs: bigint, data: Uint8Array, opts: PcapngPacketOptions = {}): void {
    const snaplen = this.interfaceSnaplen(interfaceId);
    checkTimestamp(timestampNs, 'packet timestamp');
    const originalLength = opts.originalLength ?? data.length;
    if (!Number.isInteger(originalLength) || originalLength < data.length || originalLength > 0xffffffff) {
      throw new Error(`pcapng: originalLength ${originalLength} < captured ${data.length} or out of range`);
    }
    // snaplen 0 means "no limit" (spec 4.2).
    const captured = snaplen !== 0 && data.length > snaplen ? data.subarray(0, snaplen) : data;

    const fixed = new Uint8Array(20 + captured.length);
    const dv = new DataView(fixed.buffer);
    dv.setUint32(0, interfaceId, true);
    dv.setUint32(4, Number(timestampNs >> 32n), true);
    dv.setUint32(8, Number(timestampNs & 0xffffffffn), true);
    dv.setUint32(12, captured.length, true);
    dv.setUint32(16, originalLength, true);
    fixed.set(captured, 20);

    const o = new Options().string(OPT_COMMENT, opts.comment);
    if (opts.direction !== undefined) {
      o.u32(EPB_FLAGS, opts.direction === 'inbound' ? EPB_DIR_INBOUND : EPB_DIR_OUTBOUND);
    }
    if (opts.dropCount !== undefined) o.u64(EPB_DROPCOUNT, u64(opts.dropCount, 'epb_dropcount'));
    this.out.append(block(BT_EPB, fixed, o));
  }

  /** ISB (spec 4.6): counters are u64; Wireshark shows the last ISB per interface. */
  addInterfaceStatistics(interfaceId: number, timestampNs: bigint, stats: PcapngInterfaceStats): void {
    this.interfaceSnaplen(interfaceId);
    checkTimestamp(timestampNs, 'statistics timestamp');
    const fixed = new Uint8Array(12);
    const dv = new DataView(fixed.buffer);
    dv.setUint32(0, interfaceId, true);
    dv.setUint32(4, Number(timestampNs >> 32n), true);
    dv.setUint32(8, Number(timestampNs & 0xffffffffn), true);

    const o = new Options();
    if (stats.startTimeNs !== undefined) {
      checkTimestamp(stats.startTimeNs, 'isb_starttime');
      o.timestamp(ISB_STARTTIME, stats.startTimeNs);
    }
    if (stats.endTimeNs !== undefined) {
      checkTimestamp(stats.endTimeNs, 'isb_endtime');
      o.timestamp(ISB_ENDTIME, stats.endTimeNs);
    }
    o.u64(ISB_IFRECV, u64(stats.received, 'isb_ifrecv'));
    o.u64(ISB_IFDROP, u64(stats.dropped, 'isb_ifdrop'));
    if (stats.osDropped !== undefined) o.u64(ISB_OSDROP, u64(stats.osDropped, 'isb_osdrop'));
    if (stats.deliveredToUser !== undefined) {
      o.u64(ISB_USRDELIV, u64(stats.deliveredToUser, 'isb_usrdeliv'));
    }
    this.out.append(block(BT_ISB, fixed, o));
  }

  /**
   * The fast path for a capture: an EPB for `length` bytes at `offset` in `bytes`, written
   * straight into the stream buffer, with the same layout addPacket gives (comment, then
   * flags). `ts` holds the timestamp words. Nothing is allocated unless there is a comment.
   */
  writePacket(interfaceId: number, ts: Timestamp64, bytes: Buffer, offset: number, length: number, direction: 'inbound' | 'outbound', comment: string | null, crcError = false, fcs = -1): void {
    const snaplen = this.snaplens[interfaceId]!;
    // With an FCS (fcs ≥ 0) the frame on record is the bytes and then the FCS, least significant byte first.
    const wireLength = fcs >= 0 ? length + 4 : length;
    const captured = snaplen !== 0 && wireLength > snaplen ? snaplen : wireLength;
    const fromBytes = captured < length ? captured : length;
    const dataEnd = 28 + pad4(captured);
    const commentLen = comment === null ? 0 : Buffer.byteLength(comment, 'utf8');
    if (commentLen > 0xffff) throw new Error('pcapng: option 1 longer than 65535 bytes');
    const optsLen = (comment === null ? 0 : 4 + pad4(commentLen)) + 8 + 4;
    const total = dataEnd + optsLen + 4;
    const o = this.out;
    const at = o.reserve(total);
    const buf = o.buf;
    const dv = o.dv;
    dv.setUint32(at, BT_EPB, true);
    dv.setUint32(at + 4, total, true);
    dv.setUint32(at + 8, interfaceId, true);
    dv.setUint32(at + 12, ts.hi, true);
    dv.setUint32(at + 16, ts.lo, true);
    dv.setUint32(at + 20, captured, true);
    dv.setUint32(at + 24, wireLength, true);
    bytes.copy(buf, at + 28, offset, offset + fromBytes);
    for (let i = fromBytes; i < captured; i++) buf[at + 28 + i] = (fcs >>> (8 * (i - length))) & 0xff;
    // The 0–3 bytes of padding, zeroed by hand: Buffer.fill's argument checks cost more than
    // the bytes (~25–45 ns a call against ~4 ns for the loop).
    for (let i = at + 28 + captured; i < at + dataEnd; i++) buf[i] = 0;
    let p = at + dataEnd;
    if (comment !== null) {
      dv.setUint16(p, OPT_COMMENT, true);
      dv.setUint16(p + 2, commentLen, true);
      buf.write(comment, p + 4, commentLen, 'utf8');
      buf.fill(0, p + 4 + commentLen, p + 4 + pad4(commentLen));
      p += 4 + pad4(commentLen);
    }
    dv.setUint16(p, EPB_FLAGS, true);
    dv.setUint16(p + 2, 4, true);
    dv.setUint32(p + 4, ((direction === 'inbound' ? EPB_DIR_INBOUND : EPB_DIR_OUTBOUND) | (fcs >= 0 ? 4 << EPB_FCSLEN_SHIFT : 0) | (crcError ? EPB_CRC_ERROR : 0)) >>> 0, true);
    dv.setUint32(p + 8, OPT_ENDOFOPT, true);
    dv.setUint32(p + 12, total, true);
    o.pos = at + total;
  }

  /** Snaplen of an interface that has been added. */
  snaplenOf(interfaceId: number): number {
    return this.interfaceSnaplen(interfaceId);
  }

  /** Write out what is buffered and close the sink. */
  close(): void {
    this.out.close();
  }

  /** Close without writing what is buffered: the run failed (a write did). */
  abandon(): void {
    this.out.abandon();
  }

  /** The whole file so far, blocks in the order they were added (a writer made without a sink). */
  /** True when the writer keeps its output (it was made without a sink). */
  get inMemory(): boolean {
    return this.memory !== null;
  }

  toBytes(): Uint8Array {
    if (!this.memory) throw new Error('pcapng: toBytes() on a writer that streams to a file');
    this.out.flush();
    return this.memory.toBytes();
  }

  private interfaceSnaplen(interfaceId: number): number {
    const snaplen = this.snaplens[interfaceId];
    if (!Number.isInteger(interfaceId) || snaplen === undefined) {
      throw new Error(`pcapng: interface ${interfaceId} not added (have ${this.snaplens.length})`);
    }
    return snaplen;
  }
}
