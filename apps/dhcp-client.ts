/**
 * A DHCP client (RFC 2131 §4.4) as a board program, in the manner of busybox udhcpc on a
 * board without packet sockets: one UDP socket bound to 0.0.0.0:68 with SO_BROADCAST and
 * SO_BINDTODEVICE, and the BOOTP broadcast flag set so servers answer to 255.255.255.255 while
 * the interface has no address yet.
 *
 * INIT → SELECTING (DISCOVER, wait for an OFFER) → REQUESTING (REQUEST, wait for ACK/NAK) →
 * BOUND; at T1 RENEWING (REQUEST unicast to the server), at T2 REBINDING (REQUEST broadcast),
 * at expiry the address goes and the client starts again. A NAK in any state restarts at INIT.
 * With `requestAddress` it starts in INIT-REBOOT instead, asking for an address it had before.
 *
 * Retransmission follows §4.1: 4 s, 8 s, 16 s … capped at 64 s, each randomised by ±1 s. The
 * randomness comes from a PRNG seeded by the `seed` option (scenarios derive it from the world
 * seed) or else by the MAC address — never from host time — so a rerun is byte-identical.
 */
import { NS_PER_MS, NS_PER_SEC, type Nanos, type TimerHandle } from '../emulator/event-queue.js';
import { Prng } from '../emulator/prng.js';
import { ipToString, macToString } from '../stack/core/addr.js';
import {
  BOOTP_CLIENT_PORT,
  BOOTP_SERVER_PORT,
  BOOTREPLY,
  BOOTREQUEST,
  DhcpMessageType as T,
  dhcpMessageTypeName,
  DhcpOption,
  emitDhcp,
  ethernetClientId,
  parseDhcp,
  prefixLenOfMask,
  type DhcpRepr,
} from './dhcp-message.js';
import { addInterfaceConfig, interfaceInfo, removeInterfaceConfig, type ConfigOutcome } from './net-config.js';
import type { Program, ProgramContext } from './program.js';
import { AF_INET, SOCK_DGRAM } from '../stack/uapi/socket.js';
import { Errno, errnoName } from '../stack/uapi/errno.js';

export type DhcpState = 'INIT' | 'SELECTING' | 'REQUESTING' | 'BOUND' | 'RENEWING' | 'REBINDING' | 'INIT-REBOOT' | 'REBOOTING' | 'STOPPED';

export interface DhcpClientOptions {
  ifname: string;
  /** The interface's index and MAC; by default asked of the kernel (SIOCGIFINDEX, SIOCGIFHWADDR). */
  ifindex?: number;
  mac?: Uint8Array;
  /** Option 12. */
  hostname?: string;
  /** Seed for retransmission jitter and transaction IDs; defaults to one made from the MAC. */
  seed?: number;
  /** INIT-REBOOT: ask for this address first (a lease remembered from before). */
  requestAddress?: number;
  /** udhcpc -q: exit once bound instead of staying to renew. */
  exitWhenBound?: boolean;
  /** REQUESTs sent in REQUESTING/REBOOTING before going back to INIT. */
  requestTries?: number;
  /** Called each time a lease is (re)acquired: on BOUND, after a renewal or a rebind. */
  onLease?: (lease: DhcpLease, how: 'bound' | 'renewed' | 'rebound') => void;
  /** Called when a lease is lost (expired, or NAKed while renewing) and the client starts over. */
  onLeaseLost?: (lease: DhcpLease, why: 'expired' | 'nak') => void;
}

export interface DhcpLease {
  address: number;
  prefixLen: number;
  routers: number[];
  dnsServers: number[];
  domainName: string | null;
  serverId: number;
  leaseSeconds: number;
  t1Seconds: number;
  t2Seconds: number;
  /** When the REQUEST that got this lease was first sent (the lease's start, RFC 2131 §4.4.1). */
  startNs: Nanos;
}

/** One line of what the client did and saw, for checks and the report. */
export interface DhcpEvent {
  timeNs: Nanos;
  event: string;
}

export interface DhcpClientResult {
  state: DhcpState;
  lease: DhcpLease | null;
  events: DhcpEvent[];
  sent: Record<string, number>;
  received: Record<string, number>;
  retransmissions: number;
  naks: number;
  renewals: number;
  rebinds: number;
  expiries: number;
  /** Replies dropped: unparsable, another client's, or unexpected in the current state. */
  dropped: number;
  /** How the interface was configured each time (rtnetlink or ioctl). */
  config: ConfigOutcome[];
  error: string | null;
}

