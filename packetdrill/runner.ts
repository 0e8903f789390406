/**
 * Playing a script against a board: boot the board and profile, give it the local address,
 * put the remote end (injector.ts) on its MAC, apply the preamble's sysctls, then walk the
 * events in virtual time — inject inbound segments at their time, run system calls through
 * the board program, wait for and match outbound segments, check times and tcp_info asserts.
 * The CPU model is off: the board answers in the same virtual instant, so times are exact and
 * a tolerance of 0 is meaningful. The first difference ends the script, as in packetdrill.
 */
import { World } from '../emulator/world.js';
import { bootBoard, programReservations } from '../scenarios/boot.js';
import { cachedFirmware } from '../scenarios/firmware.js';
import { resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { Process, type TraceLine } from '../scenarios/process.js';
import { inetAddAddress, inetAddRoute } from '../stack/ipv4/devinet.js';
import { setTcpSysctl } from '../stack/ipv4/tcp-sysctl.js';
import { Capture, DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { buildInbound, RemotePort, REMOTE_MAC, type Flow, type SeqMap } from './injector.js';
import { actualText, matchOutbound, readSegment, runLength, type ActualSegment } from './matcher.js';
import { readPreamble } from './preamble.js';
import type { Expr, Script, ScriptEvent, SyscallSpec, TimeSpec } from './script.js';
import { ScriptProgram, tcpInfoField, type CallOutcome } from './syscall-program.js';
import { packetText } from './tcp-options.js';
import { checkTiming, secs } from './timing.js';
import { errnoName } from '../stack/uapi/errno.js';

/** packetdrill's addresses: the local end in 192.168.0.0/16, the remote in TEST-NET-1. */
export const LOCAL_IP = 0xc0a80002; // 192.168.0.2
/** The TUN's gateway, as packetdrill configures it; the remote is reached through it. */
export const GATEWAY_IP = 0xc0a80001; // 192.168.0.1
export const REMOTE_IP = 0xc0000201; // 192.0.2.1
export const BIND_PORT = 8080;
export const CONNECT_PORT = 8080;
/** The remote's port for connections it opens (packetdrill picks one; any fixed one will do). */
export const REMOTE_PORT = 48211;

export interface RunOptions {
  board: string;
  profile: string;
  toleranceUsecs: number;
  /** --sysctl NAME=VALUE settings, applied before the script's own. */
  sysctls: Array<{ name: string; value: string }>;
}

export interface ScriptResult {
  path: string;
  status: 'pass' | 'fail' | 'unsupported';
  /** Script line of the failure or the unsupported construct. */
  line?: number;
  /** packetdrill-style lines describing a failure or what is unsupported. */
  message?: string;
  /** Defaults-script lines not applied. */
  ignored: string[];
  capture: Uint8Array | null;
  virtualUsecs: number;
}

class Stop extends Error {
  constructor(
    readonly status: 'fail' | 'unsupported',
    readonly line: number,
    readonly text: string,
  ) {
    super(text);
  }
}

const MAX_WAIT_NS = 600e9;

export function runScript(script: Script, opts: RunOptions): ScriptResult {
  const base = { path: script.path, ignored: [] as string[], capture: null, virtualUsecs: 0 };
  const unsupported = (line: number, what: string): ScriptResult => ({ ...base, status: 'unsupported', line, message: `${script.path}:${line}: unsupported: ${what}` });
  if (script.unsupported.length > 0) return unsupported(script.unsupported[0]!.line, script.unsupported[0]!.what);
  const pre = readPreamble(script.path, script.shell);
  base.ignored = pre.ignored;
  if (pre.unsupported.length > 0) return unsupported(pre.unsupported[0]!.line, pre.unsupported[0]!.what);

  const table = resolveCostTable();
  if ('error' in table) throw new Error(table.error);
  const board = resolveBoard(opts.board);
  if ('error' in board) throw new Error(board.error);
  const profile = resolveProfile(opts.profile);
  const fw = 'error' in profile ? profile : cachedFirmware(board, profile, table);
  if ('error' in fw) throw new Error(fw.error);
  const world = new World(1, false);
  const dut = bootBoard(world, 'dut', board, fw.image, table, programReservations(board, ['packetdrill']));
  if ('error' in dut) throw new Error(dut.error);
  // packetdrill runs against a tun device, which never calls netdev_tx_sent_queue: no byte
  // queue limits, so segments leave in the instant TCP sends them, as the scripts expect.
  dut.dev.bql = false;
  for (const r of script.requires) {
    if (!dut.stack.env.config.has(r.symbol)) return unsupported(r.line, `profile ${opts.profile} has no CONFIG_${r.symbol}`);
  }
  const tcp = dut.stack.tcp;
  if (!tcp) return unsupported(1, `profile ${opts.profile} has no TCP`);
  for (const s of [...opts.sysctls.map((x) => ({ ...x, where: '--sysctl', fromDefaults: false })), ...pre.sysctls]) {
    const r = setTcpSysctl(tcp.sysctl, s.name, s.value);
    if (r === 'ok') continue;
    if (r === 'unknown' && s.fromDefaults) {
      base.ignored.push(`${s.where}: sysctl ${s.name}=${s.value} (not a sysctl the board has)`);
      continue;
    }
    const line = Number(/:(\d+)$/.exec(s.where)?.[1] ?? 0);
    const why = r === 'bad-value' ? `bad value for sysctl ${s.name}: ${s.value}` : r === 'unknown' ? `sysctl ${s.name} (not modelled)` : `sysctl ${s.name}=${s.value} (the board only does ${s.name}'s other setting)`;
    if (s.where === '--sysctl') throw new Error(why);
    return unsupported(line, `${why} (${s.where})`);
  }

  const capture = new Capture(DEFAULT_EPOCH_NS, { comment: `quarklab packetdrill ${script.path} on ${opts.board} ${opts.profile}` });
  capture.attach(dut.board.mac, `board ${board.name} (dut), profile ${opts.profile}; remote end played by the script`);
  const port = new RemotePort(world.sim, dut.board.mac, GATEWAY_IP);
  inetAddAddress(dut.stack, dut.dev.ifindex, LOCAL_IP, 16);
  inetAddRoute(dut.stack, 0, 0, GATEWAY_IP, dut.dev.ifindex);
  dut.stack.neigh.update(GATEWAY_IP, dut.dev.ifindex, REMOTE_MAC, true, true);
  world.sim.run(world.sim.now + 1_000_000);
  port.sent.length = 0;

  const program = new ScriptProgram({ localIp: LOCAL_IP, remoteIp: REMOTE_IP, bindPort: BIND_PORT, connectPort: CONNECT_PORT });
  const trace: TraceLine[] = [];
  const proc = new Process('dut', program, dut.stack, world.sim, trace);
  proc.start();

  const player = new Player(script, opts, world, port, program, dut.board.mac.address);
  let result: ScriptResult;
  try {
    player.play();
    result = { ...base, status: 'pass' };
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    result = { ...base, status: e.status, line: e.line, message: e.status === 'unsupported' ? `${script.path}:${e.line}: unsupported: ${e.text}` : `${script.path}:${e.line}: ${e.text}` };
  }
  result.virtualUsecs = Math.round((world.sim.now - player.epoch) / 1000);
  proc.exit(0);
  result.capture = capture.finish(world.sim.now).pcapng;
  world.dispose();
  return result;
}

class Player {
  readonly epoch: number;
  private readonly flow: Flow = { localIp: LOCAL_IP, remoteIp: REMOTE_IP, localPort: BIND_PORT, remotePort: REMOTE_PORT };
  private readonly map: SeqMap = { localIsn: null, tsValDelta: 0 };
  /** Script time (µs) of the previous event, the base of relative times. */
  private last = 0;
  private consumed = 0;
  private pending: { event: Extract<ScriptEvent, { kind: 'syscall' }>; startUsecs: number; endUsecs: number; done: { outcome: CallOutcome; at: number } | null } | null = null;

  constructor(
    private readonly script: Script,
    private readonly opts: RunOptions,
    private readonly world: World,
    private readonly port: RemotePort,
    private readonly program: ScriptProgram,
    private readonly boardMac: Uint8Array,
  ) {
    this.epoch = world.sim.now;
    program.onComplete = (outcome) => {
      if (this.pending) this.pending.done = { outcome, at: this.world.sim.now };
    };
  }

  private get nowUsecs(): number {
    return Math.round((this.world.sim.now - this.epoch) / 1000);
  }

  private runUntilUsecs(usecs: number, stop?: () => boolean): void {
    this.world.sim.run(this.epoch + usecs * 1000, stop);
  }

  private start(t: TimeSpec): number {
    if (t.kind === 'any') return this.nowUsecs;
    return t.kind === 'relative' ? this.last + t.usecs : t.usecs;
  }

  private end(t: TimeSpec, start: number): number {
    if (t.rangeEndUsecs === undefined) return start;
    return t.kind === 'relative' ? this.last + t.rangeEndUsecs : t.rangeEndUsecs;
  }

  play(): void {
    for (const ev of this.script.events) {
      this.settlePending(ev.line, false);
      const start = this.start(ev.time);
      const end = this.end(ev.time, start);
      if (ev.kind === 'packet' && ev.packet.direction === '>') {
        this.outbound(ev, start, end);
        continue;
      }
      if (ev.time.kind !== 'any' && start > this.nowUsecs) this.runUntilUsecs(start);
      this.last = ev.time.kind === 'any' ? this.nowUsecs : start;
      if (ev.kind === 'packet') this.inbound(ev);
      else if (ev.kind === 'syscall') this.syscall(ev, start);
      else this.asserts(ev);
    }
    this.settlePending(this.script.events[this.script.events.length - 1]?.line ?? 1, true);
  }

  private inbound(ev: Extract<ScriptEvent, { kind: 'packet' }>): void {
    if (ev.packet.flags.includes('S') && !ev.packet.flags.includes('.')) {
      // The remote opens a connection to the listener.
      this.flow.localPort = BIND_PORT;
      this.flow.remotePort = REMOTE_PORT;
    }
    const frame = buildInbound(ev.packet, this.flow, this.map, this.boardMac);
    if (!(frame instanceof Uint8Array)) throw new Stop('fail', ev.line, `error handling packet: ${frame.error}`);
    this.port.inject(frame);
    // Let the board finish with it before the next event (same instant).
    this.world.sim.run(this.world.sim.now);
  }

  private queued(): ActualSegment[] | string {
    const out: ActualSegment[] = [];
    for (let i = this.consumed; i < this.port.sent.length; i++) {
      const s = readSegment(this.port.sent[i]!);
      if (typeof s === 'string') return s;
      out.push(s);
    }
    return out;
  }

  private outbound(ev: Extract<ScriptEvent, { kind: 'packet' }>, start: number, end: number): void {
    const p = ev.packet;
    const deadline = ev.time.kind === 'any' ? this.nowUsecs + MAX_WAIT_NS / 1000 : end + this.opts.toleranceUsecs;
    if (this.port.sent.length <= this.consumed) this.runUntilUsecs(Math.max(deadline, this.nowUsecs), () => this.port.sent.length > this.consumed);
    if (this.port.sent.length <= this.consumed) {
      throw new Stop('fail', ev.line, `error handling packet: timed out waiting for packet\nscript packet:  ${secs(start)} ${packetText(p)}`);
    }
    // Whatever else the board sends in the same instant belongs to a possible TSO run.
    this.world.sim.run(this.world.sim.now);
    const q = this.queued();
    if (typeof q === 'string') throw new Stop('fail', ev.line, `error handling packet: ${q}`);
    const n = runLength(p, q);
    const segs = q.slice(0, n);
    this.consumed += n;
    const at = Math.round((segs[0]!.time - this.epoch) / 1000);
    const mismatch = matchOutbound(p, segs, this.map, this.flow);
    const scriptLine = `script packet:  ${secs(start)} ${packetText(p)}`;
    const actualLine = `actual packet:  ${actualText(segs, this.map, secs(at))}`;
    if (mismatch) throw new Stop('fail', ev.line, `error handling packet: ${mismatch}\n${scriptLine}\n${actualLine}`);
    if (ev.time.kind !== 'any') {
      const late = checkTiming('outbound packet', start, end, at, this.opts.toleranceUsecs);
      if (late) throw new Stop('fail', ev.line, `error handling packet: ${late}\n${scriptLine}\n${actualLine}`);
    }
    this.last = at;
  }

  private syscall(ev: Extract<ScriptEvent, { kind: 'syscall' }>, start: number): void {
    const o = this.program.invoke(ev.call);
    if ('blocked' in o) {
      const b = ev.time.blockEnd;
      const endUsecs = b ? (b.kind === 'relative' ? start + b.usecs : b.usecs) : start;
      this.pending = { event: ev, startUsecs: start, endUsecs, done: null };
      return;
    }
    if (ev.time.blockEnd) {
      const endUsecs = ev.time.blockEnd.kind === 'relative' ? start + ev.time.blockEnd.usecs : ev.time.blockEnd.usecs;
      const late = checkTiming('system call return', endUsecs, endUsecs, this.nowUsecs, this.opts.toleranceUsecs);
      if (late) throw new Stop('fail', ev.line, late);
    }
    this.checkOutcome(ev.line, ev.call, o);
  }

  /** A blocked call: wait for it (before the next system call, or at the end) and check it. */
  private settlePending(line: number, atEnd: boolean): void {
    const p = this.pending;
    if (!p) return;
    const next = this.script.events.find((e) => e.line === line);
    const mustFinish = atEnd || next?.kind === 'syscall';
    if (!p.done && !mustFinish) return;
    if (!p.done) this.runUntilUsecs(Math.max(this.nowUsecs, p.endUsecs + this.opts.toleranceUsecs), () => p.done !== null);
    if (!p.done) throw new Stop('fail', p.event.line, `runtime error in ${p.event.call.name} call: still blocked at ${secs(this.nowUsecs)} sec (expected to return at ${secs(p.endUsecs)} sec)`);
    this.pending = null;
    const at = Math.round((p.done.at - this.epoch) / 1000);
    const late = checkTiming('system call return', p.endUsecs, p.endUsecs, at, this.opts.toleranceUsecs);
    if (late) throw new Stop('fail', p.event.line, late);
    this.checkOutcome(p.event.line, p.event.call, p.done.outcome);
  }

  private checkOutcome(line: number, call: SyscallSpec, o: CallOutcome): void {
    if ('unsupported' in o) throw new Stop('unsupported', line, o.unsupported);
    if ('error' in o) throw new Stop('fail', line, `runtime error in ${call.name} call: ${o.error}`);
    if ('blocked' in o) return;
    const got = o.ret < 0 ? `-1 with errno ${-o.ret} (${errnoName(o.ret)})` : String(o.ret);
    if (!resultMatches(call.result, call.errno, o.ret)) throw new Stop('fail', line, `runtime error in ${call.name} call: Expected result ${resultText(call.result, call.errno)} but got ${got}`);
    if (o.check) throw new Stop('fail', line, `runtime error in ${call.name} call: ${o.check}`);
  }

  private asserts(ev: Extract<ScriptEvent, { kind: 'assert' }>): void {
    const fd = this.program.lastFd;
    const info = fd === null ? null : this.program.tcpInfo(fd);
    if (!info) throw new Stop('fail', ev.line, 'assertion: no TCP socket to read tcp_info from');
    for (const a of ev.asserts) {
      const v = tcpInfoField(info, a.field);
      if (v === undefined) throw new Stop('unsupported', ev.line, `tcp_info field ${a.field} (the stack does not keep it)`);
      const ok = a.op === '==' ? v === a.value : a.op === '!=' ? v !== a.value : a.op === '<' ? v < a.value : a.op === '<=' ? v <= a.value : a.op === '>' ? v > a.value : v >= a.value;
      if (!ok) throw new Stop('fail', ev.line, `assertion failed: ${a.text} (${a.field} is ${v})`);
    }
  }
}

function resultMatches(e: Expr, errno: string | undefined, ret: number): boolean {
  if (e.kind === 'ellipsis') return true;
  if (e.kind !== 'int') return false;
  if (e.value === -1) return ret < 0 && errnoName(ret) === errno;
  return ret === e.value;
}

function resultText(e: Expr, errno: string | undefined): string {
  if (e.kind === 'ellipsis') return '...';
  if (e.kind === 'int') return e.value === -1 ? `-1 (${errno})` : String(e.value);
  return '?';
}
