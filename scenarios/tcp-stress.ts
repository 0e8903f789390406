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
import { defineScenario } from '../api/define-scenario.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';
import { LAB_ADDR, staticNetwork } from './static-network.js';

export interface SlowReaderScenarioOptions {
  connections: number;
  bytes: number;
  /** Override net.ipv4.tcp_mem on the board (pages), as `sysctl -w` would. */
  tcpMem?: [number, number, number];
}

export function slowReadersScenario(o: SlowReaderScenarioOptions): Scenario {
  const sources: BulkSource[] = [];
  let readers: SlowReaders | null = null;
  let done = 0;
  return {
    name: 'slow-readers',
    description: `the board opens ${o.connections} downloads of ${o.bytes} bytes and reads them slowly`,
    dutPrograms: ['slow-readers'],
    labPrograms: Array.from({ length: o.connections }, (_, i) => `bulk-source-${i}`),
    timeLimitNs: 600 * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      staticNetwork(ctx);
      if (o.tcpMem) ctx.dut.stack.tcp!.sysctl.tcpMem = [...o.tcpMem];
      const finished = (): void => {
        if (++done === o.connections + 1) ctx.finish();
      };
      for (let i = 0; i < o.connections; i++) {
        const s = new BulkSource({ listen: 5001 + i }, o.bytes);
        sources.push(s);
        ctx.spawn(ctx.lab, s, finished);
      }
      readers = new SlowReaders({
        servers: Array.from({ length: o.connections }, (_, i) => ({ addr: LAB_ADDR, port: 5001 + i })),
        pauseNs: 2 * NS_PER_SEC,
        chunk: 2048,
        intervalNs: 10 * NS_PER_MS,
      });
      ctx.step(`scenario slow-readers: ${o.connections} downloads read slowly`);
      ctx.spawn(ctx.dut, readers, finished);
    },
    result(ctx: ScenarioContext): ScenarioResult {
      const tcp = ctx.dut.stack.tcp!;
      const conns = readers!.conns;
      const complete = conns.every((c) => c.bytes === o.bytes && !c.error);
      return {
        checks: [{ name: 'every slow download completes intact', pass: complete, detail: conns.map((c) => `${c.bytes}${c.error ? ` (${c.error})` : ''}`).join(', ') }],
        figures: {
          connections: o.connections,
          bytesEach: o.bytes,
          tcpMemPages: tcp.sysctl.tcpMem,
          tcpMemPeakBytes: tcp.memAllocatedPeak,
          pressureEpisodes: tcp.pressureEpisodes,
          refused: { TCPRcvQDrop: tcp.ext['TCPRcvQDrop'], PruneCalled: tcp.ext['PruneCalled'], RcvPruned: tcp.ext['RcvPruned'], OfoPruned: tcp.ext['OfoPruned'], TCPOFODrop: tcp.ext['TCPOFODrop'], TCPRcvCollapsed: tcp.ext['TCPRcvCollapsed'], TCPZeroWindowDrop: tcp.ext['TCPZeroWindowDrop'] },
        },
        measured: {},
      };
    },
  };
}

const SYN_FLOOD_BYTES = 100_000;

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
      s.client = new BulkSink({ connect: { addr: t.board.addr, port: 80 } }, SYN_FLOOD_BYTES);
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
