// PROC_FS: /proc/net files read through sys.readProc on the full profile, parsed as a program
// parses Linux's (the column lists below are Linux 6.1's, written out independently of the
// implementation), and their absence on the client profile.
import { describe, expect, it } from 'vitest';
import { NS_PER_MS, NS_PER_SEC } from '../emulator/event-queue.js';
import { liveObjectBytes } from '../scenarios/boot.js';
import { ipMreqn } from '../stack/ipv4/igmp.js';
import type { Syscalls } from '../stack/socket/syscalls.js';
import { bootPair, DUT_IP, pattern, settle, type Pair } from './helpers/lab-pair.js';
import { IPPROTO_ICMP } from '../stack/uapi/in.js';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';

const IP_COLUMNS = 'Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates';
const ICMP_COLUMNS =
  'InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps ' +
  'OutMsgs OutErrors OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps';
const TCP_COLUMNS = 'RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors';
const UDP_COLUMNS = 'InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors';
const IPEXT_COLUMNS = 'InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets InCsumErrors InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts ReasmOverlaps';

/** Linux's "Name: col col…" / "Name: v v…" line pairs, as netstat -s and nstat read them. */
function parsePairs(text: string): { name: string; values: Map<string, number> }[] {
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.slice(0, -1).split('\n');
  expect(lines.length % 2).toBe(0);
  const out = [];
  for (let i = 0; i < lines.length; i += 2) {
    const [hn, ...cols] = lines[i]!.split(' ');
    const [vn, ...vals] = lines[i + 1]!.split(' ');
    expect(hn).toBe(vn);
    expect(hn!.endsWith(':')).toBe(true);
    expect(vals).toHaveLength(cols.length);
    for (const v of vals) expect(v).toMatch(/^-?\d+$/);
    out.push({ name: hn!.slice(0, -1), values: new Map(cols.map((c, k) => [c, Number(vals[k])])) });
  }
  return out;
}

function read(sys: Syscalls, path: string): string {
  const t = sys.readProc(path);
  if (typeof t === 'number') throw new Error(`${path}: ${t}`);
  return t;
}

/** The lab host pings the DUT `n` times through its ping socket. */
function pingDut(p: Pair, n: number): void {
  const fd = p.labSys.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  for (let i = 0; i < n; i++) {
    const echo = new Uint8Array(8 + 16);
    echo[0] = 8;
    echo[7] = i;
    echo.set(pattern(16, i), 8);
    expect(p.labSys.sendto(fd, echo, { addr: DUT_IP, port: 0 })).toBe(24);
    settle(p, 10 * NS_PER_MS);
    expect(typeof p.labSys.recvfrom(fd)).toBe('object');
  }
  expect(p.labSys.close(fd)).toBe(0);
}

/** Little-endian %08X of an address, as Linux prints a __be32 on i386 (written out by hand here). */
const LE = { dut: '020200C0', lab: '010200C0', net: '000200C0', any: '00000000', mask24: '00FFFFFF' };

