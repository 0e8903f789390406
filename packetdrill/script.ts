/**
 * The script model: what a packetdrill script says, as typed events. The parser (parser.ts)
 * produces it; the runner (runner.ts) plays it against a board.
 */

/** When an event happens, in microseconds of script time. */
export interface TimeSpec {
  /** `0.1` absolute, `+0.1` relative to the previous event, `*` any time. */
  kind: 'absolute' | 'relative' | 'any';
  usecs: number;
  /** `a~b`: the event may happen anywhere in [a, b] (b in the same kind as a). */
  rangeEndUsecs?: number;
  /** `a...b` on a system call: it blocks from a and returns at b. */
  blockEnd?: { kind: 'absolute' | 'relative'; usecs: number };
}

export type OptionSpec =
  | { kind: 'nop' }
  | { kind: 'eol' }
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; value: number }
  | { kind: 'sackOK' }
  | { kind: 'sack'; blocks: Array<{ start: number; end: number }> }
  | { kind: 'TS'; val: number; ecr: number }
  /** Fast Open (option 34): cookie bytes, empty for a cookie request. */
  | { kind: 'FO'; cookie: Uint8Array };

export interface TcpPacketSpec {
  /** '<' injected into the board, '>' sent by the board. */
  direction: '<' | '>';
  /** Flag letters as written: S F R P . (ACK) U E W. */
  flags: string;
  seq: number;
  end: number;
  len: number;
  ack?: number;
  win?: number;
  /** null: no options; 'any': `<...>`. */
  options: OptionSpec[] | 'any' | null;
}

/** A system-call argument or result as written. */
export type Expr =
  | { kind: 'int'; value: number }
  | { kind: 'ellipsis' }
  | { kind: 'name'; name: string }
  | { kind: 'or'; parts: Expr[] }
  | { kind: 'array'; items: Expr[] }
  | { kind: 'struct'; fields: Array<{ name: string; value: Expr }> }
  | { kind: 'string'; value: string };

export interface SyscallSpec {
  name: string;
  args: Expr[];
  /** Expected return value (`...` accepts any). */
  result: Expr;
  /** Expected errno name when the result is -1. */
  errno?: string;
}

/** One `assert tcpi_X OP N` line of an inline %{ }% block. */
export interface TcpInfoAssert {
  field: string;
  op: '==' | '!=' | '<' | '<=' | '>' | '>=';
  value: number;
  text: string;
}

export type ScriptEvent =
  | { kind: 'packet'; line: number; time: TimeSpec; packet: TcpPacketSpec }
  | { kind: 'syscall'; line: number; time: TimeSpec; call: SyscallSpec }
  | { kind: 'assert'; line: number; time: TimeSpec; asserts: TcpInfoAssert[] };

/** A backtick command before (or among) the events. */
export interface ShellCommand {
  line: number;
  command: string;
}

export interface Script {
  path: string;
  events: ScriptEvent[];
  shell: ShellCommand[];
  /** Constructs the runner does not model; a script with any is reported unsupported. */
  unsupported: Array<{ line: number; what: string }>;
  /** Kconfig symbols named by `// quarklab: requires SYMBOL` comments. */
  requires: Array<{ line: number; symbol: string }>;
}

/** A malformed script: one line, `script:line: message`. */
export class ScriptError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
    message: string,
  ) {
    super(`${path}:${line}: ${message}`);
  }
}
