/**
 * Scenario `udp-echo`: the lab host runs a UDP echo server (port 7) and the board sends it
 * datagrams of several sizes — the largest bigger than the 1500-byte MTU, so it leaves in IP
 * fragments, is reassembled by the lab host, echoed (fragmented again) and reassembled by the
 * board — checking each echo comes back byte for byte.
 */
import { defineScenario } from '../api/define-scenario.js';
import { UdpEchoClient, UdpEchoServer } from '../apps/udp-echo.js';

/** 1472 fills one 1500-byte packet exactly; 1473 and 4000 need two and three fragments. */
export const ECHO_SIZES = [64, 1472, 1473, 4000];

export const udpEchoScenario = defineScenario({
  name: 'udp-echo',
  summary: 'UDP echo of 64 to 4000-byte datagrams (fragmented beyond the MTU) with the lab host',
  description: (o) => `the board sends UDP datagrams of ${o.sizes.join(', ')} bytes to the lab host's echo server and checks each echo`,
  options: { sizes: { type: 'integer-list', default: ECHO_SIZES, min: 0, max: 65507, help: 'datagram payload sizes in bytes, sent in turn' } },
  programs: { board: ['udp-echo'], lab: ['echod'] },
  timeLimitSeconds: (o) => 30 + 10 * o.sizes.length,
  state: () => ({ client: null as UdpEchoClient | null, server: null as UdpEchoServer | null }),
  lab(t, _o, s) {
    s.server = new UdpEchoServer();
    t.lab.spawn(s.server);
  },
  board(t, o, s) {
    s.client = new UdpEchoClient({ server: t.lab.addr, sizes: o.sizes });
    t.step(`scenario udp-echo: ${o.sizes.length} datagrams to port 7`);
    t.board.spawn(s.client, () => t.finish());
  },
  checks(_t, o, s) {
    const r = s.client!.result;
    return o.sizes.map((size, i) => {
      const e = r.exchanges[i];
      return {
        name: `UDP echo of ${size} bytes intact`,
        pass: e !== undefined && e.intact,
        detail: e ? `${e.intact ? 'intact' : e.mismatched ? 'echo differs' : 'no echo'} after ${e.sent} send${e.sent === 1 ? '' : 's'}${e.rttNs !== null ? `, rtt ${(e.rttNs / 1e6).toFixed(3)} ms` : ''}${e.error ? ` (${e.error})` : ''}` : r.error ?? 'not sent',
      };
    });
  },
  figures: (_t, _o, s) => ({ udpEcho: { exchanges: s.client!.result.exchanges, error: s.client!.result.error, server: s.server?.result ?? null } }),
});
