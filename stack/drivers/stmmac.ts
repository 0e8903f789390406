/**
 * The MAC driver (after Linux's stmmac): RX/TX descriptor rings whose buffers live in board
 * RAM, an interrupt that schedules a NAPI poll, and TX completion that frees skbs.
 *
 * NAPI: the RX interrupt is masked and a poll runs in softirq context. Each frame costs CPU
 * (driver, protocol, checksum per byte); the next frame is taken when that work completes, so
 * frames that arrive faster than the CPU drains them fill the ring and the MAC counts
 * rx_missed_errors. After `weight` frames the poll yields, as net_rx_action does.
 */
import type { Cpu } from '../../emulator/cpu.js';
import { macHashBin, type EthernetMac } from '../../emulator/ethernet-mac.js';
import { Timer, type EventQueue } from '../../emulator/event-queue.js';
import type { NetDevice, NetDeviceOps, XmitResult } from '../core/netdevice.js';
import { buildSkb, NET_SKB_PAD, rxBufferAllocSize, type SkBuff, type SkbAllocator } from '../core/skbuff.js';
import type { Gro } from '../core/gro.js';
import type { RxMode } from '../core/dev-addr-lists.js';
import type { EthtoolOps } from '../core/ethtool.js';
import { stmmacEthtoolOps } from './stmmac-ethtool.js';
import { ETH_ZLEN } from '../uapi/if-ether.js';

export interface StmmacOptions {
  napiWeight: number;
  rxFrameBytes: number;
}

export class StmmacDriver implements NetDeviceOps {
  private rxTail = 0;
  private readonly rxBufSize: number;
  private pollScheduled = false;
  /** The NAPI poll, scheduled from the interrupt or again after a spent budget. */
  private readonly pollTimer = new Timer(() => this.poll(this.opts.napiWeight));
  /**
   * stmmac_tx_clean runs once for every descriptor the hardware finished by then and reports
   * their bytes to BQL in one netdev_tx_completed_queue call. Completions that land at the same
   * instant (a coalesced TX interrupt) are gathered here and reported together, after the last
   * of them: reported one frame at a time, the queue would restart after each and byte queue
   * limits would never see the ring run dry.
   */
  private txCleanBytes = 0;
  private readonly txCleanTimer = new Timer(() => this.txClean());
  /** One descriptor's worth of driver work finishing (its CPU time spent). */
  private readonly stepTimer = new Timer(() => this.pollStepDone());
  private stepLength = 0;
  private stepBudget = 0;
  private txCookie = 1;
  /**
   * skbs the MAC is sending, oldest first, with the cookie each was handed over with. The MAC
   * completes its ring in order, so a completion takes the oldest entry: a FIFO of two parallel
   * rings (doubled when full, never shrunk) where a Map keyed by an ever-growing cookie
   * allocated as it rehashed.
   */
  private txSkbs: (SkBuff | null)[] = new Array<SkBuff | null>(16).fill(null);
  private txCookies: number[] = new Array<number>(16).fill(0);
  private txHead = 0;
  private txCount = 0;
  /** Frames lost because a fresh ring buffer or skb head could not be allocated. */
  rxAllocFailures = 0;
  napiPolls = 0;
  /** GRO for this NAPI context (CONFIG_IP_OFFLOAD), or null: frames then go up one by one. */
  gro: Gro | null = null;

  constructor(
    readonly mac: EthernetMac,
    private readonly dev: NetDevice,
    private readonly skbs: SkbAllocator,
    private readonly sim: EventQueue,
    private readonly cpu: Cpu,
    private readonly opts: StmmacOptions,
    /** netif_receive_skb: hands a received frame to the stack. */
    private readonly receive: (skb: SkBuff) => void,
    /** netif_tx_wake_queue: ring space freed after the queue was stopped; the qdisc runs again. */
    private readonly txWake: () => void,
  ) {
    this.rxBufSize = rxBufferAllocSize(skbs, opts.rxFrameBytes);
    mac.onRxIrq = () => this.rxInterrupt();
    mac.onTxComplete = (cookie) => this.txComplete(cookie);
  }

