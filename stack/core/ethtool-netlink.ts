/**
 * The "ethtool" generic netlink family (net/ethtool/netlink.c and its per-message files,
 * CONFIG_ETHTOOL_NETLINK): the GET requests whose answers the SIOCETHTOOL ioctl also gives
 * (stack/core/ethtool.ts), from the same driver operations —
 *
 *   ETHTOOL_MSG_LINKINFO_GET   (linkinfo.c)  ← GSET / GLINKSETTINGS' port, phyaddr, MDI-X, transceiver
 *   ETHTOOL_MSG_LINKMODES_GET  (linkmodes.c) ← GLINKSETTINGS' autoneg, link modes, speed, duplex
 *   ETHTOOL_MSG_LINKSTATE_GET  (linkstate.c) ← GLINK
 *   ETHTOOL_MSG_RINGS_GET      (rings.c)     ← GRINGPARAM
 *   ETHTOOL_MSG_COALESCE_GET   (coalesce.c)  ← GCOALESCE
 *
 * GDRVINFO and the driver's private counters (GSSET_INFO/GSTRINGS/GSTATS, `ethtool -i` and
 * `-S`) have no netlink form in 6.1: ethtool(8) still uses the ioctl for them (6.1's
 * ETHTOOL_MSG_STATS_GET carries only the standard IEEE/RMON groups, which stmmac does not
 * implement). Other ethtool messages are not offered.
 *
 * Each request's attribute 1 is the ETHTOOL_A_HEADER nest: the device by index or name and
 * the flags (COMPACT_BITSETS, OMIT_REPLY; others are EINVAL as the policy mask says). A DO
 * without a device is EINVAL, an unknown device ENODEV; a DUMP answers for every device with
 * a driver. Replies put the header nest (index, name) first, then the fill_reply attributes in
 * the 6.1 order, leaving out what those functions leave out.
 */
import type { NetStack } from '../net-stack.js';
import { Errno } from '../uapi/errno.js';
import { readU32le, writeU32le } from '../uapi/byte-order.js';
import type { EthtoolOps } from './ethtool.js';
import type { GenlFamily, GenlRequest, Genetlink } from './genetlink.js';
import { attrString, parseAttrs, type NlWriter } from '../uapi/netlink-message.js';

export const ETHTOOL_GENL_NAME = 'ethtool';
export const ETHTOOL_GENL_VERSION = 1;

export const ETHTOOL_MSG_LINKINFO_GET = 2;
export const ETHTOOL_MSG_LINKMODES_GET = 4;
export const ETHTOOL_MSG_LINKSTATE_GET = 6;
export const ETHTOOL_MSG_RINGS_GET = 15;
export const ETHTOOL_MSG_COALESCE_GET = 19;
/** The kernel's reply commands (the ETHTOOL_MSG_*_GET_REPLY numbers). */
export const ETHTOOL_MSG_LINKINFO_GET_REPLY = 2;
export const ETHTOOL_MSG_LINKMODES_GET_REPLY = 4;
export const ETHTOOL_MSG_LINKSTATE_GET_REPLY = 6;
export const ETHTOOL_MSG_RINGS_GET_REPLY = 16;
export const ETHTOOL_MSG_COALESCE_GET_REPLY = 20;

export const ETHTOOL_A_HEADER_DEV_INDEX = 1;
export const ETHTOOL_A_HEADER_DEV_NAME = 2;
export const ETHTOOL_A_HEADER_FLAGS = 3;
export const ETHTOOL_FLAG_COMPACT_BITSETS = 1 << 0;
export const ETHTOOL_FLAG_OMIT_REPLY = 1 << 1;
/** NLA_F_NESTED: nla_nest_start marks every nest it opens. */
export const NLA_F_NESTED = 0x8000;

export const ETHTOOL_A_BITSET_NOMASK = 1;
export const ETHTOOL_A_BITSET_SIZE = 2;
export const ETHTOOL_A_BITSET_BITS = 3;
export const ETHTOOL_A_BITSET_VALUE = 4;
export const ETHTOOL_A_BITSET_MASK = 5;
export const ETHTOOL_A_BITSET_BITS_BIT = 1;
export const ETHTOOL_A_BITSET_BIT_INDEX = 1;
export const ETHTOOL_A_BITSET_BIT_NAME = 2;
export const ETHTOOL_A_BITSET_BIT_VALUE = 3;

/** __ETHTOOL_LINK_MODE_MASK_NBITS in 6.1: the last mode is 10baseT1L_Full (92). */
export const ETHTOOL_LINK_MODE_MASK_NBITS = 93;

