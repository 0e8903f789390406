/**
 * Running many scripts: collect them (a directory means every .pkt under it, sorted), parse
 * them all before running any (one malformed script stops the run with script:line), run each
 * on a fresh board, count pass / fail / unsupported, and write JUnit XML.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseScript } from './parser.js';
import { runScript, type RunOptions, type ScriptResult } from './runner.js';
import { ScriptError, type Script } from './script.js';

export function collectScripts(paths: string[]): string[] | { error: string } {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.pkt')) out.push(p);
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      return { error: `${p}: no such script or directory` };
    }
    if (st.isDirectory()) walk(p);
    else out.push(p);
  }
  if (out.length === 0) return { error: `no .pkt scripts in ${paths.join(', ')}` };
  return out;
}

/** Parse every script; the first malformed one is the error (`script:line: message`). */
export function parseAll(paths: string[]): Script[] | { error: string } {
  const scripts: Script[] = [];
  for (const p of paths) {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch (e) {
      return { error: `${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
    }
    try {
      scripts.push(parseScript(p, text));
    } catch (e) {
      if (e instanceof ScriptError) return { error: e.message };
      throw e;
    }
  }
  return scripts;
}

export interface SuiteSummary {
  results: ScriptResult[];
  passed: number;
  failed: number;
  unsupported: number;
}

export function runSuite(scripts: Script[], opts: RunOptions, each?: (r: ScriptResult) => void): SuiteSummary {
  const results: ScriptResult[] = [];
  for (const s of scripts) {
    const r = runScript(s, opts);
    results.push(r);
    each?.(r);
  }
  return {
    results,
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail').length,
    unsupported: results.filter((r) => r.status === 'unsupported').length,
  };
}

function xml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!).replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');
}

/** JUnit XML: a test case per script; unsupported ones are skipped, or failures under --strict. */
export function junitXml(summary: SuiteSummary, opts: RunOptions, strict: boolean): string {
  const name = `packetdrill ${opts.board} ${opts.profile}`;
  const failures = summary.failed + (strict ? summary.unsupported : 0);
  const skipped = strict ? 0 : summary.unsupported;
  const lines = [`<?xml version="1.0" encoding="UTF-8"?>`, `<testsuite name="${xml(name)}" tests="${summary.results.length}" failures="${failures}" skipped="${skipped}" errors="0">`];
  for (const r of summary.results) {
    const time = (r.virtualUsecs / 1e6).toFixed(6);
    lines.push(`  <testcase classname="${xml(name)}" name="${xml(r.path)}" time="${time}">`);
    if (r.status === 'fail' || (strict && r.status === 'unsupported')) lines.push(`    <failure message="${xml((r.message ?? '').split('\n')[0]!)}">${xml(r.message ?? '')}</failure>`);
    else if (r.status === 'unsupported') lines.push(`    <skipped message="${xml(r.message ?? '')}"/>`);
    lines.push('  </testcase>');
  }
  lines.push('</testsuite>', '');
  return lines.join('\n');
}
