/**
 * Scenario `iperf3`: the board runs its iperf3 server; the lab host runs the iperf3 client
 * against it, first sending for `time` seconds (`iperf3 -c 192.0.2.2 -t T`), then receiving
 * (`-R`). The figures are what iperf3's "receiver" lines print, in virtual time: the figure
 * `quarklab live` is compared with when the real iperf3 client talks to the same server.
 */
import { Iperf3Client, Iperf3Server, IPERF3_PORT, type Iperf3ClientResult } from '../apps/iperf3.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';
import { DUT_STATIC_ADDR, staticNetwork } from './static-network.js';

export interface Iperf3ScenarioOptions {
  /** Seconds each direction runs (iperf3 -t). */
  timeSeconds: number;
  parallel: number;
}

export function iperf3Options(o: Record<string, string>): Iperf3ScenarioOptions | { error: string } {
  for (const k of Object.keys(o)) if (k !== 'time' && k !== 'parallel') return { error: `unknown option "${k}" (time=S, parallel=N)` };
  const time = o['time'] === undefined ? 1 : Number(o['time']);
  if (!Number.isFinite(time) || time <= 0 || time > 600) return { error: `time=${o['time']}: expected seconds from 0 to 600` };
  const parallel = o['parallel'] === undefined ? 1 : Number(o['parallel']);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 8) return { error: `parallel=${o['parallel']}: expected a whole number from 1 to 8` };
  return { timeSeconds: time, parallel };
}

function figures(r: Iperf3ClientResult | undefined): Record<string, unknown> | null {
  if (!r) return null;
  return { bytes: r.bytes, startNs: r.startNs, endNs: r.endNs, receiverBps: r.receiverBps, error: r.error };
}

export function iperf3Scenario(opts: Iperf3ScenarioOptions): Scenario {
  let server: Iperf3Server | null = null;
  const clients: Iperf3Client[] = [];
  return {
    name: 'iperf3',
    description: `the lab host runs iperf3 -c against the board's iperf3 server for ${opts.timeSeconds} s, then again with -R`,
    dutPrograms: ['iperf3'],
    labPrograms: ['iperf3-client'],
    timeLimitNs: (4 * opts.timeSeconds + 60) * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      staticNetwork(ctx);
      server = new Iperf3Server();
      ctx.spawn(ctx.dut, server);
      const run = (reverse: boolean, then: () => void): void => {
        const c = new Iperf3Client({ server: { addr: DUT_STATIC_ADDR, port: IPERF3_PORT }, timeNs: opts.timeSeconds * NS_PER_SEC, reverse, parallel: opts.parallel, seed: clients.length + 1 });
        clients.push(c);
        ctx.step(`scenario iperf3: iperf3 -c 192.0.2.2 -t ${opts.timeSeconds}${opts.parallel > 1 ? ` -P ${opts.parallel}` : ''}${reverse ? ' -R' : ''}`);
        ctx.spawn(ctx.lab, c, then);
      };
      run(false, () => run(true, () => ctx.finish()));
    },
    result(): ScenarioResult {
      const [fwd, rev] = [clients[0]?.result, clients[1]?.result];
      const tests = server?.stats.tests ?? [];
      const ok = (r: Iperf3ClientResult | undefined): boolean => !!r && r.error === null && r.receiverBps !== null && r.bytes > 0;
      return {
        checks: [
          { name: 'iperf3 test completes (board receives)', pass: ok(fwd), detail: fwd ? `${fwd.bytes} bytes sent, receiver ${fwd.receiverBps === null ? '-' : (fwd.receiverBps / 1e6).toFixed(2)} Mbit/s${fwd.error ? `, error: ${fwd.error}` : ''}` : 'not run' },
          { name: 'iperf3 -R test completes (board sends)', pass: ok(rev), detail: rev ? `${rev.bytes} bytes received, receiver ${rev.receiverBps === null ? '-' : (rev.receiverBps / 1e6).toFixed(2)} Mbit/s${rev.error ? `, error: ${rev.error}` : ''}` : 'not run' },
          { name: 'the board served both tests', pass: tests.length === 2 && (server?.stats.errors.length ?? 1) === 0, detail: `${tests.length} tests recorded, errors: ${server?.stats.errors.join('; ') || 'none'}` },
        ],
        figures: { forward: figures(fwd), reverse: figures(rev), serverTests: tests.map((t) => ({ reverse: t.params.reverse, bytes: t.bytes, startNs: t.startNs, endNs: t.endNs })) },
        measured: { goodput: fwd?.receiverBps ?? null },
      };
    },
  };
}
