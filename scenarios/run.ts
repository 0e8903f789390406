/**
 * `quarklab run`: build (or load) firmware, boot the DUT and the lab host, join them with a
 * wire, run a scenario to the end, let every timer expire, and measure: the capture, the
 * report and the exit code (0 all held, 1 a budget or check failed, 2 bad input).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../emulator/package-root.js';
import { readInputFile } from './input-files.js';
import type { Program } from '../apps/program.js';
import type { BoardConfig } from '../emulator/board-config.js';
import { NS_PER_SEC, NS_PER_US } from '../emulator/event-queue.js';
import { NO_IMPAIRMENTS } from '../emulator/wire.js';
import { World } from '../emulator/world.js';
import type { BoardRam } from '../emulator/ram/board-ram.js';
import { parseImage } from '../emulator/flash-image.js';
import { inetFlushInterface } from '../stack/ipv4/devinet.js';
import { SK_MEMORY_PCPU_RESERVE } from '../stack/core/sock-mem.js';
import { linkComparison, profileCost, type CostTable } from '../stack/kconfig/cost-table.js';
import { ltoEstimate, NO_LTO_FACTOR } from '../scripts/lto.js';
import type { Profile } from '../stack/kconfig/kconfig.js';
import { checkBudget, formatBytes, type BudgetSpec } from '../traces/budgets.js';
import { Capture, DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { Timeline } from '../traces/timeline.js';
import { MemoryTraceSink, TraceWriter, type TraceSink } from '../traces/trace-writer.js';
import { REPORT_SCHEMA_ID, type BoardReport, type CheckReport, type Report, type SocketsReport } from '../traces/report.js';
import { socketTable } from './socket-table.js';
import { checkBootImage } from './image-check.js';
import { bootBoard, liveObjectBytes, programReservations, type BootedBoard } from './boot.js';
import { cachedFirmware, type Firmware } from './firmware.js';
import { DEFAULT_BOARD, DEFAULT_PROFILE, LAB_BOARD, LAB_PROFILE, resolveBoard, resolveCostTable, resolveProfile } from './inputs.js';
import { Process, type TraceLine } from './process.js';
import { QuietWireCheck } from './quiet-wire.js';
import { DEFAULT_SCENARIO, findScenario } from './registry.js';
import type { Scenario, ScenarioContext } from './scenario.js';
import { Syscalls } from '../stack/socket/syscalls.js';
import { qdiscShow } from '../stack/sched/qdisc.js';
import { bootDefaultQdisc } from '../stack/sched/sch-api.js';
import { checkBootSysctl } from '../stack/ipv4/tcp-sysctl.js';
import { TCP_CONG_LIST } from '../stack/ipv4/tcp-cong-list.js';
import type { SysctlSetting } from './sysctl-option.js';
import { armFailAlloc, failAllocReport, resolveFailAlloc } from './fail-alloc.js';
import { describeFlips, flipFlashBits } from './flip-flash.js';
import { stuckCause } from './run-cause.js';

/** The lab host runs the lab profile on its board file. */
function labFirmware(labConfig: BoardConfig, table: CostTable): Firmware | { error: string } {
  const labProfile = resolveProfile(LAB_PROFILE);
  return 'error' in labProfile ? labProfile : cachedFirmware(labConfig, labProfile, table);
}

/** quarklab's version, as package.json gives it. */
export const QUARKLAB_VERSION: string = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;

