// An oracle for what a Kconfig symbol costs that does not go through the code under test
// (stack/kconfig/cost-table.ts's symbolCost/profileCost, stack/kconfig/symbols.ts's object
// lists): the calibration JSON read raw, and each symbol's objects stated here by the rule
// Linux 6.1's Makefiles give them (net/ethtool/Makefile: ioctl.o and common.o are obj-y, every
// other object is the ethtool_nl module of CONFIG_ETHTOOL_NETLINK; net/netlink/Makefile; …),
// with the two stated shares worked here by hand: FIB_LIST is 35% of fib_trie.o, PACKET_MMAP
// 45% of af_packet.o and PACKET the rest, each section rounded to a byte.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './run.js';

export interface Sizes {
  text: number;
  data: number;
  bss: number;
}

interface RawCalibration {
  objects: { sizes: Record<string, Sizes> };
}

const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'calibration', 'linux-6.1-i386.json'), 'utf8')) as RawCalibration;
const measured = raw.objects.sizes;
const all = Object.keys(measured);

const under = (dir: string, except: readonly string[] = []): string[] =>
  all.filter((o) => o.startsWith(dir) && !except.includes(o));

/** Whole objects per symbol (the symbols whose objects are whole; shares are below). */
const WHOLE: Readonly<Record<string, () => readonly string[]>> = {
  TCP_FASTOPEN: () => ['net/ipv4/tcp_fastopen.o'],
  TCP_METRICS: () => ['net/ipv4/tcp_metrics.o'],
  SYN_COOKIES: () => ['net/ipv4/syncookies.o'],
  INET_RAW: () => ['net/ipv4/raw.o'],
  IP_PING: () => ['net/ipv4/ping.o'],
  FIB_TRIE: () => ['net/ipv4/fib_trie.o'],
  IP_OFFLOAD: () => ['net/core/gro.o', 'net/core/tso.o', 'net/ipv4/tcp_offload.o', 'net/ipv4/udp_offload.o', 'net/ipv4/gre_offload.o'],
  IP_MULTICAST: () => ['net/ipv4/igmp.o'],
  NETLINK: () => under('net/netlink/'),
  RTNETLINK: () => ['net/core/rtnetlink.o', 'net/ipv4/netlink.o', 'net/ipv4/nexthop.o'],
  NET_ETHTOOL: () => ['net/ethtool/ioctl.o', 'net/ethtool/common.o'],
  ETHTOOL_NETLINK: () => under('net/ethtool/', ['net/ethtool/ioctl.o', 'net/ethtool/common.o']),
  LPF_FILTER: () => ['net/core/filter.o'],
  PROC_FS: () => ['net/core/net-procfs.o', 'net/ipv4/proc.o', 'net/core/sysctl_net_core.o', 'net/ipv4/sysctl_net_ipv4.o', 'net/sysctl_net.o'],
  INET_DIAG: () => ['net/core/sock_diag.o', 'net/ipv4/inet_diag.o', 'net/ipv4/tcp_diag.o'],
  // net/sched/: sch_generic.o (pfifo_fast) is CONFIG_NET's, sch_fq_codel.o its own symbol's.
  NET_SCHED: () => [...under('net/sched/', ['net/sched/sch_generic.o', 'net/sched/sch_fq_codel.o']), 'net/core/gen_estimator.o', 'net/core/flow_offload.o'],
  NET_SCH_FQ_CODEL: () => ['net/sched/sch_fq_codel.o'],
  BASE_SMALL: () => [],
  // Kconfig choices of the default qdisc: they select, they build no object.
  NET_SCH_DEFAULT: () => [],
  DEFAULT_FQ_CODEL: () => [],
};

function share(object: string, fraction: number): Sizes {
  const s = measured[object]!;
  return { text: Math.round(s.text * fraction), data: Math.round(s.data * fraction), bss: Math.round(s.bss * fraction) };
}

const AF_PACKET = 'net/packet/af_packet.o';

/** text, data and bss a symbol costs, from the raw calibration; throws for a symbol not stated here. */
export function calibratedCost(symbol: string): Sizes {
  if (symbol === 'FIB_LIST') return share('net/ipv4/fib_trie.o', 0.35);
  if (symbol === 'PACKET_MMAP') return share(AF_PACKET, 0.45);
  if (symbol === 'PACKET') {
    const whole = measured[AF_PACKET]!;
    const mmap = share(AF_PACKET, 0.45);
    return { text: whole.text - mmap.text, data: whole.data - mmap.data, bss: whole.bss - mmap.bss };
  }
  const objects = WHOLE[symbol];
  if (!objects) throw new Error(`calibration oracle: no rule for ${symbol}`);
  const sum: Sizes = { text: 0, data: 0, bss: 0 };
  for (const o of objects()) {
    const s = measured[o];
    if (!s) throw new Error(`calibration oracle: ${o} not in the calibration`);
    sum.text += s.text;
    sum.data += s.data;
    sum.bss += s.bss;
  }
  return sum;
}

/** Flash bytes of a symbol's sections: text and data (bss has none in flash). */
export const calibratedFlash = (symbol: string): number => {
  const c = calibratedCost(symbol);
  return c.text + c.data;
};

/** Boot RAM of a symbol's sections: each of text, data, bss rounded up to a 4 KiB page. */
export const calibratedBootRam = (symbol: string): number => {
  const c = calibratedCost(symbol);
  return [c.text, c.data, c.bss].reduce((s, n) => s + Math.ceil(n / 4096) * 4096, 0);
};
