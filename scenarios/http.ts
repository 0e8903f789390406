/**
 * Scenarios `http-get` and `http-serve`: HTTP/1.1 over the board's TCP.
 *
 * http-get    the board fetches from the lab host's server: by default 1 KB, 100 KB (chunked)
 *             and 1 MB over one keep-alive connection, the last request with
 *             `Connection: close`, so the lab host closes first.
 * http-serve  the board serves: the lab host runs N clients at once (default 8), each making
 *             two requests on its own connection, the second with `Connection: close`, so the
 *             BOARD closes first and holds every TIME_WAIT.
 *
 * Checks: every response complete and intact, the server side closed first on every
 * connection and the closing side's kernel holds TIME_WAIT for it (the TCP counters are read
 * from the stacks directly, since the minimal profile has no /proc to print them).
 */
import { expectationFor, HttpClient, type HttpRequestSpec, type RequestRecord } from '../apps/http-client.js';
import { HTTP_PORT, HttpServer } from '../apps/http-server.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { ipToString } from '../stack/core/addr.js';
import { rttStats } from './ping.js';
import type { BootedBoard } from './boot.js';
import type { Scenario, ScenarioCheck, ScenarioContext, ScenarioResult } from './scenario.js';
import { DUT_STATIC_ADDR, LAB_ADDR, staticNetwork } from './static-network.js';

export const HTTP_GET_DEFAULT_PATHS = ['/bytes/1024', '/chunked/102400', '/bytes/1048576'];
export const HTTP_SERVE_DEFAULT_PATHS = ['/bytes/32768', '/chunked/32768'];
export const HTTP_SERVE_DEFAULT_CLIENTS = 8;
export const HTTP_SERVE_MAX_CLIENTS = 64;
/**
 * SO_SNDBUF the board's server asks for; 0 leaves the kernel's sizing (tcp_wmem and
 * autotuning up to tcp_wmem[2]). On quark-2m eight connections then want more send buffer
 * than the heap has, and vm.min_free_kbytes is what keeps the board receiving: set it (as an
 * embedded server bounds its buffers, like lwIP's TCP_SND_BUF) to compare.
 */
export const HTTP_SERVE_DEFAULT_SNDBUF = 0;

export interface HttpGetOptions {
  paths: string[];
}

export interface HttpServeOptions {
  clients: number;
  paths: string[];
  /** SO_SNDBUF the board's server sets on each connection; 0 leaves the kernel default and autotuning. */
  sndbuf: number;
}

/** The TCP counters that show who closed first and what it cost, from a stack's MIB. */
const TCP_FIGURES = ['ActiveOpens', 'PassiveOpens', 'AttemptFails', 'EstabResets', 'CurrEstab', 'InSegs', 'OutSegs', 'RetransSegs', 'InErrs', 'OutRsts'] as const;
const TCPEXT_FIGURES = ['TW', 'TCPTimeWaitOverflow', 'TCPAbortOnClose', 'TCPAbortOnData', 'TCPAbortOnMemory', 'TCPAbortOnTimeout', 'ListenOverflows', 'ListenDrops', 'TCPTimeouts', 'DelayedACKs', 'TCPRcvQDrop', 'TCPMemoryPressures'] as const;

function tcpCounters(b: BootedBoard): Record<string, number> {
  const t = b.stack.tcp;
  const out: Record<string, number> = {};
  if (!t) return out;
  for (const k of TCP_FIGURES) out[`Tcp.${k}`] = t.mib[k] ?? 0;
  for (const k of TCPEXT_FIGURES) out[`TcpExt.${k}`] = t.ext[k] ?? 0;
  return out;
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) out[k] = v - (before[k] ?? 0);
  return out;
}

function specsFor(paths: string[]): HttpRequestSpec[] {
  return paths.map((path) => ({ method: 'GET' as const, path, expect: expectationFor(path) }));
}