  open(): boolean {
    for (let i = 0; i < this.mac.rxRing.length; i++) {
      const buf = this.skbs.mem.kmalloc(this.rxBufSize);
      if (buf === 0) {
        this.stop();
        return false;
      }
      this.mac.postRxBuffer(i, buf + NET_SKB_PAD, this.opts.rxFrameBytes, buf);
    }
    this.rxTail = 0;
    this.mac.rxIrqEnabled = true;
    this.dev.txResetQueue(this.sim.now);
    return true;
  }

  /** dev->ethtool_ops (stmmac_ethtool.c). */
  get ethtoolOps(): EthtoolOps {
    return stmmacEthtoolOps(this);
  }

  /**
   * ndo_set_rx_mode (stmmac_set_rx_mode → dwmac1000_set_filter): promiscuous, pass all
   * multicast, or a 64-bin hash of the device's multicast list, written to the MAC's filter.
   */
  setRxMode(mode: RxMode): void {
    const hash: [number, number] = [0, 0];
    if (!mode.promiscuous && !mode.allMulticast) {
      for (const addr of mode.multicast) {
        const bin = macHashBin(addr);
        hash[bin >> 5] = (hash[bin >> 5]! | (1 << (bin & 31))) >>> 0;
      }
    }
    this.mac.setRxFilter({ promiscuous: mode.promiscuous, allMulticast: mode.allMulticast, hash });
  }

  stop(): void {
    for (const d of this.mac.rxRing) {
      if (d.cookie !== 0) this.skbs.mem.kfree(d.cookie);
      d.cookie = 0;
      d.hwOwned = false;
    }
    while (this.txCount > 0) this.txTakeAt(0).free();
  }

  startXmit(skb: SkBuff): XmitResult {
    if (this.mac.txSpace === 0) return 'busy';
    // skb_padto: the MAC sends at least ETH_ZLEN bytes, and the padding must be zeros.
    if (skb.len < ETH_ZLEN && skb.tailroom() >= ETH_ZLEN - skb.len) {
      const at = skb.put(ETH_ZLEN - skb.len);
      skb.bytes.fill(0, at, skb.tail);
    }
    const cookie = this.txCookie++;
    this.cpu.charge(this.cpu.cycles.txFrame);
    if (!this.mac.transmit(skb.data, skb.len, cookie)) {
      this.dev.stats.tx_dropped++;
      skb.free();
      return 'ok';
    }
    this.dev.stats.tx_packets++;
    this.dev.stats.tx_bytes += skb.len;
    this.txPush(cookie, skb);
    // stmmac_xmit stops the queue when a worst-case skb would no longer fit; our skbs are
    // linear (one descriptor each), so that is when no descriptor is left. Then BQL's count.
    if (this.mac.txSpace === 0) this.dev.drvXoff = true;
    this.dev.txSentQueue(skb.len);
    return 'ok';
  }

  private txPush(cookie: number, skb: SkBuff): void {
    let n = this.txSkbs.length;
    if (this.txCount === n) {
      const skbs = new Array<SkBuff | null>(2 * n).fill(null);
      const cookies = new Array<number>(2 * n).fill(0);
      for (let i = 0; i < n; i++) {
        skbs[i] = this.txSkbs[(this.txHead + i) % n]!;
        cookies[i] = this.txCookies[(this.txHead + i) % n]!;
      }
      this.txSkbs = skbs;
      this.txCookies = cookies;
      this.txHead = 0;
      n *= 2;
    }
    const at = (this.txHead + this.txCount) % n;
    this.txSkbs[at] = skb;
    this.txCookies[at] = cookie;
    this.txCount++;
  }

  /** Remove and return the i-th oldest pending skb, keeping the others in order. */
  private txTakeAt(i: number): SkBuff {
    const n = this.txSkbs.length;
    const skb = this.txSkbs[(this.txHead + i) % n]!;
    // Close the gap from the head side (i is 0 for every in-order completion).
    for (let j = i; j > 0; j--) {
      this.txSkbs[(this.txHead + j) % n] = this.txSkbs[(this.txHead + j - 1) % n]!;
      this.txCookies[(this.txHead + j) % n] = this.txCookies[(this.txHead + j - 1) % n]!;
    }
    this.txSkbs[this.txHead] = null;
    this.txHead = (this.txHead + 1) % n;
    this.txCount--;
    return skb;
  }