describe('/proc/net on the full profile', () => {
  it('/proc/net/snmp: Linux 6.1 lines and columns; the Icmp line counts the pings', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    pingDut(p, 3);
    const text = read(p.dutSys, '/proc/net/snmp');
    const groups = parsePairs(text);
    expect(groups.map((g) => g.name)).toEqual(['Ip', 'Icmp', 'IcmpMsg', 'Tcp', 'Udp', 'UdpLite']);
    const lines = text.split('\n');
    expect(lines[0]).toBe(`Ip: ${IP_COLUMNS}`);
    expect(lines[2]).toBe(`Icmp: ${ICMP_COLUMNS}`);
    expect(lines[6]).toBe(`Tcp: ${TCP_COLUMNS}`);
    expect(lines[8]).toBe(`Udp: ${UDP_COLUMNS}`);
    expect(lines[10]).toBe(`UdpLite: ${UDP_COLUMNS}`);
    const g = Object.fromEntries(groups.map((x) => [x.name, x.values]));
    expect([g['Ip']!.get('Forwarding'), g['Ip']!.get('DefaultTTL')]).toEqual([2, 64]);
    expect(g['Icmp']!.get('InEchos')).toBe(3);
    expect(g['Icmp']!.get('OutEchoReps')).toBe(3);
    expect(g['Icmp']!.get('InMsgs')).toBe(3);
    expect(g['Icmp']!.get('OutMsgs')).toBe(3);
    // IcmpMsg: only the types seen, In before Out.
    expect([...g['IcmpMsg']!.entries()]).toEqual([['InType8', 3], ['OutType0', 3]]);
    expect(g['Tcp']!.get('MaxConn')).toBe(-1);
    // The lines carry the stack's own counters.
    const mib = p.dut.stack.mib.snapshot();
    expect(g['Ip']!.get('InReceives')).toBe(mib['Ip']!['InReceives']);
    expect(g['Ip']!.get('InDelivers')).toBe(mib['Ip']!['InDelivers']);
    expect(g['Ip']!.get('OutRequests')).toBe(mib['Ip']!['OutRequests']);

    const netstat = read(p.dutSys, '/proc/net/netstat');
    const ns = parsePairs(netstat);
    expect(ns.map((x) => x.name)).toEqual(['TcpExt', 'IpExt']);
    expect(netstat.split('\n')[2]).toBe(`IpExt: ${IPEXT_COLUMNS}`);
    const tcpExt = [...ns[0]!.values.keys()];
    expect(tcpExt.slice(0, 4)).toEqual(['SyncookiesSent', 'SyncookiesRecv', 'SyncookiesFailed', 'EmbryonicRsts']);
    expect(tcpExt.slice(-4)).toEqual(['TCPDSACKRecvSegs', 'TCPDSACKIgnoredDubious', 'TCPMigrateReqSuccess', 'TCPMigrateReqFailure']);
    expect(tcpExt).toHaveLength(125); // snmp4_net_list in 6.1: TCPMigrateReqFailure is its last (TCPPLBRehash came in 6.2)
  });

  it('/proc/net/tcp shows a listening socket and a connection; /proc/net/udp a bound socket', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const s = p.dutSys;
    const lfd = s.socket(AF_INET, SOCK_STREAM, 0);
    expect(s.bind(lfd, { addr: 0, port: 80 })).toBe(0);
    expect(s.listen(lfd, 4)).toBe(0);
    let tcp = read(s, '/proc/net/tcp').split('\n');
    expect(tcp[0]).toBe('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'.padEnd(149));
    expect(tcp).toHaveLength(3); // header, one socket, and the empty string after the last newline
    expect(tcp[1]).toHaveLength(149);
    const listen = tcp[1]!.trim().split(/\s+/);
    expect(listen.slice(0, 8)).toEqual(['0:', `${LE.any}:0050`, `${LE.any}:0000`, '0A', '00000000:00000000', '00:00000000', '00000000', '0']);

    // The lab connects: the child shows as established, with both addresses.
    const cfd = p.labSys.socket(AF_INET, SOCK_STREAM, 0);
    expect(p.labSys.connect(cfd, { addr: DUT_IP, port: 80 })).toBe(-Errno.EINPROGRESS);
    settle(p, 10 * NS_PER_MS);
    tcp = read(s, '/proc/net/tcp').split('\n');
    expect(tcp).toHaveLength(4);
    const est = tcp[2]!.trim().split(/\s+/);
    const labPort = p.lab.stack.tcp!.ehash.values().next().value!.lport;
    expect(est.slice(0, 4)).toEqual(['1:', `${LE.dut}:0050`, `${LE.lab}:${labPort.toString(16).toUpperCase().padStart(4, '0')}`, '01']);
    // The listener's rx_queue is its accept backlog: one connection waiting.
    expect(tcp[1]!.trim().split(/\s+/)[4]).toBe('00000000:00000001');

    const ufd = s.socket(AF_INET, SOCK_DGRAM, 0);
    expect(s.bind(ufd, { addr: DUT_IP, port: 5000 })).toBe(0);
    const udp = read(s, '/proc/net/udp').split('\n');
    expect(udp[0]).toBe('   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops'.padEnd(127));
    const row = udp[1]!.trim().split(/\s+/);
    expect(row.slice(1, 4)).toEqual([`${LE.dut}:1388`, `${LE.any}:0000`, '07']);
    expect(Number(row[0]!.slice(0, -1))).toBe(5000 & p.dut.stack.udp!.hash.mask); // the hash slot
    expect(row[row.length - 1]).toBe('0'); // drops
  });

  it('/proc/net/dev, arp, route and igmp describe the interface, its neighbour, its routes and its groups', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    pingDut(p, 1);
    const s = p.dutSys;
    const dev = read(s, '/proc/net/dev').split('\n');
    expect(dev[0]).toBe('Inter-|   Receive                                                |  Transmit');
    expect(dev[1]).toBe(' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed');
    expect(dev[2]!.startsWith('  eth0: ')).toBe(true);
    const cols = dev[2]!.slice(7).trim().split(/\s+/).map(Number);
    expect(cols).toHaveLength(16);
    const st = p.dut.dev.stats;
    expect([cols[0], cols[1], cols[8], cols[9]]).toEqual([st.rx_bytes, st.rx_packets, st.tx_bytes, st.tx_packets]);

    const arp = read(s, '/proc/net/arp').split('\n');
    expect(arp[0]).toBe('IP address       HW type     Flags       HW address            Mask     Device');
    const labMac = Array.from(p.lab.dev.hwAddr, (b) => b.toString(16).padStart(2, '0')).join(':');
    expect(arp).toContain(`192.0.2.1        0x1         0x2         ${labMac}     *        eth0`);

    const route = read(s, '/proc/net/route').split('\n');
    expect(route[0]).toBe('Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT'.padEnd(127));
    expect(route.slice(1, 3).map((l) => l.trimEnd())).toEqual([
      `eth0\t${LE.any}\t${LE.lab}\t0003\t0\t0\t0\t${LE.any}\t0\t0\t0`, // default via 192.0.2.1: UP|GATEWAY
      `eth0\t${LE.net}\t${LE.any}\t0001\t0\t0\t0\t${LE.mask24}\t0\t0\t0`,
    ]);
    for (const l of route.slice(0, 3)) expect(l).toHaveLength(127);

    const fd = s.socket(AF_INET, SOCK_DGRAM, 0);
    expect(s.bind(fd, { addr: 0, port: 5000 })).toBe(0);
    expect(s.setsockopt(fd, 'IP_ADD_MEMBERSHIP', ipMreqn(0xef010203))).toBe(0);
    settle(p, NS_PER_SEC);
    expect(read(s, '/proc/net/igmp')).toBe(
      'Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n' +
        '2\teth0      :     2      V3\n' +
        '\t\t\t\t030201EF     1 0:00000000\t\t0\n' +
        '\t\t\t\t010000E0     1 0:00000000\t\t0\n',
    );
    expect(s.close(fd)).toBe(0);

    // Reading allocates only the seq_file page, and gives it back.
    const before = liveObjectBytes(p.dut.board.ram);
    for (const f of ['snmp', 'netstat', 'dev', 'arp', 'route', 'tcp', 'udp', 'igmp']) read(s, `/proc/net/${f}`);
    expect(liveObjectBytes(p.dut.board.ram)).toBe(before);
    expect(s.readProc('/proc/net/fib_trie')).toBe(-Errno.ENOENT);
    expect(s.readProc('/proc/net/../../etc/passwd')).toBe(-Errno.ENOENT);
  });
});

describe('/proc/net without PROC_FS (client)', () => {
  it('every file is ENOENT', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'client' });
    for (const f of ['snmp', 'netstat', 'dev', 'arp', 'route', 'tcp', 'udp', 'igmp']) expect(p.dutSys.readProc(`/proc/net/${f}`)).toBe(-Errno.ENOENT);
  });
});
