/**
 * TCP under pressure on a small board:
 * - `slow-readers`: the board opens N downloads and reads them slowly, so data piles up in
 *   socket buffers until tcp_mem (or RAM itself) says no; the transfers must still complete.
 * - `syn-flood`: the lab host floods the board's server with spoofed SYNs at line rate while a
 *   legitimate client connects; with SYN_COOKIES the client gets through.
 */
import { BulkSink, BulkSource } from '../apps/bulk.js';
import { SlowReaders } from '../apps/slow-reader.js';
import { SynFlood } from '../apps/syn-flood.js';
import { NS_PER_MS, NS_PER_SEC } from '../emulator/event-queue.js';
import { defineScenario, refuse } from '../api/define-scenario.js';
import { errnoName } from '../stack/uapi/errno.js';

export const slowReadersScenario = defineScenario({
  name: 'slow-readers',
  summary: 'the board opens 8 downloads of 200 kB and reads them slowly',
  description: (o) => `the board opens ${o.connections} downloads of ${o.bytes} bytes and reads them slowly`,
  options: {
    connections: { type: 'integer', default: 8, min: 1, max: 64, help: 'downloads at once' },
    bytes: { type: 'integer', default: 200_000, min: 1, max: 100_000_000, help: 'bytes in each download' },
    tcp_mem: { type: 'string', default: null, pattern: /^[0-9]{1,9}\+[0-9]{1,9}\+[0-9]{1,9}$/, help: 'net.ipv4.tcp_mem as three rising page counts LOW+PRESSURE+HIGH (e.g. 16+24+32), written through /proc/sys as sysctl -w does' },
  },
  programs: (o) => ({ board: ['slow-readers'], lab: Array.from({ length: o.connections }, (_, i) => `bulk-source-${i}`) }),
  timeLimitSeconds: 600,
  state: (o) => {
    const pages = o.tcp_mem === null ? null : o.tcp_mem.split('+').map(Number);
    if (pages && (pages.some((p) => p < 1) || pages[0]! > pages[1]! || pages[1]! > pages[2]!)) return refuse(`tcp_mem=${o.tcp_mem}: expected three rising page counts like 16+24+32`);
    return { tcpMem: pages, sysctlErrno: 0, sources: [] as BulkSource[], readers: null as SlowReaders | null, done: 0 };
  },
  lab(t, o, s) {
    for (let i = 0; i < o.connections; i++) {
      const src = new BulkSource({ listen: 5001 + i }, o.bytes);
      s.sources.push(src);
      t.lab.spawn(src, () => {
        if (++s.done === o.connections + 1) t.finish();
      });
    }
  },
  board(t, o, s) {
    // sysctl -w net.ipv4.tcp_mem="LOW PRESSURE HIGH", as the board's init script would.
    if (s.tcpMem) s.sysctlErrno = t.board.sysctl('net.ipv4.tcp_mem', s.tcpMem.join(' '));
    s.readers = new SlowReaders({
      servers: Array.from({ length: o.connections }, (_, i) => ({ addr: t.lab.addr, port: 5001 + i })),
      pauseNs: 2 * NS_PER_SEC,
      chunk: 2048,
      intervalNs: 10 * NS_PER_MS,
    });
    t.step(`scenario slow-readers: ${o.connections} downloads read slowly`);
    t.board.spawn(s.readers, () => {
      if (++s.done === o.connections + 1) t.finish();
    });
  },
  checks(t, o, s) {
    const conns = s.readers!.conns;
    const complete = conns.every((c) => c.bytes === o.bytes && !c.error);
    const checks = [{ name: 'every slow download completes intact', pass: complete, detail: conns.map((c) => `${c.bytes}${c.error ? ` (${c.error})` : ''}`).join(', ') }];
    if (s.tcpMem) {
      const why = s.sysctlErrno === 0 ? 'written' : `${errnoName(-s.sysctlErrno)}${t.board.has('PROC_FS') ? '' : ' (the profile has no PROC_FS: there is no /proc/sys to write)'}`;
      checks.unshift({ name: `sysctl -w net.ipv4.tcp_mem="${s.tcpMem.join(' ')}"`, pass: s.sysctlErrno === 0, detail: why });
    }
    return checks;
  },
  figures(t, o, s) {
    const dut = t.board.observe();
    const ext = dut.counters['TcpExt'] ?? {};
    return {
      connections: o.connections,
      bytesEach: o.bytes,
      tcpMemPages: dut.bound.tcpMemPages,
      tcpMemPeakBytes: dut.tcp!.memAllocatedPeakBytes,
      pressureEpisodes: dut.tcp!.pressureEpisodes,
      refused: { TCPRcvQDrop: ext['TCPRcvQDrop'], PruneCalled: ext['PruneCalled'], RcvPruned: ext['RcvPruned'], OfoPruned: ext['OfoPruned'], TCPOFODrop: ext['TCPOFODrop'], TCPRcvCollapsed: ext['TCPRcvCollapsed'], TCPZeroWindowDrop: ext['TCPZeroWindowDrop'] },
    };
  },
});