  private txComplete(cookie: number): void {
    let skb: SkBuff | null = null;
    const n = this.txSkbs.length;
    for (let i = 0; i < this.txCount; i++) {
      if (this.txCookies[(this.txHead + i) % n] === cookie) {
        skb = this.txTakeAt(i);
        break;
      }
    }
    if (skb) {
      this.txCleanBytes += skb.len;
      skb.free();
    }
    // Queued after every completion already due now, so it runs after the last of them.
    if (!this.txCleanTimer.pending) this.sim.mod(this.txCleanTimer, this.sim.now);
  }

  private txClean(): void {
    const bytes = this.txCleanBytes;
    this.txCleanBytes = 0;
    // stmmac_tx_clean: report the completed bytes to BQL (which may restart the queue), and
    // wake a queue the driver stopped once a descriptor is free again.
    let wake = this.dev.txCompletedQueue(bytes, this.sim.now);
    if (this.dev.drvXoff && this.mac.txSpace > 0) {
      this.dev.drvXoff = false;
      wake = true;
    }
    if (wake && !this.dev.txStopped) this.txWake();
  }

  private rxInterrupt(): void {
    this.mac.rxIrqEnabled = false;
    if (this.pollScheduled) return;
    this.pollScheduled = true;
    const at = this.cpu.charge(this.cpu.cycles.irq);
    this.sim.mod(this.pollTimer, at);
  }

  /** One step of the NAPI poll: take the next filled descriptor, if any. */
  private poll(budget: number): void {
    this.napiPolls++;
    const d = this.mac.rxRing[this.rxTail]!;
    if (d.hwOwned || d.length === 0) {
      // napi_complete_done: hand up what GRO holds, then unmask the interrupt.
      this.gro?.flush();
      this.pollScheduled = false;
      this.mac.rxIrqEnabled = true;
      return;
    }
    const length = d.length;
    const c = this.cpu.cycles;
    // The driver's share; IP and TCP charge theirs per packet the stack sees (netif_receive_skb).
    const done = this.cpu.charge(c.rxFrame + c.checksumByte * length);
    this.stepLength = length;
    this.stepBudget = budget;
    this.sim.mod(this.stepTimer, done);
  }

  private pollStepDone(): void {
    const budget = this.stepBudget;
    this.takeFrame(this.rxTail, this.stepLength);
    this.rxTail = (this.rxTail + 1) % this.mac.rxRing.length;
    if (budget > 1) this.poll(budget - 1);
    else {
      // The budget is spent: net_rx_action flushes GRO and polls again later.
      this.gro?.flush();
      this.sim.mod(this.pollTimer, this.cpu.idleAt);
    }
  }

  private takeFrame(index: number, length: number): void {
    const d = this.mac.rxRing[index]!;
    const oldBuf = d.cookie;
    const fresh = this.skbs.mem.kmalloc(this.rxBufSize);
    const skb = fresh === 0 ? null : buildSkb(this.skbs, oldBuf, this.rxBufSize);
    if (!skb) {
      // No memory for a replacement: keep the old buffer in the ring and drop this frame.
      if (fresh !== 0) this.skbs.mem.kfree(fresh);
      this.rxAllocFailures++;
      this.dev.stats.rx_dropped++;
      this.mac.postRxBuffer(index, d.addr, this.opts.rxFrameBytes, oldBuf);
      return;
    }
    this.mac.postRxBuffer(index, fresh + NET_SKB_PAD, this.opts.rxFrameBytes, fresh);
    skb.reserve(NET_SKB_PAD);
    skb.put(length);
    skb.tstamp = this.sim.now;
    skb.ifindex = this.dev.ifindex;
    this.dev.stats.rx_packets++;
    this.dev.stats.rx_bytes += length;
    if (this.gro) this.gro.receive(skb);
    else this.receive(skb);
  }
}
