/**
 * The virtual clock and its event queue.
 *
 * Time is integer nanoseconds held in a JS number (exact up to 2^53 ns, about 104 days of
 * virtual time). Events at the same instant run in the order they were scheduled: the heap is
 * keyed by (time, sequence number), never by object identity, so two runs of the same inputs
 * interleave identically.
 */
export type Nanos = number;

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_SEC = 1_000_000_000;

export interface TimerHandle {
  readonly at: Nanos;
  cancelled: boolean;
}

interface Entry extends TimerHandle {
  readonly seq: number;
  readonly run: () => void;
}

export class EventQueue {
  private heap: Entry[] = [];
  private seq = 0;
  private clock: Nanos = 0;
  /** Events run so far: a cheap progress figure for benchmarks. */
  eventsRun = 0;

  get now(): Nanos {
    return this.clock;
  }

  /** Schedule `run` at absolute time `at` (never earlier than now). */
  at(at: Nanos, run: () => void): TimerHandle {
    const entry: Entry = { at: Math.max(Math.round(at), this.clock), seq: this.seq++, run, cancelled: false };
    this.push(entry);
    return entry;
  }

  after(delay: Nanos, run: () => void): TimerHandle {
    return this.at(this.clock + delay, run);
  }

  cancel(handle: TimerHandle | undefined | null): void {
    if (handle) handle.cancelled = true;
  }

  /** Pending (not cancelled) events; cancelled ones are dropped lazily when they reach the top. */
  get pending(): number {
    let n = 0;
    for (const e of this.heap) if (!e.cancelled) n++;
    return n;
  }

  /** When the next pending event is due, or null when none is: a pacing loop sleeps until then. */
  get nextAt(): Nanos | null {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap.length > 0 ? this.heap[0]!.at : null;
  }

  /**
   * Run events until the queue is empty, `until` is passed, or `stop()` returns true.
   * The clock ends at `until` when given, so timers set "for later" stay pending.
   */
  run(until: Nanos = Number.POSITIVE_INFINITY, stop?: () => boolean): void {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (top.cancelled) {
        this.pop();
        continue;
      }
      if (top.at > until) break;
      this.pop();
      this.clock = top.at;
      this.eventsRun++;
      top.run();
      if (stop && stop()) return;
    }
    if (until !== Number.POSITIVE_INFINITY && this.clock < until) this.clock = until;
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
