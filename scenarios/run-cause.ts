/**
 * Why a scenario did not finish: a run that hits its time limit says what its programs were told
 * (the errno lines they printed, e.g. "connect: ENOBUFS") and which allocations the board refused
 * (each cache with failures, and those a GFP_KERNEL request was held back at vm.min_free_kbytes),
 * not only "still running at the limit".
 */
import type { BoardRam } from '../emulator/ram/board-ram.js';
import type { TraceLine } from './process.js';

const ERRNO_LINE = /\bE[A-Z0-9]{2,}$/;

/** The cause part of a "scenario completes" failure, or '' when nothing was refused or reported. */
export function stuckCause(ram: BoardRam, dutRole: string, trace: readonly TraceLine[]): string {
  const parts: string[] = [];
  const errors = new Map<string, number>();
  for (const t of trace) {
    if (t.board !== dutRole || !ERRNO_LINE.test(t.line)) continue;
    const key = `${t.program} ${t.line}`;
    if (!errors.has(key)) errors.set(key, t.time);
  }
  if (errors.size > 0) {
    const shown = [...errors].slice(0, 4).map(([k, ns]) => `${k} at ${(ns / 1e9).toFixed(3)} s`);
    parts.push(`the board's programs were told: ${shown.join('; ')}${errors.size > 4 ? `; and ${errors.size - 4} more` : ''}`);
  }
  const refused: string[] = [];
  const large = ram.slabinfo().find((c) => c.name === 'kmalloc-large');
  for (const k of ram.ramKinds()) {
    if (k.failures > 0) refused.push(`${k.name} ${k.failures} failed`);
    if (k.throttled > 0) refused.push(`${k.name} ${k.throttled} held back at min_free`);
  }
  // kmalloc-large counts a request held back at the watermark among its failures as well.
  const largeFailed = (large?.failures ?? 0) - ram.largeThrottled;
  if (largeFailed > 0) refused.push(`kmalloc-large ${largeFailed} failed`);
  if (ram.largeThrottled > 0) refused.push(`kmalloc-large ${ram.largeThrottled} held back at min_free`);
  if (refused.length > 0) {
    const u = ram.usage();
    parts.push(`allocations refused: ${refused.join(', ')} (heap ${u.heapBytes / 1024} KiB, peak in use ${u.peakUsedBytes / 1024} KiB, vm.min_free_kbytes ${ram.minFreeKbytes}: GFP_KERNEL requests may not take the last ${ram.minFreeKbytes} KiB)`);
  }
  return parts.join('; ');
}
