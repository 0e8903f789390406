/**
 * IGMP, host side (net/ipv4/igmp.c; RFC 1112, RFC 2236, RFC 3376), and the multicast
 * memberships it manages: CONFIG_IP_MULTICAST.
 *
 * A socket joins a group with IP_ADD_MEMBERSHIP: one ip_mc_socklist per socket membership,
 * one ip_mc_list per group per interface (shared, counted in `users`), and the group's MAC
 * address in the device's multicast list so the MAC's hash filter lets its frames in. Linux
 * 6.1's defaults hold (force_igmp_version 0): reports are IGMPv3 until a v1 or v2 query is
 * heard, then that version for the "older version querier present" interval (RFC 3376 §7.2.1).
 * A join sends a state-change report (CHANGE_TO_EXCLUDE {}) robustness-variable times, a leave
 * CHANGE_TO_INCLUDE {} (or a v2 leave to 224.0.0.2); queries are answered after a random delay
 * up to the query's maximum response time, drawn from the stack's seeded generator.
 *
 * Without CONFIG_IP_MULTICAST none of this exists: the 2014 series made igmp.o depend on the
 * symbol, so there is no IGMP protocol handler (an IGMP packet to one of our unicast addresses
 * is an unknown protocol: InUnknownProtos and an ICMP protocol unreachable), no all-hosts
 * membership, an empty MAC multicast filter (group frames are dropped by the MAC and counted
 * as da_rx_filter_fail) and the multicast socket options answer ENOPROTOOPT. (Linux 6.1 without
 * the symbol keeps a 5.4 KB igmp.o for memberships; the model follows the series, as
 * stack/kconfig/symbols.ts charges the whole object to the symbol.)
 *
 * Not modelled: source-specific memberships (IP_ADD_SOURCE_MEMBERSHIP, MCAST_MSFILTER and the
 * ip_sf_list source lists), so every group is in EXCLUDE mode with no sources and every report
 * record is source-less; the lo device; multicast routing.
 */
import { NS_PER_SEC, type TimerHandle } from '../../emulator/event-queue.js';
import type { Prng } from '../../emulator/prng.js';
import type { NetDevice } from '../core/netdevice.js';
import { allocSkb, type SkBuff } from '../core/skbuff.js';
import type { NetStack } from '../net-stack.js';
import {
  emitIgmp, emitIgmpv3Record, emitIgmpv3ReportHeader, finishIgmpv3Report, IGMP_HLEN,
  IGMP_HOST_LEAVE_MESSAGE, IGMP_HOST_MEMBERSHIP_QUERY, IGMP_HOST_MEMBERSHIP_REPORT,
  IGMPV2_HOST_MEMBERSHIP_REPORT, IGMPV3_CHANGE_TO_EXCLUDE, IGMPV3_CHANGE_TO_INCLUDE,
  IGMPV3_GREC_HLEN, IGMPV3_HOST_MEMBERSHIP_REPORT, IGMPV3_MODE_IS_EXCLUDE, IGMPV3_MODE_IS_INCLUDE,
  IGMPV3_QUERY_HLEN, IGMPV3_REPORT_HLEN, igmpv3Exp, IPOPT_RA_BYTES, parseIgmp, parseIgmpv3Query,
} from '../wire/igmp-header.js';
import { ipEthMcMap, isMulticast } from './ip.js';
import type { Ipv4Repr } from '../wire/ipv4-header.js';
import type { UdpSock } from './udp-socket.js';
import { readU32 } from '../uapi/byte-order.js';
import { PACKET_BROADCAST, PACKET_LOOPBACK, PACKET_MULTICAST } from '../uapi/if-packet.js';
import { Errno } from '../uapi/errno.js';
import { IPPROTO_IGMP } from '../uapi/in.js';

/** CONFIG_HZ of the calibrated builds (calibration `configs`: HZ_250): IGMP's timers run in jiffies. */
const HZ = 250;
const JIFFY_NS = NS_PER_SEC / HZ;
/** USER_HZ: /proc shows timers in clock ticks of 10 ms. */
const USER_HZ = 100;

const IGMP_QUERY_INTERVAL = 125 * HZ;
const IGMP_QUERY_RESPONSE_INTERVAL = 10 * HZ;
/** Not from the RFCs: Linux delays the first v1/v2 report by up to this many jiffies (plus 2). */
const IGMP_INITIAL_REPORT_DELAY = 1;
const IGMP_TIMER_SCALE = 10;
/** in_dev->mc_hash: 2^MC_HASH_SZ_LOG pointers, made once a fourth group is joined. */
const MC_HASH_SZ_LOG = 4;

export const IGMP_ALL_HOSTS = 0xe0000001;
export const IGMP_ALL_ROUTER = 0xe0000002;
export const IGMPV3_ALL_MCR = 0xe0000016;

/** LL_RESERVED_SPACE of an Ethernet device: the 14-byte header rounded up to HH_DATA_MOD (16). */
const LL_RESERVED_SPACE = 16;
/** IP header with the 4-byte Router Alert option. */
const IP_RA_HLEN = 24;

