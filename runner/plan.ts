/**
 * The test plan: boards × profiles × scenarios × seeds, budgets with defaults and overrides
 * per board / profile / scenario, expected failures with a reason, and comparison thresholds.
 * It comes from a file (YAML or JSON, published as runner/plan.schema.json) or from repeated
 * flags. Everything is checked here, before any cell runs: each problem is one line naming
 * its place in the plan.
 */
import { resolveFailAlloc } from '../scenarios/fail-alloc.js';
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { isScenarioPath, resolveScenario } from '../api/load-scenario.js';
import { splitScenarioSpec } from '../api/options.js';
import { resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { unmeasuredBudget } from '../scenarios/run.js';
import { parseBudget, type BudgetSpec } from '../traces/budgets.js';
import { parseSysctlSetting, type SysctlSetting } from '../scenarios/sysctl-option.js';

/** Figures a baseline compare looks at, with their default thresholds in percent. */
export const DEFAULT_THRESHOLDS: Readonly<Record<string, number>> = { 'flash.image': 0.5, 'ram.static': 0.5, 'ram.peak': 0.5, goodput: -5, 'rtt.p99': 10 };

export interface ExpectedFailure {
  board?: string;
  profile?: string;
  scenario?: string;
  seed?: number;
  reason: string;
}

export interface Plan {
  boards: string[];
  profiles: string[];
  scenarios: string[];
  seeds: number[];
  budgets: { default: Record<string, string>; board: Record<string, Record<string, string>>; profile: Record<string, Record<string, string>>; scenario: Record<string, Record<string, string>> };
  expectFail: ExpectedFailure[];
  thresholds: Record<string, number>;
  cpu: boolean;
  costs?: string;
  /** Boot values of sysctls for every cell's board (as run --sysctl). */
  sysctls: SysctlSetting[];
  /** failslab-style injection in every cell (`prob=P|nth=N[,site=NAME][,times=T]`, seeded by the cell's seed). */
  failAlloc?: string;
  /** Where each part came from, for error messages: the plan file or "flags". */
  origin: string;
}

/** One cell of the matrix, as sent to a worker. */
export interface Cell {
  index: number;
  id: string;
  board: string;
  profile: string;
  scenario: string;
  seed: number;
  budgets: BudgetSpec[];
  expectFail: string | null;
  cpu: boolean;
  costs?: string;
  sysctls?: SysctlSetting[];
  failAlloc?: string;
}

/**
 * The YAML parser, loaded when a plan file is read: `quarklab test` with the matrix given as
 * flags never needs it, and loading its ~80 modules cost the main thread ~60 ms before the first
 * cell could start.
 */
function parseYaml(text: string, options: import('yaml').ParseOptions & import('yaml').DocumentOptions): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text, options);
}

const TOP_KEYS = ['$schema', 'boards', 'profiles', 'scenarios', 'seeds', 'budgets', 'expect-fail', 'thresholds', 'cpu', 'costs', 'sysctl', 'fail-alloc'];

