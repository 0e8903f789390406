#!/usr/bin/env node
/**
 * quarklab's command line. Every command has --help; bad usage or bad input is one line on
 * stderr and exit code 2, never a stack trace.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tuneJitForSimulation } from './jit-flags.js';
import { UsageError } from './output.js';
import { storageFailure } from '../traces/output-error.js';

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

type Command = (args: string[]) => number | Promise<number>;

// Each command's module is imported when that command runs, not all of them at start: a
// process runs one command, and loading every command (with yaml for plans, the live and fuzz
// drivers, the calibrator) cost about a third of a short run's wall time. Each command prints
// its own --help.
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run-command.js')).runCommand,
  live: async () => (await import('./live-command.js')).liveCommand,
  image: async () => (await import('./image-command.js')).imageCommand,
  profiles: async () => (await import('./profiles-command.js')).profilesCommand,
  profile: async () => (await import('./profile-diff-command.js')).profileCommand,
  calibrate: async () => (await import('./calibrate-command.js')).calibrateCommand,
  test: async () => (await import('./test-command.js')).testCommand,
  merge: async () => (await import('./results-commands.js')).mergeCommand,
  compare: async () => (await import('./results-commands.js')).compareCommand,
  fuzz: async () => (await import('./fuzz-command.js')).fuzzCommand,
  packetdrill: async () => (await import('./packetdrill-command.js')).packetdrillCommand,
  trace: async () => (await import('./trace-command.js')).traceCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    process.stderr.write(`quarklab: missing command (${Object.keys(COMMANDS).join(', ')}); 'quarklab --help' lists them\n`);
    return 2;
  }
  if (cmd === '--version' || cmd === '-V') {
    process.stdout.write(`quarklab ${(await import('../scenarios/run.js')).QUARKLAB_VERSION}\n`);
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
    return await (await c())(rest);
  } catch (e) {
    return commandError(cmd, e);
  }
}

function commandError(cmd: string, e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`quarklab ${cmd}: ${e.message}\n`);
    return 2;
  }
  // An output that could not be written (a full disk): the run cannot stand, like a bad --out.
  // The writers that stream say which file; any other write failing the same way says what it can.
  const failedWrite = storageFailure(e, 'its output');
  if (failedWrite) {
    process.stderr.write(`quarklab ${cmd}: ${failedWrite.message}\n`);
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

/** Run the command line as this process: its arguments, its exit status. */
export async function runAsProgram(): Promise<void> {
  tuneJitForSimulation();
  // Output piped into `head` and cut short is not an error worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    // Standard output redirected to a file on a full disk: one line, as for any output.
    const failedWrite = storageFailure(e, 'standard output');
    if (failedWrite) {
      process.stderr.write(`quarklab: ${failedWrite.message}\n`);
      process.exit(2);
    }
    throw e;
  });
  process.exitCode = await main(process.argv.slice(2));
}

if (invokedAsProgram()) await runAsProgram();
