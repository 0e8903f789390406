/**
 * A DHCP server (RFC 2131 §4.3) for the lab host, in the manner of busybox udhcpd: one address
 * pool on the lab network, leases by client identifier (option 61, else chaddr), a configured
 * lease time with T1/T2 (options 58/59), and subnet mask, router, DNS servers and domain name
 * (options 1, 3, 6, 15) in every OFFER and ACK the client asks for them in.
 *
 * Replies go where §4.1 says: a NAK is broadcast; a reply to a client with ciaddr set is unicast
 * to it; a client that sets the broadcast flag gets 255.255.255.255. A client without the flag
 * and without an address would get a unicast to yiaddr at its chaddr, which needs an ARP entry
 * put in by hand (SIOCSARP or a packet socket); this server broadcasts instead, as udhcpd does
 * when it cannot.
 */
import { NS_PER_SEC, type Nanos } from '../emulator/event-queue.js';
import { ipToString, macToString, prefixMask } from '../stack/core/addr.js';
import {
  BOOTP_CLIENT_PORT,
  BOOTP_SERVER_PORT,
  BOOTREPLY,
  BOOTREQUEST,
  DhcpMessageType as T,
  dhcpMessageTypeName,
  DhcpOption,
  emitDhcp,
  parseDhcp,
  type DhcpRepr,
} from './dhcp-message.js';
import type { Program, ProgramContext } from './program.js';
import { AF_INET, SOCK_DGRAM } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export interface DhcpServerOptions {
  ifindex: number;
  /** The server's own address: option 54 and the source of its replies. */
  serverAddress: number;
  prefixLen: number;
  poolStart: number;
  poolEnd: number;
  router?: number;
  dnsServers?: number[];
  domainName?: string;
  leaseSeconds: number;
  /** T1 and T2; by default 0.5 and 0.875 of the lease (RFC 2131 §4.4.5). */
  renewalSeconds?: number;
  rebindingSeconds?: number;
  /** How long an offered address stays reserved for the client it was offered to. */
  offerHoldSeconds?: number;
}

export interface DhcpServerLease {
  clientKey: string;
  chaddr: string;
  address: number;
  hostname: string | null;
  state: 'offered' | 'bound';
  expiresNs: Nanos;
}

export interface DhcpServerResult {
  received: Record<string, number>;
  sent: Record<string, number>;
  /** Requests dropped: unparsable, not a BOOTREQUEST, or for another server. */
  dropped: number;
  leases: DhcpServerLease[];
  log: { timeNs: Nanos; event: string }[];
  error: string | null;
}

export class DhcpServer implements Program {
  readonly name = 'udhcpd';
  exitCode: number | null = null;
  readonly result: DhcpServerResult = { received: {}, sent: {}, dropped: 0, leases: [], log: [], error: null };
  private ctx!: ProgramContext;
  private fd = -1;
  private readonly leases = new Map<string, DhcpServerLease>();
  private readonly declined = new Set<number>();

