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
import { defineScenario, refuse, type ScenarioFigure, type ScenarioRefusal, type ScenarioRun } from '../api/define-scenario.js';
import type { BoardObservation } from '../api/observe.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { ipToString } from '../stack/uapi/addr.js';
import { rttStats } from './ping.js';
import type { ScenarioCheck } from './scenario.js';

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

/** The TCP counters that show who closed first and what it cost, from a stack's MIB. */
const TCP_FIGURES = ['ActiveOpens', 'PassiveOpens', 'AttemptFails', 'EstabResets', 'CurrEstab', 'InSegs', 'OutSegs', 'RetransSegs', 'InErrs', 'OutRsts'] as const;
const TCPEXT_FIGURES = ['TW', 'TCPTimeWaitOverflow', 'TCPAbortOnClose', 'TCPAbortOnData', 'TCPAbortOnMemory', 'TCPAbortOnTimeout', 'ListenOverflows', 'ListenDrops', 'TCPTimeouts', 'DelayedACKs', 'TCPRcvQDrop', 'TCPMemoryPressures'] as const;

function tcpCounters(b: BoardObservation): Record<string, number> {
  const tcp = b.counters['Tcp'];
  const ext = b.counters['TcpExt'] ?? {};
  const out: Record<string, number> = {};
  if (!tcp) return out;
  for (const k of TCP_FIGURES) out[`Tcp.${k}`] = tcp[k] ?? 0;
  for (const k of TCPEXT_FIGURES) out[`TcpExt.${k}`] = ext[k] ?? 0;
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

interface HttpRun {
  connections: HttpRequestSpec[][];
  /** SO_SNDBUF the server sets on each connection; 0 leaves the kernel default and autotuning. */
  sndbuf: number;
  server: HttpServer | null;
  client: HttpClient | null;
  before: { dut: Record<string, number>; lab: Record<string, number> } | null;
}

/**
 * What both scenarios share: the server starts (on the lab host in lab(), on the board in
 * board()) before the client on the other side, and traffic is over when the client has
 * exited and the server has closed every connection.
 */
function httpParts(name: string, serverOn: 'lab' | 'dut') {
  const expected = (s: HttpRun) => s.connections.reduce((n, l) => n + l.length, 0);
  const startServer = (t: ScenarioRun, s: HttpRun) => {
    s.server = new HttpServer({ port: HTTP_PORT, sndbufBytes: s.sndbuf });
    (serverOn === 'dut' ? t.board : t.lab).spawn(s.server);
  };
  const tcpDeltas = (t: ScenarioRun, s: HttpRun) => {
    const dutTcp = delta(tcpCounters(t.board.observe()), s.before!.dut);
    const labTcp = delta(tcpCounters(t.lab.observe()), s.before!.lab);
    return { dutTcp, labTcp, serverTcp: serverOn === 'dut' ? dutTcp : labTcp, clientTcp: serverOn === 'dut' ? labTcp : dutTcp };
  };
  return {
    programs: { board: [serverOn === 'dut' ? 'httpd' : 'http-client'], lab: [serverOn === 'dut' ? 'http-client' : 'httpd'] },
    produces: ['goodput'] as const,
    timeLimitSeconds: 300,
    lab(t: ScenarioRun, _o: unknown, s: HttpRun) {
      s.before = { dut: tcpCounters(t.board.observe()), lab: tcpCounters(t.lab.observe()) };
      if (serverOn === 'lab') startServer(t, s);
    },
    board(t: ScenarioRun, _o: unknown, s: HttpRun) {
      if (serverOn === 'dut') startServer(t, s);
      const server = s.server!;
      const serverAddr = serverOn === 'dut' ? t.board.addr : t.lab.addr;
      s.client = new HttpClient({ server: { addr: serverAddr, port: HTTP_PORT }, host: ipToString(serverAddr), connections: s.connections });
      let clientDone = false;
      const maybeFinish = (): void => {
        if (clientDone && server.stats.connectionsOpen === 0) t.finish();
      };
      server.onConnectionClosed = maybeFinish;
      t.step(`scenario ${name}: ${s.connections.length} connection(s), ${expected(s)} request(s) to ${ipToString(serverAddr)}:${HTTP_PORT}`);
      (serverOn === 'dut' ? t.lab : t.board).spawn(s.client, () => {
        clientDone = true;
        maybeFinish();
      });
    },
    checks(t: ScenarioRun, _o: unknown, s: HttpRun): ScenarioCheck[] {
      const { serverTcp, clientTcp } = tcpDeltas(t, s);
      return [intactCheck(s.client!, expected(s)), serverCheck(s.server!, expected(s)), ...closeChecks(s.client!, s.server!, serverOn === 'dut' ? 'the board' : 'the lab host', serverTcp, clientTcp)];
    },
    figures(t: ScenarioRun, _o: unknown, s: HttpRun): Record<string, unknown> {
      const c = s.client!;
      const sv = s.server!;
      const { dutTcp, labTcp } = tcpDeltas(t, s);
      const f = httpFigures(c.requests);
      const sndbuf = s.sndbuf;
      return {
        server: serverOn === 'dut' ? 'board' : 'lab host',
        serverSoSndbuf: sndbuf === 0 ? 'kernel default (autotuned)' : sndbuf,
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
          peakAtServer: sv.stats.peakConnections,
          records: c.connections.map((x) => ({ ...x })),
        },
        serverStats: { ...sv.stats, responses: { ...sv.stats.responses }, errors: [...sv.stats.errors] },
        // Read from the kernels' counters (the minimal profile has no /proc to show them).
        tcp: { dut: dutTcp, lab: labTcp },
      };
    },
    measured(_t: unknown, _o: unknown, s: HttpRun): Partial<Record<ScenarioFigure, number | null>> {
      const f = httpFigures(s.client!.requests);
      // http.latency.p99 is kept with the figures budgets can name, for a later budget key.
      return { goodput: f.goodputBps, 'http.latency.p99': f.latency ? f.latency.p99 : null } as Partial<Record<ScenarioFigure, number | null>>;
    },
  };
}

