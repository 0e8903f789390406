/**
 * Booting a board and building or comparing profiles from a program: the same steps
 * `quarklab run`, `image build` and `profile diff` take, each failure a one-line error.
 */
import type { Program } from '../apps/program.js';
import { World } from '../emulator/world.js';
import { bootBoard as bootOnWorld, programReservations } from '../scenarios/boot.js';
import { buildFirmware } from '../scenarios/firmware.js';
import { DEFAULT_BOARD, DEFAULT_PROFILE, resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { Process } from '../scenarios/process.js';
import { compareProfiles, type ProfileDiff } from '../scripts/profile-diff.js';
import { observeBoard, type BoardObservation } from './observe.js';

export interface ImageOptions {
  board?: string;
  profile?: string;
  /** A cost table from `quarklab calibrate` (default: the shipped Linux 6.1 i386 one). */
  costs?: string;
}

/** Build the firmware image for a board and profile (built-in name or fragment path). */
export function buildImage(opts: ImageOptions = {}): { image: Uint8Array; profile: string; board: string } | { error: string } {
  const board = resolveBoard(opts.board ?? DEFAULT_BOARD);
  if ('error' in board) return board;
  const table = resolveCostTable(opts.costs);
  if ('error' in table) return table;
  const profile = resolveProfile(opts.profile ?? DEFAULT_PROFILE);
  if ('error' in profile) return profile;
  const fw = buildFirmware(board, profile, table);
  if ('error' in fw) return fw;
  return { image: fw.image, profile: profile.name, board: board.name };
}

/** `profile diff A B` as data: per symbol, flash and static RAM, B − A. */
export function diffProfiles(a: string, b: string, opts: { board?: string; costs?: string } = {}): ProfileDiff | { error: string } {
  const board = resolveBoard(opts.board ?? DEFAULT_BOARD);
  if ('error' in board) return board;
  const table = resolveCostTable(opts.costs);
  if ('error' in table) return table;
  const sides = [];
  for (const name of [a, b]) {
    const profile = resolveProfile(name);
    if ('error' in profile) return profile;
    const fw = buildFirmware(board, profile, table);
    if ('error' in fw) return fw;
    sides.push({ profile, imageBytes: fw.image.length, sections: fw.sections, stack: fw.stack });
  }
  return compareProfiles(sides[0]!, sides[1]!, { board: board.name, executeInPlace: board.executeInPlace, costTable: opts.costs ?? 'calibration/linux-6.1-i386.json' });
}

/** A booted board on its own (no wire): run programs on it, advance virtual time, observe. */
export interface StandaloneBoard {
  readonly imageBytes: number;
  spawn(program: Program, done?: (code: number) => void): void;
  /** Run the board's event queue until virtual time `ns` (or nothing is left to do). */
  runUntil(ns: number): void;
  now(): number;
  observe(): BoardObservation;
}

export function bootBoard(opts: ImageOptions & { seed?: number; cpu?: boolean; programs?: readonly string[] } = {}): StandaloneBoard | { error: string } {
  const board = resolveBoard(opts.board ?? DEFAULT_BOARD);
  if ('error' in board) return board;
  const table = resolveCostTable(opts.costs);
  if ('error' in table) return table;
  const built = buildImage(opts);
  if ('error' in built) return built;
  const world = new World(opts.seed ?? 1, opts.cpu ?? true);
  const b = bootOnWorld(world, 'dut', board, built.image, table, programReservations(board, opts.programs ?? []));
  if ('error' in b) return { error: b.error };
  const trace: { time: number; board: string; program: string; line: string }[] = [];
  return {
    imageBytes: built.image.length,
    spawn(program, done) {
      const p = new Process('dut', program, b.stack, world.sim, trace);
      if (done) p.onExit = done;
      p.start();
    },
    runUntil: (ns) => world.sim.run(ns),
    now: () => world.sim.now,
    observe: () => observeBoard(b),
  };
}
