// A SYN flood against a server on quark-2m: `syn-flood` has the lab host send spoofed SYNs at
// line rate for 500 ms to the board's port 80 (listen backlog 16) while, 250 ms in, a real client
// connects and downloads 100 kB.
//
// With SYN_COOKIES (the minimal profile has it) the full SYN queue answers with cookies, the
// client completes its handshake with one and is served, and request socks stay bounded by the
// backlog so RAM holds. Without them (a user profile fragment turning them off) the flood's
// request socks hold the SYN queue for their whole SYN-ACK retry cycle, every other SYN is
// dropped (TCPReqQFullDrop, ListenDrops), and the client only gets in once those expire.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BoardReport, Report } from '../traces/report.js';
import { removeTempDirs, runToDir, tempDir, type RunFiles } from './helpers/run.js';
import { flaggedFrames } from './helpers/tcp-analysis.js';

const MiB = 1024 * 1024;
const S = 1e9;
const TIMEOUT_MS = 60_000;
const CLIENT_CHECK = 'legitimate client served during the flood';
const LEAK = 'RAM back to post-boot baseline after timers expire and the interface is deconfigured';

interface FloodFigures {
  synsSent: number;
  cookies: Record<'SyncookiesSent' | 'SyncookiesRecv' | 'SyncookiesFailed' | 'TCPReqQFullDoCookies' | 'TCPReqQFullDrop' | 'ListenDrops', number>;
  rx_missed_errors: number;
  clientConnectNs: number | null;
}

function figures(r: Report): FloodFigures {
  return r.scenario.figures as unknown as FloodFigures;
}

function dut(r: Report): BoardReport {
  return r.boards[0]!;
}

