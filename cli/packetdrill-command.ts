/**
 * quarklab packetdrill: run packetdrill scripts against a board in virtual time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { collectScripts, junitXml, parseAll, runSuite } from '../packetdrill/suite.js';
import { DEFAULT_TOLERANCE_USECS } from '../packetdrill/timing.js';
import { DEFAULT_BOARD, DEFAULT_PROFILE, resolveBoard, resolveProfile } from '../scenarios/inputs.js';
import { parseSysctlSetting } from '../scenarios/sysctl-option.js';
import { fail, write } from './output.js';

export const PACKETDRILL_HELP = `usage: quarklab packetdrill SCRIPT.pkt|DIR… [options]

Run packetdrill scripts (TCP over IPv4) against a board in virtual time: inbound segments are
delivered to the board's MAC, system calls run on the board, outbound segments are matched.
A directory runs every .pkt under it. Each script's exchange is written to DIR/NAME.pcapng.

options:
  --board NAME|FILE       board (default ${DEFAULT_BOARD})
  --profile NAME|FILE     stack profile (default ${DEFAULT_PROFILE})
  --tolerance-usecs N     timing tolerance (default ${DEFAULT_TOLERANCE_USECS}, packetdrill's; 0 = exact)
  --strict                an unsupported script counts as a failure
  --junit FILE            write JUnit XML, one test case per script
  --sysctl NAME=VALUE     set a board sysctl before each script (repeatable)
  --out DIR               folder for the captures (default out/packetdrill)
  -h, --help              this help

exit codes: 0 every script passed or was unsupported; 1 one failed (or, with --strict, was
unsupported); 2 a malformed script or bad usage (one line: script:line: message).`;

export function packetdrillCommand(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    options: {
      board: { type: 'string' },
      profile: { type: 'string' },
      'tolerance-usecs': { type: 'string' },
      strict: { type: 'boolean' },
      junit: { type: 'string' },
      sysctl: { type: 'string', multiple: true },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    write(PACKETDRILL_HELP);
    return 0;
  }
  if (positionals.length === 0) fail('no scripts given (quarklab packetdrill SCRIPT.pkt|DIR…)');
  const tol = values['tolerance-usecs'] === undefined ? DEFAULT_TOLERANCE_USECS : Number(values['tolerance-usecs']);
  if (!/^\d+$/.test(values['tolerance-usecs'] ?? '0') || !Number.isSafeInteger(tol)) fail(`--tolerance-usecs must be a whole number of microseconds, got "${values['tolerance-usecs']}"`);
  const board = values.board ?? DEFAULT_BOARD;
  const profile = values.profile ?? DEFAULT_PROFILE;
  const b = resolveBoard(board);
  if ('error' in b) fail(b.error);
  const p = resolveProfile(profile);
  if ('error' in p) fail(p.error);
  const sysctls: Array<{ name: string; value: string }> = [];
  for (const s of values.sysctl ?? []) {
    const setting = parseSysctlSetting(s, '--sysctl', { bootOnly: false });
    if ('error' in setting) fail(setting.error);
    sysctls.push(setting);
  }
  const files = collectScripts(positionals);
  if ('error' in files) fail(files.error);
  const scripts = parseAll(files);
  if ('error' in scripts) {
    process.stderr.write(scripts.error + '\n');
    return 2;
  }
  const outDir = values.out ?? join('out', 'packetdrill');
  mkdirSync(outDir, { recursive: true });
  const opts = { board, profile, toleranceUsecs: tol, sysctls };
  const used = new Set<string>();
  const summary = runSuite(scripts, opts, (r) => {
    let name = basename(r.path).replace(/\.pkt$/, '');
    for (let k = 2; used.has(name); k++) name = `${basename(r.path).replace(/\.pkt$/, '')}-${k}`;
    used.add(name);
    if (r.capture) writeFileSync(join(outDir, `${name}.pcapng`), r.capture);
    const tag = r.status === 'pass' ? 'ok         ' : r.status === 'fail' ? 'FAIL       ' : 'unsupported';
    write(`${tag} ${r.path}`);
    if (r.status !== 'pass' && r.message) write(r.message.split('\n').map((l) => `    ${l}`).join('\n'));
    for (const ig of r.ignored) write(`    ignored ${ig}`);
  });
  write(`${summary.results.length} scripts: ${summary.passed} passed, ${summary.failed} failed, ${summary.unsupported} unsupported (${board}, ${profile}; tolerance ${tol} µs)`);
  if (values.junit) writeFileSync(values.junit, junitXml(summary, opts, values.strict === true));
  return summary.failed > 0 || (values.strict && summary.unsupported > 0) ? 1 : 0;
}
