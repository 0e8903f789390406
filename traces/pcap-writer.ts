// Classic libpcap writer for tools that cannot read pcapng (tcpdump builds
// without pcapng, old analysers). Layout per pcap-savefile(5) /
// draft-ietf-opsawg-pcap: 24-byte global header, then a 16-byte record header
// per packet. Little-endian, nanosecond magic so virtual time is not rounded.
// No interface names, comments or statistics: that is what pcapng is for.

const MAGIC_NS = 0xa1b23c4d; // timestamps are seconds + nanoseconds
const LINKTYPE_ETHERNET = 1;
const U32_MAX = 0xffffffff;

export class PcapWriter {
  private readonly chunks: Uint8Array[] = [];

  constructor(private readonly snaplen: number = 65535) {
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
    this.chunks.push(h);
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
    this.chunks.push(rec);
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