function check(r: Report, name: string): { pass: boolean; detail: string } {
  const c = r.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check "${name}" in ${r.checks.map((x) => x.name).join(', ')}`);
  return c;
}

/** Bounded RAM: below the 2 MiB ceiling, no failed allocation, and back to baseline afterwards. */
function expectRamHeld(r: Report): void {
  const m = dut(r).memory!;
  expect(m.peakBytes).toBeLessThan(2 * MiB);
  expect(m.allocationFailures).toBe(0);
  expect(check(r, LEAK).pass, check(r, LEAK).detail).toBe(true);
  expect(m.leakBytes).toBe(0);
}

afterAll(removeTempDirs);

describe('syn-flood against a server on quark-2m', () => {
  let cookies: RunFiles;
  let noCookies: RunFiles;

  beforeAll(() => {
    // No capture: this run's is never read (13 MB to build and write), and the report is the
    // same with or without one but for its inputs (checked when this was written).
    cookies = runToDir({ board: 'quark-2m', profile: 'minimal', scenario: 'syn-flood', capture: 'none' });
    const dir = tempDir('quarklab-synflood-');
    const fragment = join(dir, 'no-syncookies.config');
    writeFileSync(fragment, '# base: minimal\n# CONFIG_SYN_COOKIES is not set\n');
    noCookies = runToDir({ board: 'quark-2m', profile: fragment, scenario: 'syn-flood' });
  }, TIMEOUT_MS);

  it('with SYN_COOKIES (minimal): the client is served through a cookie, RAM stays bounded and is returned', () => {
    const r = cookies.report;
    expect(dut(r).profile.enabled).toContain('SYN_COOKIES');
    const failed = r.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.detail}`);
    expect(failed).toEqual([]);
    expect(cookies.outcome.exitCode).toBe(0);
    expect(check(r, CLIENT_CHECK).detail).toMatch(/^100000 of 100000 bytes, connected after/);

    const f = figures(r);
    expect(f.synsSent).toBeGreaterThan(10_000);
    expect(f.cookies.SyncookiesSent).toBeGreaterThan(0);
    // Every SYN the full queue saw was answered with a cookie instead of being dropped.
    expect(f.cookies.TCPReqQFullDoCookies).toBe(f.cookies.SyncookiesSent);
    expect(f.cookies.TCPReqQFullDrop).toBe(0);
    expect(f.cookies.SyncookiesFailed).toBe(0);
    // What the code guarantees for the client: the flood fills the 16-slot SYN queue within its
    // first microseconds (well before the client's SYN at 250 ms), and those request socks live
    // through their SYN-ACK retries (1+2+4+8+16+32 = 63 s). So whenever the client's SYN gets
    // past the RX ring — during the flood or, if the ring was full, on its retry 1 s later — the
    // queue is full and it is answered with a cookie: its handshake completes through
    // cookie_v4_check, never through a request sock. Hence SyncookiesRecv ≥ 1 (the spoofed
    // sources never answer, so it is exactly the client).
    expect(f.cookies.SyncookiesRecv).toBe(1);
    expect(f.clientConnectNs).not.toBeNull();
    expect(f.clientConnectNs!).toBeLessThan(2 * S);

    expectRamHeld(r);
    // The SYN queue was what was bounded: request socks never outnumbered the backlog.
    const req = dut(r).memory!.caches.find((c) => c.name === 'request_sock_TCP')!;
    expect(req.peakActive).toBeLessThanOrEqual(16);
  });

  it('without SYN_COOKIES (user fragment): the flood fills the SYN queue and drops grow (TCPReqQFullDrop, ListenDrops); the client waits out the queue', () => {
    const r = noCookies.report;
    expect(dut(r).profile.enabled).not.toContain('SYN_COOKIES');
    expect(r.inputs.profile).toMatch(/no-syncookies/); // named after the fragment's file
    const f = figures(r);
    // Reported figures (SYNs refused for a full queue):
    console.log(`syn-flood without SYN_COOKIES: ${f.synsSent} spoofed SYNs; TCPReqQFullDrop ${f.cookies.TCPReqQFullDrop}, ListenDrops ${f.cookies.ListenDrops}, rx_missed_errors ${f.rx_missed_errors}; client connected after ${f.clientConnectNs === null ? '-' : (f.clientConnectNs / S).toFixed(3)} s`);
    expect(f.cookies.SyncookiesSent).toBe(0);
    expect(f.cookies.SyncookiesRecv).toBe(0);
    expect(f.cookies.TCPReqQFullDoCookies).toBe(0);
    expect(f.cookies.TCPReqQFullDrop).toBeGreaterThan(1000);
    // Every SYN dropped for a full SYN queue is also a listen drop (tcp_listendrop).
    expect(f.cookies.ListenDrops).toBeGreaterThanOrEqual(f.cookies.TCPReqQFullDrop);

    // What happens to the client: the 16 request socks the flood created in its first
    // microseconds hold the SYN queue for their whole SYN-ACK retry cycle (tcp_synack_retries 5:
    // 1+2+4+8+16+32 = 63 s) and nothing else gets a slot. The client's SYN at 250 ms and its
    // retries 1, 3, 7, 15 and 31 s later are all dropped (TCPReqQFullDrop); its sixth and last
    // retry (tcp_syn_retries 6) at 63 s arrives just after those socks expire, gets a slot and
    // completes. So the client is served — but a minute late, with one retry to spare.
    const failed = r.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.detail}`);
    expect(failed).toEqual([]);
    expect(noCookies.outcome.exitCode).toBe(0);
    expect(check(r, CLIENT_CHECK).detail).toMatch(/^100000 of 100000 bytes, connected after 63\d\d\d\.\d ms$/);
    expect(f.clientConnectNs!).toBeGreaterThanOrEqual(63 * S);
    expect(f.clientConnectNs!).toBeLessThan(64 * S);

    // The capture shows it: the client's SYN sent seven times (six retransmissions).
    const clientSyns = flaggedFrames(noCookies.capturePath!, 'ip.src==192.0.2.1 && tcp.flags.syn==1 && tcp.flags.ack==0');
    expect(clientSyns.length).toBe(7);
    expect(new Set(clientSyns.map((s) => s.srcPort)).size).toBe(1);
    expect(clientSyns[6]!.time - clientSyns[0]!.time).toBeCloseTo(63, 1);

    // The queue bounded RAM here too.
    expectRamHeld(r);
    expect(dut(r).memory!.caches.find((c) => c.name === 'request_sock_TCP')!.peakActive).toBeLessThanOrEqual(16);
  });
});
