/**
 * A board: RAM of exactly its size, a flash part, a CPU and one Ethernet MAC.
 *
 * Booting copies the image's sections from flash into RAM regions (text stays in flash when
 * the board executes in place), reserves RAM for each board program, frees the init sections
 * as the kernel does after boot, and hands what is left to the page allocator. The board knows
 * sections and sizes, not what they contain.
 */
import type { BoardConfig } from './board-config.js';
import { parseMac } from './board-config.js';
import { Cpu } from './cpu.js';
import { EthernetMac } from './ethernet-mac.js';
import type { EventQueue } from './event-queue.js';
import type { Prng } from './prng.js';
import { BoardRam, type Region, type RegionKind, type SlabAllocator } from './ram/board-ram.js';

export type SectionKind = 'text' | 'data' | 'bss' | 'init' | 'config';

/** A section as boot sees it: where it goes and the bytes flash holds for it. */
export interface BootSection {
  name: string;
  kind: SectionKind;
  size: number;
  /** Payload in flash (absent for bss). */
  bytes?: Uint8Array;
}

export interface ProgramReservation {
  name: string;
  textBytes: number;
  stackBytes: number;
  heapBytes: number;
}

export type BootResult = { ok: true; regions: Region[]; initFreed: number } | { ok: false; error: string; shortBy: number };

const REGION_KIND: Record<Exclude<SectionKind, 'config'>, RegionKind> = {
  text: 'kernel-text',
  data: 'kernel-data',
  bss: 'kernel-bss',
  init: 'init',
};

/** The kernel needs some heap to run at all; with less, boot fails like an OOM at init. */
export const MIN_HEAP_BYTES = 64 * 1024;

/** RAM a section takes at boot: config stays in flash, and text too when the board executes in place. */
export function residentBytes(config: BoardConfig, s: Pick<BootSection, 'kind' | 'size'>): number {
  if (s.kind === 'config') return 0;
  if (s.kind === 'text' && config.executeInPlace) return 0;
  return s.size;
}

/** What boot must fit in RAM at once (before init sections are freed): sections and programs, page-rounded. */
export function bootRequirement(config: BoardConfig, sections: readonly Pick<BootSection, 'kind' | 'size'>[], programs: readonly ProgramReservation[]): number {
  const pageUp = (n: number): number => Math.ceil(n / 4096) * 4096;
  let need = 0;
  for (const s of sections) need += pageUp(residentBytes(config, s));
  for (const p of programs) need += pageUp(p.textBytes) + pageUp(p.stackBytes) + pageUp(p.heapBytes);
  return need;
}

/**
 * The SPI flash part, stored sparsely: only the programmed image is held; every byte past it
 * reads as erased (0xff), as a NOR part does after a chip erase. A 64 MiB part costs the host
 * the size of its image, not 64 MiB.
 */
export class Flash {
  private image: Uint8Array = new Uint8Array(0);
  constructor(readonly length: number) {}

  /** Erase the part and program `image` at offset 0 (the caller checks it fits). */
  program(image: Uint8Array): void {
    // The image is kept, not copied: callers hand over a buffer they no longer change.
    this.image = image;
  }

  /** `length` bytes from `offset`: a view of the image where it lies within it, else a copy with erased bytes. */
  read(offset: number, length: number): Uint8Array {
    const end = Math.min(offset + length, this.length);
    if (end <= this.image.length) return this.image.subarray(offset, end);
    const out = new Uint8Array(Math.max(0, end - offset)).fill(0xff);
    if (offset < this.image.length) out.set(this.image.subarray(offset), 0);
    return out;
  }
}

export class Board {
  readonly ram: BoardRam;
  readonly flash: Flash;
  readonly cpu: Cpu;
  readonly mac: EthernetMac;
  booted = false;

  constructor(
    readonly name: string,
    readonly config: BoardConfig,
    readonly sim: EventQueue,
    readonly rng: Prng,
    cpuEnabled: boolean,
  ) {
    this.ram = new BoardRam(config.ramBytes);
    this.flash = new Flash(config.flashBytes);
    this.cpu = new Cpu(sim, config.cpu.clockHz, config.cpu.cycles, cpuEnabled);
    const m = config.mac;
    this.mac = new EthernetMac(`${name}:eth0`, parseMac(m.address), m.linkSpeedMbps * 1_000_000, m.txRingSize, m.rxRingSize, sim, this.ram.bytes);
    this.mac.rxCoalesceNs = m.rxCoalesceUsecs * 1000;
    this.mac.rxCoalesceFrames = m.rxCoalesceFrames;
  }

  /** Write an image into flash; an error when it does not fit the part. */
  flashImage(image: Uint8Array): string | null {
    if (image.length > this.flash.length) {
      return `image is ${image.length} bytes, larger than ${this.config.name}'s flash of ${this.flash.length} bytes (by ${image.length - this.flash.length})`;
    }
    this.flash.program(image);
    return null;
  }

  residentBytes(s: BootSection): number {
    return residentBytes(this.config, s);
  }

  /**
   * Lay the sections and program reservations out in RAM, then start the slab allocator the
   * kernel was built with. Fails, with the exact shortfall, when they do not fit; nothing is
   * allocated from the heap before this succeeds.
   */
  boot(sections: readonly BootSection[], programs: readonly ProgramReservation[], label: string, allocator: SlabAllocator): BootResult {
    const need = bootRequirement(this.config, sections, programs);
    const minHeap = MIN_HEAP_BYTES;
    if (need + minHeap > this.ram.size) {
      const shortBy = need + minHeap - this.ram.size;
      return {
        ok: false,
        shortBy,
        error: `${label} does not fit ${this.config.name}: kernel, stack and programs need ${need} bytes of RAM plus a ${minHeap}-byte minimum heap, the board has ${this.ram.size} (short by ${shortBy} bytes)`,
      };
    }
    for (const s of sections) {
      const bytes = this.residentBytes(s);
      if (bytes === 0) continue;
      const region = this.ram.reserve(s.name, bytes, REGION_KIND[s.kind as Exclude<SectionKind, 'config'>]);
      if (!region) return { ok: false, shortBy: this.ram.shortfall(bytes), error: `${label}: section ${s.name} does not fit in RAM` };
      // Copy from flash as the boot loader does; bss is zeroed RAM.
      if (s.bytes && s.kind !== 'bss') this.ram.bytes.set(s.bytes.subarray(0, bytes), region.start);
    }
    for (const p of programs) {
      for (const [part, size] of [['text', p.textBytes], ['stack', p.stackBytes], ['heap', p.heapBytes]] as const) {
        if (size > 0 && !this.ram.reserve(`program ${p.name} ${part}`, size, 'program')) {
          return { ok: false, shortBy: this.ram.shortfall(size), error: `${label}: program ${p.name} ${part} does not fit in RAM` };
        }
      }
    }
    let initFreed = 0;
    for (const s of sections) if (s.kind === 'init' && this.residentBytes(s) > 0) initFreed += this.ram.release(s.name);
    this.ram.startAllocator(allocator);
    this.booted = true;
    return { ok: true, regions: this.ram.memoryMap(), initFreed };
  }
}
