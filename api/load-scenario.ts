/**
 * User scenarios by path: `--scenario ./sensor.ts:interval-ms=500`. The module's default export
 * is a scenario from `defineScenario`. TypeScript loads without a build step through jiti
 * (it strips types in-process; no native binary, no dependencies of its own, and it works
 * inside worker threads); `quarklab` itself is imported natively so the user's scenario and
 * the runner share one copy of the library.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NO_IMPAIRMENTS } from '../emulator/wire.js';
import { findScenario, takeImpairments } from '../scenarios/registry.js';
import type { Scenario } from '../scenarios/scenario.js';
import { isDefinedScenario, type DefinedScenario } from './define-scenario.js';
import { splitScenarioSpec } from './options.js';

const SCENARIO_FILE = /\.(ts|mts|js|mjs)$/;

/** A `--scenario` value names a file (not a built-in) when it has a slash or a script's extension. */
export function isScenarioPath(name: string): boolean {
  return name.includes('/') || SCENARIO_FILE.test(name);
}

const loaded = new Map<string, DefinedScenario>();

/** Load the module at `path` and return its default-exported scenario, or a one-line error. */
export async function loadScenarioModule(path: string): Promise<DefinedScenario | { error: string }> {
  const full = resolve(path);
  const hit = loaded.get(full);
  if (hit) return hit;
  if (!SCENARIO_FILE.test(full)) return { error: `scenario ${path}: expected a .ts, .mts, .js or .mjs file` };
  if (!existsSync(full) || !statSync(full).isFile()) return { error: `scenario ${path}: no such file` };
  let mod: unknown;
  try {
    // Loaded on first use: a run of built-ins (and each test worker) never pays for it.
    const { createJiti } = await import('jiti');
    const jiti = createJiti(pathToFileURL(full).href, { fsCache: false, moduleCache: true, nativeModules: ['quarklab'], interopDefault: false });
    mod = await jiti.import(full);
  } catch (e) {
    const first = ((e as Error).message ?? String(e)).split('\n')[0];
    return { error: `scenario ${path}: cannot load (${first})` };
  }
  const def = (mod as { default?: unknown } | null)?.default;
  if (!isDefinedScenario(def)) return { error: `scenario ${path}: its default export is not a scenario (export default defineScenario({ … }))` };
  loaded.set(full, def);
  return def;
}

/**
 * Resolve a `--scenario` value, built-in or a file, with its options. Wire options (loss=…)
 * apply to a user's scenario as to a built-in; the scenario's name then carries its options.
 */
export async function resolveScenario(spec: string): Promise<Scenario | { error: string }> {
  const split = splitScenarioSpec(spec);
  if ('error' in split) return split;
  if (!isScenarioPath(split.name)) return findScenario(spec);
  const def = await loadScenarioModule(split.name);
  if ('error' in def) return def;
  const wire = takeImpairments(Object.fromEntries(split.pairs));
  if ('error' in wire) return { error: `scenario ${split.name}: ${wire.error}` };
  const made = def.instantiate(split.pairs.filter(([k]) => Object.hasOwn(wire.rest, k)));
  if ('error' in made) return { error: `scenario ${split.name}: ${made.error}` };
  if (split.pairs.length === 0) return made;
  const label = `${def.name}:${split.pairs.map(([k, v]) => `${k}=${v}`).join(',')}`;
  return { ...made, name: label, impairments: { ...NO_IMPAIRMENTS, ...made.impairments, ...wire.impairments } };
}
