// The repository's TypeScript sources, for the tests that read them as text (uapi-once, layers).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every .ts file (not .d.ts) under `dir`, skipping dot-folders and the folders named in `skip`. */
export function tsSources(dir: string, skip: ReadonlySet<string>, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!skip.has(e.name) && !e.name.startsWith('.')) tsSources(join(dir, e.name), skip, out);
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(join(dir, e.name));
  }
  return out;
}
