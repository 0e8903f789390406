/**
 * A full-duplex point-to-point Ethernet link between two MACs, with optional seeded
 * impairments (loss, duplication, reordering, corruption) and a propagation delay.
 *
 * Each direction serialises frames at the link speed: a frame starts when the previous one
 * (and its inter-frame gap) has left, and arrives when its last bit has crossed the delay.
 */
import { wireBytes, type EthernetMac, type WirePort } from './ethernet-mac.js';
import type { EventQueue, Nanos } from './event-queue.js';
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

export class Wire implements WirePort {
  readonly stats: WireStats = { frames: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0 };
  private readonly busyUntil = new Map<EthernetMac, Nanos>();

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
  transmit(from: EthernetMac, frame: Uint8Array): Nanos {
    const to = from === this.a ? this.b : this.a;
    const start = Math.max(this.sim.now, this.busyUntil.get(from) ?? 0);
    const done = start + this.serialisationNs(frame.length);
    this.busyUntil.set(from, done);
    this.stats.frames++;
    const imp = this.impairments;
    if (imp.loss > 0 && this.rng.chance(imp.loss)) {
      this.stats.lost++;
      return done;
    }
    let arrival = done + this.delayNs;
    if (imp.reorder > 0 && this.rng.chance(imp.reorder)) {
      this.stats.reordered++;
      arrival += imp.reorderDelayNs;
    }
    let fcsOk = true;
    let bytes = frame;
    if (imp.corrupt > 0 && this.rng.chance(imp.corrupt)) {
      this.stats.corrupted++;
      bytes = frame.slice();
      const at = this.rng.nextInt(bytes.length);
      bytes[at] = bytes[at]! ^ (1 << this.rng.nextInt(8));
      fcsOk = false;
    }
    this.sim.at(arrival, () => to.deliver(bytes, fcsOk));
    if (imp.duplicate > 0 && this.rng.chance(imp.duplicate)) {
      this.stats.duplicated++;
      this.sim.at(arrival + this.serialisationNs(frame.length), () => to.deliver(bytes, fcsOk));
    }
    return done;
  }
}
