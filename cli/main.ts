#!/usr/bin/env node
/**
 * quarklab's command line. Every command has --help; bad usage or bad input is one line on
 * stderr and exit code 2, never a stack trace.
 */
import { calibrateCommand, CALIBRATE_HELP } from './calibrate-command.js';
import { imageCommand, IMAGE_HELP } from './image-command.js';
import { UsageError } from './output.js';
import { profileCommand, PROFILE_HELP } from './profile-diff-command.js';
import { profilesCommand, PROFILES_HELP } from './profiles-command.js';
import { runCommand, RUN_HELP } from './run-command.js';
import { traceCommand, TRACE_HELP } from './trace-command.js';

const HELP = `usage: quarklab <command> [options]

commands:
  run        boot a board and profile, run a scenario, write capture and report
  image      build or inspect a firmware image
  profiles   list the built-in stack profiles and their cost
  profile    'profile diff A B': what separates two profiles in flash and RAM
  calibrate  write a cost table from your kernel build's size and pahole output
  trace      print a run's timeline (trace.msgpack) or export it as CSV or JSON

'quarklab <command> --help' for each command's options.`;

const COMMANDS: Record<string, { run: (args: string[]) => number; help: string }> = {
  run: { run: runCommand, help: RUN_HELP },
  image: { run: imageCommand, help: IMAGE_HELP },
  profiles: { run: profilesCommand, help: PROFILES_HELP },
  profile: { run: profileCommand, help: PROFILE_HELP },
  calibrate: { run: calibrateCommand, help: CALIBRATE_HELP },
  trace: { run: traceCommand, help: TRACE_HELP },
};

export function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    process.stderr.write(`quarklab: missing command (run, image, profiles, profile, calibrate, trace); 'quarklab --help' lists them\n`);
    return 2;
  }
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    process.stderr.write(`quarklab: unknown command "${cmd}" (run, image, profiles, profile, calibrate, trace)\n`);
    return 2;
  }
  try {
    return c.run(rest);
  } catch (e) {
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
}

// Output piped into `head` and cut short is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = main(process.argv.slice(2));
