import { configDefaults, defineConfig } from 'vitest/config';

// Scenario runs simulate seconds of network time; on a loaded 2-core machine one can take
// several wall seconds, so the per-test limit is generous. Performance is measured by
// `npm run bench`, not here.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/live keeps wall-clock pace: vitest.live.config.ts runs it alone, after this suite.
    exclude: [...configDefaults.exclude, 'test/live/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