/**
 * sizeof(struct ip_mc_socklist) on i386 in 6.1: next_rcu 4, ip_mreqn 12, sfmode 4, sflist 4,
 * rcu_head 8 = 32. Computed from the layout: the calibration has no pahole figure for it (a
 * table that has `ip_mc_socklist` wins).
 */
const IP_MC_SOCKLIST_I386 = 32;

export const MCAST_EXCLUDE = 0;
export const MCAST_INCLUDE = 1;

/** struct ip_mc_list: one group on one interface (or, on the tomb list, one just left). */
export interface IpMcList {
  /** The object in RAM. */
  readonly mem: number;
  readonly multiaddr: number;
  users: number;
  sfmode: number;
  /** sfcount[MCAST_EXCLUDE]: ASM joins; always `users` here (no source filters). */
  sfcountExclude: number;
  /** State-change report retransmissions still due (RFC 3376 §5.1). */
  crcount: number;
  /** v1/v2 unsolicited report retransmissions still due. */
  unsolicitCount: number;
  tmRunning: boolean;
  /** We sent the last report for the group (so a v2 leave is ours to send). */
  reporter: boolean;
  gsquery: boolean;
  /** The address is in the device's multicast list. */
  loaded: boolean;
  timer: TimerHandle | null;
}

/** struct ip_mc_socklist: one membership of one socket. */
export interface IpMcSocklist {
  readonly mem: number;
  readonly multiaddr: number;
  /** imr_address and imr_ifindex as resolved at join time. */
  readonly address: number;
  readonly ifindex: number;
  readonly sfmode: number;
}

/** The IGMP state Linux keeps in struct in_device (mc_list, mc_tomb, mr_* and the two timers). */
interface InDevice {
  readonly dev: NetDevice;
  /** Newest first, as ____ip_mc_inc_group prepends. */
  readonly mcList: IpMcList[];
  /** Groups left whose change records are still being retransmitted (igmpv3_add_delrec). */
  readonly mcTomb: IpMcList[];
  mcHash: number;
  mrQi: number;
  mrQri: number;
  mrQrv: number;
  mrMaxdelay: number;
  /** Until when an older-version querier is present (virtual ns); 0: never heard. */
  mrV1Seen: number;
  mrV2Seen: number;
  mrIfcCount: number;
  ifcTimer: TimerHandle | null;
  gqTimer: TimerHandle | null;
  gqRunning: boolean;
}

export interface IpMreqn {
  multiaddr: number;
  address: number;
  ifindex: number;
}

export type McSockOpt = 'IP_ADD_MEMBERSHIP' | 'IP_DROP_MEMBERSHIP' | 'IP_MULTICAST_IF' | 'IP_MULTICAST_TTL' | 'IP_MULTICAST_LOOP' | 'IP_MULTICAST_ALL';
export const MC_SOCK_OPTS: readonly McSockOpt[] = ['IP_ADD_MEMBERSHIP', 'IP_DROP_MEMBERSHIP', 'IP_MULTICAST_IF', 'IP_MULTICAST_TTL', 'IP_MULTICAST_LOOP', 'IP_MULTICAST_ALL'];

/**
 * struct ip_mreqn as a program passes it (12 bytes): the group and the interface address in
 * network order, the interface index as a host-order int. Its first 8 bytes are a struct ip_mreq.
 */
export function ipMreqn(group: number, address = 0, ifindex = 0): Uint8Array {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, group >>> 0, false);
  dv.setUint32(4, address >>> 0, false);
  dv.setInt32(8, ifindex, true);
  return b;
}

/** ipv4_is_local_multicast: 224.0.0.0/24, never routed. */
function isLocalMulticast(addr: number): boolean {
  return (addr & 0xffffff00) >>> 0 === 0xe0000000;
}

/** A v3 report being filled (igmpv3_newpack's skb): where its IGMP header is, on which device. */
interface Pack {
  skb: SkBuff;
  report: number;
  dev: NetDevice;
}

export class Igmp {
  /** net.ipv4 sysctls with their 6.1 defaults. */
  readonly sysctl = {
    igmp_qrv: 2,
    igmp_llm_reports: true,
    igmp_max_memberships: 20,
    /** Per-interface conf, the same on every device here. */
    force_igmp_version: 0,
    igmpv2_unsolicited_report_interval: 10_000,
    igmpv3_unsolicited_report_interval: 1_000,
  };
  /**
   * What the module did, for tests and the report. Linux keeps no IGMP MIB (there is no Igmp
   * line in /proc/net/snmp); these are quarklab's own counters.
   */
  readonly stats = { rx_messages: 0, rx_errors: 0, rx_queries: 0, rx_reports: 0, tx_reports: 0, tx_leaves: 0, tx_failures: 0 };
  private readonly inDevs = new Map<number, InDevice>();
  private readonly rng: Prng;

  constructor(private readonly stack: NetStack) {
    this.rng = stack.env.rng.split('igmp');
    stack.ip.register(IPPROTO_IGMP, (skb, ip, dev) => this.receive(skb, ip, dev));
  }

  private get now(): number {
    return this.stack.sim.now;
  }

  private qrv(inDev: InDevice): number {
    return inDev.mrQrv || this.sysctl.igmp_qrv;
  }

