// What Wireshark's TCP analysis says about a capture, through tshark display filters: the
// flags a person looking at a bulk transfer would worry about, and the retransmissions a lossy
// run must show. Each filter names a real tshark field, so a typo makes tshark (and the test) fail.
import { tsharkFields, type TsharkRow } from './tshark.js';

/** tcp.analysis.* flags that mean something went wrong (or looked wrong) on the wire. */
export const TCP_ANALYSIS_PROBLEMS = [
  'tcp.analysis.lost_segment',
  'tcp.analysis.ack_lost_segment',
  'tcp.analysis.retransmission',
  'tcp.analysis.fast_retransmission',
  'tcp.analysis.spurious_retransmission',
  'tcp.analysis.duplicate_ack',
  'tcp.analysis.zero_window',
  'tcp.analysis.out_of_order',
  'tcp.analysis.window_full',
] as const;

export interface FlaggedFrame {
  frame: number;
  time: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  flags: string;
  seq: number;
  len: number;
  /** Wireshark's expert messages for the frame, joined with ",". */
  expert: string;
}

/** The fields a FlaggedFrame is read from, for a tsharkPass that wants to make them. */
export const FLAGGED_FIELDS = ['frame.number', 'frame.time_relative', 'ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.str', 'tcp.seq', 'tcp.len', '_ws.expert.message'] as const;

/** A frame of a tshark pass that printed FLAGGED_FIELDS. */
export function flaggedFrame(r: TsharkRow): FlaggedFrame {
  return {
    frame: Number(r['frame.number']),
    time: Number(r['frame.time_relative']),
    src: r['ip.src']!,
    dst: r['ip.dst']!,
    srcPort: Number(r['tcp.srcport']),
    dstPort: Number(r['tcp.dstport']),
    flags: r['tcp.flags.str']!,
    seq: Number(r['tcp.seq']),
    len: Number(r['tcp.len']),
    expert: r['_ws.expert.message'] ?? '',
  };
}

/** Frames matching a display filter, with enough about each to read a failure message. */
export function flaggedFrames(capture: string, filter: string): FlaggedFrame[] {
  return tsharkFields(capture, [...FLAGGED_FIELDS], filter).map((r) => flaggedFrame(Object.fromEntries(FLAGGED_FIELDS.map((f, i) => [f, r[i] ?? '']))));
}

/**
 * Every frame carrying any of TCP_ANALYSIS_PROBLEMS, by flag (only flags with frames appear).
 * One tshark pass with all the flags or-ed together; a per-flag breakdown only when it finds some.
 */
export function tcpAnalysisProblems(capture: string): Record<string, FlaggedFrame[]> {
  const out: Record<string, FlaggedFrame[]> = {};
  if (flaggedFrames(capture, TCP_ANALYSIS_PROBLEMS.join(' || ')).length === 0) return out;
  for (const flag of TCP_ANALYSIS_PROBLEMS) {
    const frames = flaggedFrames(capture, flag);
    if (frames.length > 0) out[flag] = frames;
  }
  return out;
}

/** A short description of flagged frames for a failure message (the first few of each flag). */
export function describeFlagged(found: Record<string, FlaggedFrame[]>): string {
  return Object.entries(found)
    .map(([flag, frames]) => `${flag}: ${frames.length} frame(s), first ${frames.slice(0, 5).map((f) => `#${f.frame} t=${f.time.toFixed(6)} ${f.src}:${f.srcPort}→${f.dst}:${f.dstPort} [${f.flags}] seq=${f.seq} len=${f.len} (${f.expert})`).join('; ')}`)
    .join('\n');
}