export interface RunOptions {
  board?: string;
  profile?: string;
  /** A built-in's `NAME[:k=v,…]`, or a scenario already made (a user's, loaded by path). */
  scenario?: string | Scenario;
  seed?: number;
  cpu?: boolean;
  /** A prebuilt firmware image to boot instead of building one for the profile. */
  imagePath?: string;
  costTablePath?: string;
  budgets?: BudgetSpec[];
  epochNs?: bigint;
  /**
   * Boot values of sysctls on the board (`run --sysctl NAME=VALUE`), as a kernel built with
   * other defaults: over the board file's own, checked before anything boots.
   */
  sysctls?: SysctlSetting[];
  /** Which MACs to capture: the board's (default), the lab host's too, or none. */
  capture?: 'dut' | 'all' | 'none';
  /** Same as capture: 'all' (kept for library callers). */
  captureAll?: boolean;
  classicPcap?: boolean;
  /** Stream the capture to these files as the run goes; without them it is kept and returned. */
  captureFile?: string;
  pcapFile?: string;
  /** With capture 'all': the lab host's side streams to this file (else it is kept and returned). */
  labCaptureFile?: string;
  /** Append each captured frame's FCS (if_fcslen 32). */
  fcs?: boolean;
  /** Bytes kept of each captured frame (tcpdump -s); default 65535. */
  snaplen?: number;
  /**
   * Called once every named input (board, profile or image, scenario, budgets, cost table) has
   * been read and found good, before anything boots: the CLI creates and probes its output folder
   * here, so a bad input never touches the file system. A returned error is bad input (exit 2).
   */
  inputsGood?: () => { error: string } | null;
  /** Called once the inputs are good and the boards booted, just before capture files are created. */
  beforeCapture?: () => void;
  /**
   * Called with each board once it has booted, before any traffic: a seam for tests that swap
   * part of a stack for a double (a broken TIME_WAIT) to see the run's checks catch it.
   */
  afterBoot?: (board: BootedBoard) => void;
  /**
   * Where trace.msgpack streams as the run goes (e.g. a FileTraceSink). Without one the trace is
   * kept in memory and returned as RunOutcome.traceBytes.
   */
  traceSink?: TraceSink;
  /** Called every 65536 events while the scenario runs: how far it has got (for a progress line). */
  onProgress?: (p: RunProgress) => void;
  /** failslab-style injection on the board under test: `prob=P|nth=N[,site=NAME][,times=T]`. */
  failAlloc?: string;
  /** Flash faults: flip this many seeded bits of the board's flash part before boot. */
  flipFlash?: number;
}

export interface RunProgress {
  virtualNs: number;
  /** Bytes and frames through the board's MAC, both directions. */
  bytes: number;
  frames: number;
}

export interface RunOutcome {
  exitCode: 0 | 1 | 2;
  /** One-line error for exit code 2. */
  error?: string;
  report?: Report;
  /** The capture's bytes, when it was kept in memory (no captureFile, capture not 'none'). */
  capture?: Uint8Array;
  pcap?: Uint8Array | null;
  /** The lab host's side with capture 'all', when kept in memory. */
  labCapture?: Uint8Array;
  /** Files the capture was streamed to. */
  captureFiles?: string[];
  trace: TraceLine[];
  /** trace.msgpack's bytes, when no traceSink was given. */
  traceBytes?: Uint8Array;
  /** Samples the timeline took (every 100 ms of the scenario's virtual time). */
  timelineSamples?: number;
  /** Events the virtual clock ran (for benchmarks). */
  events?: number;
  /** Every figure a budget could name, as measured (null: not measured this run). */
  measured?: Record<string, number | null>;
  /** The DUT's firmware image as booted (built or read), for content hashes. */
  image?: Uint8Array;
  /** The board file, profile and cost table the run used (their sources, for content hashes). */
  sources?: { board: string; profile: string | null; costTable: string };
}

/** Quiet time after the scenario: long enough for TIME_WAIT, neighbour GC and leases to expire. */
const QUIESCE_LIMIT_NS = 600 * NS_PER_SEC;
const WIRE_DELAY_NS = NS_PER_US;