/** link_mode_names (net/ethtool/common.c) for the bits the modelled PHY uses. */
const LINK_MODE_NAMES: Readonly<Record<number, string>> = {
  0: '10baseT/Half', 1: '10baseT/Full', 2: '100baseT/Half', 3: '100baseT/Full', 4: '1000baseT/Half', 5: '1000baseT/Full', 6: 'Autoneg', 7: 'TP', 8: 'AUI', 9: 'MII',
};

/** stmmac's supported_coalesce_params: ETHTOOL_COALESCE_USECS | ETHTOOL_COALESCE_MAX_FRAMES. */
const COALESCE_ATTRS = { rxUsecs: 2, rxMaxFrames: 3, txUsecs: 6, txMaxFrames: 7 } as const;

const OPS: readonly number[] = [ETHTOOL_MSG_LINKINFO_GET, ETHTOOL_MSG_LINKMODES_GET, ETHTOOL_MSG_LINKSTATE_GET, ETHTOOL_MSG_RINGS_GET, ETHTOOL_MSG_COALESCE_GET];

export function registerEthtoolNetlink(stack: NetStack, genl: Genetlink): number {
  const family: GenlFamily = {
    name: ETHTOOL_GENL_NAME,
    version: ETHTOOL_GENL_VERSION,
    hdrsize: 0,
    maxattr: 0, // per-op policies, no family-wide one
    ops: OPS,
    handle: (req, w) => handle(stack, req, w),
  };
  return genl.register(family);
}

interface Target {
  ifindex: number;
  name: string;
  ops: EthtoolOps;
}

/** ethnl_default_doit / ethnl_default_dumpit. */
function handle(stack: NetStack, req: GenlRequest, w: NlWriter): number {
  const hdr = req.attrs.get(1);
  let flags = 0;
  let want: Target | null = null;
  if (hdr) {
    const h = parseAttrs(req.bytes, hdr.at, hdr.at + hdr.len);
    const fl = h.get(ETHTOOL_A_HEADER_FLAGS);
    if (fl) {
      if (fl.len < 4) return -Errno.EINVAL;
      flags = readU32le(req.bytes, fl.at);
      if ((flags & ~(ETHTOOL_FLAG_COMPACT_BITSETS | ETHTOOL_FLAG_OMIT_REPLY)) !== 0) return -Errno.EINVAL;
    }
    // ethnl_parse_header_dev_get: by index, by name, and both must name the same device.
    const idx = h.get(ETHTOOL_A_HEADER_DEV_INDEX);
    const nm = h.get(ETHTOOL_A_HEADER_DEV_NAME);
    let dev = null;
    if (idx) {
      if (idx.len < 4) return -Errno.EINVAL;
      const i = readU32le(req.bytes, idx.at);
      dev = stack.devices.find((d) => d.ifindex === i) ?? null;
      if (!dev) return -Errno.ENODEV;
    }
    if (nm) {
      const name = attrString(req.bytes, nm);
      const byName = stack.devices.find((d) => d.name === name) ?? null;
      if (!byName) return -Errno.ENODEV;
      if (dev && dev !== byName) return -Errno.ENODEV;
      dev = byName;
    }
    if (dev) {
      const drv = stack.drivers.get(dev.ifindex);
      if (!drv) return -Errno.EOPNOTSUPP; // no ethtool_ops for this op
      want = { ifindex: dev.ifindex, name: dev.name, ops: drv.ethtoolOps };
    }
  }
  const compact = (flags & ETHTOOL_FLAG_COMPACT_BITSETS) !== 0;
  if (!req.dump) {
    if (!want) return -Errno.EINVAL; // "device not specified"
    fill(w, req, want, compact);
    return 0;
  }
  for (const d of stack.devices) {
    const drv = stack.drivers.get(d.ifindex);
    if (drv) fill(w, req, { ifindex: d.ifindex, name: d.name, ops: drv.ethtoolOps }, compact);
  }
  return 0;
}

