// The two device hashes Linux 6.1's netdev_init allocates for init_net (net/core/dev.c,
// netdev_create_hash: kmalloc_array(NETDEV_HASHENTRIES, sizeof(*hash), GFP_KERNEL)), charged to
// board RAM on every profile.
//
// Oracle, worked by hand: NETDEV_HASHBITS is 8 in 6.1 whatever CONFIG_BASE_SMALL says
// (include/net/net_namespace.h line 57), so NETDEV_HASHENTRIES = 1 << 8 = 256 hlist_heads of one
// pointer (4 bytes on i386): 1024 bytes each. On SLOB (mm/slob.c __do_kmalloc_node) a kmalloc
// carries an 8-byte size header (ARCH_KMALLOC_MINALIGN on i386), and a power-of-two size is
// aligned to itself: 1032 bytes of a shared page each, the object on a 1024-byte boundary. On
// SLUB each takes a 1024-byte slot of the kmalloc-1k cache.
import { describe, expect, it } from 'vitest';
import { withSymbol } from './helpers/features.js';
import { bootPair } from './helpers/lab-pair.js';

const HASH_BYTES = 256 * 4;
const SLOB_HEADER = 8;
const NAMES = ['netdev name hash (dev_name_head)', 'netdev index hash (dev_index_head)'];

function hashes(profile: string) {
  const { dut } = bootPair({ dutBoard: 'quark-4m', dutProfile: profile, configure: false });
  const allocs = dut.stack.initAllocations.filter((a) => NAMES.includes(a.name));
  return { ram: dut.board.ram, allocs };
}

describe('netdev_init: dev_name_head and dev_index_head', () => {
  it.each(['full', 'client', 'minimal'])('%s (SLOB; BASE_SMALL or not): two kmalloc(1024), 1032 bytes of board RAM each', (profile) => {
    const { ram, allocs } = hashes(profile);
    expect(ram.allocator).toBe('slob');
    expect(allocs.map((a) => [a.name, a.bytes])).toEqual(NAMES.map((n) => [n, HASH_BYTES]));
    // They are live objects in board RAM: freeing each gives back the object and its header,
    // from the kmalloc-1k kind the report groups them under.
    for (const a of allocs) {
      expect(a.addr % HASH_BYTES).toBe(0);
      const before = ram.liveObjectBytes();
      const k = ram.slabinfo().find((c) => c.name === 'kmalloc-1k')!;
      ram.kfree(a.addr);
      const after = ram.slabinfo().find((c) => c.name === 'kmalloc-1k')!;
      expect(before - ram.liveObjectBytes()).toBe(HASH_BYTES + SLOB_HEADER);
      expect([k.active - after.active, k.heldBytes - after.heldBytes]).toEqual([1, HASH_BYTES + SLOB_HEADER]);
    }
  });

  it('SLUB: the same two objects, a 1024-byte kmalloc-1k slot each', () => {
    const { ram, allocs } = hashes(withSymbol('minimal', 'SLUB'));
    expect(ram.allocator).toBe('slub');
    expect(allocs.map((a) => a.bytes)).toEqual([HASH_BYTES, HASH_BYTES]);
    for (const a of allocs) {
      const before = ram.liveObjectBytes();
      const k = ram.slabinfo().find((c) => c.name === 'kmalloc-1k')!;
      expect(k.objectSize).toBe(HASH_BYTES);
      ram.kfree(a.addr);
      expect(before - ram.liveObjectBytes()).toBe(HASH_BYTES);
      expect(k.active - ram.slabinfo().find((c) => c.name === 'kmalloc-1k')!.active).toBe(1);
    }
  });
});
