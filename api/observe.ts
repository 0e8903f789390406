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
    caches: CacheObservation[];
  };
  /** The most the heap can ever hold, and TCP's memory limits and use (pages of 4 KiB). */
  bound: { heapBytes: number; tcpMemPages: [number, number, number] | null; tcpMemAllocatedPages: number | null };
  sockets: { live: number; skbsLive: number };
  /** /proc/net/snmp and netstat counters; null without PROC_FS (the MIB still counts, but a program could not read it). */
  mib: Record<string, Record<string, number>> | null;
  /** The interface's counters: the MAC's (ethtool -S) and the netdev's (ip -s link). */
  netdev: Record<string, number>;
}

export function observeBoard(b: BootedBoard): BoardObservation {
  const ram = b.board.ram;
  const u = ram.usage();
  const st = b.stack;
  const tcp = st.tcp;
  return {
    ram: {
      totalBytes: u.totalBytes,
      staticBytes: u.reservedBytes,
      usedBytes: u.usedBytes,
      peakUsedBytes: u.peakUsedBytes,
      freeBytes: u.freeBytes,
      caches: ram.slabinfo().map((c) => ({ name: c.name, objectSize: c.objectSize, active: c.active, peakActive: c.peakActive, pages: c.pages, peakPages: c.peakPages, failures: c.failures })),
    },
    bound: {
      heapBytes: u.heapBytes,
      tcpMemPages: tcp ? [...tcp.sysctl.tcpMem] : null,
      tcpMemAllocatedPages: tcp ? tcp.mem.allocated : null,
    },
    sockets: { live: st.sockets.live, skbsLive: st.skbs.live },
    mib: st.has('PROC_FS') ? (JSON.parse(JSON.stringify(st.mib.snapshot())) as Record<string, Record<string, number>>) : null,
    netdev: { ...(b.board.mac.stats as unknown as Record<string, number>), ...Object.fromEntries(Object.entries(b.dev.stats).map(([k, v]) => [`netdev_${k}`, v as number])) },
  };
}
