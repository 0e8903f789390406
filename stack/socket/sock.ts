/**
 * struct sock: what every socket has — its memory in board RAM, its receive queue charged
 * against sk_rcvbuf with each skb's truesize (sock_queue_rcv_skb), a pending error (sk_err)
 * and the wake-ups a board program waits on.
 */
import { cacheAlign } from '../core/kmem.js';
import type { SkBuff } from '../core/skbuff.js';
import type { NetStack } from '../net-stack.js';
import { Errno } from '../uapi/errno.js';

/**
 * SK_WMEM_MAX / SK_RMEM_MAX on this target: 256 packets of 256 bytes at their true size
 * (_SK_MEM_PACKETS · _SK_MEM_OVERHEAD), which is net.core.rmem_default and wmem_default.
 */
export function skMemDefault(skBuffSize: number, sharedInfoSize: number): number {
  return (cacheAlign(skBuffSize) + cacheAlign(sharedInfoSize) + 256) * 256;
}

export interface SockAddr {
  addr: number;
  port: number;
}

export abstract class Sock {
  rcvbuf: number;
  sndbuf: number;
  /** Bytes of truesize charged for queued received skbs (sk_rmem_alloc). */
  rmemAlloc = 0;
  /** Bytes of truesize charged for skbs in flight from this socket (sk_wmem_alloc). */
  wmemAlloc = 0;
  receiveQueue: SkBuff[] = [];
  /** sk_drops: packets dropped at this socket, where Linux counts them (UDP filter drops, packet sockets' full buffers). */
  drops = 0;
  /** sk_err: a pending error (positive errno) reported by the next call. */
  err = 0;
  boundAddr = 0;
  boundPort = 0;
  peer: SockAddr | null = null;
  bindToIfindex: number | undefined;
  closed = false;
  /** Wake-ups for the board program: data to read, an error, or space to write. */
  onReadable: (() => void) | null = null;
  onError: ((errno: number) => void) | null = null;

  constructor(
    readonly stack: NetStack,
    /** Addresses of struct sock (protocol cache), socket_alloc and file in RAM. */
    readonly skAddr: number,
    readonly socketAddr: number,
    readonly fileAddr: number,
  ) {
    this.rcvbuf = stack.sockets.rmemDefault;
    this.sndbuf = stack.sockets.wmemDefault;
  }

  /**
   * sock_queue_rcv_skb: charge the skb to the receive buffer or refuse it (the caller counts
   * RcvbufErrors and frees it). Linux admits a packet while rmem_alloc is below rcvbuf.
   */
  queueRcv(skb: SkBuff): boolean {
    if (this.closed || this.rmemAlloc >= this.rcvbuf) return false;
    this.rmemAlloc += skb.truesize;
    skb.destructor = (s) => {
      this.rmemAlloc -= s.truesize;
    };
    this.receiveQueue.push(skb);
    this.onReadable?.();
    return true;
  }

  /** Charge an outgoing skb to sk_wmem_alloc until it is freed (skb_set_owner_w). */
  chargeWrite(skb: SkBuff): void {
    this.wmemAlloc += skb.truesize;
    skb.destructor = (s) => {
      this.wmemAlloc -= s.truesize;
    };
  }

  reportError(errno: number): void {
    this.err = errno;
    this.onError?.(errno);
  }

  /** sock_error: take the pending error. */
  takeError(): number {
    const e = this.err;
    this.err = 0;
    return e;
  }

  /**
   * skb_recv_datagram (net/core/datagram.c), where every datagram recvmsg starts (UDP, raw,
   * ping, packet, netlink): a pending error first (sock_error), then the oldest skb, else
   * -EAGAIN. Board programs never sleep in the call (it is MSG_DONTWAIT); they wait for
   * onReadable and call again, as after poll().
   */
  recvDatagram(): SkBuff | number {
    const e = this.takeError();
    if (e) return -e;
    return this.receiveQueue.shift() ?? -Errno.EAGAIN;
  }

  /** skb_copy_datagram_msg: the skb's data copied out to the program, each byte charged to the CPU. */
  copyDatagram(skb: SkBuff): Uint8Array {
    const data = skb.view().slice();
    const cpu = this.stack.env.cpu;
    cpu.charge(cpu.cycles.copyByte * data.length);
    return data;
  }

  abstract release(): void;

  purgeReceiveQueue(): void {
    while (this.receiveQueue.length > 0) this.receiveQueue.shift()!.free();
  }
}
