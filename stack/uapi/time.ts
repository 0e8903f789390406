/**
 * Time as a program on the board sees it: the board's clock in nanoseconds (a virtual
 * CLOCK_MONOTONIC), its unit constants, and the handle of a pending timer (what
 * ProgramContext.after gives, as timer_create gives a timer_t).
 *
 * The clock is the machine's, so emulator/event-queue.ts defines these and this module names
 * them for programs. Defining them here instead would need the emulator to import from the
 * stack (an arrow from the machine into what runs on it), and defining them in both places
 * would let the two drift; stack/ already depends on emulator/, so naming them here adds no
 * new direction.
 */
export type { Nanos, TimerHandle } from '../../emulator/event-queue.js';
export { NS_PER_MS, NS_PER_SEC, NS_PER_US } from '../../emulator/event-queue.js';
