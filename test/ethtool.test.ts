// NET_ETHTOOL: the SIOCETHTOOL ioctl on the client profile (which has it) and the minimal one
// (which does not). The program's buffer holds a struct ifreq and, at the offset its ifr_data
// names, the ethtool structure in its Linux/i386 layout; everything is read back from bytes.
import { describe, expect, it } from 'vitest';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { liveObjectBytes } from '../scenarios/boot.js';
import type { Syscalls } from '../stack/socket/syscalls.js';
import { bootPair, LAB_IP, pattern, settle, type Pair } from './helpers/lab-pair.js';
import { IPPROTO_ICMP } from '../stack/uapi/in.js';
import { SIOCETHTOOL } from '../stack/uapi/sockios.js';
import { AF_INET, SOCK_DGRAM } from '../stack/uapi/socket.js';
import { Errno } from '../stack/uapi/errno.js';
import {
  ETHTOOL_GCOALESCE, ETHTOOL_GDRVINFO, ETHTOOL_GLINK, ETHTOOL_GLINKSETTINGS, ETHTOOL_GRINGPARAM,
  ETHTOOL_GSET, ETHTOOL_GSSET_INFO, ETHTOOL_GSTATS, ETHTOOL_GSTRINGS, ETH_SS_STATS,
} from '../stack/uapi/ethtool.js';

const IFR_DATA = 32; // the command structure follows the 32-byte ifreq in the buffer

/** A buffer holding an ifreq for `dev` whose ifr_data points at `size` bytes starting with `cmd`. */
function request(dev: string, cmd: number, size: number, init?: (b: DataView) => void): Uint8Array {
  const b = new Uint8Array(IFR_DATA + size);
  for (let i = 0; i < dev.length; i++) b[i] = dev.charCodeAt(i);
  const dv = new DataView(b.buffer);
  dv.setUint32(16, IFR_DATA, true);
  dv.setUint32(IFR_DATA, cmd, true);
  init?.(new DataView(b.buffer, IFR_DATA));
  return b;
}

function cString(b: Uint8Array, at: number, size: number): string {
  let s = '';
  for (let i = 0; i < size && b[at + i] !== 0; i++) s += String.fromCharCode(b[at + i]!);
  return s;
}

function ethtool(sys: Syscalls, fd: number, buf: Uint8Array): { r: number; dv: DataView; b: Uint8Array } {
  const r = sys.ioctl(fd, SIOCETHTOOL, buf);
  return { r, dv: new DataView(buf.buffer, IFR_DATA), b: buf.subarray(IFR_DATA) };
}

function ping(p: Pair): void {
  const fd = p.dutSys.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  expect(fd).toBeGreaterThanOrEqual(0);
  const echo = new Uint8Array(8 + 24);
  echo[0] = 8;
  echo.set(pattern(24), 8);
  expect(p.dutSys.sendto(fd, echo, { addr: LAB_IP, port: 0 })).toBe(32);
  settle(p, 10 * NS_PER_MS);
  expect(typeof p.dutSys.recvfrom(fd)).toBe('object'); // answered
  expect(p.dutSys.close(fd)).toBe(0);
}

