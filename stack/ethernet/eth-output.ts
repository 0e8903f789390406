/** dev_hard_header + dev_queue_xmit: put the Ethernet header in front and send. */
import type { NetDevice } from '../core/netdevice.js';
import type { SkBuff } from '../core/skbuff.js';
import type { NetStack } from '../net-stack.js';
import { ETH_HLEN } from '../uapi/if-ether.js';
import { emitEthernet } from '../wire/ethernet-header.js';

export function ethOutput(stack: NetStack, dev: NetDevice, skb: SkBuff, dst: Uint8Array, ethertype: number): void {
  const at = skb.push(ETH_HLEN);
  emitEthernet({ dst, src: dev.hwAddr, ethertype }, skb.bytes, at);
  stack.xmit(dev, skb);
}
