/**
 * A scenario ready to run, as defineScenario (api/define-scenario.ts) makes it from a
 * definition and options, built-in or the user's: the programs it runs on each board (so
 * boot can reserve their RAM), how it drives them, and the checks that decide its verdict.
 * `quarklab run` is the only caller; scenarios themselves see ScenarioRun, not this.
 */
import type { Program } from '../apps/program.js';
import type { Nanos } from '../emulator/event-queue.js';
import type { Impairments } from '../emulator/wire.js';
import type { World } from '../emulator/world.js';
import type { Capture } from '../traces/capture.js';
import type { BootedBoard } from './boot.js';
import type { Process, TraceLine } from './process.js';

export interface ScenarioCheck {
  name: string;
  pass: boolean;
  detail: string;
}

export interface ScenarioContext {
  world: World;
  dut: BootedBoard;
  lab: BootedBoard;
  capture: Capture;
  trace: TraceLine[];
  /** Start a program on a board now; `done` runs when it exits. */
  spawn(on: BootedBoard, program: Program, done?: (code: number) => void): Process;
  /** Mark a scenario step: a note on the next captured frame and a trace line. */
  step(text: string): void;
  /** Call when the scenario's traffic is over; the run then lets timers expire. */
  finish(): void;
  /** `sysctl -w NAME=VALUE` on a board, as a program there would: 0 or a negative errno. */
  sysctl(on: BootedBoard, name: string, value: string): number;
}

export interface ScenarioResult {
  checks: ScenarioCheck[];
  /** Scenario-specific figures for the report (ping RTTs, leases, goodput …). */
  figures: Record<string, unknown>;
  /** Figures budgets can limit (goodput, rtt.p99). */
  measured: Record<string, number | null>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Names of the programs the DUT runs, for boot-time RAM reservations. */
  readonly dutPrograms: readonly string[];
  readonly labPrograms: readonly string[];
  /** Budget figures it measures beyond those every run measures (goodput, rtt.p99). */
  readonly produces?: readonly string[];
  /** Wire impairments the scenario asks for. */
  readonly impairments?: Partial<Impairments>;
  /** Virtual time after which the run is stopped as hung. */
  readonly timeLimitNs: Nanos;
  start(ctx: ScenarioContext): void;
  /** Called after traffic ends and timers have expired. */
  result(ctx: ScenarioContext): ScenarioResult;
}
