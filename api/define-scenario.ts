/**
 * `defineScenario`: how a scenario is written, built-in or the user's. Options are a schema
 * (data), so `--help` and validation come from it; `lab` starts the lab host's programs,
 * `board` the board's, and `checks` decides the verdict once traffic is over and every timer
 * has expired. The scenario sees the boards through BoardHandle only: it starts programs
 * (which use the board's system calls), writes sysctls as a program would, and observes.
 */
import type { Program } from '../apps/program.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { NO_IMPAIRMENTS, type Impairments } from '../emulator/wire.js';
import { inetAddAddress } from '../stack/ipv4/devinet.js';
import type { Process } from '../scenarios/process.js';
import type { Scenario, ScenarioCheck, ScenarioContext, ScenarioResult } from '../scenarios/scenario.js';
import { DUT_STATIC_ADDR, LAB_ADDR, staticNetwork } from '../scenarios/static-network.js';
import { observeBoard, type BoardObservation } from './observe.js';
import { describeOptions, parseOptions, type OptionSchema, type OptionValues } from './options.js';

/** Budget figures a scenario may measure on top of those every run measures (RAM, flash …). */
export type ScenarioFigure = 'goodput' | 'rtt.p99';

/** One board, as a scenario sees it. */
export interface BoardHandle {
  /** 'dut' (the board under test) or 'lab' (the lab host). */
  readonly role: string;
  /** Its IPv4 address on the static lab network (192.0.2.2 the board, 192.0.2.1 the lab host). */
  readonly addr: number;
  /** Its interface's name and index (if_nametoindex) and MAC address (a copy). */
  readonly ifname: string;
  readonly ifindex: number;
  readonly mac: Uint8Array;
  /** Whether its profile builds in CONFIG_<symbol> (e.g. 'PROC_FS', 'RTNETLINK'). */
  has(symbol: string): boolean;
  /** A seed for a program on this board, from the run's seeded generator (never host randomness). */
  programSeed(program: string): number;
  /** `ip addr add ADDR/PREFIX dev eth0`, as the board's init scripts would. */
  addAddress(addr: number, prefixLen: number): void;
  /** See each frame the MAC sends ('outbound') or receives ('inbound'), as a capture does (a copy of each). */
  tap(fn: (direction: 'inbound' | 'outbound', frame: Uint8Array) => void): void;
  /** Start a program on this board now; `done` runs when it exits. */
  spawn(program: Program, done?: (code: number) => void): Process;
  /**
   * Write a sysctl as `sysctl -w` on the board does (through /proc/sys): returns 0, or a
   * negative errno (-ENOENT for an unknown or absent one, -EINVAL for a bad value).
   */
  sysctl(name: string, value: string): number;
  /** RAM by cache, sockets, MIB and netdev counters, and the memory bound, now. */
  observe(): BoardObservation;
}

export interface ScenarioPrograms {
  board?: readonly string[];
  lab?: readonly string[];
}

/** What a scenario's functions are handed during a run. */
export interface ScenarioRun {
  readonly board: BoardHandle;
  readonly lab: BoardHandle;
  /** Virtual time now, in nanoseconds. */
  now(): number;
  /** Mark a step: a note on the next captured frame and a trace line. */
  step(text: string): void;
  /** Call when the traffic is over; the run then lets timers expire. */
  finish(): void;
  /** Run `fn` after `delayNs` of virtual time (a step of the scenario, not a program's timer). */
  after(delayNs: number, fn: () => void): void;
  /** The wire drops, corrupts, duplicates or reorders frames in this run. */
  readonly impaired: boolean;
  /** What the wire does to frames in this run (wire options over the scenario's own). */
  readonly impairments: Readonly<Impairments>;
}

/** What `state` returns to refuse options it cannot run with (a file that is no capture …). */
export class ScenarioRefusal {
  constructor(readonly error: string) {}
}

/** Refuse the options, before anything boots, with this one-line reason. */
export function refuse(error: string): ScenarioRefusal {
  return new ScenarioRefusal(error);
}

export interface ScenarioDefinition<O extends OptionSchema, S> {
  name: string;
  /** One line for `--help` (default: the description, when it is a string). */
  summary?: string;
  /** One line for the report, from the options given. */
  description: string | ((options: OptionValues<O>, state: S) => string);
  options?: O;
  /** Names of the programs each board runs, so boot reserves their RAM as for any program. */
  programs?: ScenarioPrograms | ((options: OptionValues<O>) => ScenarioPrograms);
  /** Budget figures this scenario measures (from `measured`); a budget on another is refused. */
  produces?: readonly ScenarioFigure[];
  /** Virtual seconds after which the run is stopped as hung (default 60). */
  timeLimitSeconds?: number | ((options: OptionValues<O>, state: S) => number);
  /** 'static' (default): both boards get their static addresses first; 'none': the scenario configures the network. */
  network?: 'static' | 'none';
  /** Wire impairments the scenario asks for (the wire options loss=… override them). */
  impairments?: Partial<Impairments>;
  /** Fresh per-run state shared by lab, board and checks; or refuse(…) the options, before anything boots. */
  state?: (options: OptionValues<O>) => S | ScenarioRefusal;
  /** Starts the lab host's programs; runs before `board` (a server the board connects to listens first). */
  lab?: (t: ScenarioRun, options: OptionValues<O>, state: S) => void;
  /** Starts the board's programs (and any lab program that must start after them). */
  board?: (t: ScenarioRun, options: OptionValues<O>, state: S) => void;
  checks: (t: ScenarioRun, options: OptionValues<O>, state: S) => ScenarioCheck[];
  /** Scenario-specific figures for the report. */
  figures?: (t: ScenarioRun, options: OptionValues<O>, state: S) => Record<string, unknown>;
  /** Values of the figures named in `produces` (null when not measured this run). */
  measured?: (t: ScenarioRun, options: OptionValues<O>, state: S) => Partial<Record<ScenarioFigure, number | null>>;
}

