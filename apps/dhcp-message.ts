/**
 * DHCP messages (RFC 2131) and their options (RFC 2132) — the BOOTP header (RFC 951) with the
 * magic cookie and a TLV option area — as a checked view over the bytes (`DhcpPacket`) beside a
 * plain object (`DhcpRepr`) with `parseDhcp` and `emitDhcp`, in the smoltcp style.
 *
 * Messages come off the wire from whoever sends them, so parsing never trusts a length: each
 * one is checked before it is read, and bad input is an `{ error }` the caller counts and drops.
 */
import { readU16, readU32, writeU32 } from '../stack/uapi/byte-order.js';

export const BOOTP_SERVER_PORT = 67;
export const BOOTP_CLIENT_PORT = 68;

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
const HTYPE_ETHER = 1;

/** Fixed BOOTP header: op … file, before the magic cookie. */
export const BOOTP_HEADER_LEN = 236;
const COOKIE_OFFSET = 236;
const OPTIONS_OFFSET = 240;
/** RFC 1542 §2.1: relay agents and some servers drop BOOTP messages shorter than 300 bytes. */
export const BOOTP_MIN_LEN = 300;
/** RFC 2131 §2: a client must accept messages of up to 576 bytes of IP datagram (548 of DHCP). */
export const DHCP_MIN_MAX_MESSAGE = 576;
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Broadcast bit of the BOOTP flags field (RFC 2131 §2, figure 2). */
export const BOOTP_FLAG_BROADCAST = 0x8000;

/** Option 53 values. */
export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageTypeValue = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

export function dhcpMessageTypeName(t: number | null): string {
  for (const [k, v] of Object.entries(DhcpMessageType)) if (v === t) return `DHCP${k}`;
  return t === null ? 'BOOTP' : `DHCP type ${t}`;
}

/** Option codes (RFC 2132) this implementation knows by name. */
export const DhcpOption = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVER: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS_ID: 60,
  CLIENT_ID: 61,
  END: 255,
} as const;

/** An option this module does not interpret, kept as its bytes (concatenated per RFC 3396). */
export interface DhcpRawOption {
  code: number;
  data: Uint8Array;
}

/** The parsed form of a DHCP (or plain BOOTP) message. Addresses are unsigned 32-bit numbers. */
export interface DhcpRepr {
  op: typeof BOOTREQUEST | typeof BOOTREPLY;
  xid: number;
  secs: number;
  broadcast: boolean;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  /** Client hardware (Ethernet) address, 6 bytes. */
  chaddr: Uint8Array;
  hops?: number;
  /** Option 53; null for a BOOTP message without it. */
  messageType: number | null;
  subnetMask?: number;
  routers?: number[];
  dnsServers?: number[];
  hostname?: string;
  domainName?: string;
  requestedIp?: number;
  /** Seconds; 0xffffffff is infinity. */
  leaseTime?: number;
  renewalTime?: number;
  rebindingTime?: number;
  serverId?: number;
  parameterRequestList?: number[];
  message?: string;
  maxMessageSize?: number;
  vendorClassId?: string;
  /** Option 61: type byte then identifier (1 + MAC for Ethernet). */
  clientId?: Uint8Array;
  /** Every other option, in the order first seen. */
  otherOptions?: DhcpRawOption[];
}

export type DhcpParseResult = DhcpRepr | { error: string };

/**
 * A checked view over the fixed BOOTP header. `check` validates lengths once, so the accessors
 * after it read only bytes that exist.
 */
export class DhcpPacket {
  private constructor(readonly bytes: Uint8Array) {}

  static check(bytes: Uint8Array): DhcpPacket | { error: string } {
    if (bytes.length < OPTIONS_OFFSET) return { error: `DHCP message of ${bytes.length} bytes is shorter than the ${OPTIONS_OFFSET}-byte header and cookie` };
    return new DhcpPacket(bytes);
  }

