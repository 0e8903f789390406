// IP IDs and DF as Linux 6.1 chooses them (ip_select_ident_segs, include/net/ip.h), read from
// the board's capture with tshark: a connected socket numbers every packet from its own inet_id;
// a DF packet with no connected socket (SYN-ACK, the control socket's RSTs and TIME_WAIT ACKs)
// has ID 0; everything else takes a hashed per-(daddr, saddr, protocol) counter. Raw-socket
// ping goes out with DF (IP_PMTUDISC_WANT), the ICMP echo reply without it.
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, runToDir } from './helpers/run.js';
import { columns, eq, hasProtocol, tsharkFields, tsharkPass } from './helpers/tshark.js';

afterAll(removeTempDirs);

describe('IP ID (ip_select_ident_segs)', () => {
  it('a TCP connection counts from its own inet_id on each side; the SYN-ACK has ID 0', () => {
    const r = runToDir({ scenario: 'dns' });
    // One tshark pass (a start costs ~0.5 s) for the rows the display filters `tcp` and
    // `udp && ip.src == 192.0.2.2` would keep: frame.protocols names the protocol.
    const frames = tsharkPass(r.capturePath!, ['frame.protocols', 'ip.src', 'ip.id', 'ip.flags.df', 'tcp.flags.syn', 'tcp.flags.ack']).rows;
    const rows = columns(frames.filter((f) => hasProtocol(f, 'tcp')), ['ip.src', 'ip.id', 'ip.flags.df', 'tcp.flags.syn', 'tcp.flags.ack']);
    expect(rows.length).toBeGreaterThan(8);
    for (const side of ['192.0.2.2', '192.0.2.1']) {
      const mine = rows.filter((x) => x[0] === side && !(x[3] === '1' && x[4] === '1'));
      const ids = mine.map((x) => parseInt(x[1]!, 16));
      // Every packet of the connection, pure ACKs included, takes the next number.
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe((ids[0]! + i) & 0xffff);
      expect(mine.every((x) => x[2] === '1')).toBe(true);
    }
    // The lab host's SYN-ACK leaves from the request sock (ip_build_and_send_pkt): DF, ID 0.
    const synAck = rows.filter((x) => x[3] === '1' && x[4] === '1');
    expect(synAck).toEqual([['192.0.2.1', '0x0000', '1', '1', '1']]);
    // The DUT's UDP queries (an unconnected socket, DF under IP_PMTUDISC_WANT) do not continue
    // the TCP connection's numbers: they come from the hashed counter.
    const udp = frames.filter((f) => hasProtocol(f, 'udp') && eq(f, 'ip.src', '192.0.2.2')).map((f) => parseInt(f['ip.id']!, 16));
    const tcpIds = new Set(rows.filter((x) => x[0] === '192.0.2.2').map((x) => parseInt(x[1]!, 16)));
    expect(udp.length).toBeGreaterThan(0);
    expect(udp.some((id) => tcpIds.has(id) || tcpIds.has((id + 1) & 0xffff))).toBe(false);
  });
});

describe('raw-socket ping', () => {
  it('echo requests go out with DF (IP_PMTUDISC_WANT); the echo replies (ICMP control socket) without, hashed IDs', () => {
    const r = runToDir({ scenario: 'ping', board: 'quark-4m', profile: 'full' });
    expect(r.report.checks.find((c) => c.name === 'ping replies')?.detail).toContain('via raw socket');
    // One tshark pass for requests and replies, split by tshark's icmp.type.
    const echo = tsharkFields(r.capturePath!, ['icmp.type', 'ip.flags.df', 'ip.id'], 'icmp.type == 8 || icmp.type == 0');
    const req = echo.filter((x) => x[0] === '8').map((x) => x.slice(1));
    const rep = echo.filter((x) => x[0] === '0').map((x) => x.slice(1));
    expect(req.length + rep.length).toBe(echo.length);
    expect(req).toHaveLength(4);
    expect(rep).toHaveLength(4);
    expect(req.every((x) => x[0] === '1')).toBe(true);
    expect(rep.every((x) => x[0] === '0')).toBe(true);
    // The requests are DF but not from a connected socket, and skb->ignore_df holds: hashed, not 0.
    expect(req.some((x) => x[1] !== '0x0000')).toBe(true);
  });
});
