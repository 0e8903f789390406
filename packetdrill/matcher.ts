/**
 * Matching the board's segments against a script's outbound packet: flags, sequence numbers
 * relative to the board's ISN, the ack (the remote's own numbers), window, options byte for
 * byte in the script's layout (the TS value excepted, as packetdrill does by default) and
 * payload length. An expected segment longer than the board's MSS stands for the back-to-back
 * run of segments that covers it (Linux's scripts assume TSO): flags other than ACK on the
 * last, the rest plain ACKs. The frames are read with the stack's own parsers.
 */
import { parseIpv4 } from '../stack/wire/ipv4-header.js';
import { parseTcp, type TcpRepr } from '../stack/wire/tcp-header.js';
import type { Flow, SeqMap, SentFrame } from './injector.js';
import type { TcpPacketSpec } from './script.js';
import { encodeOptions, flagBits, flagLetters, parsedOptionsText } from './tcp-options.js';
import { ETH_HLEN } from '../stack/uapi/if-ether.js';
import { IPPROTO_TCP } from '../stack/uapi/in.js';

export interface ActualSegment {
  time: number;
  tcp: TcpRepr;
  payload: number;
  optBytes: Uint8Array;
}

/** Read a sent frame as IPv4/TCP; a string says why it is not one. */
export function readSegment(f: SentFrame): ActualSegment | string {
  const ip = parseIpv4(f.frame, ETH_HLEN, f.frame.length - ETH_HLEN);
  if (typeof ip === 'string') return `outbound IPv4 header is bad (${ip})`;
  if (ip.protocol !== IPPROTO_TCP) return `outbound non-TCP packet (IP protocol ${ip.protocol})`;
  const off = ETH_HLEN + ip.headerLength;
  const len = ip.totalLength - ip.headerLength;
  const tcp = parseTcp(f.frame, off, len, ip.src, ip.dst);
  if (typeof tcp === 'string') return `outbound TCP segment is bad (${tcp})`;
  return { time: f.time, tcp, payload: len - tcp.headerLength, optBytes: f.frame.slice(off + 20, off + tcp.headerLength) };
}

export function actualText(segs: ActualSegment[], map: SeqMap, timeText: string): string {
  const first = segs[0]!;
  const last = segs[segs.length - 1]!;
  const isn = map.localIsn ?? 0;
  const seq = (first.tcp.seq - isn) >>> 0;
  const payload = segs.reduce((n, s) => n + s.payload, 0);
  let s = `${timeText} ${flagLetters(last.tcp.flags)} ${seq}:${(seq + payload) >>> 0}(${payload})`;
  if (last.tcp.flags & 0x10) s += ` ack ${last.tcp.ack}`;
  s += ` win ${last.tcp.window}`;
  const opts = parsedOptionsText(last.tcp.options, (x) => x);
  if (opts) s += ` <${opts}>`;
  return s;
}

/**
 * How many queued segments the expected packet covers (1 unless it is a TSO-style run), or
 * null when the queue does not hold enough back-to-back segments yet.
 */
export function runLength(p: TcpPacketSpec, queue: ActualSegment[]): number {
  const first = queue[0]!;
  if (p.len <= first.payload || first.payload === 0) return 1;
  let covered = 0;
  let n = 0;
  while (n < queue.length && covered < p.len) {
    const s = queue[n]!;
    if (s.time !== first.time || s.payload === 0 || s.payload > first.payload) break;
    covered += s.payload;
    n++;
    if (s.payload < first.payload) break;
  }
  return Math.max(1, n);
}

const FLAG_FIELDS: Array<[number, string]> = [
  [0x01, 'tcp_fin'],
  [0x02, 'tcp_syn'],
  [0x04, 'tcp_rst'],
  [0x08, 'tcp_psh'],
  [0x10, 'tcp_ack'],
  [0x20, 'tcp_urg'],
  [0x40, 'tcp_ece'],
  [0x80, 'tcp_cwr'],
];

function field(name: string, expected: number, actual: number): string {
  return `live packet field ${name}: expected: ${expected} (0x${expected.toString(16)}) vs actual: ${actual} (0x${actual.toString(16)})`;
}

/**
 * Compare; learns the board's ISN from a SYN and the TS clock offset as it goes. Returns null
 * on a match or packetdrill's description of the first difference.
 */
export function matchOutbound(p: TcpPacketSpec, segs: ActualSegment[], map: SeqMap, flow: Flow): string | null {
  const first = segs[0]!;
  const last = segs[segs.length - 1]!;
  const want = flagBits(p.flags);
  // A SYN or SYN-ACK from the board gives its ISN (learned first, so a mismatch prints relative numbers).
  if (want & 0x02 && first.tcp.flags & 0x02) map.localIsn = (first.tcp.seq - p.seq) >>> 0;
  // Every segment of a run but the last is a plain ACK; the last carries the script's flags.
  for (let i = 0; i < segs.length - 1; i++) {
    const f = segs[i]!.tcp.flags;
    if (f !== (want & 0x10)) return field('tcp_flags (segment ' + (i + 1) + ' of a TSO run)', want & 0x10, f);
  }
  for (const [bit, name] of FLAG_FIELDS) {
    if ((want & bit) !== (last.tcp.flags & bit)) return field(name, want & bit ? 1 : 0, last.tcp.flags & bit ? 1 : 0);
  }
  if (want & 0x02 && !(want & 0x10)) {
    // The board's SYN opens a new connection: its ephemeral port and the port it connects to.
    flow.localPort = first.tcp.srcPort;
    flow.remotePort = first.tcp.dstPort;
  }
  if (first.tcp.srcPort !== flow.localPort) return field('tcp_source', flow.localPort, first.tcp.srcPort);
  if (first.tcp.dstPort !== flow.remotePort) return field('tcp_dest', flow.remotePort, first.tcp.dstPort);
  const isn = map.localIsn ?? 0;
  const seq = (first.tcp.seq - isn) >>> 0;
  if (seq !== p.seq) return field('tcp_seq', p.seq, seq);
  for (let i = 1; i < segs.length; i++) {
    const prev = segs[i - 1]!;
    if (segs[i]!.tcp.seq !== ((prev.tcp.seq + prev.payload) >>> 0)) return 'live packet: TSO run is not contiguous';
  }
  const payload = segs.reduce((n, s) => n + s.payload, 0);
  if (payload !== p.len) return `live packet payload: expected ${p.len} bytes vs actual ${payload} bytes`;
  if (want & 0x10 && p.ack !== undefined) {
    for (const s of segs) if (s.tcp.ack !== p.ack) return field('tcp_ack_seq', p.ack, s.tcp.ack);
  }
  if (p.win !== undefined && last.tcp.window !== p.win) return field('tcp_window', p.win, last.tcp.window);
  if (p.options !== 'any') {
    const exp = encodeOptions(p.options ?? []);
    for (const s of segs) {
      const act = s.optBytes;
      let same = act.length === exp.bytes.length;
      for (let i = 0; same && i < act.length; i++) {
        if (exp.tsValAt >= 0 && i >= exp.tsValAt && i < exp.tsValAt + 4) continue;
        if (act[i] !== exp.bytes[i]) same = false;
      }
      if (!same) return 'bad outbound TCP options';
    }
  }
  // The board's TS clock against the script's, for the echo of later inbound segments.
  if (Array.isArray(p.options)) {
    const ts = p.options.find((o) => o.kind === 'TS');
    if (ts && ts.kind === 'TS' && last.tcp.options.tsVal !== undefined && map.tsValDelta === 0) map.tsValDelta = (last.tcp.options.tsVal - ts.val) >>> 0;
  }
  return null;
}
