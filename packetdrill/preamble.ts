/**
 * Backtick commands: `sysctl -q a=b c="d e"` lines become the board's sysctls (set after boot,
 * before the first event, as boot values would be); a backtick naming a shell script (the
 * suites' `../common/defaults.sh`) is read relative to the script and its sysctl lines are
 * applied the same way, every other line listed as ignored (a fresh board has no routes,
 * metrics or qdiscs to flush). Any other command is unsupported.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ShellCommand } from './script.js';

export interface SysctlSetting {
  /** Where it came from: `script:line` or `defaults.sh:line`. */
  where: string;
  name: string;
  value: string;
  /** From a defaults file: a name the board does not know is listed, not fatal. */
  fromDefaults: boolean;
}

export interface Preamble {
  sysctls: SysctlSetting[];
  /** Lines of defaults scripts that were not applied. */
  ignored: string[];
  unsupported: Array<{ line: number; what: string }>;
}

/** Split a shell line into words, honouring single and double quotes. */
function words(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let any = false;
  for (const ch of cmd) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (cur !== '' || any) out.push(cur);
      cur = '';
      any = false;
    } else cur += ch;
  }
  if (cur !== '' || any) out.push(cur);
  return out;
}

/** The assignments of a `sysctl [-q] [-w] [-e] a=b …` line, or null if the line is not one. */
export function sysctlAssignments(line: string): Array<{ name: string; value: string }> | null {
  const w = words(line.trim());
  if (w[0] !== 'sysctl' && w[0] !== '/sbin/sysctl' && w[0] !== '/usr/sbin/sysctl') return null;
  const out: Array<{ name: string; value: string }> = [];
  for (const word of w.slice(1)) {
    if (/^-[qwe]+$/.test(word)) continue;
    const eq = word.indexOf('=');
    if (eq <= 0) return null;
    out.push({ name: word.slice(0, eq).replace(/\//g, '.'), value: word.slice(eq + 1) });
  }
  return out.length > 0 ? out : null;
}

export function readPreamble(scriptPath: string, shell: ShellCommand[]): Preamble {
  const pre: Preamble = { sysctls: [], ignored: [], unsupported: [] };
  for (const cmd of shell) {
    // A command line may chain several with ';' or '&&'.
    for (const part of cmd.command.split(/\s*(?:;|&&|\n)\s*/).filter((x) => x !== '')) {
      const sets = sysctlAssignments(part);
      if (sets) {
        for (const s of sets) pre.sysctls.push({ where: `${scriptPath}:${cmd.line}`, ...s, fromDefaults: false });
        continue;
      }
      const w = words(part);
      if (w.length === 1 && /\.sh$/.test(w[0]!)) {
        const file = resolve(dirname(scriptPath), w[0]!);
        if (!existsSync(file)) {
          pre.unsupported.push({ line: cmd.line, what: `defaults script ${w[0]} not found (${file})` });
          continue;
        }
        const lines = readFileSync(file, 'utf8').split('\n');
        lines.forEach((text, k) => {
          const t = text.trim();
          if (t === '' || t.startsWith('#')) return;
          const s = sysctlAssignments(t.replace(/\s*(>|2>|&>).*$/, ''));
          if (s) for (const x of s) pre.sysctls.push({ where: `${w[0]}:${k + 1}`, ...x, fromDefaults: true });
          else pre.ignored.push(`${w[0]}:${k + 1}: ${t}`);
        });
        continue;
      }
      pre.unsupported.push({ line: cmd.line, what: `shell command \`${part}\`` });
    }
  }
  return pre;
}
