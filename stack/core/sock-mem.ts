/**
 * Socket memory accounting, one scheme for every protocol (net/core/sock.c and
 * include/net/sock.h, 6.1): the memory half of `struct proto`. A protocol charges the truesize
 * of what its sockets hold (sk_mem_charge → __sk_mem_raise_allocated), the charge reaches the
 * protocol's global count (memory_allocated, in pages) through the CPU's reserve
 * (per_cpu_fw_alloc), and that count is compared with the protocol's sysctl_mem
 * {min, pressure, max}: above max nothing more may be charged, above pressure the protocol is
 * under memory pressure until it falls below min. TCP (tcp_mem) and UDP (udp_mem) each own one
 * ProtoMemory; only their limits differ, given as a ProtoMemLimits record.
 *
 * Bytes are rounded up to pages on the protocol's total rather than per socket
 * (sk_forward_alloc's rounding is not modelled per socket).
 */

/** PAGE_SIZE: the unit of sysctl_mem and of memory_allocated. */
export const SK_MEM_PAGE_SIZE = 4096;

/** SK_MEMORY_PCPU_RESERVE: 1 << (20 − PAGE_SHIFT) pages, 1 MiB per CPU (include/net/sock.h, 6.1). */
export const SK_MEMORY_PCPU_RESERVE = 256;

/** What a protocol's struct proto says about its memory. */
export interface ProtoMemLimits {
  /** proto.name, for messages. */
  readonly name: string;
  /**
   * sysctl_mem {min, pressure, max} in pages. Read at every check: a sysctl write replaces the
   * triple, so a protocol gives a getter onto its live sysctl.
   */
  readonly sysctlMem: readonly [number, number, number];
  /**
   * Pages a CPU's reserve may hold before moving to the global count (SK_MEMORY_PCPU_RESERVE
   * in 6.1); 0 moves every charge at once.
   */
  readonly pcpuReserve: number;
  /**
   * enter_memory_pressure: called once each time the pressure threshold is crossed upward
   * (tcp_enter_memory_pressure counts TCPMemoryPressures). Null for a protocol with no
   * memory_pressure flag (udp_prot has none), which then never tracks pressure.
   */
  readonly enterMemoryPressure: (() => void) | null;
}

/** One protocol's memory_allocated, its per-CPU reserve and its memory_pressure flag. */
export class ProtoMemory {
  /** Bytes of truesize charged to this protocol's sockets (what sk_forward_alloc rounds up to pages). */
  allocated = 0;
  allocatedPeak = 0;
  /** Pages charged so far (`allocated` rounded up), last passed on to the per-CPU reserve. */
  private chargedPages = 0;
  /** per_cpu_fw_alloc on the board's one CPU: pages not yet moved to the global count. */
  pcpuReservePages = 0;
  /** memory_allocated, the global count sysctl_mem is compared with (pages; may dip below 0). */
  memoryAllocatedPages = 0;
  /** memory_pressure. */
  pressure = false;
  /** Times the pressure threshold was crossed. */
  pressureEpisodes = 0;

  /**
   * The constant parts of `prot`, read on every charge, kept here: the protocols' limit objects
   * differ in shape (TCP's reads its live sysctl through a getter), so reading them through
   * `prot` was a polymorphic load on the packet path.
   */
  private readonly pcpuReserve: number;
  private readonly enterMemoryPressure: (() => void) | null;

  constructor(readonly prot: ProtoMemLimits) {
    this.pcpuReserve = prot.pcpuReserve;
    this.enterMemoryPressure = prot.enterMemoryPressure;
  }

  /** sk_mem_charge + sk_memory_allocated_add: `bytes` more are held. */
  charge(bytes: number): void {
    this.allocated += bytes;
    this.update();
  }

  /** sk_mem_uncharge + sk_memory_allocated_sub: `bytes` are given back. */
  uncharge(bytes: number): void {
    this.allocated -= bytes;
    this.update();
  }

  /**
   * sk_memory_allocated_add/sub (include/net/sock.h, 6.1): a charge goes to the CPU's reserve,
   * which moves to the global count only when it reaches ±pcpuReserve. With one CPU and
   * TCP's 256 pages, tcp_mem sees nothing until a whole MiB is charged.
   */
  private syncMemoryAllocated(): void {
    const pages = Math.ceil(this.allocated / SK_MEM_PAGE_SIZE);
    this.pcpuReservePages += pages - this.chargedPages;
    this.chargedPages = pages;
    const reserve = this.pcpuReserve;
    if (this.pcpuReservePages >= reserve || this.pcpuReservePages <= -reserve) {
      this.memoryAllocatedPages += this.pcpuReservePages;
      this.pcpuReservePages = 0;
    }
  }

  /** proto_memory_allocated: the global count, never below zero. */
  protoMemoryAllocated(): number {
    return Math.max(0, this.memoryAllocatedPages);
  }

  /** proto_memory_pressure. */
  underPressure(): boolean {
    return this.pressure;
  }

  /** The peak, the reserve and the pressure flag after a change (sk_enter/leave_memory_pressure). */
  private update(): void {
    if (this.allocated > this.allocatedPeak) this.allocatedPeak = this.allocated;
    this.syncMemoryAllocated();
    const enter = this.enterMemoryPressure;
    if (enter === null) return;
    const pages = this.protoMemoryAllocated();
    const limits = this.prot.sysctlMem;
    if (!this.pressure && pages > limits[1]) {
      this.pressure = true;
      this.pressureEpisodes++;
      enter();
    } else if (this.pressure && pages < limits[0]) this.pressure = false;
  }

  /**
   * __sk_mem_raise_allocated's hard limit: would charging `extra` bytes (to the CPU's reserve,
   * flushed at a full reserve) put the global count above sysctl_mem[2]? Nothing is committed
   * here: the caller charges for real if this says no.
   */
  overHardLimit(extra: number): boolean {
    const pages = Math.ceil((this.allocated + extra) / SK_MEM_PAGE_SIZE);
    const reserve = this.pcpuReservePages + pages - this.chargedPages;
    const global = reserve >= this.pcpuReserve ? this.memoryAllocatedPages + reserve : this.memoryAllocatedPages;
    return Math.max(0, global) > this.prot.sysctlMem[2];
  }
}
