/**
 * Scenario `iperf3`: the board runs its iperf3 server; the lab host runs the iperf3 client
 * against it, first sending for `time` seconds (`iperf3 -c 192.0.2.2 -t T`), then receiving
 * (`-R`). The figures are what iperf3's "receiver" lines print, in virtual time: the figure
 * `quarklab live` is compared with when the real iperf3 client talks to the same server.
 */
import { defineScenario } from '../api/define-scenario.js';
import { Iperf3Client, Iperf3Server, IPERF3_PORT, type Iperf3ClientResult } from '../apps/iperf3.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';

function figures(r: Iperf3ClientResult | undefined): Record<string, unknown> | null {
  if (!r) return null;
  return { bytes: r.bytes, startNs: r.startNs, endNs: r.endNs, receiverBps: r.receiverBps, error: r.error };
}

const ok = (r: Iperf3ClientResult | undefined): boolean => !!r && r.error === null && r.receiverBps !== null && r.bytes > 0;

export const iperf3Scenario = defineScenario({
  name: 'iperf3',
  summary: "the lab host's iperf3 client against the board's iperf3 server: -t T, then -R",
  description: (o) => `the lab host runs iperf3 -c against the board's iperf3 server for ${o.time} s, then again with -R`,
  options: {
    time: { type: 'number', default: 1, min: 0.001, max: 600, help: 'seconds each direction runs (iperf3 -t)' },
    parallel: { type: 'integer', default: 1, min: 1, max: 8, help: 'parallel streams (iperf3 -P)' },
  },
  programs: { board: ['iperf3'], lab: ['iperf3-client'] },
  produces: ['goodput'],
  timeLimitSeconds: (o) => 4 * o.time + 60,
  state: () => ({ server: null as Iperf3Server | null, clients: [] as Iperf3Client[] }),
  // The board's server listens before the lab host's client starts.
  board(t, o, s) {
    s.server = new Iperf3Server();
    t.board.spawn(s.server);
    const run = (reverse: boolean, then: () => void): void => {
      const c = new Iperf3Client({ server: { addr: t.board.addr, port: IPERF3_PORT }, timeNs: o.time * NS_PER_SEC, reverse, parallel: o.parallel, seed: s.clients.length + 1 });
      s.clients.push(c);
      t.step(`scenario iperf3: iperf3 -c 192.0.2.2 -t ${o.time}${o.parallel > 1 ? ` -P ${o.parallel}` : ''}${reverse ? ' -R' : ''}`);
      t.lab.spawn(c, then);
    };
    run(false, () => run(true, () => t.finish()));
  },
  checks(_t, _o, s) {
    const [fwd, rev] = [s.clients[0]?.result, s.clients[1]?.result];
    const tests = s.server?.stats.tests ?? [];
    return [
      { name: 'iperf3 test completes (board receives)', pass: ok(fwd), detail: fwd ? `${fwd.bytes} bytes sent, receiver ${fwd.receiverBps === null ? '-' : (fwd.receiverBps / 1e6).toFixed(2)} Mbit/s${fwd.error ? `, error: ${fwd.error}` : ''}` : 'not run' },
      { name: 'iperf3 -R test completes (board sends)', pass: ok(rev), detail: rev ? `${rev.bytes} bytes received, receiver ${rev.receiverBps === null ? '-' : (rev.receiverBps / 1e6).toFixed(2)} Mbit/s${rev.error ? `, error: ${rev.error}` : ''}` : 'not run' },
      { name: 'the board served both tests', pass: tests.length === 2 && (s.server?.stats.errors.length ?? 1) === 0, detail: `${tests.length} tests recorded, errors: ${s.server?.stats.errors.join('; ') || 'none'}` },
    ];
  },
  figures: (_t, _o, s) => ({
    forward: figures(s.clients[0]?.result),
    reverse: figures(s.clients[1]?.result),
    serverTests: (s.server?.stats.tests ?? []).map((x) => ({ reverse: x.params.reverse, bytes: x.bytes, startNs: x.startNs, endNs: x.endNs })),
  }),
  measured: (_t, _o, s) => ({ goodput: s.clients[0]?.result.receiverBps ?? null }),
});
