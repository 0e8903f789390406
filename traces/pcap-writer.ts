// Classic libpcap writer for tools that cannot read pcapng (tcpdump builds
// without pcapng, old analysers). Layout per pcap-savefile(5) /
// draft-ietf-opsawg-pcap: 24-byte global header, then a 16-byte record header
// per packet. Little-endian, nanosecond magic so virtual time is not rounded.
// No interface names, comments or statistics: that is what pcapng is for.

import { BlockStream, MemorySink, type ByteSink } from './byte-stream.js';

const MAGIC_NS = 0xa1b23c4d; // timestamps are seconds + nanoseconds
const LINKTYPE_ETHERNET = 1;
const U32_MAX = 0xffffffff;

export class PcapWriter {
  private readonly out: BlockStream;
  private readonly memory: MemorySink | null;
  private epochSec = 0;
  private epochNsRem = 0;

  constructor(
    private readonly snaplen: number = 65535,
    sink?: ByteSink,
  ) {
    this.memory = sink ? null : new MemorySink();
    this.out = new BlockStream(sink ?? this.memory!);
    if (!Number.isInteger(snaplen) || snaplen <= 0 || snaplen > U32_MAX) {
      throw new Error(`pcap: bad snaplen ${snaplen}`);
    }
    const h = new Uint8Array(24);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, MAGIC_NS, true);
    dv.setUint16(4, 2, true); // version 2.4, the only one readers accept
    dv.setUint16(6, 4, true);
    dv.setInt32(8, 0, true); // thiszone: always 0 (timestamps are UTC)
    dv.setUint32(12, 0, true); // sigfigs: always 0
    dv.setUint32(16, snaplen, true);
    dv.setUint32(20, LINKTYPE_ETHERNET, true);
    this.out.append(h);
  }

  /** Data longer than snaplen is cut; originalLength keeps the on-wire size. */
  addPacket(timestampNs: bigint, data: Uint8Array, originalLength: number = data.length): void {
    const seconds = timestampNs / 1_000_000_000n;
    if (timestampNs < 0n || seconds > BigInt(U32_MAX)) {
      throw new Error(`pcap: timestamp ${timestampNs} ns does not fit 32-bit seconds`);
    }
    if (!Number.isInteger(originalLength) || originalLength < data.length || originalLength > U32_MAX) {
      throw new Error(`pcap: originalLength ${originalLength} < captured ${data.length} or out of range`);
    }
    const captured = data.length > this.snaplen ? data.subarray(0, this.snaplen) : data;
    const rec = new Uint8Array(16 + captured.length);
    const dv = new DataView(rec.buffer);
    dv.setUint32(0, Number(seconds), true);
    dv.setUint32(4, Number(timestampNs % 1_000_000_000n), true);
    dv.setUint32(8, captured.length, true);
    dv.setUint32(12, originalLength, true);
    rec.set(captured, 16);
    this.out.append(rec);
  }

  /** Virtual time zero for writeRecord(). */
  setEpoch(epochNs: bigint): void {
    this.epochSec = Number(epochNs / 1_000_000_000n);
    this.epochNsRem = Number(epochNs % 1_000_000_000n);
  }

  /** The capture's fast path: a record for `length` bytes at `offset`, at virtual time `ns` after the epoch. */
  writeRecord(ns: number, bytes: Buffer, offset: number, length: number): void {
    let sec = this.epochSec + Math.floor(ns / 1_000_000_000);
    let frac = this.epochNsRem + (ns % 1_000_000_000);
    if (frac >= 1_000_000_000) {
      frac -= 1_000_000_000;
      sec++;
    }
    if (sec > U32_MAX) throw new Error(`pcap: timestamp does not fit 32-bit seconds`);
    const captured = length > this.snaplen ? this.snaplen : length;
    const o = this.out;
    const at = o.reserve(16 + captured);
    o.dv.setUint32(at, sec, true);
    o.dv.setUint32(at + 4, frac, true);
    o.dv.setUint32(at + 8, captured, true);
    o.dv.setUint32(at + 12, length, true);
    bytes.copy(o.buf, at + 16, offset, offset + captured);
    o.pos = at + 16 + captured;
  }

  close(): void {
    this.out.close();
  }

  /** Close without writing what is buffered: the run failed (a write did). */
  abandon(): void {
    this.out.abandon();
  }

  /** True when the writer keeps its output (it was made without a sink). */
  get inMemory(): boolean {
    return this.memory !== null;
  }

  toBytes(): Uint8Array {
    if (!this.memory) throw new Error('pcap: toBytes() on a writer that streams to a file');
    this.out.flush();
    return this.memory.toBytes();
  }
}
