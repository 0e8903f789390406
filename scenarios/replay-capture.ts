/**
 * Preparing a capture for replay: read it (pcapng or classic pcap), pick the frames that were
 * addressed to the device it was taken on, and map their addresses onto the lab network —
 * the device's MAC and IPv4 address become the board's, every peer's MAC becomes the lab
 * host's and each peer's IPv4 address one of the lab host's (192.0.2.1, then .3, .4 …), so
 * the board's answers reach the lab host, which answers ARP for all of them.
 *
 * Which frames were "to the device": with pcapng direction flags (quarklab's own captures),
 * the inbound frames of the first interface; without them, frames to the device's MAC or to
 * a group address and not from it, the device being the one named (device=MAC), else the
 * interface's own MAC (if_MACaddr), else the unicast MAC that frames are addressed to most often.
 *
 * Checksums are adjusted incrementally (RFC 1624), so a frame that was correct stays correct
 * and a frame with a bad checksum stays bad: malformed traffic replays as malformed. Frames
 * are otherwise sent as recorded; TCP is not re-sequenced.
 */
import { readFileSync } from 'node:fs';
import { isPcapngError, readPcapng } from '../traces/pcapng-reader.js';
import { readPcap } from '../traces/pcap-reader.js';
import { readU32, writeU32 } from '../stack/uapi/byte-order.js';

export interface ReplayFrame {
  /** Time after the first replayed frame. */
  offsetNs: number;
  bytes: Uint8Array;
  /** Which MAC fields take the board's or the lab host's address once they are known (PATCH_*). */
  patch: number;
}

export const PATCH_DST_BOARD = 1;
export const PATCH_SRC_LAB = 2;
export const PATCH_ARP_SENDER_LAB = 4;
export const PATCH_ARP_TARGET_BOARD = 8;

/** Put the board's and lab host's MACs into a planned frame (in place). */
export function applyMacs(f: ReplayFrame, boardMac: Uint8Array, labMac: Uint8Array): void {
  if (f.patch & PATCH_DST_BOARD) f.bytes.set(boardMac, 0);
  if (f.patch & PATCH_SRC_LAB) f.bytes.set(labMac, 6);
  if (f.patch & PATCH_ARP_SENDER_LAB) f.bytes.set(labMac, 22);
  if (f.patch & PATCH_ARP_TARGET_BOARD) f.bytes.set(boardMac, 32);
}

export interface ReplayPlan {
  frames: ReplayFrame[];
  /** Frames in the capture, and how many were addressed to the device. */
  captured: number;
  /** The capture's device, as found. */
  deviceMac: string;
  deviceIp: string | null;
  /** Peer IPv4 addresses → lab host addresses, dotted. */
  peers: Record<string, string>;
  /** The lab-side addresses the lab host must own (beyond its own). */
  labAddresses: number[];
}

const LINKTYPE_ETHERNET = 1;
/** At most this many frames are replayed: the plan is held in host memory. */
const MAX_FRAMES = 1_000_000;

interface RawPacket {
  timestampNs: bigint;
  data: Uint8Array;
  direction?: 'inbound' | 'outbound';
}