/** RFC 2131 §4.1: the first retransmission waits 4 s, doubling up to 64 s. */
const FIRST_TIMEOUT_NS = 4 * NS_PER_SEC;
const MAX_TIMEOUT_NS = 64 * NS_PER_SEC;
/** RFC 2131 §4.4.5: in RENEWING and REBINDING wait half the remaining time, at least 60 s. */
const MIN_RENEW_WAIT_NS = 60 * NS_PER_SEC;
const INFINITE_LEASE = 0xffffffff;
/** Parameters the client asks for (option 55). */
const PARAMETER_REQUEST_LIST = [DhcpOption.SUBNET_MASK, DhcpOption.ROUTER, DhcpOption.DNS_SERVER, DhcpOption.HOSTNAME, DhcpOption.DOMAIN_NAME, DhcpOption.LEASE_TIME, DhcpOption.SERVER_ID, DhcpOption.RENEWAL_TIME, DhcpOption.REBINDING_TIME];

export class DhcpClient implements Program {
  readonly name = 'udhcpc';
  exitCode: number | null = null;
  readonly result: DhcpClientResult = { state: 'INIT', lease: null, events: [], sent: {}, received: {}, retransmissions: 0, naks: 0, renewals: 0, rebinds: 0, expiries: 0, dropped: 0, config: [], error: null };
  private ctx!: ProgramContext;
  private fd = -1;
  private rng!: Prng;
  private xid = 0;
  private tries = 0;
  /** When this acquisition began, for the secs field. */
  private startedAt = 0;
  /** First transmission of the current REQUEST: the start of the lease it gets. */
  private requestSentAt = 0;
  private offer: { address: number; serverId: number } | null = null;
  private retransmit: TimerHandle | null = null;
  private leaseTimers: TimerHandle[] = [];
  private clientId!: Uint8Array;
  private ifindex = 0;
  private mac!: Uint8Array;

  constructor(readonly opts: DhcpClientOptions) {}

  get state(): DhcpState {
    return this.result.state;
  }

  start(ctx: ProgramContext): void {
    this.ctx = ctx;
    const fd = ctx.sys.socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return this.fail(`socket: ${errnoName(fd)}`);
    this.fd = fd;
    if (this.opts.ifindex === undefined || this.opts.mac === undefined) {
      const info = interfaceInfo(ctx.sys, fd, this.opts.ifname);
      if ('error' in info) return this.fail(info.error);
      this.ifindex = this.opts.ifindex ?? info.ifindex;
      this.mac = this.opts.mac ?? info.mac;
    } else {
      this.ifindex = this.opts.ifindex;
      this.mac = this.opts.mac;
    }
    const m = this.mac;
    this.rng = new Prng(this.opts.seed ?? ((m[2]! << 24) | (m[3]! << 16) | (m[4]! << 8) | m[5]!) ^ 0x44484350);
    this.clientId = ethernetClientId(m);
    // SO_BROADCAST to send to 255.255.255.255; SO_BINDTODEVICE so the broadcast leaves through
    // this interface although there is no address or route yet.
    for (const [opt, v] of [['SO_BROADCAST', 1], ['SO_BINDTODEVICE', this.ifindex]] as const) {
      const r = ctx.sys.setsockopt(fd, opt, v);
      if (r < 0) return this.fail(`setsockopt ${opt}: ${errnoName(r)}`);
    }
    const b = ctx.sys.bind(fd, { addr: 0, port: BOOTP_CLIENT_PORT });
    if (b < 0) return this.fail(`bind 0.0.0.0:${BOOTP_CLIENT_PORT}: ${errnoName(b)}`);
    ctx.sys.onReadable(fd, () => this.readReplies());
    this.note(`started on ${this.opts.ifname} (${macToString(this.mac)})`);
    if (this.opts.requestAddress !== undefined) this.initReboot(this.opts.requestAddress);
    else this.init();
  }

  // ---------------------------------------------------------------- states

  private init(): void {
    this.setState('INIT');
    this.offer = null;
    this.startedAt = this.ctx.now();
    this.xid = this.rng.nextU32();
    this.tries = 0;
    this.setState('SELECTING');
    this.sendDiscover();
  }