  get op(): number {
    return this.bytes[0]!;
  }
  get htype(): number {
    return this.bytes[1]!;
  }
  get hlen(): number {
    return this.bytes[2]!;
  }
  get hops(): number {
    return this.bytes[3]!;
  }
  get xid(): number {
    return readU32(this.bytes, 4);
  }
  get secs(): number {
    return readU16(this.bytes, 8);
  }
  get flags(): number {
    return readU16(this.bytes, 10);
  }
  get ciaddr(): number {
    return readU32(this.bytes, 12);
  }
  get yiaddr(): number {
    return readU32(this.bytes, 16);
  }
  get siaddr(): number {
    return readU32(this.bytes, 20);
  }
  get giaddr(): number {
    return readU32(this.bytes, 24);
  }
  get chaddr(): Uint8Array {
    return this.bytes.subarray(28, 28 + 16);
  }
  get sname(): Uint8Array {
    return this.bytes.subarray(44, 44 + 64);
  }
  get file(): Uint8Array {
    return this.bytes.subarray(108, 108 + 128);
  }
  get cookie(): number {
    return readU32(this.bytes, COOKIE_OFFSET);
  }
  get options(): Uint8Array {
    return this.bytes.subarray(OPTIONS_OFFSET);
  }
}

/**
 * Walk one option area, collecting each option's data (repeated codes are concatenated, RFC
 * 3396). Returns an error for an option whose length runs past the area; an area that ends
 * without an END option is accepted, as clients and servers do.
 */
function walkOptions(area: Uint8Array, where: string, into: Map<number, Uint8Array>): string | null {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === DhcpOption.PAD) {
      i++;
      continue;
    }
    if (code === DhcpOption.END) return null;
    if (i + 1 >= area.length) return `${where}: option ${code} at offset ${i} has no length byte`;
    const len = area[i + 1]!;
    if (i + 2 + len > area.length) return `${where}: option ${code} at offset ${i} claims ${len} bytes, only ${area.length - i - 2} left`;
    const data = area.subarray(i + 2, i + 2 + len);
    const prev = into.get(code);
    if (prev) {
      const joined = new Uint8Array(prev.length + data.length);
      joined.set(prev);
      joined.set(data, prev.length);
      into.set(code, joined);
    } else {
      into.set(code, data.slice());
    }
    i += 2 + len;
  }
  return null;
}

type Bad = { error: string };
const isBad = (v: unknown): v is Bad => typeof v === 'object' && v !== null && 'error' in v;

function addrList(code: number, d: Uint8Array): number[] | Bad {
  if (d.length === 0 || d.length % 4 !== 0) return { error: `option ${code}: length ${d.length} is not a non-zero multiple of 4` };
  const out: number[] = [];
  for (let i = 0; i < d.length; i += 4) out.push(readU32(d, i));
  return out;
}

function fixed32(code: number, d: Uint8Array): number | Bad {
  if (d.length !== 4) return { error: `option ${code}: length ${d.length}, expected 4` };
  return readU32(d, 0);
}

/** Option text (hostname, domain, message): printable ASCII up to a NUL, as dhcpcd accepts. */
function text(code: number, d: Uint8Array): string | Bad {
  if (d.length === 0) return { error: `option ${code}: empty` };
  let s = '';
  for (const b of d) {
    if (b === 0) break;
    if (b < 0x20 || b > 0x7e) return { error: `option ${code}: byte 0x${b.toString(16)} is not printable ASCII` };
    s += String.fromCharCode(b);
  }
  return s;
}