function macText(b: Uint8Array, o = 0): string {
  return Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

function ipText(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for the checksum at `at` when a 32-bit field changes. */
function adjustChecksum(b: Uint8Array, at: number, oldValue: number, newValue: number): void {
  let sum = (~((b[at]! << 8) | b[at + 1]!)) & 0xffff;
  for (const [o, n] of [[oldValue >>> 16, newValue >>> 16], [oldValue & 0xffff, newValue & 0xffff]] as const) {
    sum += (~o) & 0xffff;
    sum += n;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const out = (~sum) & 0xffff;
  b[at] = out >>> 8;
  b[at + 1] = out & 255;
}

function loadPackets(path: string): { packets: RawPacket[]; deviceMac: Uint8Array | null } | { error: string } {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    return { error: `${path}: cannot read the capture (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  if (bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) === 0x0a0d0d0a) {
    const f = readPcapng(bytes);
    if (isPcapngError(f)) return { error: `${path}: ${f.message}` };
    const eth = f.interfaces.findIndex((i) => i.linkType === LINKTYPE_ETHERNET);
    if (eth < 0) return { error: `${path}: no Ethernet interface in the capture (link types ${f.interfaces.map((i) => i.linkType).join(', ') || 'none'})` };
    const packets = f.packets.filter((p) => p.interfaceId === eth).map((p) => ({ timestampNs: p.timestampNs, data: p.data, direction: p.direction }));
    return { packets, deviceMac: f.interfaces[eth]!.mac ?? null };
  }
  const f = readPcap(bytes);
  if (!f.ok) return { error: `${path}: ${f.message}` };
  if (f.linkType !== LINKTYPE_ETHERNET) return { error: `${path}: link type ${f.linkType} is not Ethernet (1)` };
  return { packets: f.packets.map((p) => ({ timestampNs: p.timestampNs, data: p.data })), deviceMac: null };
}

/** The unicast MAC that frames are addressed to most often. */
function busiestMac(packets: RawPacket[]): Uint8Array | null {
  const counts = new Map<string, { n: number; mac: Uint8Array }>();
  for (const p of packets) {
    if (p.data.length < 14) continue;
    for (const o of [0]) {
      if ((p.data[o]! & 1) !== 0) continue;
      const k = macText(p.data, o);
      const e = counts.get(k);
      if (e) e.n++;
      else counts.set(k, { n: 1, mac: p.data.slice(o, o + 6) });
    }
  }
  let best: { n: number; mac: Uint8Array } | null = null;
  for (const e of counts.values()) if (!best || e.n > best.n) best = e;
  return best?.mac ?? null;
}

function sameMac(b: Uint8Array, o: number, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (b[o + i] !== mac[i]) return false;
  return true;
}

export function planReplay(path: string, boardIp: number, labIp: number, deviceMac?: Uint8Array): ReplayPlan | { error: string } {
  const loaded = loadPackets(path);
  if ('error' in loaded) return loaded;
  const { packets } = loaded;
  if (packets.length === 0) return { error: `${path}: the capture holds no Ethernet frames` };
  const hasDirections = packets.some((p) => p.direction !== undefined);
  const device = deviceMac ?? loaded.deviceMac ?? busiestMac(packets);
  if (!device) return { error: `${path}: no unicast MAC in the capture to take as the device` };
  const toDevice = packets.filter((p) => {
    if (p.data.length < 14) return hasDirections && p.direction === 'inbound'; // runts replay as runts
    if (hasDirections && !deviceMac) return p.direction === 'inbound';
    return (sameMac(p.data, 0, device) || (p.data[0]! & 1) === 1) && !sameMac(p.data, 6, device);
  });
  if (toDevice.length === 0) return { error: `${path}: no frame in the capture was addressed to ${macText(device)}` };
  if (toDevice.length > MAX_FRAMES) return { error: `${path}: ${toDevice.length} frames to replay, more than ${MAX_FRAMES}` };

  // The device's IPv4 address: the destination seen most often on IPv4 frames to its MAC.
  const dstCounts = new Map<number, number>();
  for (const p of toDevice) {
    const d = p.data;
    if (d.length >= 34 && d[12] === 0x08 && d[13] === 0x00 && sameMac(d, 0, device)) {
      const dst = readU32(d, 30);
      dstCounts.set(dst, (dstCounts.get(dst) ?? 0) + 1);
    }
  }
  let deviceIp: number | null = null;
  for (const [ip, n] of dstCounts) if (deviceIp === null || n > dstCounts.get(deviceIp)!) deviceIp = ip;

  const peerMap = new Map<number, number>();
  const labBase = labIp & 0xffffff00;
  let nextHost = 1;
  const mapPeer = (ip: number): number => {
    if (ip === 0 || ip === 0xffffffff || ip === deviceIp) return ip === deviceIp ? boardIp : ip;
    let m = peerMap.get(ip);
    if (m === undefined) {
      // 192.0.2.1 first (the lab host's own), then .3, .4 …: .2 is the board's.
      const host = nextHost;
      nextHost = nextHost === 1 ? 3 : Math.min(nextHost + 1, 254);
      m = (labBase | host) >>> 0;
      peerMap.set(ip, m);
    }
    return m;
  };
  const mapIp = (ip: number): number => (ip === deviceIp ? boardIp : (ip >>> 28) === 0xe || ip === 0xffffffff || ip === 0 ? ip : mapPeer(ip));

  const t0 = toDevice[0]!.timestampNs;
  const frames: ReplayFrame[] = [];
  for (const p of toDevice) {
    const b = p.data.slice();
    let patch = 0;
    if (b.length >= 14) {
      patch = PATCH_SRC_LAB | (sameMac(b, 0, device) ? PATCH_DST_BOARD : 0);
      const type = (b[12]! << 8) | b[13]!;
      if (type === 0x0806 && b.length >= 42 && b[18] === 6 && b[19] === 4) {
        // The sender is a peer (frames from the device were not selected); the target may be the device.
        patch |= PATCH_ARP_SENDER_LAB | (sameMac(b, 32, device) ? PATCH_ARP_TARGET_BOARD : 0);
        writeU32(b, 28, mapIp(readU32(b, 28)));
        writeU32(b, 38, mapIp(readU32(b, 38)));
      } else if (type === 0x0800) rewriteIpv4(b, mapIp);
    }
    const offset = p.timestampNs - t0;
    frames.push({ offsetNs: offset < 0n ? 0 : Number(offset), bytes: b, patch });
  }
  // Replay in time order (a capture from several interfaces may interleave out of order).
  frames.sort((a, b) => a.offsetNs - b.offsetNs);
  const peers: Record<string, string> = {};
  for (const [from, to] of peerMap) peers[ipText(from)] = ipText(to);
  return {
    frames,
    captured: packets.length,
    deviceMac: macText(device),
    deviceIp: deviceIp === null ? null : ipText(deviceIp),
    peers,
    labAddresses: [...new Set(peerMap.values())].filter((a) => a !== labIp),
  };
}

function rewriteIpv4(b: Uint8Array, mapIp: (ip: number) => number): void {
  if (b.length < 34 || b[14]! >> 4 !== 4) return;
  const ihl = (b[14]! & 15) * 4;
  if (ihl < 20 || 14 + ihl > b.length) return;
  const proto = b[23]!;
  const fragOffset = ((b[20]! << 8) | b[21]!) & 0x1fff;
  const l4 = 14 + ihl;
  for (const at of [26, 30]) {
    const old = readU32(b, at);
    const mapped = mapIp(old);
    if (mapped === old) continue;
    writeU32(b, at, mapped);
    adjustChecksum(b, 24, old, mapped);
    // TCP and UDP checksums cover the addresses (pseudo-header); only the first fragment holds them.
    if (fragOffset !== 0) continue;
    if (proto === 6 && b.length >= l4 + 18) adjustChecksum(b, l4 + 16, old, mapped);
    else if (proto === 17 && b.length >= l4 + 8 && (b[l4 + 6] !== 0 || b[l4 + 7] !== 0)) adjustChecksum(b, l4 + 6, old, mapped);
  }
}
