// The ABI programs and the stack share (socket families, netlink and rtnetlink numbers, ioctl
// requests, errno values …) is written once, in stack/uapi/, as Linux keeps it in include/uapi.
// This scans every TypeScript source outside stack/uapi/ for a definition of a name a uapi module
// exports — `const RTM_NEWADDR = 20`, `const EFAULT = 14` — so a copy creeping back fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Errno } from '../stack/uapi/errno.js';

const root = join(import.meta.dirname, '..');
const uapiDir = join(root, 'stack', 'uapi');
const SKIP = new Set(['node_modules', 'dist', '.git', 'uapi']);

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP.has(e.name) && !e.name.startsWith('.')) sources(join(dir, e.name), out);
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(join(dir, e.name));
  }
  return out;
}

/** Every name a uapi module exports as a constant, and every errno name. */
function uapiNames(): Set<string> {
  const names = new Set<string>(Object.keys(Errno));
  for (const f of readdirSync(uapiDir)) {
    for (const m of readFileSync(join(uapiDir, f), 'utf8').matchAll(/^export const ([A-Z][A-Z0-9_]+) =/gm)) names.add(m[1]!);
  }
  return names;
}

describe('uapi constants are defined once', () => {
  it('no source outside stack/uapi/ defines a uapi name again', () => {
    const names = uapiNames();
    // The scan means something only if it knows the names the issue named.
    for (const n of ['RTM_NEWADDR', 'SIOCADDRT', 'NLM_F_REQUEST', 'IFA_LOCAL', 'IFLA_MTU', 'RTA_GATEWAY', 'AF_NETLINK', 'SOCK_RAW', 'IPPROTO_TCP', 'EFAULT']) {
      expect(names.has(n), n).toBe(true);
    }
    const copies: string[] = [];
    const files = sources(root);
    expect(files.length).toBeGreaterThan(100);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/^\s*(?:export\s+)?(?:const|let|var)\s+([A-Z][A-Z0-9_]+)\s*=\s*([^;\n]*)/gm)) {
        // A string of the same name (a calibration object's path) is not the ABI number.
        if (names.has(m[1]!) && !/^['"`]/.test(m[2]!)) copies.push(`${relative(root, f)}: ${m[1]}`);
      }
      for (const m of text.matchAll(/^\s*([A-Z][A-Z0-9_]+)\s*[:=]\s*(?:0x[0-9a-f]+|\d+),?\s*$/gim)) {
        if (names.has(m[1]!)) copies.push(`${relative(root, f)}: ${m[1]} (member)`);
      }
    }
    expect(copies).toEqual([]);
  });
});
