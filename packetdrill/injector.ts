/**
 * The remote end of the script's connection, in place of packetdrill's TUN device: a wire
 * port on the board's MAC that hands every frame the board sends to the runner (and answers
 * ARP for the remote address, as the TUN's peer never needs to), and the builder of inbound
 * segments — Ethernet, IPv4 and TCP headers written by the stack's own emitters and checksum
 * code, the options in the script's layout — delivered to the MAC as a wire would.
 */
import type { EthernetMac, WirePort } from '../emulator/ethernet-mac.js';
import { wireBytes } from '../emulator/ethernet-mac.js';
import type { EventQueue, Nanos } from '../emulator/event-queue.js';
import { ARP_LEN, ARPOP_REPLY, ARPOP_REQUEST, emitArp, parseArp } from '../stack/wire/arp-header.js';
import { emitIpv4, IP_DF } from '../stack/wire/ipv4-header.js';
import { emitTcp } from '../stack/wire/tcp-header.js';
import type { TcpPacketSpec } from './script.js';
import { encodeOptions, flagBits } from './tcp-options.js';
import { readU16 } from '../stack/uapi/byte-order.js';
import { ETH_HLEN, ETH_P_ARP, ETH_P_IP } from '../stack/uapi/if-ether.js';
import { emitEthernet } from '../stack/wire/ethernet-header.js';
import { IPPROTO_TCP } from '../stack/uapi/in.js';

/** The remote host's MAC (locally administered). */
export const REMOTE_MAC = Uint8Array.from([0x02, 0x00, 0x5e, 0x00, 0x02, 0x01]);

export interface Flow {
  localIp: number;
  remoteIp: number;
  /** The board's port (0 until known) and the remote's. */
  localPort: number;
  remotePort: number;
}

/** Offsets that map script numbers to wire numbers, learned from the board's packets. */
export interface SeqMap {
  /** The board's initial sequence number (its SYN or SYN-ACK's seq less the script's). */
  localIsn: number | null;
  /** Board TS value less the script's, for the echo of inbound segments. */
  tsValDelta: number;
}

export type InboundResult = Uint8Array | { error: string };

/** Frame an inbound segment: script sequence numbers are the remote's own, acks are relative to the board's ISN. */
export function buildInbound(p: TcpPacketSpec, flow: Flow, map: SeqMap, boardMac: Uint8Array): InboundResult {
  const opts = p.options === 'any' ? null : p.options;
  if (p.options === 'any') return { error: 'inbound packet with <...> options (the runner must know what to send)' };
  const optBytes = opts ? encodeOptions(opts, map.tsValDelta, map.localIsn ?? 0).bytes : new Uint8Array(0);
  if (optBytes.length > 40) return { error: `inbound TCP options are ${optBytes.length} bytes; at most 40 fit` };
  const tcpLen = 20 + optBytes.length + p.len;
  const ipLen = 20 + tcpLen;
  if (ETH_HLEN + ipLen > 1514) return { error: `inbound packet of ${ipLen} bytes does not fit the 1500-byte MTU` };
  const frame = new Uint8Array(ETH_HLEN + ipLen);
  emitEthernet({ dst: boardMac, src: REMOTE_MAC, ethertype: ETH_P_IP }, frame, 0);
  emitIpv4({ src: flow.remoteIp, dst: flow.localIp, protocol: IPPROTO_TCP, ttl: 64, tos: 0, id: 0, fragOff: IP_DF, headerLength: 20, totalLength: ipLen }, frame, ETH_HLEN);
  const t = ETH_HLEN + 20;
  frame.set(optBytes, t + 20); // payload bytes stay zero, as packetdrill sends
  const flags = flagBits(p.flags);
  const ack = flags & 0x10 ? (p.ack ?? 0) + (map.localIsn ?? 0) : 0;
  emitTcp({ srcPort: flow.remotePort, dstPort: flow.localPort, seq: p.seq, ack: ack >>> 0, flags, window: p.win ?? 65535, urgent: 0, options: {}, headerLength: 20 + optBytes.length }, frame, t, tcpLen, flow.remoteIp, flow.localIp);
  return frame;
}

/** A frame the board sent, with the virtual time it left the MAC. */
export interface SentFrame {
  time: Nanos;
  frame: Uint8Array;
}

/** The wire port on the board's MAC. Outbound IPv4 frames queue for the matcher. */
export class RemotePort implements WirePort {
  readonly sent: SentFrame[] = [];
  /** The script's wire is perfect: nothing to note on a frame. */
  readonly lastTxNote: string | null = null;
  private busyUntil = 0;

  constructor(
    private readonly sim: EventQueue,
    private readonly mac: EthernetMac,
    private readonly remoteIp: number,
  ) {
    mac.attach(this);
  }

  transmit(_from: EthernetMac, bytes: Buffer, offset: number, length: number): Nanos {
    // The MAC reuses its transmit buffer: the matcher keeps its own copy of the frame.
    const frame = Uint8Array.prototype.slice.call(bytes, offset, offset + length);
    const now = this.sim.now;
    const start = Math.max(now, this.busyUntil);
    this.busyUntil = start + Math.ceil((wireBytes(frame.length) * 8 * 1e9) / this.mac.linkSpeedBps);
    if (frame.length >= ETH_HLEN && readU16(frame, 12) === ETH_P_ARP) this.answerArp(frame);
    else if (frame.length >= ETH_HLEN && readU16(frame, 12) === ETH_P_IP) this.sent.push({ time: now, frame });
    return this.busyUntil;
  }

  /** The remote answers ARP for its address, a moment later. */
  private answerArp(frame: Uint8Array): void {
    const req = parseArp(frame, ETH_HLEN, frame.length - ETH_HLEN);
    if (!req || req.op !== ARPOP_REQUEST || req.targetIp !== this.remoteIp) return;
    const reply = new Uint8Array(ETH_HLEN + ARP_LEN + 18);
    emitEthernet({ dst: req.senderMac, src: REMOTE_MAC, ethertype: ETH_P_ARP }, reply, 0);
    emitArp({ op: ARPOP_REPLY, senderMac: REMOTE_MAC, senderIp: this.remoteIp, targetMac: req.senderMac, targetIp: req.senderIp }, reply, ETH_HLEN);
    this.sim.after(1000, () => this.mac.deliver(reply, true));
  }

  /** Deliver an inbound frame now, as the last bit arriving from the wire. */
  inject(frame: Uint8Array): void {
    this.mac.deliver(frame, true);
  }
}
