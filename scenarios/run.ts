/**
 * `quarklab run`: build (or load) firmware, boot the DUT and the lab host, join them with a
 * wire, run a scenario to the end, let every timer expire, and measure: the capture, the
 * report and the exit code (0 all held, 1 a budget or check failed, 2 bad input).
 */
import { readFileSync } from 'node:fs';
import type { Program } from '../apps/program.js';
import type { BoardConfig } from '../emulator/board-config.js';
import { NS_PER_SEC, NS_PER_US } from '../emulator/event-queue.js';
import { NO_IMPAIRMENTS } from '../emulator/wire.js';
import { World } from '../emulator/world.js';
import { inetFlushInterface } from '../stack/ipv4/devinet.js';
import { linkComparison, profileCost, type CostTable } from '../stack/kconfig/cost-table.js';
import { ltoEstimate, NO_LTO_FACTOR } from '../stack/kconfig/lto.js';
import type { Profile } from '../stack/kconfig/kconfig.js';
import { checkBudget, formatBytes, type BudgetSpec } from '../traces/budgets.js';
import { Capture, DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { Timeline } from '../traces/timeline.js';
import { MemoryTraceSink, TraceWriter, type TraceSink } from '../traces/trace-writer.js';
import { REPORT_SCHEMA_ID, type BoardReport, type CheckReport, type Report } from '../traces/report.js';
import { bootBoard, liveObjectBytes, programReservations, type BootedBoard } from './boot.js';
import { buildFirmware } from './firmware.js';
import { DEFAULT_BOARD, DEFAULT_PROFILE, LAB_BOARD, LAB_PROFILE, resolveBoard, resolveCostTable, resolveProfile } from './inputs.js';
import { Process, type TraceLine } from './process.js';
import { DEFAULT_SCENARIO, findScenario } from './registry.js';
import type { ScenarioContext } from './scenario.js';

export const QUARKLAB_VERSION = '0.1.0';

export interface RunOptions {
  board?: string;
  profile?: string;
  scenario?: string;
  seed?: number;
  cpu?: boolean;
  /** A prebuilt firmware image to boot instead of building one for the profile. */
  imagePath?: string;
  costTablePath?: string;
  budgets?: BudgetSpec[];
  epochNs?: bigint;
  captureAll?: boolean;
  classicPcap?: boolean;
  /**
   * Where trace.msgpack streams as the run goes (e.g. a FileTraceSink). Without one the trace is
   * kept in memory and returned as RunOutcome.traceBytes.
   */
  traceSink?: TraceSink;
}

export interface RunOutcome {
  exitCode: 0 | 1 | 2;
  /** One-line error for exit code 2. */
  error?: string;
  report?: Report;
  capture?: Uint8Array;
  pcap?: Uint8Array | null;
  trace: TraceLine[];
  /** trace.msgpack's bytes, when no traceSink was given. */
  traceBytes?: Uint8Array;
  /** Samples the timeline took (every 100 ms of the scenario's virtual time). */
  timelineSamples?: number;
  /** Events the virtual clock ran (for benchmarks). */
  events?: number;
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
  const scenario = findScenario(scenarioName);
  if ('error' in scenario) return bad(scenario.error);
  let profile: Profile | null = null;
  let dutImage: Uint8Array;
  if (opts.imagePath) {
    try {
      dutImage = new Uint8Array(readFileSync(opts.imagePath));
    } catch (e) {
      return bad(`${opts.imagePath}: cannot read image (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } else {
    const p = resolveProfile(profileName);
    if ('error' in p) return bad(p.error);
    profile = p;
    const fw = buildFirmware(boardConfig, p, table);
    if ('error' in fw) return bad(fw.error);
    dutImage = fw.image;
  }
  const labProfile = resolveProfile(LAB_PROFILE);
  if ('error' in labProfile) return bad(labProfile.error);
  const labFw = buildFirmware(labConfig, labProfile, table);
  if ('error' in labFw) return bad(labFw.error);

  const world = new World(seed, cpu);
  const lab = bootBoard(world, 'lab', labConfig, labFw.image, table, programReservations(labConfig, scenario.labPrograms));
  if ('error' in lab) return bad(`lab host: ${lab.error}`);
  const dut = bootBoard(world, 'dut', boardConfig, dutImage, table, programReservations(boardConfig, scenario.dutPrograms));
  const inputs = {
    board: boardConfig.name,
    profile: profile?.name ?? opts.imagePath ?? profileName,
    scenario: scenario.name,
    seed,
    cpu,
    epochNs: epochNs.toString(),
    costTable: opts.costTablePath ?? 'calibration/linux-6.1-i386.json',
  };
  if ('error' in dut) {
    if (dut.kind === 'input') return bad(dut.error);
    // The profile does not fit this board: that is a failed check, with the numbers.
    const report: Report = {
      $schema: REPORT_SCHEMA_ID,
      quarklab: QUARKLAB_VERSION,
      inputs,
      virtualTimeNs: 0,
      boards: [],
      wire: null,
      scenario: { name: scenario.name, description: scenario.description, figures: {} },
      checks: [{ name: 'profile fits the board', pass: false, detail: dut.error }],
      budgets: (opts.budgets ?? []).map((b) => checkBudget(b, { 'flash.image': dutImage.length })),
      notes: [],
      stalls: [],
      verdict: 'fail',
    };
    return { exitCode: 1, report, trace };
  }

  world.connect(dut.board, lab.board, WIRE_DELAY_NS, { ...NO_IMPAIRMENTS, ...scenario.impairments });
  const capture = new Capture(epochNs, { classicPcap: opts.classicPcap });
  capture.attach(dut.board.mac, `board ${boardConfig.name} (dut), profile ${inputs.profile}, kernel core ${boardConfig.kernelCore}`);
  if (opts.captureAll) capture.attach(lab.board.mac, `board ${labConfig.name} (lab host), profile ${LAB_PROFILE}`);

  const memorySink = opts.traceSink ? null : new MemoryTraceSink();
  const traceWriter = new TraceWriter(opts.traceSink ?? memorySink!);
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
  };
  scenario.start(ctx);
  world.sim.run(scenario.timeLimitNs, () => finished);
  const checks: CheckReport[] = [];
  if (!finished) checks.push({ name: 'scenario completes', pass: false, detail: `still running at the ${scenario.timeLimitNs / NS_PER_SEC} s limit` });
  const trafficEnd = world.sim.now;
  timeline.stop();
  // Programs exit, then every kernel timer is allowed to expire.
  for (const p of processes) p.exit(p.program.exitCode ?? 0);
  world.sim.run(trafficEnd + QUIESCE_LIMIT_NS);
  const outcome = scenario.result(ctx);
  // ifdown: configuration state (addresses, routes, neighbours) goes; what stays must be boot's.
  inetFlushInterface(dut.stack, dut.dev.ifindex);
  // ip tcp_metrics flush: what TCP learned per destination is a cache, not boot state.
  dut.stack.tcp?.metrics?.flush();
  checks.push(...outcome.checks);

  const dutReport = boardReport(dut, boardConfig, dutImage.length, trafficEnd);
  const labReport = boardReport(lab, labConfig, labFw.image.length, trafficEnd);
  const m = dutReport.memory!;
  checks.push({
    name: 'RAM back to post-boot baseline after timers expire and the interface is deconfigured',
    pass: m.leakBytes === 0 && dut.stack.skbs.live === 0,
    detail: `live kernel objects ${m.baselineObjectBytes} B after boot, ${m.finalObjectBytes} B at the end (heap pages ${m.baselineUsedBytes} → ${m.finalUsedBytes} B); live skbs ${dut.stack.skbs.live}, sockets ${dut.stack.sockets.live}`,
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
    verdict,
  };
  const files = capture.finish(world.sim.now);
  timeline.finish();
  traceWriter.close();
  return {
    exitCode: verdict === 'pass' ? 0 : 1,
    report,
    capture: files.pcapng,
    pcap: files.pcap,
    trace,
    traceBytes: memorySink?.bytes(),
    timelineSamples: timeline.samples,
    events: world.sim.eventsRun,
  };
}

function boardReport(b: BootedBoard, config: BoardConfig, imageBytes: number, elapsedNs: number): BoardReport {
  const ram = b.board.ram;
  const usage = ram.usage();
  const caches = ram.slabinfo().map((c) => ({ name: c.name, objectSize: c.objectSize, active: c.active, peakActive: c.peakActive, totalObjects: c.totalObjects, pages: c.pages, peakPages: c.peakPages, failures: c.failures }));
  const st = b.stack;
  const snmp = st.has('PROC_FS') ? st.mib.snapshot() : null;
  return {
    role: b.role,
    board: { name: config.name, ramBytes: config.ramBytes, flashBytes: config.flashBytes, kernelCore: config.kernelCore, executeInPlace: config.executeInPlace, linkSpeedMbps: config.mac.linkSpeedMbps, cpuClockHz: config.cpu.clockHz },
    profile: { name: b.image.profile, enabled: [...b.config.enabled] },
    image: { bytes: imageBytes, flashBytes: config.flashBytes, sections: b.image.sections.map((s) => ({ name: s.name, kind: s.kind, bytes: s.length })) },
    memory: {
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
          memAllocatedPeakBytes: st.tcp.memAllocatedPeak,
          memoryPressureEntered: st.tcp.pressureEpisodes > 0,
          dropReasons: { ...st.tcp.dropReasons },
        }
      : null,
    cpu: { cyclesUsed: b.board.cpu.cyclesUsed, utilisation: elapsedNs > 0 ? b.board.cpu.cyclesUsed / ((elapsedNs / 1e9) * config.cpu.clockHz) : 0 },
  };
}

function prefixKeys(o: object, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) out[prefix + k] = v as number;
  return out;
}

export { formatBytes };
export type { CostTable };
