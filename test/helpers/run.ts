// Test helpers that run quarklab the two ways a user does: the command line (dist/bundle/cli/main.js,
// built by `npm test` before vitest starts; as a process, or its main() in this process) and
// scenarios/run.ts's run() in-process, writing what each produces into throwaway folders.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { run, type RunOptions, type RunOutcome } from '../../scenarios/run.js';
import type { Report } from '../../traces/report.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(REPO_ROOT, 'dist', 'bundle', 'cli', 'main.js');
export const CLI_MISSING = `${CLI} is missing: build first (npm run build — 'npm test' does it before vitest)`;

// ---------------------------------------------------------------- temp folders

const made: string[] = [];

/** A fresh folder under the OS temp dir; removeTempDirs() deletes every one made so far. */
export function tempDir(prefix = 'quarklab-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function removeTempDirs(): void {
  while (made.length > 0) rmSync(made.pop()!, { recursive: true, force: true });
}

/**
 * A board file in a fresh temp folder: quark-2m's with `ramKiB` KiB of RAM and its own name
 * (quark-<ramKiB>k), for a board a little larger or smaller than the built-in one.
 */
export function quark2mWithRam(ramKiB: number): string {
  const b = JSON.parse(readFileSync(join(REPO_ROOT, 'boards', 'quark-2m.json'), 'utf8')) as Record<string, unknown>;
  const name = `quark-${ramKiB}k`;
  const path = join(tempDir(), `${name}.json`);
  writeFileSync(path, JSON.stringify({ ...b, $schema: undefined, name, ramBytes: ramKiB * 1024 }));
  return path;
}

// ---------------------------------------------------------------- the command line

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Run `quarklab ARGS` as a process (node on the built CLI), for what only a process shows: the
 * exit status, what an uncaught error prints. Throws (a clear message) if dist/ is not built.
 */
export function quarklabProcess(args: string[], opts: { cwd?: string } = {}): Promise<CliResult> {
  if (!existsSync(CLI)) return Promise.reject(new Error(CLI_MISSING));
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: opts.cwd ?? REPO_ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', LC_ALL: 'C' }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        // A non-zero exit is a result here, not an error; failing to start or a timeout is.
        const code = (error as { code?: unknown } | null)?.code;
        if (error && typeof code !== 'number') reject(new Error(`quarklab ${args.join(' ')}: ${error.message}`));
        else resolvePromise({ status: typeof code === 'number' ? code : 0, stdout, stderr });
      },
    );
  });
}

/**
 * `quarklab ARGS` in this process: the built CLI's main() (dist/bundle/cli/main.js, the function the
 * binary calls) with stdout and stderr captured and relative paths taken from `cwd`. A process
 * costs ~0.35 s of start-up per call and the suite makes over a hundred calls; cli.test.ts keeps
 * spawning the binary for what only a process shows. Calls run one at a time: stdout, stderr and
 * the working directory are the process's own.
 */
export function quarklabAsync(args: string[], opts: { cwd?: string } = {}): Promise<CliResult & { threw: unknown }> {
  const call = cliQueue.then(() => callMain(args, opts.cwd ?? REPO_ROOT));
  cliQueue = call.then(() => undefined, () => undefined);
  return call;
}

let cliQueue: Promise<unknown> = Promise.resolve();

async function callMain(args: string[], cwd: string): Promise<CliResult & { threw: unknown }> {
  if (!existsSync(CLI)) throw new Error(CLI_MISSING);
  const { main } = (await import(pathToFileURL(CLI).href)) as { main: (argv: string[]) => Promise<number> };
  let stdout = '';
  let stderr = '';
  const capture = (append: (s: string) => void) =>
    ((chunk: string | Uint8Array, encOrCb?: unknown, cb?: unknown) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = typeof encOrCb === 'function' ? encOrCb : cb;
      if (typeof done === 'function') (done as () => void)();
      return true;
    }) as typeof process.stdout.write;
  const out = process.stdout.write;
  const err = process.stderr.write;
  const home = process.cwd();
  process.stdout.write = capture((s) => (stdout += s));
  process.stderr.write = capture((s) => (stderr += s));
  let status = -1;
  let threw: unknown = null;
  try {
    process.chdir(cwd);
    status = await main(args);
  } catch (e) {
    threw = e;
  } finally {
    process.chdir(home);
    process.stdout.write = out;
    process.stderr.write = err;
  }
  // An exception out of main() is what the binary would print as a stack trace: show it so.
  if (threw !== null) stderr += `${(threw as Error)?.stack ?? String(threw)}\n`;
  return { status, stdout, stderr, threw };
}

