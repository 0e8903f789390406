/**
 * Socket filters (CONFIG_LPF_FILTER; net/core/filter.c): SO_ATTACH_FILTER copies a classic
 * BPF program into kernel memory, checks it as bpf_check_classic does, and from then on every
 * packet queued to the socket is run through it first (sk_filter_trim_cap): 0 drops the packet,
 * anything else is the number of bytes to keep.
 *
 * Memory: the sk_filter, the bpf_prog and its instructions are one kmalloc of
 * sizeof(sk_filter) + sizeof(bpf_prog) + 8 bytes per instruction (Linux 6.1 makes three
 * allocations — the sk_filter, a vmalloc'd bpf_prog holding the converted eBPF, and the saved
 * classic program — and this model keeps their struct sizes and the instruction bytes in one).
 * The program is also charged to the socket's option memory (sk_omem_alloc) against
 * net.core.optmem_max as __sk_filter_charge does, at bpf_prog_size() of the classic length
 * (6.1 charges the converted eBPF length, which is usually somewhat longer).
 *
 * Without LPF_FILTER this module is not constructed (stack.filter is null): SO_ATTACH_FILTER
 * and SO_DETACH_FILTER are unknown options (-ENOPROTOOPT) and receive paths run no filter.
 */
import type { NetStack } from '../net-stack.js';
import type { Prng } from '../../emulator/prng.js';
import type { Sock } from '../socket/sock.js';
import { bpfRun, bpfStats, isAncillary, type BpfPacket } from './bpf-interpreter.js';
import type { SkBuff } from './skbuff.js';
import { ETH_HLEN } from '../uapi/if-ether.js';
import { Errno } from '../uapi/errno.js';
import {
  BPF_ABS, BPF_ALU, BPF_B, BPF_DIV, BPF_H, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP,
  BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MAXINSNS, BPF_MEM, BPF_MEMWORDS, BPF_MOD, BPF_RET,
  BPF_RSH, BPF_ST, BPF_STX, BPF_W, BPF_X, SKF_AD_OFF, SOCK_FILTER_SIZE,
} from '../uapi/filter.js';

/** One instruction as tcpdump -dd prints it: { code, jt, jf, k } (k unsigned, or a negative int32 such as SKF_NET_OFF). */
export interface SockFilterInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/**
 * struct sock_fprog: the instructions as objects, or as the raw array of struct sock_filter
 * (8 bytes each, little-endian as on i386).
 */
export type SockFprog = readonly SockFilterInsn[] | Uint8Array;

/** net.core.optmem_max on a 32-bit kernel: sizeof(long) * (2 * UIO_MAXIOV + 512). */
export const OPTMEM_MAX = 4 * (2 * 1024 + 512);

/** sizeof(struct bpf_prog) and sizeof(struct sk_filter) when the calibration lacks them. */
const BPF_PROG_SIZE = 48;
const SK_FILTER_SIZE = 16;

/** The single allocation SO_ATTACH_FILTER makes for `len` instructions (see the header). */
export function skFilterAllocSize(structs: Readonly<Record<string, number>>, len: number): number {
  return (structs['sk_filter'] ?? SK_FILTER_SIZE) + (structs['bpf_prog'] ?? BPF_PROG_SIZE) + SOCK_FILTER_SIZE * len;
}

/** Opcodes chk_code_allowed accepts (net/core/filter.c). */
const ALLOWED = new Set<number>([
  ...[0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0].flatMap((op) => [BPF_ALU | op | BPF_K, BPF_ALU | op | BPF_X]),
  BPF_ALU | 0x80, // NEG
  BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS,
  BPF_LD | BPF_W | BPF_IND, BPF_LD | BPF_H | BPF_IND, BPF_LD | BPF_B | BPF_IND,
  BPF_LD | BPF_W | 0x80 /* LEN */, BPF_LD | 0x00 /* IMM */, BPF_LD | BPF_MEM,
  BPF_LDX | BPF_W | 0x80 /* LEN */, BPF_LDX | BPF_B | 0xa0 /* MSH */, BPF_LDX | 0x00 /* IMM */, BPF_LDX | BPF_MEM,
  BPF_ST, BPF_STX,
  0x07 /* MISC TAX */, 0x87 /* MISC TXA */,
  BPF_RET | BPF_K, BPF_RET | 0x10 /* A */,
  BPF_JMP | BPF_JA,
  ...[BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JSET].flatMap((op) => [BPF_JMP | op | BPF_K, BPF_JMP | op | BPF_X]),
]);

function isConditionalJump(code: number): boolean {
  return (code & 0x07) === BPF_JMP && (code & 0xf0) !== BPF_JA;
}

type InsnAt = (pc: number) => SockFilterInsn;

