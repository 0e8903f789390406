// The README's worked examples are produced by real runs (cli/docs-examples.ts), so they cannot
// drift from what the code prints: the committed text is compared with a fresh run of each
// command, and a block whose figures differ by one digit fails with a diff naming its line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = join(import.meta.dirname, '..', 'dist', 'cli', 'docs-examples.js');

function check(file?: string) {
  return spawnSync(process.execPath, [script, ...(file ? [file] : [])], { encoding: 'utf8' });
}

describe('docs examples', () => {
  it("README's worked examples are what the commands print today", () => {
    const r = check();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 60_000);

  it('a figure changed by one digit is caught, with the line and both texts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quarklab-docs-test-'));
    try {
      // The shortfall Linux's sizes give the full profile on quark-2m, one digit off.
      const file = join(dir, 'page.md');
      writeFileSync(file, [
        '# page', '', '<!-- example: full-does-not-fit -->', '```',
        '$ npx quarklab run --profile full; echo exit $?', '…',
        'check FAIL profile fits the board: this line is stale', 'verdict: FAIL', '…', 'exit 1', '```', '',
      ].join('\n'));
      const r = check(file);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${file}:5 example "full-does-not-fit" differs`);
      expect(r.stderr).toContain('- check FAIL profile fits the board: this line is stale');
      expect(r.stderr).toMatch(/\+ check FAIL profile fits the board: profile full does not fit quark-2m: .*short by \d+ bytes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('a marker naming no example is refused with its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quarklab-docs-test-'));
    try {
      const file = join(dir, 'page.md');
      writeFileSync(file, '# page\n\n<!-- example: no-such-example -->\n```\n$ true\n```\n');
      const r = check(file);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${file}: line 3: no example named "no-such-example"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
