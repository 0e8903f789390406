#!/usr/bin/env node
/**
 * quarklab's command line. Every command has --help; bad usage or bad input is one line on
 * stderr and exit code 2, never a stack trace.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { calibrateCommand, CALIBRATE_HELP } from './calibrate-command.js';
import { fuzzCommand, FUZZ_HELP } from './fuzz-command.js';
import { imageCommand, IMAGE_HELP } from './image-command.js';
import { liveCommand, LIVE_HELP } from './live-command.js';
import { UsageError } from './output.js';
import { packetdrillCommand, PACKETDRILL_HELP } from './packetdrill-command.js';
import { profileCommand, PROFILE_HELP } from './profile-diff-command.js';
import { profilesCommand, PROFILES_HELP } from './profiles-command.js';
import { runCommand, RUN_HELP } from './run-command.js';
import { compareCommand, COMPARE_HELP, mergeCommand, MERGE_HELP } from './results-commands.js';
import { testCommand, TEST_HELP } from './test-command.js';
import { QUARKLAB_VERSION } from '../scenarios/run.js';
import { traceCommand, TRACE_HELP } from './trace-command.js';

const HELP = `usage: quarklab <command> [options]

commands:
  run        boot a board and profile, run a scenario, write capture and report
  live       put a board on a real network (VXLAN over UDP) at wall-clock pace
  image      build or inspect a firmware image
  profiles   list the built-in stack profiles and their cost
  profile    'profile diff A B': what separates two profiles in flash and RAM
  calibrate  write a cost table from your kernel build's size and pahole output
  test       run a matrix of boards, profiles, scenarios and seeds as one CI gate
  merge      join the results of 'test --shard' runs
  compare    compare two results.json: flash, RAM, goodput and rtt deltas against thresholds
  fuzz       send mutated frames to a running board and check its invariants
  packetdrill  run packetdrill scripts against a board in virtual time
  trace      print a run's timeline (trace.msgpack) or export it as CSV or JSON

'quarklab <command> --help' for each command's options; 'quarklab --version' the version.`;

const COMMANDS: Record<string, { run: (args: string[]) => number | Promise<number>; help: string }> = {
  run: { run: runCommand, help: RUN_HELP },
  live: { run: liveCommand, help: LIVE_HELP },
  image: { run: imageCommand, help: IMAGE_HELP },
  profiles: { run: profilesCommand, help: PROFILES_HELP },
  profile: { run: profileCommand, help: PROFILE_HELP },
  calibrate: { run: calibrateCommand, help: CALIBRATE_HELP },
  test: { run: testCommand, help: TEST_HELP },
  merge: { run: mergeCommand, help: MERGE_HELP },
  compare: { run: compareCommand, help: COMPARE_HELP },
  fuzz: { run: fuzzCommand, help: FUZZ_HELP },
  packetdrill: { run: packetdrillCommand, help: PACKETDRILL_HELP },
  trace: { run: traceCommand, help: TRACE_HELP },
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    process.stderr.write(`quarklab: missing command (${Object.keys(COMMANDS).join(', ')}); 'quarklab --help' lists them\n`);
    process.stderr.write(`quarklab: missing command (run, image, profiles, profile, calibrate, trace); 'quarklab --help' lists them\n`);
    return 2;
  }
  if (cmd === '--version' || cmd === '-V') {
    process.stdout.write(`quarklab ${QUARKLAB_VERSION}\n`);
    return 0;
  }
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    process.stderr.write(`quarklab: unknown command "${cmd}" (${Object.keys(COMMANDS).join(', ')})\n`);
    return 2;
  }
  try {
    return await c.run(rest);
  } catch (e) {
    return commandError(cmd, e);
  }
}

function commandError(cmd: string, e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`quarklab ${cmd}: ${e.message}\n`);
    return 2;
  }
  // parseArgs reports unknown or malformed options as TypeErrors with a code.
  const code = (e as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`quarklab ${cmd}: ${(e as Error).message.split('\n')[0]}\n`);
    return 2;
  }
  throw e;
}

/** Run as the program (not imported, as the bad-input test does to call main() in-process). */
function invokedAsProgram(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedAsProgram()) {
  // Output piped into `head` and cut short is not an error worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  process.exitCode = await main(process.argv.slice(2));
}