export function parseDhcp(bytes: Uint8Array): DhcpParseResult {
  const p = DhcpPacket.check(bytes);
  if ('error' in p) return p;
  if (p.op !== BOOTREQUEST && p.op !== BOOTREPLY) return { error: `BOOTP op ${p.op} is neither BOOTREQUEST nor BOOTREPLY` };
  if (p.htype !== HTYPE_ETHER || p.hlen !== 6) return { error: `hardware type ${p.htype} length ${p.hlen}: only Ethernet (1, 6) is supported` };
  if (p.cookie !== DHCP_MAGIC_COOKIE) return { error: `magic cookie 0x${p.cookie.toString(16)} is not 0x63825363` };
  const opts = new Map<number, Uint8Array>();
  const e = walkOptions(p.options, 'options', opts);
  if (e) return { error: e };
  // Option overload (52): the file and/or sname fields carry more options (RFC 2132 §9.3).
  const overload = opts.get(DhcpOption.OVERLOAD);
  if (overload) {
    if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) return { error: 'option 52: bad overload value' };
    const e1 = overload[0]! & 1 ? walkOptions(p.file, 'file field', opts) : null;
    if (e1) return { error: e1 };
    const e2 = overload[0]! & 2 ? walkOptions(p.sname, 'sname field', opts) : null;
    if (e2) return { error: e2 };
  }
  const repr: DhcpRepr = {
    op: p.op as 1 | 2,
    xid: p.xid,
    secs: p.secs,
    broadcast: (p.flags & BOOTP_FLAG_BROADCAST) !== 0,
    ciaddr: p.ciaddr,
    yiaddr: p.yiaddr,
    siaddr: p.siaddr,
    giaddr: p.giaddr,
    chaddr: p.chaddr.slice(0, 6),
    messageType: null,
  };
  if (p.hops !== 0) repr.hops = p.hops;
  for (const [code, d] of opts) {
    let v: number | number[] | string | Bad = 0;
    switch (code) {
      case DhcpOption.MESSAGE_TYPE:
        if (d.length !== 1) return { error: `option 53: length ${d.length}, expected 1` };
        repr.messageType = d[0]!;
        break;
      case DhcpOption.SUBNET_MASK:
        if (!isBad((v = fixed32(code, d)))) repr.subnetMask = v;
        break;
      case DhcpOption.ROUTER:
        if (!isBad((v = addrList(code, d)))) repr.routers = v;
        break;
      case DhcpOption.DNS_SERVER:
        if (!isBad((v = addrList(code, d)))) repr.dnsServers = v;
        break;
      case DhcpOption.HOSTNAME:
        if (!isBad((v = text(code, d)))) repr.hostname = v;
        break;
      case DhcpOption.DOMAIN_NAME:
        if (!isBad((v = text(code, d)))) repr.domainName = v;
        break;
      case DhcpOption.MESSAGE:
        if (!isBad((v = text(code, d)))) repr.message = v;
        break;
      case DhcpOption.VENDOR_CLASS_ID:
        if (!isBad((v = text(code, d)))) repr.vendorClassId = v;
        break;
      case DhcpOption.REQUESTED_IP:
        if (!isBad((v = fixed32(code, d)))) repr.requestedIp = v;
        break;
      case DhcpOption.LEASE_TIME:
        if (!isBad((v = fixed32(code, d)))) repr.leaseTime = v;
        break;
      case DhcpOption.RENEWAL_TIME:
        if (!isBad((v = fixed32(code, d)))) repr.renewalTime = v;
        break;
      case DhcpOption.REBINDING_TIME:
        if (!isBad((v = fixed32(code, d)))) repr.rebindingTime = v;
        break;
      case DhcpOption.SERVER_ID:
        if (!isBad((v = fixed32(code, d)))) repr.serverId = v;
        break;
      case DhcpOption.PARAMETER_REQUEST_LIST:
        if (d.length === 0) return { error: 'option 55: empty' };
        repr.parameterRequestList = [...d];
        break;
      case DhcpOption.MAX_MESSAGE_SIZE:
        if (d.length !== 2) return { error: `option 57: length ${d.length}, expected 2` };
        repr.maxMessageSize = readU16(d, 0);
        if (repr.maxMessageSize < DHCP_MIN_MAX_MESSAGE) return { error: `option 57: ${repr.maxMessageSize} is below the minimum 576` };
        break;
      case DhcpOption.CLIENT_ID:
        if (d.length < 2) return { error: `option 61: length ${d.length}, expected at least 2` };
        repr.clientId = d;
        break;
      case DhcpOption.OVERLOAD:
        break;
      default:
        (repr.otherOptions ??= []).push({ code, data: d });
    }
    if (isBad(v)) return v;
  }
  return repr;
}

