/**
 * The SIOCETHTOOL ioctl (net/ethtool/ioctl.c, CONFIG_NET_ETHTOOL): driver queries in the
 * structures the ethtool program passes, laid out as on Linux/i386 (little-endian, 4-byte
 * alignment, so a u64 array starts at the next 4-byte boundary).
 *
 * The argument is the program's buffer, as for the other socket ioctls (stack/ipv4/ioctl.ts):
 * a struct ifreq (32 bytes) whose ifr_data pointer (at 16) is an offset into the same buffer,
 * where the ethtool command structure lies. Every read and write is bounds-checked like
 * copy_from_user/copy_to_user: a structure that does not fit is EFAULT, never a partial write.
 *
 * Commands: ETHTOOL_GSET and ETHTOOL_GLINKSETTINGS (with its link-mode word-count handshake),
 * ETHTOOL_GDRVINFO, ETHTOOL_GLINK, ETHTOOL_GCOALESCE, ETHTOOL_GRINGPARAM, ETHTOOL_GSSET_INFO,
 * ETHTOOL_GSTRINGS and ETHTOOL_GSTATS. Others answer EOPNOTSUPP, as for a driver without the
 * operation. The kernel's own allocations on the way (the devlink-compat state of every call,
 * the vzalloc'd string and statistics buffers) come from board RAM and are freed before the
 * call returns; a failed allocation is ENOMEM.
 *
 * Without CONFIG_NET_ETHTOOL this file is never reached: dev_ioctl's SIOCETHTOOL is EOPNOTSUPP
 * (stack/socket/syscalls.ts).
 */
import type { NetStack } from '../net-stack.js';
import { readU32le, writeU16le, writeU32le } from '../uapi/byte-order.js';
import { Errno } from '../uapi/errno.js';
import {
  ETHTOOL_CMD_SIZE, ETHTOOL_COALESCE_SIZE, ETHTOOL_DRVINFO_SIZE, ETHTOOL_GCOALESCE,
  ETHTOOL_GDRVINFO, ETHTOOL_GLINK, ETHTOOL_GLINKSETTINGS, ETHTOOL_GRINGPARAM, ETHTOOL_GSET,
  ETHTOOL_GSSET_INFO, ETHTOOL_GSTATS, ETHTOOL_GSTRINGS, ETHTOOL_GSTRINGS_SIZE,
  ETHTOOL_LINK_MODE_MASK_NU32, ETHTOOL_LINK_SETTINGS_SIZE, ETHTOOL_RINGPARAM_SIZE,
  ETHTOOL_SSET_INFO_SIZE, ETHTOOL_STATS_SIZE, ETHTOOL_VALUE_SIZE, ETH_GSTRING_LEN,
  ETH_SS_PRIV_FLAGS, ETH_SS_STATS, ETH_SS_TEST,
} from '../uapi/ethtool.js';

/**
 * sizeof(struct ethtool_devlink_compat) on i386: a devlink pointer and a union of
 * ethtool_flash (136) and ethtool_drvinfo (196) = 200. dev_ethtool kzallocs one per call.
 * Computed from the 6.1 layout: the calibration has no pahole figure for it.
 */
const ETHTOOL_DEVLINK_COMPAT_SIZE = 200;

export interface EthtoolDrvinfo {
  driver: string;
  version: string;
  fwVersion: string;
  busInfo: string;
  eromVersion: string;
  regdumpLen: number;
  eedumpLen: number;
}

export interface LinkKsettings {
  /** Mb/s. */
  speed: number;
  duplex: number;
  port: number;
  phyAddress: number;
  autoneg: number;
  mdioSupport: number;
  ethTpMdix: number;
  ethTpMdixCtrl: number;
  transceiver: number;
  /** Link-mode bit numbers. */
  supported: readonly number[];
  advertising: readonly number[];
  lpAdvertising: readonly number[];
}

