// DNS (RFC 1035): the message codec against hand-made and hostile bytes, the lab server's
// answers, and the `dns` scenario end to end — queries and answers on the wire, dissected by
// tshark with no malformed packets, an NXDOMAIN and a truncated (TC) answer.
import { afterAll, describe, expect, it } from 'vitest';
import { DnsServer } from '../apps/dns-server.js';
import { aRecordAddress, aRecordData, DnsType, emitDns, nameLabels, parseDns, readName, type DnsRepr } from '../apps/dns-message.js';
import { BIG_COUNT, BIG_NAME, LAB_NAME, labZone, MISSING_NAME } from '../scenarios/dns.js';
import { LAB_ADDR } from '../scenarios/static-network.js';
import { removeTempDirs, runToDir } from './helpers/run.js';
import { columns, eq, hasProtocol, tsharkPass, type TsharkRow } from './helpers/tshark.js';

afterAll(removeTempDirs);

/** Run a scenario the first time a test needs it (so a filtered run does only what it uses). */
function once<T>(make: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= make());
}

function query(name: string, id = 0x1234): DnsRepr {
  return { id, response: false, opcode: 0, authoritative: false, truncated: false, recursionDesired: true, recursionAvailable: false, rcode: 0, questions: [{ name, type: DnsType.A, class: 1 }], answers: [], authorities: [], additionals: [] };
}

function bytes(r: DnsRepr, max?: number): Uint8Array {
  const b = emitDns(r, { maxLength: max });
  if ('error' in b) throw new Error(b.error);
  return b;
}

