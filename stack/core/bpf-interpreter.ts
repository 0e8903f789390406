/**
 * The classic BPF machine (struct sock_filter programs, as SO_ATTACH_FILTER takes them; the
 * opcodes are in stack/uapi/filter.ts): an interpreter that runs a program stored in board RAM
 * over a packet in board RAM. Linux 6.1 converts classic programs to eBPF before running them;
 * this interpreter implements the semantics that conversion gives them:
 *
 * - A and X start at 0; scratch cells are only read after a store (filter.ts checks that).
 * - A load outside the packet ends the program with 0 (the packet is dropped), as the
 *   ld_abs/ld_ind helpers do. Negative offsets reach the network header (SKF_NET_OFF) and the
 *   link-layer header (SKF_LL_OFF), as bpf_internal_load_pointer_neg_helper allows.
 * - Division or modulo by X = 0 ends the program with 0 (by a constant 0 is refused at attach).
 * - Shifts by X use its low five bits, as 32-bit eBPF shifts do.
 *
 * The program has been validated (filter.ts, bpf_check_classic) before it runs, so jumps are
 * forward and in range and the last instruction returns: the loop always ends.
 */
import { readU32le } from '../uapi/byte-order.js';
import { ARPHRD_ETHER } from '../uapi/if-arp.js';
import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_DIV, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE,
  BPF_JGT, BPF_JMP, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MEMWORDS, BPF_MISC, BPF_MOD,
  BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TXA, BPF_X,
  BPF_XOR, SKF_AD_ALU_XOR_X, SKF_AD_HATYPE, SKF_AD_IFINDEX, SKF_AD_MAX, SKF_AD_OFF, SKF_AD_PKTTYPE,
  SKF_AD_PROTOCOL, SKF_AD_RANDOM, SKF_LL_OFF, SKF_NET_OFF, SOCK_FILTER_SIZE,
} from '../uapi/filter.js';

/** What a program sees of a packet: addresses in `bytes` (board RAM). */
export interface BpfPacket {
  bytes: Uint8Array;
  /** Offset 0 of the program's loads (skb->data at the point the filter runs). */
  data: number;
  /** Bytes from `data` (skb->len; BPF_LEN). */
  len: number;
  /** Lowest address a negative-offset load may reach (skb->head). */
  head: number;
  /** Network header (SKF_NET_OFF base). */
  network: number;
  /** Link-layer header (SKF_LL_OFF base); -1 when the packet has none. */
  mac: number;
  /** Ethertype (host order), pkt_type and interface, for the ancillary loads. */
  protocol: number;
  pktType: number;
  ifindex: number;
}

/** A validated program in RAM: `len` instructions from `insns`. */
export interface BpfProgram {
  bytes: Uint8Array;
  insns: number;
  len: number;
}

export interface BpfEnv {
  /** SKF_AD_RANDOM: a seeded generator (the board never reads real randomness). */
  random(): number;
}

/** Is `k` an ancillary offset the kernel knows (bpf_anc_helper)? */
export function isAncillary(k: number): boolean {
  const off = (k - SKF_AD_OFF) >>> 0;
  return k >>> 0 >= SKF_AD_OFF && off < SKF_AD_MAX && off % 4 === 0;
}

/**
 * The address of `size` packet bytes at offset `k` (an unsigned 32-bit value that may encode a
 * negative offset), or -1 when they are outside the packet.
 */
function loadPointer(p: BpfPacket, k: number, size: number): number {
  const off = k | 0;
  if (off >= 0) return off + size <= p.len ? p.data + off : -1;
  let ptr: number;
  if (off >= (SKF_NET_OFF | 0)) ptr = p.network + off - (SKF_NET_OFF | 0);
  else if (off >= (SKF_LL_OFF | 0)) {
    if (p.mac < 0) return -1;
    ptr = p.mac + off - (SKF_LL_OFF | 0);
  } else return -1;
  return ptr >= p.head && ptr + size <= p.data + p.len ? ptr : -1;
}