/** Latency, goodput and bytes over the requests that completed. */
function httpFigures(requests: readonly RequestRecord[]): { latency: ReturnType<typeof rttStats>; ttfb: ReturnType<typeof rttStats>; goodputBps: number | null; bodyBytes: number; responseBytes: number } {
  const done = requests.filter((r) => r.latencyNs !== null);
  const latency = rttStats(done.map((r) => r.latencyNs!));
  const ttfb = rttStats(done.filter((r) => r.firstByteNs !== null).map((r) => r.firstByteNs! - r.startNs));
  const bodyBytes = requests.reduce((s, r) => s + r.bodyBytes, 0);
  const responseBytes = requests.reduce((s, r) => s + r.responseBytes, 0);
  let goodputBps: number | null = null;
  if (done.length > 0) {
    const start = Math.min(...requests.map((r) => r.startNs));
    const end = Math.max(...done.map((r) => r.endNs!));
    goodputBps = end > start ? Math.round((bodyBytes * 8 * NS_PER_SEC) / (end - start)) : null;
  }
  return { latency, ttfb, goodputBps, bodyBytes, responseBytes };
}

function intactCheck(client: HttpClient, expected: number): ScenarioCheck {
  const bad = client.requests.filter((r) => !r.intact);
  const connErrors = client.connections.filter((c) => c.error !== null);
  const intact = client.requests.length - bad.length;
  const problems = [
    ...bad.slice(0, 4).map((r) => `#${r.connection}.${r.index} ${r.path}: ${r.problem ?? 'incomplete'}`),
    ...connErrors.slice(0, 4).map((c) => `connection ${c.index}: ${c.error}`),
  ];
  return {
    name: 'every response complete and intact',
    pass: client.allIntact && client.requests.length === expected,
    detail: `${intact} of ${expected} responses intact (status, framing, length, body pattern)${problems.length ? `; ${problems.join('; ')}` : ''}`,
  };
}

function serverCheck(server: HttpServer, expected: number): ScenarioCheck {
  const s = server.stats;
  const answered = Object.values(s.responses).reduce((a, b) => a + b, 0);
  return {
    name: 'server answered every request without error',
    pass: s.requests === expected && answered === expected && s.errors.length === 0 && s.badRequests === 0,
    detail: `${s.requests} requests, ${answered} responses (${Object.entries(s.responses).map(([k, v]) => `${v}× ${k}`).join(', ') || 'none'}), ${s.connectionsAccepted} connections (peak ${s.peakConnections} at once)${s.errors.length ? `; errors: ${s.errors.slice(0, 3).join('; ')}` : ''}`,
  };
}

/**
 * The server's side closed first on every connection, and its kernel held TIME_WAIT for each
 * (TcpExt TW) while the clients' kernels held none.
 */
function closeChecks(client: HttpClient, server: HttpServer, serverSide: string, serverTcp: Record<string, number>, clientTcp: Record<string, number>): ScenarioCheck[] {
  const n = client.connections.length;
  const firstSeen = client.connections.filter((c) => c.serverClosedFirst).length;
  const tw = serverTcp['TcpExt.TW'] ?? 0;
  const overflow = serverTcp['TcpExt.TCPTimeWaitOverflow'] ?? 0;
  const clientTw = clientTcp['TcpExt.TW'] ?? 0;
  return [
    {
      name: `${serverSide} (the server) closed every connection first`,
      pass: firstSeen === n && server.stats.closedFirst === n,
      detail: `clients saw the server's FIN before closing on ${firstSeen} of ${n} connections; the server sent its FIN first on ${server.stats.closedFirst}`,
    },
    {
      name: `${serverSide} held TIME_WAIT for every connection it closed first`,
      pass: tw === n && clientTw === 0,
      detail: `${serverSide} TcpExt TW ${tw} of ${n}${overflow ? `, TCPTimeWaitOverflow ${overflow} (max_tw_buckets reached)` : ''}; the clients' side TW ${clientTw}`,
    },
  ];
}

