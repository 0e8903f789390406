/**
 * What a board program (userland: ping, the DHCP client, servers) gets from the board: its
 * system calls and the virtual clock. Programs are event-driven; they never see host time.
 */
import type { Nanos, TimerHandle } from '../emulator/event-queue.js';
import type { Syscalls } from '../stack/socket/syscalls.js';

export interface ProgramContext {
  readonly sys: Syscalls;
  now(): Nanos;
  after(delay: Nanos, run: () => void): TimerHandle;
  cancel(timer: TimerHandle | null): void;
  /** A line for the event trace (what the program would print). */
  log(line: string): void;
  /** The program is done; its descriptors are closed as at exit(). */
  exit(code: number): void;
}

export interface Program {
  readonly name: string;
  start(ctx: ProgramContext): void;
  /** Set once the program has exited. */
  exitCode: number | null;
}
