// The packetdrill runner's own tests: the parser on every construct of the language it takes,
// malformed scripts (one line, script:line, exit 2), the matcher failing a deliberately wrong
// expectation with packetdrill's diff, the timing check, unsupported constructs, preamble
// sysctls and defaults scripts, and the command's outputs (exit codes, capture, JUnit).
// Expected texts are packetdrill's formats written out by hand (run_packet.c / run_system_call.c
// wording), and wire facts are Linux's (each noted), not the runner's output.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseScript } from '../packetdrill/parser.js';
import { runScript, type RunOptions } from '../packetdrill/runner.js';
import { ScriptError } from '../packetdrill/script.js';
import { readPcapng } from '../traces/pcapng-reader.js';
import { quarklabAsync, removeTempDirs, tempDir } from './helpers/run.js';

afterAll(removeTempDirs);

const OPTS: RunOptions = { board: 'quark-2m', profile: 'minimal', toleranceUsecs: 4000, sysctls: [] };

/** A passive open the board must answer as Linux does (no timestamps: tcp_synack_options). */
const HANDSHAKE = `0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0  > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 2>
+.1 < . 1:1(0) ack 1 win 257
+0  accept(3, ..., ...) = 4
`;

function malformed(text: string): string {
  try {
    parseScript('bad.pkt', text);
  } catch (e) {
    if (e instanceof ScriptError) return e.message;
    throw e;
  }
  throw new Error('parsed without error');
}

function run(text: string, opts: Partial<RunOptions> = {}, name = 'case.pkt') {
  const dir = tempDir('quarklab-pd-');
  const path = join(dir, name);
  writeFileSync(path, text);
  return runScript(parseScript(path, text), { ...OPTS, ...opts });
}

