/**
 * A script's option list as the bytes it stands for, in the order written (packetdrill keeps
 * the script's layout, NOPs included): used to build inbound segments and as the expected
 * bytes for outbound ones. And the packetdrill-style text of options and packets.
 */
import { TCPOPT_EOL, TCPOPT_FASTOPEN, TCPOPT_MSS, TCPOPT_NOP, TCPOPT_SACK, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP, TCPOPT_WINDOW, type TcpOptions } from '../stack/wire/tcp-header.js';
import type { OptionSpec, TcpPacketSpec } from './script.js';

export interface OptionBytes {
  bytes: Uint8Array;
  /** Offset of the TS value inside `bytes` (outbound TS values are not checked), or -1. */
  tsValAt: number;
}

/**
 * Encode options. For inbound segments `ecrDelta` is added to TS ecr (an echo of the board's
 * clock) and `sackDelta` to SACK blocks (they name the board's sequence numbers).
 */
export function encodeOptions(opts: OptionSpec[], ecrDelta = 0, sackDelta = 0): OptionBytes {
  const out: number[] = [];
  let tsValAt = -1;
  const u16 = (v: number): void => void out.push((v >>> 8) & 255, v & 255);
  const u32 = (v: number): void => void out.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  for (const o of opts) {
    switch (o.kind) {
      case 'nop':
        out.push(TCPOPT_NOP);
        break;
      case 'eol':
        out.push(TCPOPT_EOL);
        break;
      case 'mss':
        out.push(TCPOPT_MSS, 4);
        u16(o.value);
        break;
      case 'wscale':
        out.push(TCPOPT_WINDOW, 3, o.value & 255);
        break;
      case 'sackOK':
        out.push(TCPOPT_SACK_PERM, 2);
        break;
      case 'sack':
        out.push(TCPOPT_SACK, 2 + 8 * o.blocks.length);
        for (const b of o.blocks) {
          u32((b.start + sackDelta) >>> 0);
          u32((b.end + sackDelta) >>> 0);
        }
        break;
      case 'TS':
        out.push(TCPOPT_TIMESTAMP, 10);
        tsValAt = out.length;
        u32(o.val);
        u32((o.ecr + ecrDelta) >>> 0);
        break;
      case 'FO':
        out.push(TCPOPT_FASTOPEN, 2 + o.cookie.length, ...o.cookie);
        break;
    }
  }
  // The header length counts 32-bit words: pad with end-of-list.
  while (out.length % 4 !== 0) out.push(TCPOPT_EOL);
  return { bytes: Uint8Array.from(out), tsValAt };
}

export function optionsText(opts: OptionSpec[]): string {
  return opts
    .map((o) => {
      switch (o.kind) {
        case 'nop':
        case 'eol':
        case 'sackOK':
          return o.kind;
        case 'mss':
        case 'wscale':
          return `${o.kind} ${o.value}`;
        case 'sack':
          return `sack ${o.blocks.map((b) => `${b.start}:${b.end}`).join(' ')}`;
        case 'TS':
          return `TS val ${o.val} ecr ${o.ecr}`;
        case 'FO':
          return o.cookie.length === 0 ? 'FO' : `FO ${Buffer.from(o.cookie).toString('hex')}`;
      }
    })
    .join(',');
}

/** Parsed options (the stack's parser) in the order Linux writes them, for an actual packet. */
export function parsedOptionsText(o: TcpOptions, sackBase: (seq: number) => number): string {
  const parts: string[] = [];
  if (o.mss !== undefined) parts.push(`mss ${o.mss}`);
  if (o.sackPermitted) parts.push('sackOK');
  if (o.tsVal !== undefined) parts.push(`TS val ${o.tsVal} ecr ${o.tsEcr ?? 0}`);
  if (o.wscale !== undefined) parts.push(`wscale ${o.wscale}`);
  if (o.sack) parts.push(`sack ${o.sack.map((b) => `${sackBase(b.start)}:${sackBase(b.end)}`).join(' ')}`);
  if (o.fastOpenCookie) parts.push(o.fastOpenCookie.length === 0 ? 'FO' : `FO ${Buffer.from(o.fastOpenCookie).toString('hex')}`);
  return parts.join(',');
}

export function packetText(p: TcpPacketSpec): string {
  let s = `${p.flags} ${p.seq}:${p.end}(${p.len})`;
  if (p.ack !== undefined) s += ` ack ${p.ack}`;
  if (p.win !== undefined) s += ` win ${p.win}`;
  if (p.options === 'any') s += ' <...>';
  else if (p.options) s += ` <${optionsText(p.options)}>`;
  return s;
}

/** TCP flag bits from the script's letters. */
export function flagBits(flags: string): number {
  let f = 0;
  for (const c of flags) f |= FLAG_BITS[c] ?? 0;
  return f;
}

const FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, '.': 0x10, U: 0x20, E: 0x40, W: 0x80, N: 0 };

/** Letters for flag bits, in packetdrill's order (S. F. P. R. …). */
export function flagLetters(bits: number): string {
  let s = '';
  for (const c of 'SFRPUEW') if (bits & FLAG_BITS[c]!) s += c;
  if (bits & 0x10) s += '.';
  return s;
}