  private v1Seen(inDev: InDevice): boolean {
    return this.sysctl.force_igmp_version === 1 || (inDev.mrV1Seen !== 0 && this.now < inDev.mrV1Seen);
  }

  private v2Seen(inDev: InDevice): boolean {
    return this.sysctl.force_igmp_version === 2 || (inDev.mrV2Seen !== 0 && this.now < inDev.mrV2Seen);
  }

  /** The version this interface reports in now: what /proc/net/igmp calls the querier. */
  querierVersion(dev: NetDevice): 1 | 2 | 3 {
    const inDev = this.inDevs.get(dev.ifindex);
    if (!inDev) return 3;
    return this.v1Seen(inDev) ? 1 : this.v2Seen(inDev) ? 2 : 3;
  }

  private unsolicitedReportInterval(inDev: InDevice): number {
    const ms = this.v1Seen(inDev) || this.v2Seen(inDev) ? this.sysctl.igmpv2_unsolicited_report_interval : this.sysctl.igmpv3_unsolicited_report_interval;
    return Math.max(1, Math.ceil((ms * HZ) / 1000)); // msecs_to_jiffies; a timer needs at least one
  }

  private reportable(addr: number): boolean {
    return addr !== IGMP_ALL_HOSTS && (!isLocalMulticast(addr) || this.sysctl.igmp_llm_reports);
  }

  // ---- the device: ip_mc_init_dev / ip_mc_up ------------------------------------------------

  /** NETDEV_UP (ip_mc_up): reset the querier state and join 224.0.0.1, which is never reported. */
  mcUp(dev: NetDevice): void {
    let inDev = this.inDevs.get(dev.ifindex);
    if (!inDev) {
      inDev = { dev, mcList: [], mcTomb: [], mcHash: 0, mrQi: 0, mrQri: 0, mrQrv: 0, mrMaxdelay: 0, mrV1Seen: 0, mrV2Seen: 0, mrIfcCount: 0, ifcTimer: null, gqTimer: null, gqRunning: false };
      this.inDevs.set(dev.ifindex, inDev);
    }
    inDev.mrQi = IGMP_QUERY_INTERVAL;
    inDev.mrQri = IGMP_QUERY_RESPONSE_INTERVAL;
    inDev.mrQrv = this.sysctl.igmp_qrv;
    this.incGroup(inDev, IGMP_ALL_HOSTS);
    for (const pmc of [...inDev.mcList]) {
      this.delDelrec(inDev, pmc);
      this.groupAdded(inDev, pmc);
    }
  }

  /** ip_check_mc_rcu: has `dev` joined `group`? (With no source filters, any member accepts any source.) */
  checkMc(dev: NetDevice, group: number, _protocol: number): boolean {
    const inDev = this.inDevs.get(dev.ifindex);
    return inDev !== undefined && inDev.mcList.some((im) => im.multiaddr === group);
  }

  /** The groups joined on `dev`, newest first (what /proc/net/igmp lists). */
  groups(dev: NetDevice): readonly IpMcList[] {
    return this.inDevs.get(dev.ifindex)?.mcList ?? [];
  }

  // ---- groups on an interface ---------------------------------------------------------------

  /** ____ip_mc_inc_group: another user of a group, or a new ip_mc_list (silently none when RAM is short, as Linux). */
  private incGroup(inDev: InDevice, addr: number): void {
    const have = inDev.mcList.find((im) => im.multiaddr === addr);
    if (have) {
      have.users++;
      have.sfcountExclude++;
      return;
    }
    const mem = this.stack.env.mem.kmalloc(this.stack.env.structs['ip_mc_list']!);
    if (mem === 0) return;
    const im: IpMcList = { mem, multiaddr: addr, users: 1, sfmode: MCAST_EXCLUDE, sfcountExclude: 1, crcount: 0, unsolicitCount: 0, tmRunning: false, reporter: false, gsquery: false, loaded: false, timer: null };
    inDev.mcList.unshift(im);
    // ip_mc_hash_add: a hash table for lookups once there are four groups; it lives as long as
    // the in_device (inetdev_destroy frees it), so it outlasts the groups that made it.
    if (inDev.mcHash === 0 && inDev.mcList.length >= 4) inDev.mcHash = this.stack.env.mem.kmalloc(4 << MC_HASH_SZ_LOG);
    this.delDelrec(inDev, im);
    this.groupAdded(inDev, im);
  }

  /** __ip_mc_dec_group: the last user gone, the group is dropped and its ip_mc_list freed. */
  private decGroup(inDev: InDevice, addr: number): void {
    const i = inDev.mcList.findIndex((im) => im.multiaddr === addr);
    if (i < 0) return;
    const im = inDev.mcList[i]!;
    im.sfcountExclude = Math.max(0, im.sfcountExclude - 1);
    if (--im.users > 0) return;
    inDev.mcList.splice(i, 1);
    this.groupDropped(inDev, im);
    this.stack.env.mem.kfree(im.mem);
  }

