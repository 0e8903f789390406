/**
 * The core receive and transmit paths: netif_receive_skb (eth_type_trans, then the protocol
 * handler for the ethertype) and dev_queue_xmit (the device's qdisc, which hands packets to
 * the driver until it stops its queue).
 *
 * Packet taps (CONFIG_PACKET): received frames are offered to packet sockets before the
 * protocol handler runs, and frames handed to the driver are offered to ETH_P_ALL sockets
 * (dev_queue_xmit_nit). Without PACKET `stack.packet` is null and neither path does any work.
 */
import type { NetStack } from '../net-stack.js';
import { classifyFrame } from '../ethernet/eth.js';
import type { NetDevice, XmitResult } from './netdevice.js';
import type { SkBuff } from './skbuff.js';
import { devXmitSkb } from '../sched/sch-generic.js';
import { NoqueueQdisc } from '../sched/qdisc.js';
import { ETH_HLEN, ETH_P_ARP, ETH_P_IP } from '../uapi/if-ether.js';
import { EthernetFrame } from '../wire/ethernet-header.js';
import { PACKET_OTHERHOST } from '../uapi/if-packet.js';

export function netifReceiveSkb(stack: NetStack, dev: NetDevice, skb: SkBuff): void {
  // Protocol processing costs CPU once per packet the stack sees (GRO makes that fewer).
  stack.env.cpu.charge(stack.env.cpu.cycles.protocolPacket);
  const frame = EthernetFrame.check(skb.bytes, skb.data, skb.len);
  if (!frame) {
    dev.stats.rx_dropped++;
    skb.free();
    return;
  }
  skb.pktType = classifyFrame(frame, dev.hwAddr);
  skb.protocol = frame.ethertype;
  skb.pull(ETH_HLEN);
  if (skb.pktType === PACKET_OTHERHOST) {
    // Not for us: a MAC not in promiscuous mode would have filtered it; count and drop.
    dev.stats.rx_dropped++;
    skb.free();
    return;
  }
  // ptype_all / ptype_base packet sockets get their copies before the protocol handler.
  const tapped = stack.packet !== null && stack.packet.receive(skb, dev);
  switch (skb.protocol) {
    case ETH_P_IP:
      stack.ip.receive(skb, dev);
      return;
    case ETH_P_ARP:
      stack.arp.receive(skb, dev);
      return;
    default:
      // A packet socket for this ethertype is its handler: not "no handler" then.
      if (!tapped) dev.stats.rx_nohandler++;
      skb.free();
  }
}

/**
 * Frames the taps have already seen: a driver that answers NETDEV_TX_BUSY has its frame
 * requeued, and it must not be copied to packet sockets a second time when it is retried.
 */
const tappedOnce = new WeakSet<SkBuff>();

/** xmit_one: the packet taps (dev_queue_xmit_nit), then the driver's ndo_start_xmit. */
export function xmitOne(stack: NetStack, dev: NetDevice, skb: SkBuff): XmitResult {
  if (stack.packet !== null && !tappedOnce.has(skb)) stack.packet.transmit(skb, dev);
  const r = dev.ops!.startXmit(skb);
  if (r === 'busy' && stack.packet !== null) tappedOnce.add(skb);
  return r;
}

/** __dev_queue_xmit: through the device's qdisc (stack/sched) to xmit_one. */
export function devQueueXmit(stack: NetStack, dev: NetDevice, skb: SkBuff): void {
  if (!dev.up) {
    dev.stats.tx_dropped++;
    skb.free();
    return;
  }
  if (dev.qdisc instanceof NoqueueQdisc) {
    // __dev_queue_xmit with no enqueue: straight to the driver. A stopped queue or a busy
    // driver drops the packet ("asks to queue packet!", dev_core_stats_tx_dropped_inc).
    if (!dev.txStopped && stack.hardStartXmit(dev, skb) !== 'busy') return;
    dev.stats.tx_dropped++;
    skb.free();
    return;
  }
  devXmitSkb(dev.qdisc, dev, skb, stack.sim.now, stack.hardStartXmit);
}
