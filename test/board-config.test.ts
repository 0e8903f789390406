// Board files are user input (invariant 3): every shipped board validates, the published schema
// (boards/board.schema.json) and the validator (emulator/board-config.ts BOARD_FIELDS) require
// the same fields with the same types, and a bad file gets one line naming file, field and the
// expected type — from the loader and from the CLI (exit 2).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BOARD_FIELDS, validateBoard } from '../emulator/board-config.js';
import { builtinBoards, loadBoardFile, resolveBoard } from '../scenarios/inputs.js';
import { quarklab, REPO_ROOT, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';

afterAll(removeTempDirs);

const BOARDS = join(REPO_ROOT, 'boards');
type Json = Record<string, any>;
const schema = JSON.parse(readFileSync(join(BOARDS, 'board.schema.json'), 'utf8')) as Json;
const quark2m = (): Json => JSON.parse(readFileSync(join(BOARDS, 'quark-2m.json'), 'utf8')) as Json;

/** The schema node for a dotted path ('' is the root). */
function schemaAt(path: string): Json {
  let node = schema;
  for (const key of path === '' ? [] : path.split('.')) node = node['properties'][key];
  return node;
}

function setPath(obj: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k];
  if (value === undefined) delete o[keys.at(-1)!];
  else o[keys.at(-1)!] = value;
}

/** A value of the wrong JSON type for a field of this validator type. */
const WRONG: Record<string, unknown> = { string: 42, name: 42, integer: '2M', number: 'fast', boolean: 'yes', mac: 1234 };

describe('board files', () => {
  it('every boards/*.json validates', () => {
    const files = readdirSync(BOARDS).filter((f) => f.endsWith('.json') && f !== 'board.schema.json');
    expect(files).toEqual(expect.arrayContaining(['quark-2m.json', 'quark-4m.json', 'lab-host.json']));
    for (const f of files) {
      const r = loadBoardFile(join(BOARDS, f));
      expect('error' in r ? r.error : null, f).toBeNull();
      if ('board' in r) expect(`${r.board.name}.json`).toBe(f);
    }
  });

  it('the built-in board names are the folder\'s files, boards under test by name and the lab host last', () => {
    // The three boards shipped today, in the order run --help and the bad-name error list them.
    expect(builtinBoards()).toEqual(['quark-2m', 'quark-4m', 'lab-host']);
    for (const b of builtinBoards()) expect('error' in resolveBoard(b), b).toBe(false);
    const bad = resolveBoard('quark-8m');
    expect('error' in bad ? bad.error : '').toBe('board "quark-8m": no such built-in board (quark-2m, quark-4m, lab-host) or file');
  });

  it('the schema requires exactly the validator fields, level by level, with the same types and bounds', () => {
    // Group the validator's dotted paths by parent: '' → name, cpu, …; 'cpu' → clockHz, cycles; …
    const byParent = new Map<string, Set<string>>();
    for (const rule of BOARD_FIELDS) {
      const keys = rule.path.split('.');
      for (let i = 0; i < keys.length; i++) {
        const parent = keys.slice(0, i).join('.');
        if (!byParent.has(parent)) byParent.set(parent, new Set());
        byParent.get(parent)!.add(keys[i]!);
      }
    }
    for (const [parent, keys] of byParent) {
      const node = schemaAt(parent);
      expect(node['type'], `schema at "${parent}"`).toBe('object');
      expect([...(node['required'] as string[])].sort(), `required at "${parent || '(root)'}"`).toEqual([...keys].sort());
    }
    const JSON_TYPE: Record<string, string> = { string: 'string', name: 'string', integer: 'integer', number: 'number', boolean: 'boolean', mac: 'string' };
    for (const rule of BOARD_FIELDS) {
      const node = schemaAt(rule.path);
      expect(node['type'], rule.path).toBe(JSON_TYPE[rule.type]);
      expect(node['minimum'], `${rule.path} minimum`).toBe(rule.min);
      expect(node['maximum'], `${rule.path} maximum`).toBe(rule.max);
      expect(node['enum'], `${rule.path} enum`).toEqual(rule.oneOf);
      expect(node['multipleOf'], `${rule.path} multipleOf`).toBe(rule.multipleOf);
      expect(node['maxLength'], `${rule.path} maxLength`).toBe(rule.type === 'name' ? 32 : rule.maxLength);
      if (rule.type === 'name') expect(new RegExp(node['pattern']).test('quark-2m') && !new RegExp(node['pattern']).test('é') && !new RegExp(node['pattern']).test('x'.repeat(33))).toBe(true);
      if (rule.type === 'string') expect(node['minLength'], rule.path).toBe(1);
      if (rule.type === 'mac') expect(new RegExp(node['pattern']).test('02:51:00:00:00:02') && !new RegExp(node['pattern']).test('02:51:00:00:00') && !new RegExp(node['pattern']).test('01:00:5e:00:00:01')).toBe(true);
    }
  });

  it('a missing or mistyped field, any of them, is one line naming the file, the field and the expected type', () => {
    for (const rule of BOARD_FIELDS) {
      const missing = quark2m();
      setPath(missing, rule.path, undefined);
      const m = validateBoard(missing, 'bad.json');
      expect('error' in m, `missing ${rule.path}`).toBe(true);
      if ('error' in m) {
        expect(m.error).toMatch(new RegExp(`^bad\\.json: missing field "${rule.path}" \\(expected (a|an|true|one) `));
        expect(m.error).not.toContain('\n');
      }
      const mistyped = quark2m();
      setPath(mistyped, rule.path, WRONG[rule.type]);
      const t = validateBoard(mistyped, 'bad.json');
      expect('error' in t, `mistyped ${rule.path}`).toBe(true);
      if ('error' in t) {
        expect(t.error).toMatch(new RegExp(`^bad\\.json: field "${rule.path}" is .+, expected `));
        expect(t.error).not.toContain('\n');
      }
    }
    // Two exact messages, as a user reads them.
    const noIrq = quark2m();
    delete noIrq['cpu']['cycles']['irq'];
    expect(validateBoard(noIrq, 'bad.json')).toEqual({ error: 'bad.json: missing field "cpu.cycles.irq" (expected a number)' });
    const strRam = quark2m();
    strRam['ramBytes'] = '2M';
    expect(validateBoard(strRam, 'bad.json')).toEqual({ error: 'bad.json: field "ramBytes" is "2M", expected an integer' });
    const notJson = validateBoard([], 'x.json');
    expect(notJson).toEqual({ error: 'x.json: a board file must be a JSON object' });
  });

  it('the CLI exits 2 with that line for --board bad.json (missing field, mistyped field, not JSON)', () => {
    const dir = tempDir();
    const cases: [string, (b: Json) => string, string][] = [
      ['missing.json', (b) => { delete b['mac']['rxRingSize']; return JSON.stringify(b); }, 'missing field "mac.rxRingSize" (expected an integer)'],
      ['mistyped.json', (b) => { b['executeInPlace'] = 'no'; return JSON.stringify(b); }, 'field "executeInPlace" is "no", expected true or false'],
      ['broken.json', () => '{ "name": ', 'not valid JSON'],
    ];
    for (const [name, make, expected] of cases) {
      const file = join(dir, name);
      writeFileSync(file, make(quark2m()));
      const r = quarklab(['run', '--board', file, '--out', join(dir, 'out')]);
      expect(r.status, name).toBe(2);
      expect(stderrProblems(r.stderr), name).toBeNull();
      expect(r.stderr, name).toContain(`quarklab run: ${file}: ${expected}`);
      expect(r.stdout, name).toBe('');
    }
  });
});
