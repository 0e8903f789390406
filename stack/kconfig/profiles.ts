/**
 * Loading profiles: the built-in ones shipped in stack/profiles/ (full, client, minimal) by bare
 * name, or a user's fragment by path (which may start from a built-in with `# base: NAME`).
 *
 * The built-in files are found from the package root (the folder with package.json, walked up
 * to from this module), so the same lookup works from the TypeScript sources and from dist/,
 * where tsc does not copy the .config files.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../emulator/package-root.js';
import { MAX_FRAGMENT_BYTES, isKconfigError, nearest, parseKconfig, type KconfigError, type Profile } from './kconfig.js';

export const BUILTIN_PROFILE_NAMES: readonly string[] = ['full', 'client', 'minimal'];

const cache = new Map<string, Profile>();

/** A bare name (`client`) loads a built-in profile; anything else is a path to a fragment. */
export function loadProfile(nameOrPath: string): Profile | KconfigError {
  if (/^[A-Za-z0-9_-]+$/.test(nameOrPath)) return loadBuiltin(nameOrPath);
  return loadFragment(nameOrPath);
}

/** The three built-in profiles, full first. They ship with quarklab, so failing to load one is a
 * broken install, not bad input: that throws. */
export function builtinProfiles(): Profile[] {
  return BUILTIN_PROFILE_NAMES.map((name) => {
    const p = loadBuiltin(name);
    if (isKconfigError(p)) throw new Error(`built-in profile broken: ${p.error}`);
    return p;
  });
}

export function profilesDir(): string | KconfigError {
  try {
    return join(packageRoot(), 'stack', 'profiles');
  } catch (e) {
    return { error: `cannot find quarklab's package root: ${(e as Error).message}` };
  }
}

function loadBuiltin(name: string): Profile | KconfigError {
  const hit = cache.get(name);
  if (hit) return hit;
  if (!BUILTIN_PROFILE_NAMES.includes(name)) {
    return {
      error:
        `unknown profile '${name}'; did you mean ${nearest(name, BUILTIN_PROFILE_NAMES)}? ` +
        `(built-in: ${BUILTIN_PROFILE_NAMES.join(', ')}; or give a path to a .config file)`,
    };
  }
  const dir = profilesDir();
  if (isKconfigError(dir)) return dir;
  const path = join(dir, `${name}.config`);
  const text = readBounded(path);
  if (isKconfigError(text)) return text;
  // Built-ins are complete fragments: no `# base:` (so no recursion).
  const parsed = parseKconfig(text, `stack/profiles/${name}.config`, { name });
  if (isKconfigError(parsed)) return parsed;
  const profile = deepFreeze({ ...parsed, source: path });
  cache.set(name, profile);
  return profile;
}

function loadFragment(path: string): Profile | KconfigError {
  const text = readBounded(path);
  if (isKconfigError(text)) return text;
  const profile = parseKconfig(text, path, { resolveBase: loadBuiltin });
  if (isKconfigError(profile)) return profile;
  // The name goes into the image header (32 bytes, printable ASCII) and the report.
  if (!PROFILE_NAME_RE.test(profile.name)) {
    const shown = profile.name.length > 40 ? profile.name.slice(0, 40) + '…' : profile.name;
    return { error: `${path}: profile name "${shown}" (the file name without .config) must be 1 to 32 printable ASCII characters; rename the file` };
  }
  return profile;
}

const PROFILE_NAME_RE = /^[\x21-\x7e](?:[\x20-\x7e]{0,30}[\x21-\x7e])?$/;

function readBounded(path: string): string | KconfigError {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { error: `${path}: not a file` };
    if (st.size > MAX_FRAGMENT_BYTES) return { error: `${path}: too large (${st.size} bytes; a fragment is at most ${MAX_FRAGMENT_BYTES})` };
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { error: `${path}: cannot read profile (${code})` };
  }
}

function deepFreeze(p: Profile): Profile {
  Object.freeze(p.symbols);
  Object.freeze(p.enabled);
  return Object.freeze(p);
}