  private groupAdded(inDev: InDevice, im: IpMcList): void {
    if (!im.loaded) {
      im.loaded = true;
      // ip_mc_filter_add: the group's MAC into the device list (a failed allocation leaves the
      // filter without it, as dev_mc_add's error is ignored there).
      this.stack.devAddr.mcAdd(inDev.dev, ipEthMcMap(im.multiaddr));
    }
    if (!this.reportable(im.multiaddr)) return;
    im.unsolicitCount = this.sysctl.igmp_qrv;
    if (this.v1Seen(inDev) || this.v2Seen(inDev)) {
      this.startTimer(inDev, im, IGMP_INITIAL_REPORT_DELAY);
      return;
    }
    if (im.sfmode === MCAST_EXCLUDE) im.crcount = this.qrv(inDev);
    this.ifcEvent(inDev);
  }

  private groupDropped(inDev: InDevice, im: IpMcList): void {
    if (im.loaded) {
      im.loaded = false;
      this.stack.devAddr.mcDel(inDev.dev, ipEthMcMap(im.multiaddr));
    }
    if (!this.reportable(im.multiaddr)) return;
    const reporter = im.reporter;
    this.stopTimer(im);
    if (this.v1Seen(inDev)) return;
    if (this.v2Seen(inDev)) {
      if (reporter) this.sendReport(inDev, im, IGMP_HOST_LEAVE_MESSAGE);
      return;
    }
    this.addDelrec(inDev, im);
    this.ifcEvent(inDev);
  }

  /** igmpv3_add_delrec: a copy of the left group on the tomb list carries its CHANGE_TO_INCLUDE retransmissions. */
  private addDelrec(inDev: InDevice, im: IpMcList): void {
    const mem = this.stack.env.mem.kmalloc(this.stack.env.structs['ip_mc_list']!);
    if (mem === 0) return;
    inDev.mcTomb.unshift({ mem, multiaddr: im.multiaddr, users: 0, sfmode: im.sfmode, sfcountExclude: 0, crcount: this.qrv(inDev), unsolicitCount: 0, tmRunning: false, reporter: false, gsquery: false, loaded: false, timer: null });
  }

  /** igmpv3_del_delrec: rejoining a group just left takes its tomb entry back. */
  private delDelrec(inDev: InDevice, im: IpMcList): void {
    const i = inDev.mcTomb.findIndex((p) => p.multiaddr === im.multiaddr);
    if (i < 0) return;
    const [pmc] = inDev.mcTomb.splice(i, 1);
    if (im.sfmode === MCAST_EXCLUDE) im.crcount = this.qrv(inDev);
    this.stack.env.mem.kfree(pmc!.mem);
  }

  /** igmpv3_clear_delrec: an older querier appeared, so pending v3 leave records are moot. */
  private clearDelrec(inDev: InDevice): void {
    for (const pmc of inDev.mcTomb.splice(0)) this.stack.env.mem.kfree(pmc.mem);
  }

  // ---- timers -------------------------------------------------------------------------------

  private jiffies(n: number): number {
    return n * JIFFY_NS;
  }

  /** prandom_u32() % n. */
  private random(n: number): number {
    return this.rng.nextU32() % n;
  }

  private stopTimer(im: IpMcList): void {
    this.stack.sim.cancel(im.timer);
    im.timer = null;
    im.tmRunning = false;
    im.reporter = false;
    im.unsolicitCount = 0;
  }

  /** igmp_start_timer: fire after a random 0…maxDelay−1 jiffies, plus two. */
  private startTimer(inDev: InDevice, im: IpMcList, maxDelay: number): void {
    const tv = this.random(maxDelay);
    im.tmRunning = true;
    this.stack.sim.cancel(im.timer);
    im.timer = this.stack.sim.after(this.jiffies(tv + 2), () => {
      this.stack.chargeTimer();
      this.timerExpire(inDev, im);
    });
  }

  /** igmp_mod_timer: a query asks for a report within maxDelay; an earlier pending one stands. */
  private modTimer(inDev: InDevice, im: IpMcList, maxDelay: number): void {
    im.unsolicitCount = 0;
    if (im.timer && !im.timer.cancelled) {
      if (im.timer.at - this.now < this.jiffies(maxDelay)) {
        im.tmRunning = true;
        return;
      }
    }
    this.startTimer(inDev, im, maxDelay);
  }

  private timerExpire(inDev: InDevice, im: IpMcList): void {
    im.tmRunning = false;
    im.timer = null;
    if (im.unsolicitCount > 0 && --im.unsolicitCount > 0) this.startTimer(inDev, im, this.unsolicitedReportInterval(inDev));
    im.reporter = true;
    if (this.v1Seen(inDev)) this.sendReport(inDev, im, IGMP_HOST_MEMBERSHIP_REPORT);
    else if (this.v2Seen(inDev)) this.sendReport(inDev, im, IGMPV2_HOST_MEMBERSHIP_REPORT);
    else this.sendReport(inDev, im, IGMPV3_HOST_MEMBERSHIP_REPORT);
  }

  /** igmp_gq_start_timer: answer a general query once, within the query's maximum response time. */
  private gqStartTimer(inDev: InDevice): void {
    const at = this.now + this.jiffies(this.random(inDev.mrMaxdelay) + 2);
    if (inDev.gqRunning && inDev.gqTimer && at >= inDev.gqTimer.at) return;
    inDev.gqRunning = true;
    this.stack.sim.cancel(inDev.gqTimer);
    inDev.gqTimer = this.stack.sim.at(at, () => {
      inDev.gqRunning = false;
      inDev.gqTimer = null;
      this.igmpv3SendReport(inDev, null);
    });
  }

