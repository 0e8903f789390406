/**
 * sk_buff: a packet in board RAM.
 *
 * As in Linux, an skb is two allocations: the struct sk_buff itself (from skbuff_head_cache,
 * its calibrated 32-bit size) and a data buffer from kmalloc holding headroom, the packet
 * bytes and skb_shared_info at the end. The TypeScript object only records addresses into
 * RAM; the packet bytes are read and written in the board's memory.
 */
import { cacheAlign, type Gfp, type KernelMemory, type SlabCache } from './kmem.js';

/** Headroom reserved in front of received and locally built packets (NET_SKB_PAD). */
export const NET_SKB_PAD = 32;
/** Room for Ethernet + IPv4 + TCP headers with options (MAX_TCP_HEADER on a plain build). */
export const MAX_HEADER = 128;

export interface SkbAllocator {
  readonly mem: KernelMemory;
  readonly headCache: SlabCache;
  /** skbuff_fclone_cache: TCP's transmit skbs, a head and its clone in one object. */
  fcloneCache: SlabCache | null;
  readonly fcloneSize: number;
  readonly sharedInfoSize: number;
  /** Live skbs, for leak checks and the report. */
  live: number;
  allocFailures: number;
}

export function createSkbAllocator(mem: KernelMemory, skBuffSize: number, sharedInfoSize: number, fcloneSize: number): SkbAllocator {
  return { mem, headCache: mem.createCache('skbuff_head_cache', skBuffSize), fcloneCache: null, fcloneSize, sharedInfoSize, live: 0, allocFailures: 0 };
}

/** Who lent an skb to the driver, and takes it back when the driver frees it (SkBuff.txOwner). */
export interface SkbLender {
  lentReturned(skb: SkBuff): void;
}

export class SkBuff {
  /** Absolute RAM address of the current start of data (skb->data). */
  data: number;
  /** Bytes from data (skb->len). */
  len = 0;
  /** Offsets of the network and transport headers as absolute RAM addresses (0: unset). */
  networkHeader = 0;
  transportHeader = 0;
  /** Ethernet protocol of the payload (skb->protocol), host order. */
  protocol = 0;
  /** PACKET_HOST / BROADCAST / MULTICAST / OTHERHOST, from eth_type_trans. */
  pktType = 0;
  /** Owning socket's release hook, run when the skb is freed (skb->destructor). */
  destructor: ((skb: SkBuff) => void) | null = null;
  /** Interface the packet arrived on or leaves by. */
  ifindex = 0;
  /** Receive timestamp in virtual ns. */
  tstamp = 0;
  /** skb->priority (TC_PRIO_*): picks the pfifo_fast band. */
  priority = 0;
  /** skb->next: the list a qdisc (fq_codel's flow queues, pfifo_fast's bands) keeps it on. */
  next: SkBuff | null = null;
  /** codel_skb_cb->enqueue_time, in virtual ns: when the qdisc took it (CoDel's sojourn time). */
  enqueueTime = 0;
  /**
   * Set while a TCP write-queue skb is lent to the driver (the fclone's clone is in flight):
   * freeing it then returns it to its owner instead of releasing memory.
   */
  txOwner: SkbLender | null = null;
  private freed = false;

  constructor(
    readonly alloc: SkbAllocator,
    /** struct sk_buff in skbuff_head_cache (or the fclone pair in skbuff_fclone_cache). */
    readonly headAddr: number,
    /** Start of the kmalloc'd data buffer (skb->head). */
    readonly head: number,
    /** End of usable data space, before skb_shared_info (skb->end). */
    readonly end: number,
    /** Memory this skb accounts for against socket buffers (skb->truesize). */
    readonly truesize: number,
  ) {
    this.data = head;
  }

  get bytes(): Uint8Array {
    return this.alloc.mem.bytes;
  }

  /** The packet's bytes as a view into RAM (no copy). */
  view(): Uint8Array {
    return this.alloc.mem.bytes.subarray(this.data, this.data + this.len);
  }

  get tail(): number {
    return this.data + this.len;
  }

  headroom(): number {
    return this.data - this.head;
  }

  tailroom(): number {
    return this.end - this.tail;
  }

  /** skb_reserve: move data forward in an empty buffer to leave headroom. */
  reserve(n: number): void {
    this.data += n;
  }

