/**
 * Board definition files (boards/*.json): loading and validation.
 *
 * A board file is user input: every field is checked for presence and type, and the first
 * problem comes back as one line naming the file, the field and the expected type.
 * boards/board.schema.json publishes the same rules for editors; test/board-config.test.ts
 * keeps the two in step.
 */
export interface CpuCycleTable {
  /** Taking an interrupt and scheduling NAPI. */
  irq: number;
  /** Driver work per received frame: descriptor, skb build, ring refill. */
  rxFrame: number;
  /** Driver work per transmitted frame: descriptor, doorbell, completion. */
  txFrame: number;
  /** Protocol work per packet above the driver (IP, transport demux, socket). */
  protocolPacket: number;
  /** Checksumming, per byte. */
  checksumByte: number;
  /** Copying between socket buffers and programs, per byte. */
  copyByte: number;
  /** Optional (defaults in emulator/cpu.ts): one classic BPF instruction executed by a socket filter. */
  bpfInsn?: number;
  /** Optional: one kernel timer expiring (softirq entry, callback dispatch). */
  timer?: number;
  /** Optional: GRO comparing a segment with the held one and merging it. */
  groSegment?: number;
}

export interface BoardConfig {
  name: string;
  description: string;
  ramBytes: number;
  flashBytes: number;
  /** Which measured kernel build of the cost table is the kernel core without networking. */
  kernelCore: string;
  /** Text runs in place from flash (XIP), so only data and bss are copied to RAM. */
  executeInPlace: boolean;
  cpu: { clockHz: number; cycles: CpuCycleTable };
  mac: {
    address: string;
    linkSpeedMbps: number;
    rxRingSize: number;
    txRingSize: number;
    rxBufferBytes: number;
    napiWeight: number;
    /** RX interrupt coalescing (ethtool -C rx-usecs / rx-frames); 0 µs is an interrupt per frame. */
    rxCoalesceUsecs: number;
    rxCoalesceFrames: number;
  };
  /** Default RAM reserved for each board program that runs: text, stack and heap. */
  programDefaults: { textBytes: number; stackBytes: number; heapBytes: number };
  /**
   * Optional sysctl values set at boot (as `sysctl.KEY=VALUE` on the kernel command line),
   * e.g. "net.ipv4.tcp_congestion_control": "reno". The stack checks names and values at boot.
   */
  sysctl?: Record<string, string | number>;
}

export type BoardResult = { board: BoardConfig } | { error: string };

type FieldType = 'string' | 'name' | 'integer' | 'number' | 'boolean' | 'mac';
interface FieldRule {
  path: string;
  type: FieldType;
  min?: number;
  max?: number;
  oneOf?: readonly number[];
  /** The value must be a whole multiple of this (RAM in pages, flash in erase sectors). */
  multipleOf?: number;
  maxLength?: number;
}

/** The page size of the board's MMU and the flash's erase sector: both 4 KiB. */
export const PAGE_BYTES = 4096;

/** Every field a board file must have; the schema file lists the same ones. */
export const BOARD_FIELDS: readonly FieldRule[] = [
  { path: 'name', type: 'name' },
  { path: 'description', type: 'string', maxLength: 200 },
  { path: 'ramBytes', type: 'integer', min: 1 << 20, max: 1 << 30, multipleOf: PAGE_BYTES },
  { path: 'flashBytes', type: 'integer', min: 1 << 16, max: 1 << 30, multipleOf: PAGE_BYTES },
  { path: 'kernelCore', type: 'name' },
  { path: 'executeInPlace', type: 'boolean' },
  { path: 'cpu.clockHz', type: 'integer', min: 1_000_000 },
  { path: 'cpu.cycles.irq', type: 'number', min: 0 },
  { path: 'cpu.cycles.rxFrame', type: 'number', min: 0 },
  { path: 'cpu.cycles.txFrame', type: 'number', min: 0 },
  { path: 'cpu.cycles.protocolPacket', type: 'number', min: 0 },
  { path: 'cpu.cycles.checksumByte', type: 'number', min: 0 },
  { path: 'cpu.cycles.copyByte', type: 'number', min: 0 },
  { path: 'mac.address', type: 'mac' },
  { path: 'mac.linkSpeedMbps', type: 'integer', oneOf: [10, 100, 1000] },
  { path: 'mac.rxRingSize', type: 'integer', min: 2, max: 4096 },
  { path: 'mac.txRingSize', type: 'integer', min: 2, max: 4096 },
  { path: 'mac.rxBufferBytes', type: 'integer', min: 1518, max: 16384 },
  { path: 'mac.napiWeight', type: 'integer', min: 1, max: 1024 },
  { path: 'mac.rxCoalesceUsecs', type: 'integer', min: 0, max: 100000 },
  { path: 'mac.rxCoalesceFrames', type: 'integer', min: 1, max: 4096 },
  { path: 'programDefaults.textBytes', type: 'integer', min: 0 },
  { path: 'programDefaults.stackBytes', type: 'integer', min: 0 },
  { path: 'programDefaults.heapBytes', type: 'integer', min: 0 },
];

