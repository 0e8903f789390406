/**
 * Ethernet II header: a checked view over bytes plus the plain parsed form, and the emitter.
 */
import { readU16, writeU16 } from '../uapi/byte-order.js';
import { ETH_ALEN, ETH_HLEN } from '../uapi/if-ether.js';

export interface EthernetRepr {
  dst: Uint8Array;
  src: Uint8Array;
  ethertype: number;
}

/** ether_addr_equal: the six bytes at `aOff` in `a` against the address `b`. */
export function macEqual(a: Uint8Array, aOff: number, b: Uint8Array): boolean {
  for (let i = 0; i < ETH_ALEN; i++) if (a[aOff + i] !== b[i]) return false;
  return true;
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