export interface Ringparam {
  rxMaxPending: number;
  txMaxPending: number;
  rxPending: number;
  txPending: number;
}

export interface Coalesce {
  rxCoalesceUsecs: number;
  rxMaxCoalescedFrames: number;
  txCoalesceUsecs: number;
  txMaxCoalescedFrames: number;
}

/** struct ethtool_ops: what a driver answers (only the operations modelled). */
export interface EthtoolOps {
  getDrvinfo(): EthtoolDrvinfo;
  getLink(): boolean;
  getLinkKsettings(): LinkKsettings;
  /** Count of a string set, or -EOPNOTSUPP. */
  getSsetCount(sset: number): number;
  getStrings(sset: number): readonly string[];
  getEthtoolStats(): readonly number[];
  getRingparam(): Ringparam;
  getCoalesce(): Coalesce;
}

// ---- user-memory access (copy_from_user / copy_to_user on the program's buffer) ----------

function fits(arg: Uint8Array, at: number, len: number): boolean {
  return at >= 0 && len >= 0 && at + len <= arg.length;
}

/** A u64 counter as two little-endian words (counters stay below 2^53). */
function wr64(b: Uint8Array, o: number, v: number): void {
  writeU32le(b, o, v >>> 0);
  writeU32le(b, o + 4, Math.floor(v / 2 ** 32) >>> 0);
}

/** strscpy into a fixed char array: NUL-terminated, truncated to fit, zero-padded. */
function wrString(b: Uint8Array, o: number, size: number, s: string): void {
  b.fill(0, o, o + size);
  for (let i = 0; i < s.length && i < size - 1; i++) b[o + i] = s.charCodeAt(i) & 0x7f;
}

