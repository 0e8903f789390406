/**
 * Generic netlink (net/netlink/genetlink.c, built with CONFIG_NETLINK): the NETLINK_GENERIC
 * protocol, whose messages carry a family id in nlmsg_type and a struct genlmsghdr (cmd,
 * version, reserved) before their attributes. genl_init creates its kernel socket and
 * registers the controller family "nlctrl" (GENL_ID_CTRL), which answers CTRL_CMD_GETFAMILY:
 * a family's name → its id, as every genetlink program asks first.
 *
 * Other families register here when their Kconfig symbol is built (ethtool with
 * ETHTOOL_NETLINK) and get ids from GENL_START_ALLOC up, in registration order, as
 * idr_alloc_cyclic gives them. A family that is not built is not there: GETFAMILY for its name
 * is ENOENT, as in a kernel without it (no modules to load here).
 *
 * The controller's answer carries the family's name, id, version, hdrsize, maxattr and the
 * ops this model implements (each DO|DUMP|HASPOL); multicast groups are not modelled (no
 * notifications are sent), so CTRL_ATTR_MCAST_GROUPS is left out.
 */
import { Errno } from '../uapi/errno.js';
import { readU16le } from '../uapi/byte-order.js';
import { NETLINK_DUMP_STARTED, netlinkRcvSkb, type Netlink, type NetlinkSock } from './netlink.js';
import { NlWriter, attrString, parseAttrs, type Attr } from '../uapi/netlink-message.js';
import { NLM_F_DUMP, NLM_F_MULTI, NLMSG_DONE, NLMSG_HDRLEN, NLMSG_MIN_TYPE, nlmsgAlign } from '../uapi/netlink.js';
import type { SkBuff } from './skbuff.js';

export const NETLINK_GENERIC = 16;
export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = NLMSG_MIN_TYPE;
export const GENL_START_ALLOC = NLMSG_MIN_TYPE + 3;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_HDRSIZE = 4;
export const CTRL_ATTR_MAXATTR = 5;
export const CTRL_ATTR_OPS = 6;
export const CTRL_ATTR_OP_ID = 1;
export const CTRL_ATTR_OP_FLAGS = 2;
export const GENL_CMD_CAP_DO = 0x02;
export const GENL_CMD_CAP_DUMP = 0x04;
export const GENL_CMD_CAP_HASPOL = 0x08;

/** What a family's handler is given: the request's attributes and how to answer. */
export interface GenlRequest {
  cmd: number;
  dump: boolean;
  bytes: Uint8Array;
  attrs: Map<number, Attr>;
  /** Start one answer message (genlmsg_put: the family's id, the reply cmd, its version). */
  begin(w: NlWriter, cmd: number): number;
}

export interface GenlFamily {
  name: string;
  version: number;
  hdrsize: number;
  maxattr: number;
  /** The ops offered (command numbers; each has doit, dumpit and a policy). */
  ops: readonly number[];
  /** Writes the answer into `w` (one message, or NLM_F_MULTI messages for a dump): 0 or a negative errno. */
  handle(req: GenlRequest, w: NlWriter): number;
}

export class Genetlink {
  private readonly families = new Map<number, GenlFamily>();
  private nextId = GENL_START_ALLOC;
  /** Requests answered, by family name. */
  readonly requests = new Map<string, number>();

  constructor(netlink: Netlink) {
    netlink.registerFamily(NETLINK_GENERIC, { input: (sk, skb) => this.input(sk, skb) }, 'genetlink');
    this.families.set(GENL_ID_CTRL, {
      name: 'nlctrl',
      version: 2,
      hdrsize: 0,
      maxattr: 0,
      ops: [CTRL_CMD_GETFAMILY],
      handle: (req, w) => this.ctrlGetfamily(req, w),
    });
  }

  /** genl_register_family: the next free id from GENL_START_ALLOC. */
  register(family: GenlFamily): number {
    const id = this.nextId++;
    this.families.set(id, family);
    return id;
  }