  /** igmp_ifc_start_timer: the interface-change timer that sends state-change reports. */
  private ifcStartTimer(inDev: InDevice, delay: number): void {
    this.stack.sim.cancel(inDev.ifcTimer);
    inDev.ifcTimer = this.stack.sim.after(this.jiffies(this.random(delay) + 2), () => {
      inDev.ifcTimer = null;
      this.sendCr(inDev);
      if (inDev.mrIfcCount > 0) {
        inDev.mrIfcCount--;
        this.ifcStartTimer(inDev, this.unsolicitedReportInterval(inDev));
      }
    });
  }

  /** igmp_ifc_event: a membership changed; send change records (v3 only), robustness-variable times. */
  private ifcEvent(inDev: InDevice): void {
    if (this.v1Seen(inDev) || this.v2Seen(inDev)) return;
    inDev.mrIfcCount = this.qrv(inDev);
    this.ifcStartTimer(inDev, 1);
  }

  // ---- sending ------------------------------------------------------------------------------

  /**
   * igmp_send_report: a v1/v2 report to the group or a v2 leave to all routers, in an skb of
   * IGMP_SIZE plus link-layer room as Linux allocates it. v3 goes to igmpv3_send_report.
   */
  private sendReport(inDev: InDevice, pmc: IpMcList, type: number): void {
    if (type === IGMPV3_HOST_MEMBERSHIP_REPORT) {
      this.igmpv3SendReport(inDev, pmc);
      return;
    }
    if (isLocalMulticast(pmc.multiaddr) && !this.sysctl.igmp_llm_reports) return;
    const dst = type === IGMP_HOST_LEAVE_MESSAGE ? IGMP_ALL_ROUTER : pmc.multiaddr;
    const skb = allocSkb(this.stack.skbs, IGMP_HLEN + IP_RA_HLEN + LL_RESERVED_SPACE);
    if (!skb) {
      this.stats.tx_failures++;
      return;
    }
    skb.reserve(LL_RESERVED_SPACE + IP_RA_HLEN);
    const at = skb.put(IGMP_HLEN);
    emitIgmp({ type, code: 0, group: pmc.multiaddr }, skb.bytes, at);
    skb.transportHeader = at;
    if (type === IGMP_HOST_LEAVE_MESSAGE) this.stats.tx_leaves++;
    else this.stats.tx_reports++;
    this.localOut(inDev.dev, skb, dst);
  }

  /**
   * ip_local_out for IGMP: TTL 1, TOS 0xc0 (internetwork control), DF, the Router Alert
   * option, ID 0 (ip_select_ident gives a DF packet without a connected socket none) and the
   * interface's own address, out of the interface itself.
   */
  private localOut(dev: NetDevice, skb: SkBuff, dst: number): void {
    const r = this.stack.ip.output(skb, {
      src: this.stack.primaryAddress(dev.ifindex),
      dst,
      protocol: IPPROTO_IGMP,
      ttl: 1,
      tos: 0xc0,
      df: true,
      ifindex: dev.ifindex,
      options: IPOPT_RA_BYTES,
      id: 0,
    });
    if (r < 0) this.stats.tx_failures++;
  }

  /**
   * igmpv3_newpack: an MTU-sized report (halved while the allocation fails, down to 256
   * bytes), to 224.0.0.22, with no records yet.
   */
  private newpack(dev: NetDevice): Pack | null {
    let size = dev.mtu;
    let skb: SkBuff | null = null;
    for (;;) {
      skb = allocSkb(this.stack.skbs, size + LL_RESERVED_SPACE);
      if (skb) break;
      size >>= 1;
      if (size < 256) {
        this.stats.tx_failures++;
        return null;
      }
    }
    skb.reserve(LL_RESERVED_SPACE + IP_RA_HLEN);
    const report = skb.put(IGMPV3_REPORT_HLEN);
    emitIgmpv3ReportHeader(skb.bytes, report);
    skb.transportHeader = report;
    return { skb, report, dev };
  }

  /** skb_availroom under skb_tailroom_reserve(mtu): what still fits in one MTU-sized datagram. */
  private available(p: Pack | null): number {
    return p ? p.dev.mtu - IP_RA_HLEN - p.skb.len : 0;
  }

  private sendpack(p: Pack): void {
    finishIgmpv3Report(p.skb.bytes, p.report, p.skb.len);
    this.stats.tx_reports++;
    this.localOut(p.dev, p.skb, IGMPV3_ALL_MCR);
  }

  /**
   * add_grec for a source-less group: a record when it is a current-state record (a query
   * answer) or a filter-mode change still being retransmitted; ALLOW/BLOCK records only list
   * sources, so there are none to send.
   */
  private addGrec(p: Pack | null, inDev: InDevice, pmc: IpMcList, type: number): Pack | null {
    if (!this.reportable(pmc.multiaddr)) return p;
    if (inDev.dev.mtu < 68) return p;
    const isquery = type === IGMPV3_MODE_IS_INCLUDE || type === IGMPV3_MODE_IS_EXCLUDE;
    if (pmc.crcount > 0 || isquery) {
      if (p && this.available(p) < IGMPV3_GREC_HLEN) {
        this.sendpack(p);
        p = null;
      }
      if (!p) p = this.newpack(inDev.dev);
      if (!p) return null;
      const at = p.skb.put(IGMPV3_GREC_HLEN);
      emitIgmpv3Record(p.skb.bytes, p.report, at, type, pmc.multiaddr);
    }
    if (isquery) pmc.gsquery = false;
    return p;
  }

