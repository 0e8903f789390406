/**
 * Loaded by `npm run bench` into each quarklab child (node --import): at exit it writes the
 * process's resource usage from the OS (getrusage: CPU times and maxRSS) to the file named by
 * QUARKLAB_BENCH_RUSAGE. Nothing else of the run is touched.
 */
import { writeFileSync } from 'node:fs';

const file = process.env['QUARKLAB_BENCH_RUSAGE'];
if (file) process.on('exit', () => writeFileSync(file, JSON.stringify(process.resourceUsage())));
