// Bounds-checked reader for classic libpcap files (the format tcpdump writes): a 24-byte
// global header, then per packet a 16-byte record header and the captured bytes. Either byte
// order, microsecond (0xa1b2c3d4) or nanosecond (0xa1b23c4d) timestamps. Bad input is a
// returned error naming the byte offset, never an exception.

export interface PcapPacket {
  timestampNs: bigint;
  data: Uint8Array;
  originalLength: number;
}

export interface PcapFile {
  ok: true;
  linkType: number;
  snaplen: number;
  packets: PcapPacket[];
}

export interface PcapError {
  ok: false;
  offset: number;
  message: string; // one line: "pcap: offset N: problem"
}

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
/** Larger than any link's frame; a record claiming more is corrupt, not a jumbo frame. */
const MAX_RECORD = 262_144;

export function readPcap(bytes: Uint8Array): PcapFile | PcapError {
  const bad = (offset: number, problem: string): PcapError => ({ ok: false, offset, message: `pcap: offset ${offset}: ${problem}` });
  if (bytes.length < GLOBAL_HEADER) return bad(0, `file is ${bytes.length} bytes, too short for the 24-byte global header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little: boolean;
  let nanos: boolean;
  const magicLe = dv.getUint32(0, true);
  if (magicLe === MAGIC_US || magicLe === MAGIC_NS) {
    little = true;
    nanos = magicLe === MAGIC_NS;
  } else {
    const magicBe = dv.getUint32(0, false);
    if (magicBe !== MAGIC_US && magicBe !== MAGIC_NS) return bad(0, `bad magic 0x${magicLe.toString(16).padStart(8, '0')}, not a pcap file`);
    little = false;
    nanos = magicBe === MAGIC_NS;
  }
  const major = dv.getUint16(4, little);
  if (major !== 2) return bad(4, `unsupported pcap major version ${major}`);
  const snaplen = dv.getUint32(16, little);
  const linkType = dv.getUint32(20, little) & 0x0fffffff;
  const packets: PcapPacket[] = [];
  let at = GLOBAL_HEADER;
  while (at < bytes.length) {
    if (bytes.length - at < RECORD_HEADER) return bad(at, `truncated record header: ${bytes.length - at} bytes left, need ${RECORD_HEADER}`);
    const sec = dv.getUint32(at, little);
    const frac = dv.getUint32(at + 4, little);
    const capLen = dv.getUint32(at + 8, little);
    const origLen = dv.getUint32(at + 12, little);
    if (frac >= (nanos ? 1_000_000_000 : 1_000_000)) return bad(at + 4, `sub-second timestamp ${frac} out of range`);
    if (capLen > MAX_RECORD) return bad(at + 8, `captured length ${capLen} is larger than ${MAX_RECORD}`);
    if (capLen > bytes.length - at - RECORD_HEADER) return bad(at + 8, `captured length ${capLen} runs past the end of the file`);
    const start = at + RECORD_HEADER;
    packets.push({ timestampNs: BigInt(sec) * 1_000_000_000n + BigInt(nanos ? frac : frac * 1000), data: bytes.slice(start, start + capLen), originalLength: origLen });
    at = start + capLen;
  }
  return { ok: true, linkType, snaplen, packets };
}