describe('parser', () => {
  it('reads times: absolute, relative, ranged, any and blocking', () => {
    const s = parseScript('t.pkt', `0.5 close(3) = 0\n+.25 close(3) = 0\n0.1~0.2 close(3) = 0\n+0~+0.05 close(3) = 0\n* close(3) = 0\n+0...0.3 read(3, ..., 10) = 10\n`);
    expect(s.events.map((e) => e.time)).toEqual([
      { kind: 'absolute', usecs: 500000 },
      { kind: 'relative', usecs: 250000 },
      { kind: 'absolute', usecs: 100000, rangeEndUsecs: 200000 },
      { kind: 'relative', usecs: 0, rangeEndUsecs: 50000 },
      { kind: 'any', usecs: 0 },
      { kind: 'relative', usecs: 0, blockEnd: { kind: 'absolute', usecs: 300000 } },
    ]);
  });

  it('reads TCP packets: flags, sequence range, ack, window and every option', () => {
    const s = parseScript('p.pkt', `+0 < S. 0:0(0) ack 1 win 5840 <mss 1460,sackOK,TS val 100 ecr 7,nop,wscale 7,eol>
+0 > P. 1:1001(1000) ack 1 <nop,nop,sack 1001:2001 3001:4001>
+0 > F. 1001:1001(0) ack 1 <...>
+0 < S 0:10(10) win 1 <FO 0102030405060708,nop,nop>
+0 < S 0:0(0) win 1 <FO,nop,nop>
+0 > R 5:5(0)
`);
    const p = s.events.map((e) => (e.kind === 'packet' ? e.packet : null));
    expect(p[0]).toEqual({
      direction: '<', flags: 'S.', seq: 0, end: 0, len: 0, ack: 1, win: 5840,
      options: [{ kind: 'mss', value: 1460 }, { kind: 'sackOK' }, { kind: 'TS', val: 100, ecr: 7 }, { kind: 'nop' }, { kind: 'wscale', value: 7 }, { kind: 'eol' }],
    });
    expect(p[1]!.options).toEqual([{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [{ start: 1001, end: 2001 }, { start: 3001, end: 4001 }] }]);
    expect(p[2]!.options).toBe('any');
    expect(p[3]!.options).toEqual([{ kind: 'FO', cookie: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }, { kind: 'nop' }, { kind: 'nop' }]);
    expect(p[4]!.options).toEqual([{ kind: 'FO', cookie: new Uint8Array(0) }, { kind: 'nop' }, { kind: 'nop' }]);
    expect(p[5]).toEqual({ direction: '>', flags: 'R', seq: 5, end: 5, len: 0, options: null });
  });

  it('reads system calls: names, ORed flags, arrays, structs, strings, errno and its text', () => {
    const s = parseScript('c.pkt', `+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 poll([{fd=3, events=POLLIN, revents=0}], 1, 0) = 0
+0 getsockopt(3, SOL_TCP, TCP_INFO, {tcpi_state=TCP_ESTABLISHED, ...}, [232]) = 0
+0 write(3, "abc", 3) = 3
+0 read(3, ..., 100) = ...
`);
    const c = s.events.map((e) => (e.kind === 'syscall' ? e.call : null));
    expect(c[0]!.args[2]).toEqual({ kind: 'or', parts: [{ kind: 'name', name: 'O_RDWR' }, { kind: 'name', name: 'O_NONBLOCK' }] });
    expect(c[1]).toEqual({ name: 'connect', args: [{ kind: 'int', value: 3 }, { kind: 'ellipsis' }, { kind: 'ellipsis' }], result: { kind: 'int', value: -1 }, errno: 'EINPROGRESS' });
    expect(c[2]!.args[3]).toEqual({ kind: 'array', items: [{ kind: 'int', value: 1 }] });
    expect(c[3]!.args[0]).toEqual({ kind: 'array', items: [{ kind: 'struct', fields: [{ name: 'fd', value: { kind: 'int', value: 3 } }, { name: 'events', value: { kind: 'name', name: 'POLLIN' } }, { name: 'revents', value: { kind: 'int', value: 0 } }] }] });
    expect(c[4]!.args[3]).toEqual({ kind: 'struct', fields: [{ name: 'tcpi_state', value: { kind: 'name', name: 'TCP_ESTABLISHED' } }] });
    expect(c[5]!.args[1]).toEqual({ kind: 'string', value: 'abc' });
    expect(c[6]!.result).toEqual({ kind: 'ellipsis' });
  });

  it('reads backtick commands, inline asserts, comments and requirements', () => {
    const s = parseScript('b.pkt', `// quarklab: requires TCP_FASTOPEN SYN_COOKIES
/* a block
   comment */
\`sysctl -q net.ipv4.tcp_sack=1\`
+0 %{ assert tcpi_snd_cwnd == 10
assert tcpi_rto >= 200000 }%
0 %{ print(tcpi_rtt) }%
`);
    expect(s.requires).toEqual([{ line: 1, symbol: 'TCP_FASTOPEN' }, { line: 1, symbol: 'SYN_COOKIES' }]);
    expect(s.shell).toEqual([{ line: 4, command: 'sysctl -q net.ipv4.tcp_sack=1' }]);
    expect(s.events[0]).toMatchObject({ kind: 'assert', line: 5, asserts: [{ field: 'tcpi_snd_cwnd', op: '==', value: 10 }, { field: 'tcpi_rto', op: '>=', value: 200000 }] });
    expect(s.unsupported).toEqual([{ line: 7, what: "inline Python other than 'assert tcpi_FIELD OP N': print(tcpi_rtt)" }]);
  });

  it('records IPv6, UDP and unknown-option constructs as unsupported, not errors', () => {
    const s = parseScript('u.pkt', `+0 < udp (1000)\n+0 > S 0:0(0) <md5 000000000000000000000000>\n`);
    expect(s.unsupported.map((u) => u.line)).toEqual([1, 2]);
  });

  it('rejects malformed scripts with script:line and a reason', () => {
    expect(malformed('0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S 0:0(0 <mss 1460>\n')).toBe("bad.pkt:2: expected ')' after the payload length, found '<'");
    expect(malformed('+0 < S. 0:10(5) ack 1 win 100\n')).toBe('bad.pkt:1: sequence range 0:10 does not match payload length 5');
    expect(malformed('\n\n+0 < Q 0:0(0) win 1\n')).toBe("bad.pkt:3: bad TCP flags 'Q' (S F R P . U E W)");
    expect(malformed('+0 > S 0:0(0) <mss 1460,bogus 3>\n')).toBe("bad.pkt:1: unknown TCP option 'bogus'");
    expect(malformed('+0 close(3) = -1\n')).toBe('bad.pkt:1: close expected to fail (-1) without an errno name');
    expect(malformed('+0 < . 1:1(0) ack 1 win 70000\n')).toBe('bad.pkt:1: window 70000 does not fit 16 bits');
    expect(malformed('close(3) = 0\n')).toBe("bad.pkt:1: expected a time, found 'close'");
    expect(malformed('0 `sysctl -q a=b\n')).toBe('bad.pkt:1: unterminated ` command');
    expect(malformed('0 %{ assert tcpi_rtt > 0\n')).toBe('bad.pkt:1: unterminated %{ block');
    expect(malformed('0.2~0.1 close(3) = 0\n')).toBe('bad.pkt:1: time range ends before it starts');
  });
});

