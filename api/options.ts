/**
 * A scenario's options as data: each key's type, default, range and help. `--help` is written
 * from it and `--scenario NAME:key=value,…` is checked against it, so every scenario (built in
 * or the user's) validates the same way: strict numbers, no unknown keys, no key twice, no
 * empty lists — each problem one line.
 */

/** A default of null: the option is off unless given (its value is then null). */
export type OptionSpec =
  | { type: 'integer'; default: number | null; min: number; max: number; help: string }
  | { type: 'number'; default: number | null; min: number; max: number; help: string }
  | { type: 'integer-list'; default: readonly number[]; min: number; max: number; help: string }
  | { type: 'string'; default: string | null; pattern?: RegExp; help: string };

export type OptionSchema = Readonly<Record<string, OptionSpec>>;

type OptionValue<T extends OptionSpec> = T extends { type: 'integer-list' } ? number[] : T extends { type: 'string' } ? string : number;

/** The parsed value of each option, typed from the schema. */
export type OptionValues<S extends OptionSchema> = {
  -readonly [K in keyof S]: null extends S[K]['default'] ? OptionValue<S[K]> | null : OptionValue<S[K]>;
};

const INTEGER = /^-?[0-9]+$/;
const DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;

/** Split `NAME:key=value,…` into the name and its option pairs, refusing a key given twice. */
export function splitScenarioSpec(spec: string): { name: string; pairs: [string, string][] } | { error: string } {
  // A path may hold a colon only before its options (C:\… is not a concern on the boards' hosts).
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const pairs: [string, string][] = [];
  if (colon >= 0) {
    const seen = new Set<string>();
    for (const part of spec.slice(colon + 1).split(',')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) return { error: `scenario option "${part}": expected key=value` };
      const key = part.slice(0, eq);
      if (seen.has(key)) return { error: `scenario option "${key}" given twice` };
      seen.add(key);
      pairs.push([key, part.slice(eq + 1)]);
    }
  }
  return { name, pairs };
}

function parseOne(key: string, spec: OptionSpec, text: string): number | number[] | string | { error: string } {
  switch (spec.type) {
    case 'integer':
    case 'number': {
      const ok = (spec.type === 'integer' ? INTEGER : DECIMAL).test(text);
      const n = Number(text);
      if (!ok || n < spec.min || n > spec.max) return { error: `${key}=${text}: expected ${spec.type === 'integer' ? 'a whole number' : 'a number'} from ${spec.min} to ${spec.max}` };
      return n;
    }
    case 'integer-list': {
      if (text === '') return { error: `${key}=: expected at least one whole number from ${spec.min} to ${spec.max}, joined by +` };
      const parts = text.split('+');
      const out: number[] = [];
      for (const p of parts) {
        const n = Number(p);
        if (!INTEGER.test(p) || n < spec.min || n > spec.max) return { error: `${key}=${text}: expected whole numbers from ${spec.min} to ${spec.max} joined by +` };
        out.push(n);
      }
      return out;
    }
    case 'string':
      if (spec.pattern && !spec.pattern.test(text)) return { error: `${key}=${text}: ${spec.help}` };
      return text;
  }
}

/** Check option pairs against a schema; defaults fill what is not given. */
export function parseOptions<S extends OptionSchema>(schema: S, pairs: readonly [string, string][]): { values: OptionValues<S> } | { error: string } {
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(schema)) out[k] = Array.isArray(spec.default) ? [...(spec.default as number[])] : spec.default;
  const seen = new Set<string>();
  for (const [k, v] of pairs) {
    const spec = schema[k];
    if (!spec) {
      const known = Object.keys(schema);
      return { error: `unknown option "${k}"${known.length > 0 ? ` (${known.join(', ')})` : ' (it takes none)'}` };
    }
    if (seen.has(k)) return { error: `option "${k}" given twice` };
    seen.add(k);
    const parsed = parseOne(k, spec, v);
    if (typeof parsed === 'object' && !Array.isArray(parsed)) return { error: parsed.error };
    out[k] = parsed;
  }
  return { values: out as OptionValues<S> };
}

/** One line per option for `--help`: `key=TYPE  help (default …)`. */
export function describeOptions(schema: OptionSchema): string[] {
  return Object.entries(schema).map(([k, s]) => {
    const shape = s.type === 'integer-list' ? 'N+N…' : s.type === 'string' ? 'TEXT' : 'N';
    const dflt = s.default === null ? 'none' : Array.isArray(s.default) ? (s.default as number[]).join('+') : String(s.default);
    const range = s.type === 'string' ? '' : `, ${s.min} to ${s.max}`;
    return `${k}=${shape}: ${s.help} (default ${dflt}${range})`;
  });
}
