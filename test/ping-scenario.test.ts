// The ping scenario on quark-2m with profile minimal, and the default run (`quarklab run` with
// no options, whatever scenario is the default), judged as a user judges them: the capture
// opened in tshark, and report.json read against its published schema.
import { afterAll, describe, expect, it } from 'vitest';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { DEFAULT_SCENARIO } from '../scenarios/registry.js';
import { DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { isPcapngError, readPcapng, type PcapngFile } from '../traces/pcapng-reader.js';
import { REPORT_SCHEMA_ID, type Report } from '../traces/report.js';
import { loadReportSchema, readJson, removeTempDirs, runToDir, schemaErrors, unsupportedKeywords } from './helpers/run.js';
import { tsharkFields, tsharkPass, type TsharkRow } from './helpers/tshark.js';

afterAll(removeTempDirs);

const DUT_MAC = '02:51:00:00:00:02';
const LAB_MAC = '02:51:00:00:00:01';
const DUT_IP = '192.0.2.2';
const LAB_IP = '192.0.2.1';
const CHECKSUMS = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];

function parse(bytes: Uint8Array): PcapngFile {
  const f = readPcapng(bytes);
  if (isPcapngError(f)) throw new Error(f.message);
  return f;
}

const run = runToDir({ scenario: 'ping', board: 'quark-2m', profile: 'minimal' });
// No options at all: what `npx quarklab run` does.
const defaultRun = runToDir({});

