import { configDefaults, defineConfig } from 'vitest/config';

// Scenario runs simulate seconds of network time; on a loaded 2-core machine one can take
// several wall seconds, so the per-test limit is generous. Performance is measured by
// `npm run bench`, not here.
//
// Two workers on two cores (vitest's default is cores − 1, one worker here: the suite ran file
// after file with a core idle). Files share their worker's module graph (isolate: false): the
// emulator has no module-level state a test changes, so re-importing the ~100 modules per file
// was pure cost.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/live keeps wall-clock pace: vitest.live.config.ts runs it alone, after this suite.
    exclude: [...configDefaults.exclude, 'test/live/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    isolate: false,
  },
});
