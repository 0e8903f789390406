/**
 * Kconfig fragments → profiles.
 *
 * A profile file is a Kconfig fragment, as `merge_config.sh` takes them:
 *
 *   CONFIG_X=y             turn X on
 *   CONFIG_X=n             turn X off
 *   # CONFIG_X is not set  turn X off (what `make savedefconfig` writes)
 *   # anything else        comment
 *   (blank lines)
 *
 * plus one quarklab extension, allowed only before the first CONFIG_ line:
 *
 *   # base: client         start from a built-in profile and change symbols
 *
 * and one that may stand anywhere, at most once (docs/calibration.md, "LTO"):
 *
 *   # lto-factor: 0.62     a measured LTO factor: stack text linked with LTO / summed object
 *                          text; only the reported "text after LTO" estimate uses it, and it
 *                          is never inherited from a base nor guessed when absent
 *
 * Symbols a file does not mention are off, or keep the base's value. All symbols are bool:
 * the board has no module loader, so `=m` is refused. Setting one member of a choice (FIB_TRIE /
 * FIB_LIST) to y switches off the member the base had, as Kconfig does for choices; a choice
 * with a default (the slab allocator: SLOB) that no line or base sets takes its default.
 *
 * The file is user input: every problem comes back as `{ error }`, one line naming the file,
 * the line and the problem; nothing here throws on bad input.
 */
import { SYMBOLS, findSymbol, symbolNames, unmodelledSymbols, type KconfigSymbol } from './symbols.js';

export interface Profile {
  name: string;
  /** Every modelled symbol, keys sorted: true when y. */
  symbols: Record<string, boolean>;
  /** The symbols that are y, sorted. */
  enabled: string[];
  /** The file it was read from. */
  source: string;
  /** The built-in profile a user fragment started from, if any. */
  base?: string;
  /** A measured LTO factor stated by `# lto-factor:` in this file (see scripts/lto.ts). */
  ltoFactor?: number;
}

export interface KconfigError {
  error: string;
}

export interface ParseOptions {
  /** Profile name; defaults to the file's base name without `.config`. */
  name?: string;
  /** Resolves `# base: NAME`. Without it a base line is an error. */
  resolveBase?: (name: string) => Profile | KconfigError;
}

/** Bounds on what we read: a real fragment is a few hundred bytes. */
export const MAX_FRAGMENT_BYTES = 64 * 1024;
const MAX_LINE_CHARS = 512;

export function isKconfigError(x: unknown): x is KconfigError {
  return typeof x === 'object' && x !== null && typeof (x as KconfigError).error === 'string';
}

/** Where a symbol's value came from: a line of this file, or the base profile. */
type Origin = { line: number } | { base: string } | null;

