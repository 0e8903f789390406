/**
 * The capture: a tap on each captured MAC writes every frame it sends or receives to pcapng,
 * with the direction, and a comment where the emulator knows why a frame was dropped or which
 * scenario step a frame starts. Timestamps are virtual time from a fixed epoch, so captures
 * are reproducible byte for byte.
 *
 * Frames stream to the file as the run goes, through the writer's fixed-size buffer: host
 * memory does not grow with the capture. Without a file (library callers, tests) the bytes
 * are kept and returned by finish().
 */
import type { EthernetMac, FrameEvent } from '../emulator/ethernet-mac.js';
import { crc32 } from '../emulator/flash-image.js';
import type { Nanos } from '../emulator/event-queue.js';
import { FileSink } from './byte-stream.js';
import { PcapWriter } from './pcap-writer.js';
import { PcapngWriter, Timestamp64 } from './pcapng-writer.js';

/** 2024-01-01T00:00:00Z: the default epoch for virtual time zero. */
export const DEFAULT_EPOCH_NS = 1_704_067_200n * 1_000_000_000n;

/** The IDB snaplen when none is asked for (what the capture has always written). */
export const DEFAULT_SNAPLEN = 65535;

export interface CapturedInterface {
  mac: EthernetMac;
  id: number;
  frames: number;
  drops: number;
  /** The file (writer) this interface is written to. */
  writer: PcapngWriter;
}

export interface CaptureOptions {
  comment?: string;
  classicPcap?: boolean;
  /** Stream the pcapng to this file (and the classic pcap to `pcapFile`) instead of keeping it. */
  file?: string;
  pcapFile?: string;
  /** Where a second board's side goes (`attach(…, 'lab')`): its own pcapng, streamed or kept. */
  labFile?: string;
  /** Bytes kept of each frame, as tcpdump -s (default 65535: whole frames). */
  snaplen?: number;
  /** Append each frame's 4-byte FCS, as a capture that keeps it does (if_fcslen). */
  fcs?: boolean;
}

const SECTION = { userApplication: 'quarklab', hardware: 'quarklab emulated board' };

export class Capture {
  private readonly pcapng: PcapngWriter;
  private lab: PcapngWriter | null = null;
  private readonly classic: PcapWriter | null;
  private readonly ts: Timestamp64;
  private readonly snaplen: number;
  private readonly fcs: boolean;
  readonly interfaces: CapturedInterface[] = [];
  private pendingNote: string | null = null;
  frames = 0;

  constructor(
    readonly epochNs: bigint,
    private readonly opts: CaptureOptions,
  ) {
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    this.fcs = opts.fcs === true;
    this.ts = new Timestamp64(epochNs);
    this.pcapng = new PcapngWriter({ ...SECTION, comment: opts.comment }, opts.file !== undefined ? new FileSink(opts.file) : undefined);
    try {
      this.classic = opts.classicPcap ? new PcapWriter(this.snaplen, opts.pcapFile !== undefined ? new FileSink(opts.pcapFile) : undefined) : null;
    } catch (e) {
      // The first file is open already and nobody else holds it.
      this.pcapng.abandon();
      throw e;
    }
    this.classic?.setEpoch(epochNs);
  }

  /**
   * Capture this MAC's traffic as a pcapng interface: in the main file, or (`'lab'`) in the
   * second board's own file, so each file holds one side of the link and every segment once.
   */
  attach(mac: EthernetMac, description: string, file: 'main' | 'lab' = 'main'): void {
    let writer = this.pcapng;
    if (file === 'lab') writer = this.lab ??= new PcapngWriter({ ...SECTION, comment: this.opts.comment }, this.opts.labFile !== undefined ? new FileSink(this.opts.labFile) : undefined);
    const id = writer.addInterface({ name: mac.name, description, linkSpeedBps: mac.linkSpeedBps, macAddress: mac.address, snaplen: this.snaplen, fcsLengthBits: this.fcs ? 32 : undefined });
    const iface: CapturedInterface = { mac, id, frames: 0, drops: 0, writer };
    this.interfaces.push(iface);
    const main = file === 'main' && this.classic !== null;
    mac.addFrameTap((e: FrameEvent) => {
      iface.frames++;
      if (e.drop !== null) iface.drops++;
      this.frames++;
      let comment = e.drop;
      if (e.wireNote !== null) comment = comment === null ? e.wireNote : `${e.wireNote}; ${comment}`;
      if (this.pendingNote !== null && iface === this.interfaces[0]) {
        comment = comment !== null ? `${this.pendingNote}; ${comment}` : this.pendingNote;
        this.pendingNote = null;
      }
      this.ts.set(e.time);
      const fcs = this.fcs ? (e.sentFcs !== -1 ? e.sentFcs : crc32(e.bytes.subarray(e.offset, e.offset + e.length))) : -1;
      writer.writePacket(id, this.ts, e.bytes, e.offset, e.length, e.direction, comment, e.crcError, fcs);
      if (main) this.classic!.writeRecord(e.time, e.bytes, e.offset, e.length);
    });
  }

  /** Attach a note (a scenario step) to the next frame on the first captured interface. */
  noteNextFrame(note: string): void {
    if (this.interfaces.length === 0) return;
    this.pendingNote = this.pendingNote ? `${this.pendingNote}; ${note}` : note;
  }

  /** Close every file without writing more: the run failed (a write did, or the scenario threw). */
  abandon(): void {
    this.pcapng.abandon();
    this.classic?.abandon();
    this.lab?.abandon();
  }

  /**
   * Close the capture: interface statistics (received and dropped by the MAC) at `end`, the end
   * of the run's drain, then the rest of the buffers. Returns the bytes of a capture kept in
   * memory; a capture streamed to files returns an empty pcapng and no pcap or lab capture
   * (their bytes are in the files).
   */
  finish(end: Nanos): { pcapng: Uint8Array; pcap: Uint8Array | null; lab: Uint8Array | null } {
    for (const iface of this.interfaces) {
      const s = iface.mac.stats;
      const dropped = s.rx_missed_errors + s.rx_crc_errors + s.rx_length_errors;
      iface.writer.addInterfaceStatistics(iface.id, this.epochNs + BigInt(end), {
        received: s.rx_packets + dropped,
        dropped,
        startTimeNs: this.epochNs,
        endTimeNs: this.epochNs + BigInt(end),
      });
    }
    const pcapng = this.pcapng.inMemory ? this.pcapng.toBytes() : new Uint8Array(0);
    const pcap = this.classic?.inMemory ? this.classic.toBytes() : null;
    const lab = this.lab?.inMemory ? this.lab.toBytes() : null;
    this.pcapng.close();
    this.classic?.close();
    this.lab?.close();
    return { pcapng, pcap, lab };
  }
}