export function run(opts: RunOptions): RunOutcome {
  const trace: TraceLine[] = [];
  const bad = (error: string): RunOutcome => ({ exitCode: 2, error, trace });
  const boardName = opts.board ?? DEFAULT_BOARD;
  const profileName = opts.profile ?? DEFAULT_PROFILE;
  const scenarioName = opts.scenario ?? DEFAULT_SCENARIO;
  const seed = opts.seed ?? 1;
  const cpu = opts.cpu ?? true;
  const epochNs = opts.epochNs ?? DEFAULT_EPOCH_NS;

  const boardConfig = resolveBoard(boardName);
  if ('error' in boardConfig) return bad(boardConfig.error);
  const labConfig = resolveBoard(LAB_BOARD);
  if ('error' in labConfig) return bad(labConfig.error);
  const table = resolveCostTable(opts.costTablePath);
  if ('error' in table) return bad(table.error);
  const scenario = typeof scenarioName === 'string' ? findScenario(scenarioName) : scenarioName;
  if ('error' in scenario) return bad(scenario.error);
  const unmeasured = unmeasuredBudget(scenario, opts.budgets ?? []);
  if (unmeasured) return bad(unmeasured);
  const failAlloc = opts.failAlloc === undefined ? null : resolveFailAlloc(opts.failAlloc);
  if (failAlloc !== null && 'error' in failAlloc) return bad(failAlloc.error);
  if (opts.flipFlash !== undefined && !(Number.isSafeInteger(opts.flipFlash) && opts.flipFlash >= 1 && opts.flipFlash <= 1_000_000)) {
    return bad(`--flip-flash must be a decimal integer from 1 to 1000000, got ${opts.flipFlash}`);
  }
  let profile: Profile | null = null;
  let dutImage: Uint8Array;
  let enabled: readonly string[];
  if (opts.imagePath) {
    // An image can be no larger than the flash it is written to: read no more than that.
    const bytes = readInputFile(opts.imagePath, { what: 'firmware image', maxBytes: boardConfig.flashBytes, maxWhy: `${boardConfig.name}'s ${boardConfig.flashBytes}-byte flash` });
    if ('error' in bytes) return bad(bytes.error);
    const parsed = parseImage(bytes);
    if ('error' in parsed) return bad(`${opts.imagePath}: ${parsed.error}`);
    // What boot checks beyond the CRCs, before any work: the image must be the profile it names.
    if (parsed.board !== boardConfig.name) return bad(`${opts.imagePath}: flash image was built for board ${parsed.board}, not ${boardConfig.name}`);
    const valid = checkBootImage(parsed, boardConfig, table);
    if ('error' in valid) return bad(`${opts.imagePath}: ${valid.error}`);
    dutImage = bytes;
    enabled = valid.enabled;
  } else {
    const p = resolveProfile(profileName);
    if ('error' in p) return bad(p.error);
    profile = p;
    const fw = cachedFirmware(boardConfig, p, table);
    if ('error' in fw) return bad(fw.error);
    dutImage = fw.image;
    enabled = p.enabled;
  }
  const dutConfig = withBootSysctls(boardConfig, opts.sysctls ?? []);
  const sysctlProblem = dutConfig.sysctl ? checkBootSysctl(dutConfig.sysctl, TCP_CONG_LIST.map((c) => c.name)) : null;
  if (sysctlProblem) return bad(`--sysctl: ${sysctlProblem}`);
  const qdisc = bootDefaultQdisc(new Set(enabled), dutConfig.sysctl);
  if ('error' in qdisc) return bad(`--sysctl: ${qdisc.error}`);
  const labFw = labFirmware(labConfig, table);
  if ('error' in labFw) return bad(labFw.error);
  const outputProblem = opts.inputsGood?.();
  if (outputProblem) return bad(outputProblem.error);

  const world = new World(seed, cpu);
  // Files the run has open for writing. A run that ends by an exception (a write failed: the
  // disk is full) lets go of them unwritten, so a library caller keeps no descriptor open.
  const openOutputs: { abandon(): void }[] = [];
  let outputsClosed = false;
  // The boards' RAM goes back to the process's pool however the run ends (ram-pool.ts).
  try {
    const lab = bootBoard(world, 'lab', labConfig, labFw.image, table, programReservations(labConfig, scenario.labPrograms));
    if ('error' in lab) return bad(`lab host: ${lab.error}`);
    // Flash faults strike the part after it was programmed and before the loader reads it.
    const flips = opts.flipFlash === undefined ? null : flipFlashBits(dutImage, boardConfig.flashBytes, opts.flipFlash, seed);
    const dut = bootBoard(world, 'dut', dutConfig, flips?.image ?? dutImage, table, programReservations(boardConfig, scenario.dutPrograms));
    const flipReport = flips ? { flipFlash: { flips: flips.bits.length, bits: flips.bits } } : null;
    const inputs = {
      board: boardConfig.name,
      profile: profile?.name ?? opts.imagePath ?? profileName,
      scenario: scenario.name,
      seed,
      cpu,
      epochNs: epochNs.toString(),
      costTable: opts.costTablePath ?? 'calibration/linux-6.1-i386.json',
      ...(opts.sysctls && opts.sysctls.length > 0 ? { sysctl: Object.fromEntries(opts.sysctls.map((x) => [x.name, x.value])) } : {}),
    };
    if ('error' in dut) {
      // A broken image is bad input when the user gave it; when the flips broke it, a failed boot.
      if (dut.kind === 'input' && !flips) return bad(dut.error);
      // The profile does not fit this board, or has no stack to run the scenario on: that is a
      // failed check, with the numbers.
      const report: Report = {
        $schema: REPORT_SCHEMA_ID,
        quarklab: QUARKLAB_VERSION,
        inputs,
        virtualTimeNs: 0,
        boards: [],
        wire: null,
        scenario: { name: scenario.name, description: scenario.description, figures: {} },
        checks: [dut.kind === 'input'
          ? { name: 'firmware image boots (flash faults injected)', pass: false, detail: `the boot loader refused the image: ${dut.error}; flipped: ${describeFlips(flips!.bits)}` }
          : { name: dut.kind === 'needs' ? 'profile has the networking the scenario needs' : 'profile fits the board', pass: false, detail: dut.error }],
        budgets: (opts.budgets ?? []).map((b) => checkBudget(b, { 'flash.image': dutImage.length })),
        notes: [],
        stalls: [],
        ...(flipReport ? { faults: flipReport } : {}),
        verdict: 'fail',
      };
      return { exitCode: 1, report, trace, image: dutImage, sources: { board: boardConfig.name, profile: profile?.source ?? null, costTable: table.source } };
    }

    opts.afterBoot?.(lab);
    opts.afterBoot?.(dut);
    world.connect(dut.board, lab.board, WIRE_DELAY_NS, { ...NO_IMPAIRMENTS, ...scenario.impairments });
    // Armed last, once every other component has its generator: the wire draws as it would without.
    const failSlab = failAlloc === null ? null : armFailAlloc(world, dut, failAlloc);
    const quietWire = new QuietWireCheck();
    quietWire.attach([dut.board.mac, lab.board.mac]);
    opts.beforeCapture?.();
    const captureMode = opts.capture ?? (opts.captureAll ? 'all' : 'dut');
    const toFile = captureMode !== 'none' && opts.captureFile !== undefined;
    const capture = new Capture(epochNs, {
      classicPcap: captureMode !== 'none' && opts.classicPcap,
      file: toFile ? opts.captureFile : undefined,
      pcapFile: toFile ? opts.pcapFile : undefined,
      labFile: toFile && captureMode === 'all' ? opts.labCaptureFile : undefined,
      snaplen: opts.snaplen,
      fcs: opts.fcs,
    });
    openOutputs.push(capture);
    if (captureMode !== 'none') {
      capture.attach(dut.board.mac, `board ${boardConfig.name} (dut), profile ${inputs.profile}, kernel core ${boardConfig.kernelCore}`);
      if (captureMode === 'all') capture.attach(lab.board.mac, `board ${labConfig.name} (lab host), profile ${LAB_PROFILE}`, 'lab');
    }

    const memorySink = opts.traceSink ? null : new MemoryTraceSink();
    const traceWriter = new TraceWriter(opts.traceSink ?? memorySink!);
    openOutputs.push(traceWriter);
    const timeline = new Timeline(
      {
        sim: world.sim,
        ram: dut.board.ram,
        stack: dut.stack,
        mac: dut.board.mac,
        wire: world.wires[0]!.stats,
        lines: trace,
        programBytes: dut.memoryMap.filter((r) => r.kind === 'program' && !r.released).reduce((s, r) => s + r.size, 0),
        staticBytes: dut.board.ram.usage().reservedBytes,
        header: { board: boardConfig.name, profile: inputs.profile, scenario: scenario.name, seed },
      },
      traceWriter,
    );
    timeline.start();
    let finished = false;
    const processes: Process[] = [];
    const ctx: ScenarioContext = {
      world,
      dut,
      lab,
      capture,
      trace,
      spawn: (on: BootedBoard, program: Program, done?: (code: number) => void) => {
        const p = new Process(on.role, program, on.stack, world.sim, trace);
        if (done) p.onExit = done;
        processes.push(p);
        p.start();
        return p;
      },
      step: (text: string) => {
        capture.noteNextFrame(text);
        trace.push({ time: world.sim.now, board: 'scenario', program: scenario.name, line: text });
      },
      finish: () => {
        finished = true;
      },
      sysctl: (on: BootedBoard, name: string, value: string) => new Syscalls(on.stack).writeSysctl(name, value),
    };
    scenario.start(ctx);
    const onProgress = opts.onProgress;
    const mac = dut.board.mac.stats;
    world.sim.run(
      scenario.timeLimitNs,
      onProgress
        ? () => {
            if ((world.sim.eventsRun & 0xffff) === 0) onProgress({ virtualNs: world.sim.now, bytes: mac.rx_bytes + mac.tx_bytes, frames: mac.rx_packets + mac.tx_packets });
            return finished;
          }
        : () => finished,
    );
    const checks: CheckReport[] = [];
    if (!finished) {
      const cause = stuckCause(dut.board.ram, dut.role, trace);
      checks.push({ name: 'scenario completes', pass: false, detail: `still running at the ${scenario.timeLimitNs / NS_PER_SEC} s limit${cause ? `; ${cause}` : ''}` });
    }
    const trafficEnd = world.sim.now;
    timeline.stop();
    // Programs exit, then every kernel timer is allowed to expire — unless the wire is in a storm
    // the quiet-wire check has already condemned, which would only burn time.
    quietWire.startDrain(trafficEnd);
    // The report's socket table: ss on the board while the scenario's sockets are still open.
    const dutSockets = socketTable(dut, world.sim, trace);
    for (const p of processes) p.exit(p.program.exitCode ?? 0);
    world.sim.run(trafficEnd + QUIESCE_LIMIT_NS, () => quietWire.runaway);
    const outcome = scenario.result(ctx);
    // ifdown: configuration state (addresses, routes, neighbours) goes; what stays must be boot's.
    inetFlushInterface(dut.stack, dut.dev.ifindex);
    // ip tcp_metrics flush: what TCP learned per destination is a cache, not boot state.
    dut.stack.tcp?.metrics?.flush();
    checks.push(...outcome.checks);
    checks.push(quietWire.result());

    const dutReport = boardReport(dut, boardConfig, dutImage.length, trafficEnd, dutSockets);
    const labReport = boardReport(lab, labConfig, labFw.image.length, trafficEnd, null);
    const m = dutReport.memory!;
    checks.push({
      name: 'RAM back to post-boot baseline after timers expire and the interface is deconfigured',
      pass: !quietWire.runaway && m.leakBytes === 0 && dut.stack.skbs.live === 0,
      detail: quietWire.runaway ? 'not measured: the drain was stopped because the wire did not go quiet' : `live kernel objects ${m.baselineObjectBytes} B after boot, ${m.finalObjectBytes} B at the end (heap pages ${m.baselineUsedBytes} → ${m.finalUsedBytes} B, of which ${slackDetail(dut.board.ram)}); live skbs ${dut.stack.skbs.live}, sockets ${dut.stack.sockets.live}`,
    });
    const measured: Record<string, number | null> = {
      'ram.peak': m.peakBytes,
      'ram.static': m.staticBytes,
      'ram.heap-peak': m.peakUsedBytes,
      'ram.free-min': m.minFreeBytes,
      'flash.image': dutImage.length,
      'rx.missed': dut.board.mac.stats.rx_missed_errors,
      'alloc.failures': m.allocationFailures,
      goodput: null,
      'rtt.p99': null,
      ...outcome.measured,
    };
    const budgets = (opts.budgets ?? []).map((b) => checkBudget(b, measured));
    const notes: string[] = [];
    const link = linkComparison(table);
    notes.push(
      `stack sizes are sums of object sizes from ${inputs.costTable}` +
        (link ? `; against the linked kernel, object text is ×${link.factor.toFixed(3)} of vmlinux text (×${(link.factorWithRodata ?? link.factor).toFixed(3)} counting .rodata, which vmlinux size puts under data)` : ''),
    );
    if (dut.board.ram.allocator === 'slub') {
      notes.push(
        `the kernel runs SLUB (CONFIG_SLUB), but every calibration build ran SLOB: the kernel core's size is a SLOB kernel's, ` +
          `and mm/slub.o's difference from mm/slob.o is not measured, so it is not charged`,
      );
    }
    const dutTcp = dut.stack.tcp;
    if (dutTcp && dutTcp.sysctl.tcpMem[2] < SK_MEMORY_PCPU_RESERVE) {
      const [lo, pr, hi] = dutTcp.sysctl.tcpMem;
      notes.push(
        `tcp_mem ${lo} ${pr} ${hi} pages sits below the per-CPU socket-memory reserve (SK_MEMORY_PCPU_RESERVE, ${SK_MEMORY_PCPU_RESERVE} pages on each of this board's 1 CPU): ` +
          `Linux 6.1 moves socket-memory charges to the global count tcp_mem is checked against a whole reserve at a time, so that count stays 0 until 1 MiB is charged: these limits cannot engage before then, and tcp_mem tuning is inert on this board`,
      );
    }
    const frag = dut.stack.ipfrag;
    const fragQueues = dut.board.ram.slabinfo().find((c) => c.name === 'ip4-frags')?.allocs ?? 0;
    if (frag && fragQueues > 0 && frag.ipfrag_high_thresh > m.heapBytes && m.allocationFailures + m.allocationThrottled > 0) {
      // A limit larger than the memory it governs never engages: say so when fragments came and
      // the heap ran short in the same run (a run whose fragments fitted has nothing to learn).
      notes.push(
        `ipfrag_high_thresh is ${frag.ipfrag_high_thresh} B (Linux 6.1's default), more than this board's whole heap of ${m.heapBytes} B: ` +
          `fragments awaiting reassembly (${fragQueues} queues this run) can hold all of the heap before the limit engages, until ipfrag_time (${frag.ipfrag_time} s) expires them — ` +
          `Linux on a board this size does the same; set net.ipv4.ipfrag_high_thresh and ipfrag_low_thresh below the heap`,
      );
    }
    notes.push(profile ? `LTO: ${ltoEstimate(profile, profileCost(profile, table).total.text).note}` : `LTO: ${NO_LTO_FACTOR} (booted from an image)`);
    const verdict = checks.every((c) => c.pass) && budgets.every((b) => b.verdict === 'pass') ? 'pass' : 'fail';
    const w = world.wires[0]!.stats;
    const report: Report = {
      $schema: REPORT_SCHEMA_ID,
      quarklab: QUARKLAB_VERSION,
      inputs,
      virtualTimeNs: trafficEnd,
      boards: [dutReport, labReport],
      wire: { ...w },
      scenario: { name: scenario.name, description: scenario.description, figures: outcome.figures },
      checks,
      budgets,
      notes,
      stalls: timeline.stalls,
      ...(failSlab || flipReport ? { faults: { ...(failSlab ? { failAlloc: failAllocReport(failSlab) } : {}), ...flipReport } } : {}),
      verdict,
    };
    const files = capture.finish(world.sim.now);
    const kept = captureMode !== 'none' && !toFile;
    const captureFiles = toFile
      ? [opts.captureFile!, ...(captureMode === 'all' && opts.labCaptureFile !== undefined ? [opts.labCaptureFile] : []), ...(opts.classicPcap && opts.pcapFile !== undefined ? [opts.pcapFile] : [])]
      : [];
    timeline.finish();
    traceWriter.close();
    outputsClosed = true;
    return {
      exitCode: verdict === 'pass' ? 0 : 1,
      report,
      capture: kept ? files.pcapng : undefined,
      pcap: kept ? files.pcap : null,
      labCapture: kept && files.lab ? files.lab : undefined,
      captureFiles,
      trace,
      traceBytes: memorySink?.bytes(),
      timelineSamples: timeline.samples,
      events: world.sim.eventsRun,
      measured,
      image: dutImage,
      sources: { board: boardConfig.name, profile: profile?.source ?? null, costTable: table.source },
    };
  } finally {
    if (!outputsClosed) for (const o of openOutputs) o.abandon();
    world.dispose();
  }
}


