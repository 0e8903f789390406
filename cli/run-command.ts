/** `quarklab run`: the CLI face of scenarios/run.ts. */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_BOARD, DEFAULT_PROFILE } from '../scenarios/inputs.js';
import { DEFAULT_SCENARIO, SCENARIOS } from '../scenarios/registry.js';
import { run } from '../scenarios/run.js';
import { BUDGET_KEYS, parseBudget, type BudgetSpec } from '../traces/budgets.js';
import { DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { summarize } from '../traces/report.js';
import { FileTraceSink } from '../traces/trace-writer.js';
import { writeReportPages } from '../traces/report-pages.js';
import { fail, write } from './output.js';

export const RUN_HELP = `usage: quarklab run [options]

Boot a board with a stack profile, run a scenario against the lab host, and write
DIR/capture.pcapng, DIR/report.json, DIR/report.html, DIR/report.md and DIR/trace.msgpack
(the timeline, streamed as the run goes: 'quarklab trace DIR').

options:
  --board NAME|FILE     board (built in: quark-2m, quark-4m; default ${DEFAULT_BOARD})
  --profile NAME|FILE   stack profile: full, client, minimal, or a Kconfig fragment (default ${DEFAULT_PROFILE})
  --image FILE          boot this firmware image instead of building one from --profile
  --scenario NAME[:K=V,…]
                        a built-in scenario (listed below; default ${DEFAULT_SCENARIO}) with options after
                        a colon, e.g. smoke:loss=0.05 or bulk-rx:bytes=40000000; the wire options
                        loss=P, duplicate=P, reorder=P, corrupt=P, reorder-delay-ms=N apply to any
  --seed N              seed for every random choice (default 1)
  --out DIR             output folder (default out)
  --budget KEY=VALUE    fail (exit 1) when a figure breaks its limit; repeatable. Keys:
${Object.entries(BUDGET_KEYS).map(([k, v]) => `                          ${k.padEnd(15)} ${v.kind === 'max' ? 'at most' : 'at least'}: ${v.help}`).join('\n')}
  --cpu on|off          charge CPU cycles per packet and byte (default on)
  --costs FILE          cost table from 'quarklab calibrate' (default: Linux 6.1 i386, measured)
  --epoch SECONDS       Unix time of virtual time zero in the capture (default ${DEFAULT_EPOCH_NS / 1_000_000_000n})
  --capture dut|all     capture the board's MAC only, or the lab host's too (default dut)
  --pcap                also write DIR/capture.pcap (classic libpcap, for older tools)
  --json                print report.json instead of the summary
  -h, --help            this help

scenarios:
${Object.entries(SCENARIOS)
  .map(([k, v]) => `  ${k.padEnd(13)} ${v.description}`)
  .join('\n')}

exit codes: 0 every budget and check held; 1 one failed (including a profile that does not
fit the board); 2 bad usage or bad input.`;

export function runCommand(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      board: { type: 'string' },
      profile: { type: 'string' },
      image: { type: 'string' },
      scenario: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      budget: { type: 'string', multiple: true },
      cpu: { type: 'string' },
      costs: { type: 'string' },
      epoch: { type: 'string' },
      capture: { type: 'string' },
      pcap: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    write(RUN_HELP);
    return 0;
  }
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) fail(`--seed must be an integer from 0 to 4294967295, got "${values.seed}"`);
  if (values.cpu !== undefined && values.cpu !== 'on' && values.cpu !== 'off') fail(`--cpu must be on or off, got "${values.cpu}"`);
  if (values.capture !== undefined && values.capture !== 'dut' && values.capture !== 'all') fail(`--capture must be dut or all, got "${values.capture}"`);
  let epochNs = DEFAULT_EPOCH_NS;
  if (values.epoch !== undefined) {
    if (!/^\d{1,11}$/.test(values.epoch)) fail(`--epoch must be whole seconds since 1970, got "${values.epoch}"`);
    epochNs = BigInt(values.epoch) * 1_000_000_000n;
  }
  const budgets: BudgetSpec[] = [];
  for (const b of values.budget ?? []) {
    const spec = parseBudget(b);
    if ('error' in spec) fail(spec.error);
    budgets.push(spec);
  }
  if (values.image && values.profile) fail('give --image or --profile, not both (the image names its profile)');
  const out = values.out ?? 'out';
  // The trace streams into the folder as the run goes; the file is created on its first record.
  const traceSink = new FileTraceSink(join(out, 'trace.msgpack'));
  const outcome = run({
    traceSink,
    board: values.board,
    profile: values.profile,
    imagePath: values.image,
    scenario: values.scenario,
    seed,
    cpu: values.cpu !== 'off',
    costTablePath: values.costs,
    budgets,
    epochNs,
    captureAll: values.capture === 'all',
    classicPcap: values.pcap === true,
  });
  if (outcome.exitCode === 2) fail(outcome.error ?? 'bad input');
  mkdirSync(out, { recursive: true });
  const report = outcome.report!;
  writeFileSync(join(out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  // A board that never booted has no capture: leave no older one behind to be mistaken for it.
  if (!outcome.capture) rmSync(join(out, 'capture.pcapng'), { force: true });
  if (outcome.capture) writeFileSync(join(out, 'capture.pcapng'), outcome.capture);
  if (outcome.pcap) writeFileSync(join(out, 'capture.pcap'), outcome.pcap);
  // A board that never booted has an empty timeline: an empty stream of records.
  if (!traceSink.opened) writeFileSync(join(out, 'trace.msgpack'), new Uint8Array(0));
  const pages = writeReportPages(out, report);
  write(values.json ? JSON.stringify(report, null, 2) : summarize(report));
  if (!values.json) write(`wrote ${join(out, 'report.json')}, ${pages.html}, ${pages.md}${outcome.capture ? `, ${join(out, 'capture.pcapng')}` : ''}, ${join(out, 'trace.msgpack')}`);
  return outcome.exitCode;
}
