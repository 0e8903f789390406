/**
 * `quarklab fuzz`: mutated frames of every protocol the profile has, fed to a running board from
 * the lab host's MAC (so they take the real path: wire, MAC, RX ring, NAPI, the stack), with the
 * board's invariants checked after every batch:
 *
 *   - no exception escapes the stack;
 *   - RAM in use (boot reservations + the heap's peak) never exceeds the board's RAM;
 *   - the board still answers ping and accepts a TCP connection;
 *   - at the end, once traffic stops and timers expire, live kernel objects are back to the
 *     baseline taken before the first frame.
 *
 * Everything is seeded: the same board, profile, seed and frame count give the same frames and
 * the same verdict, so a failure is replayed from its case file (board, profile, seed, frames).
 */
import type { BoardConfig } from '../emulator/board-config.js';
import { NS_PER_MS, NS_PER_SEC, NS_PER_US } from '../emulator/event-queue.js';
import { Prng } from '../emulator/prng.js';
import { World } from '../emulator/world.js';
import { bootBoard, liveObjectBytes, type BootedBoard } from '../scenarios/boot.js';
import { buildFirmware } from '../scenarios/firmware.js';
import { LAB_BOARD, LAB_PROFILE, resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { allocSkb } from '../stack/core/skbuff.js';
import { inetAddAddress, inetAddRoute, inetFlushInterface } from '../stack/ipv4/devinet.js';
import type { TcpSock } from '../stack/ipv4/tcp-sock.js';
import { Syscalls } from '../stack/socket/syscalls.js';
import { ethFrame, seedFrames, type Endpoints, type LiveTcp, type SeedFrame } from './frames.js';
import { mutate } from './mutate.js';
import { ETH_P_ARP } from '../stack/uapi/if-ether.js';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../stack/uapi/socket.js';
import { armFailAlloc, failAllocReport, resolveFailAlloc } from '../scenarios/fail-alloc.js';
import type { FaultsReport } from '../traces/report.js';

export const LAB_IP = 0xc0000201; // 192.0.2.1
export const DUT_IP = 0xc0000202; // 192.0.2.2
const PORTS = { tcpListen: 80, udpEcho: 7, dhcpClient: 68, dns: 5353 };
/** Gap between fuzzed frames: about a full-size frame's time at 100 Mbit/s, so the RX ring keeps up. */
const FRAME_GAP_NS = 130 * NS_PER_US;
/** Quiet time before the final baseline check: reassembly (30 s), TIME_WAIT (60 s), neighbours. */
const QUIESCE_NS = 200 * NS_PER_SEC;
/** What a Linux client's connect() waits with tcp_syn_retries 6: SYNs at 0, 1, 3, 7, 15, 31, 63 s, given up at 127 s. */
const CONNECT_LIMIT_NS = 127 * NS_PER_SEC;

export interface FuzzOptions {
  board: string;
  profile: string;
  frames: number;
  seed: number;
  batch?: number;
  costTablePath?: string;
  /**
   * failslab-style injection on the board (`prob=P|nth=N[,site=NAME][,times=T]`), armed while
   * fuzzed frames are fed and drained; the ping and connect probes run with it off, so they test
   * that the board recovered from the failures, not that the probes themselves failed.
   */
  failAlloc?: string;
  /** Called after each batch's checks, for progress. */
  progress?: (framesDone: number) => void;
}

export interface FuzzFailure {
  /** Which invariant broke, in a sentence with the numbers. */
  problem: string;
  /** Batch index (0-based) and the frames (hex) of that batch, for reading; replay reruns the seed. */
  batch: number;
  frames: string[];
}

export interface FuzzResult {
  board: string;
  profile: string;
  seed: number;
  frames: number;
  batch: number;
  /** Frames per protocol seed family. */
  byProtocol: Record<string, number>;
  virtualNs: number;
  peakRamBytes: number;
  ramBytes: number;
  /** The longest a TCP connect after a batch took, and how many took over 1 s (SYN retransmitted). */
  slowestConnectNs: number;
  slowConnects: number;
  /** Heap pages in the board's page allocator, for reading peakRamBytes against. */
  heapBytes: number;
  /** With failAlloc: the allocations made to fail, by site. */
  failAlloc: NonNullable<FaultsReport['failAlloc']> | null;
  failure: FuzzFailure | null;
}

interface Lab {
  world: World;
  dut: BootedBoard;
  lab: BootedBoard;
  dutSys: Syscalls;
  labSys: Syscalls;
  endpoints: Endpoints;
  listenFd: number;
  udpFds: number[];
}

/** A one-line problem with the inputs, or the booted pair. */
function setUp(opts: FuzzOptions): Lab | { error: string } {
  const table = resolveCostTable(opts.costTablePath);
  if ('error' in table) return table;
  const board = resolveBoard(opts.board);
  if ('error' in board) return board;
  const labBoard = resolveBoard(LAB_BOARD) as BoardConfig;
  const profile = resolveProfile(opts.profile);
  if ('error' in profile) return profile;
  const fw = buildFirmware(board, profile, table);
  if ('error' in fw) return fw;
  const labProfile = resolveProfile(LAB_PROFILE);
  if ('error' in labProfile) return labProfile;
  const labFw = buildFirmware(labBoard, labProfile, table);
  if ('error' in labFw) return labFw;
  const world = new World(opts.seed, true);
  const lab = bootBoard(world, 'lab', labBoard, labFw.image, table, []);
  if ('error' in lab) return { error: `lab host: ${lab.error}` };
  const dut = bootBoard(world, 'dut', board, fw.image, table, []);
  if ('error' in dut) return { error: `profile ${profile.name} on ${board.name}: ${dut.error}` };
  world.connect(dut.board, lab.board, NS_PER_US);
  inetAddAddress(lab.stack, lab.dev.ifindex, LAB_IP, 24);
  inetAddAddress(dut.stack, dut.dev.ifindex, DUT_IP, 24);
  inetAddRoute(dut.stack, 0, 0, LAB_IP, dut.dev.ifindex);
  const dutSys = new Syscalls(dut.stack);
  const labSys = new Syscalls(lab.stack);
  const listenFd = dutSys.socket(AF_INET, SOCK_STREAM, 0);
  dutSys.bind(listenFd, { addr: 0, port: PORTS.tcpListen });
  dutSys.listen(listenFd, 8);
  const udpFds = [PORTS.udpEcho, PORTS.dhcpClient, PORTS.dns].map((port) => {
    const fd = dutSys.socket(AF_INET, SOCK_DGRAM, 0);
    dutSys.bind(fd, { addr: 0, port });
    return fd;
  });
  world.sim.run(world.sim.now + NS_PER_MS);
  return { world, dut, lab, dutSys, labSys, endpoints: { dutMac: dut.dev.hwAddr, labMac: lab.dev.hwAddr, dutIp: DUT_IP, labIp: LAB_IP }, listenFd, udpFds };
}

function settle(l: Lab, ns: number): void {
  l.world.sim.run(l.world.sim.now + ns);
}

/** Send a whole frame out of the lab host's MAC; false if the lab host had no skb for it. */
function inject(l: Lab, frame: Uint8Array): boolean {
  const skb = allocSkb(l.lab.stack.skbs, Math.max(frame.length, 64));
  if (!skb) return false;
  skb.bytes.set(frame, skb.put(frame.length));
  l.lab.stack.xmit(l.lab.dev, skb);
  return true;
}

/** The lab's TCP sock behind a descriptor (the fuzzer reads its sequence numbers to aim segments). */
function labSock(l: Lab, fd: number): TcpSock | undefined {
  return (l.labSys as unknown as { streams: Map<number, TcpSock> }).streams.get(fd);
}

/**
 * Connect lab → board:80 and send a one-byte request, as an HTTP client speaks first; the check
 * is that the board accepts the connection and reads the byte. Sending first matters under SYN
 * cookies: when the listener's SYN queue is full (fuzzed SYNs hold request socks for their 63 s
 * of SYN-ACK retries) the board answers with a cookie and keeps no state, so if the handshake's
 * last ACK is dropped (no memory for the child socket) nothing is retransmitted by the board,
 * and a client that waits for the server would wait for ever, on Linux too. The request
 * carries the ACK again, is retransmitted on RTO, and completes the cookie handshake
 * (cookie_v4_check on the data segment) once memory is back. A heap filled by fuzzed fragments
 * (ipfrag_high_thresh is 4 MiB, more than the board's heap) stays full until the reassembly
 * timer (30 s) frees it, and Linux behaves the same; the wait allowed is what a Linux client's
 * connect() allows for SYN retries, CONNECT_LIMIT_NS. Null when it does not complete in time.
 */
function tcpConnect(l: Lab): { labFd: number; dutFd: number; tookNs: number } | null {
  // The fuzzer spoofs the lab host's own address, so the board echoes forged TSvals to the lab's
  // real connection and its RTT samples (days long; Linux's tcp_rtt_tsopt_us accepts up to
  // 24 days) reach the lab's metrics cache, seeding the next connect's RTO at TCP_RTO_MAX. A
  // separate fuzzing host would not do that; the lab host forgets them as
  // `ip tcp_metrics flush` would.
  l.lab.stack.tcp?.metrics?.flush();
  const labFd = l.labSys.socket(AF_INET, SOCK_STREAM, 0);
  l.labSys.connect(labFd, { addr: DUT_IP, port: PORTS.tcpListen });
  const start = l.world.sim.now;
  let sent = false;
  let dutFd = -1;
  while (l.world.sim.now - start < CONNECT_LIMIT_NS) {
    settle(l, 10 * NS_PER_MS);
    if (!sent && labSock(l, labFd)?.state === 'ESTABLISHED') sent = l.labSys.send(labFd, REQUEST) === 1;
    // Connections the fuzzed SYNs and ACKs completed wait in the same accept queue: only the
    // probe's own (its source port) counts; the others are closed.
    // (Accept only while the probe's is not found: an accepted socket is never left unowned.)
    while (dutFd < 0) {
      const a = l.dutSys.accept(l.listenFd);
      if (typeof a === 'number') break;
      if (a.peer.addr === LAB_IP && a.peer.port === labSock(l, labFd)?.lport) dutFd = a.fd;
      else abortConnection(l, a.fd);
    }
    if (dutFd >= 0) {
      const r = l.dutSys.recv(dutFd, 1);
      if (typeof r !== 'number' && r.length === 1) return { labFd, dutFd, tookNs: l.world.sim.now - start };
    }
  }
  l.labSys.close(labFd);
  if (dutFd >= 0) abortConnection(l, dutFd);
  return null;
}

const REQUEST = new Uint8Array([0x47]); // 'G', the first byte of a GET

function drainAll(l: Lab, conn: { dutFd: number } | null): void {
  for (const fd of l.udpFds) while (typeof l.dutSys.recvfrom(fd) !== 'number');
  if (conn) {
    for (;;) {
      const r = l.dutSys.recv(conn.dutFd);
      if (typeof r === 'number' || r.length === 0) break; // nothing queued, or end of stream (a fuzzed FIN)
    }
  }
  for (;;) {
    const a = l.dutSys.accept(l.listenFd); // connections the fuzzed SYNs completed
    if (typeof a === 'number') break;
    abortConnection(l, a.fd);
  }
}

/**
 * The board drops each connection of a batch with a reset (SO_LINGER 0): the probe's own once
 * checked, and those fuzzed segments completed, which have no real peer. Closed with a FIN, one whose FIN
 * skb cannot be allocated while fuzzed fragments fill the heap would stay an orphan in
 * FIN_WAIT1 or CLOSING with no timer, as on Linux 6.1 (tcp_send_fin gives up silently when
 * alloc_skb_fclone fails), and the check that RAM returns to baseline could never pass.
 */
function abortConnection(l: Lab, fd: number): void {
  l.dutSys.setsockopt(fd, 'SO_LINGER', 0);
  l.dutSys.close(fd);
}

/**
 * Fuzzed ARP frames may have taught the board a wrong MAC for the lab host, as they would teach
 * Linux: the lab host then announces itself (a gratuitous ARP, after the neighbour lock time of
 * 1 s), as a host whose neighbours were misled would, before the board is asked to answer.
 */
function announceLab(l: Lab): void {
  settle(l, 1100 * NS_PER_MS);
  inject(l, ethFrame(l.endpoints, ETH_P_ARP, gratuitousArp(l.endpoints), BROADCAST));
  settle(l, 10 * NS_PER_MS);
}

const BROADCAST = new Uint8Array([255, 255, 255, 255, 255, 255]);

function gratuitousArp(e: Endpoints): Uint8Array {
  const b = new Uint8Array(28);
  b.set([0, 1, 8, 0, 6, 4, 0, 1], 0);
  b.set(e.labMac, 8);
  b.set([(e.labIp >>> 24) & 255, (e.labIp >>> 16) & 255, (e.labIp >>> 8) & 255, e.labIp & 255], 14);
  b.set(b.subarray(14, 18), 24);
  return b;
}

/** The board answers an echo request from the lab host within 100 ms. */
function answersPing(l: Lab): boolean {
  const before = l.dut.stack.mib.snapshot()['Icmp']?.['OutEchoReps'] ?? 0;
  const fd = l.labSys.socket(AF_INET, SOCK_DGRAM, 1 /* IPPROTO_ICMP: a ping socket */);
  if (fd < 0) return false;
  const echo = new Uint8Array(16);
  echo[0] = 8;
  l.labSys.sendto(fd, echo, { addr: DUT_IP, port: 0 });
  settle(l, 100 * NS_PER_MS);
  let got = false;
  while (typeof l.labSys.recvfrom(fd) !== 'number') got = true;
  l.labSys.close(fd);
  const after = l.dut.stack.mib.snapshot()['Icmp']?.['OutEchoReps'] ?? 0;
  return got && after > before;
}

/** What the board shows when a check fails: the cause, not only the symptom. */
function boardState(l: Lab): string {
  const ram = l.dut.board.ram;
  const u = ram.usage();
  const failures = ram.slabinfo().filter((c) => c.failures > 0).map((c) => `${c.name} ${c.failures}`);
  const snap = l.dut.stack.mib.snapshot();
  const moved = (group: string, keys: string[]): string[] => keys.filter((k) => (snap[group]?.[k] ?? 0) > 0).map((k) => `${k} ${snap[group]![k]}`);
  const tcp = [...moved('TcpExt', ['ListenDrops', 'ListenOverflows', 'TCPReqQFullDrop', 'TCPReqQFullDoCookies', 'SyncookiesRecv', 'SyncookiesFailed', 'TCPAbortOnMemory', 'TCPBacklogDrop']), ...moved('Ip', ['ReasmFails', 'ReasmTimeout', 'InDiscards'])];
  return [
    `heap in use ${u.usedBytes} of ${u.heapBytes} B`,
    `allocation failures ${failures.length > 0 ? failures.join(', ') : 'none'}${ram.pages.failures > 0 ? `, pages ${ram.pages.failures}` : ''}`,
    `throttled at min_free ${ram.pages.throttled}`,
    `live skbs ${l.dut.stack.skbs.live}`,
    `largest holders ${ram.ramKinds().filter((k) => k.heldBytes > 0).sort((a, b) => b.heldBytes - a.heldBytes).slice(0, 4).map((k) => `${k.name} ${k.heldBytes} B`).join(', ')}`,
    `TCP sockets ${l.dut.stack.tcp?.socketStates().slice(0, 6).join(', ') ?? 'none'}`,
    tcp.length > 0 ? tcp.join(', ') : 'no listen or reassembly drops',
  ].join('; ');
}

export function fuzz(opts: FuzzOptions): FuzzResult | { error: string } {
  const batch = opts.batch ?? 500;
  const spec = opts.failAlloc === undefined ? null : resolveFailAlloc(opts.failAlloc);
  if (spec !== null && 'error' in spec) return spec;
  const l = setUp(opts);
  if ('error' in l) return l;
  const failSlab = spec === null ? null : armFailAlloc(l.world, l.dut, spec);
  const arm = (on: boolean): void => l.dut.board.ram.injectFaults(on ? failSlab : null);
  arm(false);
  const rng = new Prng(opts.seed).split('fuzz');
  const ram = l.dut.board.ram;
  const ramBytes = ram.usage().totalBytes;
  const result: FuzzResult = { board: opts.board, profile: opts.profile, seed: opts.seed, frames: 0, batch, byProtocol: {}, virtualNs: 0, peakRamBytes: 0, ramBytes, slowestConnectNs: 0, slowConnects: 0, heapBytes: ram.usage().heapBytes, failAlloc: null, failure: null };
  const baseline = liveObjectBytes(ram);
  const activeAtStart = new Map(ram.slabinfo().map((c) => [c.name, c.active]));
  const batchFrames: Uint8Array[] = [];
  const fail = (problem: string, index: number): FuzzResult => {
    result.failure = { problem, batch: index, frames: batchFrames.map((f) => Buffer.from(f).toString('hex')) };
    result.virtualNs = l.world.sim.now;
    if (failSlab) result.failAlloc = failAllocReport(failSlab);
    return result;
  };
  let index = 0;
  while (result.frames < opts.frames) {
    const conn = tcpConnect(l);
    if (!conn) return fail(`batch ${index}: a TCP connection from the lab host to port ${PORTS.tcpListen} and its one-byte request did not complete in ${CONNECT_LIMIT_NS / NS_PER_SEC} s (${boardState(l)})`, index);
    result.slowestConnectNs = Math.max(result.slowestConnectNs, conn.tookNs);
    if (conn.tookNs > NS_PER_SEC) result.slowConnects++;
    const sk = labSock(l, conn.labFd);
    const live: LiveTcp | null = sk ? { labPort: sk.lport, dutPort: sk.rport, seq: sk.sndNxt, ack: sk.rcvNxt } : null;
    const seeds: SeedFrame[] = seedFrames(l.endpoints, PORTS, live);
    batchFrames.length = 0;
    const n = Math.min(batch, opts.frames - result.frames);
    arm(true);
    try {
      // The batch is laid out on the virtual clock, one frame every FRAME_GAP_NS, and run at once.
      let starved = false;
      const t0 = l.world.sim.now;
      for (let i = 0; i < n; i++) {
        const s = seeds[rng.nextInt(seeds.length)]!;
        const frame = mutate(s.frame, rng);
        batchFrames.push(frame);
        result.byProtocol[s.protocol] = (result.byProtocol[s.protocol] ?? 0) + 1;
        l.world.sim.at(t0 + (i + 1) * FRAME_GAP_NS, () => {
          if (!inject(l, frame)) starved = true;
        });
      }
      l.world.sim.run(t0 + (n + 1) * FRAME_GAP_NS);
      if (starved) return fail(`batch ${index}: the lab host ran out of skbs to send with`, index);
      result.frames += n;
      settle(l, 50 * NS_PER_MS);
      drainAll(l, conn);
      l.labSys.close(conn.labFd);
      abortConnection(l, conn.dutFd);
      settle(l, 10 * NS_PER_MS);
    } catch (e) {
      return fail(`batch ${index}: exception in the stack: ${(e as Error).message.split('\n')[0]}`, index);
    } finally {
      arm(false);
    }
    const u = ram.usage();
    const inUse = u.reservedBytes + u.peakUsedBytes;
    result.peakRamBytes = Math.max(result.peakRamBytes, inUse);
    if (inUse > ramBytes) return fail(`batch ${index}: RAM in use ${inUse} B above the board's ${ramBytes} B`, index);
    announceLab(l);
    if (!answersPing(l)) return fail(`batch ${index}: the board no longer answers ping`, index);
    opts.progress?.(result.frames);
    index++;
  }
  // Traffic has stopped: every timer expires, the interface is deconfigured, and live objects
  // must be what they were before the first fuzzed frame.
  try {
    for (const fd of l.udpFds) l.dutSys.close(fd);
    l.dutSys.close(l.listenFd);
    settle(l, QUIESCE_NS);
    inetFlushInterface(l.dut.stack, l.dut.dev.ifindex);
    // ip tcp_metrics flush, as `quarklab run` does before the same check: what TCP learned per
    // destination (TCP_METRICS) is a cache Linux keeps on purpose, not a leak.
    l.dut.stack.tcp?.metrics?.flush();
    settle(l, 10 * NS_PER_MS);
  } catch (e) {
    return fail(`after the last batch: exception in the stack: ${(e as Error).message.split('\n')[0]}`, index);
  }
  // Baseline was taken with the listener and UDP sockets open; they are closed now, so compare
  // against boot's own baseline: what the board held before any socket existed.
  const end = liveObjectBytes(ram);
  if (end !== l.dut.baselineObjects) {
    // Name what still holds memory: caches above their count when fuzzing began (the listener
    // and UDP sockets, open then, are closed now), and TCP sockets the stack still has.
    const grown = ram.slabinfo().filter((c) => c.active > (activeAtStart.get(c.name) ?? 0)).map((c) => `${c.name} +${c.active - (activeAtStart.get(c.name) ?? 0)}`);
    const socks = l.dut.stack.tcp?.socketStates() ?? [];
    return fail(`after traffic stopped: live kernel objects ${end} B, ${end - l.dut.baselineObjects} B more than after boot (${l.dut.baselineObjects} B); fuzz baseline ${baseline} B; caches above it: ${grown.length > 0 ? grown.join(', ') : 'none'}; TCP sockets left: ${socks.length > 0 ? socks.join(', ') : 'none'}`, index);
  }
  if (l.dut.stack.skbs.live !== 0) return fail(`after traffic stopped: ${l.dut.stack.skbs.live} skbs still live`, index);
  result.virtualNs = l.world.sim.now;
  if (failSlab) result.failAlloc = failAllocReport(failSlab);
  return result;
}
