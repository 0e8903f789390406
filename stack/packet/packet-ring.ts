/**
 * The mmap'd receive ring of a packet socket (CONFIG_PACKET_MMAP; PACKET_RX_RING in
 * net/packet/af_packet.c), TPACKET_V2 frames.
 *
 * The ring is tp_block_nr blocks of whole pages from the page allocator (alloc_pg_vec: one
 * __get_free_pages of get_order(tp_block_size) per block, zeroed, so every frame starts as
 * TP_STATUS_KERNEL), plus the pg_vec array of block pointers (kcalloc, 4 bytes each on i386).
 * Both are GFP_KERNEL (setsockopt runs in process context). Linux falls back to vmalloc when a
 * high-order block is not free; the board has no vmalloc area, so that case is -ENOMEM here.
 *
 * Frame i lives in block i / frames_per_block at (i % frames_per_block) × tp_frame_size. The
 * kernel fills the frame at its head when that frame's tp_status is TP_STATUS_KERNEL and hands
 * it over by setting TP_STATUS_USER; the program reads frames in order from RAM and gives each
 * back by writing TP_STATUS_KERNEL. A full ring (the head frame still the program's) drops.
 */
import type { KernelMemory } from '../core/kmem.js';
import { readU16le, readU32le, writeU16le, writeU32le } from '../uapi/byte-order.js';
import { Errno } from '../uapi/errno.js';
import {
  TPACKET2_HDR_SIZE, TPACKET_ALIGNMENT, TP_STATUS_KERNEL, TP_STATUS_USER, type TpacketReq,
  tpacketAlign,
} from '../uapi/if-packet.js';

const PAGE_SIZE = 4096;
/** Largest block the buddy allocator has (MAX_ORDER - 1 in Linux 6.1 terms). */
const MAX_PAGE_ORDER = 10;
const PGV_SIZE = 4;

/** The buddy allocator under kmalloc, which alloc_pg_vec uses directly for whole pages. */
interface PageSource {
  /** An anonymous block; 'kernel': a system call's allocation, which stops at the min watermark. */
  allocPages(order: number, ownerTag?: number, gfp?: 'atomic' | 'kernel'): number;
  freePages(addr: number): number;
}

/**
 * KernelMemory is the slab/kmalloc interface; the board's RAM (emulator/ram/board-ram.ts)
 * also exposes its page allocator as `pages`, which is what __get_free_pages reaches.
 */
function pageSource(mem: KernelMemory): PageSource | null {
  const pages = (mem as unknown as { pages?: Partial<PageSource> }).pages;
  if (!pages || typeof pages.allocPages !== 'function' || typeof pages.freePages !== 'function') return null;
  return pages as PageSource;
}

/** get_order: the smallest page order holding `size` bytes. */
export function getOrder(size: number): number {
  let order = 0;
  while (PAGE_SIZE << order < size) order++;
  return order;
}

/** What one frame records (struct tpacket2_hdr and the sockaddr_ll after it). */
export interface RingFrameInfo {
  /** Bytes of the packet (tp_len) and how many were copied (tp_snaplen). */
  len: number;
  snaplen: number;
  /** Offsets in the frame of the link-layer and network headers (tp_mac, tp_net). */
  mac: number;
  net: number;
  tstampNs: number;
  /** tp_status flags besides TP_STATUS_USER (TP_STATUS_LOSING). */
  flags: number;
  /** sockaddr_ll: protocol (host order), ifindex, pkt_type, source hardware address. */
  protocol: number;
  ifindex: number;
  pktType: number;
  srcAddr: Uint8Array;
}

export class PacketRing {
  /** Next frame the kernel fills (rb->head). */
  head = 0;
  /** Blocks given back (false once the socket closed or the ring was torn down). */
  valid = true;

  private constructor(
    private readonly mem: KernelMemory,
    private readonly pages: PageSource,
    readonly req: TpacketReq,
    readonly framesPerBlock: number,
    readonly order: number,
    /** pg_vec (kcalloc) and the blocks' addresses. */
    readonly pgVec: number,
    readonly blocks: readonly number[],
  ) {}

