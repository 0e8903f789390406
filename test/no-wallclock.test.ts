// Invariant 1 (docs/architecture.md): the emulator, the stack, the host scripts, the board
// programs and the scenarios never read host time, host randomness or the host's environment
// variables, and never schedule on the host's event loop: everything runs on the virtual clock and the seeded PRNG. A scan of their
// sources, comments ignored.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/run.js';

const SCANNED = ['emulator', 'stack', 'scripts', 'apps', 'scenarios', 'api'];

const FORBIDDEN: { name: string; re: RegExp }[] = [
  { name: 'Date', re: /\bDate\b/ },
  { name: 'Math.random', re: /\bMath\s*\.\s*random\b/ },
  { name: 'setTimeout', re: /\bsetTimeout\b/ },
  { name: 'setInterval', re: /\bsetInterval\b/ },
  { name: 'setImmediate', re: /\bsetImmediate\b/ },
  { name: 'performance.now', re: /\bperformance\s*\.\s*now\b/ },
  { name: 'process.hrtime', re: /\bprocess\s*\.\s*hrtime\b/ },
  // The host's environment is an input no report records: a run must not depend on it.
  { name: 'process.env', re: /\bprocess\s*\.\s*env\b/ },
];

/**
 * Blank out // and /* *\/ comments, keeping strings, template literals and line numbers (every
 * newline is kept). A regex literal containing // or /* would confuse it; our sources have none
 * that matter, and the cost of a miss is only a false alarm.
 */
function stripComments(src: string): string {
  let out = '';
  let i = 0;
  let quote: string | null = null;
  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (quote) {
      out += c;
      if (c === '\\') {
        out += next ?? '';
        i += 2;
        continue;
      }
      if (c === quote) quote = null;
      i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      quote = c;
      out += c;
      i++;
      continue;
    }
    if (c === '/' && next === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/** Offending uses in one source text, as "file:line: name: code". */
function offenders(file: string, src: string): string[] {
  const found: string[] = [];
  const lines = stripComments(src).split('\n');
  lines.forEach((line, n) => {
    for (const f of FORBIDDEN) if (f.re.test(line)) found.push(`${file}:${n + 1}: ${f.name}: ${line.trim()}`);
  });
  return found;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.isFile() && e.name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

describe('no wall clock, host randomness or host timers in the simulation', () => {
  it('finds none in emulator/, stack/, apps/ and scenarios/', () => {
    const files = SCANNED.flatMap((d) => tsFiles(join(REPO_ROOT, d)));
    expect(files.length).toBeGreaterThan(30);
    const found = files.flatMap((f) => offenders(relative(REPO_ROOT, f), readFileSync(f, 'utf8')));
    expect(found, `wall-clock or host-random uses:\n${found.join('\n')}`).toEqual([]);
  });

  it('the scan catches each forbidden use and ignores comments (it can fail)', () => {
    const src = [
      '// Date.now() in a line comment is fine',
      '/* Math.random() in a block',
      '   comment, setTimeout too */ const a = 1;',
      "const url = 'http://example.com'; const t = Date.now();",
      'const r = Math.random();',
      'setTimeout(() => {}, 1); setInterval(f, 2);',
      'setImmediate(f);',
      'const p = performance.now(); const h = process.hrtime.bigint();',
      'const d = new Date(0); /* trailing */',
      'const s = "a // not a comment"; const q = Math . random();',
    ].join('\n');
    const found = offenders('x.ts', src);
    expect(found.map((f) => f.split(': ')[0] + ': ' + f.split(': ')[1])).toEqual([
      'x.ts:4: Date',
      'x.ts:5: Math.random',
      'x.ts:6: setTimeout',
      'x.ts:6: setInterval',
      'x.ts:7: setImmediate',
      'x.ts:8: performance.now',
      'x.ts:8: process.hrtime',
      'x.ts:9: Date',
      'x.ts:10: Math.random',
    ]);
  });
});
