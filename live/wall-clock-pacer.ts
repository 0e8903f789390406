/**
 * Wall-clock pacing: virtual time follows the host's monotonic clock.
 *
 * Each tick takes the monotonic time elapsed since the start as the target, hands the frames
 * that came from the tunnel to the board at the current virtual time, runs every event due by
 * the target, and sleeps until the next event is due or a frame arrives. When the host is too
 * slow (a loaded machine, a burst of work) virtual time falls behind the wall clock; the
 * pacer measures by how much, and the emulator catches up by running events late rather than
 * skipping them, so nothing the board does is lost, only delayed.
 */
import type { EventQueue, Nanos } from '../emulator/event-queue.js';

export interface LagStats {
  ticks: number;
  /** The most the emulator was ever behind the wall clock: an event ran this long after it was due. */
  maxLagNs: Nanos;
  /** Mean over ticks that had due work. */
  meanLagNs: Nanos;
  /** Ticks that ran behind by more than 1 ms and by more than 10 ms. */
  ticksBehind1ms: number;
  ticksBehind10ms: number;
  /** Share of wall time spent running the emulator (the rest asleep, waiting). */
  busyShare: number;
  /** CPU seconds the whole process used (user and system: emulator, socket, capture). */
  cpuSeconds: number;
}

/** Below this the pacer yields to the event loop (setImmediate) instead of sleeping on a timer. */
const SPIN_BELOW_NS = 500_000;
/** Longest sleep with nothing due: the loop still wakes to check for the end. */
const IDLE_SLEEP_MS = 50;

export class WallClockPacer {
  private readonly origin = process.hrtime.bigint();
  private readonly cpuAtStart = process.cpuUsage();
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private stopped = false;
  private lagSum = 0;
  private lagTicks = 0;
  private busyNs = 0;
  readonly lag: LagStats = { ticks: 0, maxLagNs: 0, meanLagNs: 0, ticksBehind1ms: 0, ticksBehind10ms: 0, busyShare: 0, cpuSeconds: 0 };
  private onStop: (() => void) | null = null;
  /** Set by poke(): outside work (frames from the socket) waits for the next tick. */
  private poked = false;

  /**
   * @param takeInput hands outside input (queued frames) to the board; each tick calls it once
   * the virtual clock has reached the wall clock, so the input enters at the current time.
   */
  constructor(
    private readonly sim: EventQueue,
    private readonly takeInput: () => void,
  ) {}

  /** Wall nanoseconds since the pacer was made. */
  elapsedNs(): Nanos {
    return Number(process.hrtime.bigint() - this.origin);
  }

  start(onStop: () => void): void {
    this.onStop = onStop;
    this.wake();
  }

  /** Outside input is waiting: tick as soon as possible. */
  poke(): void {
    this.poked = true;
    this.wake();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    const total = this.elapsedNs();
    this.lag.busyShare = total > 0 ? this.busyNs / total : 0;
    const cpu = process.cpuUsage(this.cpuAtStart);
    this.lag.cpuSeconds = (cpu.user + cpu.system) / 1e6;
    this.lag.meanLagNs = this.lagTicks > 0 ? Math.round(this.lagSum / this.lagTicks) : 0;
    this.onStop?.();
  }

  private wake(): void {
    if (this.stopped || this.immediate) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.tick();
    });
  }

  private tick(): void {
    if (this.stopped) return;
    const began = this.elapsedNs();
    const target = Math.max(began, this.sim.now);
    const dueBefore = this.sim.nextAt;
    // Bring the clock to now first, so frames from outside enter at the current virtual time.
    this.sim.run(target);
    if (this.poked) {
      this.poked = false;
      this.takeInput();
      this.sim.run(target);
    }
    const ended = this.elapsedNs();
    this.busyNs += ended - began;
    this.lag.ticks++;
    // Behind by: when the work finished, minus when the earliest of it was due.
    const dueAt = dueBefore !== null && dueBefore <= target ? dueBefore : target;
    const lag = ended - dueAt;
    if (dueBefore !== null && dueBefore <= target) {
      this.lagSum += lag;
      this.lagTicks++;
      if (lag > this.lag.maxLagNs) this.lag.maxLagNs = lag;
      if (lag > 1_000_000) this.lag.ticksBehind1ms++;
      if (lag > 10_000_000) this.lag.ticksBehind10ms++;
    }
    if (this.stopped) return;
    const next = this.sim.nextAt;
    if (this.poked || (next !== null && next - this.elapsedNs() < SPIN_BELOW_NS)) {
      this.wake();
      return;
    }
    const sleepMs = next === null ? IDLE_SLEEP_MS : Math.min(IDLE_SLEEP_MS, Math.max(0, (next - this.elapsedNs()) / 1e6));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick();
    }, Math.floor(sleepMs));
  }
}
