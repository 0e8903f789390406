// `quarklab live` refuses bad usage with one line and exit 2 before it boots or binds anything:
// a missing or malformed tunnel, an unknown program, and a tunnel address this host does not
// have (the kernel's EADDRNOTAVAIL, named). The live session itself is test/live/live.test.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quarklabAsync, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';

describe('quarklab live: bad usage', () => {
  afterAll(removeTempDirs);

  it('is one line and exit 2, and writes nothing', async () => {
    const out = join(tempDir('quarklab-live-cli-'), 'out');
    const cases: [string[], RegExp][] = [
      [[], /--vxlan LOCAL:PORT,REMOTE:PORT is required/],
      [['--vxlan', '198.51.100.2:4789,198.51.100.1:4789', '--serve', 'ftp'], /unknown program "ftp"/],
      // 192.0.2.254 is on no interface of this host (documentation range): bind fails.
      [['--vxlan', '192.0.2.254:4789,198.51.100.1:4789', '--address', '192.0.2.2/24'], /cannot bind the VXLAN socket to 192\.0\.2\.254:4789 \(EADDRNOTAVAIL\)/],
    ];
    const results = await Promise.all(cases.map(([args]) => quarklabAsync(['live', ...args, '--out', out])));
    results.forEach((r, i) => {
      expect(r.status, r.stderr).toBe(2);
      expect(stderrProblems(r.stderr)).toBeNull();
      expect(r.stderr).toMatch(cases[i]![1]);
    });
    expect(existsSync(out)).toBe(false);
  });
});
