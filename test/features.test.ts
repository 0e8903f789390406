// Each seed switch is a real piece of code: the same scenario with and without it differs on
// the wire (or in what the stack does), and the image and boot RAM differ by exactly what the
// cost table says the symbol costs.
import { afterAll, describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareImages, fragment, without, withSymbol } from './helpers/features.js';
import { REPO_ROOT, removeTempDirs, runToDir, tempDir } from './helpers/run.js';
import { tsharkFields } from './helpers/tshark.js';
import { bootPair, LAB_IP, settle } from './helpers/lab-pair.js';
import { liveObjectBytes } from '../scenarios/boot.js';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { SYMBOLS } from '../stack/kconfig/symbols.js';
import { resolveProfile } from '../scenarios/inputs.js';
import { AF_INET, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

afterAll(removeTempDirs);

/** The image differs by the symbol's text + data, 48 table bytes per section, and the config section. */
function expectImageDelta(board: string, withPath: string, withoutPath: string, symbols: string[]): void {
  const c = compareImages(board, withPath, withoutPath, symbols);
  expect(c.modelledFlash).toBeGreaterThan(0);
  expect(c.imageDelta).toBe(c.modelledFlash + 48 * c.sectionsDelta + c.configDelta);
  expect(c.bootRamDelta).toBe(c.modelledBootRam);
}

describe('INET_RAW and IP_PING', () => {
  test('ping uses a raw socket, a ping socket, or fails without both — visible in the echo identifier', () => {
    const withRaw = withSymbol('minimal', 'INET_RAW');
    const noPing = without('minimal', 'IP_PING');
    const raw = runToDir({ board: 'quark-2m', profile: withRaw, scenario: 'ping' });
    const ping = runToDir({ board: 'quark-2m', profile: 'minimal', scenario: 'ping' });
    const none = runToDir({ board: 'quark-2m', profile: noPing, scenario: 'ping' });
    expect(raw.outcome.exitCode).toBe(0);
    expect(ping.outcome.exitCode).toBe(0);
    // Neither socket kind: ping cannot open a socket, the check fails and the run exits 1.
    expect(none.outcome.exitCode).toBe(1);
    const figures = (r: typeof raw): { socketKind: string; error: string | null } => (r.report.scenario.figures['ping'] as { socketKind: string; error: string | null });
    expect(figures(raw).socketKind).toBe('raw');
    expect(figures(ping).socketKind).toBe('ping');
    expect(figures(none).error).toMatch(/EPROTONOSUPPORT/);
    // A raw-socket ping writes its own identifier (0x5151); a ping socket's is the kernel's.
    const ids = (p: string): string[] => tsharkFields(p, ['icmp.ident'], 'icmp.type == 8').map((r) => r[0]!);
    expect(new Set(ids(raw.capturePath!))).toEqual(new Set(['20817']));
    const pingIds = new Set(ids(ping.capturePath!));
    expect(pingIds.size).toBe(1);
    expect(pingIds.has('20817')).toBe(false);
    expect(tsharkFields(none.capturePath!, ['frame.number'], 'icmp')).toEqual([]);
    expectImageDelta('quark-2m', withRaw, 'minimal', ['INET_RAW']);
    expectImageDelta('quark-2m', 'minimal', noPing, ['IP_PING']);
  });
});

describe('SYN_COOKIES', () => {
  test('under a SYN flood, cookies are sent only when the symbol is on', () => {
    const noCookies = without('minimal', 'SYN_COOKIES');
    const on = runToDir({ board: 'quark-2m', profile: 'minimal', scenario: 'syn-flood:duration-ms=50' });
    const off = runToDir({ board: 'quark-2m', profile: noCookies, scenario: 'syn-flood:duration-ms=50' });
    const cookies = (r: typeof on): Record<string, number> => r.report.scenario.figures['cookies'] as Record<string, number>;
    expect(cookies(on)['SyncookiesSent']).toBeGreaterThan(0);
    expect(cookies(off)['SyncookiesSent']).toBe(0);
    expect(cookies(off)['TCPReqQFullDrop']).toBeGreaterThan(0);
    // On the wire: with cookies every SYN the board took is answered; without, most are not.
    const synAcks = (p: string): number => tsharkFields(p, ['frame.number'], 'tcp.flags.syn == 1 && tcp.flags.ack == 1 && ip.src == 192.0.2.2').length;
    expect(synAcks(on.capturePath!)).toBeGreaterThan(2 * synAcks(off.capturePath!));
    expectImageDelta('quark-2m', 'minimal', noCookies, ['SYN_COOKIES']);
  });
});

describe('TCP_METRICS', () => {
  /** Two downloads one after the other from the lab host; returns the second connection's starting state. */
  function twoConnections(profile: string) {
    const pair = bootPair({ dutBoard: 'quark-4m', dutProfile: profile });
    const { dutSys, labSys } = pair;
    const lfd = labSys.socket(AF_INET, SOCK_STREAM, 0);
    expect(labSys.bind(lfd, { addr: 0, port: 8080 })).toBe(0);
    expect(labSys.listen(lfd, 4)).toBe(0);
    const seen: { ssthresh: number; rto: number }[] = [];
    for (let i = 0; i < 2; i++) {
      const fd = dutSys.socket(AF_INET, SOCK_STREAM, 0);
      expect(dutSys.connect(fd, { addr: LAB_IP, port: 8080 })).toBe(-Errno.EINPROGRESS);
      settle(pair, 5 * NS_PER_MS);
      const sk = [...pair.dut.stack.tcp!.ehash.values()].find((s) => s.state === 'ESTABLISHED')!;
      seen.push({ ssthresh: sk.ssthresh, rto: sk.rto });
      const a = labSys.accept(lfd);
      if (typeof a === 'number') throw new Error('lab did not accept');
      expect(labSys.send(a.fd, new Uint8Array(200_000))).toBeGreaterThan(0);
      settle(pair, 50 * NS_PER_MS);
      while (typeof dutSys.recv(fd, 1 << 20) !== 'number');
      dutSys.close(fd);
      labSys.close(a.fd);
      settle(pair, 100 * NS_PER_MS);
    }
    return { pair, seen };
  }

  test('a second connection to the same host starts from what the first learned; the cache costs RAM', () => {
    const noMetrics = without('full', 'TCP_METRICS');
    const on = twoConnections('full');
    const off = twoConnections(noMetrics);
    const m = on.pair.dut.stack.tcp!.metrics!.lookup(LAB_IP)!;
    expect(m.rtt).toBeGreaterThan(0);
    // First connections start alike; the second is seeded only with TCP_METRICS.
    expect(on.seen[0]!.ssthresh).toBe(0x7fffffff);
    expect(on.seen[1]!.ssthresh).toBe(m.ssthresh > 0 ? m.ssthresh : 0x7fffffff);
    expect(on.seen[1]!.rto).not.toBe(on.seen[0]!.rto);
    expect(off.seen[1]!).toEqual(off.seen[0]!);
    expect(off.pair.dut.stack.tcp!.metrics).toBeNull();
    // RAM: the 8192-slot hash at boot and a tcp_metrics_block per destination.
    expect(on.pair.dut.baselineObjects - off.pair.dut.baselineObjects).toBeGreaterThanOrEqual(8192 * 4);
    expect(liveObjectBytes(on.pair.dut.board.ram) - on.pair.dut.baselineObjects).toBeGreaterThanOrEqual(112);
    expectImageDelta('quark-4m', 'full', noMetrics, ['TCP_METRICS']);
  });
});

describe('IP_OFFLOAD (GRO)', () => {
  test('with interrupt coalescing, GRO hands the stack fewer, larger packets; without it every frame goes up alone', () => {
    const dir = tempDir('quarklab-board-');
    const board = JSON.parse(JSON.stringify(JSON.parse(readFileSync(join(REPO_ROOT, 'boards', 'quark-4m.json'), 'utf8'))));
    board.name = 'quark-4m-coalesce';
    board.mac.rxCoalesceUsecs = 500;
    board.mac.rxCoalesceFrames = 32;
    const boardPath = join(dir, 'board.json');
    writeFileSync(boardPath, JSON.stringify(board));
    const noGro = without('full', 'IP_OFFLOAD');
    const on = runToDir({ board: boardPath, profile: 'full', scenario: 'bulk-rx:bytes=1000000' });
    const off = runToDir({ board: boardPath, profile: noGro, scenario: 'bulk-rx:bytes=1000000' });
    expect(on.outcome.exitCode).toBe(0);
    expect(off.outcome.exitCode).toBe(0);
    const nic = (r: typeof on): Record<string, number> => Object.values(r.report.boards[0]!.interfaces)[0]!;
    const tcpIn = (r: typeof on): number => r.report.boards[0]!.snmp!['Tcp']!['InSegs']!;
    expect(nic(on)['gro_merged']).toBeGreaterThan(0);
    expect(nic(off)['gro_frames']).toBeUndefined();
    // tshark is the oracle for what arrived: every TCP frame the lab put on the wire. Without
    // GRO each is one segment to tcp_v4_rcv; with it, each frame GRO merged into another is one
    // segment fewer (TcpInSegs counts the skbs TCP receives, a GRO packet as one).
    const counted = new Map<typeof on, number>(); // one tshark pass per capture, however often asked
    const wireTcpIn = (r: typeof on): number => {
      if (!counted.has(r)) counted.set(r, tsharkFields(r.capturePath!, ['frame.number'], 'tcp && ip.src == 192.0.2.1').length);
      return counted.get(r)!;
    };
    expect(wireTcpIn(off)).toBeGreaterThan(600); // 1 MB in 1448-byte segments is 691 of them
    expect(tcpIn(off)).toBe(wireTcpIn(off));
    expect(tcpIn(on)).toBe(wireTcpIn(on) - nic(on)['gro_merged']!);
    // GRO saw every TCP frame the lab sent (and the non-TCP ones too).
    expect(nic(on)['gro_frames']!).toBeGreaterThanOrEqual(wireTcpIn(on));
    // The frames on the wire are the same kind; the packets TCP processes are fewer with GRO.
    expect(tcpIn(on)).toBeLessThan(tcpIn(off) * 0.7);
    expect(on.report.boards[0]!.cpu!.cyclesUsed).toBeLessThan(off.report.boards[0]!.cpu!.cyclesUsed);
    expectImageDelta('quark-4m', 'full', noGro, ['IP_OFFLOAD']);
  });
});

describe('BASE_SMALL', () => {
  test('shrinks the TCP hash (16 buckets) and with it max_tw_buckets; the boot heap shows the difference', () => {
    const big = without('client', 'BASE_SMALL');
    const small = runToDir({ board: 'quark-4m', profile: 'client', scenario: 'http-serve:clients=12' });
    const large = runToDir({ board: 'quark-4m', profile: big, scenario: 'http-serve:clients=12' });
    const tcp = (r: typeof small) => r.report.boards[0]!.tcp!;
    expect(tcp(small).ehashEntries).toBe(16);
    expect(tcp(small).maxTwBuckets).toBe(8);
    expect(tcp(large).ehashEntries).toBeGreaterThanOrEqual(1024);
    // 12 connections closed by the board: only 8 TIME_WAIT socks fit under BASE_SMALL, the
    // other 4 close without TIME_WAIT protection (TCPTimeWaitOverflow), which the check flags.
    const tw = (r: typeof small) => r.report.checks.find((c) => /held TIME_WAIT/.test(c.name))!;
    expect(tw(small).pass).toBe(false);
    expect(tw(small).detail).toMatch(/TW 8 of 12, TCPTimeWaitOverflow 4/);
    expect(tw(large).pass).toBe(true);
    expect(large.outcome.exitCode).toBe(0);
    expect(small.report.boards[0]!.memory!.baselineObjectBytes).toBeLessThan(large.report.boards[0]!.memory!.baselineObjectBytes);
  });
});

describe('FIB_TRIE or FIB_LIST', () => {
  test('the choice changes the image by the trie against the list and routes the same', () => {
    const list = fragment('full', ['CONFIG_FIB_LIST=y'], 'fib-list');
    const trieRun = runToDir({ board: 'quark-4m', profile: 'full', scenario: 'ping' });
    const listRun = runToDir({ board: 'quark-4m', profile: list, scenario: 'ping' });
    expect(trieRun.outcome.exitCode).toBe(0);
    expect(listRun.outcome.exitCode).toBe(0);
    const c = compareImages('quark-4m', 'full', list, ['FIB_TRIE']);
    const l = compareImages('quark-4m', list, 'full', ['FIB_LIST']);
    // Swapping one for the other moves the image by the difference of the two costs.
    expect(c.imageDelta).toBe(-l.imageDelta);
    expect(c.imageDelta).toBe(c.modelledFlash - l.modelledFlash + 48 * c.sectionsDelta + c.configDelta);
  });
});

describe('every optional symbol of the full profile', () => {
  // What depends on a symbol goes with it (PACKET_MMAP with PACKET, the qdiscs with RTNETLINK …).
  function withDependents(symbol: string, enabled: readonly string[]): string[] {
    const out = new Set([symbol]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const s of SYMBOLS) {
        if (!enabled.includes(s.name) || out.has(s.name)) continue;
        if (s.depends.some((d) => out.has(d))) {
          out.add(s.name);
          grew = true;
        }
      }
    }
    return [...out];
  }

  test('turning it off shrinks the image and boot RAM by exactly its modelled cost', () => {
    const full = must(resolveProfile('full'));
    const optional = full.enabled.filter((s) => !['NET', 'INET'].includes(s) && !SYMBOLS.find((x) => x.name === s)?.choice);
    expect(optional.length).toBeGreaterThanOrEqual(15);
    for (const symbol of optional) {
      const off = withDependents(symbol, full.enabled);
      const path = without('full', off[0]!, off.slice(1));
      const c = compareImages('quark-4m', 'full', path, off);
      expect(c.imageDelta, `${off.join('+')}`).toBe(c.modelledFlash + 48 * c.sectionsDelta + c.configDelta);
      expect(c.bootRamDelta, `${off.join('+')}`).toBe(c.modelledBootRam);
    }
  });
});

function must<T>(x: T): Exclude<T, { error: string }> {
  if (typeof x === 'object' && x !== null && 'error' in x) throw new Error((x as { error: string }).error);
  return x as Exclude<T, { error: string }>;
}