/** A scenario ready to be run with options: what `defineScenario` returns and a module default-exports. */
export interface DefinedScenario {
  readonly kind: 'quarklab-scenario';
  readonly name: string;
  readonly options: OptionSchema;
  readonly produces: readonly ScenarioFigure[];
  /** One line saying what it does, for the list of scenarios. */
  readonly summary: string;
  /** The help text: the summary and one line per option. */
  help(): string;
  /** A runnable scenario for these `key=value` options, or a one-line error. */
  instantiate(pairs: readonly [string, string][]): Scenario | { error: string };
}

export function defineScenario<O extends OptionSchema = Record<never, never>, S = undefined>(def: ScenarioDefinition<O, S>): DefinedScenario {
  const schema: OptionSchema = def.options ?? {};
  const produces = def.produces ?? [];
  const describe = (o: OptionValues<O>, s: S) => (typeof def.description === 'function' ? def.description(o, s) : def.description);
  return {
    kind: 'quarklab-scenario',
    name: def.name,
    options: schema,
    produces,
    summary: def.summary ?? (typeof def.description === 'string' ? def.description : def.name),
    help: () => [def.summary ?? (typeof def.description === 'string' ? def.description : def.name), ...describeOptions(schema).map((l) => `  ${l}`)].join('\n'),
    instantiate(pairs) {
      const parsed = parseOptions(schema, pairs);
      if ('error' in parsed) return { error: parsed.error };
      const options = parsed.values as OptionValues<O>;
      const made = def.state ? def.state(options) : undefined;
      if (made instanceof ScenarioRefusal) return { error: made.error };
      const state = made as S;
      let t: ScenarioRun | null = null;
      const programs = typeof def.programs === 'function' ? def.programs(options) : def.programs;
      const limit = typeof def.timeLimitSeconds === 'function' ? def.timeLimitSeconds(options, state) : def.timeLimitSeconds ?? 60;
      return {
        name: def.name,
        description: describe(options, state),
        dutPrograms: programs?.board ?? [],
        labPrograms: programs?.lab ?? [],
        impairments: def.impairments,
        produces,
        timeLimitNs: Math.round(limit * NS_PER_SEC),
        start(ctx: ScenarioContext) {
          if ((def.network ?? 'static') === 'static') staticNetwork(ctx);
          t = scenarioRun(ctx);
          def.lab?.(t, options, state);
          def.board?.(t, options, state);
        },
        result(ctx: ScenarioContext): ScenarioResult {
          const run = t ?? scenarioRun(ctx);
          return {
            checks: def.checks(run, options, state),
            figures: def.figures ? def.figures(run, options, state) : {},
            measured: def.measured ? (def.measured(run, options, state) as Record<string, number | null>) : {},
          };
        },
      };
    },
  };
}

export function isDefinedScenario(v: unknown): v is DefinedScenario {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'quarklab-scenario' && typeof (v as { instantiate?: unknown }).instantiate === 'function';
}

function scenarioRun(ctx: ScenarioContext): ScenarioRun {
  const handle = (b: ScenarioContext['dut'], addr: number): BoardHandle => ({
    role: b.role,
    addr,
    ifname: b.dev.name,
    ifindex: b.dev.ifindex,
    mac: Uint8Array.from(b.board.mac.address),
    has: (symbol) => b.stack.env.config.has(symbol), // any name a user scenario gives
    programSeed: (program) => b.board.rng.split(`program:${program}`).nextU32(),
    addAddress: (a, prefixLen) => inetAddAddress(b.stack, b.dev.ifindex, a, prefixLen),
    tap: (fn) => b.board.mac.addTap((e) => fn(e.direction, e.frame)),
    spawn: (program, done) => ctx.spawn(b, program, done),
    sysctl: (name, value) => ctx.sysctl(b, name, value),
    observe: () => observeBoard(b),
  });
  const wire = ctx.world.wires[0]?.impairments ?? NO_IMPAIRMENTS;
  return {
    board: handle(ctx.dut, DUT_STATIC_ADDR),
    lab: handle(ctx.lab, LAB_ADDR),
    now: () => ctx.world.sim.now,
    step: (text) => ctx.step(text),
    finish: () => ctx.finish(),
    after: (delayNs, fn) => void ctx.world.sim.after(delayNs, fn),
    impaired: wire.loss > 0 || wire.corrupt > 0 || wire.duplicate > 0 || wire.reorder > 0,
    impairments: { ...wire },
  };
}