  /** igmpv3_send_report: current-state records for one group (a group query) or every group (a general query). */
  private igmpv3SendReport(inDev: InDevice, only: IpMcList | null): void {
    let p: Pack | null = null;
    for (const pmc of only ? [only] : inDev.mcList) {
      const type = pmc.sfcountExclude > 0 ? IGMPV3_MODE_IS_EXCLUDE : IGMPV3_MODE_IS_INCLUDE;
      p = this.addGrec(p, inDev, pmc, type);
    }
    if (p) this.sendpack(p);
  }

  /** igmpv3_send_cr: the state-change records still due, for groups left and groups joined. */
  private sendCr(inDev: InDevice): void {
    let p: Pack | null = null;
    for (const pmc of [...inDev.mcTomb]) {
      if (pmc.crcount > 0) {
        if (pmc.sfmode === MCAST_EXCLUDE) p = this.addGrec(p, inDev, pmc, IGMPV3_CHANGE_TO_INCLUDE);
        pmc.crcount--;
      }
      if (pmc.crcount === 0) {
        inDev.mcTomb.splice(inDev.mcTomb.indexOf(pmc), 1);
        this.stack.env.mem.kfree(pmc.mem);
      }
    }
    for (const pmc of inDev.mcList) {
      if (pmc.crcount > 0) {
        p = this.addGrec(p, inDev, pmc, pmc.sfmode === MCAST_EXCLUDE ? IGMPV3_CHANGE_TO_EXCLUDE : IGMPV3_CHANGE_TO_INCLUDE);
        pmc.crcount--;
      }
    }
    if (p) this.sendpack(p);
  }

  // ---- receiving ----------------------------------------------------------------------------

  /** igmp_rcv: `skb.data` is at the IGMP header; its length is the IP payload's. */
  private receive(skb: SkBuff, _ip: Ipv4Repr, dev: NetDevice): void {
    this.stats.rx_messages++;
    const inDev = this.inDevs.get(dev.ifindex);
    const h = parseIgmp(skb.bytes, skb.data, skb.len);
    if (!inDev || typeof h === 'string') {
      this.stats.rx_errors++;
      skb.free();
      return;
    }
    switch (h.type) {
      case IGMP_HOST_MEMBERSHIP_QUERY:
        this.stats.rx_queries++;
        if (this.heardQuery(inDev, skb, h.code, h.group)) this.stats.rx_errors++;
        break;
      case IGMP_HOST_MEMBERSHIP_REPORT:
      case IGMPV2_HOST_MEMBERSHIP_REPORT:
        this.stats.rx_reports++;
        // Our own report looped back is not another member's; nor is a unicast one.
        if (skb.pktType === PACKET_LOOPBACK) break;
        if (skb.pktType === PACKET_MULTICAST || skb.pktType === PACKET_BROADCAST) this.heardReport(inDev, h.group);
        break;
      default:
        // v3 reports, leaves, DVMRP, PIM, mtrace: for routers.
        break;
    }
    skb.free();
  }

  /** igmp_heard_report: another member reported (v1/v2), so ours is suppressed. */
  private heardReport(inDev: InDevice, group: number): void {
    if (!this.reportable(group)) return;
    const im = inDev.mcList.find((x) => x.multiaddr === group);
    if (im) this.stopTimer(im);
  }

