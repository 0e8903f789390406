// DHCP (RFC 2131/2132): the message codec against hand-made and hostile bytes, and the
// scenarios end to end — the four-message exchange with every option dissected by tshark, the
// renewal at T1 at the right virtual time, a NAK that restarts the client, and the
// configuration path each profile has (rtnetlink on full, ioctl on minimal).
import { afterAll, describe, expect, it } from 'vitest';
import {
  BOOTP_MIN_LEN,
  BOOTREPLY,
  BOOTREQUEST,
  DhcpMessageType,
  dhcpLength,
  emitDhcp,
  ethernetClientId,
  parseDhcp,
  prefixLenOfMask,
  type DhcpRepr,
} from '../apps/dhcp-message.js';
import { addrMessage, defaultRouteMessage, ifreqAddr, parseNetlinkAck, rtentryDefault } from '../apps/net-config.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { removeTempDirs, runToDir } from './helpers/run.js';
import { EXPERT_FIELDS, expertProblem, tsharkFields } from './helpers/tshark.js';
import { RTENTRY_SIZE } from '../stack/uapi/route.js';
import { RTM_NEWADDR, RTM_NEWROUTE } from '../stack/uapi/rtnetlink.js';

afterAll(removeTempDirs);

/** Run a scenario the first time a test needs it (so a filtered run does only what it uses). */
function once<T>(make: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= make());
}

const MAC = Uint8Array.of(0x02, 0x51, 0, 0, 0, 2);

function offer(): DhcpRepr {
  return {
    op: BOOTREPLY,
    xid: 0xdeadbeef,
    secs: 0,
    broadcast: true,
    ciaddr: 0,
    yiaddr: 0xc0000264,
    siaddr: 0,
    giaddr: 0,
    chaddr: MAC,
    messageType: DhcpMessageType.OFFER,
    serverId: 0xc0000201,
    leaseTime: 3600,
    renewalTime: 1800,
    rebindingTime: 3150,
    subnetMask: 0xffffff00,
    routers: [0xc0000201],
    dnsServers: [0xc0000201, 0xc0000202],
    domainName: 'lab.quarklab.test',
  };
}

