/**
 * The world: boards joined by wires, one virtual clock, one seeded PRNG split per component.
 */
import { Board } from './board.js';
import type { BoardConfig } from './board-config.js';
import { EventQueue, type Nanos } from './event-queue.js';
import { Prng } from './prng.js';
import { NO_IMPAIRMENTS, Wire, type Impairments } from './wire.js';

export class World {
  readonly sim = new EventQueue();
  readonly rng: Prng;
  readonly boards: Board[] = [];
  readonly wires: Wire[] = [];

  constructor(
    readonly seed: number,
    readonly cpuEnabled = true,
  ) {
    this.rng = new Prng(seed);
  }

  addBoard(name: string, config: BoardConfig): Board {
    const board = new Board(name, config, this.sim, this.rng.split(`board:${name}`), this.cpuEnabled);
    this.boards.push(board);
    return board;
  }

  /** Join two boards' MACs; the link runs at the slower of the two speeds. */
  connect(a: Board, b: Board, delayNs: Nanos, impairments: Impairments = NO_IMPAIRMENTS): Wire {
    const speed = Math.min(a.mac.linkSpeedBps, b.mac.linkSpeedBps);
    const wire = new Wire(this.sim, a.mac, b.mac, speed, delayNs, this.rng.split(`wire:${a.name}-${b.name}`), impairments);
    this.wires.push(wire);
    return wire;
  }

  /**
   * The run is over and its results taken: hand the boards' RAM buffers back for reuse. Only
   * the owner of the world's whole lifetime calls this (scenarios/run.ts), after which nothing
   * may touch the boards' RAM.
   */
  dispose(): void {
    for (const b of this.boards) b.ram.dispose();
  }
}
