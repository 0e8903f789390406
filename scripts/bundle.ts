/**
 * The build's second step (after tsc): bundle the three entry points a user process loads — the
 * CLI, the library API and the `quarklab test` worker — into dist/bundle/.
 *
 * Why: unbundled, starting quarklab means resolving, reading and compiling ~150 ES modules, one
 * file at a time, in every process and again in every worker thread. That start-up was the
 * larger part of a short run and what kept `quarklab test -j 2` from beating `-j 1` on a small
 * matrix. Bundled, it is a handful of files.
 *
 * The three entries share their chunks, so a user scenario that imports 'quarklab' (the API
 * entry) gets the very module instances the CLI and the worker run. Packages from package.json's
 * dependencies stay external: npm installs them, and bundling them would only copy them.
 *
 * The input is tsc's own output in dist/, so the bundle runs exactly the JavaScript tsc emitted
 * (and type-checked); rolldown only joins modules. rolldown is the bundler vitest's vite already
 * installs, so declaring it adds nothing to `npm install`.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { builtinModules } from 'node:module';
import { build } from 'rolldown';
import { packageRoot } from '../emulator/package-root.js';

const root = packageRoot();
const dist = join(root, 'dist');
const out = join(dist, 'bundle');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
const dependencies = Object.keys(pkg.dependencies ?? {});
const builtins = new Set(builtinModules);

/** The entry points, by their path under dist/ (and under dist/bundle/) without `.js`. */
const BUNDLE_ENTRIES = ['cli/main', 'api/index', 'runner/worker'] as const;

rmSync(out, { recursive: true, force: true });
await build({
  input: Object.fromEntries(BUNDLE_ENTRIES.map((e) => [e, join(dist, `${e}.js`)])),
  platform: 'node',
  external: (id: string) =>
    id.startsWith('node:') || builtins.has(id) || dependencies.some((d) => id === d || id.startsWith(`${d}/`)),
  logLevel: 'warn',
  output: {
    dir: out,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/[name]-[hash].js',
  },
});