function httpScenario(
  name: string,
  description: string,
  serverOn: 'lab' | 'dut',
  connections: HttpRequestSpec[][],
  serverSndbuf: number,
): Scenario {
  let server: HttpServer | null = null;
  let client: HttpClient | null = null;
  let before: { dut: Record<string, number>; lab: Record<string, number> } | null = null;
  const expected = connections.reduce((s, l) => s + l.length, 0);
  return {
    name,
    description,
    dutPrograms: [serverOn === 'dut' ? 'httpd' : 'http-client'],
    labPrograms: [serverOn === 'dut' ? 'http-client' : 'httpd'],
    timeLimitNs: 300 * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      staticNetwork(ctx);
      before = { dut: tcpCounters(ctx.dut), lab: tcpCounters(ctx.lab) };
      const serverBoard = serverOn === 'dut' ? ctx.dut : ctx.lab;
      const clientBoard = serverOn === 'dut' ? ctx.lab : ctx.dut;
      const serverAddr = serverOn === 'dut' ? DUT_STATIC_ADDR : LAB_ADDR;
      server = new HttpServer({ port: HTTP_PORT, sndbufBytes: serverSndbuf });
      ctx.spawn(serverBoard, server);
      client = new HttpClient({ server: { addr: serverAddr, port: HTTP_PORT }, host: ipToString(serverAddr), connections });
      // Traffic is over when the client has exited and the server has closed every connection.
      let clientDone = false;
      const maybeFinish = (): void => {
        if (clientDone && server!.stats.connectionsOpen === 0) ctx.finish();
      };
      server.onConnectionClosed = maybeFinish;
      ctx.step(`scenario ${name}: ${connections.length} connection(s), ${expected} request(s) to ${ipToString(serverAddr)}:${HTTP_PORT}`);
      ctx.spawn(clientBoard, client, () => {
        clientDone = true;
        maybeFinish();
      });
    },
    result(ctx: ScenarioContext): ScenarioResult {
      const c = client!;
      const s = server!;
      const dutTcp = delta(tcpCounters(ctx.dut), before!.dut);
      const labTcp = delta(tcpCounters(ctx.lab), before!.lab);
      const serverTcp = serverOn === 'dut' ? dutTcp : labTcp;
      const clientTcp = serverOn === 'dut' ? labTcp : dutTcp;
      const f = httpFigures(c.requests);
      return {
        checks: [intactCheck(c, expected), serverCheck(s, expected), ...closeChecks(c, s, serverOn === 'dut' ? 'the board' : 'the lab host', serverTcp, clientTcp)],
        figures: {
          server: serverOn === 'dut' ? 'board' : 'lab host',
          serverSoSndbuf: serverSndbuf === 0 ? 'kernel default (autotuned)' : serverSndbuf,
          requests: c.requests.map((r) => ({ ...r })),
          latency: f.latency,
          timeToFirstByte: f.ttfb,
          goodputBps: f.goodputBps,
          bodyBytes: f.bodyBytes,
          responseBytes: f.responseBytes,
          connections: {
            opened: c.connections.length,
            completed: c.connections.filter((x) => x.error === null && x.closedNs !== null).length,
            serverClosedFirst: c.connections.filter((x) => x.serverClosedFirst).length,
            peakAtServer: s.stats.peakConnections,
            records: c.connections.map((x) => ({ ...x })),
          },
          serverStats: { ...s.stats, responses: { ...s.stats.responses }, errors: [...s.stats.errors] },
          // Read from the kernels' MIBs (the minimal profile has no /proc to show them).
          tcp: { dut: dutTcp, lab: labTcp },
        },
        measured: { goodput: f.goodputBps, 'http.latency.p99': f.latency ? f.latency.p99 : null },
      };
    },
  };
}

export function httpGetScenario(o: HttpGetOptions = { paths: HTTP_GET_DEFAULT_PATHS }): Scenario {
  return httpScenario(
    'http-get',
    `the board fetches ${o.paths.join(', ')} from the lab host over one keep-alive HTTP/1.1 connection`,
    'lab',
    [specsFor(o.paths)],
    0,
  );
}

