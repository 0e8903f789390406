/**
 * The stmmac driver's ethtool operations (drivers/net/ethernet/stmicro/stmmac/stmmac_ethtool.c)
 * over the emulated MAC: what `ethtool -i`, `ethtool eth0`, `ethtool -S`, `-g` and `-c` show.
 *
 * The driver code belongs to the board (its objects are driverObjects, always in the image);
 * whether a program can reach it is CONFIG_NET_ETHTOOL's business (stack/core/ethtool.ts).
 */
import type { Coalesce, EthtoolDrvinfo, EthtoolOps, LinkKsettings, Ringparam } from '../core/ethtool.js';
import type { StmmacDriver } from './stmmac.js';
import { Errno } from '../uapi/errno.js';
import { AUTONEG_ENABLE, DUPLEX_FULL, ETHTOOL_LINK_MODE, ETH_SS_STATS, PORT_TP } from '../uapi/ethtool.js';

/** GMAC_ETHTOOL_NAME: the Quark X1000's MAC is a DesignWare GMAC (stmmac_pci's quark data sets has_gmac). */
const DRIVER_NAME = 'st_gmac';
/** UTS_RELEASE of the calibrated kernel: stmmac leaves info->version to the core's default. */
const KERNEL_RELEASE = '6.1.192';
/** pci_name of the Quark X1000's first Ethernet function (device 20, function 6). */
const BUS_INFO = '0000:00:14.6';
/** DMA_MAX_RX_SIZE / DMA_MAX_TX_SIZE (stmmac common.h): the largest rings set_ringparam accepts. */
const DMA_MAX_RING_SIZE = 1024;

export function stmmacEthtoolOps(drv: StmmacDriver): EthtoolOps {
  const mac = drv.mac;
  /**
   * ETH_SS_STATS: the MAC's counters under the names the report and `ethtool -S` use
   * (rx_packets, rx_missed_errors, da_rx_filter_fail …), then the driver's napi_poll.
   */
  const stats = (): [string, number][] => [...(Object.entries(mac.stats) as [string, number][]), ['napi_poll', drv.napiPolls]];
  return {
    getDrvinfo(): EthtoolDrvinfo {
      // No register dump or EEPROM is modelled, so neither length is offered.
      return { driver: DRIVER_NAME, version: KERNEL_RELEASE, fwVersion: '', busInfo: BUS_INFO, eromVersion: '', regdumpLen: 0, eedumpLen: 0 };
    },
    getLink(): boolean {
      return mac.linkUp;
    },
    getLinkKsettings(): LinkKsettings {
      // A 10/100 PHY (the X1000 MACs are RMII), gigabit when the board says its link is; the
      // wire is full duplex and autonegotiated, and the lab host's PHY offers the same modes.
      const speed = Math.round(mac.linkSpeedBps / 1e6);
      const L = ETHTOOL_LINK_MODE;
      const modes: number[] = [L['10baseT_Half'], L['10baseT_Full'], L['100baseT_Half'], L['100baseT_Full']];
      if (speed >= 1000) modes.push(L['1000baseT_Full']);
      return {
        speed,
        duplex: DUPLEX_FULL,
        port: PORT_TP,
        phyAddress: 0, // the board file names no PHY address
        autoneg: AUTONEG_ENABLE,
        mdioSupport: 0,
        ethTpMdix: 0,
        ethTpMdixCtrl: 0,
        transceiver: 0,
        supported: [...modes, L.Autoneg, L.TP, L.MII],
        advertising: [...modes, L.Autoneg],
        lpAdvertising: [...modes, L.Autoneg],
      };
    },
    getSsetCount(sset: number): number {
      // Self-tests (ETH_SS_TEST) need STMMAC_SELFTESTS, not modelled; no private flags.
      return sset === ETH_SS_STATS ? stats().length : -Errno.EOPNOTSUPP;
    },
    getStrings(sset: number): readonly string[] {
      return sset === ETH_SS_STATS ? stats().map(([name]) => name) : [];
    },
    getEthtoolStats(): readonly number[] {
      return stats().map(([, v]) => v);
    },
    getRingparam(): Ringparam {
      return { rxMaxPending: DMA_MAX_RING_SIZE, txMaxPending: DMA_MAX_RING_SIZE, rxPending: mac.rxRing.length, txPending: mac.txRingSize };
    },
    getCoalesce(): Coalesce {
      // RX: the MAC's interrupt coalescing (the RIWT watchdog and its frame count). TX: the
      // model raises a completion per frame, so there is nothing to coalesce.
      return { rxCoalesceUsecs: Math.round(mac.rxCoalesceNs / 1000), rxMaxCoalescedFrames: mac.rxCoalesceFrames, txCoalesceUsecs: 0, txMaxCoalescedFrames: 1 };
    },
  };
}