describe('DHCP message codec', () => {
  it('lays out the BOOTP header, cookie and options as RFC 2131 does, short messages padded to 300 bytes', () => {
    expect(emitDhcp(minimal()).length).toBe(BOOTP_MIN_LEN);
    const b = emitDhcp(offer());
    // 240 + 53(3) 54(6) 51(6) 58(6) 59(6) 1(6) 3(6) 6(10) 15(19) + END.
    expect(b.length).toBe(dhcpLength(offer()));
    expect(b.length).toBe(240 + 3 + 6 * 6 + 10 + 19 + 1);
    expect(Array.from(b.subarray(0, 4))).toEqual([2, 1, 6, 0]);
    expect(Array.from(b.subarray(4, 8))).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(Array.from(b.subarray(10, 12))).toEqual([0x80, 0]); // broadcast flag
    expect(Array.from(b.subarray(16, 20))).toEqual([192, 0, 2, 100]); // yiaddr
    expect(Array.from(b.subarray(28, 34))).toEqual(Array.from(MAC));
    expect(Array.from(b.subarray(236, 240))).toEqual([99, 130, 83, 99]);
    expect(Array.from(b.subarray(240, 243))).toEqual([53, 1, 2]); // message type first
    expect(b.indexOf(255, 240)).toBeGreaterThan(240);
  });

  it('round-trips every option the client and server use', () => {
    expect(parseDhcp(emitDhcp(offer()))).toEqual(offer());
    const req: DhcpRepr = {
      op: BOOTREQUEST, xid: 1, secs: 3, broadcast: true, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: MAC,
      messageType: DhcpMessageType.REQUEST, clientId: ethernetClientId(MAC), requestedIp: 0xc0000264, serverId: 0xc0000201,
      maxMessageSize: 1500, hostname: 'quark', parameterRequestList: [1, 3, 6, 12, 15, 51, 54, 58, 59],
      otherOptions: [{ code: 224, data: Uint8Array.of(1, 2, 3) }],
    };
    expect(parseDhcp(emitDhcp(req))).toEqual(req);
    expect(emitDhcp(req).length).toBe(dhcpLength(req));
  });

  it('splits options longer than 255 bytes and joins them again (RFC 3396)', () => {
    const r = offer();
    r.dnsServers = Array.from({ length: 70 }, (_, i) => 0x0a000001 + i); // 280 bytes
    const b = emitDhcp(r);
    expect(b.length).toBe(dhcpLength(r));
    expect((parseDhcp(b) as DhcpRepr).dnsServers).toEqual(r.dnsServers);
  });

  it('reads options from sname and file when option 52 says so', () => {
    const b = emitDhcp(minimal());
    expect(b[243]).toBe(255);
    b.set([52, 1, 1, 255], 243); // overload: file holds options
    b.set([15, 4, 0x74, 0x65, 0x73, 0x74, 255], 108);
    expect((parseDhcp(b) as DhcpRepr).domainName).toBe('test');
  });

  it('rejects bad input with a reason, never an exception', () => {
    const good = emitDhcp(offer());
    for (let n = 0; n < 240; n += 7) expect(parseDhcp(good.subarray(0, n))).toHaveProperty('error');
    const bad = (edit: (b: Uint8Array) => void, why: RegExp) => {
      const b = good.slice();
      edit(b);
      expect(parseDhcp(b)).toEqual({ error: expect.stringMatching(why) });
    };
    bad((b) => (b[0] = 3), /op 3/);
    bad((b) => (b[2] = 16), /hardware type/);
    bad((b) => (b[236] = 0), /cookie/);
    bad((b) => b.set([1, 200], 243), /claims 200 bytes/); // subnet mask option running off the end
    bad((b) => {
      b.fill(0, 240);
      b.set([53, 2, 2, 2, 255], 240);
    }, /option 53/);
    bad((b) => {
      b.fill(0, 240);
      b.set([53, 1, 2, 1, 3, 255, 255, 255, 255], 240);
    }, /option 1: length 3/);
    bad((b) => {
      b.fill(0, 240);
      b.set([12, 2, 0x41, 0x07, 255], 240);
    }, /not printable/);
    bad((b) => {
      b.fill(0, 240);
      b.set([57, 2, 0, 100, 255], 240);
    }, /below the minimum/);
    const tail = good.slice(0, 242);
    tail[240] = 53;
    tail[241] = 1;
    expect(parseDhcp(tail)).toEqual({ error: expect.stringMatching(/runs|left|length/) });
  });

  it('never throws on mutated messages (2000 deterministic random edits)', () => {
    const good = emitDhcp(offer());
    let x = 12345;
    const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
    for (let i = 0; i < 2000; i++) {
      const b = good.slice(0, 236 + (next() % (good.length - 235)));
      for (let k = 0; k < 1 + (next() % 6); k++) b[240 + (next() % Math.max(1, b.length - 240))] = next() & 255;
      const r = parseDhcp(b);
      expect(typeof r).toBe('object');
    }
  });

  it('accepts an option area that ends without END, and BOOTP without option 53', () => {
    const b = good300();
    expect((parseDhcp(b) as DhcpRepr).messageType).toBeNull();
  });

  it('turns masks into prefix lengths and refuses non-contiguous ones', () => {
    expect(prefixLenOfMask(0xffffff00)).toBe(24);
    expect(prefixLenOfMask(0)).toBe(0);
    expect(prefixLenOfMask(0xffffffff)).toBe(32);
    expect(prefixLenOfMask(0xff00ff00)).toBeNull();
  });
});