function readIfName(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 15; i++) {
    const c = b[i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function linkModeWords(bits: readonly number[]): number[] {
  const w = new Array<number>(ETHTOOL_LINK_MODE_MASK_NU32).fill(0);
  for (const bit of bits) w[bit >> 5] = (w[bit >> 5]! | (1 << (bit & 31))) >>> 0;
  return w;
}

/**
 * dev_ethtool: `arg` holds the struct ifreq (name, ifr_data) and the command structure
 * ifr_data points to. 0 or a negative errno.
 */
export function devEthtool(stack: NetStack, arg: Uint8Array): number {
  if (arg.length < 32) return -Errno.EFAULT;
  const at = readU32le(arg, 16);
  // copy_from_user(&ethcmd, useraddr, 4): ifr_data must point at the program's memory.
  if (at === 0 || !fits(arg, at, 4)) return -Errno.EFAULT;
  const cmd = readU32le(arg, at);
  const mem = stack.env.mem;
  const state = mem.kmalloc(ETHTOOL_DEVLINK_COMPAT_SIZE);
  if (state === 0) return -Errno.ENOMEM;
  try {
    const dev = stack.devices.find((d) => d.name === readIfName(arg));
    if (!dev) return -Errno.ENODEV;
    const driver = stack.drivers.get(dev.ifindex);
    if (!driver) return -Errno.EOPNOTSUPP;
    return command(stack, driver.ethtoolOps, cmd, arg, at);
  } finally {
    mem.kfree(state);
  }
}

function command(stack: NetStack, ops: EthtoolOps, cmd: number, arg: Uint8Array, at: number): number {
  switch (cmd) {
    case ETHTOOL_GDRVINFO:
      return getDrvinfo(ops, arg, at);
    case ETHTOOL_GSET:
      return getSettings(ops, arg, at);
    case ETHTOOL_GLINKSETTINGS:
      return getLinkKsettings(ops, arg, at);
    case ETHTOOL_GLINK: {
      if (!fits(arg, at, ETHTOOL_VALUE_SIZE)) return -Errno.EFAULT;
      writeU32le(arg, at, ETHTOOL_GLINK);
      writeU32le(arg, at + 4, ops.getLink() ? 1 : 0);
      return 0;
    }
    case ETHTOOL_GCOALESCE:
      return getCoalesce(ops, arg, at);
    case ETHTOOL_GRINGPARAM:
      return getRingparam(ops, arg, at);
    case ETHTOOL_GSSET_INFO:
      return getSsetInfo(stack, ops, arg, at);
    case ETHTOOL_GSTRINGS:
      return getStrings(stack, ops, arg, at);
    case ETHTOOL_GSTATS:
      return getStats(stack, ops, arg, at);
    default:
      return -Errno.EOPNOTSUPP;
  }
}

/**
 * ethtool_get_drvinfo: the driver's names and the counts the (deprecated) fields still carry:
 * n_stats, testinfo_len and n_priv_flags from get_sset_count where it succeeds.
 */
function getDrvinfo(ops: EthtoolOps, arg: Uint8Array, at: number): number {
  if (!fits(arg, at, ETHTOOL_DRVINFO_SIZE)) return -Errno.EFAULT;
  const info = ops.getDrvinfo();
  const b = new Uint8Array(ETHTOOL_DRVINFO_SIZE);
  writeU32le(b, 0, ETHTOOL_GDRVINFO);
  wrString(b, 4, 32, info.driver);
  wrString(b, 36, 32, info.version);
  wrString(b, 68, 32, info.fwVersion);
  wrString(b, 100, 32, info.busInfo);
  wrString(b, 132, 32, info.eromVersion);
  // reserved2[12] at 164, then n_priv_flags, n_stats, testinfo_len, eedump_len, regdump_len.
  const count = (sset: number): number => Math.max(0, ops.getSsetCount(sset));
  writeU32le(b, 176, count(ETH_SS_PRIV_FLAGS));
  writeU32le(b, 180, count(ETH_SS_STATS));
  writeU32le(b, 184, count(ETH_SS_TEST));
  writeU32le(b, 188, info.eedumpLen);
  writeU32le(b, 192, info.regdumpLen);
  arg.set(b, at);
  return 0;
}

/** ethtool_get_settings: the link settings converted to the legacy struct ethtool_cmd (32-bit masks). */
function getSettings(ops: EthtoolOps, arg: Uint8Array, at: number): number {
  if (!fits(arg, at, ETHTOOL_CMD_SIZE)) return -Errno.EFAULT;
  const k = ops.getLinkKsettings();
  const b = new Uint8Array(ETHTOOL_CMD_SIZE);
  writeU32le(b, 0, ETHTOOL_GSET);
  writeU32le(b, 4, linkModeWords(k.supported)[0]!);
  writeU32le(b, 8, linkModeWords(k.advertising)[0]!);
  writeU16le(b, 12, k.speed & 0xffff); // speed, low half (ethtool_cmd_speed_set)
  b[14] = k.duplex;
  b[15] = k.port;
  b[16] = k.phyAddress;
  b[17] = k.transceiver;
  b[18] = k.autoneg;
  b[19] = k.mdioSupport;
  // maxtxpkt, maxrxpkt (20, 24) stay 0.
  writeU16le(b, 28, k.speed >>> 16); // speed_hi
  b[30] = k.ethTpMdix;
  b[31] = k.ethTpMdixCtrl;
  writeU32le(b, 32, linkModeWords(k.lpAdvertising)[0]!);
  arg.set(b, at);
  return 0;
}

/**
 * ethtool_get_link_ksettings: a caller that does not offer exactly the kernel's number of
 * link-mode words gets the header back with that number negated (the handshake); one that
 * does gets the header and the supported, advertising and lp_advertising bitmaps.
 */
function getLinkKsettings(ops: EthtoolOps, arg: Uint8Array, at: number): number {
  if (!fits(arg, at, ETHTOOL_LINK_SETTINGS_SIZE)) return -Errno.EFAULT;
  const nwords = (arg[at + 15]! << 24) >> 24; // s8 link_mode_masks_nwords
  const b = new Uint8Array(ETHTOOL_LINK_SETTINGS_SIZE + 3 * 4 * ETHTOOL_LINK_MODE_MASK_NU32);
  writeU32le(b, 0, ETHTOOL_GLINKSETTINGS);
  if (nwords !== ETHTOOL_LINK_MODE_MASK_NU32) {
    b[15] = -ETHTOOL_LINK_MODE_MASK_NU32 & 0xff;
    arg.set(b.subarray(0, ETHTOOL_LINK_SETTINGS_SIZE), at);
    return 0;
  }
  if (!fits(arg, at, b.length)) return -Errno.EFAULT;
  const k = ops.getLinkKsettings();
  writeU32le(b, 4, k.speed);
  b[8] = k.duplex;
  b[9] = k.port;
  b[10] = k.phyAddress;
  b[11] = k.autoneg;
  b[12] = k.mdioSupport;
  b[13] = k.ethTpMdix;
  b[14] = k.ethTpMdixCtrl;
  b[15] = ETHTOOL_LINK_MODE_MASK_NU32;
  b[16] = k.transceiver;
  // master_slave_cfg, master_slave_state, rate_matching (17–19): UNSUPPORTED / RATE_MATCH_NONE = 0.
  let o = ETHTOOL_LINK_SETTINGS_SIZE;
  for (const mask of [k.supported, k.advertising, k.lpAdvertising]) {
    for (const w of linkModeWords(mask)) {
      writeU32le(b, o, w);
      o += 4;
    }
  }
  arg.set(b, at);
  return 0;
}

/** ethtool_get_coalesce: struct ethtool_coalesce, 23 u32 fields, the unmodelled ones 0. */
function getCoalesce(ops: EthtoolOps, arg: Uint8Array, at: number): number {
  if (!fits(arg, at, ETHTOOL_COALESCE_SIZE)) return -Errno.EFAULT;
  const c = ops.getCoalesce();
  const b = new Uint8Array(ETHTOOL_COALESCE_SIZE);
  writeU32le(b, 0, ETHTOOL_GCOALESCE);
  writeU32le(b, 4, c.rxCoalesceUsecs);
  writeU32le(b, 8, c.rxMaxCoalescedFrames);
  writeU32le(b, 20, c.txCoalesceUsecs);
  writeU32le(b, 24, c.txMaxCoalescedFrames);
  arg.set(b, at);
  return 0;
}

/** ethtool_get_ringparam: struct ethtool_ringparam (no mini or jumbo rings on this MAC). */
function getRingparam(ops: EthtoolOps, arg: Uint8Array, at: number): number {
  if (!fits(arg, at, ETHTOOL_RINGPARAM_SIZE)) return -Errno.EFAULT;
  const r = ops.getRingparam();
  const b = new Uint8Array(ETHTOOL_RINGPARAM_SIZE);
  writeU32le(b, 0, ETHTOOL_GRINGPARAM);
  writeU32le(b, 4, r.rxMaxPending);
  writeU32le(b, 16, r.txMaxPending);
  writeU32le(b, 20, r.rxPending);
  writeU32le(b, 32, r.txPending);
  arg.set(b, at);
  return 0;
}

/**
 * ethtool_get_sset_info: for each set in sset_mask that the driver can count, a bit in the
 * answered mask and its count in data[]. (The core's own sets — features, tunables, link-mode
 * names — are not modelled.)
 */
function getSsetInfo(stack: NetStack, ops: EthtoolOps, arg: Uint8Array, at: number): number {
  if (!fits(arg, at, ETHTOOL_SSET_INFO_SIZE)) return -Errno.EFAULT;
  const maskLo = readU32le(arg, at + 8);
  const maskHi = readU32le(arg, at + 12);
  if (maskLo === 0 && maskHi === 0) return 0;
  const nbits = popcount(maskLo) + popcount(maskHi);
  const buf = stack.env.mem.kmalloc(4 * nbits); // kcalloc(n_bits, sizeof(u32))
  if (buf === 0) return -Errno.ENOMEM;
  try {
    let outLo = 0;
    const counts: number[] = [];
    // Only sets 0–31 have counters in 6.1; higher bits are never answered.
    for (let i = 0; i < 32; i++) {
      if ((maskLo & (1 << i)) === 0) continue;
      const n = ops.getSsetCount(i);
      if (n >= 0) {
        outLo = (outLo | (1 << i)) >>> 0;
        counts.push(n);
      }
    }
    if (!fits(arg, at, ETHTOOL_SSET_INFO_SIZE + 4 * counts.length)) return -Errno.EFAULT;
    const b = new Uint8Array(ETHTOOL_SSET_INFO_SIZE + 4 * counts.length);
    writeU32le(b, 0, ETHTOOL_GSSET_INFO);
    writeU32le(b, 8, outLo);
    counts.forEach((n, i) => writeU32le(b, ETHTOOL_SSET_INFO_SIZE + 4 * i, n));
    arg.set(b, at);
    return 0;
  } finally {
    stack.env.mem.kfree(buf);
  }
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v >>>= 1) n += v & 1;
  return n;
}

/**
 * ethtool_get_strings: the set's names, ETH_GSTRING_LEN bytes each, built in a kernel buffer
 * (vzalloc) and copied out after the header with its len.
 */
function getStrings(stack: NetStack, ops: EthtoolOps, arg: Uint8Array, at: number): number {
  if (!fits(arg, at, ETHTOOL_GSTRINGS_SIZE)) return -Errno.EFAULT;
  const set = readU32le(arg, at + 4);
  const n = ops.getSsetCount(set);
  if (n < 0) return n;
  const bytes = n * ETH_GSTRING_LEN;
  const mem = stack.env.mem;
  const buf = n > 0 ? mem.kmalloc(bytes) : 0;
  if (n > 0 && buf === 0) return -Errno.ENOMEM;
  try {
    const names = ops.getStrings(set);
    for (let i = 0; i < n; i++) wrString(mem.bytes, buf + i * ETH_GSTRING_LEN, ETH_GSTRING_LEN, names[i] ?? '');
    if (!fits(arg, at, ETHTOOL_GSTRINGS_SIZE + bytes)) return -Errno.EFAULT;
    writeU32le(arg, at, ETHTOOL_GSTRINGS);
    writeU32le(arg, at + 8, n);
    if (n > 0) arg.set(mem.bytes.subarray(buf, buf + bytes), at + ETHTOOL_GSTRINGS_SIZE);
    return 0;
  } finally {
    if (buf !== 0) mem.kfree(buf);
  }
}

/** ethtool_get_stats: n_stats and the u64 counters, in the order ETH_SS_STATS names them. */
function getStats(stack: NetStack, ops: EthtoolOps, arg: Uint8Array, at: number): number {
  const n = ops.getSsetCount(ETH_SS_STATS);
  if (n < 0) return n;
  if (!fits(arg, at, ETHTOOL_STATS_SIZE)) return -Errno.EFAULT;
  const mem = stack.env.mem;
  const buf = n > 0 ? mem.kmalloc(8 * n) : 0;
  if (n > 0 && buf === 0) return -Errno.ENOMEM;
  try {
    const values = ops.getEthtoolStats();
    for (let i = 0; i < n; i++) wr64(mem.bytes, buf + 8 * i, values[i] ?? 0);
    if (!fits(arg, at, ETHTOOL_STATS_SIZE + 8 * n)) return -Errno.EFAULT;
    writeU32le(arg, at, ETHTOOL_GSTATS);
    writeU32le(arg, at + 4, n);
    if (n > 0) arg.set(mem.bytes.subarray(buf, buf + 8 * n), at + ETHTOOL_STATS_SIZE);
    return 0;
  } finally {
    if (buf !== 0) mem.kfree(buf);
  }
}