/** Cycle-table entries a board file may leave out (emulator/cpu.ts has their defaults). */
export const OPTIONAL_CYCLES = ['bpfInsn', 'timer', 'groSegment'] as const;

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
/** Names go into the image header's 32-byte fields and into reports: printable ASCII. */
const NAME_RE = /^[\x21-\x7e](?:[\x20-\x7e]{0,30}[\x21-\x7e])?$/;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.length > 24 ? v.slice(0, 24) + '…' : v}"`;
  return typeof v === 'object' ? 'an object' : String(v);
}

function lookup(root: unknown, path: string): { found: boolean; value: unknown } {
  let cur: unknown = root;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !(key in (cur as object))) {
      return { found: false, value: undefined };
    }
    cur = (cur as Record<string, unknown>)[key];
  }
  return { found: true, value: cur };
}

function checkField(rule: FieldRule, value: unknown): string | null {
  switch (rule.type) {
    case 'string':
      if (typeof value !== 'string' || value.length === 0) return 'a non-empty string';
      return rule.maxLength !== undefined && value.length > rule.maxLength ? `a string of at most ${rule.maxLength} characters` : null;
    case 'name':
      return typeof value === 'string' && NAME_RE.test(value) ? null : 'a name of 1 to 32 printable ASCII characters';
    case 'boolean':
      return typeof value === 'boolean' ? null : 'true or false';
    case 'mac': {
      if (typeof value !== 'string' || !MAC_RE.test(value)) return 'a MAC address like "02:00:00:00:00:01"';
      const octets = parseMac(value);
      // A station address is unicast (I/G bit clear) and not all zero (is_valid_ether_addr).
      if ((octets[0]! & 1) !== 0) return 'a unicast MAC address (this one is multicast: the low bit of the first octet is set)';
      if (octets.every((o) => o === 0)) return 'a MAC address other than 00:00:00:00:00:00';
      return null;
    }
    case 'integer':
    case 'number': {
      const kind = rule.type === 'integer' ? 'an integer' : 'a number';
      if (typeof value !== 'number' || !Number.isFinite(value) || (rule.type === 'integer' && !Number.isInteger(value))) {
        return kind;
      }
      if (rule.oneOf && !rule.oneOf.includes(value)) return `one of ${rule.oneOf.join(', ')}`;
      if (rule.min !== undefined && value < rule.min) return `${kind} ≥ ${rule.min}`;
      if (rule.max !== undefined && value > rule.max) return `${kind} ≤ ${rule.max}`;
      if (rule.multipleOf !== undefined && value % rule.multipleOf !== 0) return `a multiple of ${rule.multipleOf} (the page size)`;
      return null;
    }
  }
}

/** Validate parsed JSON as a board; `source` names the file in messages. */
export function validateBoard(json: unknown, source: string): BoardResult {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { error: `${source}: a board file must be a JSON object` };
  }
  for (const rule of BOARD_FIELDS) {
    const { found, value } = lookup(json, rule.path);
    const expected = checkField(rule, value);
    if (!found) return { error: `${source}: missing field "${rule.path}" (expected ${expected})` };
    if (expected) return { error: `${source}: field "${rule.path}" is ${describe(value)}, expected ${expected}` };
  }
  const board = json as BoardConfig;
  for (const key of OPTIONAL_CYCLES) {
    const v = (board.cpu.cycles as unknown as Record<string, unknown>)[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) return { error: `${source}: field "cpu.cycles.${key}" is ${describe(v)}, expected a number ≥ 0` };
  }
  const sysctl = (json as { sysctl?: unknown }).sysctl;
  if (sysctl !== undefined) {
    if (sysctl === null || typeof sysctl !== 'object' || Array.isArray(sysctl)) return { error: `${source}: field "sysctl" is ${describe(sysctl)}, expected an object of sysctl names and values` };
    for (const [k, v] of Object.entries(sysctl)) {
      if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) return { error: `${source}: field "sysctl.${k}" is ${describe(v)}, expected a string or a number` };
    }
  }
  if (board.mac.rxBufferBytes < 1518) return { error: `${source}: field "mac.rxBufferBytes" is too small for a full frame` };
  return { board };
}

/** A board file's text (already read, BOM dropped) → a validated board. */
export function parseBoardText(text: string, source: string): BoardResult {
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    return { error: `${source}: not valid JSON (${(e as Error).message.split('\n')[0]})` };
  }
  return validateBoard(json, source);
}

export function parseMac(text: string): Uint8Array {
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}
