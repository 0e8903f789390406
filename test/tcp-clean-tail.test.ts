// The write queue's clean tail (TcpSock.noteMarked / cleanTailStart): what walks the queue on
// every ACK — the pipe count (tcp_packets_in_flight), RACK's loss detection, the SACKed-segment
// count — looks one by one only at segments that were SACKed, marked lost or resent, and takes
// the rest as clean: never any of those, so sent once and in sequence order. That shortcut is
// only right if every place that marks a segment says so. Here lossy transfers run through the
// whole stack, and at every look the test checks the clean tail against the segments themselves
// and the pipe count against its definition, walked over the whole queue: sent segments neither
// SACKed nor lost. (Every peer here offers SACK; the packetdrill scripts recovery-reno-*.pkt
// hold the duplicate-ACK path without it to Linux's packets.)
import { afterAll, describe, expect, it } from 'vitest';
import { run, type RunOptions } from '../scenarios/run.js';
import { TcpSock } from '../stack/ipv4/tcp-sock.js';

interface Seen {
  looks: number;
  /** Looks that found marked segments ahead of the clean tail (loss recovery under way). */
  withMarks: number;
  /** Looks whose clean tail held sent segments (the shortcut had something to skip). */
  withCleanSent: number;
  problems: string[];
}

const originalCleanTailStart = TcpSock.prototype.cleanTailStart;
const originalPacketsInFlight = TcpSock.prototype.packetsInFlight;

afterAll(() => {
  TcpSock.prototype.cleanTailStart = originalCleanTailStart;
  TcpSock.prototype.packetsInFlight = originalPacketsInFlight;
});

/** Run `opts` with every clean-tail look and pipe count checked; returns what was seen. */
function checkedRun(opts: RunOptions): Seen & { exitCode: number } {
  const seen: Seen = { looks: 0, withMarks: 0, withCleanSent: 0, problems: [] };
  const note = (problem: string): void => {
    if (seen.problems.length < 5) seen.problems.push(problem);
  };
  TcpSock.prototype.cleanTailStart = function (this: TcpSock): number {
    const clean = originalCleanTailStart.call(this);
    seen.looks++;
    if (clean > 0) seen.withMarks++;
    let lastSentAt = -Infinity;
    let cleanSent = 0;
    for (let i = clean; i < this.writeQueue.length; i++) {
      const seg = this.writeQueue[i]!;
      if (seg.sacked || seg.lost || seg.retransmitted || seg.rtxInFlight) {
        note(`segment ${seg.seq} in the clean tail (from index ${clean}) is sacked=${seg.sacked} lost=${seg.lost} retransmitted=${seg.retransmitted}`);
      }
      if (!this.isSent(seg)) continue;
      cleanSent++;
      if (seg.sentAt < lastSentAt) note(`segment ${seg.seq} in the clean tail was sent before the one ahead of it`);
      lastSentAt = seg.sentAt;
    }
    if (cleanSent > 0) seen.withCleanSent++;
    return clean;
  };
  TcpSock.prototype.packetsInFlight = function (this: TcpSock): number {
    const got = originalPacketsInFlight.call(this);
    let n = 0;
    for (const seg of this.writeQueue) if (this.isSent(seg) && !seg.sacked && !seg.lost) n++;
    const want = this.sackOk ? n : Math.max(0, n - this.dupAcks);
    if (got !== want) note(`packets in flight ${got}, the queue says ${want}`);
    return got;
  };
  try {
    const outcome = run({ ...opts, capture: 'none' });
    return { ...seen, exitCode: outcome.exitCode };
  } finally {
    TcpSock.prototype.cleanTailStart = originalCleanTailStart;
    TcpSock.prototype.packetsInFlight = originalPacketsInFlight;
  }
}

describe('the write queue clean tail', () => {
  const cases: { title: string; opts: RunOptions }[] = [
    { title: 'the board uploads over 5 % loss (SACK, RACK, a loss probe)', opts: { board: 'quark-4m', profile: 'full', scenario: 'bulk-tx:bytes=400000,loss=0.05', seed: 9 } },
    { title: 'the board uploads over 10 % loss, with retransmission timeouts', opts: { board: 'quark-4m', profile: 'full', scenario: 'bulk-tx:bytes=400000,loss=0.1', seed: 6 } },
    { title: 'the lab host sends over 3 % loss, a larger window', opts: { board: 'quark-4m', profile: 'client', scenario: 'bulk-rx:bytes=600000,loss=0.03', seed: 5 } },
  ];
  for (const c of cases) {
    it(c.title, () => {
      const seen = checkedRun(c.opts);
      expect(seen.problems).toEqual([]);
      expect(seen.exitCode).toBe(0);
      // Both sides of the shortcut ran: recovery with marked segments queued, and a clean tail
      // of sent segments skipped.
      expect(seen.withMarks).toBeGreaterThan(20);
      expect(seen.withCleanSent).toBeGreaterThan(100);
    });
  }
});
