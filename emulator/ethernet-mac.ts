/**
 * An Ethernet MAC modelled on a DMA descriptor engine (the Quark X1000 has a Synopsys
 * DesignWare MAC, driven by Linux's stmmac).
 *
 * The MAC moves bytes between the wire and buffers in board RAM that the driver posts in its
 * RX and TX descriptor rings. It knows nothing of protocols: frames are opaque bytes. A frame
 * that arrives when the driver has no free RX descriptor is dropped and counted as
 * rx_missed_errors, which is what `ethtool -S` shows for a ring overrun.
 *
 * Group-addressed frames pass the MAC's destination-address filter (dwmac1000's frame filter
 * with its 64-bin multicast hash, which the driver programs from the device's multicast list)
 * or are dropped and counted as da_rx_filter_fail. Broadcast always passes; unicast frames are
 * not filtered here (the perfect unicast filter is not modelled: eth_type_trans drops frames
 * for other stations, as before).
 */
import { NANOS_ZERO, Timer, type EventQueue, type Nanos } from './event-queue.js';

/** Ethernet framing overheads, in bytes on the wire (IEEE 802.3). */
export const PREAMBLE_SFD = 8;
export const FCS_LEN = 4;
export const INTER_FRAME_GAP = 12;
export const MIN_FRAME_NO_FCS = 60;
export const MAX_FRAME_NO_FCS = 1514;

/** Bytes a frame occupies on the wire including preamble, padding, FCS and the gap after it. */
export function wireBytes(frameLen: number): number {
  return PREAMBLE_SFD + Math.max(frameLen, MIN_FRAME_NO_FCS) + FCS_LEN + INTER_FRAME_GAP;
}

export interface MacStats {
  rx_packets: number;
  rx_bytes: number;
  rx_missed_errors: number;
  rx_crc_errors: number;
  rx_length_errors: number;
  tx_packets: number;
  tx_bytes: number;
  tx_errors: number;
  rx_irqs: number;
  tx_irqs: number;
  /** Group-addressed frames the destination-address filter rejected (stmmac's ethtool -S name). */
  da_rx_filter_fail: number;
}

/**
 * The receive address filter as the driver programs it (dwmac1000 GMAC_FRAME_FILTER and
 * GMAC_HASH_HIGH/LOW): promiscuous (PR), pass all multicast (PM), and the multicast hash
 * table, bin n being bit n%32 of word n>>5 (word 0 is HASH_LOW).
 */
export interface RxFilter {
  promiscuous: boolean;
  allMulticast: boolean;
  hash: readonly [number, number];
}

/** CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of `length` bytes, without the final inversion (crc32_le(~0, …)). */
function crc32le(bytes: Uint8Array, offset: number, length: number): number {
  let crc = 0xffffffff;
  for (let i = 0; i < length; i++) {
    crc ^= bytes[offset + i]!;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return crc >>> 0;
}

function bitrev32(x: number): number {
  let r = 0;
  for (let i = 0; i < 32; i++) r = (r << 1) | ((x >>> i) & 1);
  return r >>> 0;
}

/**
 * The multicast hash bin (0–63) of the 6-byte address at `offset`: the upper 6 bits of the
 * bit-reversed, inverted CRC-32 of the address. The hardware indexes its table this way and
 * dwmac1000_set_filter computes the same (bitrev32(~crc32_le(~0, addr, 6)) >> 26).
 */
export function macHashBin(addr: Uint8Array, offset = 0): number {
  return bitrev32(~crc32le(addr, offset, 6) >>> 0) >>> 26;
}

export interface RxDescriptor {
  addr: number;
  size: number;
  /** Owned by the hardware: posted by the driver and not yet filled. */
  hwOwned: boolean;
  /** Filled length once the hardware has written a frame. */
  length: number;
  /** Driver-side cookie (an skb data handle) carried with the descriptor. */
  cookie: number;
}

export type FrameDirection = 'inbound' | 'outbound';

/**
 * An observer sees every frame the MAC sends or receives, with the reason when it is dropped.
 * This form gets its own copy of each frame (an allocation per frame): for tests and tools.
 */
export type MacTap = (event: { mac: EthernetMac; direction: FrameDirection; time: Nanos; frame: Uint8Array; drop?: string }) => void;

/**
 * What the allocation-free tap sees: one record per MAC, filled in for each frame and valid
 * only during the call (`bytes` is board RAM or a wire buffer that is reused).
 */
export interface FrameEvent {
  mac: EthernetMac;
  direction: FrameDirection;
  time: Nanos;
  /** The frame is `length` bytes at `offset` in `bytes` (without its FCS). */
  bytes: Buffer;
  offset: number;
  length: number;
  /** Why the MAC dropped it, or null when it accepted (or sent) it. */
  drop: string | null;
  /** The MAC dropped it for a bad FCS (the capture's CRC-error flag). */
  crcError: boolean;
  /** What the wire did to this frame (lost, duplicated, held back, corrupted), or null. */
  wireNote: string | null;
  /** The FCS the sender put on the frame when it differs from the bytes' own (a corrupted frame), else -1. */
  sentFcs: number;
}

export type FrameTap = (event: FrameEvent) => void;

/** The wire side of a MAC: the Wire calls `deliverFrom` for arriving frames. */
export interface WirePort {
  /** Send `length` bytes at `offset` in `bytes` (copied before return); returns when the last bit and gap have left. */
  transmit(from: EthernetMac, bytes: Buffer, offset: number, length: number): Nanos;
  /** What the wire did to the frame transmit() was last given, or null (read right after it). */
  readonly lastTxNote: string | null;
}

/** A transmitted frame waiting for its completion interrupt (a TX descriptor in flight). */
class TxCompletion extends Timer {
  cookie = 0;
  length = 0;
  constructor(mac: EthernetMac) {
    super(() => mac.txDone(this));
  }
}

export class EthernetMac {
  readonly stats: MacStats = {
    rx_packets: 0,
    rx_bytes: 0,
    rx_missed_errors: 0,
    rx_crc_errors: 0,
    rx_length_errors: 0,
    tx_packets: 0,
    tx_bytes: 0,
    tx_errors: 0,
    rx_irqs: 0,
    tx_irqs: 0,
    da_rx_filter_fail: 0,
  };
  /** After reset the hash table is empty and neither PR nor PM is set: no multicast passes. */
  private rxFilter: RxFilter = { promiscuous: false, allMulticast: false, hash: [0, 0] };
  readonly rxRing: RxDescriptor[];
  /** Next descriptor the hardware fills. */
  private rxHead = 0;
  private txInFlight = 0;
  private port: WirePort | null = null;
  private readonly taps: MacTap[] = [];
  private readonly frameTaps: FrameTap[] = [];
  private readonly event: FrameEvent;
  /** Board RAM as a Buffer, for copies that allocate nothing. */
  private readonly ram: Buffer;
  private readonly txFree: TxCompletion[] = [];
  private readonly coalesceTimer: Timer;

  /** Interrupt lines, raised to the driver; NAPI masks the RX one while polling. */
  rxIrqEnabled = true;
  /** RX interrupt coalescing: wait up to this long, or for this many frames, before interrupting. */
  rxCoalesceNs = 0;
  rxCoalesceFrames = 1;
  private coalesced = 0;
  onRxIrq: (() => void) | null = null;
  onTxComplete: ((cookie: number) => void) | null = null;

  constructor(
    readonly name: string,
    readonly address: Uint8Array,
    readonly linkSpeedBps: number,
    readonly txRingSize: number,
    rxRingSize: number,
    private readonly sim: EventQueue,
    private readonly memory: Uint8Array,
  ) {
    this.rxRing = Array.from({ length: rxRingSize }, () => ({ addr: 0, size: 0, hwOwned: false, length: 0, cookie: 0 }));
    this.ram = Buffer.from(memory.buffer, memory.byteOffset, memory.byteLength);
    this.coalesceTimer = new Timer(() => this.raiseRxIrq());
    this.event = { mac: this, direction: 'inbound', time: NANOS_ZERO, bytes: this.ram, offset: 0, length: 0, drop: null, crcError: false, wireNote: null, sentFcs: -1 };
  }

  attach(port: WirePort): void {
    this.port = port;
  }

  get linkUp(): boolean {
    return this.port !== null;
  }

  addTap(tap: MacTap): void {
    this.taps.push(tap);
  }

  addFrameTap(tap: FrameTap): void {
    this.frameTaps.push(tap);
  }

  /** The driver writes the frame filter and hash registers (ndo_set_rx_mode). */
  setRxFilter(filter: RxFilter): void {
    this.rxFilter = { promiscuous: filter.promiscuous, allMulticast: filter.allMulticast, hash: [filter.hash[0] >>> 0, filter.hash[1] >>> 0] };
  }

  get filter(): RxFilter {
    return this.rxFilter;
  }

  /** Does the destination-address filter pass this frame? (Its length is already checked.) */
  private addressPasses(frame: Uint8Array, offset: number): boolean {
    if ((frame[offset]! & 1) === 0) return true; // unicast: not filtered in this model
    const f = this.rxFilter;
    if (f.promiscuous || f.allMulticast) return true;
    let broadcast = true;
    for (let i = 0; i < 6; i++) if (frame[offset + i] !== 0xff) broadcast = false;
    if (broadcast) return true;
    const bin = macHashBin(frame, offset);
    return ((f.hash[bin >> 5]! >>> (bin & 31)) & 1) === 1;
  }

  /** Driver posts (or re-posts) an RX buffer at ring slot `index`. */
  postRxBuffer(index: number, addr: number, size: number, cookie: number): void {
    const d = this.rxRing[index]!;
    d.addr = addr;
    d.size = size;
    d.cookie = cookie;
    d.length = 0;
    d.hwOwned = true;
  }

  /** TX descriptors free for the driver; when 0 the driver stops its queue (netif_stop_queue). */
  get txSpace(): number {
    return this.txRingSize - this.txInFlight;
  }

  /**
   * Transmit `length` bytes at `addr` in RAM. Returns false when the TX ring is full.
   * Completion is reported through onTxComplete(cookie) once the last bit is on the wire.
   */
  transmit(addr: number, length: number, cookie: number): boolean {
    if (this.txInFlight >= this.txRingSize) return false;
    if (length < 14 || length > MAX_FRAME_NO_FCS || addr < 0 || addr + length > this.memory.length) {
      this.stats.tx_errors++;
      return false;
    }
    // The DMA engine reads the frame now (the wire keeps its own copy); the driver may not
    // touch the buffer until completion.
    this.txInFlight++;
    const done = this.port ? this.port.transmit(this, this.ram, addr, length) : this.sim.now;
    this.notify('outbound', this.sim.now, this.ram, addr, length, null, this.port ? this.port.lastTxNote : null, -1);
    const c = this.txFree.pop() ?? new TxCompletion(this);
    c.cookie = cookie;
    c.length = length;
    this.sim.mod(c, done);
    return true;
  }

  /** The last bit of a frame is on the wire: free its descriptor and interrupt. */
  txDone(c: TxCompletion): void {
    this.txInFlight--;
    this.stats.tx_packets++;
    this.stats.tx_bytes += c.length;
    this.stats.tx_irqs++;
    this.txFree.push(c);
    this.onTxComplete?.(c.cookie);
  }

  /** A frame's last bit arrives. `fcsOk` is false for a corrupted frame. */
  deliver(frame: Uint8Array, fcsOk: boolean): void {
    this.deliverFrom(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), 0, frame.length, fcsOk);
  }

  /** Called by the wire when a frame's last bit arrives: `length` bytes at `offset` in `bytes`. */
  deliverFrom(bytes: Buffer, offset: number, length: number, fcsOk: boolean, wireNote: string | null = null, sentFcs = -1): void {
    const now = this.sim.now;
    if (!fcsOk) {
      this.stats.rx_crc_errors++;
      this.notify('inbound', now, bytes, offset, length, 'dropped by MAC: FCS error (rx_crc_errors)', wireNote, sentFcs, true);
      return;
    }
    if (length < 14 || length > MAX_FRAME_NO_FCS) {
      this.stats.rx_length_errors++;
      this.notify('inbound', now, bytes, offset, length, 'dropped by MAC: bad length (rx_length_errors)', wireNote, sentFcs);
      return;
    }
    if (!this.addressPasses(bytes, offset)) {
      this.stats.da_rx_filter_fail++;
      this.notify('inbound', now, bytes, offset, length, 'dropped by MAC: multicast address not in the hash filter (da_rx_filter_fail)', wireNote, sentFcs);
      return;
    }
    const d = this.rxRing[this.rxHead]!;
    if (!d.hwOwned || d.size < length) {
      this.stats.rx_missed_errors++;
      this.notify('inbound', now, bytes, offset, length, 'dropped by MAC: RX ring full (rx_missed_errors)', wireNote, sentFcs);
      return;
    }
    bytes.copy(this.ram, d.addr, offset, offset + length);
    d.length = length;
    d.hwOwned = false;
    this.rxHead = (this.rxHead + 1) % this.rxRing.length;
    this.stats.rx_packets++;
    this.stats.rx_bytes += length;
    this.notify('inbound', now, bytes, offset, length, null, wireNote, sentFcs);
    this.coalesced++;
    if (this.rxCoalesceNs === 0 || this.coalesced >= this.rxCoalesceFrames) this.raiseRxIrq();
    else if (!this.coalesceTimer.pending) this.sim.mod(this.coalesceTimer, now + this.rxCoalesceNs);
  }

  /** The RX interrupt, unless NAPI has it masked (then the poll finds the frames anyway). */
  private raiseRxIrq(): void {
    this.sim.del(this.coalesceTimer);
    this.coalesced = 0;
    if (this.rxIrqEnabled && this.onRxIrq) {
      this.stats.rx_irqs++;
      this.onRxIrq();
    }
  }

  private notify(direction: FrameDirection, time: Nanos, bytes: Buffer, offset: number, length: number, drop: string | null, wireNote: string | null, sentFcs: number, crcError = false): void {
    if (this.frameTaps.length > 0) {
      const e = this.event;
      e.direction = direction;
      e.time = time;
      e.bytes = bytes;
      e.offset = offset;
      e.length = length;
      e.drop = drop;
      e.crcError = crcError;
      e.wireNote = wireNote;
      e.sentFcs = sentFcs;
      for (let i = 0; i < this.frameTaps.length; i++) this.frameTaps[i]!(e);
    }
    if (this.taps.length === 0) return;
    const frame = new Uint8Array(bytes.subarray(offset, offset + length));
    for (const tap of this.taps) tap(drop ? { mac: this, direction, time, frame, drop } : { mac: this, direction, time, frame });
  }
}
