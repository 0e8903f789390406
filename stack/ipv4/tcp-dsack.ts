/**
 * D-SACK (RFC 2883; tcp_dsack_set, tcp_check_dsack, tcp_try_undo_dsack; tcp_dsack = 1).
 * Receiving: a segment that duplicates data already received (or already held out of
 * order) is answered at once with an ACK whose first SACK block is the duplicate range.
 * Sending: a D-SACK for a retransmitted segment says the retransmission was not needed;
 * when every retransmission of the episode is so reported (undo_retrans reaches 0), the
 * window reduction is undone (TCPDSACKUndo).
 */
import { seqGeq, seqGt, seqLeq, seqLt, type SackBlock } from '../wire/tcp-header.js';
import { tcpUndoCwndReduction } from './tcp-recovery.js';
import type { TcpSock } from './tcp-sock.js';

/** tcp_dsack_set: remember [seq, end) for the next ACK. `ofo`: the duplicate was of out-of-order data. */
export function tcpDsackSet(sk: TcpSock, seq: number, end: number, ofo: boolean): void {
  if (!sk.sackOk || !seqLt(seq, end)) return;
  sk.table.ext[ofo ? 'TCPDSACKOfoSent' : 'TCPDSACKOldSent']!++;
  sk.dsackPending = true;
  sk.dsackStart = seq;
  sk.dsackEnd = end;
}

/**
 * tcp_check_dsack: is the first SACK block a D-SACK (below the cumulative ACK, or inside the
 * second block)? Counts it and adjusts undo_retrans; returns the block's end (for the loss
 * probe's check), or -1 when it is not one.
 */
export function tcpCheckDsack(sk: TcpSock, blocks: readonly SackBlock[], ack: number, priorSndUna: number): number {
  const b0 = blocks[0];
  if (!b0) return -1;
  const t = sk.table.ext;
  let isDsack = false;
  if (seqLt(b0.start, ack)) {
    isDsack = true;
    t['TCPDSACKRecv']!++;
  } else if (blocks.length > 1) {
    const b1 = blocks[1]!;
    if (seqLeq(b0.end, b1.end) && seqGeq(b0.start, b1.start)) {
      isDsack = true;
      t['TCPDSACKOfoRecv']!++;
    }
  }
  if (!isDsack) return -1;
  const len = (b0.end - b0.start) | 0;
  if (len <= 0 || len > sk.maxWindow) return -1;
  const dupSegs = Math.max(1, Math.ceil(len / sk.mss));
  sk.dsackDups += dupSegs;
  // A D-SACK for data never retransmitted is the network duplicating, not us.
  if (sk.dsackDups > sk.retransmits) return -1;
  t['TCPDSACKRecvSegs']! += dupSegs;
  if (sk.undoMarkerSet && sk.undoRetrans > 0 && seqGt(b0.end, sk.undoMarker)) {
    if (seqLeq(b0.end, priorSndUna)) sk.undoRetrans = Math.max(0, sk.undoRetrans - dupSegs);
    else {
      // Still in the queue: count the retransmitted segments it covers (tcp_sacktag_one).
      for (const seg of sk.writeQueue) {
        if (!sk.isSent(seg)) break;
        if (seg.retransmitted && seqGeq(seg.seq, b0.start) && seqLeq(seg.end, b0.end)) sk.undoRetrans = Math.max(0, sk.undoRetrans - 1);
      }
    }
  }
  return b0.end;
}

/** tcp_try_undo_dsack: every retransmission of the episode was D-SACKed: undo the reduction. */
export function tcpTryUndoDsack(sk: TcpSock): boolean {
  if (!sk.undoMarkerSet || sk.undoRetrans !== 0) return false;
  tcpUndoCwndReduction(sk);
  sk.table.ext['TCPDSACKUndo']!++;
  return true;
}
