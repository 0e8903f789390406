/**
 * How Linux sizes its boot-time hash tables (mm/page_alloc.c, alloc_large_system_hash), and the
 * fixed sizes the 2014 BASE_SMALL switch chose (calibration/README.md, "BASE_SMALL in the 2014
 * branch"). Pure arithmetic: the caller allocates the table in board RAM with the result.
 */

const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;
const SZ_1M = 1 << 20;

export interface HashRequest {
  /** Bytes of RAM the kernel manages (nr_kernel_pages · PAGE_SIZE on a lowmem-only board). */
  ramBytes: number;
  /** Bytes per bucket. */
  bucketSize: number;
  /** Entries asked for on the command line (uhash_entries=, thash_entries=); 0: size from RAM. */
  requested: number;
  /** One bucket per 2^scale bytes of RAM when sizing from RAM. */
  scale: number;
  lowLimit: number;
  /** 0: at most 1/16 of RAM, as Linux defaults. */
  highLimit: number;
}

export interface HashSize {
  entries: number;
  log: number;
  mask: number;
  bytes: number;
}

function roundupPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** alloc_large_system_hash's sizing, step for step (no HASH_SMALL/HASH_EARLY flags). */
export function largeSystemHashSize(r: HashRequest): HashSize {
  let entries = r.requested;
  if (!entries) {
    const pages = Math.floor(r.ramBytes / PAGE_SIZE);
    // Round the memory size up to the nearest megabyte, then one bucket per 2^scale bytes.
    const perMb = SZ_1M / PAGE_SIZE;
    entries = Math.ceil(pages / perMb) * perMb;
    entries = r.scale > PAGE_SHIFT ? Math.floor(entries / 2 ** (r.scale - PAGE_SHIFT)) : entries * 2 ** (PAGE_SHIFT - r.scale);
    // "Make sure we've got at least a 0-order allocation."
    if (entries * r.bucketSize < PAGE_SIZE) entries = Math.floor(PAGE_SIZE / r.bucketSize);
  }
  entries = roundupPowerOfTwo(entries);
  let max = r.highLimit;
  if (max === 0) max = Math.floor(r.ramBytes / 16 / r.bucketSize);
  max = Math.min(max, 0x80000000);
  if (entries < r.lowLimit) entries = r.lowLimit;
  if (entries > max) entries = max;
  const log = Math.floor(Math.log2(entries));
  entries = 2 ** log;
  return { entries, log, mask: entries - 1, bytes: entries * r.bucketSize };
}

/**
 * UDP's table (udp_table_init, Linux 6.1): each slot is two udp_hslots (the port hash and the
 * address+port hash), one slot per 2 MB of RAM, at least UDP_HTABLE_SIZE_MIN (256; 128 under
 * BASE_SMALL — include/linux/udp.h, the only networking table 6.1 itself sizes by
 * BASE_SMALL), at most 64 Ki. The 2014 BASE_SMALL branch asked for 16 (uhash_entries), which
 * the floor raises to 128.
 */
export function udpHashSize(ramBytes: number, hslotSize: number, baseSmall: boolean): HashSize {
  return largeSystemHashSize({
    ramBytes,
    bucketSize: 2 * hslotSize,
    requested: baseSmall ? 16 : 0,
    scale: 21,
    lowLimit: baseSmall ? 128 : 256,
    highLimit: 64 * 1024,
  });
}

/**
 * The IPv4 fragment queue hash of the 2014 branch (INETFRAGS_HASHSZ and INETFRAGS_MAXDEPTH):
 * 1024 buckets searched at most 128 deep, or 16 and 32 under BASE_SMALL. Each bucket is an
 * hlist_head (one pointer on i386; its spinlock is empty on a uniprocessor build).
 */
export function ipfragHashSize(baseSmall: boolean): { buckets: number; maxDepth: number; bucketBytes: number } {
  return baseSmall ? { buckets: 16, maxDepth: 32, bucketBytes: 4 } : { buckets: 1024, maxDepth: 128, bucketBytes: 4 };
}

/**
 * The per-netns device hashes netdev_init kmallocs at boot (net/core/dev.c, netdev_create_hash:
 * kmalloc_array(NETDEV_HASHENTRIES, sizeof(struct hlist_head), GFP_KERNEL)), dev_name_head and
 * dev_index_head, one pointer per bucket on i386. This follows Linux 6.1, where NETDEV_HASHBITS
 * is 8 whatever BASE_SMALL says (include/net/net_namespace.h), not the 2014 branch this model's
 * BASE_SMALL follows for its other tables, which cut these to 2 bits (4 buckets).
 */
export const NETDEV_HASHBITS = 8;
export const NETDEV_HASHENTRIES = 1 << NETDEV_HASHBITS;
