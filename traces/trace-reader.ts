/**
 * Reads trace.msgpack (a stream of msgpack maps, docs/trace-format.md) into columns: one array
 * per plotted figure, so report.html and `quarklab trace` do not keep a record object per
 * sample. A file that is not a trace is a one-line error, never an exception.
 */
import { unpackMultiple } from 'msgpackr/unpack';
import { TRACE_FORMAT } from './timeline.js';

export interface TraceHeader {
  format: string;
  version: number;
  intervalNs: number;
  board: string;
  profile: string;
  scenario: string;
  seed: number;
  ramBytes: number;
  heapBytes: number;
  staticBytes: number;
  minFreeBytes: number;
  tcpMemBytes: number[] | null;
  owners: string[];
}

export interface TraceEvent {
  t: number;
  kind: string;
  site: string;
  n: number;
}

/** One TCP connection's samples, one array per field, index-aligned with `t`. */
export interface ConnSeries {
  id: number;
  local: string;
  remote: string;
  t: number[];
  state: string[];
  cwnd: number[];
  ssthresh: (number | null)[];
  srttUs: number[];
  rtoMs: number[];
  backoff: number[];
  inflight: number[];
  sndWnd: number[];
  rcvWnd: number[];
  sndbuf: number[];
  wmemQueued: number[];
  sndbufFull: boolean[];
  memWait: boolean[];
  pressure: boolean[];
  acked: number[];
  received: number[];
}

export interface MemSeries {
  t: number[];
  free: number[];
  used: number[];
  tcpMem: number[];
  pressure: boolean[];
  goodput: number[];
  /** Per owner (header.owners order), bytes. */
  owners: number[][];
  /** Per cache id, pages (a cache created later has no value before it existed: 0). */
  caches: number[][];
}

export interface ParsedTrace {
  header: TraceHeader | null;
  caches: { id: number; name: string; objectSize: number }[];
  mem: MemSeries;
  conns: ConnSeries[];
  events: TraceEvent[];
  lines: { t: number; board: string; program: string; line: string }[];
  end: { t: number; samples: number } | null;
}

type Rec = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

export function readTrace(bytes: Uint8Array, what = 'trace.msgpack'): ParsedTrace | { error: string } {
  const out: ParsedTrace = {
    header: null,
    caches: [],
    mem: { t: [], free: [], used: [], tcpMem: [], pressure: [], goodput: [], owners: [], caches: [] },
    conns: [],
    events: [],
    lines: [],
    end: null,
  };
  if (bytes.length === 0) return out;
  const byId = new Map<number, ConnSeries>();
  let bad: string | null = null;
  try {
    unpackMultiple(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), (value: unknown) => {
      if (bad) return false;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        bad = 'a record is not a map';
        return false;
      }
      const r = value as Rec;
      switch (r['k']) {
        case 'header':
          if (r['format'] !== TRACE_FORMAT) {
            bad = `format is ${JSON.stringify(r['format'])}, not ${TRACE_FORMAT}`;
            return false;
          }
          out.header = r as unknown as TraceHeader;
          out.mem.owners = (out.header.owners ?? []).map(() => []);
          break;
        case 'cache':
          out.caches.push({ id: num(r['id']), name: String(r['name']), objectSize: num(r['objectSize']) });
          out.mem.caches.push(new Array<number>(out.mem.t.length).fill(0));
          break;
        case 'mem': {
          const m = out.mem;
          m.t.push(num(r['t']));
          m.free.push(num(r['free']));
          m.used.push(num(r['used']));
          m.tcpMem.push(num(r['tcpMem']));
          m.pressure.push(r['pressure'] === true);
          m.goodput.push(num(r['goodput']));
          const owners = Array.isArray(r['owners']) ? (r['owners'] as unknown[]) : [];
          for (let i = 0; i < m.owners.length; i++) m.owners[i]!.push(num(owners[i]));
          const caches = Array.isArray(r['caches']) ? (r['caches'] as unknown[]) : [];
          for (let i = 0; i < m.caches.length; i++) m.caches[i]!.push(num(caches[i]));
          break;
        }
        case 'conn': {
          const c: ConnSeries = {
            id: num(r['id']), local: String(r['local']), remote: String(r['remote']),
            t: [], state: [], cwnd: [], ssthresh: [], srttUs: [], rtoMs: [], backoff: [], inflight: [], sndWnd: [], rcvWnd: [],
            sndbuf: [], wmemQueued: [], sndbufFull: [], memWait: [], pressure: [], acked: [], received: [],
          };
          byId.set(c.id, c);
          out.conns.push(c);
          break;
        }
        case 'tcp': {
          const c = byId.get(num(r['id']));
          if (!c || r['gone'] === true) break;
          c.t.push(num(r['t']));
          c.state.push(String(r['state']));
          c.cwnd.push(num(r['cwnd']));
          c.ssthresh.push(typeof r['ssthresh'] === 'number' ? r['ssthresh'] : null);
          c.srttUs.push(num(r['srttUs']));
          c.rtoMs.push(num(r['rtoMs']));
          c.backoff.push(num(r['backoff']));
          c.inflight.push(num(r['inflight']));
          c.sndWnd.push(num(r['sndWnd']));
          c.rcvWnd.push(num(r['rcvWnd']));
          c.sndbuf.push(num(r['sndbuf']));
          c.wmemQueued.push(num(r['wmemQueued']));
          c.sndbufFull.push(r['sndbufFull'] === true);
          c.memWait.push(r['memWait'] === true);
          c.pressure.push(r['pressure'] === true);
          c.acked.push(num(r['acked']));
          c.received.push(num(r['received']));
          break;
        }
        case 'ev':
          out.events.push({ t: num(r['t']), kind: String(r['kind']), site: String(r['site']), n: num(r['n']) });
          break;
        case 'line':
          out.lines.push({ t: num(r['t']), board: String(r['board']), program: String(r['program']), line: String(r['line']) });
          break;
        case 'end':
          out.end = { t: num(r['t']), samples: num(r['samples']) };
          break;
        default:
          bad = `unknown record kind ${JSON.stringify(r['k'])}`;
          return false;
      }
      return true;
    });
  } catch (e) {
    return { error: `${what}: not a msgpack stream (${(e as Error).message.split('\n')[0]})` };
  }
  if (bad) return { error: `${what}: ${bad}` };
  if (!out.header) return { error: `${what}: no header record` };
  return out;
}
