/**
 * A device's multicast address list and its receive-mode counters (net/core/dev_addr_lists.c,
 * dev_set_promiscuity / dev_set_allmulti in net/core/dev.c).
 *
 * Protocols that want group-addressed frames (IGMP joining a group, a packet socket's
 * PACKET_ADD_MEMBERSHIP) add link-layer addresses to the device with dev_mc_add; each address
 * is one struct netdev_hw_addr in RAM, shared by reference count. Every change ends in
 * __dev_set_rx_mode, which has the driver reprogram the MAC's address filter (ndo_set_rx_mode),
 * so a group nobody joined never gets past the MAC.
 */
import type { NetStack } from '../net-stack.js';
import type { NetDevice } from './netdevice.js';
import { Errno } from '../uapi/errno.js';

/**
 * sizeof(struct netdev_hw_addr) on i386 in 6.1: list_head 8, rb_node 12, addr[MAX_ADDR_LEN 32],
 * type, global_use (2, padded to 4), sync_cnt, refcount, synced (12), rcu_head 8 = 76. Computed
 * from the 6.1 layout because the calibration table has no pahole figure for it; a table that
 * has one (`netdev_hw_addr`) wins. __hw_addr_create allocates at least L1_CACHE_BYTES (64).
 */
const NETDEV_HW_ADDR_I386 = 76;
const L1_CACHE_BYTES = 64;

export interface HwAddr {
  readonly addr: Uint8Array;
  refcount: number;
  /** The netdev_hw_addr in RAM. */
  readonly mem: number;
}

/** What ndo_set_rx_mode sees: dev->flags' IFF_PROMISC / IFF_ALLMULTI and the multicast list. */
export interface RxMode {
  promiscuous: boolean;
  allMulticast: boolean;
  multicast: readonly Uint8Array[];
}

interface DevLists {
  mc: HwAddr[];
  promiscuity: number;
  allmulti: number;
}

export class DevAddrLists {
  private readonly lists = new Map<number, DevLists>();

  constructor(private readonly stack: NetStack) {}

  private of(dev: NetDevice): DevLists {
    let l = this.lists.get(dev.ifindex);
    if (!l) {
      l = { mc: [], promiscuity: 0, allmulti: 0 };
      this.lists.set(dev.ifindex, l);
    }
    return l;
  }

  /** dev_mc_add: another reference to an address already listed, or a new netdev_hw_addr. 0 or -ENOMEM. */
  mcAdd(dev: NetDevice, addr: Uint8Array): number {
    const l = this.of(dev);
    const have = l.mc.find((h) => sameAddr(h.addr, addr));
    if (have) {
      have.refcount++;
    } else {
      const size = Math.max(this.stack.env.structs['netdev_hw_addr'] ?? NETDEV_HW_ADDR_I386, L1_CACHE_BYTES);
      const mem = this.stack.env.mem.kmalloc(size);
      if (mem === 0) return -Errno.ENOMEM;
      // Appended, as __hw_addr_add_ex does (list_add_tail_rcu): the filter is order-blind anyway.
      l.mc.push({ addr: addr.slice(0, 6), refcount: 1, mem });
    }
    this.setRxMode(dev);
    return 0;
  }

  /** dev_mc_del: drop one reference; the last frees the entry. 0 or -ENOENT. */
  mcDel(dev: NetDevice, addr: Uint8Array): number {
    const l = this.of(dev);
    const i = l.mc.findIndex((h) => sameAddr(h.addr, addr));
    if (i < 0) return -Errno.ENOENT;
    const h = l.mc[i]!;
    if (--h.refcount === 0) {
      l.mc.splice(i, 1);
      this.stack.env.mem.kfree(h.mem);
    }
    this.setRxMode(dev);
    return 0;
  }

  /** netdev_for_each_mc_addr. */
  mcList(dev: NetDevice): readonly HwAddr[] {
    return this.lists.get(dev.ifindex)?.mc ?? [];
  }

  /** dev_set_promiscuity: IFF_PROMISC is on while the count is above zero. */
  setPromiscuity(dev: NetDevice, inc: number): number {
    const l = this.of(dev);
    if (l.promiscuity + inc < 0) return -Errno.EINVAL;
    l.promiscuity += inc;
    this.setRxMode(dev);
    return 0;
  }

  /** dev_set_allmulti: IFF_ALLMULTI is on while the count is above zero. */
  setAllmulti(dev: NetDevice, inc: number): number {
    const l = this.of(dev);
    if (l.allmulti + inc < 0) return -Errno.EINVAL;
    l.allmulti += inc;
    this.setRxMode(dev);
    return 0;
  }

  rxMode(dev: NetDevice): RxMode {
    const l = this.lists.get(dev.ifindex);
    return { promiscuous: (l?.promiscuity ?? 0) > 0, allMulticast: (l?.allmulti ?? 0) > 0, multicast: (l?.mc ?? []).map((h) => h.addr) };
  }

  /** __dev_set_rx_mode: only a device that is up has its filter programmed (dev_open does it then). */
  setRxMode(dev: NetDevice): void {
    if (!dev.up) return;
    this.stack.drivers.get(dev.ifindex)?.setRxMode(this.rxMode(dev));
  }
}

function sameAddr(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}
