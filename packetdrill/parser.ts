/**
 * Lexer and parser for packetdrill's script language (TCP over IPv4): times (absolute,
 * relative, ranged, blocking), inbound and outbound TCP packets with flags, sequence ranges,
 * ack, window and options, system calls with packetdrill's argument expressions, backtick
 * shell commands and inline %{ }% blocks. Anything that is valid packetdrill but outside what
 * the runner models is recorded as unsupported (with its line), never silently dropped;
 * anything malformed is a ScriptError naming script:line.
 */
import { ScriptError, type Expr, type OptionSpec, type Script, type ScriptEvent, type SyscallSpec, type TcpInfoAssert, type TcpPacketSpec, type TimeSpec } from './script.js';

type TokType = 'num' | 'ident' | 'punct' | 'ellipsis' | 'string' | 'backtick' | 'code' | 'eof';

interface Token {
  type: TokType;
  text: string;
  line: number;
  /** Whitespace (or a line break) came before this token. */
  space: boolean;
}

const PUNCT = '+~<>()[]{},=:|-*!/&.;';

export function tokenize(path: string, src: string): { tokens: Token[]; requires: Script['requires'] } {
  const tokens: Token[] = [];
  const requires: Script['requires'] = [];
  let i = 0;
  let line = 1;
  let space = true;
  const err = (msg: string): never => {
    throw new ScriptError(path, line, msg);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      line++;
      i++;
      space = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      space = true;
      continue;
    }
    if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      const text = src.slice(i + 2, end < 0 ? src.length : end);
      const m = /^\s*quarklab:\s*requires\s+([A-Z0-9_ ]+)\s*$/.exec(text);
      if (m) for (const s of m[1]!.trim().split(/\s+/)) requires.push({ line, symbol: s });
      i = end < 0 ? src.length : end;
      continue;
    }
    if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) err('unterminated /* comment');
      for (let k = i; k < end; k++) if (src[k] === '\n') line++;
      i = end + 2;
      space = true;
      continue;
    }
    const start = line;
    const push = (type: TokType, text: string): void => {
      tokens.push({ type, text, line: start, space });
      space = false;
    };
    if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) err('unterminated ` command');
      const text = src.slice(i + 1, end);
      push('backtick', text);
      for (const ch of text) if (ch === '\n') line++;
      i = end + 1;
      continue;
    }
    if (src.startsWith('%{', i)) {
      const end = src.indexOf('}%', i + 2);
      if (end < 0) err('unterminated %{ block');
      const text = src.slice(i + 2, end);
      push('code', text);
      for (const ch of text) if (ch === '\n') line++;
      i = end + 2;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\n') err('unterminated string');
        if (src[j] === '\\' && j + 1 < src.length) {
          const e = src[j + 1]!;
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === '0' ? '\0' : e;
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) err('unterminated string');
      push('string', s);
      i = j + 1;
      continue;
    }
    if (src.startsWith('...', i)) {
      push('ellipsis', '...');
      i += 3;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      let j = i;
      if (src.startsWith('0x', i) || src.startsWith('0X', i)) {
        j += 2;
        while (/[0-9a-fA-F]/.test(src[j] ?? '')) j++;
      } else {
        while (/[0-9]/.test(src[j] ?? '')) j++;
        if (src[j] === '.' && !src.startsWith('...', j)) {
          j++;
          while (/[0-9]/.test(src[j] ?? '')) j++;
        }
      }
      push('num', src.slice(i, j));
      i = j;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (/[A-Za-z0-9_]/.test(src[j] ?? '')) j++;
      push('ident', src.slice(i, j));
      i = j;
      continue;
    }
    if (PUNCT.includes(c)) {
      push('punct', c);
      i++;
      continue;
    }
    err(`unexpected character '${c}'`);
  }
  tokens.push({ type: 'eof', text: '', line, space: true });
  return { tokens, requires };
}

