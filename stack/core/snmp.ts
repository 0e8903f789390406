/**
 * MIB counters with Linux's names, grouped as /proc/net/snmp and /proc/net/netstat print
 * them (Ip, Icmp, Udp, Tcp, TcpExt …). A counter that nothing has touched still exists and
 * reads 0, as in /proc; a group appears only when its protocol is built in.
 */
export type MibGroup<K extends string = string> = Record<K, number>;

export class Mib {
  readonly groups = new Map<string, MibGroup>();

  /**
   * The group's counters, keyed by the names given: `group('Ip', IP_MIB).InReceives++` checks
   * the counter's name at compile time, as Linux's enum of MIB fields does.
   */
  group<K extends string>(name: string, counters: readonly K[]): MibGroup<K> {
    let g = this.groups.get(name) as MibGroup<K> | undefined;
    if (!g) {
      // Made whole, not a counter at a time: past a few dozen properties added one by one V8
      // turns an object into a hash table, and every counter bump on the packet path became a
      // dictionary lookup. Object.fromEntries builds it with fast properties, one shape.
      g = Object.fromEntries(counters.map((c) => [c, 0])) as MibGroup<K>;
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

/** The names of a counter list, as a type: `MibNames<typeof IP_MIB>` is 'InReceives' | …. */
export type MibNames<L extends readonly string[]> = L[number];

export const IP_EXT_MIB = [
  'InCsumErrors', 'InNoRoutes', 'InTruncatedPkts', 'InBcastPkts', 'OutBcastPkts', 'InMcastPkts',
  'OutMcastPkts', 'InMcastOctets', 'OutMcastOctets',
] as const;

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
