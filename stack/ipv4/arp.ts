/**
 * ARP (net/ipv4/arp.c): answers requests for our addresses, learns senders, resolves next
 * hops through the neighbour table, and announces an address with gratuitous ARP.
 */
import { BROADCAST_MAC, ZERO_MAC } from '../core/addr.js';
import type { NetDevice } from '../core/netdevice.js';
import { NeighTable, type Neighbour } from '../core/neighbour.js';
import { allocSkb, MAX_HEADER, type SkBuff } from '../core/skbuff.js';
import { ethOutput } from '../ethernet/eth-output.js';
import type { NetStack } from '../net-stack.js';
import { ARP_LEN, ARPOP_REPLY, ARPOP_REQUEST, emitArp, parseArp, type ArpRepr } from '../wire/arp-header.js';
import { ETH_P_ARP, ETH_P_IP } from '../uapi/if-ether.js';
import { PACKET_OTHERHOST } from '../uapi/if-packet.js';

export class Arp {
  readonly table: NeighTable;
  /** Packets dropped as malformed or not for us, like the per-device rx_dropped for ARP. */
  readonly stats = { rx_malformed: 0, requests_sent: 0, replies_sent: 0, requests_received: 0, replies_received: 0, gratuitous_sent: 0 };

  constructor(private readonly stack: NetStack) {
    const s = stack.env.structs;
    // arp_tbl.entry_size: struct neighbour plus the 4-byte key, aligned (NEIGH_ENTRY_SIZE).
    const entrySize = (s['neighbour']! + 4 + 15) & ~15;
    const cache = stack.env.mem.createCache('arp_cache', entrySize);
    stack.staticAlloc('neigh_table arp_tbl', s['neigh_table']!);
    this.table = new NeighTable(stack.env.sim, stack.env.rng.split('arp'), cache, {
      solicit: (n, hw) => this.solicit(n, hw),
      output: (skb, hw) => this.outputResolved(skb, n2dev(stack, skb), hw),
      unreachable: (skb) => stack.ip.linkFailure(skb),
      timerFired: () => stack.chargeTimer(),
    });
  }

  receive(skb: SkBuff, dev: NetDevice): void {
    const arp = parseArp(skb.bytes, skb.data, skb.len);
    if (!arp || skb.pktType === PACKET_OTHERHOST) {
      this.stats.rx_malformed++;
      dev.stats.rx_dropped++;
      skb.free();
      return;
    }
    const ours = this.stack.primaryAddress(dev.ifindex);
    const forUs = ours !== 0 && arp.targetIp === ours;
    if (arp.op === ARPOP_REQUEST) this.stats.requests_received++;
    else if (arp.op === ARPOP_REPLY) this.stats.replies_received++;
    // arp_process: learn the sender when it asks for us or answers us; refresh an entry we hold.
    if (arp.senderIp !== 0) {
      const solicited = arp.op === ARPOP_REPLY && forUs;
      this.table.update(arp.senderIp, dev.ifindex, arp.senderMac, solicited, forUs);
    }
    if (arp.op === ARPOP_REQUEST && forUs) this.send(dev, { op: ARPOP_REPLY, senderMac: dev.hwAddr, senderIp: ours, targetMac: arp.senderMac, targetIp: arp.senderIp }, arp.senderMac);
    skb.free();
  }

  private solicit(n: Neighbour, unicastTo: Uint8Array | null): void {
    const dev = this.stack.device(n.ifindex);
    if (!dev) return;
    const src = this.stack.primaryAddress(dev.ifindex);
    this.send(dev, { op: ARPOP_REQUEST, senderMac: dev.hwAddr, senderIp: src, targetMac: ZERO_MAC, targetIp: n.addr }, unicastTo ?? BROADCAST_MAC);
  }

  /** Gratuitous ARP on an address change: a request for our own address, to everyone. */
  announce(dev: NetDevice, addr: number): void {
    this.stats.gratuitous_sent++;
    this.send(dev, { op: ARPOP_REQUEST, senderMac: dev.hwAddr, senderIp: addr, targetMac: ZERO_MAC, targetIp: addr }, BROADCAST_MAC);
  }

  private send(dev: NetDevice, repr: ArpRepr, dst: Uint8Array): void {
    const skb = allocSkb(this.stack.skbs, MAX_HEADER + ARP_LEN);
    if (!skb) return; // arp_send drops silently when no skb can be had
    skb.reserve(MAX_HEADER);
    emitArp(repr, skb.bytes, skb.put(ARP_LEN));
    if (repr.op === ARPOP_REQUEST) this.stats.requests_sent++;
    else this.stats.replies_sent++;
    ethOutput(this.stack, dev, skb, dst, ETH_P_ARP);
  }

  private outputResolved(skb: SkBuff, dev: NetDevice | undefined, hw: Uint8Array): void {
    if (!dev) {
      skb.free();
      return;
    }
    ethOutput(this.stack, dev, skb, hw, ETH_P_IP);
  }
}

function n2dev(stack: NetStack, skb: SkBuff): NetDevice | undefined {
  return stack.device(skb.ifindex);
}
