/**
 * A full-duplex point-to-point Ethernet link between two MACs, with optional seeded
 * impairments (loss, duplication, reordering, corruption) and a propagation delay.
 *
 * Each direction serialises frames at the link speed: a frame starts when the previous one
 * (and its inter-frame gap) has left, and arrives when its last bit has crossed the delay.
 */
import { MAX_FRAME_NO_FCS, wireBytes, type EthernetMac, type WirePort } from './ethernet-mac.js';
import { laterOf, NANOS_ZERO, Timer, type EventQueue, type Nanos } from './event-queue.js';
import { crc32 } from './flash-image.js';
import type { Prng } from './prng.js';

export interface Impairments {
  /** Probability each frame is lost. */
  loss: number;
  /** Probability each frame is delivered twice. */
  duplicate: number;
  /** Probability each frame is held back by `reorderDelayNs` so later frames overtake it. */
  reorder: number;
  /** Probability one byte of the frame is flipped (the receiving MAC sees a bad FCS). */
  corrupt: number;
  reorderDelayNs: Nanos;
}

export const NO_IMPAIRMENTS: Impairments = { loss: 0, duplicate: 0, reorder: 0, corrupt: 0, reorderDelayNs: 0 };

export interface WireStats {
  frames: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
}

/** A frame on the wire: its own copy of the bytes, until its last bit reaches the far MAC. */
class FrameInFlight extends Timer {
  readonly bytes = Buffer.alloc(MAX_FRAME_NO_FCS);
  length = 0;
  fcsOk = true;
  /** What the wire did to this copy, for the capture at the far end (null for a clean frame). */
  note: string | null = null;
  /** The FCS the sender computed, kept when the bytes were corrupted after it (else -1). */
  sentFcs = -1;
  to: EthernetMac | null = null;
  constructor(wire: Wire) {
    super(() => wire.arrive(this));
  }
}

export class Wire implements WirePort {
  readonly stats: WireStats = { frames: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0 };
  /** When each direction's transmitter is free again (a→b, b→a). */
  private busyA: Nanos = NANOS_ZERO;
  private busyB: Nanos = NANOS_ZERO;
  /** What the wire did to the frame last given to transmit() (a note for the sender's capture). */
  lastTxNote: string | null = null;
  /** Frame records not on the wire, reused: nothing is allocated per frame once warm. */
  private readonly free: FrameInFlight[] = [];

  constructor(
    private readonly sim: EventQueue,
    readonly a: EthernetMac,
    readonly b: EthernetMac,
    readonly speedBps: number,
    readonly delayNs: Nanos,
    private readonly rng: Prng,
    public impairments: Impairments = NO_IMPAIRMENTS,
  ) {
    a.attach(this);
    b.attach(this);
  }

  serialisationNs(frameLen: number): Nanos {
    return Math.ceil((wireBytes(frameLen) * 8 * 1e9) / this.speedBps);
  }

  /** Send a frame from one end; returns when its transmission (including the gap) completes. */
  transmit(from: EthernetMac, bytes: Buffer, offset: number, length: number): Nanos {
    const fromA = from === this.a;
    const to = fromA ? this.b : this.a;
    const start = laterOf(this.sim.now, fromA ? this.busyA : this.busyB);
    const done = start + this.serialisationNs(length);
    if (fromA) this.busyA = done;
    else this.busyB = done;
    this.stats.frames++;
    this.lastTxNote = null;
    const imp = this.impairments;
    if (imp.loss > 0 && this.rng.chance(imp.loss)) {
      this.stats.lost++;
      this.lastTxNote = 'wire: lost (never reaches the other end)';
      return done;
    }
    let arrival = done + this.delayNs;
    let note: string | null = null;
    if (imp.reorder > 0 && this.rng.chance(imp.reorder)) {
      this.stats.reordered++;
      arrival += imp.reorderDelayNs;
      note = `wire: held back ${(imp.reorderDelayNs / 1e6).toFixed(3)} ms (reordered: later frames overtake it)`;
    }
    const f = this.take(to, bytes, offset, length);
    if (imp.corrupt > 0 && this.rng.chance(imp.corrupt)) {
      this.stats.corrupted++;
      const at = this.rng.nextInt(length);
      const bit = this.rng.nextInt(8);
      f.sentFcs = crc32(f.bytes.subarray(0, length));
      f.bytes[at] = f.bytes[at]! ^ (1 << bit);
      f.fcsOk = false;
      const c = `wire: corrupted (bit ${bit} of byte ${at} flipped; the FCS no longer matches)`;
      note = note === null ? c : `${note}; ${c}`;
    }
    f.note = note;
    this.sim.mod(f, arrival);
    if (imp.duplicate > 0 && this.rng.chance(imp.duplicate)) {
      this.stats.duplicated++;
      const d = this.take(to, f.bytes, 0, length);
      d.fcsOk = f.fcsOk;
      d.sentFcs = f.sentFcs;
      d.note = note === null ? 'wire: duplicate copy' : `${note}; wire: duplicate copy`;
      this.sim.mod(d, arrival + this.serialisationNs(length));
      note = note === null ? 'wire: duplicated (delivered twice)' : `${note}; wire: duplicated (delivered twice)`;
    }
    this.lastTxNote = note;
    return done;
  }

  /** A frame's last bit reaches the far end. */
  arrive(f: FrameInFlight): void {
    const to = f.to!;
    f.to = null;
    to.deliverFrom(f.bytes, 0, f.length, f.fcsOk, f.note, f.sentFcs);
    this.free.push(f);
  }

  private take(to: EthernetMac, bytes: Buffer, offset: number, length: number): FrameInFlight {
    const f = this.free.pop() ?? new FrameInFlight(this);
    bytes.copy(f.bytes, 0, offset, offset + length);
    f.length = length;
    f.fcsOk = true;
    f.note = null;
    f.sentFcs = -1;
    f.to = to;
    return f;
  }
}