  private initReboot(address: number): void {
    this.setState('INIT-REBOOT');
    this.startedAt = this.ctx.now();
    this.xid = this.rng.nextU32();
    this.tries = 0;
    this.offer = { address, serverId: 0 };
    this.setState('REBOOTING');
    this.requestSentAt = this.ctx.now();
    this.sendRequest();
  }

  private sendDiscover(): void {
    const msg = this.request(T.DISCOVER, true);
    if (this.result.lease) msg.requestedIp = this.result.lease.address;
    this.send(msg, 0xffffffff);
    this.armRetransmit(() => this.sendDiscover());
  }

  /** REQUEST in SELECTING/REQUESTING (after an offer) or REBOOTING (an old address). */
  private sendRequest(): void {
    const msg = this.request(T.REQUEST, true);
    msg.requestedIp = this.offer!.address;
    if (this.offer!.serverId !== 0) msg.serverId = this.offer!.serverId;
    this.send(msg, 0xffffffff);
    const tries = this.opts.requestTries ?? 4;
    if (this.tries >= tries) {
      // Out of tries: the next timeout restarts from INIT (RFC 2131 §4.4.1).
      this.armRetransmit(() => {
        this.note(`no answer to ${tries} REQUESTs: back to INIT`);
        this.init();
      });
    } else {
      this.armRetransmit(() => this.sendRequest());
    }
  }

  /** REQUEST with ciaddr, unicast to the server (RENEWING) or broadcast (REBINDING). */
  private sendRenewal(): void {
    const lease = this.result.lease!;
    const msg = this.request(T.REQUEST, false);
    msg.ciaddr = lease.address;
    this.send(msg, this.state === 'RENEWING' ? lease.serverId : 0xffffffff);
    // §4.4.5: wait half the time left until T2 (RENEWING) or expiry (REBINDING), at least 60 s.
    const until = lease.startNs + (this.state === 'RENEWING' ? lease.t2Seconds : lease.leaseSeconds) * NS_PER_SEC;
    const wait = Math.max(MIN_RENEW_WAIT_NS, Math.floor((until - this.ctx.now()) / 2));
    if (this.ctx.now() + wait < until) {
      this.ctx.cancel(this.retransmit);
      this.retransmit = this.ctx.after(wait, () => {
        this.result.retransmissions++;
        this.sendRenewal();
      });
    }
  }

  private renew(): void {
    this.setState('RENEWING');
    this.xid = this.rng.nextU32();
    this.startedAt = this.ctx.now();
    this.requestSentAt = this.ctx.now();
    this.result.renewals++;
    this.sendRenewal();
  }

  private rebind(): void {
    this.ctx.cancel(this.retransmit);
    this.setState('REBINDING');
    this.xid = this.rng.nextU32();
    this.requestSentAt = this.ctx.now();
    this.result.rebinds++;
    this.sendRenewal();
  }

  private expire(): void {
    this.ctx.cancel(this.retransmit);
    const lease = this.result.lease!;
    this.result.expiries++;
    this.note(`lease on ${ipToString(lease.address)} expired`);
    this.dropLease();
    this.init();
    this.opts.onLeaseLost?.(lease, 'expired');
  }

  // ---------------------------------------------------------------- receiving

  private readReplies(): void {
    for (;;) {
      const r = this.ctx.sys.recvfrom(this.fd);
      if (typeof r === 'number') {
        if (r === -Errno.EAGAIN) return;
        this.note(`recvfrom: ${errnoName(r)}`);
        continue;
      }
      const msg = parseDhcp(r.data);
      if ('error' in msg) {
        this.result.dropped++;
        this.note(`dropped a malformed message from ${ipToString(r.from.addr)}: ${msg.error}`);
        continue;
      }
      if (msg.op !== BOOTREPLY || msg.xid !== this.xid || !sameMac(msg.chaddr, this.mac)) {
        this.result.dropped++;
        continue;
      }
      this.handle(msg);
    }
  }