  /**
   * igmp_heard_query. An 8-byte query is v1 (code 0) or v2 and makes this interface report in
   * that version for the Older Version Querier Present Timeout (robustness × query interval +
   * query response interval); a longer one is v3 and updates the querier's QRV and QQI. A v3
   * general query is answered with one report for all groups; a group query (any version)
   * starts or shortens that group's timer. True when the packet was bogus.
   */
  private heardQuery(inDev: InDevice, skb: SkBuff, code: number, groupField: number): boolean {
    const len = skb.len;
    let group = groupField;
    let maxDelay: number;
    if (len === IGMP_HLEN) {
      const present = this.now + this.jiffies(inDev.mrQrv * inDev.mrQi + inDev.mrQri);
      if (code === 0) {
        maxDelay = IGMP_QUERY_RESPONSE_INTERVAL;
        inDev.mrV1Seen = present;
        group = 0;
      } else {
        maxDelay = code * (HZ / IGMP_TIMER_SCALE);
        inDev.mrV2Seen = present;
      }
      // No v3 change reports while an older querier is present.
      inDev.mrIfcCount = 0;
      this.stack.sim.cancel(inDev.ifcTimer);
      inDev.ifcTimer = null;
      this.clearDelrec(inDev);
    } else if (len < IGMPV3_QUERY_HLEN) {
      return true;
    } else if (this.v1Seen(inDev)) {
      maxDelay = IGMP_QUERY_RESPONSE_INTERVAL;
      group = 0;
    } else if (this.v2Seen(inDev)) {
      maxDelay = Math.max(1, igmpv3Exp(code) * (HZ / IGMP_TIMER_SCALE));
    } else {
      const q = parseIgmpv3Query(skb.bytes, skb.data, len);
      if (typeof q === 'string') return true;
      maxDelay = Math.max(1, igmpv3Exp(q.code) * (HZ / IGMP_TIMER_SCALE));
      inDev.mrMaxdelay = maxDelay;
      // RFC 3376 §4.1.6–7: a zero QRV or QQIC means "use the default".
      inDev.mrQrv = q.qrv || this.sysctl.igmp_qrv;
      inDev.mrQi = igmpv3Exp(q.qqic) * HZ || IGMP_QUERY_INTERVAL;
      if (inDev.mrQri >= inDev.mrQi) inDev.mrQri = (Math.floor(inDev.mrQi / HZ) - 1) * HZ;
      if (group === 0) {
        if (q.sources.length > 0) return true; // a general query lists no sources
        this.gqStartTimer(inDev);
        return false;
      }
      // A group-and-source query: with no source lists every such query is answered
      // (igmp_xmarksources finds none of its sources excluded).
    }
    for (const im of inDev.mcList) {
      if (group !== 0 && group !== im.multiaddr) continue;
      if (!this.reportable(im.multiaddr)) continue;
      im.gsquery = false;
      this.modTimer(inDev, im, maxDelay);
    }
    return false;
  }

  // ---- sockets ------------------------------------------------------------------------------

  /** ip_mc_find_dev: the interface by index, by one of its addresses, or by the route to the group. */
  private findDev(imr: IpMreqn): InDevice | null {
    if (imr.ifindex !== 0) return this.inDevs.get(imr.ifindex) ?? null;
    let ifindex: number | undefined;
    if (imr.address !== 0) {
      ifindex = this.stack.addresses.find((a) => a.addr === imr.address)?.ifindex;
      if (ifindex === undefined) return null;
    } else {
      ifindex = this.stack.fib.lookup(imr.multiaddr)?.ifindex;
    }
    if (ifindex === undefined) return null;
    imr.ifindex = ifindex;
    return this.inDevs.get(ifindex) ?? null;
  }

  /** __ip_mc_join_group (ASM): the socket's membership, then the interface's group. */
  joinGroup(sk: UdpSock, imr: IpMreqn): number {
    if (!isMulticast(imr.multiaddr)) return -Errno.EINVAL;
    const inDev = this.findDev(imr);
    if (!inDev) return -Errno.ENODEV;
    let count = 0;
    for (const iml of sk.mcList) {
      if (iml.multiaddr === imr.multiaddr && iml.ifindex === imr.ifindex) return -Errno.EADDRINUSE;
      count++;
    }
    if (count >= this.sysctl.igmp_max_memberships) return -Errno.ENOBUFS;
    // sock_kmalloc: charged to sk_omem_alloc, whose optmem_max (20 KB) 20 memberships never reach.
    const mem = this.stack.env.mem.kmalloc(this.stack.env.structs['ip_mc_socklist'] ?? IP_MC_SOCKLIST_I386);
    if (mem === 0) return -Errno.ENOBUFS;
    sk.mcList.unshift({ mem, multiaddr: imr.multiaddr, address: imr.address, ifindex: imr.ifindex, sfmode: MCAST_EXCLUDE });
    this.incGroup(inDev, imr.multiaddr);
    return 0;
  }

  /** ip_mc_leave_group: the membership that names this group (and interface, when given). */
  leaveGroup(sk: UdpSock, imr: IpMreqn): number {
    const inDev = this.findDev(imr);
    if (imr.ifindex === 0 && imr.address === 0 && !inDev) return -Errno.ENODEV;
    const i = sk.mcList.findIndex((iml) => {
      if (iml.multiaddr !== imr.multiaddr) return false;
      if (imr.ifindex !== 0) return iml.ifindex === imr.ifindex;
      return imr.address === 0 || imr.address === iml.address;
    });
    if (i < 0) return -Errno.EADDRNOTAVAIL;
    const [iml] = sk.mcList.splice(i, 1);
    if (inDev) this.decGroup(inDev, imr.multiaddr);
    this.stack.env.mem.kfree(iml!.mem);
    return 0;
  }

  /** ip_mc_drop_socket: a closing socket leaves every group it joined. */
  dropSocket(sk: UdpSock): void {
    for (const iml of sk.mcList.splice(0)) {
      const inDev = this.inDevs.get(iml.ifindex);
      if (inDev) this.decGroup(inDev, iml.multiaddr);
      this.stack.env.mem.kfree(iml.mem);
    }
  }

  /**
   * ip_mc_sf_allow: may `sk` have this datagram? Not addressed to a group: yes. Addressed to a
   * group the socket joined on the arrival interface: yes (EXCLUDE {}). Otherwise it is
   * IP_MULTICAST_ALL's answer, which Linux defaults to 1: an unjoined socket bound to the
   * port hears every group some other socket on the host joined.
   */
  sfAllow(sk: UdpSock, locAddr: number, _rmtAddr: number, dif: number): boolean {
    if (!isMulticast(locAddr)) return true;
    const pmc = sk.mcList.find((p) => p.multiaddr === locAddr && p.ifindex === dif);
    if (!pmc) return sk.mcAll;
    return pmc.sfmode === MCAST_EXCLUDE;
  }