  /**
   * packet_set_ring's checks and alloc_pg_vec for a TPACKET_V2 ring of `hdrlen`-byte headers:
   * the ring, or -EINVAL (bad geometry) or -ENOMEM (no pages).
   */
  static create(mem: KernelMemory, req: TpacketReq, hdrlen: number): PacketRing | number {
    const { tp_block_size: bs, tp_block_nr: bn, tp_frame_size: fs, tp_frame_nr: fn } = req;
    for (const v of [bs, bn, fs, fn]) if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) return -Errno.EINVAL;
    if (bs <= 0 || bs > 0x7fffffff || bs % PAGE_SIZE !== 0) return -Errno.EINVAL;
    if (fs < hdrlen || fs % TPACKET_ALIGNMENT !== 0) return -Errno.EINVAL;
    const fpb = Math.floor(bs / fs);
    if (fpb === 0 || fpb * bn !== fn) return -Errno.EINVAL;
    const pages = pageSource(mem);
    const order = getOrder(bs);
    if (!pages || order > MAX_PAGE_ORDER) return -Errno.ENOMEM;
    const pgVec = mem.kmalloc(PGV_SIZE * bn, 'kernel');
    if (pgVec === 0) return -Errno.ENOMEM;
    const blocks: number[] = [];
    for (let i = 0; i < bn; i++) {
      const addr = pages.allocPages(order, undefined, 'kernel');
      if (addr === 0) {
        // free_pg_vec: give back what was taken.
        for (const b of blocks) pages.freePages(b);
        mem.kfree(pgVec);
        return -Errno.ENOMEM;
      }
      mem.bytes.fill(0, addr, addr + (PAGE_SIZE << order)); // __GFP_ZERO
      writeU32le(mem.bytes, pgVec + PGV_SIZE * i, addr);
      blocks.push(addr);
    }
    return new PacketRing(mem, pages, { ...req }, fpb, order, pgVec, blocks);
  }

  get frameNr(): number {
    return this.req.tp_frame_nr;
  }

  get frameSize(): number {
    return this.req.tp_frame_size;
  }

  /** Bytes of RAM the ring's blocks hold (whole pages). */
  get bytes(): number {
    return this.blocks.length * (PAGE_SIZE << this.order);
  }

  /** packet_lookup_frame: the RAM address of frame `i`. */
  frameAddr(i: number): number {
    const block = this.blocks[Math.floor(i / this.framesPerBlock)]!;
    return block + (i % this.framesPerBlock) * this.req.tp_frame_size;
  }

  status(i: number): number {
    return readU32le(this.mem.bytes, this.frameAddr(i));
  }

  /**
   * tpacket_rcv's second half: claim the head frame (false when it is still the program's:
   * the ring is full), copy `snaplen` bytes from `src` to tp_mac, write the tpacket2_hdr and
   * the sockaddr_ll, and hand the frame over by setting tp_status last.
   */
  fill(src: number, info: RingFrameInfo): boolean {
    if (!this.valid || this.status(this.head) !== TP_STATUS_KERNEL) return false;
    const h = this.frameAddr(this.head);
    this.head = (this.head + 1) % this.req.tp_frame_nr;
    const b = this.mem.bytes;
    b.copyWithin(h + info.mac, src, src + info.snaplen);
    writeU32le(b, h + 4, info.len);
    writeU32le(b, h + 8, info.snaplen);
    writeU16le(b, h + 12, info.mac);
    writeU16le(b, h + 14, info.net);
    writeU32le(b, h + 16, Math.floor(info.tstampNs / 1e9));
    writeU32le(b, h + 20, info.tstampNs % 1e9);
    b.fill(0, h + 24, h + TPACKET2_HDR_SIZE); // no VLAN tag; padding
    const sll = h + tpacketAlign(TPACKET2_HDR_SIZE);
    writeU16le(b, sll, 17 /* AF_PACKET */);
    b[sll + 2] = info.protocol >>> 8; // sll_protocol is big-endian (skb->protocol)
    b[sll + 3] = info.protocol & 0xff;
    writeU32le(b, sll + 4, info.ifindex);
    writeU16le(b, sll + 8, 1 /* ARPHRD_ETHER */);
    b[sll + 10] = info.pktType;
    b[sll + 11] = info.srcAddr.length;
    b.fill(0, sll + 12, sll + 20);
    b.set(info.srcAddr.subarray(0, 8), sll + 12);
    writeU32le(b, h, TP_STATUS_USER | info.flags);
    return true;
  }

  /** free_pg_vec: the blocks and the pointer array go back. */
  free(): void {
    if (!this.valid) return;
    this.valid = false;
    for (const b of this.blocks) this.pages.freePages(b);
    this.mem.kfree(this.pgVec);
  }
}

