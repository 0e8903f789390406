/**
 * The virtual clock and its event queue.
 *
 * Time is integer nanoseconds held in a JS number (exact up to 2^53 ns, about 104 days of
 * virtual time). Events at the same instant run in the order they were scheduled: the heap is
 * keyed by (time, sequence number), never by object identity, so two runs of the same inputs
 * interleave identically.
 *
 * An event is a Timer record (Linux's timer_list): a callback fixed when the timer is made and
 * a slot in the heap. `mod` re-arms a timer where it stands in the heap (mod_timer): a pending
 * timer moves, nothing cancelled is left behind, and it takes a fresh sequence number, so at
 * a shared instant it runs after everything scheduled before the re-arm, exactly as a cancel
 * followed by a new event would. `del` takes a pending timer out of the heap (del_timer).
 * Hot paths keep their timers for their lifetime and re-arm them; `at`/`after` make a one-shot
 * timer for a closure, for the paths where a closure per event costs nothing that matters.
 */
export type Nanos = number;

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_SEC = 1_000_000_000;

/**
 * Zero, for a Nanos field's first value. V8 stores a field that has only ever held small
 * integers (below 2^31) as one, and code optimised while that holds assumes it. Virtual time
 * passes 2^31 ns 2.1 s into a run, and timers are set seconds ahead from the start: each time
 * field that then gets a larger value changes its object's layout, and every function
 * optimised against the old one is thrown away and compiled again, a wave of deopts while a
 * run warms up. Minus zero is not a small integer to V8, so a field that starts with it holds
 * doubles from the first object on. It is 0 to every comparison and every sum with a time, and
 * prints as 0.
 */
export const NANOS_ZERO: Nanos = -0;

/**
 * The later of two times. Not Math.max, which returns a small integer whenever the result
 * fits one: a sum made from it is then compiled for small integers, and thrown away once
 * times pass 2^31 ns (the same wave of deopts as above).
 */
export function laterOf(a: Nanos, b: Nanos): Nanos {
  return a > b ? a : b;
}

export interface TimerHandle {
  readonly at: Nanos;
  cancelled: boolean;
}

/** A re-armable event: `fire` runs when the clock reaches `at`. */
export class Timer implements TimerHandle {
  at: Nanos = NANOS_ZERO;
  seq = 0;
  /** Position in the heap, or -1 when not pending. */
  index = -1;
  /** Set by cancel() (the old handle semantics, which /proc readers look at). */
  cancelled = false;

  constructor(public fire: () => void) {}

  get pending(): boolean {
    return this.index >= 0;
  }
}

export class EventQueue {
  private heap: Timer[] = [];
  private seq = 0;
  private clock: Nanos = NANOS_ZERO;
  /** Events run so far: a cheap progress figure for benchmarks. */
  eventsRun = 0;

  get now(): Nanos {
    return this.clock;
  }

  /** Schedule `run` at absolute time `at` (never earlier than now). */
  at(at: Nanos, run: () => void): TimerHandle {
    const t = new Timer(run);
    this.mod(t, at);
    return t;
  }

  after(delay: Nanos, run: () => void): TimerHandle {
    return this.at(this.clock + delay, run);
  }

  /**
   * Arm `timer` for absolute time `at` (never earlier than now), moving it if it is pending.
   * It takes a fresh sequence number either way.
   */
  mod(timer: Timer, at: Nanos): void {
    timer.at = Math.max(Math.round(at), this.clock);
    timer.seq = this.seq++;
    timer.cancelled = false;
    const h = this.heap;
    if (timer.index < 0) {
      timer.index = h.length;
      h.push(timer);
      this.siftUp(timer.index);
    } else {
      this.siftUp(timer.index);
      this.siftDown(timer.index);
    }
  }

  /** Take a pending timer out of the queue; a no-op when it is not pending. */
  del(timer: Timer): void {
    const i = timer.index;
    if (i < 0) return;
    const h = this.heap;
    const last = h.pop()!;
    timer.index = -1;
    if (last !== timer) {
      h[i] = last;
      last.index = i;
      this.siftUp(i);
      this.siftDown(last.index);
    }
  }

  cancel(handle: TimerHandle | undefined | null): void {
    if (!handle) return;
    handle.cancelled = true;
    this.del(handle as Timer);
  }

  /** Pending events. */
  get pending(): number {
    return this.heap.length;
  }

  /** When the next pending event is due, or null when none is: a pacing loop sleeps until then. */
  get nextAt(): Nanos | null {
    // Cancelled timers leave the heap at once (del), so the top is always live.
    return this.heap.length > 0 ? this.heap[0]!.at : null;
  }

  /**
   * Run events until the queue is empty, `until` is passed, or `stop()` returns true.
   * The clock ends at `until` when given, so timers set "for later" stay pending.
   */
  run(until: Nanos = Number.POSITIVE_INFINITY, stop?: () => boolean): void {
    const h = this.heap;
    while (h.length > 0) {
      const top = h[0]!;
      if (top.at > until) break;
      this.popTop();
      this.clock = top.at;
      this.eventsRun++;
      top.fire();
      if (stop && stop()) return;
    }
    if (until !== Number.POSITIVE_INFINITY && this.clock < until) this.clock = until;
  }

  private popTop(): void {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    top.index = -1;
    if (last !== top) {
      h[0] = last;
      last.index = 0;
      this.siftDown(0);
    }
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (!(e.at < p.at || (e.at === p.at && e.seq < p.seq))) break;
      h[i] = p;
      p.index = i;
      i = parent;
    }
    h[i] = e;
    e.index = i;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let cv = h[l]!;
      if (r < n) {
        const rv = h[r]!;
        if (rv.at < cv.at || (rv.at === cv.at && rv.seq < cv.seq)) {
          c = r;
          cv = rv;
        }
      }
      if (!(cv.at < e.at || (cv.at === e.at && cv.seq < e.seq))) break;
      h[i] = cv;
      cv.index = i;
      i = c;
    }
    h[i] = e;
    e.index = i;
  }
}
