/**
 * What a scenario or a test may see of a board without reaching into the stack: RAM by slab
 * cache, the sockets alive and TCP's memory, the SNMP MIB and the interface counters, and the
 * bound (RAM the heap can never exceed, and TCP's tcp_mem limits). Every value is a copy.
 */
import type { BootedBoard } from '../scenarios/boot.js';

export interface CacheObservation {
  name: string;
  objectSize: number;
  active: number;
  peakActive: number;
  pages: number;
  peakPages: number;
  /** RAM the kind holds now and at most (slab pages on SLUB; live object bytes on SLOB). */
  heldBytes: number;
  peakHeldBytes: number;
  failures: number;
}

export interface BoardObservation {
  ram: {
    totalBytes: number;
    /** RAM held by boot reservations. */
    staticBytes: number;
    /** Heap pages in use now and at their peak. */
    usedBytes: number;
    peakUsedBytes: number;
    freeBytes: number;
    /** The slab allocator the board booted (the profile's choice). */
    allocator: 'slob' | 'slub';
    caches: CacheObservation[];
  };
  /** The most the heap can ever hold, and TCP's memory limits and use (pages of 4 KiB). */
  bound: { heapBytes: number; tcpMemPages: [number, number, number] | null; tcpMemAllocatedPages: number | null };
  sockets: { live: number; skbsLive: number };
  /** /proc/net/snmp and netstat counters; null without PROC_FS (the MIB still counts, but a program could not read it). */
  mib: Record<string, Record<string, number>> | null;
  /**
   * The same counters as the kernel holds them, whatever the profile: what a debugger reading
   * the kernel's memory sees. For checks on boards whose profile has no /proc to print them.
   */
  counters: Record<string, Record<string, number>>;
  /** The interface's counters: the MAC's (ethtool -S) and the netdev's (ip -s link). */
  netdev: Record<string, number>;
  /** The driver's NAPI polls and failed RX buffer refills. */
  driver: { napiPolls: number; rxAllocFailures: number };
  /** The board's CPU: cycles charged so far, its clock, and whether cycles are charged at all (--cpu). */
  cpu: { enabled: boolean; clockHz: number; cyclesUsed: number };
  /** The link's speed in bit/s. */
  linkSpeedBps: number;
  /** IPv4 addresses on the interface now (ip -4 addr). */
  addresses: number[];
  /** Configuration requests the kernel handled, by path (rtnetlink messages, ioctls). */
  configRequests: { rtnetlink: number; ioctl: number };
  /** TCP's memory accounting and the RTT samples it took (null without TCP). */
  tcp: { memAllocatedPeakBytes: number; pressureEpisodes: number; rttSamplesNs: number[] } | null;
}

export function observeBoard(b: BootedBoard): BoardObservation {
  const ram = b.board.ram;
  const u = ram.usage();
  const st = b.stack;
  const tcp = st.tcp;
  const driver = st.drivers.get(b.dev.ifindex);
  return {
    ram: {
      totalBytes: u.totalBytes,
      staticBytes: u.reservedBytes,
      usedBytes: u.usedBytes,
      peakUsedBytes: u.peakUsedBytes,
      freeBytes: u.freeBytes,
      allocator: ram.allocator,
      caches: ram.slabinfo().map((c) => ({ name: c.name, objectSize: c.objectSize, active: c.active, peakActive: c.peakActive, pages: c.pages, peakPages: c.peakPages, heldBytes: c.heldBytes, peakHeldBytes: c.peakHeldBytes, failures: c.failures })),
    },
    bound: {
      heapBytes: u.heapBytes,
      tcpMemPages: tcp ? [...tcp.sysctl.tcpMem] : null,
      tcpMemAllocatedPages: tcp ? tcp.mem.allocated : null,
    },
    sockets: { live: st.sockets.live, skbsLive: st.skbs.live },
    mib: st.has('PROC_FS') ? (JSON.parse(JSON.stringify(st.mib.snapshot())) as Record<string, Record<string, number>>) : null,
    counters: st.mib.snapshot(),
    netdev: { ...(b.board.mac.stats as unknown as Record<string, number>), ...Object.fromEntries(Object.entries(b.dev.stats).map(([k, v]) => [`netdev_${k}`, v as number])) },
    driver: { napiPolls: driver?.napiPolls ?? 0, rxAllocFailures: driver?.rxAllocFailures ?? 0 },
    cpu: { enabled: b.board.cpu.enabled, clockHz: b.board.cpu.clockHz, cyclesUsed: b.board.cpu.cyclesUsed },
    linkSpeedBps: b.board.mac.linkSpeedBps,
    addresses: st.addresses.map((a) => a.addr),
    configRequests: { ...st.configStats },
    tcp: tcp ? { memAllocatedPeakBytes: tcp.mem.allocatedPeak, pressureEpisodes: tcp.mem.pressureEpisodes, rttSamplesNs: [...tcp.rttSamplesSeen] } : null,
  };
}
