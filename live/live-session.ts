/**
 * `quarklab live`: one board on a real network. The board boots as in `run`, its MAC is
 * joined to a VXLAN tunnel over a host UDP socket, and virtual time follows the wall clock, so
 * real hosts (ping, curl, iperf3) talk to its stack. The capture and report are written as
 * `run` writes them; the report adds how far the emulator ever fell behind the wall clock.
 *
 * This is the one place (with the pacer) where host time and host sockets meet the board: the
 * emulator, stack and programs run unchanged and clock-free.
 */
import { createSocket, type Socket } from 'node:dgram';
import { DhcpClient, type DhcpLease } from '../apps/dhcp-client.js';
import { HttpServer } from '../apps/http-server.js';
import { Iperf3Server } from '../apps/iperf3.js';
import type { Program, ProgramContext } from '../apps/program.js';
import { UdpEchoServer } from '../apps/udp-echo.js';
import { World } from '../emulator/world.js';
import { socketTable } from '../scenarios/socket-table.js';
import { ipToString } from '../stack/core/addr.js';
import { inetAddAddress, inetAddRoute } from '../stack/ipv4/devinet.js';
import { bootBoard, programReservations } from '../scenarios/boot.js';
import { buildFirmware } from '../scenarios/firmware.js';
import { resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { Process, type TraceLine } from '../scenarios/process.js';
import { boardReport, QUARKLAB_VERSION } from '../scenarios/run.js';
import { Capture } from '../traces/capture.js';
import { REPORT_SCHEMA_ID, type CheckReport, type Report } from '../traces/report.js';
import { VxlanPort, type TunnelEnd } from './vxlan-port.js';
import { WallClockPacer } from './wall-clock-pacer.js';

export const LIVE_SERVICES = ['http', 'echo', 'iperf3'] as const;
export type LiveService = (typeof LIVE_SERVICES)[number];

export interface LiveOptions {
  board: string;
  profile: string;
  costTablePath?: string;
  seed: number;
  cpu: boolean;
  local: TunnelEnd;
  remote: TunnelEnd;
  vni: number;
  /** Static address and prefix; DHCP when absent. */
  address: { addr: number; prefixLen: number } | null;
  gateway: number | null;
  serve: LiveService[];
  /** Wall seconds to run; until SIGINT/SIGTERM when null. */
  durationSeconds: number | null;
  /** Print a line (progress) as the session runs. */
  say: (line: string) => void;
}

export interface LiveOutcome {
  exitCode: 0 | 1 | 2;
  error?: string;
  report?: Report;
  capture?: Uint8Array;
  trace: TraceLine[];
}

/**
 * The services named by --serve run in one board process, as a small firmware's network task
 * (or busybox inetd) would: one program's RAM reservation for all of them. On quark-2m with
 * the minimal profile three separate processes would leave the heap only 16 KiB above
 * vm.min_free_kbytes, and TCP's sends would stall waiting for memory.
 */
class ServiceHost implements Program {
  readonly name = 'netd';
  exitCode: number | null = null;

  constructor(readonly services: Program[]) {}

  start(ctx: ProgramContext): void {
    for (const s of this.services) s.start(ctx);
  }
}

function bindSocket(local: TunnelEnd): Promise<Socket | { error: string }> {
  return new Promise((resolve) => {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    const onError = (e: NodeJS.ErrnoException): void => {
      socket.close();
      resolve({ error: `cannot bind the VXLAN socket to ${local.address}:${local.port} (${e.code ?? e.message})` });
    };
    socket.once('error', onError);
    socket.bind(local.port, local.address, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export async function live(opts: LiveOptions): Promise<LiveOutcome> {
  const trace: TraceLine[] = [];
  const bad = (error: string): LiveOutcome => ({ exitCode: 2, error, trace });
  const boardConfig = resolveBoard(opts.board);
  if ('error' in boardConfig) return bad(boardConfig.error);
  const table = resolveCostTable(opts.costTablePath);
  if ('error' in table) return bad(table.error);
  const profile = resolveProfile(opts.profile);
  if ('error' in profile) return bad(profile.error);
  const fw = buildFirmware(boardConfig, profile, table);
  if ('error' in fw) return bad(fw.error);

  const programs = [...(opts.address ? [] : ['udhcpc']), ...(opts.serve.length > 0 ? ['netd'] : [])];
  const world = new World(opts.seed, opts.cpu);
  const dut = bootBoard(world, 'dut', boardConfig, fw.image, table, programReservations(boardConfig, programs));
  if ('error' in dut) return dut.kind === 'input' ? bad(dut.error) : { exitCode: 1, error: dut.error, trace };

  const socket = await bindSocket(opts.local);
  if ('error' in socket) return bad(socket.error);

  // Capture timestamps are wall-clock time: virtual zero is the moment the session starts.
  const epochNs = BigInt(Date.now()) * 1_000_000n;
  const capture = new Capture(epochNs, {});
  capture.attach(dut.board.mac, `board ${boardConfig.name} (live), profile ${profile.name}, VXLAN ${opts.vni} to ${opts.remote.address}:${opts.remote.port}`);
  const port = new VxlanPort(world.sim, dut.board.mac, socket, opts.remote, opts.vni);
  const pacer = new WallClockPacer(world.sim, () => port.takeArrived());
  socket.on('message', (msg) => {
    if (port.enqueue(msg)) pacer.poke();
  });

  const processes: Process[] = [];
  const spawn = (program: Program): void => {
    const p = new Process('dut', program, dut.stack, world.sim, trace);
    processes.push(p);
    p.start();
  };
  let lease: DhcpLease | null = null;
  let dhcp: DhcpClient | null = null;
  if (opts.address) {
    inetAddAddress(dut.stack, dut.dev.ifindex, opts.address.addr, opts.address.prefixLen);
    if (opts.gateway !== null) inetAddRoute(dut.stack, 0, 0, opts.gateway, dut.dev.ifindex);
    opts.say(`board ${ipToString(opts.address.addr)}/${opts.address.prefixLen} on VXLAN ${opts.vni} via ${opts.local.address}:${opts.local.port} → ${opts.remote.address}:${opts.remote.port}`);
  } else {
    dhcp = new DhcpClient({
      ifname: dut.dev.name,
      hostname: 'quarklab',
      seed: opts.seed,
      onLease: (l, how) => {
        lease = l;
        opts.say(`DHCP ${how}: ${ipToString(l.address)}/${l.prefixLen}`);
      },
    });
    spawn(dhcp);
  }
  const http = opts.serve.includes('http') ? new HttpServer() : null;
  const echo = opts.serve.includes('echo') ? new UdpEchoServer() : null;
  const iperf3 = opts.serve.includes('iperf3') ? new Iperf3Server() : null;
  const services = [http, echo, iperf3].filter((p): p is HttpServer | UdpEchoServer | Iperf3Server => p !== null);
  if (services.length > 0) spawn(new ServiceHost(services));
  opts.say(`serving ${opts.serve.join(', ') || 'nothing'}${opts.durationSeconds !== null ? ` for ${opts.durationSeconds} s` : ''}; Ctrl-C ends the session`);

  await new Promise<void>((resolve) => {
    const end = (): void => pacer.stop();
    const timer = opts.durationSeconds !== null ? setTimeout(end, opts.durationSeconds * 1000) : null;
    process.once('SIGINT', end);
    process.once('SIGTERM', end);
    pacer.start(() => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', end);
      process.off('SIGTERM', end);
      resolve();
    });
  });
  socket.close();
  const wallNs = pacer.elapsedNs();
  const virtualNs = world.sim.now;
  // A program that exited by itself before the end failed (a fatal error: no socket, no port).
  const exitedEarly = processes.filter((p) => p.program.exitCode !== null && p.program.exitCode !== 0).map((p) => `${p.program.name} exited with ${p.program.exitCode}`);
  // The report's socket table: ss on the board before its programs exit, as in a run.
  const sockets = socketTable(dut, world.sim, trace);
  for (const p of processes) p.exit(p.program.exitCode ?? 0);

  const checks: CheckReport[] = [
    { name: 'board programs ran to the end of the session', pass: exitedEarly.length === 0, detail: exitedEarly.length === 0 ? processes.map((p) => p.program.name).join(', ') || 'none' : exitedEarly.join('; ') },
  ];
  if (dhcp) checks.push({ name: 'DHCP lease obtained', pass: lease !== null, detail: lease ? `${ipToString((lease as DhcpLease).address)}/${(lease as DhcpLease).prefixLen}` : 'no lease' });
  // What went wrong on single connections (a client that went away, a test a client aborted) is
  // a figure, not a failure of the board.
  const programErrors: Record<string, string[]> = {};
  for (const p of [dhcp, ...services]) if (p) programErrors[p.name] = errorsOf(p);

  const lag = pacer.lag;
  const figures: Record<string, unknown> = {
    live: {
      wallNs,
      virtualNs,
      lag,
      vxlan: { vni: opts.vni, local: `${opts.local.address}:${opts.local.port}`, remote: `${opts.remote.address}:${opts.remote.port}`, ...port.stats },
      address: opts.address ? `${ipToString(opts.address.addr)}/${opts.address.prefixLen}` : lease ? `${ipToString((lease as DhcpLease).address)}/${(lease as DhcpLease).prefixLen}` : null,
    },
    programErrors,
    http: http ? { ...http.stats } : null,
    echo: echo ? { ...echo.result } : null,
    iperf3: iperf3
      ? iperf3.stats.tests.map((t) => {
          const secs = (t.endNs - t.startNs) / 1e9;
          return { reverse: t.params.reverse, time: t.params.time, parallel: t.params.parallel, bytes: t.bytes, virtualSeconds: secs, bitsPerSecond: secs > 0 ? (t.bytes * 8) / secs : null };
        })
      : null,
  };
  const dutReport = boardReport(dut, boardConfig, fw.image.length, virtualNs, sockets);
  const verdict = checks.every((c) => c.pass) ? 'pass' : 'fail';
  const report: Report = {
    $schema: REPORT_SCHEMA_ID,
    quarklab: QUARKLAB_VERSION,
    inputs: { board: boardConfig.name, profile: profile.name, scenario: 'live', seed: opts.seed, cpu: opts.cpu, epochNs: epochNs.toString(), costTable: opts.costTablePath ?? 'calibration/linux-6.1-i386.json' },
    virtualTimeNs: virtualNs,
    boards: [dutReport],
    wire: null,
    scenario: { name: 'live', description: `the board on VXLAN ${opts.vni} at wall-clock pace, serving ${opts.serve.join(', ') || 'nothing'}`, figures },
    checks,
    budgets: [],
    notes: [`live: virtual time follows the host's monotonic clock; the emulator fell behind by at most ${(lag.maxLagNs / 1e6).toFixed(2)} ms (mean ${(lag.meanLagNs / 1e6).toFixed(3)} ms; ${lag.ticksBehind1ms} of ${lag.ticks} ticks more than 1 ms behind, ${lag.ticksBehind10ms} more than 10 ms; busy ${(lag.busyShare * 100).toFixed(0)}% of the wall time, ${lag.cpuSeconds.toFixed(2)} CPU s over ${(wallNs / 1e9).toFixed(2)} s)`],
    stalls: [],
    verdict,
  };
  const files = capture.finish(virtualNs);
  return { exitCode: verdict === 'pass' ? 0 : 1, report, capture: files.pcapng, trace };
}

function errorsOf(p: Program): string[] {
  if (p instanceof HttpServer) return p.stats.errors;
  if (p instanceof Iperf3Server) return p.stats.errors;
  if (p instanceof UdpEchoServer) return p.result.error ? [p.result.error] : [];
  if (p instanceof DhcpClient) return p.result.error ? [p.result.error] : [];
  return [];
}
