// Every bad input a new user tried (issue 14), and the rest of their kinds: each must end in
// exit 2 and exactly one line on stderr naming the problem — never a stack trace, a hang or a
// half-written output — and must leave no output files behind.
//
// The table runs in-process through the CLI's main() (fast: no process per case); the few
// inputs that could hang a process (FIFOs, devices) also run through the real CLI under a timeout.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quarklabAsync, quarklabProcess, REPO_ROOT, removeTempDirs, stderrProblems, tempDir } from './helpers/run.js';

afterAll(removeTempDirs);

let dir = '';
/** Where every case may write: it must hold exactly the fixtures afterwards. */
let out = '';
let fixtures: string[] = [];

const board = (): Record<string, any> => JSON.parse(readFileSync(join(REPO_ROOT, 'boards', 'quark-2m.json'), 'utf8'));
function boardFile(name: string, edit: (b: Record<string, any>) => void): string {
  const b = board();
  edit(b);
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(b));
  return p;
}

beforeAll(() => {
  dir = tempDir('quarklab-bad-');
  out = join(dir, 'out');
  const f = (name: string, text: string | Uint8Array = ''): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  expect(spawnSync('mkfifo', [join(dir, 'fifo')]).status).toBe(0);
  f('empty.img');
  f('big.img');
  truncateSync(join(dir, 'big.img'), 5 * 1024 * 1024); // sparse: larger than quark-2m's 4 MiB flash
  f('big.json');
  truncateSync(join(dir, 'big.json'), 1024 * 1024);
  f('a-file', 'x');
  mkdirSync(join(dir, 'folder'));
  mkdirSync(join(dir, 'out-with-dir', 'report.json'), { recursive: true });
  boardFile('ram-odd.json', (b) => (b.ramBytes = 2 * 1024 * 1024 + 100));
  boardFile('name-long.json', (b) => (b.name = 'q'.repeat(33)));
  boardFile('name-utf8.json', (b) => (b.name = 'quärk-2m'));
  boardFile('proto.json', (b) => (b.kernelCore = '__proto__'));
  boardFile('mac-multicast.json', (b) => (b.mac.address = '01:00:5e:00:00:01'));
  boardFile('mac-broadcast.json', (b) => (b.mac.address = 'ff:ff:ff:ff:ff:ff'));
  boardFile('mac-zero.json', (b) => (b.mac.address = '00:00:00:00:00:00'));
  boardFile('desc-long.json', (b) => (b.description = 'd'.repeat(201)));
  f('not-json.json', '{"name": ');
  f('not-utf8.json', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
  f('bom.json', '\ufeff' + JSON.stringify(board()));
  f(`${'p'.repeat(40)}.config`, '# base: minimal\n');
  f('prøfile.config', '# base: minimal\n');
  f('huge-object.size', '   text\t   data\t    bss\t    dec\t    hex\tfilename\n4294967296\t0\t0\t4294967296\t100000000\t./net/ipv4/tcp.o\n');
  const pahole = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'calibrate', 'structs.pahole'), 'utf8').replace('/* size: 176,', '/* size: 0,');
  f('zero.pahole', pahole);
  fixtures = readdirSync(dir).sort();
});

interface Case {
  args: () => string[];
  /** What the one line must say. */
  says: RegExp;
}

const OBJECTS = join(REPO_ROOT, 'test', 'fixtures', 'calibrate', 'objects.size');
const p = (name: string): string => join(dir, name);
const run = (...args: string[]): string[] => ['run', '--out', out, ...args];

