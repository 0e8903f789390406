/**
 * The timing check: an event happens within the tolerance of its scripted time (or range).
 * packetdrill's default tolerance is 4000 µs (config.c, set_default_config: tolerance_usecs);
 * in virtual time 0 (exact) is meaningful too.
 */
export const DEFAULT_TOLERANCE_USECS = 4000;

export function secs(usecs: number): string {
  return (usecs / 1e6).toFixed(6);
}

/** Null if `actual` is within [start - tol, end + tol]; else packetdrill's sentence. */
export function checkTiming(what: string, startUsecs: number, endUsecs: number, actualUsecs: number, tolUsecs: number): string | null {
  if (actualUsecs >= startUsecs - tolUsecs && actualUsecs <= endUsecs + tolUsecs) return null;
  const when = startUsecs === endUsecs ? `at ${secs(startUsecs)} sec` : `in time range ${secs(startUsecs)}-${secs(endUsecs)} sec`;
  return `timing error: expected ${what} ${when} but happened at ${secs(actualUsecs)} sec; tolerance ${secs(tolUsecs)} sec`;
}
