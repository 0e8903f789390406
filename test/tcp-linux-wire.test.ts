// What Linux 6.1 puts on the wire at the start of a connection, read from the board's capture
// with tshark and compared with figures worked by hand from 6.1's formulas (and seen from a
// real kernel in network namespaces: the SYN-ACK of a listener with default buffers and
// timestamps offers 65160, the active SYN 64240; a bulk sender's first flight is 10 segments).
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { REPO_ROOT, removeTempDirs, runToDir } from './helpers/run.js';
import { tsharkFields } from './helpers/tshark.js';

afterAll(removeTempDirs);

const DUT = '192.0.2.2';
const LAB = '192.0.2.1';

describe('the start of a bulk upload (bulk-tx, quark-2m, minimal)', () => {
  // The board's device without byte queue limits, as the veth of the real-kernel check has
  // none: frames leave in the instant TCP sends them, so the capture's order before the first
  // ACK is the first flight. (stmmac's BQL paces that flight by TX completions, interleaving
  // it with the lab's ACKs; packetdrill's iw10-first-flight.pkt checks the window on tun.)
  const r = runToDir({ scenario: 'bulk-tx:bytes=200000', afterBoot: (b) => { if (b.role === 'dut') b.dev.bql = false; } });
  // One tshark pass (it takes about a second to start): every TCP segment's fields.
  const rows = tsharkFields(r.capturePath!, ['ip.src', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.window_size_value', 'tcp.options.wscale.shift', 'tcp.len', 'tcp.ack'], 'tcp');
  const syns = rows.filter((x) => x[1] === '1');

  it('SYN-ACK window 65160 (tcp_select_initial_window rounds to the MSS less the timestamp option); the SYN 64240', () => {
    // tcp_full_space(131072) = 131072 − (131072 >> 1) = 65536. The SYN-ACK, with timestamps
    // agreed, rounds down to a multiple of 1460 − 12 = 1448: 45 × 1448 = 65160. The active SYN
    // does not (ts_recent_stamp is still 0): 44 × 1460 = 64240.
    expect(syns.map((x) => [x[0], x[2], x[3]])).toEqual([
      [DUT, '0', '64240'],
      [LAB, '1', '65160'],
    ]);
  });

  it('window scale: 3 on the lab host (tcp_rmem[2] from nr_free_buffer_pages), 2 on the 2 MiB board', () => {
    // The lab host's report: 15463 managed pages, min_free_kbytes 992 (248 pages). High
    // watermark = 248 + 2 × max(248 / 4, 15463 × 10 / 10000) = 248 + 2 × 62 = 372, so
    // nr_free_buffer_pages = 15463 − 372 = 15091; limit = 15091 << 5 = 482912 bytes;
    // tcp_rmem[2] = max(128 KiB, min(6 MiB, 482912)) = 482912, tcp_wmem[2] the same (< 4 MiB);
    // tcp_mem = max(15091 / 16, 128) = 943 → 705, 943, 1410. Scale: ilog2(482912) − 15 = 3.
    // The board: rmem[2] = 128 KiB, rmem_max = (192 + 256 + 256) × 256 = 180224 → ilog2 17 − 15 = 2.
    const lab = r.report.boards[1]!;
    expect(lab.memory!.heapBytes / 4096).toBe(15463);
    expect(lab.memory!.minFreeKbytes).toBe(992);
    expect(lab.tcp!.tcpRmem).toEqual([4096, 131072, 482912]);
    expect(lab.tcp!.tcpWmem).toEqual([4096, 16384, 482912]);
    expect(lab.tcp!.tcpMemPages).toEqual([705, 943, 1410]);
    const dut = r.report.boards[0]!;
    expect(dut.tcp!.tcpRmem).toEqual([4096, 131072, 131072]);
    expect(dut.tcp!.tcpWmem).toEqual([4096, 16384, 65536]);
    expect(syns.map((x) => [x[0], x[4]])).toEqual([
      [DUT, '2'],
      [LAB, '3'],
    ]);
  });

  it('first flight of 10 segments (initial window 10; tcp_sndbuf_expand at establishment)', () => {
    // tcp_init_buffer_space → tcp_sndbuf_expand: per_mss = roundup_pow_of_two(1460 + 192 +
    // 256) + 192 = 2240; sndbuf = 2 × max(10, cwnd 10, reordering 3 + 1) × 2240 = 44800, which
    // holds 18 segments of 2432 bytes' truesize: cwnd (10), not the 16 KiB default, limits the
    // flight. Before the expansion: 16384 / 2432 → 7 segments.
    let flight = 0;
    for (const [src, syn, , , , len, ack] of rows) {
      if (syn === '1') continue;
      if (src === LAB && Number(ack) > 1) break; // the first ACK of data
      if (src === DUT && Number(len) > 0) flight++;
    }
    expect(flight).toBe(10);
  });
});

/**
 * For each TCP connection in a capture: how the server (`server`) first acknowledged each HTTP
 * request from `client` — a 'pure ACK', or 'data' (the response carrying the ACK) — and how
 * long after the first request the first response data left.
 */
function requestAcks(capture: string, client: string, server: string): { kinds: string[]; firstReplyDelay: number }[] {
  const rows = tsharkFields(capture, ['tcp.stream', 'ip.src', 'tcp.seq', 'tcp.len', 'tcp.ack', 'frame.time_relative', 'http.request'], 'tcp');
  const byStream = new Map<string, string[][]>();
  for (const x of rows) byStream.set(x[0]!, [...(byStream.get(x[0]!) ?? []), x]);
  const out: { kinds: string[]; firstReplyDelay: number }[] = [];
  for (const seg of byStream.values()) {
    const kinds: string[] = [];
    let firstReplyDelay = Infinity;
    seg.forEach((x, i) => {
      if (x[1] !== client || x[6] !== '1') return;
      const end = Number(x[2]) + Number(x[3]);
      const later = seg.slice(i + 1);
      // The server's first segment that acknowledges the whole request.
      const first = later.find((y) => y[1] === server && Number(y[4]) >= end);
      kinds.push(first && Number(first[3]) > 0 ? 'data' : 'pure ACK');
      if (kinds.length === 1) firstReplyDelay = Number(later.find((y) => y[1] === server && Number(y[3]) > 0)![5]) - Number(x[5]);
    });
    out.push({ kinds, firstReplyDelay });
  }
  return out;
}

describe('interactive delayed ACK (pingpong) on the board as an HTTP server (http-serve)', () => {
  it('the first request of a connection gets a pure ACK; the second rides on the response when the first reply went out within ato (40 ms) — as Linux in a namespace does', () => {
    // Reference: test/fixtures/linux-netns-http-two-requests.pcapng, two Linux ends in network
    // namespaces on a veth pair (this machine's kernel, 6.18: newer than 6.1, same rule here),
    // a server that reads a request and answers 5 ms later, twice on one connection:
    // GET → pure ACK → response; then GET → response carrying the ACK.
    const linux = requestAcks(join(REPO_ROOT, 'test', 'fixtures', 'linux-netns-http-two-requests.pcapng'), '192.0.2.2', '192.0.2.1');
    expect(linux.map((c) => c.kinds)).toEqual([['pure ACK', 'data']]);
    // A reply sent within ato (TCP_ATO_MIN, 40 ms) of the data it answers puts the sender in
    // pingpong mode (tcp_event_data_sent), which suspends quick ACKs; a later reply does not,
    // and the next request is ACKed at once again.
    const r = runToDir({ scenario: 'http-serve' });
    const board = requestAcks(r.capturePath!, LAB, DUT);
    expect(board).toHaveLength(8);
    for (const c of board) expect(c.kinds).toEqual(['pure ACK', c.firstReplyDelay < 0.04 ? 'data' : 'pure ACK']);
    expect(board.filter((c) => c.kinds[1] === 'data').length).toBeGreaterThanOrEqual(6);
  });
});