/** Seconds as written (`1`, `0.1`, `.1`) to whole microseconds. */
function usecsOf(text: string): number {
  const [whole, frac = ''] = text.split('.');
  return Number(whole || '0') * 1_000_000 + Number((frac + '000000').slice(0, 6));
}

function intOf(text: string): number {
  return text.startsWith('0x') || text.startsWith('0X') ? parseInt(text.slice(2), 16) : Number(text);
}

const ASSERT_LINE = /^assert\s+(tcpi_[a-z_]+)\s*(==|!=|<=|>=|<|>)\s*(-?\d+)\s*(?:,.*)?$/;

class Parser {
  private pos = 0;
  readonly events: ScriptEvent[] = [];
  readonly shell: Script['shell'] = [];
  readonly unsupported: Script['unsupported'] = [];

  constructor(
    private readonly path: string,
    private readonly toks: Token[],
  ) {}

  private get tok(): Token {
    return this.toks[this.pos]!;
  }

  private next(): Token {
    const t = this.toks[this.pos]!;
    if (t.type !== 'eof') this.pos++;
    return t;
  }

  private err(msg: string, t: Token = this.tok): never {
    throw new ScriptError(this.path, t.line, msg);
  }

  private isPunct(c: string, t: Token = this.tok): boolean {
    return t.type === 'punct' && t.text === c;
  }

  private expectPunct(c: string, what: string): void {
    if (!this.isPunct(c)) this.err(`expected '${c}' ${what}, found ${this.describe(this.tok)}`);
    this.next();
  }

  private describe(t: Token): string {
    return t.type === 'eof' ? 'end of script' : `'${t.text.length > 20 ? t.text.slice(0, 20) + '…' : t.text}'`;
  }

  private num(what: string): number {
    const neg = this.isPunct('-');
    if (neg) this.next();
    const t = this.tok;
    if (t.type !== 'num' || t.text.includes('.')) this.err(`expected an integer ${what}, found ${this.describe(t)}`);
    this.next();
    const v = intOf(t.text);
    return neg ? -v : v;
  }

  /** Skip the rest of the current event's line (for a construct recorded as unsupported). */
  private skipLine(line: number): void {
    let depth = 0;
    while (this.tok.type !== 'eof' && (this.tok.line === line || depth > 0)) {
      if (this.isPunct('(') || this.isPunct('[') || this.isPunct('{')) depth++;
      if (this.isPunct(')') || this.isPunct(']') || this.isPunct('}')) depth = Math.max(0, depth - 1);
      this.next();
    }
  }

  parse(): void {
    while (this.tok.type !== 'eof') this.event();
  }

  private event(): void {
    const first = this.tok;
    if (first.type === 'backtick') {
      this.next();
      this.shell.push({ line: first.line, command: first.text.trim() });
      return;
    }
    if (first.type === 'code') {
      this.next();
      this.codeBlock(first, { kind: 'relative', usecs: 0 });
      return;
    }
    const time = this.time();
    const t = this.tok;
    if (t.type === 'backtick') {
      this.next();
      this.shell.push({ line: t.line, command: t.text.trim() });
      return;
    }
    if (t.type === 'code') {
      this.next();
      this.codeBlock(t, time);
      return;
    }
    if (this.isPunct('<') || this.isPunct('>')) {
      const pkt = this.packet();
      if (pkt) this.events.push({ kind: 'packet', line: first.line, time, packet: pkt });
      return;
    }
    if (t.type === 'ident') {
      const call = this.syscall();
      if (call) this.events.push({ kind: 'syscall', line: first.line, time, call });
      return;
    }
    this.err(`expected a packet, a system call or a command after the time, found ${this.describe(t)}`);
  }