const PATH_OPTIONS = {
  sizes: { type: 'string', default: null, help: 'a body size per request joined by +, c for chunked (/chunked/N), else Content-Length (/bytes/N), e.g. 1024+102400c (none: the scenario\'s own list)' },
  paths: { type: 'string', default: null, help: 'request targets joined by +, e.g. /+/bytes/10+/missing (instead of sizes=)' },
} as const;

function httpState(o: { sizes: string | null; paths: string | null }, defaults: string[], perConnection: number, sndbuf: number): HttpRun | ScenarioRefusal {
  const paths = parsePaths(o, defaults);
  if ('error' in paths) return refuse(paths.error);
  const connections: HttpRequestSpec[][] = [];
  for (let i = 0; i < perConnection; i++) connections.push(specsFor(paths));
  return { connections, sndbuf, server: null, client: null, before: null };
}

export const httpGetScenario = defineScenario({
  name: 'http-get',
  summary: 'the board fetches 1 KB, 100 KB (chunked) and 1 MB from the lab host over one keep-alive HTTP/1.1 connection',
  description: (_o, s) => `the board fetches ${s.connections[0]!.map((r) => r.path).join(', ')} from the lab host over one keep-alive HTTP/1.1 connection`,
  options: PATH_OPTIONS,
  state: (o) => httpState(o, HTTP_GET_DEFAULT_PATHS, 1, 0),
  ...httpParts('http-get', 'lab'),
});

export const httpServeScenario = defineScenario({
  name: 'http-serve',
  summary: "the lab host runs 8 HTTP clients at once against the board's server, 2 requests each, the board closing first",
  description: (o, s) => `${o.clients} lab clients at once fetch ${s.connections[0]!.map((r) => r.path).join(', ')} from the board's HTTP server, one connection each; the board closes first`,
  options: {
    clients: { type: 'integer', default: HTTP_SERVE_DEFAULT_CLIENTS, min: 1, max: HTTP_SERVE_MAX_CLIENTS, help: 'HTTP clients on the lab host, one connection each, all at once' },
    ...PATH_OPTIONS,
    sndbuf: { type: 'integer', default: HTTP_SERVE_DEFAULT_SNDBUF, min: 0, max: 4 * 1024 * 1024, help: "the board server's SO_SNDBUF (0: the kernel's own sizing)" },
  },
  state: (o) => httpState(o, HTTP_SERVE_DEFAULT_PATHS, o.clients, o.sndbuf),
  ...httpParts('http-serve', 'dut'),
});

// ---- options -----------------------------------------------------------------------------------

/**
 * `sizes=1024+102400c+1048576`: a body size per request, `c` for chunked (/chunked/N), else
 * with Content-Length (/bytes/N); or `paths=/+/bytes/10+/missing` for any targets.
 */
function parsePaths(o: { sizes: string | null; paths: string | null }, defaults: string[]): string[] | { error: string } {
  if (o.sizes !== null && o.paths !== null) return { error: 'give sizes= or paths=, not both' };
  if (o.sizes !== null) {
    const parts = o.sizes.split('+');
    const out: string[] = [];
    for (const p of parts) {
      const m = /^([0-9]{1,10})(c?)$/.exec(p);
      if (!m || Number(m[1]) > 1 << 30) return { error: `sizes=${o.sizes}: expected sizes in bytes joined by +, each up to 1073741824, with c for chunked (e.g. 1024+102400c)` };
      out.push(`/${m[2] ? 'chunked' : 'bytes'}/${Number(m[1])}`);
    }
    return out.length > 16 ? { error: 'at most 16 requests per connection' } : out;
  }
  if (o.paths !== null) {
    const parts = o.paths.split('+');
    if (parts.length > 16) return { error: 'at most 16 requests per connection' };
    for (const p of parts) if (!/^\/[\x21-\x7e]{0,200}$/.test(p)) return { error: `paths: "${p}" is not a path starting with / (visible ASCII, no spaces)` };
    return parts;
  }
  return defaults;
}
