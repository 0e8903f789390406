/**
 * The quiet-wire check: once a scenario's traffic is over, each TCP connection may put on the
 * wire only what Linux's timers and rate limits allow — the closing handshake, retransmissions
 * (bounded by tcp_retries2), ACKs that acknowledge something new or answer a segment carrying
 * data, a FIN or a SYN, keepalive and persist probes no closer than TCP_RTO_MIN, and duplicate
 * ACKs no closer than tcp_invalid_ratelimit (500 ms) — and at most 100 segments in all. An ACK
 * loop between two TIME_WAIT socks, or any other storm, fails the run with the count.
 *
 * It observes what each board's MAC sends (the sender's view, so the wire's own duplicates and
 * reordering are not held against a stack); it knows nothing of the stacks' state.
 */
import type { EthernetMac } from '../emulator/ethernet-mac.js';
import type { Nanos } from '../emulator/event-queue.js';
import { ipToString } from '../stack/core/addr.js';
import { TCP_FIN, TCP_RST, TCP_SYN, TcpPacket } from '../stack/wire/tcp-header.js';
import { IP_MF, IP_OFFSET, Ipv4Packet } from '../stack/wire/ipv4-header.js';
import { IPPROTO_TCP } from '../stack/uapi/in.js';
import { ETH_HLEN, ETH_P_IP } from '../stack/uapi/if-ether.js';
import { readU16 } from '../stack/uapi/byte-order.js';
import type { ScenarioCheck } from './scenario.js';

/** More segments than this for one connection after the scenario fails the run. */
export const QUIET_WIRE_SEGMENT_LIMIT = 100;
/** tcp_invalid_ratelimit: the closest two unprovoked duplicate ACKs of one socket may be. */
const INVALID_RATELIMIT_NS = 500_000_000;
/** TCP_RTO_MIN: the closest two probes (persist, keepalive) may be. */
const PROBE_MIN_INTERVAL_NS = 200_000_000;
/** tcp_retries2: retransmissions of one segment before the connection is given up. */
const RETRIES2 = 15;
/** A connection this far past the limit is a runaway: the drain can stop, the verdict is known. */
const RUNAWAY_SEGMENTS = 100 * QUIET_WIRE_SEGMENT_LIMIT;

interface SideWatch {
  addr: number;
  port: number;
  haveAck: boolean;
  lastAck: number;
  lastWindow: number;
  /** Sequence number after the highest byte (or SYN/FIN) this side has sent in the drain. */
  nextSeq: number;
  haveSeq: boolean;
  /** The peer sent something that deserves an answer since this side last sent. */
  provoked: boolean;
  lastDupAckAt: number;
  lastProbeAt: number;
  /** The segment being retransmitted, and how many times. */
  rtxSeq: number;
  rtxCount: number;
}

interface ConnWatch {
  sides: [SideWatch, SideWatch];
  segments: number;
  violation: string | null;
}

function newSide(addr: number, port: number): SideWatch {
  return { addr, port, haveAck: false, lastAck: 0, lastWindow: 0, nextSeq: 0, haveSeq: false, provoked: false, lastDupAckAt: -Infinity, lastProbeAt: -Infinity, rtxSeq: 0, rtxCount: 0 };
}

export class QuietWireCheck {
  private drainFrom: Nanos | null = null;
  /** Connections seen in the drain, by their two ports; the short list holds the address pairs. */
  private readonly conns = new Map<number, ConnWatch[]>();
  private segments = 0;
  /** One view per header, repointed at each frame. */
  private readonly iph = new Ipv4Packet();
  private readonly tcph = new TcpPacket();
  /** Some connection is so far past the limit that running the drain on proves nothing more. */
  runaway = false;

  /** Watch what these MACs send. */
  attach(macs: readonly EthernetMac[]): void {
    for (const mac of macs) {
      // The zero-copy frame tap: nothing is copied or allocated per frame, and before the drain
      // starts a frame costs one comparison.
      mac.addFrameTap((e) => {
        if (this.drainFrom === null || e.direction !== 'outbound' || e.drop) return;
        this.frame(e.bytes, e.offset, e.length, e.time);
      });
    }
  }

  /** The scenario's traffic is over: from now on every TCP segment is judged. */
  startDrain(now: Nanos): void {
    this.drainFrom = now;
  }

