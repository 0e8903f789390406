/**
 * What a board program (userland: ping, the DHCP client, servers) gets from the board: its
 * system calls, the virtual clock and seeded random numbers. Programs are event-driven; they
 * never see host time or host randomness. With stack/uapi/ (the ABI's numbers and layouts,
 * time included) this is all a program imports, as a userland binary sees only the kernel's
 * system calls, its uapi headers and libc.
 */
import type { Nanos, TimerHandle } from '../stack/uapi/time.js';
import type { Syscalls } from '../stack/socket/syscalls.js';

/** A seeded pseudo-random sequence: what libc's srandom(seed) then random() give a program. */
export interface Random {
  /** The next 32 random bits, as an unsigned number. */
  nextU32(): number;
  /** An integer in [0, n). */
  nextInt(n: number): number;
}

export interface ProgramContext {
  readonly sys: Syscalls;
  now(): Nanos;
  after(delay: Nanos, run: () => void): TimerHandle;
  cancel(timer: TimerHandle | null): void;
  /** srandom(seed): the board's generator (the machine's seeded PRNG) started from `seed`, so a program's draws repeat with its seed. */
  random(seed: number): Random;
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
