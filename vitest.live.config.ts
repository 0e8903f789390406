import { defineConfig } from 'vitest/config';

// The live test keeps wall-clock pace against a real Linux peer, so it runs on its own, after
// the main suite (npm test runs both), never beside other vitest workers.
export default defineConfig({
  test: {
    include: ['test/live/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
