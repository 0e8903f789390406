/**
 * "Text after LTO": the one figure a profile's measured LTO factor changes.
 *
 * The seed's ~170 KB is an LTO figure; mainline Linux 6.1 has no gcc LTO and the calibration
 * has no LTO build, so quarklab cannot know what LTO would drop. A profile fragment may state a
 * factor its team measured (`# lto-factor: 0.62`, parsed in kconfig.ts): the stack's text
 * linked with LTO divided by the summed object text quarklab reports for the same profile. It is
 * applied to that one estimate, never to the image, the boot memory map or any sum, and when a
 * profile states none quarklab says so rather than guessing (docs/calibration.md, "LTO").
 */
import type { Profile } from '../stack/kconfig/kconfig.js';

export const NO_LTO_FACTOR = 'no LTO factor given';

export interface LtoEstimate {
  /** The profile's stated factor, or null when it states none. */
  factor: number | null;
  /** round(stackText × factor), or null without a factor. */
  textAfterLto: number | null;
  /** One line for people: the estimate with its factor, or "no LTO factor given". */
  note: string;
}

/** The text-after-LTO estimate for a profile whose summed stack text is `stackText`. */
export function ltoEstimate(profile: Pick<Profile, 'ltoFactor'>, stackText: number): LtoEstimate {
  const f = profile.ltoFactor;
  if (f === undefined) return { factor: null, textAfterLto: null, note: NO_LTO_FACTOR };
  const after = Math.round(stackText * f);
  return { factor: f, textAfterLto: after, note: `text after LTO ${after} (${stackText} × measured lto-factor ${f})` };
}
