/**
 * The folder holding quarklab's package.json, found from this module's own location so that
 * shipped data (boards, profiles, calibration) resolves the same from the TypeScript sources
 * and from the compiled dist/ tree.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'boards'))) return (cached = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error('quarklab package root not found');
    dir = parent;
  }
}
