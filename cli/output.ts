/**
 * How the command line reports: a one-line error and exit code 2 for bad usage or input,
 * never a stack trace.
 */
export class UsageError extends Error {}

export function fail(message: string): never {
  throw new UsageError(message);
}

export function write(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}