function fill(w: NlWriter, req: GenlRequest, t: Target, compact: boolean): void {
  const reply = req.cmd === ETHTOOL_MSG_RINGS_GET ? ETHTOOL_MSG_RINGS_GET_REPLY : req.cmd === ETHTOOL_MSG_COALESCE_GET ? ETHTOOL_MSG_COALESCE_GET_REPLY : req.cmd;
  const m = req.begin(w, reply);
  // ethnl_fill_reply_header: the request's header attribute number (1 for every message).
  const h = w.nestStart(1 | NLA_F_NESTED);
  w.u32(ETHTOOL_A_HEADER_DEV_INDEX, t.ifindex);
  w.str(ETHTOOL_A_HEADER_DEV_NAME, t.name);
  w.nestEnd(h);
  switch (req.cmd) {
    case ETHTOOL_MSG_LINKINFO_GET: {
      const k = t.ops.getLinkKsettings();
      w.u8(2, k.port);
      w.u8(3, k.phyAddress);
      w.u8(4, k.ethTpMdix);
      w.u8(5, k.ethTpMdixCtrl);
      w.u8(6, k.transceiver);
      break;
    }
    case ETHTOOL_MSG_LINKMODES_GET: {
      const k = t.ops.getLinkKsettings();
      w.u8(2, k.autoneg); // AUTONEG
      putBitset(w, 3, k.advertising, k.supported, compact); // OURS: value advertising, mask supported
      if (k.lpAdvertising.length > 0) putBitset(w, 4, k.lpAdvertising, null, compact); // PEER
      w.u32(5, k.speed);
      w.u8(6, k.duplex);
      // LANES (0), MASTER_SLAVE_CFG/STATE (unsupported) are left out; RATE_MATCHING is always put.
      w.u8(10, 0);
      break;
    }
    case ETHTOOL_MSG_LINKSTATE_GET:
      // No PHY driver: SQI is EOPNOTSUPP and no extended state is provided, so only LINK.
      w.u8(2, t.ops.getLink() ? 1 : 0);
      break;
    case ETHTOOL_MSG_RINGS_GET: {
      const r = t.ops.getRingparam();
      if (r.rxMaxPending) {
        w.u32(2, r.rxMaxPending);
        w.u32(6, r.rxPending);
      }
      if (r.txMaxPending) {
        w.u32(5, r.txMaxPending);
        w.u32(9, r.txPending);
      }
      w.u8(13, 0); // TX_PUSH, always put
      break;
    }
    case ETHTOOL_MSG_COALESCE_GET: {
      const c = t.ops.getCoalesce();
      w.u32(COALESCE_ATTRS.rxUsecs, c.rxCoalesceUsecs);
      w.u32(COALESCE_ATTRS.rxMaxFrames, c.rxMaxCoalescedFrames);
      w.u32(COALESCE_ATTRS.txUsecs, c.txCoalesceUsecs);
      w.u32(COALESCE_ATTRS.txMaxFrames, c.txMaxCoalescedFrames);
      break;
    }
  }
  w.end(m);
}

/**
 * ethnl_put_bitset32: NOMASK when there is no mask, SIZE, then either the VALUE and MASK words
 * (compact) or a BITS nest with one BIT (index, name, VALUE flag) per bit set in the mask.
 */
function putBitset(w: NlWriter, type: number, value: readonly number[], mask: readonly number[] | null, compact: boolean): void {
  const nest = w.nestStart(type | NLA_F_NESTED);
  if (!mask) w.flag(ETHTOOL_A_BITSET_NOMASK);
  w.u32(ETHTOOL_A_BITSET_SIZE, ETHTOOL_LINK_MODE_MASK_NBITS);
  if (compact) {
    w.attr(ETHTOOL_A_BITSET_VALUE, words(value));
    if (mask) w.attr(ETHTOOL_A_BITSET_MASK, words(mask));
  } else {
    const bits = w.nestStart(ETHTOOL_A_BITSET_BITS | NLA_F_NESTED);
    for (const i of [...new Set(mask ?? value)].sort((a, b) => a - b)) {
      const bit = w.nestStart(ETHTOOL_A_BITSET_BITS_BIT | NLA_F_NESTED);
      w.u32(ETHTOOL_A_BITSET_BIT_INDEX, i);
      w.str(ETHTOOL_A_BITSET_BIT_NAME, LINK_MODE_NAMES[i] ?? '');
      if (mask && value.includes(i)) w.flag(ETHTOOL_A_BITSET_BIT_VALUE);
      w.nestEnd(bit);
    }
    w.nestEnd(bits);
  }
  w.nestEnd(nest);
}

/** The bitmap as DIV_ROUND_UP(nbits, 32) little-endian u32 words. */
function words(bits: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * Math.ceil(ETHTOOL_LINK_MODE_MASK_NBITS / 32));
  for (const b of bits) writeU32le(out, 4 * (b >> 5), (readU32le(out, 4 * (b >> 5)) | (1 << (b & 31))) >>> 0);
  return out;
}
