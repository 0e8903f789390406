// UDP echo with the lab host: datagrams up to 4000 bytes, beyond the 1500-byte MTU, leave the
// board in IP fragments, are reassembled by the lab host, echoed (fragmented again) and
// reassembled by the board; the client checks every echo byte for byte, and tshark sees the
// fragments and the reassembled datagrams.
import { afterAll, describe, expect, it } from 'vitest';
import { echoPayload } from '../apps/udp-echo.js';
import { ECHO_SIZES } from '../scenarios/udp-echo.js';
import { removeTempDirs, runToDir } from './helpers/run.js';
import { columns, eq, tsharkPass, values } from './helpers/tshark.js';

afterAll(removeTempDirs);

/** Run a scenario the first time a test needs it (so a filtered run does only what it uses). */
function once<T>(make: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= make());
}

describe('udp-echo scenario', () => {
  const get = once(() => runToDir({ scenario: 'udp-echo', seed: 3 }));
  // One tshark pass serves the three tshark tests (a start costs ~0.5 s): the rows the display
  // filters `ip.flags.mf == 1 || ip.frag_offset > 0` and `udp.port == 7` would keep are picked
  // from it, and it prints the `-z expert` text. IP reassembly is on, as the echo test needs: the
  // fragment fields are each frame's own IP header, dissected the same with ip.defragment off.
  // Checksum checking, on for the expert check, changes no field while every checksum is good.
  const pass = once(() => tsharkPass(get().capturePath!, ['ip.src', 'ip.id', 'ip.flags.mf', 'ip.frag_offset', 'ip.len', 'udp.port', 'udp.length', 'echo.data'], { extraArgs: ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'], expert: true }));

  it('echoes every size intact, with RAM back at the baseline', () => {
    const run = get();
    expect(run.report.checks.filter((c) => !c.pass)).toEqual([]);
    const ex = (run.report.scenario.figures['udpEcho'] as { exchanges: { size: number; intact: boolean; sent: number }[] }).exchanges;
    expect(ex.map((e) => [e.size, e.intact, e.sent])).toEqual(ECHO_SIZES.map((s) => [s, true, 1]));
  });

  it('fragments the 4000-byte datagram in both directions: 1480 + 1480 + 1048 bytes (offsets in 8-byte units), MF on all but the last', () => {
    const frags = columns(pass().rows.filter((r) => eq(r, 'ip.flags.mf', '1') || values(r, 'ip.frag_offset').some((o) => Number(o) > 0)), ['ip.src', 'ip.id', 'ip.flags.mf', 'ip.frag_offset', 'ip.len']);
    const from = (src: string) => frags.filter((r) => r[0] === src);
    for (const src of ['192.0.2.2', '192.0.2.1']) {
      const all = from(src);
      // 1473 bytes: two fragments; 4000 bytes: three.
      const ids = [...new Set(all.map((r) => r[1]))];
      expect(ids).toHaveLength(2);
      const big = all.filter((r) => r[1] === ids[1]);
      expect(big.map((r) => [r[2], r[3], r[4]])).toEqual([['1', '0', '1500'], ['1', '185', '1500'], ['0', '370', '1068']]);
    }
  });

  it('tshark reassembles each datagram and sees the echo equal to the request', () => {
    const rows = columns(pass().rows.filter((r) => eq(r, 'udp.port', '7')), ['ip.src', 'udp.length', 'echo.data']);
    expect(rows.map((r) => [r[0], r[1]])).toEqual(ECHO_SIZES.flatMap((s) => [['192.0.2.2', String(s + 8)], ['192.0.2.1', String(s + 8)]]));
    for (let i = 0; i < ECHO_SIZES.length; i++) {
      const want = Buffer.from(echoPayload(i, ECHO_SIZES[i]!)).toString('hex');
      expect(rows[2 * i]![2]!.replace(/:/g, '')).toBe(want);
      expect(rows[2 * i + 1]![2]!.replace(/:/g, '')).toBe(want);
    }
  });

  it('has no malformed packets and no error-level expert info', () => {
    expect(pass().expert).not.toMatch(/Malformed|Errors \(/);
  });
});