/** check_load_and_stores: a scratch cell may only be read on paths that stored to it first. */
function checkLoadAndStores(insn: InsnAt, flen: number): boolean {
  const masks = new Uint16Array(flen).fill(0xffff);
  let memvalid = 0;
  for (let pc = 0; pc < flen; pc++) {
    memvalid &= masks[pc]!;
    const f = insn(pc);
    if (f.code === BPF_ST || f.code === BPF_STX) memvalid |= 1 << f.k;
    else if (f.code === (BPF_LD | BPF_MEM) || f.code === (BPF_LDX | BPF_MEM)) {
      if ((memvalid & (1 << f.k)) === 0) return false;
    } else if (f.code === (BPF_JMP | BPF_JA)) {
      masks[pc + 1 + f.k]! &= memvalid;
      memvalid = 0xffff;
    } else if (isConditionalJump(f.code)) {
      masks[pc + 1 + f.jt]! &= memvalid;
      masks[pc + 1 + f.jf]! &= memvalid;
      memvalid = 0xffff;
    }
  }
  return true;
}

/**
 * bpf_check_classic: every opcode known, no division by a constant 0, shifts below 32,
 * scratch cells in range, jumps forward and inside the program (so it cannot loop), ancillary
 * loads known, the last instruction a RET, and no scratch cell read before it is written.
 */
export function bpfCheckClassic(insn: InsnAt, flen: number): boolean {
  if (flen === 0 || flen > BPF_MAXINSNS) return false;
  for (let pc = 0; pc < flen; pc++) {
    const f = insn(pc);
    if (!ALLOWED.has(f.code)) return false;
    switch (f.code) {
      case BPF_ALU | BPF_DIV | BPF_K:
      case BPF_ALU | BPF_MOD | BPF_K:
        if (f.k === 0) return false;
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K:
        if (f.k >= 32) return false;
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (f.k >= BPF_MEMWORDS) return false;
        break;
      case BPF_JMP | BPF_JA:
        if (f.k >= flen - pc - 1) return false;
        break;
      case BPF_LD | BPF_W | BPF_ABS:
      case BPF_LD | BPF_H | BPF_ABS:
      case BPF_LD | BPF_B | BPF_ABS:
        if (f.k >= SKF_AD_OFF && !isAncillary(f.k)) return false;
        break;
      default:
        if (isConditionalJump(f.code) && (pc + f.jt + 1 >= flen || pc + f.jf + 1 >= flen)) return false;
    }
  }
  const last = insn(flen - 1).code;
  if (last !== (BPF_RET | BPF_K) && last !== (BPF_RET | 0x10)) return false;
  return checkLoadAndStores(insn, flen);
}

function readInsn(b: Uint8Array, at: number): SockFilterInsn {
  return { code: b[at]! | (b[at + 1]! << 8), jt: b[at + 2]!, jf: b[at + 3]!, k: (b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16) | (b[at + 7]! << 24)) >>> 0 };
}

function isField(v: unknown, max: number, min = 0): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** The program's length in instructions, or -EINVAL when the user's array is malformed. */
function programLength(prog: SockFprog): number {
  if (prog instanceof Uint8Array) return prog.length % SOCK_FILTER_SIZE === 0 ? prog.length / SOCK_FILTER_SIZE : -Errno.EINVAL;
  if (!Array.isArray(prog)) return -Errno.EINVAL;
  for (const f of prog as readonly SockFilterInsn[]) {
    if (typeof f !== 'object' || f === null || !isField(f.code, 0xffff) || !isField(f.jt, 0xff) || !isField(f.jf, 0xff) || !isField(f.k, 0xffffffff, -0x80000000)) return -Errno.EINVAL;
  }
  return prog.length;
}

/** copy_from_user: the instructions as struct sock_filter bytes at `at` in RAM. */
function copyProgram(prog: SockFprog, ram: Uint8Array, at: number): void {
  if (prog instanceof Uint8Array) {
    ram.set(prog, at);
    return;
  }
  prog.forEach((f, i) => {
    const o = at + i * SOCK_FILTER_SIZE;
    ram[o] = f.code & 0xff;
    ram[o + 1] = f.code >>> 8;
    ram[o + 2] = f.jt;
    ram[o + 3] = f.jf;
    for (let j = 0; j < 4; j++) ram[o + 4 + j] = (f.k >>> (8 * j)) & 0xff;
  });
}

/** A filter attached to a socket: its allocation and program in RAM. */
interface SkFilter {
  addr: number;
  len: number;
  /** bpf_prog_size(len): what it charges to sk_omem_alloc. */
  charge: number;
}

export class SocketFilters {
  private readonly attached = new Map<Sock, SkFilter>();
  /** sk_omem_alloc of each socket holding a filter. */
  private readonly omem = new Map<Sock, number>();
  private rng: Prng | null = null;
  /** Filters attached now, and packets they dropped (all sockets), for the report. */
  live = 0;
  dropped = 0;

  constructor(private readonly stack: NetStack) {}

  private get structs(): Readonly<Record<string, number>> {
    return this.stack.env.structs;
  }