  private handle(msg: DhcpRepr): void {
    const type = msg.messageType;
    const name = dhcpMessageTypeName(type);
    this.result.received[name] = (this.result.received[name] ?? 0) + 1;
    const state = this.state;
    if (type === T.OFFER && state === 'SELECTING') {
      if (msg.serverId === undefined || msg.yiaddr === 0) return this.drop(`${name} without a server identifier or address`);
      this.note(`received DHCPOFFER of ${ipToString(msg.yiaddr)} from ${ipToString(msg.serverId)}`);
      this.offer = { address: msg.yiaddr, serverId: msg.serverId };
      this.setState('REQUESTING');
      this.tries = 0;
      this.requestSentAt = this.ctx.now();
      this.sendRequest();
      return;
    }
    const waiting = state === 'REQUESTING' || state === 'REBOOTING' || state === 'RENEWING' || state === 'REBINDING';
    if (type === T.NAK && waiting) {
      // In REQUESTING only the chosen server's NAK counts.
      if (state === 'REQUESTING' && msg.serverId !== undefined && msg.serverId !== this.offer!.serverId) return this.drop('DHCPNAK from another server');
      this.result.naks++;
      this.note(`received DHCPNAK in ${state}${msg.message ? `: ${msg.message}` : ''}; restarting`);
      this.ctx.cancel(this.retransmit);
      const lost = this.result.lease;
      this.dropLease();
      this.init();
      if (lost) this.opts.onLeaseLost?.(lost, 'nak');
      return;
    }
    if (type === T.ACK && waiting) {
      if (msg.yiaddr === 0 || msg.leaseTime === undefined) return this.drop('DHCPACK without an address or lease time');
      if (state === 'REQUESTING' && msg.serverId !== undefined && msg.serverId !== this.offer!.serverId) return this.drop('DHCPACK from another server');
      this.bound(msg, state);
      return;
    }
    this.drop(`${name} in state ${state}`);
  }

  private bound(msg: DhcpRepr, from: DhcpState): void {
    this.ctx.cancel(this.retransmit);
    this.retransmit = null;
    const old = this.result.lease;
    const leaseSeconds = msg.leaseTime!;
    const mask = msg.subnetMask ?? classfulMask(msg.yiaddr);
    const prefixLen = prefixLenOfMask(mask) ?? 24;
    const lease: DhcpLease = {
      address: msg.yiaddr,
      prefixLen,
      routers: msg.routers ?? [],
      dnsServers: msg.dnsServers ?? [],
      domainName: msg.domainName ?? null,
      serverId: msg.serverId ?? old?.serverId ?? 0,
      leaseSeconds,
      t1Seconds: 0,
      t2Seconds: 0,
      startNs: this.requestSentAt,
    };
    // §4.4.5 defaults: T1 = 0.5 × lease, T2 = 0.875 × lease; a server's values are used when
    // they keep T1 < T2 < lease (dhcpcd's sanity rule), else the defaults.
    const t2 = msg.rebindingTime ?? Math.floor((leaseSeconds * 7) / 8);
    lease.t2Seconds = t2 < leaseSeconds ? t2 : Math.floor((leaseSeconds * 7) / 8);
    const t1 = msg.renewalTime ?? Math.floor(leaseSeconds / 2);
    lease.t1Seconds = t1 < lease.t2Seconds ? t1 : Math.floor(lease.t2Seconds / 2);
    const how = from === 'RENEWING' ? 'renewed' : from === 'REBINDING' ? 'rebound' : 'bound';
    const same = old !== null && old.address === lease.address && old.prefixLen === lease.prefixLen && old.routers[0] === lease.routers[0];
    if (old && !same) this.dropLease();
    if (!same) {
      const c = addInterfaceConfig(this.ctx.sys, { ifindex: this.ifindex, ifname: this.opts.ifname, address: lease.address, prefixLen, router: lease.routers[0] });
      this.result.config.push(c);
      this.note(`configured ${ipToString(lease.address)}/${prefixLen}${lease.routers[0] ? ` via ${ipToString(lease.routers[0])}` : ''} through ${c.path ?? 'nothing'}${c.error ? `: ${c.error}` : ''}`);
      if (c.error) {
        // Could not configure the interface: decline is for address conflicts; start over.
        this.result.error = `configuring ${this.opts.ifname}: ${c.error}`;
      }
    }
    this.result.lease = lease;
    this.setState('BOUND');
    this.note(`lease of ${ipToString(lease.address)} ${how} for ${lease.leaseSeconds} s (T1 ${lease.t1Seconds} s, T2 ${lease.t2Seconds} s) from ${ipToString(lease.serverId)}${lease.dnsServers.length ? `, DNS ${lease.dnsServers.map(ipToString).join(' ')}` : ''}`);
    this.armLeaseTimers(lease);
    this.opts.onLease?.(lease, how);
    if (this.opts.exitWhenBound && this.exitCode === null) this.ctx.exit(0);
  }

