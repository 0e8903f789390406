/**
 * Scenario `udp-echo`: the lab host runs a UDP echo server (port 7) and the board sends it
 * datagrams of several sizes — the largest bigger than the 1500-byte MTU, so it leaves in IP
 * fragments, is reassembled by the lab host, echoed (fragmented again) and reassembled by the
 * board — checking each echo comes back byte for byte.
 */
import { UdpEchoClient, UdpEchoServer } from '../apps/udp-echo.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';
import { LAB_ADDR, staticNetwork } from './static-network.js';

/** 1472 fills one 1500-byte packet exactly; 1473 and 4000 need two and three fragments. */
export const ECHO_SIZES = [64, 1472, 1473, 4000];

export function udpEchoOptions(o: Record<string, string>): number[] | { error: string } {
  let sizes = ECHO_SIZES;
  for (const [k, v] of Object.entries(o)) {
    if (k !== 'sizes') return { error: `unknown option "${k}" (sizes)` };
    const list = v.split('+').map(Number);
    if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 0 || n > 65507)) return { error: `sizes=${v}: expected sizes from 0 to 65507 joined by +` };
    sizes = list;
  }
  return sizes;
}

export function udpEchoScenario(sizes: number[] = ECHO_SIZES): Scenario {
  let client: UdpEchoClient | null = null;
  let server: UdpEchoServer | null = null;
  return {
    name: 'udp-echo',
    description: `the board sends UDP datagrams of ${sizes.join(', ')} bytes to the lab host's echo server and checks each echo`,
    dutPrograms: ['udp-echo'],
    labPrograms: ['echod'],
    timeLimitNs: (30 + 10 * sizes.length) * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      staticNetwork(ctx);
      server = new UdpEchoServer();
      ctx.spawn(ctx.lab, server);
      client = new UdpEchoClient({ server: LAB_ADDR, sizes });
      ctx.step(`scenario udp-echo: ${sizes.length} datagrams to port 7`);
      ctx.spawn(ctx.dut, client, () => ctx.finish());
    },
    result(): ScenarioResult {
      const r = client!.result;
      return {
        checks: sizes.map((size, i) => {
          const e = r.exchanges[i];
          return {
            name: `UDP echo of ${size} bytes intact`,
            pass: e !== undefined && e.intact,
            detail: e ? `${e.intact ? 'intact' : e.mismatched ? 'echo differs' : 'no echo'} after ${e.sent} send${e.sent === 1 ? '' : 's'}${e.rttNs !== null ? `, rtt ${(e.rttNs / 1e6).toFixed(3)} ms` : ''}${e.error ? ` (${e.error})` : ''}` : r.error ?? 'not sent',
          };
        }),
        figures: { udpEcho: { exchanges: r.exchanges, error: r.error, server: server?.result ?? null } },
        measured: {},
      };
    },
  };
}