  /**
   * The IPPROTO_IP multicast options of do_ip_setsockopt for a UDP socket. Membership options
   * take a struct ip_mreq (8 bytes) or ip_mreqn (12); IP_MULTICAST_IF an in_addr, ip_mreq or
   * ip_mreqn (or, as a number, the interface address); the rest an int.
   */
  setsockopt(sk: UdpSock, opt: McSockOpt, value: number | Uint8Array): number {
    switch (opt) {
      case 'IP_ADD_MEMBERSHIP':
      case 'IP_DROP_MEMBERSHIP': {
        if (typeof value === 'number' || value.length < 8) return -Errno.EINVAL;
        const imr = readMreqn(value);
        return opt === 'IP_ADD_MEMBERSHIP' ? this.joinGroup(sk, imr) : this.leaveGroup(sk, imr);
      }
      case 'IP_MULTICAST_IF': {
        let imr: IpMreqn;
        if (typeof value === 'number') imr = { multiaddr: 0, address: value >>> 0, ifindex: 0 };
        else if (value.length >= 8) imr = readMreqn(value);
        else if (value.length >= 4) imr = { multiaddr: 0, address: readU32(value, 0), ifindex: 0 };
        else return -Errno.EINVAL;
        if (imr.ifindex === 0) {
          if (imr.address === 0) {
            sk.mcIndex = 0;
            sk.mcAddr = 0;
            return 0;
          }
          const a = this.stack.addresses.find((x) => x.addr === imr.address);
          if (!a) return -Errno.EADDRNOTAVAIL;
          imr.ifindex = a.ifindex;
        } else if (!this.stack.device(imr.ifindex)) {
          return -Errno.EADDRNOTAVAIL;
        }
        if (sk.bindToIfindex !== undefined && imr.ifindex !== sk.bindToIfindex) return -Errno.EINVAL;
        sk.mcIndex = imr.ifindex;
        sk.mcAddr = imr.address;
        return 0;
      }
      default: {
        const iv = intValue(value);
        if (iv === null) return -Errno.EINVAL;
        if (opt === 'IP_MULTICAST_TTL') {
          const ttl = iv === -1 ? 1 : iv;
          if (ttl < 0 || ttl > 255) return -Errno.EINVAL;
          sk.mcTtl = ttl;
          return 0;
        }
        if (opt === 'IP_MULTICAST_LOOP') {
          sk.mcLoop = iv !== 0;
          return 0;
        }
        if (iv !== 0 && iv !== 1) return -Errno.EINVAL;
        sk.mcAll = iv === 1;
        return 0;
      }
    }
  }

  // ---- /proc/net/igmp -----------------------------------------------------------------------

  /**
   * igmp_mc_seq_show: per interface its index, name, group count and querier version, then
   * each group as Linux prints a __be32 with %08X on little-endian i386 (224.0.0.1 is
   * 010000E0), its users, timer (running:clock ticks left) and reporter flag. lo is not modelled.
   */
  procIgmp(): string {
    let out = 'Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n';
    for (const dev of this.stack.devices) {
      const inDev = this.inDevs.get(dev.ifindex);
      if (!inDev || inDev.mcList.length === 0) continue;
      const v = this.querierVersion(dev);
      out += `${dev.ifindex}\t${dev.name.padEnd(10)}: ${String(inDev.mcList.length).padStart(5)} ${`V${v}`.padStart(7)}\n`;
      for (const im of inDev.mcList) {
        const left = im.tmRunning && im.timer ? Math.max(0, Math.floor(((im.timer.at - this.now) * USER_HZ) / NS_PER_SEC)) : 0;
        out += `\t\t\t\t${hex8(leBe32(im.multiaddr))} ${String(im.users).padStart(5)} ${im.tmRunning ? 1 : 0}:${hex8(left)}\t\t${im.reporter ? 1 : 0}\n`;
      }
    }
    return out;
  }
}

/** A struct ip_mreq / ip_mreqn from the program's bytes (8 or at least 12). */
function readMreqn(b: Uint8Array): IpMreqn {
  const ifindex = b.length >= 12 ? new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(8, true) : 0;
  return { multiaddr: readU32(b, 0), address: readU32(b, 4), ifindex };
}

/** An int option: a number, or the int (4 bytes, host order) or single byte the program passed. */
function intValue(v: number | Uint8Array): number | null {
  if (typeof v === 'number') return v | 0;
  if (v.length >= 4) return new DataView(v.buffer, v.byteOffset, v.byteLength).getInt32(0, true);
  if (v.length >= 1) return v[0]!;
  return null;
}

/** A network-order address read as a host integer on little-endian i386 (what %08X of a __be32 prints). */
export function leBe32(addr: number): number {
  return (((addr & 0xff) << 24) | (((addr >>> 8) & 0xff) << 16) | (((addr >>> 16) & 0xff) << 8) | (addr >>> 24)) >>> 0;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
}