export function httpServeScenario(o: HttpServeOptions = { clients: HTTP_SERVE_DEFAULT_CLIENTS, paths: HTTP_SERVE_DEFAULT_PATHS, sndbuf: HTTP_SERVE_DEFAULT_SNDBUF }): Scenario {
  const connections: HttpRequestSpec[][] = [];
  for (let i = 0; i < o.clients; i++) connections.push(specsFor(o.paths));
  return httpScenario(
    'http-serve',
    `${o.clients} lab clients at once fetch ${o.paths.join(', ')} from the board's HTTP server, one connection each; the board closes first`,
    'dut',
    connections,
    o.sndbuf,
  );
}

// ---- options -----------------------------------------------------------------------------------

/**
 * `sizes=1024+102400c+1048576`: a body size per request, `c` for chunked (/chunked/N), else
 * with Content-Length (/bytes/N); or `paths=/+/bytes/10+/missing` for any targets.
 */
function parsePaths(o: Record<string, string>, defaults: string[]): string[] | { error: string } {
  if (o['sizes'] !== undefined && o['paths'] !== undefined) return { error: 'give sizes= or paths=, not both' };
  if (o['sizes'] !== undefined) {
    const parts = o['sizes'].split('+');
    const out: string[] = [];
    for (const p of parts) {
      const m = /^([0-9]{1,10})(c?)$/.exec(p);
      if (!m || Number(m[1]) > 1 << 30) return { error: `sizes=${o['sizes']}: expected sizes in bytes joined by +, each up to 1073741824, with c for chunked (e.g. 1024+102400c)` };
      out.push(`/${m[2] ? 'chunked' : 'bytes'}/${Number(m[1])}`);
    }
    return out.length > 16 ? { error: 'at most 16 requests per connection' } : out;
  }
  if (o['paths'] !== undefined) {
    const parts = o['paths'].split('+');
    if (parts.length > 16) return { error: 'at most 16 requests per connection' };
    for (const p of parts) if (!/^\/[\x21-\x7e]{0,200}$/.test(p)) return { error: `paths: "${p}" is not a path starting with / (visible ASCII, no spaces)` };
    return parts;
  }
  return defaults;
}

export function httpGetOptions(o: Record<string, string>): HttpGetOptions | { error: string } {
  for (const k of Object.keys(o)) if (k !== 'sizes' && k !== 'paths') return { error: `unknown option "${k}" (sizes=A+Bc+…, paths=/a+/b)` };
  const paths = parsePaths(o, HTTP_GET_DEFAULT_PATHS);
  return 'error' in paths ? paths : { paths };
}

export function httpServeOptions(o: Record<string, string>): HttpServeOptions | { error: string } {
  for (const k of Object.keys(o)) if (k !== 'sizes' && k !== 'paths' && k !== 'clients' && k !== 'sndbuf') return { error: `unknown option "${k}" (clients=N, sizes=A+Bc, paths=/a+/b, sndbuf=BYTES)` };
  const clients = o['clients'] === undefined ? HTTP_SERVE_DEFAULT_CLIENTS : /^[0-9]{1,3}$/.test(o['clients']) ? Number(o['clients']) : NaN;
  if (!(clients >= 1 && clients <= HTTP_SERVE_MAX_CLIENTS)) return { error: `clients=${o['clients']}: expected a whole number from 1 to ${HTTP_SERVE_MAX_CLIENTS}` };
  const sndbuf = o['sndbuf'] === undefined ? HTTP_SERVE_DEFAULT_SNDBUF : /^[0-9]{1,9}$/.test(o['sndbuf']) ? Number(o['sndbuf']) : NaN;
  if (!(sndbuf >= 0 && sndbuf <= 4 * 1024 * 1024)) return { error: `sndbuf=${o['sndbuf']}: expected bytes from 0 (the kernel's default) to 4194304` };
  const paths = parsePaths(o, HTTP_SERVE_DEFAULT_PATHS);
  return 'error' in paths ? paths : { clients, paths, sndbuf };
}