export function parseKconfig(text: string, file: string, opts: ParseOptions = {}): Profile | KconfigError {
  const fail = (msg: string): KconfigError => ({ error: `${file}: ${msg}` });
  if (text.length > MAX_FRAGMENT_BYTES) {
    return fail(`too large (${text.length} characters; a fragment is at most ${MAX_FRAGMENT_BYTES})`);
  }
  const lines = text.split('\n');

  let base: Profile | undefined;
  let lto: { factor: number; line: number } | undefined;
  let sawAssignment = false;
  const explicit = new Map<string, { value: boolean; line: number }>();

  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const raw = lines[i]!;
    if (raw.length > MAX_LINE_CHARS) return fail(`line ${n} is longer than ${MAX_LINE_CHARS} characters`);
    const line = raw.trim();
    if (line === '') continue;

    const baseMatch = /^#\s*base:\s*(.*)$/.exec(line);
    if (baseMatch) {
      const wanted = baseMatch[1]!.trim();
      if (sawAssignment) return fail(`'# base:' must come before any CONFIG_ line (line ${n})`);
      if (base) return fail(`second '# base:' line at line ${n}`);
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(wanted)) return fail(`bad base profile name ${quote(wanted)} at line ${n}`);
      if (!opts.resolveBase) return fail(`'# base:' at line ${n} is only allowed in user fragments`);
      const resolved = opts.resolveBase(wanted);
      if (isKconfigError(resolved)) return fail(`${resolved.error} at line ${n}`);
      base = resolved;
      continue;
    }

    const ltoMatch = /^#\s*lto-factor:\s*(.*)$/.exec(line);
    if (ltoMatch) {
      const f = parseLtoFactor(ltoMatch[1]!.trim());
      if (f === null) return fail(`bad lto-factor ${quote(ltoMatch[1]!.trim())} at line ${n}: give a measured ratio such as 0.62 (above 0, at most 2)`);
      if (lto) return fail(`second '# lto-factor:' line at line ${n} (first at line ${lto.line})`);
      lto = { factor: f, line: n };
      continue;
    }

    let name: string;
    let valueText: string;
    const notSet = /^#\s*CONFIG_(\S+) is not set$/.exec(line);
    const assign = /^CONFIG_([^=\s]+)=(.*)$/.exec(line);
    if (notSet) {
      name = notSet[1]!;
      valueText = 'n';
    } else if (line.startsWith('#')) {
      continue;
    } else if (assign) {
      name = assign[1]!;
      valueText = assign[2]!.trim();
    } else {
      return fail(`cannot parse line ${n}: ${quote(line)}; expected CONFIG_NAME=y, CONFIG_NAME=n or '# CONFIG_NAME is not set'`);
    }
    sawAssignment = true;

    if (valueText === 'm') {
      return fail(`CONFIG_${name}=m at line ${n}: modules are not supported on this board (no module loader); use y or n`);
    }
    if (valueText !== 'y' && valueText !== 'n') {
      return fail(`CONFIG_${name}=${clip(valueText)} at line ${n}: quarklab's networking symbols are bool; use y or n`);
    }
    const value = valueText === 'y';

    if (!findSymbol(name)) {
      const why = unmodelledSymbols[name];
      if (why !== undefined) {
        if (value) return fail(`CONFIG_${name}=y at line ${n} is not modelled by quarklab: ${why}`);
        continue; // off in every profile already
      }
      return fail(`unknown symbol CONFIG_${clip(name)} at line ${n}; did you mean CONFIG_${nearest(name, symbolNames)}?`);
    }
    const prev = explicit.get(name);
    if (prev) return fail(`CONFIG_${name} set twice, at lines ${prev.line} and ${n}`);
    explicit.set(name, { value, line: n });
  }

  // Start from the base (or all off), then apply this file.
  const values = new Map<string, boolean>();
  const origin = new Map<string, Origin>();
  for (const s of SYMBOLS) {
    values.set(s.name, base ? base.symbols[s.name] === true : false);
    origin.set(s.name, base ? { base: base.name } : null);
  }
  const choiceErr = applyChoices(explicit, values, origin, fail);
  if (choiceErr) return choiceErr;
  for (const [name, { value, line }] of explicit) {
    values.set(name, value);
    origin.set(name, { line });
  }

  applyChoiceDefaults(explicit, values);

  const lastLine = lines.length;
  const depErr = checkDependencies(values, origin, lastLine);
  if (depErr) return fail(depErr);
  const choiceCountErr = checkChoices(values, origin, lastLine);
  if (choiceCountErr) return fail(choiceCountErr);

  const profile = makeProfile(opts.name ?? profileNameFromPath(file), values, file, base?.name);
  return lto ? { ...profile, ltoFactor: lto.factor } : profile;
}

/** A decimal ratio in (0, 2], or null. LTO can grow code by inlining, rarely by much. */
function parseLtoFactor(text: string): number | null {
  if (!/^\d{1,3}(\.\d{1,6})?$/.test(text)) return null;
  const f = Number(text);
  return f > 0 && f <= 2 ? f : null;
}

/** Two members of one choice set to y in the same file is an error; one set to y switches the
 * base's member off. */
