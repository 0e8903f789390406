// Two booted boards on one wire — the DUT and the lab host, as `quarklab run` sets them up —
// and ways to put crafted frames on the wire from the lab host's MAC: bytes are written into an
// skb in the lab board's RAM and sent through its driver, so they arrive at the DUT exactly
// as any frame does (MAC, RX ring, NAPI, netif_receive_skb).
import { expect } from 'vitest';
import { NS_PER_MS, NS_PER_US, type Nanos } from '../../emulator/event-queue.js';
import { World } from '../../emulator/world.js';
import type { Wire } from '../../emulator/wire.js';
import { bootBoard, liveObjectBytes, type BootedBoard } from '../../scenarios/boot.js';
import { buildFirmware } from '../../scenarios/firmware.js';
import { LAB_BOARD, LAB_PROFILE, resolveBoard, resolveCostTable, resolveProfile } from '../../scenarios/inputs.js';
import { csumFold, csumPartial, ipChecksum, pseudoHeaderSum } from '../../stack/wire/checksum.js';
import { allocSkb } from '../../stack/core/skbuff.js';
import { inetAddAddress, inetAddRoute, inetFlushInterface } from '../../stack/ipv4/devinet.js';
import { Syscalls, type Datagram } from '../../stack/socket/syscalls.js';
import { writeU16, writeU32 } from '../../stack/uapi/byte-order.js';
import { Errno } from '../../stack/uapi/errno.js';

export const LAB_IP = 0xc0000201; // 192.0.2.1
export const DUT_IP = 0xc0000202; // 192.0.2.2
export const OTHER_IP = 0xc0000263; // 192.0.2.99: on the link, nobody answers ARP for it

export interface Pair {
  world: World;
  dut: BootedBoard;
  lab: BootedBoard;
  dutSys: Syscalls;
  labSys: Syscalls;
  /** The wire between them (tests may wrap its transmit to drop or delay chosen frames). */
  wire: Wire;
}

export interface PairOptions {
  dutBoard?: string;
  dutProfile?: string;
  seed?: number;
  /** Give both boards their static addresses and the DUT its default route (default true). */
  configure?: boolean;
  /** One-way propagation delay of the wire (default 1 µs). */
  linkDelayNs?: number;
}

function must<T>(x: T): Exclude<T, { error: string }> {
  if (typeof x === 'object' && x !== null && 'error' in x) throw new Error((x as { error: string }).error);
  return x as Exclude<T, { error: string }>;
}

export function bootPair(opts: PairOptions = {}): Pair {
  const table = must(resolveCostTable());
  const dutBoard = must(resolveBoard(opts.dutBoard ?? 'quark-2m'));
  const labBoard = must(resolveBoard(LAB_BOARD));
  const dutFw = must(buildFirmware(dutBoard, must(resolveProfile(opts.dutProfile ?? 'minimal')), table));
  const labFw = must(buildFirmware(labBoard, must(resolveProfile(LAB_PROFILE)), table));
  const world = new World(opts.seed ?? 1);
  const lab = must(bootBoard(world, 'lab', labBoard, labFw.image, table, []));
  const dut = must(bootBoard(world, 'dut', dutBoard, dutFw.image, table, []));
  const wire = world.connect(dut.board, lab.board, opts.linkDelayNs ?? NS_PER_US);
  if (opts.configure ?? true) {
    expect(inetAddAddress(lab.stack, lab.dev.ifindex, LAB_IP, 24)).toBe(0);
    expect(inetAddAddress(dut.stack, dut.dev.ifindex, DUT_IP, 24)).toBe(0);
    expect(inetAddRoute(dut.stack, 0, 0, LAB_IP, dut.dev.ifindex)).toBe(0);
  }
  const pair = { world, dut, lab, dutSys: new Syscalls(dut.stack), labSys: new Syscalls(lab.stack), wire };
  settle(pair, NS_PER_MS); // the gratuitous ARPs of the new addresses go out and are heard
  return pair;
}

/** Let the world run for `ns` of virtual time. */
export function settle(p: Pair, ns: Nanos): void {
  p.world.sim.run(p.world.sim.now + ns);
}

/** Send a whole Ethernet frame (no FCS) out of the lab host's MAC. */
export function inject(p: Pair, frame: Uint8Array): void {
  const skb = allocSkb(p.lab.stack.skbs, Math.max(frame.length, 64));
  if (!skb) throw new Error('lab host out of skbs');
  skb.bytes.set(frame, skb.put(frame.length));
  p.lab.stack.xmit(p.lab.dev, skb);
}

export function ethFrame(dst: Uint8Array, src: Uint8Array, ethertype: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(dst, 0);
  f.set(src, 6);
  writeU16(f, 12, ethertype);
  f.set(payload, 14);
  return f;
}

/** An Ethernet frame from the lab host to the DUT's MAC carrying `ip`. */
export function toDut(p: Pair, ip: Uint8Array, ethertype = 0x0800): Uint8Array {
  return ethFrame(p.dut.dev.hwAddr, p.lab.dev.hwAddr, ethertype, ip);
}

export interface IpFields {
  src?: number;
  dst?: number;
  protocol: number;
  id?: number;
  /** Flags and offset word (IP_MF | offset/8). */
  fragOff?: number;
  ttl?: number;
  options?: Uint8Array;
  payload: Uint8Array;
}

/** An IPv4 packet with a correct header checksum (options padded to 4 bytes). */
export function ipPacket(f: IpFields): Uint8Array {
  const opts = f.options ?? new Uint8Array(0);
  const hl = 20 + ((opts.length + 3) & ~3);
  const b = new Uint8Array(hl + f.payload.length);
  b[0] = 0x40 | (hl >> 2);
  writeU16(b, 2, b.length);
  writeU16(b, 4, f.id ?? 1);
  writeU16(b, 6, f.fragOff ?? 0);
  b[8] = f.ttl ?? 64;
  b[9] = f.protocol;
  writeU32(b, 12, f.src ?? LAB_IP);
  writeU32(b, 16, f.dst ?? DUT_IP);
  b.set(opts, 20);
  writeU16(b, 10, ipChecksum(b, 0, hl));
  b.set(f.payload, hl);
  return b;
}

/** A UDP header and payload with a correct checksum for src → dst. */
export function udpSegment(src: number, dst: number, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  writeU16(b, 0, sport);
  writeU16(b, 2, dport);
  writeU16(b, 4, b.length);
  b.set(payload, 8);
  const sum = csumFold(csumPartial(b, 0, b.length, pseudoHeaderSum(src, dst, 17, b.length)));
  writeU16(b, 6, sum === 0 ? 0xffff : sum);
  return b;
}

export function pattern(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}

/**
 * The leak check `quarklab run` makes: once the programs have closed their sockets and the
 * interface is deconfigured, live kernel objects are back to what boot left and no skb lives.
 */
export function expectBaseline(p: Pair, who: 'dut' | 'lab' = 'dut'): void {
  const b = p[who];
  settle(p, 10 * NS_PER_MS); // frames still on the wire finish and free their skbs
  inetFlushInterface(b.stack, b.dev.ifindex);
  expect(b.stack.skbs.live).toBe(0);
  expect(liveObjectBytes(b.board.ram)).toBe(b.baselineObjects);
}

/** Everything a socket has queued, read until -EAGAIN (any other error fails the test). */
export function drain(sys: Syscalls, fd: number): Datagram[] {
  const out: Datagram[] = [];
  for (;;) {
    const r = sys.recvfrom(fd);
    if (typeof r === 'number') {
      expect(r).toBe(-Errno.EAGAIN);
      return out;
    }
    out.push(r);
  }
}
