/**
 * `--fail-alloc`: failslab-style allocation failures on the board under test, for `run`, `fuzz`
 * and plan cells. The flag is checked whole before any work (its site must be a cache the stack
 * allocates from); once the board has booted its RAM is armed with a fault attribute drawing from
 * the world's PRNG, so a seed gives the same failures every time.
 */
import { FailSlab, parseFailSlab, type FailSlabSpec } from '../emulator/ram/fail-slab.js';
import type { World } from '../emulator/world.js';
import { ALLOC_SITES } from '../stack/core/kmem.js';
import type { BootedBoard } from './boot.js';
import type { FaultsReport } from '../traces/report.js';

/** The flag's spec, or a one-line error (bad input: exit 2). */
export function resolveFailAlloc(text: string, flag = '--fail-alloc'): FailSlabSpec | { error: string } {
  const spec = parseFailSlab(text, flag);
  if ('error' in spec) return spec;
  if (spec.site !== null && !ALLOC_SITES.includes(spec.site)) {
    return { error: `${flag} ${JSON.stringify(text)}: no allocation site "${spec.site}" (sites: ${ALLOC_SITES.join(', ')})` };
  }
  return spec;
}

/**
 * Arm the board's allocators. Call after every other component has split its generator from the
 * world's, so that a run with injection sees the same wire and stack draws as one without.
 */
export function armFailAlloc(world: World, board: BootedBoard, spec: FailSlabSpec): FailSlab {
  const attr = new FailSlab(spec, world.rng.split(`failslab:${board.role}`));
  board.board.ram.injectFaults(attr);
  return attr;
}

/** What the report says of the injection: the flag, and the failures by site (sorted by name). */
export function failAllocReport(attr: FailSlab): NonNullable<FaultsReport['failAlloc']> {
  const sites = [...attr.injected.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bySite: Record<string, number> = {};
  for (const s of sites) bySite[s] = attr.injected.get(s)!;
  return { spec: attr.spec.text, total: attr.total, bySite };
}
