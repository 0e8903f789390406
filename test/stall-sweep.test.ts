// Stalls the stall sweep found (docs/stall-sweep.md), each kept as a test.
//
// slow-readers:loss=0.05 on quark-4m with client: a lost window update left the lab host (the
// sender) with a non-zero peer window too small for its next segment and nothing in flight.
// quarklab armed the probe timer only for a zero window, so both ends stayed silent until the
// 600 s limit. Linux's tcp_check_probe_timer arms it whatever the window
// (linux-6.1-tcp-facts.md, "Persist"), and the probe's answer reopens the transfer.
//
// What the probe sends is tested on its own, against hand-worked figures: test/tcp-persist.test.ts
// and test/packetdrill/persist-small-window.pkt (tcp_write_wakeup's min(window, MSS) with PSH).
// Here the run must complete with no stall. Since the RACK/TLP merge the sweep's window updates
// get through before the persist timer fires, and when it fires on an open window Linux 6.1
// sends tcp_write_wakeup's partial segment, which counts no MIB: LINUX_MIB_TCPWINPROBE is
// counted only in tcp_xmit_probe_skb, the zero-window probe (a bare ACK with seq snd_una − 1).
// So TCPWinProbe is checked against the capture: the lab host's zero-window probes in it.
//
// The run's last check needs a slow reader that sat idle past STALL_NS (5 s) before its FIN.
// How long the readers sit idle follows the free RAM the socket limits are sized from
// (nr_free_buffer_pages) and the loss draws the timings meet, so it moves with every page boot
// takes. The sweep ran before boards modelled SLOB and found the case with seed 1, replayed on
// SLUB (client with CONFIG_SLUB=y) until the netdev hashes were charged (two kmalloc(1024) at
// boot, test/netdev-hash.test.ts): then seed 1's longest idle there was 3.9 s, and none of
// seeds 1–12 on SLUB passed 5 s (the longest, seed 3, 4.7 s). On client's own allocator, SLOB,
// seeds 1–6 gave 3.7, 3.7, 1.2, 11.6, 6.3 and 3.7 s: seed 4, the one with a margin, is the run
// here (the lab host sent no zero-window probe in it, nor in any run of either scan). Every
// seed of both scans completed with every download intact and no stall.
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../scenarios/run.js';
import { STALL_NS } from '../traces/stall.js';
import { isPcapngError, readPcapng } from '../traces/pcapng-reader.js';
import { removeTempDirs } from './helpers/run.js';

afterAll(removeTempDirs);

describe('stalls found by the sweep', () => {
  it('slow-readers:loss=0.05 on quark-4m/client completes: the probe timer covers a too-small window', () => {
    const out = run({ board: 'quark-4m', profile: 'client', scenario: 'slow-readers:loss=0.05', capture: 'all', seed: 4 });
    const r = out.report!;
    expect(r.boards[0]!.memory!.allocator).toBe('slob');
    expect(r.checks.find((c) => c.name === 'scenario completes')).toBeUndefined();
    const downloads = r.checks.find((c) => c.name === 'every slow download completes intact')!;
    expect(downloads.pass, downloads.detail).toBe(true);
    expect(r.virtualTimeNs).toBeLessThan(60e9);
    expect(r.stalls ?? []).toEqual([]);
    // The sender is the lab host: TCPWinProbe counts its zero-window probes, each a segment
    // with no payload one below what the board last acknowledged on that connection. They are
    // read from the lab host's own capture: a probe the lossy wire dropped never reaches the
    // board's.
    const lab = r.boards.find((b) => b.role === 'lab')!;
    const cap = readPcapng(out.labCapture!);
    if (isPcapngError(cap)) throw new Error(cap.message);
    const lastAck = new Map<string, number>();
    let zeroWindowProbes = 0;
    for (const p of cap.packets) {
      const d = p.data;
      if (d.length < 54 || d[12] !== 0x08 || d[13] !== 0x00 || d[23] !== 6) continue;
      const ihl = (d[14]! & 15) * 4;
      const tcp = 14 + ihl;
      const view = new DataView(d.buffer, d.byteOffset, d.length);
      const sport = view.getUint16(tcp);
      const dport = view.getUint16(tcp + 2);
      const seq = view.getUint32(tcp + 4);
      const ack = view.getUint32(tcp + 8);
      const payload = 14 + view.getUint16(16) - tcp - (d[tcp + 12]! >> 4) * 4;
      if (p.direction === 'inbound') lastAck.set(`${dport}:${sport}`, ack);
      else if (payload === 0 && lastAck.get(`${sport}:${dport}`) === ((seq + 1) >>> 0)) zeroWindowProbes++;
    }
    expect(lab.snmp!['TcpExt']!['TCPWinProbe']).toBe(zeroWindowProbes);
    // No stall either where a connection sat idle: a slow reader that had every byte sent its
    // FIN only when it finished reading, more than the stall threshold after the last data came
    // (read from the same capture). With nothing to move in between, that wait is not a stall.
    let longestIdle = 0;
    const lastData = new Map<number, bigint>();
    for (const p of cap.packets) {
      const d = p.data;
      if (d.length < 54 || d[12] !== 0x08 || d[13] !== 0x00 || d[23] !== 6) continue;
      const tcp = 14 + (d[14]! & 15) * 4;
      const view = new DataView(d.buffer, d.byteOffset, d.length);
      const payload = 14 + view.getUint16(16) - tcp - (d[tcp + 12]! >> 4) * 4;
      const fin = (d[tcp + 13]! & 1) !== 0;
      if (p.direction === 'outbound' && payload > 0) lastData.set(view.getUint16(tcp + 2), p.timestampNs);
      if (p.direction === 'inbound' && fin) {
        const last = lastData.get(view.getUint16(tcp));
        if (last !== undefined) longestIdle = Math.max(longestIdle, Number(p.timestampNs - last));
      }
    }
    expect(longestIdle).toBeGreaterThan(STALL_NS);
  }, 60_000);
});