describe('DNS message codec', () => {
  it('emits a query as RFC 1035 lays it out and parses it back', () => {
    const b = bytes(query('lab.quarklab.test'));
    expect(Array.from(b.subarray(0, 12))).toEqual([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(b.subarray(12, 17))).toEqual([3, 0x6c, 0x61, 0x62, 8]);
    expect(b.length).toBe(12 + 19 + 4);
    expect(parseDns(b)).toEqual(query('lab.quarklab.test'));
  });

  it('compresses repeated names in answers and follows the pointers on parse', () => {
    const r = query('a.example.test');
    r.response = true;
    r.answers = [
      { name: 'a.example.test', type: DnsType.A, class: 1, ttl: 60, data: aRecordData(0x01020304) },
      { name: 'b.example.test', type: DnsType.A, class: 1, ttl: 60, data: aRecordData(0x05060708) },
    ];
    const b = bytes(r);
    // First answer's name is a pointer to the question's at offset 12.
    expect([b[12 + 16 + 4], b[12 + 16 + 5]]).toEqual([0xc0, 12]);
    const p = parseDns(b);
    if ('error' in p) throw new Error(p.error);
    expect(p.answers.map((a) => a.name)).toEqual(['a.example.test', 'b.example.test']);
    expect(p.answers.map(aRecordAddress)).toEqual([0x01020304, 0x05060708]);
  });

  it('rejects a compression loop, a forward pointer and a self pointer', () => {
    const self = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(parseDns(self)).toEqual({ error: expect.stringMatching(/does not point backwards/) });
    const forward = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 1, 0x61, 0, 0, 1, 0, 1]);
    expect(parseDns(forward)).toEqual({ error: expect.stringMatching(/does not point backwards/) });
    // Two labels pointing at each other: 12 → "a" then pointer to 16; 16 → "b" then pointer to 12.
    const loop = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0xc0, 16, 1, 0x62, 0xc0, 12, 0, 1, 0, 1]);
    expect(readName(loop, 12)).toEqual({ error: expect.stringMatching(/does not point backwards/) });
  });

  it('reads back the escapes it writes: a label with a dot, a backslash and a control byte', () => {
    const msg = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, 0x61, 0x2e, 0x5c, 0x01, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1]);
    const p = parseDns(msg) as DnsRepr;
    expect(p.questions[0]!.name).toBe('a\\.\\\\\\001.test');
    expect(Array.from(bytes(p))).toEqual(Array.from(msg));
  });

  it('bounds names: labels over 63 bytes, names over 255, reserved label types', () => {
    expect(nameLabels('x'.repeat(64) + '.test')).toEqual({ error: expect.stringMatching(/63/) });
    expect(nameLabels(Array(60).fill('abcd').join('.'))).toEqual({ error: expect.stringMatching(/255/) });
    const long = new Uint8Array(12 + 5 * 52 + 1 + 4);
    long[5] = 1;
    for (let i = 0; i < 52; i++) long.set([4, 0x61, 0x62, 0x63, 0x64], 12 + 5 * i);
    expect(parseDns(long)).toEqual({ error: expect.stringMatching(/longer than 255/) });
    const ext = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 0, 0, 1, 0, 1]);
    expect(parseDns(ext)).toEqual({ error: expect.stringMatching(/label type/) });
  });

  it('rejects every truncation of a valid answer without throwing', () => {
    const r = query(LAB_NAME);
    r.response = true;
    r.answers = [{ name: LAB_NAME, type: DnsType.A, class: 1, ttl: 300, data: aRecordData(LAB_ADDR) }];
    const b = bytes(r);
    expect('error' in parseDns(b)).toBe(false);
    for (let n = 0; n < b.length; n++) expect(parseDns(b.subarray(0, n))).toHaveProperty('error');
  });

  it('never throws on mutated answers (2000 deterministic random edits), and a server answers or drops each', () => {
    const r = query(BIG_NAME);
    r.response = true;
    r.answers = labZone().a[BIG_NAME]!.slice(0, 5).map((a) => ({ name: BIG_NAME, type: DnsType.A, class: 1, ttl: 300, data: aRecordData(a) }));
    const good = bytes(r);
    const server = new DnsServer({ zone: labZone() });
    let x = 777;
    const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
    for (let i = 0; i < 2000; i++) {
      const b = good.slice(0, next() % (good.length + 1));
      for (let k = 0; k < 1 + (next() % 4); k++) if (b.length > 0) b[next() % b.length] = next() & 255;
      expect(typeof parseDns(b)).toBe('object');
      b[2] = b.length > 2 ? b[2]! & 0x7f : 0; // as a query
      const out = server.answer(b);
      if (out) expect('error' in parseDns(out)).toBe(false);
    }
  });

  it('rejects header counts that cannot fit and A records with RDATA other than 4 bytes', () => {
    const lie = bytes(query('x.test'));
    lie[7] = 200; // ANCOUNT 200 in a 24-byte message
    expect(parseDns(lie)).toEqual({ error: expect.stringMatching(/cannot fit/) });
    const r = query('x.test');
    r.response = true;
    r.answers = [{ name: 'x.test', type: DnsType.A, class: 1, ttl: 1, data: new Uint8Array(5) }];
    expect(parseDns(bytes(r))).toEqual({ error: expect.stringMatching(/expected 4/) });
  });

  it('truncates at 512 bytes: keeps whole records that fit and sets TC', () => {
    const r = query(BIG_NAME);
    r.response = true;
    r.answers = labZone().a[BIG_NAME]!.map((a) => ({ name: BIG_NAME, type: DnsType.A, class: 1, ttl: 300, data: aRecordData(a) }));
    const b = bytes(r, 512);
    expect(b.length).toBeLessThanOrEqual(512);
    const p = parseDns(b);
    if ('error' in p) throw new Error(p.error);
    expect(p.truncated).toBe(true);
    expect(p.answers.length).toBe(Math.floor((512 - 12 - (BIG_NAME.length + 2 + 4)) / 16));
    expect(p.answers.length).toBeLessThan(BIG_COUNT);
  });
});

describe('DNS server answers', () => {
  const server = new DnsServer({ zone: labZone() });
  const ask = (name: string, type: number = DnsType.A) => {
    const q = query(name, 7);
    q.questions[0]!.type = type;
    const out = server.answer(bytes(q));
    if (!out) throw new Error('no answer');
    const p = parseDns(out);
    if ('error' in p) throw new Error(p.error);
    return p;
  };

  it('answers A for a zone name (case-insensitively), authoritative, echoing ID and question', () => {
    const p = ask('LAB.QuarkLab.Test');
    expect(p).toMatchObject({ id: 7, response: true, authoritative: true, rcode: 0, truncated: false });
    expect(p.questions[0]!.name).toBe('LAB.QuarkLab.Test');
    expect(p.answers.map(aRecordAddress)).toEqual([LAB_ADDR]);
  });

  it('NXDOMAIN for an unknown name, NODATA for another type, FORMERR for junk, nothing for a response', () => {
    expect(ask(MISSING_NAME).rcode).toBe(3);
    const aaaa = ask(LAB_NAME, DnsType.AAAA);
    expect([aaaa.rcode, aaaa.answers.length]).toEqual([0, 0]);
    const junk = server.answer(new Uint8Array([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f]));
    expect(junk).not.toBeNull();
    expect((parseDns(junk!) as DnsRepr).rcode).toBe(1);
    expect(server.answer(new Uint8Array(5))).toBeNull();
    const resp = bytes(query(LAB_NAME));
    resp[2]! |= 0x80;
    expect(server.answer(resp)).toBeNull();
  });
});