/** How a one-line error reads: exactly one non-empty line, no JS stack frames. */
export function stderrProblems(stderr: string): string | null {
  const lines = stderr.split('\n').filter((l) => l !== '');
  if (lines.length !== 1) return `expected one line on stderr, got ${lines.length}: ${JSON.stringify(stderr)}`;
  if (/^\s*at\s/m.test(stderr) || /\.(ts|js):\d+/.test(stderr)) return `stack trace on stderr: ${JSON.stringify(stderr)}`;
  return null;
}

// ---------------------------------------------------------------- in-process runs

export interface RunFiles {
  outcome: RunOutcome;
  report: Report;
  /** report.json exactly as the CLI writes it. */
  reportJson: string;
  dir: string;
  reportPath: string;
  /** null when the run produced no capture (a profile that did not boot). */
  capturePath: string | null;
  capture: Uint8Array | null;
  trace: Uint8Array;
}

/** report.json's bytes as `quarklab run` writes them. */
export function reportText(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}

/**
 * run() in-process, then write report.json, capture.pcapng and trace.msgpack into a temp
 * folder the same way the CLI does. Throws on exit code 2 (bad input), with its message.
 */
export function runToDir(opts: RunOptions, into?: string): RunFiles {
  const outcome = run(opts);
  if (outcome.exitCode === 2) throw new Error(`run() rejected its input: ${outcome.error}`);
  const report = outcome.report!;
  const dir = into ?? tempDir();
  mkdirSync(dir, { recursive: true });
  const reportJson = reportText(report);
  const reportPath = join(dir, 'report.json');
  writeFileSync(reportPath, reportJson);
  let capturePath: string | null = null;
  if (outcome.capture) {
    capturePath = join(dir, 'capture.pcapng');
    writeFileSync(capturePath, outcome.capture);
  }
  const trace = outcome.traceBytes ?? new Uint8Array(0);
  writeFileSync(join(dir, 'trace.msgpack'), trace);
  return { outcome, report, reportJson, dir, reportPath, capturePath, capture: outcome.capture ?? null, trace };
}

export function readJson<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Bytes equal, with a short description of the first difference when not. */
export function firstDifference(a: Uint8Array, b: Uint8Array): string | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `byte ${i}: ${a[i]} vs ${b[i]}`;
  return a.length === b.length ? null : `lengths ${a.length} vs ${b.length}`;
}

// ---------------------------------------------------------------- report.json against its schema

export const REPORT_SCHEMA_PATH = join(REPO_ROOT, 'traces', 'report.schema.json');

export type Schema = { [k: string]: unknown };

/** The JSON Schema keywords schemaErrors() implements; a schema using others is refused. */
export const SCHEMA_KEYWORDS = new Set([
  '$schema', '$id', '$ref', '$defs', 'title', 'description', 'type', 'const', 'enum', 'oneOf',
  'required', 'properties', 'additionalProperties', 'items', 'minimum', 'maximum', 'minLength', 'pattern',
]);

/** Keywords in `schema` (recursively) that schemaErrors() does not implement, as paths. */
export function unsupportedKeywords(schema: Schema, path = '#'): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(schema)) {
    if (!SCHEMA_KEYWORDS.has(k)) out.push(`${path}/${k}`);
    const sub = (s: unknown, p: string): void => {
      if (s !== null && typeof s === 'object' && !Array.isArray(s)) out.push(...unsupportedKeywords(s as Schema, p));
    };
    if (k === 'properties' || k === '$defs') for (const [name, s] of Object.entries(v as Schema)) sub(s, `${path}/${k}/${name}`);
    if (k === 'items' || k === 'additionalProperties') sub(v, `${path}/${k}`);
    if (k === 'oneOf') (v as unknown[]).forEach((s, i) => sub(s, `${path}/oneOf/${i}`));
  }
  return out;
}