const SYN_FLOOD_BYTES = 100_000;
/** An iperf3-style client cookie: 37 bytes the client sends before the transfer starts. */
const CLIENT_REQUEST = new TextEncoder().encode('quarklabsynfloodclient0000000000000\0\0');

export const synFloodScenario = defineScenario({
  name: 'syn-flood',
  summary: 'spoofed SYNs at line rate against the board server while a real client connects',
  description: (o) => `the lab host floods the board with spoofed SYNs for ${o['duration-ms']} ms while a real client connects`,
  options: { 'duration-ms': { type: 'integer', default: 500, min: 10, max: 60_000, help: 'how long the flood lasts, in ms' } },
  programs: { board: ['bulk-source'], lab: ['syn-flood', 'bulk-sink'] },
  timeLimitSeconds: 300,
  state: () => ({ flood: null as SynFlood | null, client: null as BulkSink | null, clientStart: 0, done: 0 }),
  // The board's server listens first; then the lab host's flood, and the client half-way through it.
  board(t, o, s) {
    const durationMs = o['duration-ms'];
    const finished = (): void => {
      if (++s.done === 3) t.finish();
    };
    t.board.spawn(new BulkSource({ listen: 80 }, SYN_FLOOD_BYTES), finished);
    s.flood = new SynFlood({ target: t.board.addr, port: 80, durationNs: durationMs * NS_PER_MS, intervalNs: 6_720, sourceNet: 0xc6336400 });
    t.step(`scenario syn-flood: spoofed SYNs at line rate for ${durationMs} ms`);
    t.lab.spawn(s.flood, finished);
    t.after((durationMs * NS_PER_MS) / 2, () => {
      s.clientStart = t.now();
      // The client speaks first, as iperf3's does (its 37-byte cookie) and HTTP's: with SYN
      // cookies the board keeps no state for the handshake, so if the client's final ACK is
      // lost in the flooded RX ring nothing on the board ever resends the SYN-ACK, and a
      // client waiting for the server to speak would wait for ever, on Linux too (RFC 4987
      // §3.6). The request carries the ACK again and is retransmitted on RTO until it gets
      // through and completes the handshake through cookie_v4_check.
      s.client = new BulkSink({ connect: { addr: t.board.addr, port: 80 } }, SYN_FLOOD_BYTES, {}, CLIENT_REQUEST);
      t.step('legitimate client connects');
      t.lab.spawn(s.client, finished);
    });
  },
  checks(_t, _o, s) {
    const c = s.client?.stats;
    const ok = !!c && c.bytes === SYN_FLOOD_BYTES && !c.error;
    return [
      { name: 'legitimate client served during the flood', pass: ok, detail: c ? `${c.bytes} of ${SYN_FLOOD_BYTES} bytes, connected after ${c.startNs !== null ? ((c.startNs - s.clientStart) / 1e6).toFixed(1) : '-'} ms${c.error ? `, ${c.error}` : ''}` : 'client never started' },
    ];
  },
  figures(t, _o, s) {
    const dut = t.board.observe();
    const ext = dut.counters['TcpExt'] ?? {};
    const c = s.client?.stats;
    return {
      synsSent: s.flood?.sent ?? 0,
      cookies: { SyncookiesSent: ext['SyncookiesSent'], SyncookiesRecv: ext['SyncookiesRecv'], SyncookiesFailed: ext['SyncookiesFailed'], TCPReqQFullDoCookies: ext['TCPReqQFullDoCookies'], TCPReqQFullDrop: ext['TCPReqQFullDrop'], ListenDrops: ext['ListenDrops'] },
      rx_missed_errors: dut.netdev['rx_missed_errors'],
      clientConnectNs: c?.startNs !== null && c?.startNs !== undefined ? c.startNs - s.clientStart : null,
    };
  },
});
