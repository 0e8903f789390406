// Host buffers for board RAM, reused from one run to the next within a process.
//
// A process that runs many scenarios (a `quarklab test` worker, the test suite) would otherwise
// allocate a fresh zeroed buffer per board per run — 64 MiB for the lab host — and pay for it
// twice: the kernel faults in every page boot and the run touch, and V8 counts each buffer as
// external memory, so the churn drives full garbage collections. A buffer handed back here is
// zeroed over the parts its run could have written (BoardRam.dirtyRanges) and handed out again
// to the next board of the same size, so every board still boots into all-zero RAM, exactly as
// with a fresh buffer.
//
// Bounded: at most POOL_PER_SIZE buffers of each size and POOL_SIZES sizes are kept; others are
// left to the garbage collector.

const POOL_PER_SIZE = 2;
const POOL_SIZES = 4;

const pool = new Map<number, Uint8Array[]>();

/** A zeroed buffer of `size` bytes: a pooled one when there is one, else a new one. */
export function takeRamBuffer(size: number): Uint8Array {
  const free = pool.get(size);
  const reused = free?.pop();
  return reused ?? new Uint8Array(size);
}

/**
 * Give a board's buffer back once nothing reads it any more. Only the `dirty` byte ranges can
 * have been written; they are zeroed now, so the buffer goes out zeroed.
 */
export function giveBackRamBuffer(bytes: Uint8Array, dirty: readonly (readonly [number, number])[]): void {
  let free = pool.get(bytes.length);
  if (!free) {
    if (pool.size >= POOL_SIZES) return;
    free = [];
    pool.set(bytes.length, free);
  }
  if (free.length >= POOL_PER_SIZE || free.includes(bytes)) return;
  for (const [start, end] of dirty) bytes.fill(0, start, end);
  free.push(bytes);
}
