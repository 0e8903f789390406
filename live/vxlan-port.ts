/**
 * The board's MAC on a real network: a VXLAN tunnel endpoint (RFC 7348) over a UDP socket.
 *
 * Each Ethernet frame travels in one UDP datagram behind an 8-byte VXLAN header: flags with
 * the I bit (0x08) set, 24 reserved bits, the 24-bit VNI, 8 reserved bits. Linux's `vxlan`
 * device speaks the same (`ip link add … type vxlan id 42 dstport 4789`), so a Linux host
 * reaches the board with no TAP device and no native code.
 *
 * The port is the wire on the board's side: it keeps the link's pace in virtual time in both
 * directions (a frame occupies the 100 Mbit/s link for its serialisation time, preamble, FCS
 * and gap included), and between the tunnel and the MAC it holds at most a switch's worth of
 * frames; a burst beyond that is dropped and counted, as a switch port would.
 */
import type { Socket } from 'node:dgram';
import { wireBytes, type EthernetMac, type WirePort } from '../emulator/ethernet-mac.js';
import { Timer, type EventQueue, type Nanos } from '../emulator/event-queue.js';

export const VXLAN_HEADER_LEN = 8;
export const VXLAN_FLAG_I = 0x08;
/** Frames the switch port in front of the board holds while the link is busy. */
export const SWITCH_QUEUE_FRAMES = 256;
/** Datagrams held between the socket and the next pacer tick; more are dropped (host memory stays bounded). */
export const HOST_QUEUE_DATAGRAMS = 4096;

export interface VxlanStats {
  /** Datagrams sent to the remote end. */
  txDatagrams: number;
  /** Datagrams that carried a frame for the board. */
  rxDatagrams: number;
  /** Datagrams too short, without the I flag, or for another VNI (not for us). */
  rxBadHeader: number;
  rxWrongVni: number;
  /** Frames dropped because the switch queue in front of the board was full. */
  rxQueueDrops: number;
  /** sendto() errors from the host socket. */
  txErrors: number;
  /** Datagrams dropped because the emulator had not taken the earlier ones yet. */
  hostQueueDrops: number;
}

export interface TunnelEnd {
  address: string;
  port: number;
}

/** The 8-byte VXLAN header for a VNI. */
export function vxlanHeader(vni: number): Uint8Array {
  const h = new Uint8Array(VXLAN_HEADER_LEN);
  h[0] = VXLAN_FLAG_I;
  h[4] = (vni >>> 16) & 0xff;
  h[5] = (vni >>> 8) & 0xff;
  h[6] = vni & 0xff;
  return h;
}

/** The frame inside a VXLAN datagram for `vni`, or why it is not one. */
export function vxlanDecap(datagram: Uint8Array, vni: number): Uint8Array | 'bad-header' | 'wrong-vni' {
  if (datagram.length < VXLAN_HEADER_LEN + 14 || (datagram[0]! & VXLAN_FLAG_I) === 0) return 'bad-header';
  const got = (datagram[4]! << 16) | (datagram[5]! << 8) | datagram[6]!;
  if (got !== vni) return 'wrong-vni';
  return datagram.subarray(VXLAN_HEADER_LEN);
}

export class VxlanPort implements WirePort {
  readonly stats: VxlanStats = { txDatagrams: 0, rxDatagrams: 0, rxBadHeader: 0, rxWrongVni: 0, rxQueueDrops: 0, txErrors: 0, hostQueueDrops: 0 };
  /** A real network has no emulated impairments to note on a frame. */
  readonly lastTxNote: string | null = null;
  /** Datagrams from the socket not yet handed to the board. */
  private readonly arrived: Uint8Array[] = [];
  private readonly header: Uint8Array;
  private txBusyUntil: Nanos = 0;
  private rxBusyUntil: Nanos = 0;
  private readonly onSent = (err: Error | null): void => {
    if (err) this.stats.txErrors++;
  };

  constructor(
    private readonly sim: EventQueue,
    private readonly mac: EthernetMac,
    private readonly socket: Socket,
    private readonly remote: TunnelEnd,
    readonly vni: number,
  ) {
    this.header = vxlanHeader(vni);
    mac.attach(this);
  }

