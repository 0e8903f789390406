/**
 * /proc/net (CONFIG_PROC_FS: fs/proc/proc_net.c and net/core/net-procfs.c). The files are
 * registered at init by what owns them, as Linux's protocols call proc_create_net_single and
 * proc_create_seq: core registers dev (dev_proc_net_init); stack/ipv4/proc.ts registers the
 * IPv4 files (snmp, netstat, tcp, udp, arp, route, igmp). Each file's show function writes
 * the 6.1 layout — the same header lines, column order, printf widths and padding — with the
 * printf conversions below, so a program that parses Linux's files parses these.
 *
 * Addresses print as Linux prints a __be32 with %08X on little-endian i386 (192.0.2.2 is
 * 020200C0); ports and everything else in host order. Timers show in USER_HZ clock ticks.
 * Counters the stack does not keep read 0 (they exist in the file, as in /proc, whether
 * anything touched them or not); where a value has no model it is documented at its column.
 * The lo device is not modelled, so it is in no file.
 *
 * Reading allocates the seq_file buffer (one page, kvmalloc) from board RAM for the duration
 * of the read: -ENOMEM when there is none. Without PROC_FS none of this is reachable
 * (stack/socket/syscalls.ts answers -ENOENT).
 */
import { NS_PER_SEC } from '../../emulator/event-queue.js';
import type { NetStack } from '../net-stack.js';
import { leBe32 } from '../uapi/byte-order.js';
import { Errno } from '../uapi/errno.js';

const PAGE_SIZE = 4096;
const USER_HZ = 100;

/** A file's show function: its whole text, or null when it does not exist on this stack (-ENOENT). */
export type ProcShow = (stack: NetStack) => string | null;

/** The /proc/net directory: what each path shows. */
export class ProcNet {
  private readonly files = new Map<string, ProcShow>();

  constructor() {
    this.create('dev', dev); // dev_proc_net_init
  }

  /** proc_create_net_single / proc_create_seq: /proc/net/`name` shows `show`. */
  create(name: string, show: ProcShow): void {
    this.files.set(`/proc/net/${name}`, show);
  }

  /** The show function registered for `path`, if any. */
  lookup(path: string): ProcShow | undefined {
    return this.files.get(path);
  }
}

/** The text of one /proc/net file, or -ENOENT / -ENOMEM. */
export function readProc(stack: NetStack, path: string): string | number {
  const make = stack.procNet.lookup(path);
  if (!make) return -Errno.ENOENT;
  const buf = stack.env.mem.kmalloc(PAGE_SIZE); // seq_buf_alloc(PAGE_SIZE)
  if (buf === 0) return -Errno.ENOMEM;
  try {
    const text = make(stack);
    return text === null ? -Errno.ENOENT : text;
  } finally {
    stack.env.mem.kfree(buf);
  }
}

// ---- formatting helpers (the printf conversions the seq_show functions use) -----------------

export function hex(n: number, width: number): string {
  return (n >>> 0).toString(16).toUpperCase().padStart(width, '0');
}

/** %08X of a __be32 on little-endian i386. */
export function beHex(addr: number): string {
  return hex(leBe32(addr), 8);
}

export function right(v: string | number, width: number): string {
  return String(v).padStart(width);
}

export function left(v: string | number, width: number): string {
  return String(v).padEnd(width);
}

/** seq_setwidth + seq_pad: the record padded with spaces to `width`, then a newline. */
export function padLine(s: string, width: number): string {
  return `${s.padEnd(width)}\n`;
}

/** jiffies_delta_to_clock_t: a time left (virtual ns) in clock ticks, never negative. */
export function clockT(ns: number): number {
  return Math.max(0, Math.floor((ns * USER_HZ) / NS_PER_SEC));
}

export function pairLines(prefix: string, names: readonly string[], values: readonly number[]): string {
  return `${prefix}: ${names.join(' ')}\n${prefix}: ${values.join(' ')}\n`;
}

// ---- /proc/net/dev -------------------------------------------------------------------------

/**
 * dev_seq_printf_stats for each device: rtnl_link_stats64 built from the net_device's counters
 * and the MAC's (errs: frames the MAC rejected as bad; drop: dropped by the stack plus
 * rx_missed_errors; frame: CRC and length errors; multicast: stmmac does not count it).
 */
function dev(stack: NetStack): string {
  let out =
    'Inter-|   Receive                                                |  Transmit\n' +
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';
  for (const d of stack.devices) {
    const mac = stack.drivers.get(d.ifindex)?.mac.stats;
    const crc = mac?.rx_crc_errors ?? 0;
    const length = mac?.rx_length_errors ?? 0;
    const missed = mac?.rx_missed_errors ?? 0;
    const s = d.stats;
    out +=
      `${right(d.name, 6)}: ${right(s.rx_bytes, 7)} ${right(s.rx_packets, 7)} ${right(crc + length, 4)} ${right(s.rx_dropped + missed, 4)} ` +
      `${right(0, 4)} ${right(crc + length, 5)} ${right(0, 10)} ${right(0, 9)} ` +
      `${right(s.tx_bytes, 8)} ${right(s.tx_packets, 7)} ${right(mac?.tx_errors ?? 0, 4)} ${right(s.tx_dropped, 4)} ` +
      `${right(0, 4)} ${right(0, 5)} ${right(0, 7)} ${right(0, 10)}\n`;
  }
  return out;
}