const CASES: Record<string, Case> = {
  // numbers
  '--seed empty': { args: () => run('--seed', ''), says: /^quarklab run: --seed must be a decimal integer from 0 to 4294967295, got ""$/ },
  '--seed hex': { args: () => run('--seed', '0x10'), says: /--seed must be a decimal integer .* got "0x10"/ },
  '--seed exponent': { args: () => run('--seed', '1e3'), says: /--seed must be a decimal integer .* got "1e3"/ },
  '--seed negative': { args: () => run('--seed=-1'), says: /--seed must be a decimal integer/ },
  '--seed space': { args: () => run('--seed', ' 1'), says: /--seed must be a decimal integer/ },
  '--seed too large': { args: () => run('--seed', '4294967296'), says: /--seed must be a decimal integer from 0 to 4294967295/ },
  '--epoch beyond 64-bit ns': { args: () => run('--epoch', '99999999999'), says: /^quarklab run: --epoch must be a decimal integer from 0 to 18446657673, got "99999999999"$/ },
  '--epoch beyond 32-bit pcap seconds': { args: () => run('--pcap', '--epoch', '4294967295'), says: /--epoch \(with --pcap\) must be a decimal integer from 0 to 4294880895/ },
  '--epoch fraction': { args: () => run('--epoch', '1.5'), says: /--epoch must be a decimal integer/ },
  '--budget count with a unit': { args: () => run('--budget', 'rx.missed=5MiB'), says: /^quarklab run: budget rx\.missed: unknown unit "MiB" \(rx\.missed is a plain count: no unit\)$/ },
  '--budget fractional count': { args: () => run('--budget', 'rx.missed=1.5'), says: /budget rx\.missed: "1\.5" is not a whole count/ },
  '--budget unit named like an Object key': { args: () => run('--budget', 'ram.peak=1constructor'), says: /budget ram\.peak: unknown unit "constructor" \(use / },
  '--cpu': { args: () => run('--cpu', 'maybe'), says: /--cpu must be on or off/ },
  // image files
  'image /dev/zero': { args: () => run('--image', '/dev/zero'), says: /^quarklab run: \/dev\/zero: firmware image is a character device, not a regular file$/ },
  'image FIFO': { args: () => run('--image', p('fifo')), says: /fifo: firmware image is a FIFO, not a regular file/ },
  'image a folder': { args: () => run('--image', p('folder')), says: /folder: firmware image is a directory, not a regular file/ },
  'image 0 bytes': { args: () => run('--image', p('empty.img')), says: /empty\.img: flash image: truncated: 0 bytes, shorter than the 96-byte header/ },
  'image larger than the flash': { args: () => run('--image', p('big.img')), says: /big\.img: firmware image is 5242880 bytes, larger than quark-2m's 4194304-byte flash/ },
  'image missing': { args: () => run('--image', p('nope.img')), says: /nope\.img: cannot open firmware image \(ENOENT\)/ },
  'inspect /dev/zero': { args: () => ['image', 'inspect', '/dev/zero'], says: /^quarklab image: \/dev\/zero: firmware image is a character device/ },
  'inspect 0 bytes': { args: () => ['image', 'inspect', p('empty.img')], says: /empty\.img: flash image: truncated: 0 bytes/ },
  // board files
  'board FIFO': { args: () => run('--board', p('fifo')), says: /fifo: board file is a FIFO, not a regular file/ },
  'board /dev/zero': { args: () => run('--board', '/dev/zero'), says: /\/dev\/zero: board file is a character device/ },
  'board too large': { args: () => run('--board', p('big.json')), says: /big\.json: board file is 1048576 bytes, larger than the 65536 bytes a board file can be/ },
  'board RAM not whole pages': { args: () => run('--board', p('ram-odd.json')), says: /ram-odd\.json: field "ramBytes" is 2097252, expected a multiple of 4096 \(the page size\)/ },
  'board name over 32': { args: () => run('--board', p('name-long.json')), says: /field "name" is "q+…", expected a name of 1 to 32 printable ASCII characters/ },
  'board name not ASCII': { args: () => run('--board', p('name-utf8.json')), says: /field "name" is "quärk-2m", expected a name of 1 to 32 printable ASCII/ },
  'board kernelCore __proto__': { args: () => run('--board', p('proto.json')), says: /no vmlinux build '__proto__' \(has: tiny/ },
  'board multicast MAC': { args: () => run('--board', p('mac-multicast.json')), says: /field "mac\.address" is "01:00:5e:00:00:01", expected a unicast MAC address/ },
  'board broadcast MAC': { args: () => run('--board', p('mac-broadcast.json')), says: /field "mac\.address" is "ff:ff:ff:ff:ff:ff", expected a unicast MAC address/ },
  'board all-zero MAC': { args: () => run('--board', p('mac-zero.json')), says: /field "mac\.address" is "00:00:00:00:00:00", expected a MAC address other than 00:00:00:00:00:00/ },
  'board long description': { args: () => run('--board', p('desc-long.json')), says: /field "description" .* expected a string of at most 200 characters/ },
  'board not JSON': { args: () => run('--board', p('not-json.json')), says: /not-json\.json: not valid JSON/ },
  'board not UTF-8': { args: () => run('--board', p('not-utf8.json')), says: /not-utf8\.json: board file is not UTF-8 text/ },
  'board missing': { args: () => run('--board', p('nope.json')), says: /no such built-in board .* or file/ },
  'profiles with a FIFO board': { args: () => ['profiles', '--board', p('fifo')], says: /^quarklab profiles: .*fifo: board file is a FIFO/ },
  // profile files
  'profile name over 32': { args: () => run('--profile', p(`${'p'.repeat(40)}.config`)), says: /profile name "p{40}" \(the file name without \.config\) must be 1 to 32 printable ASCII characters; rename the file/ },
  'profile name not ASCII': { args: () => run('--profile', p('prøfile.config')), says: /profile name "prøfile" .* must be 1 to 32 printable ASCII/ },
  'profile FIFO': { args: () => run('--profile', p('fifo')), says: /fifo: not a file/ },
  'image build, profile name not ASCII': { args: () => ['image', 'build', '--profile', p('prøfile.config'), '-o', p('x.img')], says: /^quarklab image: .*profile name "prøfile"/ },
  // calibrate
  'calibrate 4 GiB object': { args: () => ['calibrate', '--size', p('huge-object.size'), '-o', p('t.json')], says: /huge-object\.size:2: \.\/net\/ipv4\/tcp\.o is 4294967296 bytes; an i386 object is smaller than 4 GiB/ },
  'calibrate struct of size 0': { args: () => ['calibrate', '--size', OBJECTS, '--pahole', p('zero.pahole'), '-o', p('t.json')], says: /zero\.pahole:\d+: struct sk_buff has size 0/ },
  'calibrate listing FIFO': { args: () => ['calibrate', '--size', p('fifo'), '-o', p('t.json')], says: /fifo: listing is a FIFO, not a regular file/ },
  'calibrate -o a folder': { args: () => ['calibrate', '--size', OBJECTS, '-o', p('folder')], says: /^quarklab calibrate: -o .*folder: is a directory, not a file$/ },
  // output places
  '--out names a file': { args: () => ['run', '--out', p('a-file')], says: /^quarklab run: --out .*a-file: is a file, not a folder$/ },
  '--out under a file': { args: () => ['run', '--out', join(p('a-file'), 'sub')], says: /--out .*a-file\/sub: .*a-file is a file, not a folder/ },
  '--out under /proc': { args: () => ['run', '--out', '/proc/quarklab-out'], says: /^quarklab run: --out \/proc\/quarklab-out: under \/proc, a kernel pseudo file system/ },
  '--out under /sys': { args: () => ['run', '--out', '/sys/kernel/quarklab'], says: /--out \/sys\/kernel\/quarklab: under \/sys/ },
  '--out holds a folder named report.json': { args: () => ['run', '--out', p('out-with-dir')], says: /--out .*out-with-dir: report\.json there is a directory, so it cannot be written/ },
  'image build -o a folder': { args: () => ['image', 'build', '-o', p('folder')], says: /^quarklab image: -o .*folder: is a directory, not a file$/ },
  'image build -o in no folder': { args: () => ['image', 'build', '-o', join(p('nowhere'), 'fw.img')], says: /-o .*nowhere\/fw\.img: no folder/ },
  'image build -o under /proc': { args: () => ['image', 'build', '-o', '/proc/fw.img'], says: /-o \/proc\/fw\.img: under \/proc/ },
  // usage
  'profile without a subcommand': { args: () => ['profile'], says: /^quarklab profile: missing subcommand \(diff\)/ },
  'image without a subcommand': { args: () => ['image'], says: /^quarklab image: missing subcommand/ },
};

describe('bad input: one line, exit 2, no output', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(name, async () => {
      const t0 = performance.now();
      const r = await quarklabAsync(c.args());
      const ms = performance.now() - t0;
      expect(r.threw, `${name}: threw instead of exit 2`).toBeNull();
      expect(r.status, `${name}: ${r.stderr}`).toBe(2);
      expect(stderrProblems(r.stderr), name).toBeNull();
      expect(r.stderr.trimEnd()).toMatch(c.says);
      expect(r.stdout, name).toBe('');
      expect(ms, `${name} took ${ms.toFixed(0)} ms`).toBeLessThan(5000);
      // Nothing written: the folder holds exactly the fixtures (no out/, no x.img, no t.json, no probe files).
      expect(readdirSync(dir).sort(), name).toEqual(fixtures);
      expect(readdirSync(p('folder')), name).toEqual([]);
    });
  }

  it('a UTF-8 byte-order mark before a board file is accepted', async () => {
    const r = await quarklabAsync(['profiles', '--board', p('bom.json')]);
    expect(r.threw).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^board quark-2m: 2\.00 MiB RAM, 4\.00 MiB flash/m);
  });

  it('through the real CLI, FIFOs and devices are refused at once, not read or waited on', async () => {
    const cases = [run('--image', p('fifo')), run('--board', p('fifo')), run('--image', '/dev/zero'), ['image', 'inspect', p('fifo')]];
    const t0 = performance.now();
    const results = await Promise.all(cases.map((a) => quarklabProcess(a)));
    results.forEach((r, i) => {
      expect(r.status, cases[i]!.join(' ')).toBe(2);
      expect(stderrProblems(r.stderr)).toBeNull();
      expect(r.stderr).toMatch(/is a (FIFO|character device), not a regular file/);
    });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(readdirSync(dir).sort()).toEqual(fixtures);
  });
});
