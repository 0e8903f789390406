// Profiles with and without one Kconfig symbol, and the modelled difference between them:
// the image by the symbol's sections, the boot RAM by those sections page-rounded.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootRequirement } from '../../emulator/board.js';
import { buildFirmware } from '../../scenarios/firmware.js';
import { resolveBoard, resolveCostTable, resolveProfile } from '../../scenarios/inputs.js';
import { calibratedBootRam, calibratedFlash } from './calibration-oracle.js';
import { tempDir } from './run.js';

function must<T>(x: T): Exclude<T, { error: string }> {
  if (typeof x === 'object' && x !== null && 'error' in x) throw new Error((x as { error: string }).error);
  return x as Exclude<T, { error: string }>;
}

/** Write `# base: BASE` plus lines to a fragment file; returns its path. */
export function fragment(base: string, lines: string[], name = 'profile'): string {
  const dir = tempDir('quarklab-frag-');
  const path = join(dir, `${name}.config`);
  writeFileSync(path, [`# base: ${base}`, ...lines, ''].join('\n'));
  return path;
}

/** A fragment that turns `symbol` off (and what depends on it, given as `alsoOff`). */
export function without(base: string, symbol: string, alsoOff: string[] = []): string {
  return fragment(base, [symbol, ...alsoOff].map((s) => `# CONFIG_${s} is not set`), `no-${symbol.toLowerCase()}`);
}

export function withSymbol(base: string, symbol: string, alsoOn: string[] = []): string {
  return fragment(base, [symbol, ...alsoOn].map((s) => `CONFIG_${s}=y`), `with-${symbol.toLowerCase()}`);
}

export interface ImageComparison {
  imageDelta: number;
  /** text + data of the symbol's objects (bss has no flash bytes). */
  modelledFlash: number;
  sectionsDelta: number;
  configDelta: number;
  bootRamDelta: number;
  modelledBootRam: number;
}

/**
 * Build both images and compare: the image grows by the symbol's text and data (as the raw
 * calibration gives them, test/helpers/calibration-oracle.ts), plus 48 bytes
 * of section table per section, plus the config section's change (the enabled-symbol list).
 */
export function compareImages(board: string, withPath: string, withoutPath: string, symbols: string[]): ImageComparison {
  const table = must(resolveCostTable());
  const b = must(resolveBoard(board));
  const fwA = must(buildFirmware(b, must(resolveProfile(withPath)), table));
  const fwB = must(buildFirmware(b, must(resolveProfile(withoutPath)), table));
  let modelledFlash = 0;
  let modelledBootRam = 0;
  // From the raw calibration by Linux's Makefile rules (calibration-oracle.ts), not symbolCost.
  for (const s of symbols) {
    modelledFlash += calibratedFlash(s);
    modelledBootRam += calibratedBootRam(s);
  }
  const cfg = (fw: typeof fwA): number => fw.sections.find((s) => s.kind === 'config')!.size;
  return {
    imageDelta: fwA.image.length - fwB.image.length,
    modelledFlash,
    sectionsDelta: fwA.sections.length - fwB.sections.length,
    configDelta: cfg(fwA) - cfg(fwB),
    bootRamDelta: bootRequirement(b, fwA.sections, []) - bootRequirement(b, fwB.sections, []),
    modelledBootRam,
  };
}
