// TCP Fast Open (CONFIG_TCP_FASTOPEN): an HTTP client fetches twice from a server that sets
// TCP_FASTOPEN. With the symbol, the first SYN asks for a cookie, the SYN-ACK brings one, and
// the second request rides in the SYN and is answered a round trip sooner; without it, no
// Fast Open option is ever sent. Checked with tshark on the board's capture.
import { afterAll, describe, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectationFor, HttpClient } from '../apps/http-client.js';
import { HttpServer } from '../apps/http-server.js';
import type { Program } from '../apps/program.js';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { Process, type TraceLine } from '../scenarios/process.js';
import { Capture, DEFAULT_EPOCH_NS } from '../traces/capture.js';
import { compareImages, without } from './helpers/features.js';
import { bootPair, DUT_IP, LAB_IP, settle, type Pair } from './helpers/lab-pair.js';
import { removeTempDirs, tempDir } from './helpers/run.js';
import { columns, eq, present, tsharkPass, values, type TsharkRow } from './helpers/tshark.js';

afterAll(removeTempDirs);

function spawn(p: Pair, on: 'dut' | 'lab', program: Program, trace: TraceLine[]): Process {
  const b = on === 'dut' ? p.dut : p.lab;
  const proc = new Process(on, program, b.stack, p.world.sim, trace);
  proc.start();
  return proc;
}

/** Two one-request fetches by the board, one after the other; returns the capture and the two latencies. */
function twoFetches(dutProfile: string): { capture: string; latencies: number[]; pair: Pair } {
  const pair = bootPair({ dutBoard: 'quark-4m', dutProfile });
  const cap = new Capture(DEFAULT_EPOCH_NS, {});
  cap.attach(pair.dut.board.mac, 'dut');
  const trace: TraceLine[] = [];
  spawn(pair, 'lab', new HttpServer({ port: 80 }), trace);
  const latencies: number[] = [];
  for (let i = 0; i < 2; i++) {
    const client = new HttpClient({ server: { addr: LAB_IP, port: 80 }, host: 'lab', connections: [[{ method: 'GET', path: '/bytes/1000', expect: expectationFor('/bytes/1000') }]] });
    spawn(pair, 'dut', client, trace);
    settle(pair, 200 * NS_PER_MS);
    expect(client.exitCode).toBe(0);
    latencies.push(client.requests[0]!.latencyNs!);
  }
  settle(pair, 70_000 * NS_PER_MS);
  const path = join(tempDir('quarklab-tfo-'), 'capture.pcapng');
  writeFileSync(path, cap.finish(pair.world.sim.now).pcapng);
  return { capture: path, latencies, pair };
}

describe('TCP_FASTOPEN', () => {
  test('cookie request, cookie, then the request in the SYN — only when the profile has it', () => {
    const on = twoFetches('full');
    // One tshark pass per capture (a start costs ~0.5 s); the rows the display filters
    // `tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.src == DUT`, `tcp.flags.syn == 1 &&
    // tcp.flags.ack == 1` and `tcp.flags.syn == 1 && http.request` would keep are picked here.
    const onRows = tsharkPass(on.capture, ['tcp.flags.syn', 'tcp.flags.ack', 'ip.src', 'tcp.len', 'tcp.options.tfo.request', 'tcp.options.tfo.cookie', 'tcp.ack', 'http.request', 'http.request.method']).rows;
    const syn = (r: TsharkRow): boolean => eq(r, 'tcp.flags.syn', '1');
    const syns = onRows.filter((r) => syn(r) && eq(r, 'tcp.flags.ack', '0') && eq(r, 'ip.src', ip(DUT_IP)));
    expect(syns).toHaveLength(2);
    // First SYN: an empty Fast Open option asks for a cookie, and carries no data.
    expect(syns[0]!['tcp.len']).toBe('0');
    expect(syns[0]!['tcp.options.tfo.request']).toBe('1');
    // Second SYN: the cookie the server gave, and the whole GET request as data.
    const synAcks = onRows.filter((r) => syn(r) && eq(r, 'tcp.flags.ack', '1'));
    expect(synAcks[0]!['tcp.options.tfo.cookie']).toMatch(/^[0-9a-f]{16}$/);
    expect(syns[1]!['tcp.options.tfo.cookie']).toBe(synAcks[0]!['tcp.options.tfo.cookie']);
    expect(Number(syns[1]!['tcp.len'])).toBeGreaterThan(20);
    const getInSyn = columns(onRows.filter((r) => syn(r) && present(r, 'http.request')), ['http.request.method']);
    expect(getInSyn).toEqual([['GET']]);
    // The server's SYN-ACK acknowledges the data, so the answer comes a round trip earlier.
    expect(Number(synAcks[1]!['tcp.ack'])).toBe(1 + Number(syns[1]!['tcp.len']));
    expect(on.latencies[1]!).toBeLessThan(on.latencies[0]!);
    expect(on.pair.lab.stack.tcp!.ext['TCPFastOpenPassive']).toBe(1);
    expect(on.pair.lab.stack.tcp!.ext['TCPFastOpenCookieReqd']).toBe(1);
    expect(on.pair.dut.stack.tcp!.ext['TCPFastOpenActive']).toBe(1);

    const off = twoFetches(without('full', 'TCP_FASTOPEN'));
    // The display filters `tcp.options.tfo` and `tcp.flags.syn == 1 && tcp.len > 0`, in one pass.
    const offRows = tsharkPass(off.capture, ['tcp.options.tfo', 'tcp.flags.syn', 'tcp.len']).rows;
    expect(offRows.filter((r) => present(r, 'tcp.options.tfo'))).toEqual([]);
    expect(offRows.filter((r) => syn(r) && values(r, 'tcp.len').some((n) => Number(n) > 0))).toEqual([]);

    const c = compareImages('quark-4m', 'full', without('full', 'TCP_FASTOPEN'), ['TCP_FASTOPEN']);
    expect(c.imageDelta).toBe(c.modelledFlash + 48 * c.sectionsDelta + c.configDelta);
    expect(c.bootRamDelta).toBe(c.modelledBootRam);
  });
});

function ip(a: number): string {
  return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
}