describe('net-config: the messages busybox ip and ifconfig/route would pass', () => {
  const cfg = { ifindex: 2, ifname: 'eth0', address: 0xc0000264, prefixLen: 24, router: 0xc0000201 };

  it('RTM_NEWADDR: nlmsghdr, ifaddrmsg and IFA_LOCAL/IFA_ADDRESS as on Linux/i386', () => {
    const m = addrMessage(RTM_NEWADDR, 7, cfg);
    expect(m.length).toBe(16 + 8 + 8 + 8);
    // nlmsg_len 40, type 20, flags REQUEST|ACK|EXCL|CREATE, seq 7, pid 0 — host (little-endian) order.
    expect(Array.from(m.subarray(0, 16))).toEqual([40, 0, 0, 0, 20, 0, 0x05, 0x06, 7, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(m.subarray(16, 24))).toEqual([2, 24, 0, 0, 2, 0, 0, 0]);
    expect(Array.from(m.subarray(24, 40))).toEqual([8, 0, 2, 0, 192, 0, 2, 100, 8, 0, 1, 0, 192, 0, 2, 100]);
  });

  it('RTM_NEWROUTE: rtmsg for the main table with RTA_GATEWAY and RTA_OIF', () => {
    const m = defaultRouteMessage(RTM_NEWROUTE, 8, cfg.router, 2);
    expect(m.length).toBe(16 + 12 + 8 + 8);
    expect(Array.from(m.subarray(16, 28))).toEqual([2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]);
    expect(Array.from(m.subarray(28, 44))).toEqual([8, 0, 5, 0, 192, 0, 2, 1, 8, 0, 4, 0, 2, 0, 0, 0]);
  });

  it('reads an NLMSG_ERROR acknowledgement, and refuses a short or mismatched one', () => {
    const ack = new Uint8Array(36);
    ack.set([36, 0, 0, 0, 2, 0, 0, 0, 8, 0, 0, 0]);
    expect(parseNetlinkAck(ack, 8)).toBe(0);
    ack.set([0xef, 0xff, 0xff, 0xff], 16); // -17, EEXIST
    expect(parseNetlinkAck(ack, 8)).toBe(-17);
    expect(parseNetlinkAck(ack, 9)).toHaveProperty('error');
    expect(parseNetlinkAck(ack.subarray(0, 20), 8)).toHaveProperty('error');
  });

  it('struct ifreq and struct rtentry for SIOCSIFADDR and SIOCADDRT', () => {
    const r = ifreqAddr('eth0', cfg.address);
    expect(Array.from(r.subarray(0, 5))).toEqual([0x65, 0x74, 0x68, 0x30, 0]);
    expect(Array.from(r.subarray(16, 24))).toEqual([2, 0, 0, 0, 192, 0, 2, 100]);
    const rt = rtentryDefault(cfg.router);
    expect(rt.length).toBe(RTENTRY_SIZE);
    expect(Array.from(rt.subarray(20, 28))).toEqual([2, 0, 0, 0, 192, 0, 2, 1]);
    expect(Array.from(rt.subarray(52, 54))).toEqual([3, 0]); // RTF_UP | RTF_GATEWAY
  });
});

function minimal(): DhcpRepr {
  return { op: BOOTREQUEST, xid: 9, secs: 0, broadcast: false, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: MAC, messageType: DhcpMessageType.DISCOVER };
}

function good300(): Uint8Array {
  const b = new Uint8Array(300);
  b.set([1, 1, 6, 0]);
  b.set([99, 130, 83, 99], 236);
  return b;
}

// ------------------------------------------------------------------ scenarios on the wire

const DHCP_FIELDS = ['frame.time_epoch', 'dhcp.option.dhcp', 'dhcp.flags.bc', 'ip.src', 'ip.dst', 'dhcp.ip.client', 'dhcp.ip.your', 'dhcp.option.type', 'dhcp.option.end'];
/** Read from the same tshark pass, after DHCP_FIELDS (one tshark start costs ~0.5 s). */
const EXTRA_FIELDS = ['frame.protocols', 'dhcp.option.subnet_mask', 'dhcp.option.router', 'dhcp.option.domain_name_server', 'dhcp.option.ip_address_lease_time', 'dhcp.option.renewal_time_value', 'dhcp.option.rebinding_time_value', 'dhcp.option.domain_name', 'dhcp.option.dhcp_server_id', 'dhcp.option.hostname', 'dhcp.hw.mac_addr', 'dhcp.option.value', 'dhcp.option.message', ...EXPERT_FIELDS];

interface DhcpFrame { t: number; type: string; bc: string; src: string; dst: string; ciaddr: string; yiaddr: string; options: number[]; codes: string[]; extra: string[] }

/**
 * The DHCP frames in a capture. `options` lists the option codes in order, ending with the End
 * option (tshark 4.0 reports End's dhcp.option.type as 0 and its code in dhcp.option.end).
 * `all` also has the frames that only quote DHCP inside an ICMP error, so a display filter
 * other than 'dhcp && !icmp' can be applied to the same pass in JS; `frames` is the filter's.
 */
function dhcpPass(cap: string, prefs: string[] = []): { all: DhcpFrame[]; frames: DhcpFrame[]; every: DhcpFrame[] } {
  // Every frame (for an expert check over the whole capture); 'dhcp' below, by frame.protocols.
  const every = tsharkFields(cap, [...DHCP_FIELDS, ...EXTRA_FIELDS], undefined, ['-o', 'frame.generate_epoch_time:TRUE', ...prefs]).map((r) => ({
    t: Number(r[0]),
    type: r[1]!,
    bc: r[2]!,
    src: r[3]!,
    dst: r[4]!,
    ciaddr: r[5]!,
    yiaddr: r[6]!,
    options: [...r[7]!.split(',').map(Number).slice(0, -1), Number(r[8])],
    codes: r[7]!.split(','),
    extra: r.slice(DHCP_FIELDS.length),
  }));
  // `!icmp`: no ICMP layer among the frame's protocols (frame.protocols is "eth:ethertype:ip:…").
  const all = every.filter((x) => x.extra[0]!.split(':').includes('dhcp'));
  return { all, frames: all.filter((x) => !x.extra[0]!.split(':').includes('icmp')), every };
}

/** dhcp.option.dhcp == N on the pass's rows (a message carries one option 53). */
const ofType = (all: DhcpFrame[], type: string) => all.filter((x) => x.type.split(',').includes(type));

/** The DHCP messages themselves, not the copies quoted inside ICMP errors about them. */
function dhcpFrames(cap: string): DhcpFrame[] {
  return dhcpPass(cap).frames;
}

describe('dhcp scenario (minimal profile: ioctl)', () => {
  const get = once(() => runToDir({ scenario: 'dhcp', seed: 5 }));
  // One tshark pass for both wire tests (each start costs ~0.5 s), checksums checked.
  const scan = once(() => dhcpPass(get().capturePath!, ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE']));

  it('passes its checks, configures through ioctl and returns RAM to the baseline', () => {
    const run = get();
    expect(run.report.checks.filter((c) => !c.pass)).toEqual([]);
    expect(run.report.checks.map((c) => c.name)).toContain('interface configured through ioctl');
    // SIOCGIFINDEX, SIOCGIFHWADDR, SIOCSIFADDR, SIOCSIFNETMASK, SIOCADDRT; no netlink in the kernel.
    expect((run.report.scenario.figures['dhcp'] as { configStats: unknown }).configStats).toEqual({ rtnetlink: 0, ioctl: 5 });
  });

  it('puts DISCOVER, OFFER, REQUEST, ACK on the wire with the broadcast flag and every option', () => {
    const pass = scan();
    const f = pass.frames;
    expect(f.map((x) => x.type)).toEqual(['1', '2', '3', '5']);
    expect(f.every((x) => x.bc === '1' && x.dst === '255.255.255.255')).toBe(true);
    expect(f[0]!.src).toBe('0.0.0.0');
    expect(f[1]!.yiaddr).toBe('192.0.2.100');
    // Client: message type, client id, max size, hostname, parameter request list (+ server id
    // and requested address in the REQUEST).
    expect(f[0]!.options).toEqual([53, 61, 57, 12, 55, 255]);
    expect(f[2]!.options).toEqual([53, 61, 54, 50, 57, 12, 55, 255]);
    // Server: 53, 54, 51, 58, 59, 1, 3, 6, 15.
    for (const x of [f[1]!, f[3]!]) expect(x.options).toEqual([53, 54, 51, 58, 59, 1, 3, 6, 15, 255]);
    // dhcp.option.dhcp == 5: subnet mask … server id (EXTRA_FIELDS 1..8).
    const vals = ofType(pass.all, '5').map((x) => x.extra.slice(1, 9));
    expect(vals).toEqual([['255.255.255.0', '192.0.2.1', '192.0.2.1', '3600', '1800', '3150', 'lab.quarklab.test', '192.0.2.1']]);
    // Hostname, and the MAC twice: chaddr, then option 61 (type 1, Ethernet).
    // dhcp.option.dhcp == 1 && dhcp.option.type == 61: hostname, chaddr, option values (9..11).
    const host = ofType(pass.all, '1').filter((x) => x.codes.includes('61')).map((x) => x.extra.slice(9, 12));
    expect(host[0]!.slice(0, 2)).toEqual(['quark', '02:51:00:00:00:02,02:51:00:00:00:02']);
  });

  it('has no malformed packets and no error-level expert info', () => {
    const bad = scan().every.filter((r) => expertProblem(r.extra, EXTRA_FIELDS.length - EXPERT_FIELDS.length));
    expect(bad).toEqual([]);
  });
});

describe('dhcp-renew scenario: a 60 s lease renewed at T1 (quark-4m, full profile: rtnetlink)', () => {
  const get = once(() => runToDir({ scenario: 'dhcp-renew', seed: 5, board: 'quark-4m', profile: 'full' }));

  it('passes its checks and configures through rtnetlink on the full profile', () => {
    const run = get();
    expect(run.report.checks.filter((c) => !c.pass)).toEqual([]);
    expect(run.report.checks.map((c) => c.name)).toContain('interface configured through rtnetlink');
    // RTM_NEWADDR and RTM_NEWROUTE once: the renewal kept the same address, nothing reconfigured.
    expect((run.report.scenario.figures['dhcp'] as { configStats: unknown }).configStats).toEqual({ rtnetlink: 2, ioctl: 2 });
  });

  it('sends the renewal REQUEST unicast to the server 30 s (T1) after the first REQUEST', () => {
    const run = get();
    const cap = run.capturePath!;
    const f = dhcpFrames(cap);
    const epoch = Number(DEFAULT_EPOCH_NS / BigInt(NS_PER_SEC));
    const firstRequest = f.find((x) => x.type === '3')!;
    const renewal = f.find((x) => x.type === '3' && x.ciaddr === '192.0.2.100')!;
    expect(renewal).toMatchObject({ src: '192.0.2.100', dst: '192.0.2.1', bc: '0' });
    expect(renewal.options).not.toContain(50);
    expect(renewal.options).not.toContain(54);
    // Timestamps are virtual time from the default epoch: the lease starts when the first
    // REQUEST went out and T1 is 30 s, to within the CPU time the board spends sending.
    expect(renewal.t - firstRequest.t).toBeCloseTo(30, 3);
    // On the capture's own clock: the exchange starts at the epoch (virtual time 0) and the
    // renewal is 30 s after it, within the microseconds the first exchange took.
    expect(firstRequest.t - epoch).toBeLessThan(0.001);
    expect(renewal.t - epoch).toBeGreaterThanOrEqual(30);
    expect(renewal.t - epoch).toBeLessThan(30.001);
    const ack = f.filter((x) => x.type === '5').pop()!;
    expect(ack).toMatchObject({ dst: '192.0.2.100', ciaddr: '192.0.2.100' });
  });
});

describe('dhcp-nak scenario: INIT-REBOOT for a foreign address', () => {
  const get = once(() => runToDir({ scenario: 'dhcp-nak', seed: 5 }));

  it('is NAKed (broadcast) and the client starts over with DISCOVER', () => {
    const run = get();
    expect(run.report.checks.filter((c) => !c.pass)).toEqual([]);
    const pass = dhcpPass(run.capturePath!);
    const f = pass.frames;
    expect(f.map((x) => x.type)).toEqual(['3', '6', '1', '2', '3', '5']);
    expect(f[1]!.dst).toBe('255.255.255.255');
    // dhcp.option.dhcp == 6: the NAK's message option (EXTRA_FIELDS 12).
    const msg = ofType(pass.all, '6').map((x) => [x.extra[12]!]);
    expect(msg[0]![0]).toMatch(/not on this network/);
  });
});

describe('dhcp-expire scenario: the server goes away, 60 s lease', () => {
  const get = once(() => runToDir({ scenario: 'dhcp-expire', seed: 5 }));

  it('renews at T1 (unicast), rebinds at T2 (broadcast), gives the address up at expiry and starts over', () => {
    const run = get();
    expect(run.report.checks.filter((c) => !c.pass)).toEqual([]);
    const f = dhcpFrames(run.capturePath!);
    const firstRequest = f.find((x) => x.type === '3')!;
    const after = f.filter((x) => x.t > firstRequest.t + 1);
    expect(after.map((x) => [x.type, x.src, x.dst, x.ciaddr])).toEqual([
      ['3', '192.0.2.100', '192.0.2.1', '192.0.2.100'],
      ['3', '192.0.2.100', '255.255.255.255', '192.0.2.100'],
      ['1', '0.0.0.0', '255.255.255.255', '0.0.0.0'],
    ]);
    // T1 = 30 s, T2 = 52 s (7/8 of 60, whole seconds as the server sends it), lease 60 s.
    expect(after.map((x) => x.t - firstRequest.t).map((d) => Math.round(d * 1000) / 1000)).toEqual([30, 52, 60]);
  });
});
