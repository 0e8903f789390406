// Allocation-failure injection, modelled on Linux's failslab (Documentation/fault-injection/
// fault-injection.rst, lib/fault-inject.c's should_fail_ex and mm/failslab.c in 6.1).
//
// One fault attribute per board. Every slab allocation (named caches and kmalloc's size classes)
// and every kmalloc-large asks shouldFail(site) first, with the cache name the code asked for as
// the site; a true answer makes the allocator return 0 exactly as if RAM had run out, so each
// call site takes the path Linux takes on NULL. The order of the tests is should_fail_ex's:
// times (how many failures may still happen), interval (only every Nth call that passes the
// filters is a candidate), then probability. The cache filter is failslab's cache-filter with
// /sys/kernel/slab/NAME/failslab set on one cache.
//
// Differences from Linux, on purpose: the probability is a fraction, not a percent, and is drawn
// from the world's seeded PRNG (prandom there); GFP_KERNEL requests are not exempt (failslab's
// ignore-gfp-wait is N here) so a process's socket() and connect() can be made to fail too;
// SLOB boards get the same injection although Linux's FAILSLAB depends on SLAB || SLUB.

import type { Prng } from '../prng.js';

export interface FailSlabSpec {
  /** Chance a candidate call fails, 0 to 1 (Linux's probability is this × 100). */
  probability: number;
  /** Only every interval-th call that passes the filters is a candidate (1: every call). */
  interval: number;
  /** Failures that may still happen; -1 no limit. */
  times: number;
  /** Only allocations from this cache are candidates (null: every cache). */
  site: string | null;
  /** The flag's text as given, for the report. */
  text: string;
}

export class FailSlab {
  /** Injected failures by site (cache name), in the order sites first failed. */
  readonly injected = new Map<string, number>();
  total = 0;
  private count = 0;
  private times: number;

  constructor(readonly spec: FailSlabSpec, private readonly rng: Prng) {
    this.times = spec.times;
  }

  /** should_fail_ex for one allocation from `site`: true to make it fail (and count it). */
  shouldFail(site: string): boolean {
    const s = this.spec;
    if (s.site !== null && site !== s.site) return false;
    if (this.times === 0) return false;
    if (s.interval > 1 && ++this.count % s.interval !== 0) return false;
    // A certain failure draws nothing, so interval-only runs leave the PRNG alone.
    if (s.probability < 1 && !(this.rng.nextFloat() < s.probability)) return false;
    if (this.times > 0) this.times--;
    this.total++;
    this.injected.set(site, (this.injected.get(site) ?? 0) + 1);
    return true;
  }
}

/**
 * Where the allocators of one board look for the fault attribute: set once the board has booted
 * (boot allocations are not injected, as failslab spares the bootstrap cache).
 */
export class FaultHook {
  attr: FailSlab | null = null;
}

/**
 * Parse `prob=P|nth=N[,site=NAME][,times=T]`. nth=N is failslab with interval N and probability
 * 100; times=1 with it fails just the Nth call, as /proc/<pid>/fail-nth does. The site is only
 * checked for form here: which names exist is the stack's to say.
 */
export function parseFailSlab(text: string, flag: string): FailSlabSpec | { error: string } {
  const bad = (why: string): { error: string } => ({ error: `${flag} ${JSON.stringify(clip(text))}: ${why} (form: prob=P|nth=N[,site=NAME][,times=T])` });
  const seen = new Set<string>();
  let probability: number | null = null;
  let interval: number | null = null;
  let times = -1;
  let site: string | null = null;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (eq < 0) return bad(`"${clip(part)}" is not KEY=VALUE`);
    if (seen.has(key)) return bad(`${key} given twice`);
    seen.add(key);
    if (key === 'prob') {
      if (!/^[01](\.[0-9]{1,9})?$/.test(value) || Number(value) > 1) return bad(`prob must be a decimal from 0 to 1, got "${clip(value)}"`);
      probability = Number(value);
    } else if (key === 'nth') {
      if (!/^[0-9]{1,9}$/.test(value) || Number(value) < 1) return bad(`nth must be a positive decimal integer, got "${clip(value)}"`);
      interval = Number(value);
    } else if (key === 'times') {
      if (!/^[0-9]{1,9}$/.test(value) || Number(value) < 1) return bad(`times must be a positive decimal integer, got "${clip(value)}"`);
      times = Number(value);
    } else if (key === 'site') {
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(value)) return bad(`site must be a cache name, got "${clip(value)}"`);
      site = value;
    } else {
      return bad(`unknown key "${clip(key)}"`);
    }
  }
  if ((probability === null) === (interval === null)) return bad('give one of prob= or nth=');
  return { probability: probability ?? 1, interval: interval ?? 1, times, site, text };
}

function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '…' : s;
}