  private armLeaseTimers(lease: DhcpLease): void {
    for (const t of this.leaseTimers) this.ctx.cancel(t);
    this.leaseTimers = [];
    if (lease.leaseSeconds === INFINITE_LEASE) return;
    const at = (s: number) => Math.max(0, lease.startNs + s * NS_PER_SEC - this.ctx.now());
    this.leaseTimers.push(this.ctx.after(at(lease.t1Seconds), () => this.renew()));
    this.leaseTimers.push(this.ctx.after(at(lease.t2Seconds), () => this.rebind()));
    this.leaseTimers.push(this.ctx.after(at(lease.leaseSeconds), () => this.expire()));
  }

  private dropLease(): void {
    for (const t of this.leaseTimers) this.ctx.cancel(t);
    this.leaseTimers = [];
    const lease = this.result.lease;
    if (!lease) return;
    const c = removeInterfaceConfig(this.ctx.sys, { ifindex: this.ifindex, ifname: this.opts.ifname, address: lease.address, prefixLen: lease.prefixLen, router: lease.routers[0] });
    this.result.config.push(c);
    this.note(`deconfigured ${ipToString(lease.address)} through ${c.path ?? 'nothing'}${c.error ? `: ${c.error}` : ''}`);
    this.result.lease = null;
  }

  // ---------------------------------------------------------------- sending

  private request(type: number, broadcast: boolean): DhcpRepr {
    const secs = Math.min(0xffff, Math.floor((this.ctx.now() - this.startedAt) / NS_PER_SEC));
    const msg: DhcpRepr = {
      op: BOOTREQUEST,
      xid: this.xid,
      secs,
      broadcast,
      ciaddr: 0,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: this.mac,
      messageType: type,
      clientId: this.clientId,
      // The largest message we take: an Ethernet MTU's worth (RFC 2132 §9.10).
      maxMessageSize: 1500,
      parameterRequestList: PARAMETER_REQUEST_LIST,
    };
    if (this.opts.hostname) msg.hostname = this.opts.hostname;
    return msg;
  }

  private send(msg: DhcpRepr, to: number): void {
    const name = dhcpMessageTypeName(msg.messageType);
    const r = this.ctx.sys.sendto(this.fd, emitDhcp(msg), { addr: to, port: BOOTP_SERVER_PORT });
    this.result.sent[name] = (this.result.sent[name] ?? 0) + 1;
    const what = msg.requestedIp !== undefined ? ` for ${ipToString(msg.requestedIp)}` : msg.ciaddr ? ` for ${ipToString(msg.ciaddr)}` : '';
    this.note(`sent ${name}${what} to ${ipToString(to)} (xid 0x${msg.xid.toString(16).padStart(8, '0')}, secs ${msg.secs})${r < 0 ? `: sendto ${errnoName(r)}` : ''}`);
  }

  /** §4.1 backoff: 4 s, 8 s … 64 s, each ±1 s uniformly (millisecond steps). */
  private armRetransmit(again: () => void): void {
    this.ctx.cancel(this.retransmit);
    const base = Math.min(FIRST_TIMEOUT_NS * 2 ** this.tries, MAX_TIMEOUT_NS);
    const jitter = (this.rng.nextInt(2001) - 1000) * NS_PER_MS;
    this.tries++;
    this.retransmit = this.ctx.after(base + jitter, () => {
      this.retransmit = null;
      this.result.retransmissions++;
      again();
    });
  }

  // ---------------------------------------------------------------- bookkeeping

  private setState(s: DhcpState): void {
    this.result.state = s;
  }

  private drop(why: string): void {
    this.result.dropped++;
    this.note(`ignored ${why}`);
  }

  private note(line: string): void {
    this.result.events.push({ timeNs: this.ctx.now(), event: line });
    this.ctx.log(line);
  }

  private fail(error: string): void {
    this.result.error = `udhcpc: ${error}`;
    this.result.state = 'STOPPED';
    this.ctx.log(this.result.error);
    this.ctx.exit(1);
  }
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The mask a server that sends none implies (RFC 2131 §4.4.1 leaves it to the client). */
function classfulMask(addr: number): number {
  const top = addr >>> 24;
  return top < 128 ? 0xff000000 : top < 192 ? 0xffff0000 : 0xffffff00;
}