describe('dns scenario on the wire', () => {
  const get = once(() => runToDir({ scenario: 'dns', seed: 11 }));
  // One tshark pass over the capture serves every test below (a start costs ~0.5 s): the rows
  // the display filters `dns && udp`, `dns.flags.truncated == 1` and `dns && tcp` would keep are
  // picked from it, and its `-z expert` text is what `-q -z expert` printed. Checksum checking,
  // on for the expert check, changes none of these fields while every checksum is good (and a
  // bad one is an expert error).
  const FIELDS = ['frame.protocols', 'dns.flags.response', 'dns.qry.name', 'dns.flags.rcode', 'dns.flags.truncated', 'dns.a', 'udp.dstport', 'udp.length', 'dns.id', 'tcp.dstport', 'dns.length'];
  const pass = once(() => tsharkPass(get().capturePath!, FIELDS, { extraArgs: ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'], expert: true }));
  const dnsOver = (transport: string): TsharkRow[] => pass().rows.filter((r) => hasProtocol(r, 'dns') && hasProtocol(r, transport));

  it('passes its checks and returns RAM to the baseline', () => {
    const run = get();
    expect(run.report.checks.filter((c) => !c.pass)).toEqual([]);
    expect(run.outcome.exitCode).toBe(0);
  });

  it('tshark sees the three queries over UDP and their answers: A, NXDOMAIN, TC', () => {
    const rows = columns(dnsOver('udp'), ['dns.flags.response', 'dns.qry.name', 'dns.flags.rcode', 'dns.flags.truncated', 'dns.a', 'udp.dstport', 'dns.id']);
    const queries = rows.filter((r) => r[0] === '0');
    const answers = rows.filter((r) => r[0] === '1');
    expect(queries.map((r) => r[1])).toEqual([LAB_NAME, MISSING_NAME, BIG_NAME]);
    expect(queries.every((r) => r[5] === '53')).toBe(true);
    // Each answer echoes its query's ID.
    expect(answers.map((r) => r[6])).toEqual(queries.map((r) => r[6]));
    const byName = new Map(answers.map((r) => [r[1], r]));
    expect(byName.get(LAB_NAME)!.slice(2, 5)).toEqual(['0', '0', '192.0.2.1']);
    expect(byName.get(MISSING_NAME)!.slice(2, 5)).toEqual(['3', '0', '']);
    const big = byName.get(BIG_NAME)!;
    expect(big.slice(2, 4)).toEqual(['0', '1']);
    const fit = big[4]!.split(',').length;
    expect(fit).toBe(Math.floor((512 - 12 - (BIG_NAME.length + 2 + 4)) / 16));
    const udpLen = pass().rows.filter((r) => eq(r, 'dns.flags.truncated', '1')).map((r) => r['udp.length']!);
    expect(Number(udpLen[0]!) - 8).toBeLessThanOrEqual(512);
  });

  it('after TC asks again over TCP port 53 and gets every record, in one length-prefixed message', () => {
    const run = get();
    const rows = columns(dnsOver('tcp'), ['dns.flags.response', 'dns.qry.name', 'dns.flags.truncated', 'dns.a', 'tcp.dstport', 'dns.length']);
    expect(rows.map((r) => r.slice(0, 3))).toEqual([['0', BIG_NAME, '0'], ['1', BIG_NAME, '0']]);
    expect(rows[0]![4]).toBe('53');
    expect(rows[1]![3]!.split(',')).toHaveLength(BIG_COUNT);
    expect(Number(rows[1]![5])).toBeGreaterThan(512);
    const big = (run.report.scenario.figures['dns'] as { resolutions: { name: string; transport: string; truncated: boolean; addresses: string[] }[] }).resolutions.find((r) => r.name === BIG_NAME)!;
    expect(big).toMatchObject({ transport: 'tcp', truncated: true });
    expect(big.addresses).toHaveLength(BIG_COUNT);
  });

  it('has no malformed packets and no error-level expert info', () => {
    expect(pass().expert).not.toMatch(/Malformed|Errors \(/);
  });
});
