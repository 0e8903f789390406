// An ACK can reach the board while its driver still holds the segment's clone: stmmac reports
// TX completion only every STMMAC_TX_FRAMES (25) frames or when its tx_coal_timer (1000 µs,
// drivers/net/ethernet/stmicro/stmmac/common.h in 6.1) fires, and a peer on the same switch
// answers well within a millisecond. Linux 6.1 frees the acknowledged skb's share of the socket
// at once (tcp_clean_rtx_queue → tcp_wmem_free_skb: sk_wmem_queued and the memory charge drop
// by its truesize); only the buffer itself waits for the driver's clone. A sender woken by
// ACKs (sk_stream_write_space) therefore keeps writing.
//
// stmmac_xmit re-arms that timer on every frame (stmmac_tx_timer_arm, hrtimer_start), so a
// burst of fewer than 25 frames completes 1 ms after its last frame is queued, all at once. The
// wire here reports the board's TX completions that way: in batches, at the first 2 ms boundary
// after each frame's last bit, which puts a whole flight's ACKs before its completions, as on a
// real board and in `quarklab live`. (Completions in batches are also what lets byte queue
// limits see the ring run dry and grow its limit, as on stmmac; one late completion per frame
// would keep a few frames always in flight and the limit at two frames.) With iperf3 -R (the
// board sends, the lab host's client receives) the board must keep the link near its ceiling,
// worked by hand: a 1448-byte payload in 1538 bytes on the wire, 100 Mbit/s × 1448 / 1538 =
// 94.15 Mbit/s. Holding sk_wmem_queued until the driver let go left the writer waiting for a
// wake-up that never came: 0.3 Mbit/s (issue 15's live -R stall, where frames reached Linux
// before their TX completion).
import { describe, expect, it } from 'vitest';
import { Iperf3Client, Iperf3Server, IPERF3_PORT } from '../apps/iperf3.js';
import type { Program } from '../apps/program.js';
import type { EthernetMac } from '../emulator/ethernet-mac.js';
import { NS_PER_MS, NS_PER_SEC } from '../emulator/event-queue.js';
import { Process, type TraceLine } from '../scenarios/process.js';
import { bootPair, DUT_IP, type Pair } from './helpers/lab-pair.js';

const LINK_CEILING_BPS = (100e6 * 1448) / 1538;
/** STMMAC_COAL_TX_TIMER (1000 µs) after a burst of up to ~8 frames (1 ms on the link). */
const TX_COAL_NS = 2 * NS_PER_MS;
/** The coalescing timer's next firing after a frame's last bit: completions come in batches. */
const coalesced = (doneNs: number): number => Math.floor(doneNs / TX_COAL_NS + 1) * TX_COAL_NS;

function spawn(p: Pair, on: 'dut' | 'lab', program: Program, trace: TraceLine[]): Process {
  const b = on === 'dut' ? p.dut : p.lab;
  const proc = new Process(on, program, b.stack, p.world.sim, trace);
  proc.start();
  return proc;
}

describe('TCP send buffer: an ACK that arrives before the driver frees the clone', () => {
  it('iperf3 -R from quark-2m keeps sending when TX completions come in 2 ms batches after the last bit', () => {
    const p = bootPair();
    const dutMac: EthernetMac = p.dut.board.mac;
    const transmit = p.wire.transmit.bind(p.wire);
    // The frame leaves on time; only the board's completion interrupt is late.
    p.wire.transmit = (from, bytes, offset, length) => {
      const done = transmit(from, bytes, offset, length);
      return from === dutMac ? coalesced(done) : done;
    };
    const trace: TraceLine[] = [];
    const server = new Iperf3Server();
    spawn(p, 'dut', server, trace);
    const client = new Iperf3Client({ server: { addr: DUT_IP, port: IPERF3_PORT }, timeNs: NS_PER_SEC / 2, reverse: true, parallel: 1, seed: 1 });
    spawn(p, 'lab', client, trace);
    p.world.sim.run(p.world.sim.now + 5 * NS_PER_SEC);
    expect(client.result.error).toBeNull();
    expect(client.exitCode).toBe(0);
    expect(client.result.receiverBps).toBeGreaterThan(LINK_CEILING_BPS * 0.9);
    expect(client.result.receiverBps).toBeLessThanOrEqual(LINK_CEILING_BPS * 1.001);
  });
});