describe('SIOCETHTOOL on the client profile', () => {
  it('answers GDRVINFO, GSSET_INFO, GSTRINGS and GSTATS with the MAC\'s counters after a ping', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'client' });
    ping(p);
    const s = p.dutSys;
    const fd = s.socket(AF_INET, SOCK_DGRAM, 0);
    const ram = liveObjectBytes(p.dut.board.ram);

    // ethtool -i: struct ethtool_drvinfo (196 bytes).
    const info = ethtool(s, fd, request('eth0', ETHTOOL_GDRVINFO, 196));
    expect(info.r).toBe(0);
    expect(info.dv.getUint32(0, true)).toBe(ETHTOOL_GDRVINFO);
    expect(cString(info.b, 4, 32)).toBe('st_gmac');
    expect(cString(info.b, 36, 32)).toBe('6.1.192');
    expect(cString(info.b, 100, 32)).toBe('0000:00:14.6');
    const nStats = info.dv.getUint32(180, true);
    const macStats = p.dut.board.mac.stats;
    expect(nStats).toBe(Object.keys(macStats).length + 1);
    expect(info.dv.getUint32(184, true)).toBe(0); // testinfo_len: no self-tests
    expect(info.dv.getUint32(176, true)).toBe(0); // n_priv_flags

    // GSSET_INFO asks for the stats set (and the test set, which the driver does not have).
    const sset = ethtool(s, fd, request('eth0', ETHTOOL_GSSET_INFO, 16 + 8, (dv) => dv.setUint32(8, (1 << ETH_SS_STATS) | 1, true)));
    expect(sset.r).toBe(0);
    expect([sset.dv.getUint32(8, true), sset.dv.getUint32(12, true), sset.dv.getUint32(16, true)]).toEqual([1 << ETH_SS_STATS, 0, nStats]);

    // ethtool -S: the names, then the u64 values in the same order.
    const str = ethtool(s, fd, request('eth0', ETHTOOL_GSTRINGS, 12 + 32 * nStats, (dv) => dv.setUint32(4, ETH_SS_STATS, true)));
    expect(str.r).toBe(0);
    expect(str.dv.getUint32(8, true)).toBe(nStats);
    const names = Array.from({ length: nStats }, (_, i) => cString(str.b, 12 + 32 * i, 32));
    expect(names).toEqual([...Object.keys(macStats), 'napi_poll']);
    expect(names).toEqual(expect.arrayContaining(['rx_packets', 'rx_bytes', 'tx_packets', 'rx_missed_errors', 'rx_crc_errors', 'da_rx_filter_fail']));
    const st = ethtool(s, fd, request('eth0', ETHTOOL_GSTATS, 8 + 8 * nStats));
    expect(st.r).toBe(0);
    expect(st.dv.getUint32(4, true)).toBe(nStats);
    const values = new Map(names.map((n, i) => [n, Number(st.dv.getBigUint64(8 + 8 * i, true))]));
    // The ping: an ARP exchange and an echo each way, at least.
    expect(values.get('rx_packets')).toBe(macStats.rx_packets);
    expect(values.get('rx_packets')).toBeGreaterThanOrEqual(2);
    expect(values.get('tx_packets')).toBe(macStats.tx_packets);
    expect(values.get('tx_packets')).toBeGreaterThanOrEqual(2);
    expect(values.get('rx_bytes')).toBe(macStats.rx_bytes);
    expect(values.get('rx_missed_errors')).toBe(0);
    expect(values.get('napi_poll')).toBe(p.dut.stack.drivers.get(p.dut.dev.ifindex)!.napiPolls);
    for (const [k, v] of Object.entries(macStats)) expect(values.get(k), k).toBe(v);

    // Copy-out is bounds-checked: a buffer one byte short for the counters is EFAULT, and
    // nothing is half-written.
    const short = request('eth0', ETHTOOL_GSTATS, 8 + 8 * nStats - 1);
    expect(s.ioctl(fd, SIOCETHTOOL, short)).toBe(-Errno.EFAULT);
    expect(new DataView(short.buffer).getUint32(IFR_DATA + 4, true)).toBe(0);
    // The kernel's buffers (devlink-compat state, vzalloc'd strings and counters) were freed.
    expect(liveObjectBytes(p.dut.board.ram)).toBe(ram);
    expect(s.close(fd)).toBe(0);
  });

  it('reports link settings (GLINKSETTINGS handshake, GSET), link state, rings and coalescing', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'client' });
    const s = p.dutSys;
    const fd = s.socket(AF_INET, SOCK_DGRAM, 0);
    const board = p.dut.board.config.mac;

    // First call offers 0 link-mode words: the kernel answers with the number it wants, negated.
    const hs = ethtool(s, fd, request('eth0', ETHTOOL_GLINKSETTINGS, 48));
    expect(hs.r).toBe(0);
    const nwords = -hs.dv.getInt8(15);
    expect(nwords).toBe(3); // DIV_ROUND_UP(__ETHTOOL_LINK_MODE_MASK_NBITS = 93 in 6.1, 32)
    expect(hs.dv.getUint32(4, true)).toBe(0); // no settings yet
    const ls = ethtool(s, fd, request('eth0', ETHTOOL_GLINKSETTINGS, 48 + 12 * nwords, (dv) => dv.setInt8(15, nwords)));
    expect(ls.r).toBe(0);
    expect(ls.dv.getUint32(4, true)).toBe(board.linkSpeedMbps);
    expect([ls.dv.getUint8(8), ls.dv.getUint8(11), ls.dv.getInt8(15)]).toEqual([1, 1, 3]); // full duplex, autoneg on
    const supported = ls.dv.getUint32(48, true);
    expect(supported & 0b1111).toBe(0b1111); // 10/100 half and full
    expect(supported & (1 << 6)).not.toBe(0); // Autoneg
    expect(ls.dv.getUint32(48 + 4 * nwords, true) & (1 << 3)).not.toBe(0); // advertising 100baseT/Full

    // The legacy ETHTOOL_GSET (struct ethtool_cmd, 44 bytes).
    const gset = ethtool(s, fd, request('eth0', ETHTOOL_GSET, 44));
    expect(gset.r).toBe(0);
    expect([gset.dv.getUint16(12, true), gset.dv.getUint8(14), gset.dv.getUint8(18)]).toEqual([board.linkSpeedMbps, 1, 1]);
    expect(gset.dv.getUint32(4, true)).toBe(supported);

    const link = ethtool(s, fd, request('eth0', ETHTOOL_GLINK, 8));
    expect([link.r, link.dv.getUint32(4, true)]).toEqual([0, 1]);

    // ethtool -g: struct ethtool_ringparam.
    const ring = ethtool(s, fd, request('eth0', ETHTOOL_GRINGPARAM, 36));
    expect(ring.r).toBe(0);
    expect([1, 4, 5, 8].map((i) => ring.dv.getUint32(4 * i, true))).toEqual([1024, 1024, board.rxRingSize, board.txRingSize]);
    // ethtool -c: struct ethtool_coalesce (rx-usecs, rx-frames).
    const co = ethtool(s, fd, request('eth0', ETHTOOL_GCOALESCE, 92));
    expect(co.r).toBe(0);
    expect([co.dv.getUint32(4, true), co.dv.getUint32(8, true)]).toEqual([board.rxCoalesceUsecs, board.rxCoalesceFrames]);

    // Bad requests: an unknown device, an unmodelled command, a structure past the buffer, no ifr_data.
    expect(s.ioctl(fd, SIOCETHTOOL, request('eth9', ETHTOOL_GDRVINFO, 196))).toBe(-Errno.ENODEV);
    expect(s.ioctl(fd, SIOCETHTOOL, request('eth0', 0x04 /* ETHTOOL_GREGS: no register dump */, 12 + 4192))).toBe(-Errno.EOPNOTSUPP);
    expect(s.ioctl(fd, SIOCETHTOOL, request('eth0', ETHTOOL_GDRVINFO, 100))).toBe(-Errno.EFAULT);
    const noData = request('eth0', ETHTOOL_GDRVINFO, 196);
    new DataView(noData.buffer).setUint32(16, 0, true);
    expect(s.ioctl(fd, SIOCETHTOOL, noData)).toBe(-Errno.EFAULT);
    expect(s.ioctl(fd, SIOCETHTOOL, new Uint8Array(20))).toBe(-Errno.EFAULT);
    expect(s.close(fd)).toBe(0);
  });
});

describe('SIOCETHTOOL without NET_ETHTOOL (minimal)', () => {
  it('is EOPNOTSUPP for every command', () => {
    const p = bootPair();
    const fd = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
    for (const [cmd, size] of [[ETHTOOL_GDRVINFO, 196], [ETHTOOL_GSTATS, 8 + 8 * 20], [ETHTOOL_GLINKSETTINGS, 48]] as const) {
      const buf = request('eth0', cmd, size);
      expect(p.dutSys.ioctl(fd, SIOCETHTOOL, buf)).toBe(-Errno.EOPNOTSUPP);
      expect(buf.subarray(IFR_DATA + 4).every((x) => x === 0)).toBe(true); // nothing written
    }
    expect(p.dutSys.close(fd)).toBe(0);
  });
});