/** One filled frame as the program reads it from the mapped ring. */
export interface RingFrame {
  index: number;
  /** RAM address of the frame (its tpacket2_hdr). */
  addr: number;
  tp_status: number;
  tp_len: number;
  tp_snaplen: number;
  tp_mac: number;
  tp_net: number;
  tp_sec: number;
  tp_nsec: number;
  /** The sockaddr_ll after the header. */
  sll: { family: number; protocol: number; ifindex: number; hatype: number; pkttype: number; halen: number; addr: Uint8Array };
  /** tp_snaplen bytes from tp_mac (a copy, as the program would read them). */
  data: Uint8Array;
}

/**
 * The program's side of the ring after mmap: it walks the frames in order, reads the one at
 * its position when the kernel has marked it TP_STATUS_USER, and gives it back with release().
 * Everything is read from and written to board RAM. Once the socket closes (or the ring is
 * torn down) the view reads nothing: a program in quarklab cannot outlive its descriptors.
 */
export class PacketRingView {
  private pos = 0;
  private mapped = true;

  constructor(
    private readonly ring: PacketRing,
    private readonly bytes: Uint8Array,
    private readonly onUnmap: () => void,
  ) {}

  get frameNr(): number {
    return this.ring.frameNr;
  }

  /** The frame index the program looks at next. */
  get position(): number {
    return this.pos;
  }

  private usable(): boolean {
    return this.mapped && this.ring.valid;
  }

  /** The frame at the program's position if the kernel has handed it over, else null. */
  next(): RingFrame | null {
    if (!this.usable()) return null;
    const b = this.bytes;
    const h = this.ring.frameAddr(this.pos);
    const status = readU32le(b, h);
    if ((status & TP_STATUS_USER) === 0) return null;
    const mac = readU16le(b, h + 12);
    // A program must not trust the ring blindly either: clamp to the frame.
    const snaplen = Math.min(readU32le(b, h + 8), Math.max(0, this.ring.frameSize - mac));
    const sll = h + tpacketAlign(TPACKET2_HDR_SIZE);
    const halen = Math.min(b[sll + 11]!, 8);
    return {
      index: this.pos,
      addr: h,
      tp_status: status,
      tp_len: readU32le(b, h + 4),
      tp_snaplen: readU32le(b, h + 8),
      tp_mac: mac,
      tp_net: readU16le(b, h + 14),
      tp_sec: readU32le(b, h + 16),
      tp_nsec: readU32le(b, h + 20),
      sll: {
        family: readU16le(b, sll),
        protocol: (b[sll + 2]! << 8) | b[sll + 3]!,
        ifindex: readU32le(b, sll + 4),
        hatype: readU16le(b, sll + 8),
        pkttype: b[sll + 10]!,
        halen,
        addr: b.slice(sll + 12, sll + 12 + halen),
      },
      data: b.slice(h + mac, h + mac + snaplen),
    };
  }

  /** Give the frame at the program's position back (TP_STATUS_KERNEL) and move on. */
  release(): void {
    if (!this.usable()) return;
    const h = this.ring.frameAddr(this.pos);
    this.bytes.fill(0, h, h + 4);
    this.pos = (this.pos + 1) % this.ring.frameNr;
  }

  /** munmap: the ring may be resized or torn down again once no mapping remains. */
  unmap(): void {
    if (!this.mapped) return;
    this.mapped = false;
    this.onUnmap();
  }
}