function applyChoices(
  explicit: Map<string, { value: boolean; line: number }>,
  values: Map<string, boolean>,
  origin: Map<string, Origin>,
  fail: (m: string) => KconfigError,
): KconfigError | null {
  for (const group of choiceGroups()) {
    const chosen = group.filter((s) => explicit.get(s.name)?.value === true);
    if (chosen.length > 1) {
      const [a, b] = [chosen[0]!, chosen[1]!];
      return fail(
        `CONFIG_${a.name} (line ${explicit.get(a.name)!.line}) and CONFIG_${b.name} (line ${explicit.get(b.name)!.line}) ` +
          `are both y; choice ${a.choice} takes exactly one`,
      );
    }
    if (chosen.length === 1) {
      for (const s of group) {
        if (s !== chosen[0] && !explicit.has(s.name)) {
          values.set(s.name, false);
          origin.set(s.name, { line: explicit.get(chosen[0]!.name)!.line });
        }
      }
    }
  }
  return null;
}

/** A choice with a default (the slab allocator) whose dependencies hold and that no member is
 * y in: its default becomes y, as Kconfig does, unless this file turned the default off. */
function applyChoiceDefaults(explicit: Map<string, { value: boolean; line: number }>, values: Map<string, boolean>): void {
  for (const group of choiceGroups()) {
    const def = group.find((s) => s.choiceDefault);
    if (!def || explicit.get(def.name)?.value === false) continue;
    if (!group.every((s) => s.depends.every((d) => values.get(d)))) continue;
    if (group.some((s) => values.get(s.name))) continue;
    values.set(def.name, true);
  }
}

function checkDependencies(values: Map<string, boolean>, origin: Map<string, Origin>, lastLine: number): string | null {
  for (const s of SYMBOLS) {
    if (!values.get(s.name)) continue;
    for (const dep of s.depends) {
      if (values.get(dep)) continue;
      const so = origin.get(s.name) ?? null;
      const d = origin.get(dep) ?? null;
      const sWhere = so && 'line' in so ? `CONFIG_${s.name}=y at line ${so.line}` : `CONFIG_${s.name} (y in base ${describeBase(so)})`;
      const dWhere =
        d && 'line' in d ? `turned off at line ${d.line}` : d && 'base' in d ? `which base ${d.base} leaves off` : 'which is not set';
      const lineHint = (so && 'line' in so) || (d && 'line' in d) ? '' : ` (line ${lastLine})`;
      return `${sWhere} needs CONFIG_${dep}, ${dWhere}${lineHint}; set CONFIG_${dep}=y or turn CONFIG_${s.name} off`;
    }
  }
  return null;
}

function checkChoices(values: Map<string, boolean>, origin: Map<string, Origin>, lastLine: number): string | null {
  for (const group of choiceGroups()) {
    const applies = group.every((s) => s.depends.every((d) => values.get(d)));
    const on = group.filter((s) => values.get(s.name));
    if (!applies || on.length === 1) continue;
    const names = group.map((s) => `CONFIG_${s.name}`).join(', ');
    const lines = group.map((s) => origin.get(s.name)).filter((o): o is { line: number } => !!o && 'line' in o);
    const where = lines.length > 0 ? `line ${Math.max(...lines.map((o) => o.line))}` : `line ${lastLine}`;
    return `choice ${group[0]!.choice} needs exactly one of ${names} set to y, found ${on.length} (at ${where})`;
  }
  return null;
}

function choiceGroups(): KconfigSymbol[][] {
  const groups = new Map<string, KconfigSymbol[]>();
  for (const s of SYMBOLS) {
    if (!s.choice) continue;
    const g = groups.get(s.choice) ?? [];
    g.push(s);
    groups.set(s.choice, g);
  }
  return [...groups.values()];
}

function describeBase(o: Origin): string {
  return o && 'base' in o ? o.base : '?';
}