  /** sk_attach_filter: 0, or -EINVAL (bad program), -ENOMEM (no RAM, or over optmem_max). */
  attach(sk: Sock, prog: SockFprog): number {
    const len = programLength(prog);
    if (len < 0) return len;
    if (len === 0 || len > BPF_MAXINSNS) return -Errno.EINVAL; // bpf_check_basics_ok
    const mem = this.stack.env.mem;
    const addr = mem.kmalloc(skFilterAllocSize(this.structs, len), 'kernel'); // setsockopt: process context
    if (addr === 0) return -Errno.ENOMEM;
    const insns = addr + this.headerSize;
    copyProgram(prog, mem.bytes, insns);
    // The check reads the copy in kernel memory, not the caller's array.
    if (!bpfCheckClassic((pc) => readInsn(mem.bytes, insns + pc * SOCK_FILTER_SIZE), len)) {
      mem.kfree(addr);
      return -Errno.EINVAL;
    }
    // __sk_filter_charge: the new program is charged before the old one is released.
    const charge = (this.structs['bpf_prog'] ?? BPF_PROG_SIZE) + SOCK_FILTER_SIZE * len;
    const used = this.omem.get(sk) ?? 0;
    if (charge > OPTMEM_MAX || used + charge >= OPTMEM_MAX) {
      mem.kfree(addr);
      return -Errno.ENOMEM;
    }
    this.omem.set(sk, used + charge);
    const old = this.attached.get(sk);
    this.attached.set(sk, { addr, len, charge });
    this.live++;
    if (old) this.release(sk, old);
    return 0;
  }

  /** sk_detach_filter: 0, or -ENOENT when the socket has none. */
  detach(sk: Sock): number {
    const f = this.attached.get(sk);
    if (!f) return -Errno.ENOENT;
    this.attached.delete(sk);
    this.release(sk, f);
    return 0;
  }

  /** sk_destruct: a closing socket frees its filter. */
  socketClosed(sk: Sock): void {
    if (this.attached.has(sk)) this.detach(sk);
    this.omem.delete(sk);
  }

  has(sk: Sock): boolean {
    return this.attached.has(sk);
  }

  private release(sk: Sock, f: SkFilter): void {
    this.stack.env.mem.kfree(f.addr);
    this.live--;
    const left = (this.omem.get(sk) ?? 0) - f.charge;
    if (left > 0) this.omem.set(sk, left);
    else this.omem.delete(sk);
  }

  private get headerSize(): number {
    return (this.structs['sk_filter'] ?? SK_FILTER_SIZE) + (this.structs['bpf_prog'] ?? BPF_PROG_SIZE);
  }

  /** Reused per run: the program's place in RAM and the interpreter's environment. */
  private readonly prog: { bytes: Uint8Array; insns: number; len: number } = { bytes: new Uint8Array(0), insns: 0, len: 0 };
  private readonly bpfEnv = { random: (): number => this.random() };

  /** bpf_prog_run: the socket's filter over `packet`; `ifNone` when it has no filter. */
  verdict(sk: Sock, packet: BpfPacket, ifNone: number): number {
    const f = this.attached.get(sk);
    if (!f) return ifNone;
    const prog = this.prog;
    prog.bytes = this.stack.env.mem.bytes;
    prog.insns = f.addr + this.headerSize;
    prog.len = f.len;
    const before = bpfStats.insns;
    const res = bpfRun(prog, packet, this.bpfEnv);
    // The interpreter's cost: cycles per instruction executed (docs/cpu-model.md).
    const cpu = this.stack.env.cpu;
    cpu.charge(cpu.cycles.bpfInsn * (bpfStats.insns - before));
    if (res === 0) this.dropped++;
    return res;
  }

  /**
   * sk_filter_trim_cap: run the filter over the skb from `skb.data`; false when it drops the
   * packet, otherwise the skb is trimmed to what it keeps (never below `cap` bytes, so a
   * transport header survives). The caller frees and counts a dropped packet.
   */
  run(sk: Sock, skb: SkBuff, cap: number): boolean {
    if (!this.attached.has(sk)) return true;
    const res = this.verdict(sk, skbPacket(skb, skb.data, skb.networkHeader - ETH_HLEN), skb.len);
    if (res === 0) return false;
    skb.trim(Math.max(cap, res));
    return true;
  }

  /** SKF_AD_RANDOM's generator, split from the stack's only when a program first asks. */
  private random(): number {
    if (!this.rng) this.rng = this.stack.env.rng.split('bpf-random');
    return this.rng.nextU32();
  }
}

/**
 * The BpfPacket view of an skb with the program's offset 0 at `data`. `mac` is the link-layer
 * header (for a received frame, the Ethernet header in front of the network header); a value
 * before the buffer means there is none.
 */
export function skbPacket(skb: SkBuff, data: number, mac: number): BpfPacket {
  return {
    bytes: skb.bytes,
    data,
    len: skb.tail - data,
    head: skb.head,
    network: skb.networkHeader || skb.data,
    mac: mac >= skb.head ? mac : -1,
    protocol: skb.protocol,
    pktType: skb.pktType,
    ifindex: skb.ifindex,
  };
}
