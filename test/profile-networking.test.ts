// A profile without networking does not network (issue 13, item 2). An empty Kconfig fragment,
// or one without CONFIG_NET, used to boot the whole IPv4/TCP stack at zero cost, and
// `profile diff minimal empty` credited −449,403 B of flash for nothing. The oracle is Linux's
// dependency tree (net/Kconfig: INET depends on NET; everything IPv4 depends on INET): without
// NET there is no stack, without INET no IPv4, and a scenario — every one talks IPv4 over the
// board's Ethernet — fails its check naming the missing symbol, exit 1 with a report.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../scenarios/run.js';
import { buildFirmware } from '../scenarios/firmware.js';
import { resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { compareProfiles, formatProfileDiff } from '../scripts/profile-diff.js';
import { NetStack } from '../stack/net-stack.js';
import { removeTempDirs, tempDir } from './helpers/run.js';

afterAll(removeTempDirs);

let dir: string;
const fragment = (name: string, text: string): string => {
  const path = join(dir, `${name}.config`);
  writeFileSync(path, text);
  return path;
};

beforeAll(() => {
  dir = tempDir();
});

describe('a profile without NET or INET', () => {
  it('an empty fragment: the run fails its check naming CONFIG_NET, exit 1 with a report', () => {
    const o = run({ profile: fragment('empty', '# nothing\n') });
    expect(o.exitCode, o.error).toBe(1);
    expect(o.report!.verdict).toBe('fail');
    const failed = o.report!.checks.filter((c) => !c.pass);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.detail).toBe('profile empty has CONFIG_NET off: no network stack, so nothing the scenario sends can leave quark-2m');
    expect(failed[0]!.detail).not.toContain('\n');
    // Nothing ran: no board came up, no frame was sent.
    expect(o.report!.boards).toEqual([]);
  });

  it('a fragment with everything but NET (and so nothing that needs it) fails the same way', () => {
    const o = run({ profile: fragment('no-net', '# CONFIG_NET is not set\nCONFIG_BASE_SMALL=y\n'), scenario: 'ping' });
    expect(o.exitCode).toBe(1);
    expect(o.report!.checks.find((c) => !c.pass)!.detail).toMatch(/^profile no-net has CONFIG_NET off: no network stack/);
  });

  it('NET without INET: no IPv4, the check names CONFIG_INET', () => {
    const o = run({ profile: fragment('net-only', 'CONFIG_NET=y\nCONFIG_PACKET=y\n') });
    expect(o.exitCode).toBe(1);
    expect(o.report!.checks.find((c) => !c.pass)!.detail).toBe(
      'profile net-only has CONFIG_INET off: no IPv4, so nothing the scenario sends can leave quark-2m',
    );
  });

  it('the stack itself refuses to be built without NET or INET, so nothing can run it for free', () => {
    const env = { config: new Set(['NET']) } as unknown as ConstructorParameters<typeof NetStack>[0];
    expect(() => new NetStack(env)).toThrow(/NetStack needs CONFIG_INET/);
  });

  it('profile diff says the empty profile\'s saving buys no networking', () => {
    const board = resolveBoard('quark-2m');
    const table = resolveCostTable(undefined);
    const a = resolveProfile('minimal');
    const b = resolveProfile(fragment('empty', ''));
    if ('error' in board || 'error' in table || 'error' in a || 'error' in b) throw new Error('inputs');
    const side = (p: typeof a) => {
      const fw = buildFirmware(board, p, table);
      if ('error' in fw) throw new Error(fw.error);
      return { profile: p, imageBytes: fw.image.length, sections: fw.sections, stack: fw.stack };
    };
    const d = compareProfiles(side(a), side(b), { board: board.name, executeInPlace: false, costTable: 'default' });
    expect(d.a.missingNetworking).toBeNull();
    expect(d.b.missingNetworking).toBe('NET');
    const text = formatProfileDiff(d);
    expect(text.split('\n')[1]).toBe(
      'warning: empty has CONFIG_NET off: no network stack. It boots, but every scenario fails its check on it; ' +
        'the bytes below are what dropping networking costs, not a saving that keeps the job done.',
    );
  });
});
