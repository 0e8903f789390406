/**
 * Running a board program: its own system-call table on the board's stack, the virtual clock,
 * and an event trace of what it prints.
 */
import type { Program, ProgramContext } from '../apps/program.js';
import type { EventQueue, TimerHandle } from '../emulator/event-queue.js';
import { Prng } from '../emulator/prng.js';
import type { NetStack } from '../stack/net-stack.js';
import { Syscalls } from '../stack/socket/syscalls.js';

export interface TraceLine {
  time: number;
  board: string;
  program: string;
  line: string;
}

export class Process {
  readonly sys: Syscalls;
  private readonly timers = new Set<TimerHandle>();
  onExit: ((code: number) => void) | null = null;

  constructor(
    readonly board: string,
    readonly program: Program,
    stack: NetStack,
    private readonly sim: EventQueue,
    private readonly trace: TraceLine[],
  ) {
    this.sys = new Syscalls(stack);
  }

  start(): void {
    const ctx: ProgramContext = {
      sys: this.sys,
      now: () => this.sim.now,
      after: (delay, run) => {
        const h = this.sim.after(delay, () => {
          this.timers.delete(h);
          if (this.program.exitCode === null) run();
        });
        this.timers.add(h);
        return h;
      },
      cancel: (h) => {
        if (h) {
          this.sim.cancel(h);
          this.timers.delete(h);
        }
      },
      random: (seed) => new Prng(seed),
      log: (line) => this.trace.push({ time: this.sim.now, board: this.board, program: this.program.name, line }),
      exit: (code) => this.exit(code),
    };
    this.program.start(ctx);
  }

  /** exit(): timers cancelled, descriptors closed. */
  exit(code: number): void {
    if (this.program.exitCode !== null) return;
    this.program.exitCode = code;
    for (const h of this.timers) this.sim.cancel(h);
    this.timers.clear();
    this.sys.closeAll();
    this.onExit?.(code);
  }
}
