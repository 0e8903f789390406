/**
 * The capture: a tap on each captured MAC writes every frame it sends or receives to pcapng,
 * with the direction, and a comment where the emulator knows why a frame was dropped or which
 * scenario step a frame starts. Timestamps are virtual time from a fixed epoch, so captures
 * are reproducible byte for byte.
 */
import type { EthernetMac } from '../emulator/ethernet-mac.js';
import type { Nanos } from '../emulator/event-queue.js';
import { PcapWriter } from './pcap-writer.js';
import { PcapngWriter } from './pcapng-writer.js';

/** 2024-01-01T00:00:00Z: the default epoch for virtual time zero. */
export const DEFAULT_EPOCH_NS = 1_704_067_200n * 1_000_000_000n;

export interface CapturedInterface {
  mac: EthernetMac;
  id: number;
  frames: number;
  drops: number;
}

export class Capture {
  private readonly pcapng: PcapngWriter;
  private readonly classic: PcapWriter | null;
  readonly interfaces: CapturedInterface[] = [];
  private pendingNote: string | null = null;
  frames = 0;

  constructor(
    readonly epochNs: bigint,
    opts: { comment?: string; classicPcap?: boolean },
  ) {
    this.pcapng = new PcapngWriter({ userApplication: 'quarklab', hardware: 'quarklab emulated board', comment: opts.comment });
    this.classic = opts.classicPcap ? new PcapWriter() : null;
  }

  /** Capture this MAC's traffic as its own pcapng interface. */
  attach(mac: EthernetMac, description: string): void {
    const id = this.pcapng.addInterface({ name: mac.name, description, linkSpeedBps: mac.linkSpeedBps, macAddress: mac.address });
    const iface: CapturedInterface = { mac, id, frames: 0, drops: 0 };
    this.interfaces.push(iface);
    mac.addTap(({ direction, time, frame, drop }) => {
      iface.frames++;
      if (drop) iface.drops++;
      this.frames++;
      let comment = drop;
      if (this.pendingNote && iface === this.interfaces[0]) {
        comment = comment ? `${this.pendingNote}; ${comment}` : this.pendingNote;
        this.pendingNote = null;
      }
      const ts = this.epochNs + BigInt(time);
      this.pcapng.addPacket(id, ts, frame, comment ? { direction, comment } : { direction });
      this.classic?.addPacket(ts, frame);
    });
  }

  /** Attach a note (a scenario step) to the next frame on the first captured interface. */
  noteNextFrame(note: string): void {
    this.pendingNote = this.pendingNote ? `${this.pendingNote}; ${note}` : note;
  }

  /** Close the capture: interface statistics (received and dropped by the MAC) at `end`. */
  finish(end: Nanos): { pcapng: Uint8Array; pcap: Uint8Array | null } {
    for (const iface of this.interfaces) {
      const s = iface.mac.stats;
      const dropped = s.rx_missed_errors + s.rx_crc_errors + s.rx_length_errors;
      this.pcapng.addInterfaceStatistics(iface.id, this.epochNs + BigInt(end), {
        received: s.rx_packets + dropped,
        dropped,
        startTimeNs: this.epochNs,
        endTimeNs: this.epochNs + BigInt(end),
      });
    }
    return { pcapng: this.pcapng.toBytes(), pcap: this.classic ? this.classic.toBytes() : null };
  }
}