  /** genl_rcv → netlink_rcv_skb → genl_rcv_msg for each message. */
  private input(sk: NetlinkSock, skb: SkBuff): void {
    netlinkRcvSkb(sk, skb, (sk, b, h) => {
      const w = new NlWriter();
      const err = this.request(sk, b, h.at, h.len, h.type, h.flags, h.seq, w);
      if (err !== 0 || w.length === 0) return err;
      sk.deliver(w.view());
      return (h.flags & NLM_F_DUMP) === NLM_F_DUMP ? NETLINK_DUMP_STARTED : 0;
    });
  }

  private request(sk: NetlinkSock, b: Uint8Array, at: number, len: number, type: number, flags: number, seq: number, w: NlWriter): number {
    const family = this.families.get(type);
    if (!family) return -Errno.ENOENT; // genl_family_find_byid fails
    if (len < NLMSG_HDRLEN + GENL_HDRLEN) return -Errno.EINVAL;
    const cmd = b[at + NLMSG_HDRLEN]!;
    if (!family.ops.includes(cmd)) return -Errno.EOPNOTSUPP; // genl_get_cmd finds no op
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    const body = at + NLMSG_HDRLEN + GENL_HDRLEN + nlmsgAlign(family.hdrsize);
    const req: GenlRequest = {
      cmd,
      dump,
      bytes: b,
      attrs: parseAttrs(b, body, at + len),
      begin: (out, replyCmd) => {
        const m = out.begin(type, dump ? NLM_F_MULTI : 0, seq, sk.portid);
        out.bytes(Uint8Array.of(replyCmd, family.version, 0, 0));
        return m;
      },
    };
    const err = family.handle(req, w);
    if (err !== 0) return err;
    this.requests.set(family.name, (this.requests.get(family.name) ?? 0) + 1);
    if (dump) {
      const done = w.begin(NLMSG_DONE, NLM_F_MULTI, seq, sk.portid);
      w.bytes(new Uint8Array(4));
      w.end(done);
    }
    return 0;
  }

  /** ctrl_getfamily (by id or name) and ctrl_dumpfamily (every family). */
  private ctrlGetfamily(req: GenlRequest, w: NlWriter): number {
    if (req.dump) {
      for (const [id, f] of [...this.families].sort((x, y) => x[0] - y[0])) this.fillFamily(req, w, id, f);
      return 0;
    }
    let found: [number, GenlFamily] | null = null;
    let err = -Errno.EINVAL;
    const byId = req.attrs.get(CTRL_ATTR_FAMILY_ID);
    if (byId && byId.len >= 2) {
      const id = readU16le(req.bytes, byId.at);
      const f = this.families.get(id);
      found = f ? [id, f] : null;
      err = -Errno.ENOENT;
    }
    const byName = req.attrs.get(CTRL_ATTR_FAMILY_NAME);
    if (byName) {
      const name = attrString(req.bytes, byName);
      found = [...this.families].find(([, f]) => f.name === name) ?? null;
      err = -Errno.ENOENT;
    }
    if (!found) return err;
    this.fillFamily(req, w, found[0], found[1]);
    return 0;
  }

  /** ctrl_fill_info with CTRL_CMD_NEWFAMILY. */
  private fillFamily(req: GenlRequest, w: NlWriter, id: number, f: GenlFamily): void {
    const m = req.begin(w, CTRL_CMD_NEWFAMILY);
    // genlmsg_put writes the controller's own version (2) in the header, whichever family is described.
    w.str(CTRL_ATTR_FAMILY_NAME, f.name);
    w.u16(CTRL_ATTR_FAMILY_ID, id);
    w.u32(CTRL_ATTR_VERSION, f.version);
    w.u32(CTRL_ATTR_HDRSIZE, f.hdrsize);
    w.u32(CTRL_ATTR_MAXATTR, f.maxattr);
    const ops = w.nestStart(CTRL_ATTR_OPS);
    f.ops.forEach((cmd, i) => {
      const op = w.nestStart(i + 1);
      w.u32(CTRL_ATTR_OP_ID, cmd);
      w.u32(CTRL_ATTR_OP_FLAGS, GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL);
      w.nestEnd(op);
    });
    w.nestEnd(ops);
    w.end(m);
  }
}