describe('ping scenario on quark-2m, profile minimal', () => {
  const file = run.capturePath!;
  const dut = run.report.boards[0]!;
  const mac = dut.interfaces['dut:eth0']!;

  // Every frame as tshark dissects it, read once (two passes, so a request's icmp.resp_in can
  // point forward to its reply; IP header checksums checked, which tshark does not by default),
  // with the `-z expert` text from the same pass. Two passes add one expert item the one-pass
  // `-q -z expert` lacks: a warning for an echo request without a reply, which the tests forbid.
  const FIELDS = [
    'frame.number', 'frame.time_epoch', 'frame.interface_name', 'frame.interface_description', 'frame.comment',
    'arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.hw_mac', 'arp.dst.proto_ipv4',
    'ip.checksum.status', 'icmp.type', 'icmp.seq', 'icmp.resp_in', 'icmp.resp_to', 'icmp.checksum.status',
  ] as const;
  type Frame = Record<(typeof FIELDS)[number], string>;
  let table: { rows: TsharkRow[]; expert: string } | null = null;
  const pass = (): { rows: TsharkRow[]; expert: string } => (table ??= tsharkPass(file, FIELDS, { extraArgs: ['-2', ...CHECKSUMS], expert: true }));
  const frames = (): Frame[] => pass().rows as Frame[];

  it('passes every check and pings the lab host 4 times', () => {
    expect(run.outcome.exitCode).toBe(0);
    expect(run.report.verdict).toBe('pass');
    expect(run.report.inputs).toMatchObject({ board: 'quark-2m', profile: 'minimal', scenario: 'ping', seed: 1 });
    for (const c of run.report.checks) expect(c.pass, `${c.name}: ${c.detail}`).toBe(true);
    expect(run.report.scenario.figures['ping']).toMatchObject({ transmitted: 4, received: 4 });
    expect(file).not.toBeNull();
  });

  it('has an ARP request from the board answered by the lab host, as tshark dissects it', () => {
    const arp = frames()
      .filter((f) => f['arp.opcode'] !== '')
      .map((f) => [f['arp.opcode'], f['arp.src.hw_mac'], f['arp.src.proto_ipv4'], f['arp.dst.hw_mac'], f['arp.dst.proto_ipv4']]);
    // who-has 192.0.2.1 tell 192.0.2.2 (target MAC unknown: zeros) …
    expect(arp).toContainEqual(['1', DUT_MAC, DUT_IP, '00:00:00:00:00:00', LAB_IP]);
    // … and 192.0.2.1 is-at the lab MAC, addressed to the board.
    expect(arp).toContainEqual(['2', LAB_MAC, LAB_IP, DUT_MAC, DUT_IP]);
    for (const row of arp) expect(['1', '2']).toContain(row[0]);
  });

  it('has a reply for every echo request, good IP and ICMP checksums, requests 1 s of virtual time apart', () => {
    const rows = frames()
      .filter((f) => f['icmp.type'] !== '')
      .map((f) => [f['icmp.type'], f['icmp.seq'], f['icmp.resp_in'], f['icmp.resp_to'], f['ip.checksum.status'], f['icmp.checksum.status'], f['frame.time_epoch']]);
    const requests = rows.filter((r) => r[0] === '8');
    const replies = rows.filter((r) => r[0] === '0');
    expect(requests.map((r) => r[1])).toEqual(['0', '1', '2', '3']);
    expect(requests).toHaveLength((run.report.scenario.figures['ping'] as { transmitted: number }).transmitted);
    for (const r of requests) expect(r[2], `request seq ${r[1]} has no reply (icmp.resp_in)`).toMatch(/^\d+$/);
    expect(replies).toHaveLength(4);
    for (const r of replies) expect(r[3], `reply seq ${r[1]} matches no request`).toMatch(/^\d+$/);
    // checksum.status: 1 good, 0 bad, 2 not checked.
    for (const r of rows) expect([r[4], r[5]]).toEqual(['1', '1']);
    // Virtual time: ping sends at 0, 1, 2, 3 s exactly, to the nanosecond, as no wall clock
    // would. The first request waits for ARP, so it leaves a few microseconds after zero.
    const t = requests.map((r) => BigInt(r[6]!.replace('.', '')) - DEFAULT_EPOCH_NS);
    expect(t[0]!).toBeGreaterThan(0n);
    expect(t[0]!).toBeLessThan(1_000_000n);
    for (let k = 1; k < t.length; k++) expect(t[k]).toBe(BigInt(k * NS_PER_SEC));
    // Every IPv4 header in the capture, not only ICMP's.
    const ip = frames().filter((f) => f['ip.checksum.status'] !== '');
    expect(ip).toHaveLength(8);
    for (const f of ip) expect(f['ip.checksum.status']).toBe('1');
  });

  it('has no malformed packets and no error- or warning-level expert info', () => {
    const expert = pass().expert;
    expect(expert).not.toMatch(/Malformed|Errors \(|Warns \(/);
    // The expert report is really there: the scenario step comment shows in it.
    expect(expert).toMatch(/Comments \(\d+\)[\s\S]*scenario ping:/);
  });

  it('names the board and profile in the capture interface', () => {
    const rows = frames().map((f) => [f['frame.interface_name'], f['frame.interface_description']]);
    expect(rows.length).toBe(mac['rx_packets']! + mac['tx_packets']!);
    for (const [name, description] of rows) {
      expect(name).toBe('dut:eth0');
      expect(description).toMatch(/quark-2m/);
      expect(description).toMatch(/profile minimal/);
    }
    const f = parse(run.capture!);
    expect(f.interfaces).toHaveLength(1);
    expect(f.interfaces[0]).toMatchObject({ name: 'dut:eth0', speed: 100_000_000n, tsresol: 9 });
  });

  it('stamps frames with virtual time from the default epoch 2024-01-01T00:00:00Z, moved by --epoch', () => {
    expect(DEFAULT_EPOCH_NS).toBe(BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n);
    const f = parse(run.capture!);
    const ts = f.packets.map((p) => p.timestampNs - DEFAULT_EPOCH_NS);
    expect(ts[0]!).toBeGreaterThanOrEqual(0n);
    expect(ts[0]!).toBeLessThan(BigInt(NS_PER_SEC)); // the scenario starts at virtual zero
    for (let i = 1; i < ts.length; i++) expect(ts[i]!).toBeGreaterThanOrEqual(ts[i - 1]!);
    // Traffic ends at virtualTimeNs; only the quiet period's timers (ARP) may follow, within 600 s.
    expect(ts[ts.length - 1]!).toBeLessThanOrEqual(BigInt(run.report.virtualTimeNs) + 600n * BigInt(NS_PER_SEC));
    expect(frames()[0]!['frame.time_epoch']).toMatch(/^1704067200\.\d{9}$/);

    // Another epoch moves every timestamp by exactly the difference and changes nothing else.
    const day = 86_400n * BigInt(NS_PER_SEC);
    const shifted = parse(runToDir({ scenario: 'ping', epochNs: DEFAULT_EPOCH_NS + day }).capture!);
    expect(shifted.packets.map((p) => p.timestampNs - day)).toEqual(f.packets.map((p) => p.timestampNs));
    expect(shifted.packets.map((p) => p.data)).toEqual(f.packets.map((p) => p.data));
  });

  it('puts the scenario step comment on a frame', () => {
    const comments = frames().filter((f) => f['frame.comment'] !== '').map((f) => f['frame.comment']);
    expect(comments).toContain('scenario ping: 4 echo requests to the lab host');
    expect(run.outcome.trace.some((l) => l.board === 'scenario' && l.line.startsWith('scenario ping:'))).toBe(true);
  });

  it('ends with an interface statistics block: frames received and dropped by the MAC', () => {
    const dropped = mac['rx_missed_errors']! + mac['rx_crc_errors']! + mac['rx_length_errors']!;
    expect(dropped).toBe(0);
    // Wireshark's own pcapng block dissector reads the ISB options.
    const [row] = tsharkFields(file, [
      'pcapng.block.type', 'pcapng.options.option.data.interface.received', 'pcapng.options.option.data.interface.dropped',
    ], undefined, ['-X', 'read_format:MIME Files Format']);
    expect(row![0]!.split(',').filter((t) => t === '0x00000005')).toHaveLength(1);
    expect(row!.slice(1)).toEqual([String(mac['rx_packets']! + dropped), String(dropped)]);
    const [isb] = parse(run.capture!).statistics;
    expect(isb).toMatchObject({ interfaceId: 0, received: BigInt(mac['rx_packets']!), dropped: 0n, startTimeNs: DEFAULT_EPOCH_NS });
    expect(mac['rx_packets']).toBe(parse(run.capture!).packets.filter((p) => p.direction === 'inbound').length);
  });
});

describe('report.json and traces/report.schema.json', () => {
  const schema = loadReportSchema();
  const report = readJson<Report>(run.reportPath);

  it('is a schema this check fully implements, named by the report', () => {
    expect(unsupportedKeywords(schema)).toEqual([]);
    expect(schema['$id']).toBe(REPORT_SCHEMA_ID);
    expect(report.$schema).toBe(REPORT_SCHEMA_ID);
    expect([...(schema['required'] as string[])].sort()).toEqual(Object.keys(report).sort());
  });

  it('validates the ping run and the default run, with the lab host board too', () => {
    expect(schemaErrors(schema, report)).toEqual([]);
    expect(schemaErrors(schema, readJson(defaultRun.reportPath))).toEqual([]);
    expect(report.boards.map((b) => b.role)).toEqual(['dut', 'lab']);
    // The structural basics, checked by hand as well.
    expect(typeof report.quarklab).toBe('string');
    expect(Number.isInteger(report.virtualTimeNs)).toBe(true);
    expect(Array.isArray(report.checks) && Array.isArray(report.budgets) && Array.isArray(report.notes)).toBe(true);
    expect(['pass', 'fail']).toContain(report.verdict);
  });

  it('validates a report with budgets and one for a profile that does not boot', () => {
    const budgeted = runToDir({ scenario: 'ping', budgets: [{ key: 'ram.peak', limit: 1024, kind: 'max', unit: 'bytes', text: 'ram.peak=1KiB' }, { key: 'rtt.p99', limit: 1, kind: 'max', unit: 'ns', text: 'rtt.p99=1ns' }] });
    expect(budgeted.report.budgets.map((b) => b.verdict)).toEqual(['fail', 'fail']);
    expect(schemaErrors(schema, readJson(budgeted.reportPath))).toEqual([]);
    const noBoot = runToDir({ scenario: 'ping', profile: 'full' });
    expect(noBoot.report.boards).toEqual([]);
    expect(schemaErrors(schema, readJson(noBoot.reportPath))).toEqual([]);
  });

  it('catches reports that break the schema (the check can fail)', () => {
    const broken = (edit: (r: Record<string, any>) => void): string[] => {
      const r = JSON.parse(run.reportJson) as Record<string, any>;
      edit(r);
      return schemaErrors(schema, r);
    };
    expect(broken((r) => delete r['verdict'])).toEqual(['$: missing required "verdict"']);
    expect(broken((r) => (r['verdict'] = 'maybe'))).toHaveLength(1);
    expect(broken((r) => (r['virtualTimeNs'] = '5'))).toHaveLength(1);
    expect(broken((r) => (r['extra'] = 1))).toEqual(['$: unexpected property "extra"']);
    expect(broken((r) => (r['inputs']['seed'] = 1.5))[0]).toMatch(/^\$\.inputs\.seed:/);
    expect(broken((r) => (r['boards'][0]['memory']['leakBytes'] = null))[0]).toMatch(/^\$\.boards\[0\]\.memory/);
    expect(broken((r) => (r['boards'][0]['interfaces']['dut:eth0']['rx_packets'] = 'seven'))[0]).toMatch(/rx_packets/);
    expect(broken((r) => r['checks'].push({ name: 'x', pass: 'yes', detail: '' }))[0]).toMatch(/\$\.checks\[\d+\]\.pass/);
  });
});

describe(`the default capture (quarklab run with no options: scenario ${DEFAULT_SCENARIO})`, () => {
  const file = defaultRun.capturePath!;
  const mac = defaultRun.report.boards[0]!.interfaces['dut:eth0']!;
  // Read once as the ping capture is above: two passes, checksums checked, expert text included.
  const FIELDS = [
    'frame.time_epoch', 'frame.interface_name', 'frame.interface_description', 'frame.comment', 'arp.opcode', 'arp.dst.hw_mac',
    'ip.checksum.status', 'icmp.type', 'icmp.resp_in', 'icmp.checksum.status', 'udp.checksum.status',
  ] as const;
  type Frame = Record<(typeof FIELDS)[number], string>;
  let table: { rows: TsharkRow[]; expert: string } | null = null;
  const pass = (): { rows: TsharkRow[]; expert: string } => (table ??= tsharkPass(file, FIELDS, { extraArgs: ['-2', ...CHECKSUMS], expert: true }));
  const frames = (): Frame[] => pass().rows as Frame[];

  it('passes, on quark-2m with profile minimal', () => {
    expect(defaultRun.outcome.exitCode, defaultRun.report.checks.filter((c) => !c.pass).map((c) => c.detail).join('; ')).toBe(0);
    expect(defaultRun.report.inputs).toMatchObject({ board: 'quark-2m', profile: 'minimal', scenario: DEFAULT_SCENARIO, seed: 1 });
  });

  it('dissects an ARP request and a reply to the board, and answers every echo request', () => {
    const arp = frames().filter((f) => f['arp.opcode'] !== '');
    for (const f of arp) expect(['1', '2']).toContain(f['arp.opcode']);
    expect(arp.some((f) => f['arp.opcode'] === '1')).toBe(true);
    expect(arp.some((f) => f['arp.opcode'] === '2' && f['arp.dst.hw_mac'] === DUT_MAC)).toBe(true);
    for (const f of frames().filter((x) => x['icmp.type'] === '8')) expect(f['icmp.resp_in'], 'echo request without a reply').toMatch(/^\d+$/);
  });

  it('has good IP, ICMP and UDP checksums, no malformed packets, no expert errors or warnings', () => {
    const ip = frames().filter((f) => f['ip.checksum.status'] !== '');
    expect(ip.length).toBeGreaterThan(0);
    for (const f of ip) expect(f['ip.checksum.status']).toBe('1');
    for (const f of frames()) {
      if (f['icmp.checksum.status'] !== '') expect(f['icmp.checksum.status']).toBe('1');
      if (f['udp.checksum.status'] !== '') expect(f['udp.checksum.status']).toBe('1');
    }
    expect(pass().expert).not.toMatch(/Malformed|Errors \(|Warns \(/);
  });

  it('names board and profile, starts at the default epoch, comments its steps, ends with interface statistics', () => {
    for (const f of frames()) {
      expect(f['frame.interface_name']).toBe('dut:eth0');
      expect(f['frame.interface_description']).toMatch(/quark-2m.*profile minimal/);
    }
    expect(frames()[0]!['frame.time_epoch']).toMatch(/^1704067200\.\d{9}$/);
    const steps = frames().map((f) => f['frame.comment']).filter((c) => c.startsWith(`scenario ${DEFAULT_SCENARIO}`));
    expect(steps.length).toBeGreaterThan(0);
    const dropped = mac['rx_missed_errors']! + mac['rx_crc_errors']! + mac['rx_length_errors']!;
    const [isb] = parse(defaultRun.capture!).statistics;
    expect(isb).toMatchObject({ interfaceId: 0, received: BigInt(mac['rx_packets']! + dropped), dropped: BigInt(dropped) });
  });
});