/** The board file with `--sysctl` boot values over its own (the last setting of a name wins). */
function withBootSysctls(config: BoardConfig, sysctls: readonly SysctlSetting[]): BoardConfig {
  if (sysctls.length === 0) return config;
  return { ...config, sysctl: { ...config.sysctl, ...Object.fromEntries(sysctls.map((x) => [x.name, x.value])) } };
}

/** Figures every run measures, whatever the scenario. */
export const RUN_FIGURES: readonly string[] = ['ram.peak', 'ram.static', 'ram.heap-peak', 'ram.free-min', 'flash.image', 'rx.missed', 'alloc.failures'];

/** The figures a budget may name for this scenario. */
export function scenarioFigures(scenario: Pick<Scenario, 'produces'>): string[] {
  return [...RUN_FIGURES, ...(scenario.produces ?? [])];
}

/** A budget on a figure this scenario never measures is bad input, refused before the run. */
export function unmeasuredBudget(scenario: Pick<Scenario, 'name' | 'produces'>, budgets: readonly { key: string }[]): string | null {
  for (const b of budgets) {
    if (RUN_FIGURES.includes(b.key) || scenario.produces?.includes(b.key)) continue;
    const own = scenario.produces && scenario.produces.length > 0 ? scenario.produces.join(', ') : 'none of its own';
    return `budget ${b.key}: scenario ${scenario.name} does not measure ${b.key} (its figures: ${own}; every run: ${RUN_FIGURES.join(', ')})`;
  }
  return null;
}