type Problem = { error: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Read a plan file (YAML, or JSON, which is YAML too). Paths in it are relative to the file. */
export function readPlanFile(path: string): Plan | Problem {
  let text: string;
  try {
    if (statSync(path).size > 1_000_000) return { error: `plan ${path}: larger than 1 MB` };
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { error: `plan ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, prettyErrors: false });
  } catch (e) {
    return { error: `plan ${path}: not YAML or JSON (${(e as Error).message.split('\n')[0]})` };
  }
  return planFromData(doc, path, dirname(path));
}

function stringList(v: unknown, place: string, required: boolean): string[] | Problem {
  if (v === undefined) return required ? { error: `${place}: missing (a list)` } : [];
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x === '')) return { error: `${place}: expected a non-empty list of names` };
  return v as string[];
}

function budgetMap(v: unknown, place: string): Record<string, string> | Problem {
  if (!isRecord(v)) return { error: `${place}: expected figure: limit pairs (e.g. ram.peak: 1.5MiB)` };
  const out: Record<string, string> = {};
  for (const [k, limit] of Object.entries(v)) {
    if (typeof limit !== 'string' && typeof limit !== 'number') return { error: `${place}.${k}: expected a limit like 1.5MiB` };
    const parsed = parseBudget(`${k}=${limit}`);
    if ('error' in parsed) return { error: `${place}.${k}: ${parsed.error}` };
    out[k] = String(limit);
  }
  return out;
}

function budgetOverrides(v: unknown, place: string): Record<string, Record<string, string>> | Problem {
  if (v === undefined) return {};
  if (!isRecord(v)) return { error: `${place}: expected a map of names to budgets` };
  const out: Record<string, Record<string, string>> = {};
  for (const [name, m] of Object.entries(v)) {
    const b = budgetMap(m, `${place}.${name}`);
    if (typeof (b as Problem).error === 'string') return b as Problem;
    out[name] = b as Record<string, string>;
  }
  return out;
}

/** Check a parsed plan document. `base` is the folder its relative paths are taken from. */
export function planFromData(doc: unknown, origin: string, base: string): Plan | Problem {
  const at = (place: string) => `plan ${origin}: ${place}`;
  if (!isRecord(doc)) return { error: `plan ${origin}: expected a map with boards, profiles, scenarios` };
  for (const k of Object.keys(doc)) if (!TOP_KEYS.includes(k)) return { error: at(`unknown key "${k}" (${TOP_KEYS.slice(1).join(', ')})`) };
  const boards = stringList(doc['boards'], at('boards'), true);
  if ('error' in boards) return boards;
  const profiles = stringList(doc['profiles'], at('profiles'), true);
  if ('error' in profiles) return profiles;
  const scenarios = stringList(doc['scenarios'], at('scenarios'), true);
  if ('error' in scenarios) return scenarios;
  const seedsRaw = doc['seeds'] ?? [1];
  if (!Array.isArray(seedsRaw) || seedsRaw.length === 0 || seedsRaw.some((s) => !Number.isInteger(s) || (s as number) < 0 || (s as number) > 0xffffffff)) return { error: at('seeds: expected a list of whole numbers from 0 to 4294967295') };
  const b = doc['budgets'] ?? {};
  if (!isRecord(b)) return { error: at('budgets: expected a map (default, board, profile, scenario)') };
  for (const k of Object.keys(b)) if (!['default', 'board', 'profile', 'scenario'].includes(k)) return { error: at(`budgets: unknown key "${k}" (default, board, profile, scenario)`) };
  const dflt = b['default'] === undefined ? {} : budgetMap(b['default'], at('budgets.default'));
  if ('error' in dflt) return dflt as Problem;
  const perBoard = budgetOverrides(b['board'], at('budgets.board'));
  if ('error' in perBoard) return perBoard as Problem;
  const perProfile = budgetOverrides(b['profile'], at('budgets.profile'));
  if ('error' in perProfile) return perProfile as Problem;
  const perScenario = budgetOverrides(b['scenario'], at('budgets.scenario'));
  if ('error' in perScenario) return perScenario as Problem;
  const expectFail: ExpectedFailure[] = [];
  const xf = doc['expect-fail'] ?? [];
  if (!Array.isArray(xf)) return { error: at('expect-fail: expected a list') };
  for (const [i, e] of xf.entries()) {
    if (!isRecord(e) || typeof e['reason'] !== 'string' || e['reason'].trim() === '') return { error: at(`expect-fail[${i}]: each expected failure needs a reason`) };
    for (const k of Object.keys(e)) if (!['board', 'profile', 'scenario', 'seed', 'reason'].includes(k)) return { error: at(`expect-fail[${i}]: unknown key "${k}" (board, profile, scenario, seed, reason)`) };
    expectFail.push({ reason: e['reason'], ...(typeof e['board'] === 'string' ? { board: e['board'] } : {}), ...(typeof e['profile'] === 'string' ? { profile: e['profile'] } : {}), ...(typeof e['scenario'] === 'string' ? { scenario: e['scenario'] } : {}), ...(Number.isInteger(e['seed']) ? { seed: e['seed'] as number } : {}) });
  }
  const th = doc['thresholds'] ?? {};
  if (!isRecord(th)) return { error: at('thresholds: expected figure: percent pairs') };
  const thresholds: Record<string, number> = { ...DEFAULT_THRESHOLDS };
  for (const [k, v] of Object.entries(th)) {
    if (!(k in DEFAULT_THRESHOLDS)) return { error: at(`thresholds.${k}: unknown figure (${Object.keys(DEFAULT_THRESHOLDS).join(', ')})`) };
    if (typeof v !== 'number' || !Number.isFinite(v)) return { error: at(`thresholds.${k}: expected a percentage (a number)`) };
    thresholds[k] = v;
  }
  if (doc['cpu'] !== undefined && typeof doc['cpu'] !== 'boolean') return { error: at('cpu: expected true or false') };
  if (doc['costs'] !== undefined && typeof doc['costs'] !== 'string') return { error: at('costs: expected a path') };
  const sysctls: SysctlSetting[] = [];
  const sc = doc['sysctl'] ?? {};
  if (!isRecord(sc)) return { error: at('sysctl: expected a map of sysctl names to values') };
  for (const [k, v] of Object.entries(sc)) {
    if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) return { error: at(`sysctl.${k}: expected a string or a number`) };
    const setting = parseSysctlSetting(`${k}=${v}`, 'sysctl', { bootOnly: true });
    if ('error' in setting) return { error: at(setting.error) };
    sysctls.push(setting);
  }
  const failAlloc = doc['fail-alloc'];
  if (failAlloc !== undefined) {
    if (typeof failAlloc !== 'string') return { error: at('fail-alloc: expected a string, prob=P|nth=N[,site=NAME][,times=T]') };
    const spec = resolveFailAlloc(failAlloc, 'fail-alloc');
    if ('error' in spec) return { error: at(spec.error) };
  }
  const rel = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const fileish = (p: string) => p.includes('/') || p.endsWith('.config') || p.endsWith('.json');
  return {
    boards: boards.map((x) => (fileish(x) ? rel(x) : x)),
    profiles: profiles.map((x) => (fileish(x) ? rel(x) : x)),
    scenarios: scenarios.map((s) => {
      const colon = s.indexOf(':');
      const name = colon < 0 ? s : s.slice(0, colon);
      return isScenarioPath(name) ? rel(name) + (colon < 0 ? '' : s.slice(colon)) : s;
    }),
    seeds: seedsRaw as number[],
    budgets: { default: dflt as Record<string, string>, board: perBoard, profile: perProfile, scenario: perScenario },
    expectFail,
    thresholds,
    cpu: doc['cpu'] !== false,
    sysctls,
    ...(typeof doc['costs'] === 'string' ? { costs: rel(doc['costs']) } : {}),
    ...(typeof failAlloc === 'string' ? { failAlloc } : {}),
    origin,
  };
}

/** The scenario's name without options: what budgets.scenario and expect-fail match. */
export function scenarioKey(spec: string): string {
  const split = splitScenarioSpec(spec);
  return 'error' in split ? spec : split.name;
}

/** A file-system-safe, readable cell id: board.profile.scenario.seedN. */
function cellId(board: string, profile: string, scenario: string, seed: number): string {
  const clean = (s: string) => {
    const base = s.includes('/') ? s.slice(s.lastIndexOf('/') + 1) : s;
    return base.replace(/[^A-Za-z0-9_.=+-]+/g, '_');
  };
  return `${clean(board)}.${clean(profile)}.${clean(scenario.replace(/\.(m?ts|m?js)(?=:|$)/, ''))}.seed${seed}`;
}

/** The names a plan may use for a board, profile or scenario: as given, its file name, and that without extension. */
function aliases(p: string): string[] {
  const tail = p.includes('/') ? p.slice(p.lastIndexOf('/') + 1) : p;
  return [p, tail, tail.replace(/\.(m?ts|m?js|config|json)$/, '')];
}

function named(want: string | undefined, have: string): boolean {
  return want === undefined || aliases(have).includes(want) || aliases(have).includes(aliases(want)[1]!);
}

function matches(e: ExpectedFailure, c: { board: string; profile: string; scenario: string; seed: number }): boolean {
  return named(e.board, c.board) && named(e.profile, c.profile) && (e.scenario === c.scenario || named(e.scenario, scenarioKey(c.scenario))) && (e.seed === undefined || e.seed === c.seed);
}

function lookup(map: Record<string, Record<string, string>>, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  // The least specific spelling first, so the exact one wins.
  for (const name of aliases(key).reverse()) Object.assign(out, map[name] ?? {});
  return out;
}

/** Every cell, in matrix order: boards, then profiles, then scenarios, then seeds. */
export function expandCells(plan: Plan): Cell[] {
  const cells: Cell[] = [];
  for (const board of plan.boards)
    for (const profile of plan.profiles)
      for (const scenario of plan.scenarios)
        for (const seed of plan.seeds) {
          // Most specific last: default < board < profile < scenario.
          const merged = { ...plan.budgets.default, ...lookup(plan.budgets.board, board), ...lookup(plan.budgets.profile, profile), ...lookup(plan.budgets.scenario, scenarioKey(scenario)) };
          const budgets = Object.entries(merged).map(([k, v]) => parseBudget(`${k}=${v}`) as BudgetSpec);
          const xf = plan.expectFail.find((e) => matches(e, { board, profile, scenario, seed }));
          cells.push({ index: cells.length, id: cellId(board, profile, scenario, seed), board, profile, scenario, seed, budgets, expectFail: xf ? xf.reason : null, cpu: plan.cpu, ...(plan.costs ? { costs: plan.costs } : {}), ...(plan.sysctls.length > 0 ? { sysctls: plan.sysctls } : {}), ...(plan.failAlloc ? { failAlloc: plan.failAlloc } : {}) });
        }
  const seen = new Map<string, number>();
  for (const c of cells) {
    const n = seen.get(c.id) ?? 0;
    seen.set(c.id, n + 1);
    if (n > 0) c.id = `${c.id}.${n + 1}`;
  }
  return cells;
}

/**
 * Check every input the cells will use — boards, profiles, cost table, scenarios and their
 * options, and each budget against what its scenario measures — before anything runs.
 */
export async function checkPlan(plan: Plan): Promise<Problem | null> {
  const place = (what: string) => (plan.origin === 'flags' ? what : `plan ${plan.origin}: ${what}`);
  for (const b of plan.boards) {
    const r = resolveBoard(b);
    if ('error' in r) return { error: place(`boards: ${r.error}`) };
  }
  for (const p of plan.profiles) {
    const r = resolveProfile(p);
    if ('error' in r) return { error: place(`profiles: ${r.error}`) };
  }
  const t = resolveCostTable(plan.costs);
  if ('error' in t) return { error: place(`costs: ${t.error}`) };
  const byScenario = new Map<string, { name: string; produces?: readonly string[] }>();
  for (const s of plan.scenarios) {
    const r = await resolveScenario(s);
    if ('error' in r) return { error: place(`scenarios: ${r.error}`) };
    byScenario.set(s, r);
  }
  for (const key of Object.keys(plan.budgets.scenario)) {
    if (![...byScenario.keys()].some((s) => aliases(scenarioKey(s)).includes(key))) return { error: place(`budgets.scenario.${key}: no scenario "${key}" in the plan`) };
  }
  // Each budget is checked where it is written, against every scenario it reaches.
  const sources: [string, Record<string, string>, (scenario: string) => boolean][] = [
    [plan.origin === 'flags' ? '--budget' : 'budgets.default', plan.budgets.default, () => true],
    ...Object.entries(plan.budgets.board).map(([k, v]) => [`budgets.board.${k}`, v, () => true] as [string, Record<string, string>, () => boolean]),
    ...Object.entries(plan.budgets.profile).map(([k, v]) => [`budgets.profile.${k}`, v, () => true] as [string, Record<string, string>, () => boolean]),
    ...Object.entries(plan.budgets.scenario).map(([k, v]) => [`budgets.scenario.${k}`, v, (s: string) => aliases(scenarioKey(s)).includes(k)] as [string, Record<string, string>, (s: string) => boolean]),
  ];
  for (const [where, budgets, reaches] of sources) {
    for (const [spec, scenario] of byScenario) {
      if (!reaches(spec)) continue;
      const problem = unmeasuredBudget(scenario, Object.keys(budgets).map((key) => ({ key })));
      if (problem) return { error: place(`${where}: ${problem}`) };
    }
  }
  return null;
}
