/** `quarklab run`: the CLI face of scenarios/run.ts. */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtinBoards, DEFAULT_BOARD, DEFAULT_PROFILE, LAB_BOARD } from '../scenarios/inputs.js';
import { DEFAULT_SCENARIO, SCENARIOS } from '../scenarios/registry.js';
import { describeOptions } from '../api/options.js';
import { run } from '../scenarios/run.js';
import { BUDGET_KEYS, parseBudget, type BudgetSpec } from '../traces/budgets.js';
import { DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { summarize } from '../traces/report.js';
import { parseDecimalInteger } from './numbers.js';
import { FileTraceSink } from '../traces/trace-writer.js';
import { writeReportPages } from '../traces/report-pages.js';
import { removeQuietly, storageFailure, writeOutputFile } from '../traces/output-error.js';
import { fail, write } from './output.js';
import { isScenarioPath, resolveScenario } from '../api/load-scenario.js';
import { splitScenarioSpec } from '../api/options.js';
import type { Scenario } from '../scenarios/scenario.js';
import { isLiveTerminal } from '../runner/progress.js';
import type { RunProgress } from '../scenarios/run.js';

/**
 * On a terminal, a run that lasts over a wall-clock second shows one updating line on stderr:
 * virtual time, bytes and frames through the board's MAC. In CI or a pipe, nothing.
 */
function terminalProgress(): { update: (p: RunProgress) => void; end: () => void } | null {
  if (!isLiveTerminal(process.stderr)) return null;
  const started = Date.now();
  let shown = false;
  return {
    update(p) {
      if (Date.now() - started < 1000) return;
      shown = true;
      process.stderr.write(`\r\x1b[2Krunning: ${(p.virtualNs / 1e9).toFixed(3)} s virtual, ${(p.bytes / 1e6).toFixed(1)} MB moved, ${p.frames} frames`);
    },
    end() {
      if (shown) process.stderr.write('\r\x1b[2K');
    },
  };
}
import { prepareOutputDir } from './output-place.js';
import { parseSysctlSetting, type SysctlSetting } from '../scenarios/sysctl-option.js';
import { resolveFailAlloc } from '../scenarios/fail-alloc.js';

const OUTPUT_FILES = ['report.json', 'report.html', 'report.md', 'capture.pcapng', 'capture.pcap', 'lab.pcapng', 'trace.msgpack'];
const DAY_S = 86_400;
const MAX_PCAPNG_EPOCH_S = Number((1n << 64n) / 1_000_000_000n) - DAY_S;
const MAX_PCAP_EPOCH_S = 0xffffffff - DAY_S;

export const RUN_HELP = `usage: quarklab run [options]

Boot a board with a stack profile, run a scenario against the lab host, and write
DIR/capture.pcapng, DIR/report.json, DIR/report.html, DIR/report.md and DIR/trace.msgpack
(the timeline, streamed as the run goes: 'quarklab trace DIR').

options:
  --board NAME|FILE     board (built in: ${builtinBoards().filter((b) => b !== LAB_BOARD).join(', ')}; default ${DEFAULT_BOARD})
  --profile NAME|FILE   stack profile: full, client, minimal, or a Kconfig fragment (default ${DEFAULT_PROFILE})
  --image FILE          boot this firmware image instead of building one from --profile
  --scenario NAME[:K=V,…]
                        a built-in scenario (listed below; default ${DEFAULT_SCENARIO}), or a file
                        ./my.ts (.ts/.js/.mjs, default-exporting defineScenario), with options after
                        a colon, e.g. smoke:loss=0.05 or bulk-rx:bytes=40000000; the wire options
                        loss=P, duplicate=P, reorder=P, corrupt=P, reorder-delay-ms=N apply to any
  --seed N              seed for every random choice (default 1)
  --out DIR             output folder (default out)
  --budget KEY=VALUE    fail (exit 1) when a figure breaks its limit; repeatable. Keys:
${Object.entries(BUDGET_KEYS).map(([k, v]) => `                          ${k.padEnd(15)} ${v.kind === 'max' ? 'at most' : 'at least'}: ${v.help}`).join('\n')}
  --sysctl NAME=VALUE   the board's boot value of a sysctl, as a kernel built with other defaults
                        (over the board file's; repeatable), e.g. net.ipv4.tcp_rmem='4096 8192 16384'
                        or net.core.default_qdisc=pfifo_fast; works without PROC_SYSCTL, where no
                        program can change a sysctl at run time
  --fail-alloc prob=P|nth=N[,site=NAME][,times=T]
                        make the board's slab and kmalloc allocations fail on purpose, as Linux's
                        failslab: each with chance P (0 to 1, drawn from --seed), or every Nth;
                        site= only that cache (kmalloc-2k, skbuff_head_cache, TCP, …), times= at
                        most T failures; counted by site in the report
  --flip-flash N        flip N bits of the firmware image, chosen by --seed, before boot: a
                        broken section fails the boot check (exit 1), flips in padding boot
  --cpu on|off          charge CPU cycles per packet and byte (default on)
  --costs FILE          cost table from 'quarklab calibrate' (default: Linux 6.1 i386, measured)
  --epoch SECONDS       Unix time of virtual time zero in the capture (default ${DEFAULT_EPOCH_NS / 1_000_000_000n})
  --capture dut|all|none
                        capture the board's MAC only (capture.pcapng), the lab host's too (its own
                        file, lab.pcapng), or nothing (default dut); captures are written to their
                        files as the run goes
  --fcs                 keep each frame's 4-byte FCS in the capture (if_fcslen)
  --snaplen N           keep the first N bytes of each captured frame, as tcpdump -s (1 to 262144;
                        default 65535, whole frames)
  --pcap                also write DIR/capture.pcap (classic libpcap, for older tools)
  --json                print report.json instead of the summary
  -h, --help            this help

scenarios:
${Object.entries(SCENARIOS)
  .map(([k, v]) => [`  ${k.padEnd(13)} ${v.summary}`, ...describeOptions(v.options).map((l) => `                  ${l}`)].join('\n'))
  .join('\n')}

exit codes: 0 every budget and check held; 1 one failed (including a profile that does not
fit the board); 2 bad usage or bad input.`;

export async function runCommand(args: string[]): Promise<number> {
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
      sysctl: { type: 'string', multiple: true },
      cpu: { type: 'string' },
      'fail-alloc': { type: 'string' },
      'flip-flash': { type: 'string' },
      costs: { type: 'string' },
      epoch: { type: 'string' },
      capture: { type: 'string' },
      snaplen: { type: 'string' },
      pcap: { type: 'boolean' },
      fcs: { type: 'boolean' },
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
  const seed = values.seed === undefined ? 1 : parseDecimalInteger(values.seed, '--seed', 0, 0xffffffff);
  if (values.cpu !== undefined && values.cpu !== 'on' && values.cpu !== 'off') fail(`--cpu must be on or off, got "${values.cpu}"`);
  if (values.capture !== undefined && values.capture !== 'dut' && values.capture !== 'all' && values.capture !== 'none') fail(`--capture must be dut, all or none, got "${values.capture}"`);
  let snaplen: number | undefined;
  if (values.snaplen !== undefined) {
    snaplen = /^\d{1,6}$/.test(values.snaplen) ? Number(values.snaplen) : NaN;
    if (!(snaplen >= 1 && snaplen <= 262144)) fail(`--snaplen must be an integer from 1 to 262144, got "${values.snaplen}"`);
  }
  let epochNs = DEFAULT_EPOCH_NS;
  if (values.epoch !== undefined) {
    // The capture's timestamps must hold epoch + the run: pcapng's are 64-bit nanoseconds,
    // classic pcap's 32-bit seconds; a day of virtual time is left for the run.
    const max = values.pcap ? MAX_PCAP_EPOCH_S : MAX_PCAPNG_EPOCH_S;
    epochNs = BigInt(parseDecimalInteger(values.epoch, values.pcap ? '--epoch (with --pcap)' : '--epoch', 0, max)) * 1_000_000_000n;
  }
  const budgets: BudgetSpec[] = [];
  for (const b of values.budget ?? []) {
    const spec = parseBudget(b);
    if ('error' in spec) fail(spec.error);
    budgets.push(spec);
  }
  const sysctls: SysctlSetting[] = [];
  for (const s of values.sysctl ?? []) {
    const setting = parseSysctlSetting(s, '--sysctl', { bootOnly: true });
    if ('error' in setting) fail(setting.error);
    sysctls.push(setting);
  }
  const failAlloc = values['fail-alloc'];
  if (failAlloc !== undefined) {
    const spec = resolveFailAlloc(failAlloc);
    if ('error' in spec) fail(spec.error);
  }
  const flipFlash = values['flip-flash'] === undefined ? undefined : parseDecimalInteger(values['flip-flash'], '--flip-flash', 1, 1_000_000);
  if (values.image && values.profile) fail('give --image or --profile, not both (the image names its profile)');
  const out = values.out ?? 'out';
  // The output folder is made and probed only once run() has found every other input good.
  let undoOutput = (): void => {};
  const prepareOutput = (): { error: string } | null => {
    const p = prepareOutputDir(out, OUTPUT_FILES, '--out');
    if ('error' in p) return p;
    undoOutput = p.undo;
    return null;
  };
  // The capture streams into its file during the run; a board that never boots, or
  // --capture none, writes none: leave no older one behind to be mistaken for it.
  const clearOutput = (): void => {
    mkdirSync(out, { recursive: true });
    rmSync(join(out, 'capture.pcapng'), { force: true });
    rmSync(join(out, 'capture.pcap'), { force: true });
    rmSync(join(out, 'lab.pcapng'), { force: true });
  };
  // A scenario file (./sensor.ts) is loaded first; a built-in is found by run() itself.
  let scenario: string | Scenario | undefined = values.scenario;
  if (scenario !== undefined) {
    const split = splitScenarioSpec(scenario);
    if ('error' in split) fail(split.error);
    if (isScenarioPath(split.name)) {
      const loaded = await resolveScenario(scenario);
      if ('error' in loaded) fail(loaded.error);
      scenario = loaded;
    }
  }
  const progress = terminalProgress();
  // The trace streams into the folder as the run goes; the file is created on its first record.
  const traceSink = new FileTraceSink(join(out, 'trace.msgpack'));
  try {
    const outcome = run({
      traceSink,
      inputsGood: prepareOutput,
      beforeCapture: clearOutput,
      board: values.board,
      profile: values.profile,
      imagePath: values.image,
      scenario,
      onProgress: progress?.update,
      seed,
      cpu: values.cpu !== 'off',
      costTablePath: values.costs,
      budgets,
      sysctls,
      epochNs,
      capture: values.capture === 'all' ? 'all' : values.capture === 'none' ? 'none' : 'dut',
      classicPcap: values.pcap === true,
      captureFile: join(out, 'capture.pcapng'),
      pcapFile: join(out, 'capture.pcap'),
      labCaptureFile: join(out, 'lab.pcapng'),
      fcs: values.fcs === true,
      snaplen,
      failAlloc,
      flipFlash,
    });
    progress?.end();
    if (outcome.exitCode === 2) {
      undoOutput();
      fail(outcome.error ?? 'bad input');
    }
    const report = outcome.report!;
    if ((outcome.captureFiles ?? []).length === 0) clearOutput();
    writeOutputFile(join(out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    // A board that never booted has an empty timeline: an empty stream of records.
    if (!traceSink.opened) writeOutputFile(join(out, 'trace.msgpack'), new Uint8Array(0));
    const pages = writeReportPages(out, report);
    write(values.json ? JSON.stringify(report, null, 2) : summarize(report));
    const captured = outcome.captureFiles ?? [];
    const pcapngs = captured.filter((f) => f.endsWith('.pcapng'));
    if (!values.json) write(`wrote ${join(out, 'report.json')}, ${pages.html}, ${pages.md}${pcapngs.map((f) => `, ${f}`).join('')}, ${join(out, 'trace.msgpack')}`);
    return outcome.exitCode;
  } catch (e) {
    progress?.end();
    // A file that could not be written (the disk filled up mid-run): no half-written capture,
    // trace or report stays behind to be taken for this run's, and the space is given back.
    if (storageFailure(e, out)) {
      for (const f of OUTPUT_FILES) removeQuietly(join(out, f));
      try {
        undoOutput();
      } catch {
        // The write that failed is the error reported.
      }
    }
    throw e;
  }
}