export function boardReport(b: BootedBoard, config: BoardConfig, imageBytes: number, elapsedNs: number, sockets: SocketsReport | null): BoardReport {
  const ram = b.board.ram;
  const usage = ram.usage();
  const caches = ram.slabinfo().map((c) => ({ name: c.name, objectSize: c.objectSize, active: c.active, peakActive: c.peakActive, totalObjects: c.totalObjects, pages: c.pages, peakPages: c.peakPages, heldBytes: c.heldBytes, peakHeldBytes: c.peakHeldBytes, failures: c.failures }));
  const st = b.stack;
  const snmp = st.has('PROC_FS') ? st.mib.snapshot() : null;
  return {
    role: b.role,
    board: { name: config.name, ramBytes: config.ramBytes, flashBytes: config.flashBytes, kernelCore: config.kernelCore, executeInPlace: config.executeInPlace, linkSpeedMbps: config.mac.linkSpeedMbps, cpuClockHz: config.cpu.clockHz },
    profile: { name: b.image.profile, enabled: [...b.config.enabled] },
    image: { bytes: imageBytes, flashBytes: config.flashBytes, sections: b.image.sections.map((s) => ({ name: s.name, kind: s.kind, bytes: s.length })) },
    memory: {
      allocator: ram.allocator,
      totalBytes: usage.totalBytes,
      staticBytes: usage.reservedBytes,
      initFreedBytes: b.initFreed,
      heapBytes: usage.heapBytes,
      baselineUsedBytes: b.baselineUsed,
      peakUsedBytes: usage.peakUsedBytes,
      finalUsedBytes: usage.usedBytes,
      baselineObjectBytes: b.baselineObjects,
      finalObjectBytes: liveObjectBytes(ram),
      leakBytes: liveObjectBytes(ram) - b.baselineObjects,
      peakBytes: usage.reservedBytes + usage.peakUsedBytes,
      minFreeBytes: usage.heapBytes - usage.peakUsedBytes,
      bootMap: b.memoryMap.map((r) => ({ name: r.name, kind: r.kind, start: r.start, size: r.size, released: r.released })),
      caches,
      allocationFailures: caches.reduce((s, c) => s + c.failures, 0) + ram.pages.failures,
      allocationThrottled: ram.pages.throttled,
      minFreeKbytes: ram.minFreeKbytes,
    },
    interfaces: { [b.board.mac.name]: { ...b.board.mac.stats, ...prefixKeys(b.dev.stats, 'netdev_'), ...prefixKeys(st.drivers.get(b.dev.ifindex)?.gro?.stats ?? {}, 'gro_') } },
    qdiscs: { [b.board.mac.name]: qdiscShow(b.dev.qdisc) },
    sockets,
    snmp,
    arp: { ...st.neigh.stats },
    tcp: st.tcp
      ? {
          tcpMemPages: [...st.tcp.sysctl.tcpMem],
          tcpRmem: [...st.tcp.sysctl.tcpRmem],
          tcpWmem: [...st.tcp.sysctl.tcpWmem],
          ehashEntries: st.tcp.sysctl.ehashEntries,
          maxTwBuckets: st.tcp.sysctl.maxTwBuckets,
          maxOrphans: st.tcp.sysctl.maxOrphans,
          memAllocatedPeakBytes: st.tcp.mem.allocatedPeak,
          memoryPressureEntered: st.tcp.mem.pressureEpisodes > 0,
          dropReasons: { ...st.tcp.dropReasons },
        }
      : null,
    cpu: { cyclesUsed: b.board.cpu.cyclesUsed, utilisation: elapsedNs > 0 ? b.board.cpu.cyclesUsed / ((elapsedNs / 1e9) * config.cpu.clockHz) : 0 },
  };
}

/** What the heap's pages hold beyond live objects: SLUB's kept empty slabs, SLOB's free fragments. */
function slackDetail(ram: BoardRam): string {
  return ram.allocator === 'slob'
    ? `${ram.slobFreeBytes()} B free in SLOB's shared pages, which hold other objects still`
    : `${ram.emptySlabBytes()} B in empty slabs the caches keep`;
}

function prefixKeys(o: object, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) out[prefix + k] = v as number;
  return out;
}

export { formatBytes };
export type { CostTable };