function makeProfile(name: string, values: Map<string, boolean>, source: string, base?: string): Profile {
  const symbols: Record<string, boolean> = {};
  for (const key of [...values.keys()].sort()) symbols[key] = values.get(key)!;
  const enabled = Object.keys(symbols).filter((k) => symbols[k]);
  return base === undefined ? { name, symbols, enabled, source } : { name, symbols, enabled, source, base };
}

/**
 * Why a list of enabled symbols (an image's config section, not a file a person wrote) is not
 * a configuration Kconfig could have produced, or null: every name known, none twice, every
 * dependency y, each choice whose dependencies hold with exactly one member y.
 */
export function checkEnabledSymbols(enabled: readonly unknown[]): string | null {
  const on = new Set<string>();
  for (const name of enabled) {
    if (typeof name !== 'string') return `enabled symbol list holds a ${typeof name}, not a symbol name`;
    if (!findSymbol(name)) return `unknown symbol CONFIG_${clip(name)}`;
    if (on.has(name)) return `CONFIG_${name} listed twice`;
    on.add(name);
  }
  for (const s of SYMBOLS) {
    if (!on.has(s.name)) continue;
    const dep = s.depends.find((d) => !on.has(d));
    if (dep) return `CONFIG_${s.name}=y needs CONFIG_${dep}, which is not set`;
  }
  for (const group of choiceGroups()) {
    if (!group.every((s) => s.depends.every((d) => on.has(d)))) continue;
    const n = group.filter((s) => on.has(s.name)).length;
    if (n !== 1) return `choice ${group[0]!.choice} needs exactly one of ${group.map((s) => `CONFIG_${s.name}`).join(', ')} set to y, found ${n}`;
  }
  return null;
}

/**
 * What every scenario needs of the board's profile, in dependency order: a network stack
 * (CONFIG_NET: sockets, devices, the qdisc layer) and IPv4 on it (CONFIG_INET: ARP, IP, ICMP,
 * UDP, TCP). Each scenario talks IPv4 over the board's Ethernet, so a profile without either
 * boots a kernel with no way to do its job; that is a failed check with the missing symbol
 * named, never a stack that runs for free.
 */
export const NETWORKED_SCENARIO_NEEDS: readonly string[] = ['NET', 'INET'];

/** The first symbol of NETWORKED_SCENARIO_NEEDS the enabled set lacks, or null. */
export function missingStackSymbol(enabled: readonly string[]): string | null {
  return NETWORKED_SCENARIO_NEEDS.find((s) => !enabled.includes(s)) ?? null;
}

/** The enabled symbols as the set the stack consults (names without CONFIG_). */
export function enabledSet(profile: Profile): ReadonlySet<string> {
  return new Set(profile.enabled);
}

/** The profile as a complete fragment, symbols in table order: what goes into the image. */
export function formatProfile(profile: Profile): string {
  const out = [`# quarklab profile ${profile.name}`];
  if (profile.ltoFactor !== undefined) out.push(`# lto-factor: ${profile.ltoFactor}`);
  for (const s of SYMBOLS) out.push(profile.symbols[s.name] ? `CONFIG_${s.name}=y` : `# CONFIG_${s.name} is not set`);
  return out.join('\n') + '\n';
}

export function profileNameFromPath(file: string): string {
  const baseName = file.split(/[\\/]/).pop() ?? file;
  return baseName.replace(/\.config$/, '') || baseName;
}

/** Levenshtein edit distance (insert, delete, substitute), on two short names. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The candidate closest to `word` (case-insensitive); ties go to the earlier candidate. */
export function nearest(word: string, candidates: readonly string[]): string {
  const w = word.toUpperCase();
  let best = candidates[0] ?? '';
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = levenshtein(w, c.toUpperCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

/** A user-given string made safe and short for a one-line message. */
export function clip(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? `${printable.slice(0, 40)}…` : printable;
}

function quote(s: string): string {
  return `'${clip(s)}'`;
}
