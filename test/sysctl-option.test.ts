// `run --sysctl NAME=VALUE`: boot values of sysctls, as a kernel built with other defaults. On
// minimal (no PROC_FS, so no /proc/sys: no program can change a sysctl) it is the only way to
// set one. The oracle is the capture: with net.ipv4.tcp_rmem's maximum at 8192 bytes and
// tcp_adv_win_scale 1 (6.1's default), tcp_win_from_space gives 8192 − 8192/2 = 4096 bytes,
// the most window the board can ever offer; tshark reads the windows it did offer.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Errno } from '../stack/uapi/errno.js';
import { planFromData, expandCells } from '../runner/plan.js';
import { bootPair } from './helpers/lab-pair.js';
import { quarklabAsync, readJson, removeTempDirs, tempDir } from './helpers/run.js';
import { tsharkFields } from './helpers/tshark.js';
import type { Report } from '../traces/report.js';

afterAll(removeTempDirs);

function boardWindows(capture: string): number[] {
  return tsharkFields(capture, ['tcp.window_size'], 'ip.src == 192.0.2.2 && tcp').map(([w]) => Number(w));
}

describe('run --sysctl on minimal (no /proc/sys)', () => {
  it('net.ipv4.tcp_rmem caps the window the board offers at 4096 bytes; without it the window grows past that', async () => {
    const on = tempDir();
    const r = await quarklabAsync(['run', '--scenario', 'bulk-rx:bytes=200000', '--sysctl', 'net.ipv4.tcp_rmem=4096 8192 8192', '--sysctl', 'net.ipv4.tcp_keepalive_time=600', '--out', on]);
    expect(r.status).toBe(0);
    const w = boardWindows(join(on, 'capture.pcapng'));
    expect(w.length).toBeGreaterThan(50);
    expect(Math.max(...w)).toBe(4096);
    // Both settings are recorded as inputs of the run.
    expect(readJson<Report>(join(on, 'report.json')).inputs.sysctl).toEqual({ 'net.ipv4.tcp_rmem': '4096 8192 8192', 'net.ipv4.tcp_keepalive_time': '600' });
    const off = tempDir();
    expect((await quarklabAsync(['run', '--scenario', 'bulk-rx:bytes=200000', '--out', off])).status).toBe(0);
    expect(Math.max(...boardWindows(join(off, 'capture.pcapng')))).toBeGreaterThan(4096);
    expect(readJson<Report>(join(off, 'report.json')).inputs.sysctl).toBeUndefined();
  });
});

describe('run --sysctl: bad input is one line, exit 2, nothing written', () => {
  const cases: [string, RegExp][] = [
    ['net.ipv4.tcp_nonsense=1', /^quarklab run: --sysctl: sysctl net\.ipv4\.tcp_nonsense: not a sysctl the board has$/],
    ['net.ipv4.tcp_rmem=abc', /^quarklab run: --sysctl: sysctl net\.ipv4\.tcp_rmem: bad value "abc"$/],
    ['net.ipv4.tcp_syn_retries=0', /bad value "0"/], // proc_dointvec_minmax: 1 to 127 in 6.1
    ['tcp_rmem', /--sysctl wants NAME=VALUE/],
    // minimal has no NET_SCHED: the sysctl does not exist (sysctl_net_core.c).
    ['net.core.default_qdisc=fq_codel', /no such sysctl without CONFIG_NET_SCHED/],
  ];
  for (const [arg, want] of cases) {
    it(arg, async () => {
      const out = join(tempDir(), 'out');
      const r = await quarklabAsync(['run', '--sysctl', arg, '--out', out]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(want);
      expect(existsSync(out)).toBe(false);
    });
  }

  it('packetdrill --sysctl uses the same parser and check', async () => {
    const r = await quarklabAsync(['packetdrill', '--sysctl', 'net.ipv4.tcp_nonsense=1', 'x.pkt']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/--sysctl: sysctl net\.ipv4\.tcp_nonsense: not a sysctl the board has$/);
  });
});

describe('boot values where no program can change a sysctl', () => {
  it('minimal has no /proc/sys: a board program writing net.ipv4.tcp_rmem gets ENOENT', () => {
    const p = bootPair({ dutProfile: 'minimal' });
    expect(p.dutSys.writeSysctl('net.ipv4.tcp_rmem', '4096 8192 8192')).toBe(-Errno.ENOENT);
  });

  it('a plan\'s sysctl map reaches every cell, and a bad one names its place', () => {
    const plan = planFromData({ boards: ['quark-2m'], profiles: ['minimal'], scenarios: ['ping'], sysctl: { 'net.ipv4.tcp_rmem': '4096 8192 8192' } }, 'p.yaml', '/');
    if ('error' in plan) throw new Error(plan.error);
    expect(expandCells(plan)[0]!.sysctls).toEqual([{ name: 'net.ipv4.tcp_rmem', value: '4096 8192 8192' }]);
    const bad = planFromData({ boards: ['quark-2m'], profiles: ['minimal'], scenarios: ['ping'], sysctl: { 'net.ipv4.tcp_nonsense': 1 } }, 'p.yaml', '/');
    expect('error' in bad && bad.error).toMatch(/^plan p\.yaml: sysctl: sysctl net\.ipv4\.tcp_nonsense: not a sysctl the board has$/);
  });
});