function load(p: BpfPacket, k: number, size: number): number {
  const at = loadPointer(p, k, size);
  if (at < 0) return -1;
  const b = p.bytes;
  if (size === 1) return b[at]!;
  if (size === 2) return (b[at]! << 8) | b[at + 1]!;
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** The ancillary loads (convert_bpf_extensions), for what the board's skbs carry. */
function ancillary(p: BpfPacket, k: number, a: number, x: number, env: BpfEnv): number {
  switch ((k - SKF_AD_OFF) >>> 0) {
    case SKF_AD_PROTOCOL:
      return p.protocol & 0xffff;
    case SKF_AD_PKTTYPE:
      return p.pktType;
    case SKF_AD_IFINDEX:
      return p.ifindex;
    case SKF_AD_HATYPE:
      return ARPHRD_ETHER;
    case SKF_AD_ALU_XOR_X:
      return (a ^ x) >>> 0;
    case SKF_AD_RANDOM:
      return env.random() >>> 0;
    default:
      // No marks, VLAN tags, receive hashes or netlink attributes on this board, one CPU and
      // one queue: the fields these loads read are all 0 here. PAY_OFFSET (the flow
      // dissector's payload offset) is not modelled and reads 0 as well.
      return 0;
  }
}

const SIZE_OF = [4, 2, 1, 0];

/** Instructions executed by bpfRun since boot, for the CPU charge (sk_filter's cost). */
export const bpfStats = { insns: 0 };

/** The scratch memory M[], reused (zeroed) by each run so the per-packet path allocates nothing. */
const scratchMem = new Uint32Array(BPF_MEMWORDS);

/** Run a validated program over a packet: its return value (0 drops the packet). */
export function bpfRun(prog: BpfProgram, p: BpfPacket, env: BpfEnv): number {
  const code = prog.bytes;
  const mem = scratchMem;
  mem.fill(0);
  let a = 0;
  let x = 0;
  for (let pc = 0; pc < prog.len; pc++) {
    bpfStats.insns++;
    const at = prog.insns + pc * SOCK_FILTER_SIZE;
    const op = code[at]! | (code[at + 1]! << 8);
    const jt = code[at + 2]!;
    const jf = code[at + 3]!;
    const k = readU32le(code, at + 4);
    switch (op & 0x07) {
      case BPF_LD:
      case BPF_LDX: {
        const isX = (op & 0x07) === BPF_LDX;
        const mode = op & 0xe0;
        const size = SIZE_OF[(op & 0x18) >> 3]!;
        let v: number;
        if (mode === BPF_IMM) v = k;
        else if (mode === BPF_MEM) v = mem[k]!;
        else if (mode === BPF_LEN) v = p.len;
        else if (mode === BPF_MSH) {
          const byte = load(p, k, 1);
          if (byte < 0) return 0;
          v = (byte & 0xf) << 2;
        } else if (mode === BPF_ABS && isAncillary(k)) v = ancillary(p, k, a, x, env);
        else {
          v = load(p, mode === BPF_IND ? (x + k) >>> 0 : k, size);
          if (v < 0) return 0;
        }
        if (isX) x = v >>> 0;
        else a = v >>> 0;
        break;
      }
      case BPF_ST:
        mem[k] = a;
        break;
      case BPF_STX:
        mem[k] = x;
        break;
      case BPF_ALU: {
        const src = (op & BPF_X) !== 0 ? x : k;
        switch (op & 0xf0) {
          case BPF_ADD: a = (a + src) >>> 0; break;
          case BPF_SUB: a = (a - src) >>> 0; break;
          case BPF_MUL: a = Math.imul(a, src) >>> 0; break;
          case BPF_DIV:
            if (src === 0) return 0;
            a = Math.floor(a / src) >>> 0;
            break;
          case BPF_MOD:
            if (src === 0) return 0;
            a = a % src;
            break;
          case BPF_OR: a = (a | src) >>> 0; break;
          case BPF_AND: a = (a & src) >>> 0; break;
          case BPF_XOR: a = (a ^ src) >>> 0; break;
          case BPF_LSH: a = (a << (src & 31)) >>> 0; break;
          case BPF_RSH: a = a >>> (src & 31); break;
          case BPF_NEG: a = -a >>> 0; break;
          default: return 0; // unreachable: validated
        }
        break;
      }
      case BPF_JMP: {
        const opn = op & 0xf0;
        if (opn === BPF_JA) {
          pc += k;
          break;
        }
        const src = (op & BPF_X) !== 0 ? x : k;
        let taken: boolean;
        if (opn === BPF_JEQ) taken = a === src;
        else if (opn === BPF_JGT) taken = a > src;
        else if (opn === BPF_JGE) taken = a >= src;
        else taken = (a & src) !== 0; // BPF_JSET
        pc += taken ? jt : jf;
        break;
      }
      case BPF_RET:
        return (op & 0x18) === BPF_A ? a : k;
      case BPF_MISC:
        if ((op & 0xf8) === BPF_TXA) a = x;
        else x = a;
        break;
    }
  }
  return 0; // unreachable for a validated program: it ends in RET
}