function typeOk(t: string, v: unknown): boolean {
  switch (t) {
    case 'null': return v === null;
    case 'boolean': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'array': return Array.isArray(v);
    case 'object': return v !== null && typeof v === 'object' && !Array.isArray(v);
    default: throw new Error(`schema type ${t} not supported`);
  }
}

/**
 * A small structural JSON Schema check (the subset in SCHEMA_KEYWORDS, which is what
 * traces/report.schema.json uses), so tests need no validator dependency. Returns one message
 * per problem, naming the JSON path; [] when `value` conforms.
 */
export function schemaErrors(schema: Schema, value: unknown, root: Schema = schema, path = '$'): string[] {
  if (typeof schema['$ref'] === 'string') {
    const m = /^#\/\$defs\/(.+)$/.exec(schema['$ref']);
    const target = m ? (root['$defs'] as Schema | undefined)?.[m[1]!] : undefined;
    if (!target) throw new Error(`schema: cannot resolve $ref ${schema['$ref']}`);
    return schemaErrors(target as Schema, value, root, path);
  }
  const errors: string[] = [];
  if (schema['type'] !== undefined) {
    const types = Array.isArray(schema['type']) ? (schema['type'] as string[]) : [schema['type'] as string];
    if (!types.some((t) => typeOk(t, value))) return [`${path}: ${JSON.stringify(value)?.slice(0, 40)} is not ${types.join(' or ')}`];
  }
  if ('const' in schema && value !== schema['const']) errors.push(`${path}: must be ${JSON.stringify(schema['const'])}`);
  if (Array.isArray(schema['enum']) && !schema['enum'].includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema['enum'])}`);
  if (Array.isArray(schema['oneOf'])) {
    const passing = (schema['oneOf'] as Schema[]).filter((s) => schemaErrors(s, value, root, path).length === 0).length;
    if (passing !== 1) errors.push(`${path}: matches ${passing} of the oneOf alternatives, not exactly 1`);
  }
  if (typeof value === 'number') {
    if (typeof schema['minimum'] === 'number' && value < schema['minimum']) errors.push(`${path}: ${value} < minimum ${schema['minimum']}`);
    if (typeof schema['maximum'] === 'number' && value > schema['maximum']) errors.push(`${path}: ${value} > maximum ${schema['maximum']}`);
  }
  if (typeof value === 'string') {
    if (typeof schema['minLength'] === 'number' && value.length < schema['minLength']) errors.push(`${path}: shorter than ${schema['minLength']}`);
    if (typeof schema['pattern'] === 'string' && !new RegExp(schema['pattern'], 'u').test(value)) errors.push(`${path}: does not match ${schema['pattern']}`);
  }
  if (Array.isArray(value) && schema['items']) {
    value.forEach((item, i) => errors.push(...schemaErrors(schema['items'] as Schema, item, root, `${path}[${i}]`)));
  }
  if (typeOk('object', value)) {
    const obj = value as Record<string, unknown>;
    for (const k of (schema['required'] as string[] | undefined) ?? []) if (!(k in obj)) errors.push(`${path}: missing required "${k}"`);
    const props = (schema['properties'] as Schema | undefined) ?? {};
    for (const [k, v] of Object.entries(obj)) {
      if (k in props) errors.push(...schemaErrors(props[k] as Schema, v, root, `${path}.${k}`));
      else if (schema['additionalProperties'] === false) errors.push(`${path}: unexpected property "${k}"`);
      else if (typeof schema['additionalProperties'] === 'object') errors.push(...schemaErrors(schema['additionalProperties'] as Schema, v, root, `${path}.${k}`));
    }
  }
  return errors;
}

export function loadReportSchema(): Schema {
  return readJson<Schema>(REPORT_SCHEMA_PATH);
}