  private codeBlock(t: Token, time: TimeSpec): void {
    const asserts: TcpInfoAssert[] = [];
    const lines = t.text.split('\n');
    for (let k = 0; k < lines.length; k++) {
      const text = lines[k]!.trim();
      if (text === '' || text.startsWith('#')) continue;
      const m = ASSERT_LINE.exec(text);
      if (!m) {
        this.unsupported.push({ line: t.line + k, what: `inline Python other than 'assert tcpi_FIELD OP N': ${text}` });
        continue;
      }
      asserts.push({ field: m[1]!, op: m[2] as TcpInfoAssert['op'], value: Number(m[3]), text });
    }
    if (asserts.length > 0) this.events.push({ kind: 'assert', line: t.line, time, asserts });
  }

  private time(): TimeSpec {
    const t = this.tok;
    if (this.isPunct('*')) {
      this.next();
      return { kind: 'any', usecs: 0 };
    }
    const one = (): { kind: 'absolute' | 'relative'; usecs: number } => {
      let kind: 'absolute' | 'relative' = 'absolute';
      if (this.isPunct('+')) {
        kind = 'relative';
        this.next();
      }
      const n = this.tok;
      if (n.type !== 'num') this.err(`expected a time, found ${this.describe(n)}`, n);
      this.next();
      return { kind, usecs: usecsOf(n.text) };
    };
    if (t.type !== 'num' && !this.isPunct('+')) this.err(`expected a time, found ${this.describe(t)}`);
    const start = one();
    const spec: TimeSpec = { kind: start.kind, usecs: start.usecs };
    if (this.isPunct('~')) {
      this.next();
      const end = one();
      spec.rangeEndUsecs = end.usecs;
      if (end.usecs < (end.kind === start.kind ? start.usecs : 0)) this.err('time range ends before it starts');
    }
    if (this.tok.type === 'ellipsis' && !this.tok.space) {
      this.next();
      spec.blockEnd = one();
    }
    return spec;
  }

  private packet(): TcpPacketSpec | null {
    const dirTok = this.next();
    const direction = dirTok.text as '<' | '>';
    const line = dirTok.line;
    const t = this.tok;
    if (t.type === 'ident' && ['udp', 'icmp', 'UDP', 'ICMP', 'ipv6', 'ip6'].includes(t.text)) {
      this.unsupported.push({ line, what: `${t.text} packet (only TCP over IPv4 is modelled)` });
      this.skipLine(line);
      return null;
    }
    if (this.isPunct('[') || this.isPunct('(')) {
      this.unsupported.push({ line, what: 'packet with an IP-layer prefix (encapsulation, ECN or TOS spec)' });
      this.skipLine(line);
      return null;
    }
    // Flags: letters and '.', written together.
    let flags = '';
    if (!(t.type === 'ident' || this.isPunct('.'))) this.err(`expected TCP flags after '${direction}', found ${this.describe(t)}`);
    flags += this.next().text;
    while ((this.tok.type === 'ident' || this.isPunct('.')) && !this.tok.space) flags += this.next().text;
    if (!/^[SFRP.UEWN]+$/.test(flags)) this.err(`bad TCP flags '${flags}' (S F R P . U E W)`);
    const seq = this.num('start sequence number');
    this.expectPunct(':', 'in the sequence range');
    const end = this.num('end sequence number');
    this.expectPunct('(', 'before the payload length');
    const len = this.num('payload length');
    this.expectPunct(')', 'after the payload length');
    if (((end - seq) >>> 0) !== len >>> 0) this.err(`sequence range ${seq}:${end} does not match payload length ${len}`);
    const pkt: TcpPacketSpec = { direction, flags, seq: seq >>> 0, end: end >>> 0, len, options: null };
    while (this.tok.type !== 'eof' && this.tok.line === line) {
      const w = this.tok;
      if (w.type === 'ident' && w.text === 'ack') {
        this.next();
        pkt.ack = this.num('after ack') >>> 0;
      } else if (w.type === 'ident' && w.text === 'win') {
        this.next();
        pkt.win = this.num('after win');
        if (pkt.win < 0 || pkt.win > 65535) this.err(`window ${pkt.win} does not fit 16 bits`, w);
      } else if (this.isPunct('<')) {
        this.next();
        pkt.options = this.options(line);
        if (pkt.options === null) return null;
      } else if (w.type === 'ident' && (w.text === 'urg' || w.text === 'ect0' || w.text === 'ect1' || w.text === 'ce')) {
        this.unsupported.push({ line, what: `packet attribute '${w.text}'` });
        this.skipLine(line);
        return null;
      } else this.err(`unexpected ${this.describe(w)} in TCP packet`);
    }
    return pkt;
  }

