/**
 * The core receive and transmit paths: netif_receive_skb (eth_type_trans, then the protocol
 * handler for the ethertype) and dev_queue_xmit (the driver, or the qdisc when its ring is
 * full).
 */
import type { NetStack } from '../net-stack.js';
import { classifyFrame, ETH_HLEN, ETH_P_ARP, ETH_P_IP, EthernetFrame, PACKET_OTHERHOST } from '../ethernet/eth.js';
import type { NetDevice } from './netdevice.js';
import type { SkBuff } from './skbuff.js';

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
  switch (skb.protocol) {
    case ETH_P_IP:
      stack.ip.receive(skb, dev);
      return;
    case ETH_P_ARP:
      stack.arp.receive(skb, dev);
      return;
    default:
      dev.stats.rx_nohandler++;
      skb.free();
  }
}

export function devQueueXmit(dev: NetDevice, skb: SkBuff): void {
  if (!dev.up) {
    dev.stats.tx_dropped++;
    skb.free();
    return;
  }
  if (dev.txQueue.length === 0 && dev.ops!.startXmit(skb) === 'ok') return;
  if (dev.txQueue.length >= dev.txQueueLen) {
    dev.stats.tx_dropped++;
    skb.free();
    return;
  }
  dev.txQueue.push(skb);
}
