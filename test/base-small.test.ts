// CONFIG_BASE_SMALL and the tables it sizes. Linux 6.1 sizes one networking table by it:
// UDP_HTABLE_SIZE_MIN, 128 with it and 256 without (include/linux/udp.h); NETDEV_HASHBITS is
// 8 either way (include/net/net_namespace.h). The model's BASE_SMALL follows the 2014 branch,
// which also asked UDP for 16 slots. Figures are worked by hand below from those constants and
// i386 sizes (udp_hslot 8). The netdev name and index hashes, 256 buckets on every profile as in
// 6.1, are checked in test/netdev-hash.test.ts.
import { describe, expect, it } from 'vitest';
import { udpHashSize } from '../stack/core/hash-sizing.js';
import { bootPair } from './helpers/lab-pair.js';

const MiB = 1 << 20;

describe('BASE_SMALL', () => {
  it('UDP: 6.1 alone (uhash_entries 0) gives 256 slots on a 2 MiB board either way; the floor 128 binds only for a smaller request', () => {
    // 2 MiB = 512 pages, one slot per 2 MB → 1 slot; under a page of slot pairs (16 B each)
    // alloc_large_system_hash takes 4096 / 16 = 256, above either floor.
    expect(udpHashSize(2 * MiB, 8, false).entries).toBe(256);
    // The 2014 branch's request of 16 slots, rounded to a power of two, is raised to 128.
    expect(udpHashSize(2 * MiB, 8, true).entries).toBe(128);
    // On quark-4m (1024 pages → 2 slots, still under a page → 256): minimal (BASE_SMALL) 128, full 256.
    expect(bootPair({ dutBoard: 'quark-4m', dutProfile: 'minimal' }).dut.stack.udp!.hash.entries).toBe(128);
    expect(bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' }).dut.stack.udp!.hash.entries).toBe(256);
  });
});
