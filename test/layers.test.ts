// The layers point one way (docs/architecture.md). net/core names no protocol: /proc entries,
// rtnetlink handlers and sock_diag handlers are registered by the protocols at init, so nothing
// in stack/core/ imports stack/ipv4/ or stack/socket/. A board program is userland: it sees
// the system calls, stack/uapi/ and the wire header views, not the emulator that runs it nor
// the stack's internals.
// And files stay a size a reader can hold: TCP files (split by concern as Linux's tcp*.c are)
// at most 600 lines, any source file at most 900.
//
// The oracle is the source text: each import specifier resolved against its file's folder.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tsSources } from './helpers/sources.js';

const root = join(import.meta.dirname, '..');
const SKIP = new Set(['node_modules', 'dist', '.git']);

const sources = (dir: string): string[] => tsSources(dir, SKIP);

/** Repo-relative paths (with /) of what `file` imports or re-exports by a relative specifier. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /\b(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of text.matchAll(re)) {
    out.push(relative(root, resolve(dirname(file), m[1]!)).split(sep).join('/'));
  }
  return out;
}

const rel = (f: string): string => relative(root, f).split(sep).join('/');
const lines = (f: string): number => readFileSync(f, 'utf8').split('\n').length - 1;

describe('layers', () => {
  const files = sources(root);

  it('finds the sources it checks', () => {
    expect(files.length).toBeGreaterThan(200);
    expect(files.filter((f) => rel(f).startsWith('stack/core/')).length).toBeGreaterThan(15);
    expect(files.filter((f) => rel(f).startsWith('apps/')).length).toBeGreaterThan(15);
    // The resolver sees a known arrow: net-stack.ts builds the ipv4 protocols.
    expect(importsOf(join(root, 'stack', 'net-stack.ts'))).toContain('stack/ipv4/ip.js');
  });

  it('stack/core/ imports nothing from stack/ipv4/ or stack/socket/', () => {
    const up: string[] = [];
    for (const f of files.filter((x) => rel(x).startsWith('stack/core/'))) {
      for (const target of importsOf(f)) if (/^stack\/(ipv4|socket)\//.test(target)) up.push(`${rel(f)} → ${target}`);
    }
    expect(up).toEqual([]);
  });

  it('apps/ import nothing from emulator/, and from the stack only its syscall and uapi surface', () => {
    const bad: string[] = [];
    for (const f of files.filter((x) => rel(x).startsWith('apps/'))) {
      for (const target of importsOf(f)) {
        if (target.startsWith('emulator/')) bad.push(`${rel(f)} → ${target}`);
        // The surface: the system calls, the ABI (uapi) and the header views a raw-socket program
        // builds packets with (wire, as smoltcp's wire module serves both sides).
        if (target.startsWith('stack/') && !/^stack\/(uapi\/|wire\/|socket\/syscalls\.js$)/.test(target)) bad.push(`${rel(f)} → ${target}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('no stack/ipv4/tcp*.ts over 600 lines', () => {
    const tcp = files.filter((f) => /^stack\/ipv4\/tcp[^/]*\.ts$/.test(rel(f)));
    expect(tcp.length).toBeGreaterThan(10);
    expect(tcp.filter((f) => lines(f) > 600).map((f) => `${rel(f)}: ${lines(f)}`)).toEqual([]);
  });

  it('no source file over 900 lines', () => {
    expect(files.filter((f) => lines(f) > 900).map((f) => `${rel(f)}: ${lines(f)}`)).toEqual([]);
  });
});
