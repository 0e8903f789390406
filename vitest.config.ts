import { configDefaults, defineConfig } from 'vitest/config';

// Scenario runs simulate seconds of network time; on a loaded 2-core machine one can take
// several wall seconds, so the per-test limit is generous. Performance is measured by
// `npm run bench`, not here.
//
// Two projects in one `vitest run`, one after the other (sequence.groupOrder):
// - suite: two workers on two cores (vitest's default is cores − 1, one worker here: the suite
//   ran file after file with a core idle). Files share their worker's module graph (isolate:
//   false): the emulator has no module-level state a test changes, so re-importing the modules
//   per file was pure cost.
// - live: test/live keeps wall-clock pace against a real Linux peer, so it runs alone, after the
//   suite has finished, never beside other workers. One vitest process for both saves starting
//   and transforming everything a second time.
const limits = { testTimeout: 120_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/live/**'],
          ...limits,
          pool: 'forks',
          maxWorkers: 2,
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'live',
          include: ['test/live/**/*.test.ts'],
          ...limits,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