  private options(line: number): OptionSpec[] | 'any' | null {
    if (this.tok.type === 'ellipsis') {
      this.next();
      this.expectPunct('>', 'after <...');
      return 'any';
    }
    const out: OptionSpec[] = [];
    for (;;) {
      const t = this.next();
      if (t.type !== 'ident') this.err(`expected a TCP option name, found ${this.describe(t)}`, t);
      switch (t.text) {
        case 'nop':
          out.push({ kind: 'nop' });
          break;
        case 'eol':
          out.push({ kind: 'eol' });
          break;
        case 'mss':
          out.push({ kind: 'mss', value: this.num('after mss') });
          break;
        case 'wscale':
          out.push({ kind: 'wscale', value: this.num('after wscale') });
          break;
        case 'sackOK':
          out.push({ kind: 'sackOK' });
          break;
        case 'sack': {
          const blocks: Array<{ start: number; end: number }> = [];
          while (this.tok.type === 'num' || this.isPunct('-')) {
            const start = this.num('SACK block start') >>> 0;
            this.expectPunct(':', 'in a SACK block');
            blocks.push({ start, end: this.num('SACK block end') >>> 0 });
          }
          if (blocks.length === 0) this.err('sack option without blocks', t);
          out.push({ kind: 'sack', blocks });
          break;
        }
        case 'TS': {
          const v = this.next();
          if (v.type !== 'ident' || v.text !== 'val') this.err(`expected 'val' after TS, found ${this.describe(v)}`, v);
          const val = this.num('after TS val') >>> 0;
          const e = this.next();
          if (e.type !== 'ident' || e.text !== 'ecr') this.err(`expected 'ecr' after the TS value, found ${this.describe(e)}`, e);
          out.push({ kind: 'TS', val, ecr: this.num('after ecr') >>> 0 });
          break;
        }
        case 'FO': {
          let hex = '';
          if (this.tok.type === 'num' || this.tok.type === 'ident') {
            hex += this.next().text;
            while ((this.tok.type === 'num' || this.tok.type === 'ident') && !this.tok.space) hex += this.next().text;
          }
          if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex) || hex.length > 32) this.err(`bad Fast Open cookie '${hex}' (an even number of hex digits, at most 16 bytes)`, t);
          const cookie = new Uint8Array(hex.length / 2);
          for (let k = 0; k < cookie.length; k++) cookie[k] = parseInt(hex.slice(2 * k, 2 * k + 2), 16);
          out.push({ kind: 'FO', cookie });
          break;
        }
        case 'FOEXP':
        case 'md5':
        case 'exp':
        case 'mpcapable':
        case 'dss':
        case 'tcpao':
          this.unsupported.push({ line, what: `TCP option '${t.text}'` });
          this.skipLine(line);
          return null;
        default:
          this.err(`unknown TCP option '${t.text}'`, t);
      }
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      this.expectPunct('>', 'to close the option list');
      return out;
    }
  }

  private syscall(): SyscallSpec | null {
    const nameTok = this.next();
    const name = nameTok.text;
    this.expectPunct('(', `after system call name ${name}`);
    const args: Expr[] = [];
    if (!this.isPunct(')')) {
      for (;;) {
        args.push(this.expr());
        if (this.isPunct(',')) {
          this.next();
          continue;
        }
        break;
      }
    }
    this.expectPunct(')', `to close the arguments of ${name}`);
    this.expectPunct('=', `before the expected result of ${name}`);
    const result = this.expr();
    const call: SyscallSpec = { name, args, result };
    if (this.tok.type === 'ident' && this.tok.line === nameTok.line && /^E[A-Z0-9]+$/.test(this.tok.text)) call.errno = this.next().text;
    if (this.isPunct('(') && this.tok.line === nameTok.line) {
      // The strerror text: free words up to the closing parenthesis.
      let depth = 0;
      do {
        if (this.isPunct('(')) depth++;
        if (this.isPunct(')')) depth--;
        if (this.tok.type === 'eof') this.err('unterminated error description');
        this.next();
      } while (depth > 0);
    }
    if (result.kind === 'int' && result.value === -1 && !call.errno) this.err(`${name} expected to fail (-1) without an errno name`, nameTok);
    return call;
  }

  private expr(): Expr {
    const first = this.primary();
    if (!this.isPunct('|')) return first;
    const parts = [first];
    while (this.isPunct('|')) {
      this.next();
      parts.push(this.primary());
    }
    return { kind: 'or', parts };
  }

  private primary(): Expr {
    const t = this.tok;
    if (this.isPunct('-') || t.type === 'num') return { kind: 'int', value: this.num('') };
    if (t.type === 'ellipsis') {
      this.next();
      return { kind: 'ellipsis' };
    }
    if (t.type === 'string') {
      this.next();
      return { kind: 'string', value: t.text };
    }
    if (t.type === 'ident') {
      this.next();
      if (this.isPunct('(') && !this.tok.space) {
        // htons(8080), inet_addr("…"), sizeof(…): a function-style value.
        this.next();
        const inner: Expr[] = [];
        while (!this.isPunct(')')) {
          inner.push(this.expr());
          if (this.isPunct(',')) this.next();
          else if (!this.isPunct(')')) this.err(`expected ',' or ')' in ${t.text}(…)`);
        }
        this.next();
        if (t.text === 'htons' && inner[0]?.kind === 'int') return inner[0];
        if (t.text === 'inet_addr' && inner[0]?.kind === 'string') return inner[0];
        return { kind: 'name', name: `${t.text}(…)` };
      }
      return { kind: 'name', name: t.text };
    }
    if (this.isPunct('[')) {
      this.next();
      const items: Expr[] = [];
      while (!this.isPunct(']')) {
        items.push(this.expr());
        if (this.isPunct(',')) this.next();
        else if (!this.isPunct(']')) this.err(`expected ',' or ']' in an array, found ${this.describe(this.tok)}`);
      }
      this.next();
      return { kind: 'array', items };
    }
    if (this.isPunct('{')) {
      this.next();
      const fields: Array<{ name: string; value: Expr }> = [];
      while (!this.isPunct('}')) {
        if (this.tok.type === 'ellipsis') {
          this.next();
        } else {
          const f = this.next();
          if (f.type !== 'ident') this.err(`expected a field name in a struct, found ${this.describe(f)}`, f);
          this.expectPunct('=', `after field ${f.text}`);
          fields.push({ name: f.text, value: this.expr() });
        }
        if (this.isPunct(',')) this.next();
        else if (!this.isPunct('}')) this.err(`expected ',' or '}' in a struct, found ${this.describe(this.tok)}`);
      }
      this.next();
      return { kind: 'struct', fields };
    }
    this.err(`expected an expression, found ${this.describe(t)}`);
  }
}

/** Parse a script's text; throws ScriptError (script:line: message) when it is malformed. */
export function parseScript(path: string, src: string): Script {
  const { tokens, requires } = tokenize(path, src);
  const p = new Parser(path, tokens);
  p.parse();
  return { path, events: p.events, shell: p.shell, unsupported: p.unsupported, requires };
}