  constructor(readonly opts: DhcpServerOptions) {}

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    const fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return this.fail(`socket: ${errnoName(fd)}`);
    this.fd = fd;
    for (const [opt, v] of [['SO_BROADCAST', 1], ['SO_BINDTODEVICE', this.opts.ifindex]] as const) {
      const r = ctx.sys.setsockopt(fd, opt, v);
      if (r < 0) return this.fail(`setsockopt ${opt}: ${errnoName(r)}`);
    }
    const b = ctx.sys.bind(fd, { addr: 0, port: BOOTP_SERVER_PORT });
    if (b < 0) return this.fail(`bind 0.0.0.0:${BOOTP_SERVER_PORT}: ${errnoName(b)}`);
    ctx.sys.onReadable(fd, () => this.readRequests());
    this.note(`serving ${ipToString(this.opts.poolStart)}–${ipToString(this.opts.poolEnd)}, lease ${this.opts.leaseSeconds} s`);
  }

  private readRequests(): void {
    for (;;) {
      const r = this.ctx.sys.recvfrom(this.fd);
      if (typeof r === 'number') {
        if (r === -Errno.EAGAIN) return;
        continue;
      }
      const msg = parseDhcp(r.data);
      if ('error' in msg) {
        this.result.dropped++;
        this.note(`dropped a malformed message from ${ipToString(r.from.addr)}: ${msg.error}`);
        continue;
      }
      if (msg.op !== BOOTREQUEST || msg.messageType === null) {
        this.result.dropped++;
        continue;
      }
      const name = dhcpMessageTypeName(msg.messageType);
      this.result.received[name] = (this.result.received[name] ?? 0) + 1;
      this.handle(msg);
    }
  }

  private handle(msg: DhcpRepr): void {
    const key = clientKey(msg);
    const now = this.ctx.now();
    this.expireLeases(now);
    const lease = this.leases.get(key) ?? null;
    switch (msg.messageType) {
      case T.DISCOVER: {
        const addr = this.pick(key, lease, msg.requestedIp);
        if (addr === null) return this.note(`no free address for ${macToString(msg.chaddr)}`);
        this.hold(key, msg, addr, 'offered', now + (this.opts.offerHoldSeconds ?? 60) * NS_PER_SEC);
        return this.reply(msg, T.OFFER, addr);
      }
      case T.REQUEST: {
        if (msg.serverId !== undefined) {
          // SELECTING: the client has chosen among offers.
          if (msg.serverId !== this.opts.serverAddress) {
            if (lease?.state === 'offered') this.leases.delete(key);
            return;
          }
          if (!lease || msg.requestedIp !== lease.address) return this.nak(msg, 'requested address was not offered');
          return this.bind(key, msg, lease.address);
        }
        const asked = msg.ciaddr !== 0 ? msg.ciaddr : msg.requestedIp;
        if (asked === undefined) return this.drop('REQUEST with neither ciaddr nor a requested address');
        // INIT-REBOOT (requested address) or RENEWING/REBINDING (ciaddr).
        if (!this.onNetwork(asked)) return this.nak(msg, `${ipToString(asked)} is not on this network`);
        if (lease && lease.address === asked) return this.bind(key, msg, asked);
        if (lease) return this.nak(msg, `${ipToString(asked)} is not this client's address`);
        // §4.3.2: no record of this client — stay silent (another server may know it).
        return this.note(`no record of ${macToString(msg.chaddr)} asking for ${ipToString(asked)}: silent`);
      }
      case T.RELEASE:
        if (lease && lease.address === msg.ciaddr) {
          this.leases.delete(key);
          this.note(`released ${ipToString(msg.ciaddr)}`);
        }
        return;
      case T.DECLINE:
        if (msg.requestedIp !== undefined) {
          this.declined.add(msg.requestedIp);
          this.leases.delete(key);
          this.note(`declined ${ipToString(msg.requestedIp)}: no longer offered`);
        }
        return;
      case T.INFORM:
        if (msg.ciaddr !== 0) this.reply(msg, T.ACK, 0);
        return;
      default:
        this.drop(`${dhcpMessageTypeName(msg.messageType)} from a client`);
    }
  }

  /** The client's existing address, else the one it asks for if free, else the lowest free. */
  private pick(key: string, lease: DhcpServerLease | null, wanted: number | undefined): number | null {
    if (lease) return lease.address;
    const taken = new Set<number>();
    for (const l of this.leases.values()) if (l.clientKey !== key) taken.add(l.address);
    const free = (a: number) => a >= this.opts.poolStart && a <= this.opts.poolEnd && !taken.has(a) && !this.declined.has(a);
    if (wanted !== undefined && free(wanted)) return wanted;
    for (let a = this.opts.poolStart; a <= this.opts.poolEnd; a++) if (free(a)) return a;
    return null;
  }

  private bind(key: string, msg: DhcpRepr, addr: number): void {
    const now = this.ctx.now();
    const secs = this.opts.leaseSeconds;
    this.hold(key, msg, addr, 'bound', secs === 0xffffffff ? Number.MAX_SAFE_INTEGER : now + secs * NS_PER_SEC);
    this.reply(msg, T.ACK, addr);
  }

  private hold(key: string, msg: DhcpRepr, address: number, state: 'offered' | 'bound', expiresNs: Nanos): void {
    const l: DhcpServerLease = { clientKey: key, chaddr: macToString(msg.chaddr), address, hostname: msg.hostname ?? null, state, expiresNs };
    this.leases.set(key, l);
    this.result.leases = [...this.leases.values()].map((x) => ({ ...x }));
  }

  private expireLeases(now: Nanos): void {
    for (const [k, l] of this.leases) if (l.expiresNs <= now) this.leases.delete(k);
  }

  private onNetwork(addr: number): boolean {
    const m = prefixMask(this.opts.prefixLen);
    return ((addr & m) >>> 0) === ((this.opts.serverAddress & m) >>> 0);
  }

  private nak(msg: DhcpRepr, why: string): void {
    this.note(`DHCPNAK to ${macToString(msg.chaddr)}: ${why}`);
    this.reply(msg, T.NAK, 0, why);
  }

  private reply(req: DhcpRepr, type: number, yiaddr: number, message?: string): void {
    const o = this.opts;
    const wants = (code: number) => !req.parameterRequestList || req.parameterRequestList.includes(code);
    const msg: DhcpRepr = {
      op: BOOTREPLY,
      xid: req.xid,
      secs: 0,
      broadcast: req.broadcast,
      ciaddr: type === T.NAK ? 0 : req.ciaddr,
      yiaddr,
      siaddr: 0,
      giaddr: req.giaddr,
      chaddr: req.chaddr,
      messageType: type,
      serverId: o.serverAddress,
    };
    if (type === T.NAK) {
      if (message) msg.message = message;
    } else {
      if (type !== T.ACK || req.messageType !== T.INFORM) {
        // §4.3.1: lease time in OFFER and ACK, never in an ACK to an INFORM.
        msg.leaseTime = o.leaseSeconds;
        if (o.leaseSeconds !== 0xffffffff) {
          msg.renewalTime = o.renewalSeconds ?? Math.floor(o.leaseSeconds / 2);
          msg.rebindingTime = o.rebindingSeconds ?? Math.floor((o.leaseSeconds * 7) / 8);
        }
      }
      if (wants(DhcpOption.SUBNET_MASK)) msg.subnetMask = prefixMask(o.prefixLen);
      if (o.router !== undefined && wants(DhcpOption.ROUTER)) msg.routers = [o.router];
      if (o.dnsServers?.length && wants(DhcpOption.DNS_SERVER)) msg.dnsServers = o.dnsServers;
      if (o.domainName && wants(DhcpOption.DOMAIN_NAME)) msg.domainName = o.domainName;
    }
    // §4.1: NAK broadcast; ciaddr set → unicast to it; otherwise broadcast (see the file comment).
    const to = req.giaddr !== 0 ? req.giaddr : type !== T.NAK && req.ciaddr !== 0 ? req.ciaddr : 0xffffffff;
    const port = req.giaddr !== 0 ? BOOTP_SERVER_PORT : BOOTP_CLIENT_PORT;
    const r = this.ctx.sys.sendto(this.fd, emitDhcp(msg), { addr: to, port });
    const name = dhcpMessageTypeName(type);
    this.result.sent[name] = (this.result.sent[name] ?? 0) + 1;
    this.note(`sent ${name}${yiaddr ? ` of ${ipToString(yiaddr)}` : ''} to ${ipToString(to)} for ${macToString(req.chaddr)}${r < 0 ? `: sendto ${errnoName(r)}` : ''}`);
  }

  private drop(why: string): void {
    this.result.dropped++;
    this.note(`ignored ${why}`);
  }

  private note(event: string): void {
    this.result.log.push({ timeNs: this.ctx.now(), event });
    this.ctx.log(event);
  }

  private fail(error: string): void {
    this.result.error = `udhcpd: ${error}`;
    this.ctx.log(this.result.error);
    this.ctx.exit(1);
  }
}

/** Leases are keyed by the client identifier when there is one (RFC 2131 §4.2), else chaddr. */
function clientKey(msg: DhcpRepr): string {
  const id = msg.clientId ?? msg.chaddr;
  return `${msg.clientId ? 'id' : 'hw'}:${Array.from(id, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
