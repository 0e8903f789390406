/**
 * Ethernet II header: a typed view over bytes plus the plain parsed form, and eth_type_trans.
 */
import { BROADCAST_MAC, macEqual } from '../core/addr.js';
import { readU16, writeU16 } from '../uapi/byte-order.js';

export const ETH_HLEN = 14;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_ZLEN = 60;

export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;

export interface EthernetRepr {
  dst: Uint8Array;
  src: Uint8Array;
  ethertype: number;
}

/** Checked view: construction fails (null) when the buffer is shorter than a header. */
export class EthernetFrame {
  private constructor(
    readonly bytes: Uint8Array,
    readonly offset: number,
  ) {}

  static check(bytes: Uint8Array, offset: number, length: number): EthernetFrame | null {
    return length >= ETH_HLEN && offset + length <= bytes.length ? new EthernetFrame(bytes, offset) : null;
  }

  get ethertype(): number {
    return readU16(this.bytes, this.offset + 12);
  }

  dstIs(mac: Uint8Array): boolean {
    return macEqual(this.bytes, this.offset, mac);
  }

  get dstIsMulticast(): boolean {
    return (this.bytes[this.offset]! & 1) === 1;
  }

  src(): Uint8Array {
    return this.bytes.slice(this.offset + 6, this.offset + 12);
  }
}

export function emitEthernet(repr: EthernetRepr, bytes: Uint8Array, offset: number): void {
  bytes.set(repr.dst, offset);
  bytes.set(repr.src, offset + 6);
  writeU16(bytes, offset + 12, repr.ethertype);
}

/** Classify a frame for this interface, as eth_type_trans sets skb->pkt_type. */
export function classifyFrame(frame: EthernetFrame, ourMac: Uint8Array): number {
  if (frame.dstIs(ourMac)) return PACKET_HOST;
  if (frame.dstIs(BROADCAST_MAC)) return PACKET_BROADCAST;
  if (frame.dstIsMulticast) return PACKET_MULTICAST;
  return PACKET_OTHERHOST;
}