  private serialisationNs(frameLen: number): Nanos {
    return Math.ceil((wireBytes(frameLen) * 8 * 1e9) / this.mac.linkSpeedBps);
  }

  /**
   * The MAC sends: the link is busy for the frame's length, and the datagram leaves through the
   * tunnel when the frame's last bit is on the link (the MAC's TX completion, in virtual time).
   * Sent at once instead, a burst of frames would reach the peer faster than the link carries
   * them, and the peer could acknowledge a segment before the board's driver had finished
   * sending it.
   */
  transmit(_from: EthernetMac, bytes: Buffer, offset: number, length: number): Nanos {
    // The MAC reuses its buffer: the socket gets its own copy of the frame.
    const frame = Buffer.from(bytes.subarray(offset, offset + length));
    const start = Math.max(this.sim.now, this.txBusyUntil);
    const done = start + this.serialisationNs(frame.length);
    this.txBusyUntil = done;
    this.onTxLink.push(frame);
    this.onTxLinkDone.push(done);
    if (this.onTxLink.length === 1) this.sim.mod(this.sendHeadTimer, done);
    return done;
  }

  /** Frames on the link away from the board, in order, and when each has been carried. */
  private readonly onTxLink: Buffer[] = [];
  private readonly onTxLinkDone: Nanos[] = [];
  /** One timer, re-armed, walks the outgoing link queue: no event or closure per frame. */
  private readonly sendHeadTimer = new Timer(() => {
    const frame = this.onTxLink.shift()!;
    this.onTxLinkDone.shift();
    this.stats.txDatagrams++;
    this.socket.send([this.header, frame], this.remote.port, this.remote.address, this.onSent);
    if (this.onTxLink.length > 0) this.sim.mod(this.sendHeadTimer, this.onTxLinkDone[0]!);
  });

  /** A datagram from the socket (host time): held until the pacer's next tick takes it. */
  enqueue(datagram: Uint8Array): boolean {
    if (this.arrived.length >= HOST_QUEUE_DATAGRAMS) {
      this.stats.hostQueueDrops++;
      return false;
    }
    this.arrived.push(datagram);
    return true;
  }

  /** Hand every datagram that arrived to the board, at the current virtual time. */
  takeArrived(): void {
    for (let i = 0; i < this.arrived.length; i++) this.receive(this.arrived[i]!);
    this.arrived.length = 0;
  }

  /**
   * A datagram from the tunnel, handed over at the current virtual time: its frame reaches the
   * MAC once the link has carried it, after any frames still ahead of it.
   */
  receive(datagram: Uint8Array): void {
    const frame = vxlanDecap(datagram, this.vni);
    if (frame === 'bad-header') {
      this.stats.rxBadHeader++;
      return;
    }
    if (frame === 'wrong-vni') {
      this.stats.rxWrongVni++;
      return;
    }
    const now = this.sim.now;
    const ser = this.serialisationNs(frame.length);
    // The switch holds up to SWITCH_QUEUE_FRAMES full-size frames' worth of link time.
    if (this.rxBusyUntil - now > SWITCH_QUEUE_FRAMES * this.serialisationNs(1514)) {
      this.stats.rxQueueDrops++;
      return;
    }
    this.stats.rxDatagrams++;
    const arrival = Math.max(now, this.rxBusyUntil) + ser;
    this.rxBusyUntil = arrival;
    // node:dgram hands each message its own Buffer, so the frame can be kept until it arrives.
    this.onLink.push(frame);
    this.onLinkArrival.push(arrival);
    if (this.onLink.length === 1) this.sim.at(arrival, this.deliverHead);
  }

  /** Frames on the link towards the board, in order, and when each arrives. */
  private readonly onLink: Uint8Array[] = [];
  private readonly onLinkArrival: Nanos[] = [];
  /** One event at a time walks the link queue: no closure per frame. */
  private readonly deliverHead = (): void => {
    const frame = this.onLink.shift()!;
    this.onLinkArrival.shift();
    this.mac.deliver(frame, true);
    if (this.onLink.length > 0) this.sim.at(this.onLinkArrival[0]!, this.deliverHead);
  };
}