  /** A frame the board sent: `len` bytes at `o` in `f`, read through the wire layer's views. */
  private frame(f: Uint8Array, o: number, len: number, now: Nanos): void {
    // Ethernet II, IPv4, not a fragment, TCP.
    if (len < ETH_HLEN + 20 + 20 || readU16(f, o + 12) !== ETH_P_IP) return;
    const iph = this.iph.wrap(f, o + ETH_HLEN);
    if (iph.version !== 4 || iph.protocol !== IPPROTO_TCP || (iph.fragOff & (IP_MF | IP_OFFSET)) !== 0) return;
    const ihl = iph.headerLength;
    const totalLength = iph.totalLength;
    const th = o + ETH_HLEN + ihl;
    if (th + 20 > o + len || totalLength < ihl + 20) return;
    const tcph = this.tcph.wrap(f, th);
    const src = iph.src;
    const dst = iph.dst;
    const sport = tcph.ports >>> 16;
    const dport = tcph.ports & 0xffff;
    const seq = tcph.seq;
    const ack = tcph.ack;
    const flags = tcph.flags;
    const window = tcph.window;
    const payload = totalLength - ihl - tcph.headerLength;
    // The connection, oriented so that both directions find the same watch.
    const srcFirst = src < dst || (src === dst && sport <= dport);
    const key = srcFirst ? sport * 65536 + dport : dport * 65536 + sport;
    let list = this.conns.get(key);
    if (!list) {
      list = [];
      this.conns.set(key, list);
    }
    let conn: ConnWatch | undefined;
    for (const c of list) {
      if ((c.sides[0].addr === src && c.sides[1].addr === dst && c.sides[0].port === sport) || (c.sides[1].addr === src && c.sides[0].addr === dst && c.sides[1].port === sport)) {
        conn = c;
        break;
      }
    }
    if (!conn) {
      conn = { sides: [newSide(src, sport), newSide(dst, dport)], segments: 0, violation: null };
      list.push(conn);
    }
    const me = conn.sides[0].addr === src && conn.sides[0].port === sport ? conn.sides[0] : conn.sides[1];
    const peer = me === conn.sides[0] ? conn.sides[1] : conn.sides[0];
    conn.segments++;
    this.segments++;
    if (conn.segments > RUNAWAY_SEGMENTS) this.runaway = true;
    if (conn.segments > QUIET_WIRE_SEGMENT_LIMIT && conn.violation === null) conn.violation = `more than ${QUIET_WIRE_SEGMENT_LIMIT} segments`;
    if (flags & TCP_RST) return;
    const seqSpace = payload + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0);
    if (seqSpace > 0) {
      const end = (seq + seqSpace) >>> 0;
      if (me.haveSeq && ((end - me.nextSeq) | 0) <= 0) {
        // A retransmission: at most tcp_retries2 of one segment (then the socket gives up).
        if (me.rtxCount > 0 && me.rtxSeq === seq) me.rtxCount++;
        else {
          me.rtxSeq = seq;
          me.rtxCount = 1;
        }
        if (me.rtxCount > RETRIES2 + 1 && conn.violation === null) conn.violation = `${me.rtxCount} retransmissions of one segment (tcp_retries2 ${RETRIES2})`;
      } else {
        me.nextSeq = end;
        me.haveSeq = true;
      }
      peer.provoked = true;
      this.noteAck(me, ack, window);
      me.provoked = false;
      return;
    }
    // No sequence space: an ACK, a window update or a probe.
    const news = !me.haveAck || ack !== me.lastAck || window !== me.lastWindow;
    const probe = me.haveSeq && ((seq + 1) >>> 0) === me.nextSeq;
    if (news || me.provoked) {
      // Acknowledges something new, or answers what the peer sent.
    } else if (probe) {
      if (now - me.lastProbeAt < PROBE_MIN_INTERVAL_NS && conn.violation === null) conn.violation = `two probes ${fmtMs(now - me.lastProbeAt)} apart (TCP_RTO_MIN 200 ms)`;
      me.lastProbeAt = now;
      peer.provoked = true;
    } else {
      if (now - me.lastDupAckAt < INVALID_RATELIMIT_NS && conn.violation === null) conn.violation = `two duplicate ACKs ${fmtMs(now - me.lastDupAckAt)} apart with nothing to answer (tcp_invalid_ratelimit 500 ms)`;
      me.lastDupAckAt = now;
    }
    if (!me.haveSeq) {
      me.nextSeq = seq;
      me.haveSeq = true;
    }
    this.noteAck(me, ack, window);
    me.provoked = false;
  }

  private noteAck(me: SideWatch, ack: number, window: number): void {
    me.haveAck = true;
    me.lastAck = ack;
    me.lastWindow = window;
  }

  /** The verdict, for the report. */
  result(): ScenarioCheck {
    const name = 'the wire goes quiet after the scenario (only what Linux\'s timers and rate limits send)';
    if (this.drainFrom === null) return { name, pass: false, detail: 'the drain was never started' };
    let connections = 0;
    let worst: ConnWatch | null = null;
    let failed: ConnWatch | null = null;
    for (const list of this.conns.values()) {
      for (const c of list) {
        connections++;
        if (!worst || c.segments > worst.segments) worst = c;
        if (c.violation !== null && (!failed || c.segments > failed.segments)) failed = c;
      }
    }
    const label = (c: ConnWatch): string => `${ipToString(c.sides[0].addr)}:${c.sides[0].port} ↔ ${ipToString(c.sides[1].addr)}:${c.sides[1].port}`;
    if (failed) {
      const more = this.runaway ? ` (the drain was stopped at ${failed.segments})` : '';
      return { name, pass: false, detail: `${label(failed)}: ${failed.segments} segments after the scenario ended, limit ${QUIET_WIRE_SEGMENT_LIMIT}${more}; ${failed.violation}` };
    }
    if (!worst) return { name, pass: true, detail: 'no TCP segment after the scenario ended' };
    return { name, pass: true, detail: `${this.segments} TCP segments on ${connections} connection${connections === 1 ? '' : 's'} after the scenario ended; most on one: ${worst.segments} (${label(worst)}), limit ${QUIET_WIRE_SEGMENT_LIMIT}` };
  }
}

function fmtMs(ns: number): string {
  return `${(ns / 1e6).toFixed(3)} ms`;
}
