/**
 * The board's CPU as a single serial resource measured in cycles.
 *
 * Work that Linux does in interrupt or softirq context (NAPI poll, protocol processing,
 * copies) is charged here: each piece starts when the CPU is free and occupies it for
 * cycles / clockHz. A slow board therefore becomes CPU-bound, and a flood that arrives faster
 * than the CPU drains it fills the RX ring. With the budget off (`--cpu off`) work is free.
 */
import type { CpuCycleTable } from './board-config.js';
import { laterOf, NANOS_ZERO, type EventQueue, type Nanos } from './event-queue.js';

/**
 * Defaults for the cycle-table entries a board file may omit; docs/cpu-model.md gives the
 * reasoning for each (all three are estimates).
 */
export const DEFAULT_OPTIONAL_CYCLES = { bpfInsn: 8, timer: 400, groSegment: 250 } as const;

export class Cpu {
  private busyUntil: Nanos = NANOS_ZERO;
  /** The cycle table with the optional entries filled in. */
  readonly cycles: Required<CpuCycleTable>;
  /** Cycles charged so far, for the report's CPU utilisation. */
  cyclesUsed = 0;

  constructor(
    private readonly sim: EventQueue,
    readonly clockHz: number,
    cycles: CpuCycleTable,
    readonly enabled: boolean,
  ) {
    this.cycles = { ...DEFAULT_OPTIONAL_CYCLES, ...cycles };
  }

  nanosFor(cycles: number): Nanos {
    return this.enabled ? Math.ceil((cycles * 1e9) / this.clockHz) : 0;
  }

  /**
   * Occupy the CPU for `cycles` starting when it is next free; returns the virtual time at
   * which that work completes.
   */
  charge(cycles: number): Nanos {
    this.cyclesUsed += cycles;
    const start = laterOf(this.sim.now, this.busyUntil);
    this.busyUntil = start + this.nanosFor(cycles);
    return this.busyUntil;
  }

  /** When the CPU is next idle. */
  get idleAt(): Nanos {
    return laterOf(this.sim.now, this.busyUntil);
  }
}
