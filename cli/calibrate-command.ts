/** `quarklab calibrate`: a cost table from a team's own kernel build (`size`, `pahole`). */
import { writeFileSync } from 'node:fs';
import { readInputText } from '../scenarios/input-files.js';
import { checkOutputFile } from './output-place.js';
import { parseArgs } from 'node:util';
import { builtinBoards, resolveBoard } from '../scenarios/inputs.js';
import { calibrate, MAX_LISTING_BYTES, type InputFile } from '../scripts/calibrate.js';
import { loadCostTable, parseCostTable } from '../stack/kconfig/cost-table.js';
import { SYMBOLS, driverObjects } from '../stack/kconfig/symbols.js';
import { fail, write } from './output.js';

/** The shipped table, as `run` names it in report.json. */
const DEFAULT_TABLE = 'calibration/linux-6.1-i386.json';

export const CALIBRATE_HELP = `usage: quarklab calibrate --size FILE [--pahole FILE] [--vmlinux NAME=FILE ...]
                          [--build-dir DIR] [--base-defaults] -o table.json

Write a cost table (the shape of calibration/linux-6.1-i386.json) from your kernel build, for
'run', 'image build', 'profiles' and 'profile diff --costs table.json'.

  --size FILE          Berkeley \`size\` output of the build's objects, e.g.
                         size $(find net drivers/net -name '*.o') > objects.size
                       paths may start with ./ or the O= build directory (worked out, or
                       given with --build-dir); they become net/ipv4/tcp.o
  --pahole FILE        pahole output of the structures the stack allocates, e.g.
                         pahole -C sk_buff,skb_shared_info,tcp_sock,... vmlinux > structs.txt
  --vmlinux NAME=FILE  a whole-kernel build the boards can use as kernel core (the boards
                       name 'tiny' and 'core'): FILE holds both
                         { size vmlinux; size -A vmlinux; } > tiny.size
                       repeatable; --vmlinux-size is the same option
  --build-dir DIR      the directory prefixed to the object paths, when it is ambiguous
  --base-defaults      take the objects, structs and builds your listings lack from the
                       shipped table (Linux 6.1 i386, measured); without it they are absent
                       (absent objects cost 0). The table's "source" records where each
                       entry came from.
  -o, --output FILE    the table to write

Every figure is checked (dec = text+data+bss, hex = dec, section sums = Total); a bad line is
a one-line error naming FILE:LINE, exit 2.`;

export function calibrateCommand(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string' },
      pahole: { type: 'string' },
      vmlinux: { type: 'string', multiple: true },
      'vmlinux-size': { type: 'string', multiple: true },
      'build-dir': { type: 'string' },
      'base-defaults': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    write(CALIBRATE_HELP);
    return 0;
  }
  if (!values.size) fail('calibrate needs --size FILE (Berkeley `size` output of the kernel build\'s objects)');
  if (!values.output) fail('calibrate needs -o FILE (the cost table to write)');
  const place = checkOutputFile(values.output, '-o');
  if (place) fail(place.error);

  const defaults = loadCostTable();
  if ('error' in defaults) fail(defaults.error);
  const vmlinux = [...(values.vmlinux ?? []), ...(values['vmlinux-size'] ?? [])].map((spec) => {
    const m = /^([^=]+)=(.+)$/.exec(spec);
    if (!m) fail(`--vmlinux takes NAME=FILE (e.g. tiny=tiny.size), got "${spec}"`);
    return { name: m[1]!, input: readInput(m[2]!) };
  });
  const known = new Set<string>([...Object.keys(defaults.objects), ...SYMBOLS.flatMap((s) => s.objects), ...driverObjects]);
  const table = calibrate({
    size: readInput(values.size),
    ...(values.pahole ? { pahole: readInput(values.pahole) } : {}),
    vmlinux,
    ...(values['build-dir'] !== undefined ? { buildDir: values['build-dir'] } : {}),
    ...(values['base-defaults'] ? { base: { path: DEFAULT_TABLE, table: defaults } } : {}),
    knownObjects: known,
  });
  if ('error' in table) fail(table.error);
  // What we write must be what loadCostTable reads.
  const check = parseCostTable(JSON.parse(JSON.stringify(table)), values.output);
  if ('error' in check) throw new Error(`calibrate wrote a table it cannot read: ${check.error}`);

  const json = JSON.stringify(table, null, 1) + '\n';
  try {
    writeFileSync(values.output, json);
  } catch (e) {
    fail(`${values.output}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }

  const src = table.source;
  const count = (r: Record<string, string>, pred: (v: string) => boolean): number => Object.values(r).filter(pred).length;
  const fromDefaults = (v: string): boolean => v.startsWith('defaults:');
  const o = count(src.objects, (v) => !fromDefaults(v));
  const st = count(src.structs, (v) => !fromDefaults(v));
  write(
    `${values.output}: ${o} objects from ${values.size}${src.buildDir ? ` (build directory ${src.buildDir} stripped)` : ''}` +
      `, ${st} structs${values.pahole ? ` from ${values.pahole}` : ''}, vmlinux builds: ${vmlinux.map((v) => `${v.name} (${v.input.file})`).join(', ') || 'none'}` +
      (values['base-defaults']
        ? `; from the defaults: ${count(src.objects, fromDefaults)} objects, ${count(src.structs, fromDefaults)} structs, builds ${Object.keys(src.builds).filter((b) => fromDefaults(src.builds[b]!)).join(', ') || 'none'}`
        : ''),
  );

  // What the table lacks that quarklab will ask for: said now rather than as zeros later.
  const modelled = [...new Set([...SYMBOLS.flatMap((s) => [...s.objects, ...(s.share ? [s.share.object] : [])]), ...driverObjects])].sort();
  const missingObjects = modelled.filter((x) => !(x in check.objects));
  if (missingObjects.length > 0) {
    write(`warning: ${missingObjects.length} objects the profiles or the board driver charge are not in the table and will cost 0: ${listSome(missingObjects)}` + (values['base-defaults'] ? '' : ' (--base-defaults takes them from the shipped table)'));
  }
  const missingStructs = Object.keys(defaults.structs).filter((x) => !(x in check.structs));
  if (missingStructs.length > 0) {
    write(`warning: ${missingStructs.length} structs the stack allocates are not in the table, so 'run' cannot use it: ${listSome(missingStructs)} (give them in --pahole, or --base-defaults)`);
  }
  const cores = [...new Set(builtinBoards().map((b) => resolveBoard(b)).flatMap((b) => ('error' in b ? [] : [b.kernelCore])))].sort();
  const missingCores = cores.filter((c) => !(c in check.vmlinux));
  if (missingCores.length > 0) {
    write(`warning: no vmlinux build ${missingCores.map((c) => `'${c}'`).join(', ')}, the kernel core the built-in boards name: images for them cannot be built with this table (--vmlinux ${missingCores[0]}=FILE, or --base-defaults)`);
  }
  return 0;
}

function readInput(path: string): InputFile {
  const text = readInputText(path, { what: 'listing', maxBytes: MAX_LISTING_BYTES, maxWhy: `the ${MAX_LISTING_BYTES} bytes a listing may be` });
  if (typeof text !== 'string') fail(text.error);
  return { file: path, text };
}

function listSome(xs: readonly string[]): string {
  return xs.length <= 6 ? xs.join(', ') : `${xs.slice(0, 6).join(', ')} and ${xs.length - 6} more`;
}
