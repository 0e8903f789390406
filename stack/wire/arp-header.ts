/**
 * ARP for IPv4 over Ethernet (RFC 826): view, parsed form and emit.
 */
import { readU16, readU32, writeU16, writeU32 } from '../uapi/byte-order.js';

export const ARP_LEN = 28;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;

export interface ArpRepr {
  op: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

/** Null when the packet is short or not Ethernet/IPv4 ARP (counted as a drop by the caller). */
export function parseArp(bytes: Uint8Array, offset: number, length: number): ArpRepr | null {
  if (length < ARP_LEN) return null;
  if (readU16(bytes, offset) !== 1 || readU16(bytes, offset + 2) !== 0x0800) return null;
  if (bytes[offset + 4] !== 6 || bytes[offset + 5] !== 4) return null;
  return {
    op: readU16(bytes, offset + 6),
    senderMac: bytes.slice(offset + 8, offset + 14),
    senderIp: readU32(bytes, offset + 14),
    targetMac: bytes.slice(offset + 18, offset + 24),
    targetIp: readU32(bytes, offset + 24),
  };
}

export function emitArp(r: ArpRepr, bytes: Uint8Array, offset: number): void {
  writeU16(bytes, offset, 1);
  writeU16(bytes, offset + 2, 0x0800);
  bytes[offset + 4] = 6;
  bytes[offset + 5] = 4;
  writeU16(bytes, offset + 6, r.op);
  bytes.set(r.senderMac, offset + 8);
  writeU32(bytes, offset + 14, r.senderIp);
  bytes.set(r.targetMac, offset + 18);
  writeU32(bytes, offset + 24, r.targetIp);
}