/** Options in the order they are written: message type first (RFC 2131 does not require it, but every client and server does it). */
function optionList(r: DhcpRepr): DhcpRawOption[] {
  const out: DhcpRawOption[] = [];
  const u8 = (code: number, v: number) => out.push({ code, data: Uint8Array.of(v) });
  const a32 = (code: number, vs: readonly number[]) => {
    const d = new Uint8Array(4 * vs.length);
    vs.forEach((v, i) => writeU32(d, 4 * i, v));
    out.push({ code, data: d });
  };
  const str = (code: number, s: string) => out.push({ code, data: asciiBytes(s) });
  if (r.messageType !== null) u8(DhcpOption.MESSAGE_TYPE, r.messageType);
  if (r.clientId) out.push({ code: DhcpOption.CLIENT_ID, data: r.clientId });
  if (r.serverId !== undefined) a32(DhcpOption.SERVER_ID, [r.serverId]);
  if (r.requestedIp !== undefined) a32(DhcpOption.REQUESTED_IP, [r.requestedIp]);
  if (r.maxMessageSize !== undefined) {
    const d = new Uint8Array(2);
    d[0] = r.maxMessageSize >>> 8;
    d[1] = r.maxMessageSize & 255;
    out.push({ code: DhcpOption.MAX_MESSAGE_SIZE, data: d });
  }
  if (r.vendorClassId !== undefined) str(DhcpOption.VENDOR_CLASS_ID, r.vendorClassId);
  if (r.hostname !== undefined) str(DhcpOption.HOSTNAME, r.hostname);
  if (r.parameterRequestList) out.push({ code: DhcpOption.PARAMETER_REQUEST_LIST, data: Uint8Array.from(r.parameterRequestList) });
  if (r.leaseTime !== undefined) a32(DhcpOption.LEASE_TIME, [r.leaseTime]);
  if (r.renewalTime !== undefined) a32(DhcpOption.RENEWAL_TIME, [r.renewalTime]);
  if (r.rebindingTime !== undefined) a32(DhcpOption.REBINDING_TIME, [r.rebindingTime]);
  if (r.subnetMask !== undefined) a32(DhcpOption.SUBNET_MASK, [r.subnetMask]);
  if (r.routers?.length) a32(DhcpOption.ROUTER, r.routers);
  if (r.dnsServers?.length) a32(DhcpOption.DNS_SERVER, r.dnsServers);
  if (r.domainName !== undefined) str(DhcpOption.DOMAIN_NAME, r.domainName);
  if (r.message !== undefined) str(DhcpOption.MESSAGE, r.message);
  for (const o of r.otherOptions ?? []) out.push(o);
  return out;
}

/** Bytes `emitDhcp` will write for `repr` (at least the 300-byte BOOTP minimum). */
export function dhcpLength(r: DhcpRepr): number {
  let n = OPTIONS_OFFSET + 1; // END
  for (const o of optionList(r)) n += Math.ceil(Math.max(o.data.length, 1) / 255) * 2 + o.data.length;
  return Math.max(n, BOOTP_MIN_LEN);
}

/**
 * Write the message. Options longer than 255 bytes are split into several instances (RFC
 * 3396); the message is padded with zeros to the 300-byte BOOTP minimum.
 */
export function emitDhcp(r: DhcpRepr): Uint8Array {
  const out = new Uint8Array(dhcpLength(r));
  out[0] = r.op;
  out[1] = HTYPE_ETHER;
  out[2] = 6;
  out[3] = r.hops ?? 0;
  writeU32(out, 4, r.xid);
  out[8] = (r.secs >>> 8) & 255;
  out[9] = r.secs & 255;
  if (r.broadcast) out[10] = 0x80;
  writeU32(out, 12, r.ciaddr);
  writeU32(out, 16, r.yiaddr);
  writeU32(out, 20, r.siaddr);
  writeU32(out, 24, r.giaddr);
  out.set(r.chaddr.subarray(0, 6), 28);
  writeU32(out, COOKIE_OFFSET, DHCP_MAGIC_COOKIE);
  let i = OPTIONS_OFFSET;
  for (const o of optionList(r)) {
    let at = 0;
    do {
      const n = Math.min(255, o.data.length - at);
      out[i] = o.code;
      out[i + 1] = n;
      out.set(o.data.subarray(at, at + n), i + 2);
      i += 2 + n;
      at += n;
    } while (at < o.data.length);
  }
  out[i] = DhcpOption.END;
  return out;
}

/** Client identifier option 61 for an Ethernet address: type 1, then the MAC (RFC 2132 §9.14). */
export function ethernetClientId(mac: Uint8Array): Uint8Array {
  const id = new Uint8Array(7);
  id[0] = HTYPE_ETHER;
  id.set(mac.subarray(0, 6), 1);
  return id;
}

export function prefixLenOfMask(mask: number): number | null {
  let n = 0;
  while (n < 32 && (mask & (0x80000000 >>> n)) !== 0) n++;
  const back = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return back === mask >>> 0 ? n : null;
}

function asciiBytes(s: string): Uint8Array {
  const d = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) d[i] = s.charCodeAt(i) & 0x7f;
  return d;
}