  /** skb_put: extend the data at the tail; returns the address of the new space. */
  put(n: number): number {
    const at = this.tail;
    if (n > this.tailroom()) throw new Error(`skb_put over the end (${n} > ${this.tailroom()})`);
    this.len += n;
    return at;
  }

  /** skb_push: add a header in front; returns its address. */
  push(n: number): number {
    if (n > this.headroom()) throw new Error(`skb_push under the head (${n} > ${this.headroom()})`);
    this.data -= n;
    this.len += n;
    return this.data;
  }

  /** skb_pull: strip a header; false when the packet is shorter (pskb_may_pull failed). */
  pull(n: number): boolean {
    if (n > this.len) return false;
    this.data += n;
    this.len -= n;
    return true;
  }

  /** skb_trim: cut the packet to `len` bytes (removing Ethernet padding, say). */
  trim(len: number): void {
    if (len < this.len) this.len = len;
  }

  get isFreed(): boolean {
    return this.freed;
  }

  /** kfree_skb: run the destructor, release the data buffer and the head. */
  free(): void {
    if (this.txOwner) {
      const owner = this.txOwner;
      this.txOwner = null;
      owner.lentReturned(this);
      return;
    }
    if (this.freed) throw new Error('double free of skb');
    this.freed = true;
    if (this.destructor) this.destructor(this);
    this.alloc.mem.kfree(this.head);
    (this.fclone ? this.alloc.fcloneCache! : this.alloc.headCache).free(this.headAddr);
    this.alloc.live--;
  }

  /** Allocated from skbuff_fclone_cache. */
  fclone = false;
}

/**
 * alloc_skb: a head and a data buffer of `size` bytes (plus skb_shared_info). Returns null
 * when either allocation fails, as Linux returns NULL; callers drop and count.
 */
export function allocSkb(a: SkbAllocator, size: number): SkBuff | null {
  const headAddr = a.headCache.alloc();
  if (headAddr === 0) {
    a.allocFailures++;
    return null;
  }
  const dataSize = cacheAlign(size);
  const buf = a.mem.kmalloc(dataSize + cacheAlign(a.sharedInfoSize));
  if (buf === 0) {
    a.headCache.free(headAddr);
    a.allocFailures++;
    return null;
  }
  return wrap(a, headAddr, buf, dataSize);
}

/**
 * build_skb: wrap a data buffer the driver already filled (an RX ring buffer of `bufSize`
 * bytes including skb_shared_info) with a new head. Null when the head allocation fails.
 */
export function buildSkb(a: SkbAllocator, buf: number, bufSize: number): SkBuff | null {
  const headAddr = a.headCache.alloc();
  if (headAddr === 0) {
    a.allocFailures++;
    return null;
  }
  return wrap(a, headAddr, buf, bufSize - cacheAlign(a.sharedInfoSize));
}

function wrap(a: SkbAllocator, headAddr: number, buf: number, dataSize: number, headSize = a.headCache.objectSize): SkBuff {
  // truesize as Linux 6.1 computes it: the real size of the data allocation plus the head.
  const truesize = a.mem.ksize(buf) + cacheAlign(headSize);
  a.live++;
  return new SkBuff(a, headAddr, buf, buf + dataSize, truesize);
}

/**
 * alloc_skb_fclone: TCP's transmit skbs come with a companion clone in one allocation, so
 * sending (and resending) a segment needs no further memory while the original stays queued.
 */
export function allocSkbFclone(a: SkbAllocator, size: number, gfp: Gfp = 'atomic'): SkBuff | null {
  if (!a.fcloneCache) a.fcloneCache = a.mem.createCache('skbuff_fclone_cache', a.fcloneSize);
  const headAddr = a.fcloneCache.alloc(gfp);
  if (headAddr === 0) {
    a.allocFailures++;
    return null;
  }
  const dataSize = cacheAlign(size);
  const buf = a.mem.kmalloc(dataSize + cacheAlign(a.sharedInfoSize), gfp);
  if (buf === 0) {
    a.fcloneCache.free(headAddr);
    a.allocFailures++;
    return null;
  }
  const skb = wrap(a, headAddr, buf, dataSize, a.fcloneSize);
  skb.fclone = true;
  return skb;
}

/** Ring-buffer size for an RX slot: room for the frame, NET_SKB_PAD and skb_shared_info. */
export function rxBufferAllocSize(a: SkbAllocator, frameBytes: number): number {
  return cacheAlign(NET_SKB_PAD + frameBytes) + cacheAlign(a.sharedInfoSize);
}
