/**
 * V8 tuning for the quarklab command. A run's cost before its packet path is optimised is
 * mostly TurboFan's, on a 2-core machine the only other core: the per-frame functions inline
 * deeply, so each takes 20–40 ms to compile and ~280 of them are compiled in a 117 MB run.
 * A third of the default cumulative inlining budget per function (920 bytes of bytecode)
 * compiles them in less time and the steady rate does not drop: measured with
 * `bulk-rx:bytes=117000000 --capture none` on 2 cores, median wall 1.47 → 1.41 s and user CPU
 * 1.84 → 1.60 s over six runs each; 4 MB 0.66 → 0.60 s; 400 MB no slower.
 *
 * Only the command sets it: V8's flags are process-wide, and a program that imports the library
 * keeps its own. The flag is read by each compile job, so setting it once the VM runs takes
 * effect for everything compiled afterwards, `quarklab test`'s worker threads included.
 */
import { setFlagsFromString } from 'node:v8';

export function tuneJitForSimulation(): void {
  setFlagsFromString('--max-inlined-bytecode-size-cumulative=300');
}