describe('runner', () => {
  it('passes a script that says what Linux does, exactly in virtual time (tolerance 0)', () => {
    const r = run(HANDSHAKE + `+0 write(4, ..., 1000) = 1000\n+0 > P. 1:1001(1000) ack 1\n`, { toleranceUsecs: 0 });
    expect(r.message).toBeUndefined();
    expect(r.status).toBe('pass');
    expect(r.virtualUsecs).toBe(100000);
  });

  it('fails a deliberately wrong expectation with the packetdrill diff', () => {
    const r = run(HANDSHAKE + `+0 write(4, ..., 1000) = 1000\n+0 > P. 1:1001(1000) ack 1001\n`, {}, 'wrong.pkt');
    expect(r.status).toBe('fail');
    expect(r.line).toBe(9);
    const lines = r.message!.split('\n');
    expect(lines[0]).toMatch(/wrong\.pkt:9: error handling packet: live packet field tcp_ack_seq: expected: 1001 \(0x3e9\) vs actual: 1 \(0x1\)$/);
    expect(lines[1]).toBe('script packet:  0.100000 P. 1:1001(1000) ack 1001');
    expect(lines[2]).toMatch(/^actual packet:  0\.100000 P\. 1:1001\(1000\) ack 1 win \d+$/);
  });

  it('fails on a wrong payload length, wrong flags and wrong options', () => {
    const len = run(HANDSHAKE + `+0 write(4, ..., 1000) = 1000\n+0 > P. 1:501(500) ack 1\n`);
    expect(len.message).toContain('live packet payload: expected 500 bytes vs actual 1000 bytes');
    const flags = run(HANDSHAKE + `+0 write(4, ..., 1000) = 1000\n+0 > . 1:1001(1000) ack 1\n`);
    expect(flags.message).toContain('live packet field tcp_psh: expected: 0 (0x0) vs actual: 1 (0x1)');
    const opts = run(HANDSHAKE.replace('<mss 1460,nop,nop,sackOK,nop,wscale 2>', '<mss 1460,nop,wscale 2>'));
    expect(opts.message).toContain('error handling packet: bad outbound TCP options');
  });

  it('checks times: late with tolerance 0, within the default 4000 µs, in a range', () => {
    // The board answers the write at once; a script claiming 3 ms later is 3 ms off.
    const late = run(HANDSHAKE + `+0 write(4, ..., 100) = 100\n+.003 > P. 1:101(100) ack 1\n`, { toleranceUsecs: 0 });
    expect(late.message).toContain('timing error: expected outbound packet at 0.103000 sec but happened at 0.100000 sec; tolerance 0.000000 sec');
    expect(run(HANDSHAKE + `+0 write(4, ..., 100) = 100\n+.003 > P. 1:101(100) ack 1\n`).status).toBe('pass');
    expect(run(HANDSHAKE + `+0 write(4, ..., 100) = 100\n+0~+.01 > P. 1:101(100) ack 1\n`, { toleranceUsecs: 0 }).status).toBe('pass');
  });

  it('waits for an outbound packet only until its time plus the tolerance', () => {
    const r = run(HANDSHAKE + `+1 > . 1:1(0) ack 1\n`);
    expect(r.status).toBe('fail');
    expect(r.message).toContain('error handling packet: timed out waiting for packet');
  });

  it('checks system call results and errno names', () => {
    const r = run(HANDSHAKE + `+0 listen(3, 1) = 0\n+0 read(7, ..., 10) = 0\n`);
    expect(r.message).toMatch(/:9: runtime error in read call: Expected result 0 but got -1 with errno 9 \(EBADF\)$/);
  });

  it('checks tcp_info asserts', () => {
    expect(run(HANDSHAKE + `%{ assert tcpi_snd_cwnd == 10 }%\n`).status).toBe('pass');
    const r = run(HANDSHAKE + `%{ assert tcpi_snd_cwnd == 11 }%\n`);
    expect(r.message).toMatch(/:8: assertion failed: assert tcpi_snd_cwnd == 11 \(tcpi_snd_cwnd is 10\)$/);
  });

  it('reports IPv6, epoll, zerocopy, other Python and shell commands as unsupported, never a pass', () => {
    const cases = [
      `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP) = 4\n`,
      `0 epoll_create(1) = 3\n`,
      HANDSHAKE + `+0 setsockopt(4, SOL_SOCKET, SO_ZEROCOPY, [1], 4) = 0\n`,
      `0 %{ import os }%\n`,
      '`tc qdisc add dev tun0 root fq`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n',
      '`sysctl -q net.ipv4.tcp_ecn=1`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n',
    ];
    for (const c of cases) expect(run(c).status, c).toBe('unsupported');
    expect(run(cases[0]!).message).toMatch(/:2: unsupported: (IPv6 sockets|socket domain)/);
  });

  it('applies preamble sysctls, and a defaults script relative to the script, listing what it ignored', () => {
    const dir = tempDir('quarklab-pd-');
    mkdirSync(join(dir, 'common'));
    mkdirSync(join(dir, 'tests'));
    writeFileSync(join(dir, 'common', 'defaults.sh'), '#!/bin/bash\nsysctl -q net.ipv4.tcp_keepalive_time=10 net.ipv4.tcp_keepalive_intvl=5\nip tcp_metrics flush all > /dev/null 2>&1\nsysctl -q net.ipv4.tcp_some_future_knob=1\n');
    // Keepalive probes at 10 s then 5 s later: only if both sysctls took effect (RFC 1122 §4.2.3.6).
    const text = '`../common/defaults.sh`\n' + HANDSHAKE + `+0 setsockopt(4, SOL_SOCKET, SO_KEEPALIVE, [1], 4) = 0\n+10 > . 0:0(0) ack 1\n+5 > . 0:0(0) ack 1\n`;
    const path = join(dir, 'tests', 'ka.pkt');
    writeFileSync(path, text);
    const r = runScript(parseScript(path, text), OPTS);
    expect(r.message).toBeUndefined();
    expect(r.status).toBe('pass');
    expect(r.ignored).toEqual(['../common/defaults.sh:3: ip tcp_metrics flush all > /dev/null 2>&1', '../common/defaults.sh:4: sysctl net.ipv4.tcp_some_future_knob=1 (not a sysctl the board has)']);
  });

  it('reports a feature the profile lacks as unsupported', () => {
    const r = run(`// quarklab: requires TCP_FASTOPEN\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n`);
    expect(r.status).toBe('unsupported');
    expect(r.message).toMatch(/:1: unsupported: profile minimal has no CONFIG_TCP_FASTOPEN$/);
    expect(run(`// quarklab: requires TCP_FASTOPEN\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n`, { board: 'quark-4m', profile: 'full' }).status).toBe('pass');
  });

  it('writes a capture of the exchange: every segment, in both directions', () => {
    const r = run(HANDSHAKE + `+0 write(4, ..., 1000) = 1000\n+0 > P. 1:1001(1000) ack 1\n`);
    const f = readPcapng(r.capture!);
    if (!f.ok) throw new Error(f.message);
    const tcp = f.packets.filter((p) => p.data.length > 34 && p.data[23] === 6);
    // SYN in, SYN-ACK out, ACK in, data out (then close()'s segments at the end of the run).
    expect(tcp.slice(0, 4).map((p) => p.direction)).toEqual(['inbound', 'outbound', 'inbound', 'outbound']);
  });
});

