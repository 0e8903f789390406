// The plan file's published schema and its reader agree on the documented example, and the
// reader names the place of each problem.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { expandCells, planFromData } from '../runner/plan.js';
import { REPO_ROOT, schemaErrors, unsupportedKeywords, type Schema } from './helpers/run.js';

const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'runner', 'plan.schema.json'), 'utf8')) as Schema;
const example = parse(readFileSync(join(REPO_ROOT, 'docs', 'examples', 'quarklab.yaml'), 'utf8')) as unknown;

describe('test plan', () => {
  it('the schema uses only keywords the checker implements, and the documented example conforms', () => {
    expect(unsupportedKeywords(schema)).toEqual([]);
    expect(schemaErrors(schema, example)).toEqual([]);
    // And the schema can reject: an unknown key, a seed that is not a number.
    expect(schemaErrors(schema, { ...(example as object), seed: [1] }).length).toBeGreaterThan(0);
    expect(schemaErrors(schema, { ...(example as object), seeds: ['one'] }).length).toBeGreaterThan(0);
  });

  it('expands the example: 2 × 2 × 3 × 1 cells, budgets most specific last, expected failures matched', () => {
    const plan = planFromData(example, 'quarklab.yaml', join(REPO_ROOT, 'docs', 'examples'));
    if ('error' in plan) throw new Error(plan.error);
    const cells = expandCells(plan);
    expect(cells).toHaveLength(12);
    const c = (id: string) => cells.find((x) => x.id === id)!;
    const limits = (id: string) => Object.fromEntries(c(id).budgets.map((b) => [b.key, b.text]));
    // default 3.5MiB/3MiB, quark-2m overrides both, ping adds rtt.p99.
    expect(limits('quark-2m.minimal.ping.seed1')).toEqual({ 'ram.peak': 'ram.peak=1.95MiB', 'flash.image': 'flash.image=1.75MiB', 'rtt.p99': 'rtt.p99=40us' });
    expect(limits('quark-4m.sensor.config.udp-echo_sizes=64+1472.seed1')).toEqual({ 'ram.peak': 'ram.peak=3.5MiB', 'flash.image': 'flash.image=3MiB' });
    expect(cells.filter((x) => x.expectFail !== null).map((x) => x.id)).toEqual(['quark-2m.minimal.ping.seed1', 'quark-2m.sensor.config.ping.seed1', 'quark-4m.minimal.ping.seed1', 'quark-4m.sensor.config.ping.seed1']);
    expect(plan.thresholds).toEqual({ 'flash.image': 0.25, 'ram.static': 0.5, 'ram.peak': 0.5, goodput: -10, 'rtt.p99': 10 });
  });

  it('names the place of each problem', () => {
    const bad = (doc: unknown) => {
      const r = planFromData(doc, 'p.yaml', '/');
      return 'error' in r ? r.error : null;
    };
    const base = { boards: ['quark-2m'], profiles: ['minimal'], scenarios: ['ping'] };
    expect(bad({ ...base, budgets: { board: { 'quark-2m': { 'ram.peek': '1MiB' } } } })).toMatch(/^plan p\.yaml: budgets\.board\.quark-2m\.ram\.peek: unknown budget "ram\.peek"/);
    expect(bad({ ...base, budgets: { default: { 'ram.peak': '1 parsec' } } })).toMatch(/^plan p\.yaml: budgets\.default\.ram\.peak: /);
    expect(bad({ ...base, 'expect-fail': [{ scenario: 'ping' }] })).toBe('plan p.yaml: expect-fail[0]: each expected failure needs a reason');
    expect(bad({ ...base, thresholds: { flash: 1 } })).toMatch(/^plan p\.yaml: thresholds\.flash: unknown figure/);
    expect(bad({ ...base, sedes: [1] })).toMatch(/^plan p\.yaml: unknown key "sedes"/);
  });
});
