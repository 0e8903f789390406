// Does a profile fit the board? The full profile does not fit quark-2m's 2 MiB: the run fails
// (exit 1) with the exact shortfall; the minimal profile and a user fragment that fits boot.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFirmware } from '../scenarios/firmware.js';
import { programReservations } from '../scenarios/boot.js';
import { resolveBoard, resolveCostTable, resolveProfile } from '../scenarios/inputs.js';
import { DEFAULT_SCENARIO, findScenario } from '../scenarios/registry.js';
import { quarklabAsync, readJson, removeTempDirs, runToDir, tempDir } from './helpers/run.js';
import type { Report } from '../traces/report.js';

afterAll(removeTempDirs);

const PAGE = 4096;
const MIN_HEAP = 64 * 1024; // the heap the kernel needs to run at all (emulator/board.ts)
const pageUp = (n: number): number => Math.ceil(n / PAGE) * PAGE;

function ok<T>(x: T | { error: string }): T {
  if (x !== null && typeof x === 'object' && 'error' in x) throw new Error(x.error);
  return x as T;
}

/**
 * RAM a profile needs at boot on quark-2m, from the image's sections (text too: quark-2m does
 * not execute in place; the config section stays in flash) and the programs of the scenario
 * `quarklab run` runs by default.
 */
function bootNeed(profileName: string, scenarioName = DEFAULT_SCENARIO): { need: number; ram: number } {
  const board = ok(resolveBoard('quark-2m'));
  const fw = ok(buildFirmware(board, ok(resolveProfile(profileName)), ok(resolveCostTable())));
  expect(board.executeInPlace).toBe(false);
  let need = 0;
  for (const s of fw.sections) if (s.kind !== 'config') need += pageUp(s.size);
  const scenario = ok(findScenario(scenarioName));
  for (const p of programReservations(board, scenario.dutPrograms)) need += pageUp(p.textBytes) + pageUp(p.stackBytes) + pageUp(p.heapBytes);
  return { need, ram: board.ramBytes };
}

describe('profile fit on quark-2m', () => {
  it('the full profile does not fit: exit 1, the precise shortfall in bytes', async () => {
    const out = tempDir();
    const r = await quarklabAsync(['run', '--board', 'quark-2m', '--profile', 'full', '--out', out]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toBe('');
    const m = /short by (\d+) bytes/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const shortBy = Number(m![1]);
    expect(shortBy).toBeGreaterThan(0);
    const { need, ram } = bootNeed('full');
    expect(shortBy).toBe(need + MIN_HEAP - ram);
    expect(r.stdout).toContain(`need ${need} bytes`);
    expect(r.stdout).toMatch(/check FAIL profile fits the board/);
    expect(r.stdout).toMatch(/verdict: FAIL/);
    // The report says the same, and no capture was written (nothing booted).
    const report = readJson<Report>(join(out, 'report.json'));
    expect(report.verdict).toBe('fail');
    expect(report.checks).toEqual([{ name: 'profile fits the board', pass: false, detail: expect.stringContaining(`short by ${shortBy} bytes`) }]);
    expect(report.boards).toEqual([]);
  });

  it('the minimal profile boots, with the headroom the same sum predicts', () => {
    const run = runToDir({ board: 'quark-2m', profile: 'minimal' });
    expect(run.outcome.exitCode).toBe(0);
    const { need, ram } = bootNeed('minimal');
    // Worked by hand (python3 over calibration/linux-6.1-i386.json), each section page-rounded:
    //   kernel core "tiny": text 862,189 − .init.text 64,611 = 797,578 → 798,720; data 293,108
    //     − .init.data 65,844 = 227,264 → 229,376; bss 1,200,128 − .brk 1,138,688 = 61,440;
    //     init 130,455 → 131,072                                          = 1,220,608
    //   stmmac + PHY objects: text 160,079 → 163,840, data 5,588 → 8,192, bss 16 → 4,096 = 176,128
    //   NET 180,224 + INET 258,048 + SYN_COOKIES 12,288 + IP_PING 16,384 + IP_MULTICAST 20,480
    //     + FIB_LIST (35% of fib_trie.o) 12,288                           =   499,712
    //   smoke's three programs × (16 KiB text + 8 KiB stack + 16 KiB heap) =   122,880
    expect(need).toBe(2_019_328);
    expect(ram).toBe(2 * 1024 * 1024);
    expect(need + MIN_HEAP).toBeLessThanOrEqual(ram);
    const m = run.report.boards[0]!.memory!;
    // Init sections are freed after boot: what is left reserved is the need minus them.
    expect(m.staticBytes + m.initFreedBytes).toBe(need);
    expect(m.heapBytes).toBe(ram - m.staticBytes);
  });

  it('a fragment at the edge (minimal + raw sockets, default scenario): the verdict follows the same sum', () => {
    const frag = join(tempDir(), 'edge.config');
    writeFileSync(frag, '# base: minimal\nCONFIG_INET_RAW=y\n');
    const { need, ram } = bootNeed(frag);
    const run = runToDir({ board: 'quark-2m', profile: frag });
    if (need + MIN_HEAP > ram) {
      expect(run.outcome.exitCode).toBe(1);
      expect(run.report.checks[0]!.detail).toContain(`short by ${need + MIN_HEAP - ram} bytes`);
    } else {
      expect(run.outcome.exitCode, run.report.checks.map((c) => c.detail).join('; ')).toBe(0);
    }
  });

  it('a user fragment that fits still boots, and its features are really in (raw sockets: ping uses one)', async () => {
    // minimal + raw sockets, run with the ping scenario (one program, ping itself).
    const dir = tempDir();
    const frag = join(dir, 'minimal-raw.config');
    writeFileSync(frag, '# base: minimal\nCONFIG_INET_RAW=y\n');
    const out = join(dir, 'out');
    const r = await quarklabAsync(['run', '--board', 'quark-2m', '--profile', frag, '--scenario', 'ping', '--out', out]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const report = readJson<Report>(join(out, 'report.json'));
    expect(report.verdict).toBe('pass');
    expect(report.boards[0]!.profile.name).toBe('minimal-raw');
    expect(report.boards[0]!.profile.enabled).toContain('INET_RAW');
    expect(report.scenario.figures['ping']).toMatchObject({ socketKind: 'raw', transmitted: 4, received: 4 });
  });
});