describe('quarklab packetdrill (command)', () => {
  const dir = tempDir('quarklab-pd-cli-');
  const good = join(dir, 'good.pkt');
  const bad = join(dir, 'bad.pkt');
  const unsup = join(dir, 'unsup.pkt');
  writeFileSync(good, HANDSHAKE);
  writeFileSync(bad, HANDSHAKE + `+0 write(4, ..., 1000) = 1000\n+0 > P. 1:1001(1000) ack 1001\n`);
  writeFileSync(unsup, `0 epoll_create(1) = 3\n`);

  it('exits 0 when every script passed or was unsupported, 1 under --strict, and counts them', async () => {
    const suite = join(dir, 'suite');
    mkdirSync(suite);
    writeFileSync(join(suite, 'a.pkt'), HANDSHAKE);
    writeFileSync(join(suite, 'b.pkt'), readFileSync(unsup));
    const junit = join(dir, 'junit.xml');
    const r = await quarklabAsync(['packetdrill', suite, '--out', join(dir, 'out'), '--junit', junit]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('2 scripts: 1 passed, 0 failed, 1 unsupported (quark-2m, minimal; tolerance 4000 µs)');
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('tests="2" failures="0" skipped="1"');
    expect((await quarklabAsync(['packetdrill', suite, '--strict', '--out', join(dir, 'out')])).status).toBe(1);
  });

  it('exits 1 on a failure and prints the diff', async () => {
    const r = await quarklabAsync(['packetdrill', good, bad, '--out', join(dir, 'out')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`${bad}:9: error handling packet: live packet field tcp_ack_seq: expected: 1001 (0x3e9) vs actual: 1 (0x1)`);
    expect(r.stdout).toContain('2 scripts: 1 passed, 1 failed, 0 unsupported');
  });

  it('exits 2 with one line for a malformed script (before running any) or a bad flag', async () => {
    const broken = join(dir, 'broken.pkt');
    writeFileSync(broken, '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S 0:0(0 <mss 1460>\n');
    const r = await quarklabAsync(['packetdrill', good, broken, '--out', join(dir, 'out2')]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${broken}:2: expected ')' after the payload length, found '<'\n`);
    for (const args of [['--tolerance-usecs', 'x'], ['--sysctl', 'net.ipv4.tcp_nonsense=1'], ['--board', 'nope'], ['--frobnicate']]) {
      const b = await quarklabAsync(['packetdrill', good, ...args]);
      expect(b.status, args.join(' ')).toBe(2);
      expect(b.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
