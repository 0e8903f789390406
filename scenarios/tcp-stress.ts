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
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';
import { DUT_STATIC_ADDR, LAB_ADDR, staticNetwork } from './static-network.js';

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
          tcpMemPeakBytes: tcp.mem.allocatedPeak,
          pressureEpisodes: tcp.mem.pressureEpisodes,
          refused: { TCPRcvQDrop: tcp.ext['TCPRcvQDrop'], PruneCalled: tcp.ext['PruneCalled'], RcvPruned: tcp.ext['RcvPruned'], OfoPruned: tcp.ext['OfoPruned'], TCPOFODrop: tcp.ext['TCPOFODrop'], TCPRcvCollapsed: tcp.ext['TCPRcvCollapsed'], TCPZeroWindowDrop: tcp.ext['TCPZeroWindowDrop'] },
        },
        measured: {},
      };
    },
  };
}

export interface SynFloodScenarioOptions {
  durationMs: number;
}

export function synFloodScenario(o: SynFloodScenarioOptions): Scenario {
  let flood: SynFlood | null = null;
  let server: BulkSource | null = null;
  let client: BulkSink | null = null;
  let clientStart = 0;
  let done = 0;
  const bytes = 100_000;
  return {
    name: 'syn-flood',
    description: `the lab host floods the board with spoofed SYNs for ${o.durationMs} ms while a real client connects`,
    dutPrograms: ['bulk-source'],
    labPrograms: ['syn-flood', 'bulk-sink'],
    timeLimitNs: 300 * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      staticNetwork(ctx);
      const finished = (): void => {
        if (++done === 3) ctx.finish();
      };
      server = new BulkSource({ listen: 80 }, bytes);
      ctx.spawn(ctx.dut, server, finished);
      flood = new SynFlood({ target: DUT_STATIC_ADDR, port: 80, durationNs: o.durationMs * NS_PER_MS, intervalNs: 6_720, sourceNet: 0xc6336400 });
      ctx.step(`scenario syn-flood: spoofed SYNs at line rate for ${o.durationMs} ms`);
      ctx.spawn(ctx.lab, flood, finished);
      // The legitimate client arrives in the middle of the flood.
      ctx.world.sim.after((o.durationMs * NS_PER_MS) / 2, () => {
        clientStart = ctx.world.sim.now;
        client = new BulkSink({ connect: { addr: DUT_STATIC_ADDR, port: 80 } }, bytes);
        ctx.step('legitimate client connects');
        ctx.spawn(ctx.lab, client, finished);
      });
    },
    result(ctx: ScenarioContext): ScenarioResult {
      const tcp = ctx.dut.stack.tcp!;
      const c = client?.stats;
      const ok = !!c && c.bytes === bytes && !c.error;
      return {
        checks: [
          { name: 'legitimate client served during the flood', pass: ok, detail: c ? `${c.bytes} of ${bytes} bytes, connected after ${c.startNs !== null ? ((c.startNs - clientStart) / 1e6).toFixed(1) : '-'} ms${c.error ? `, ${c.error}` : ''}` : 'client never started' },
        ],
        figures: {
          synsSent: flood?.sent ?? 0,
          cookies: { SyncookiesSent: tcp.ext['SyncookiesSent'], SyncookiesRecv: tcp.ext['SyncookiesRecv'], SyncookiesFailed: tcp.ext['SyncookiesFailed'], TCPReqQFullDoCookies: tcp.ext['TCPReqQFullDoCookies'], TCPReqQFullDrop: tcp.ext['TCPReqQFullDrop'], ListenDrops: tcp.ext['ListenDrops'] },
          rx_missed_errors: ctx.dut.board.mac.stats.rx_missed_errors,
          clientConnectNs: c?.startNs !== null && c?.startNs !== undefined ? c.startNs - clientStart : null,
        },
        measured: {},
      };
    },
  };
}
