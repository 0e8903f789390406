/**
 * MIB counters with Linux's names, grouped as /proc/net/snmp and /proc/net/netstat print
 * them (Ip, Icmp, Udp, Tcp, TcpExt …). A counter that nothing has touched still exists and
 * reads 0, as in /proc; a group appears only when its protocol is built in.
 */
export type MibGroup = Record<string, number>;

export class Mib {
  readonly groups = new Map<string, MibGroup>();

  group(name: string, counters: readonly string[]): MibGroup {
    let g = this.groups.get(name);
    if (!g) {
      g = {};
      for (const c of counters) g[c] = 0;
      this.groups.set(name, g);
    }
    return g;
  }

  snapshot(): Record<string, MibGroup> {
    const out: Record<string, MibGroup> = {};
    for (const [name, g] of this.groups) out[name] = { ...g };
    return out;
  }
}

export const IP_MIB = [
  'InReceives', 'InHdrErrors', 'InAddrErrors', 'InUnknownProtos', 'InDiscards', 'InDelivers',
  'OutRequests', 'OutDiscards', 'OutNoRoutes', 'ReasmTimeout', 'ReasmReqds', 'ReasmOKs',
  'ReasmFails', 'FragOKs', 'FragFails', 'FragCreates',
] as const;

export const ICMP_MIB = [
  'InMsgs', 'InErrors', 'InCsumErrors', 'InDestUnreachs', 'InTimeExcds', 'InEchos', 'InEchoReps',
  'OutMsgs', 'OutErrors', 'OutDestUnreachs', 'OutTimeExcds', 'OutEchos', 'OutEchoReps',
] as const;

/** The subset of /proc/net/netstat (TcpExt, IpExt) and /proc/net/stat/arp_cache quarklab keeps. */
export const ARP_STATS = [
  'lookups', 'hits', 'res_failed', 'allocs', 'destroys', 'unresolved_discards', 'forced_gc_runs', 'table_fulls',
] as const;
