/** `quarklab live`: the CLI face of live/live-session.ts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pack } from 'msgpackr';
import { live, LIVE_SERVICES, type LiveService } from '../live/live-session.js';
import { DEFAULT_BOARD, DEFAULT_PROFILE } from '../scenarios/inputs.js';
import { parseIp } from '../stack/uapi/addr.js';
import type { TunnelEnd } from '../live/vxlan-port.js';
import { summarize } from '../traces/report.js';
import { fail, write } from './output.js';

export const LIVE_HELP = `usage: quarklab live --vxlan LOCAL:PORT,REMOTE:PORT [options]

Boot a board with a stack profile and put its MAC on a real network: a VXLAN tunnel
(RFC 7348) over a UDP socket, with virtual time following the wall clock. Real hosts then
ping it, fetch its pages and run iperf3 against it. Ctrl-C (or --duration) ends the session;
DIR/capture.pcapng, DIR/report.json and DIR/trace.msgpack are written as by 'run'.
docs/live.md gives the Linux side (namespaces, veth, a vxlan device).

options:
  --board NAME|FILE     board (default ${DEFAULT_BOARD})
  --profile NAME|FILE   stack profile (default ${DEFAULT_PROFILE})
  --vxlan L:P,R:P       the tunnel: this end's UDP address and port, and the Linux VTEP's
  --vni N               VXLAN network identifier (default 42)
  --address A/N         the board's static IPv4 address and prefix (default: DHCP client)
  --gateway G           default route via G (with --address)
  --serve LIST          board programs, comma-separated: ${LIVE_SERVICES.join(', ')} (HTTP on 80,
                        UDP echo on 7, iperf3 server on 5201)
  --duration S          end after S wall seconds (default: run until Ctrl-C)
  --seed N              seed for the board's random choices (default 1)
  --cpu on|off          charge CPU cycles per packet and byte (default on)
  --costs FILE          cost table from 'quarklab calibrate'
  --out DIR             output folder (default out)
  --json                print report.json instead of the summary
  -h, --help            this help

exit codes: 0 the session ran and every board program ran without error; 1 one did not
(or the profile does not fit the board); 2 bad usage or input (including a socket that
cannot be bound).`;

function tunnelEnd(text: string, what: string): TunnelEnd {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d{1,5})$/.exec(text);
  if (!m || !isIPv4(m[1]!) || Number(m[2]) < 1 || Number(m[2]) > 65535) fail(`--vxlan: ${what} "${text}" is not IPv4:PORT`);
  return { address: m[1]!, port: Number(m[2]) };
}

export async function liveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      board: { type: 'string' },
      profile: { type: 'string' },
      vxlan: { type: 'string' },
      vni: { type: 'string' },
      address: { type: 'string' },
      gateway: { type: 'string' },
      serve: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      cpu: { type: 'string' },
      costs: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    write(LIVE_HELP);
    return 0;
  }
  if (values.vxlan === undefined) fail('--vxlan LOCAL:PORT,REMOTE:PORT is required');
  const ends = values.vxlan.split(',');
  if (ends.length !== 2) fail(`--vxlan must be LOCAL:PORT,REMOTE:PORT, got "${values.vxlan}"`);
  const local = tunnelEnd(ends[0]!, 'local end');
  const remote = tunnelEnd(ends[1]!, 'remote end');
  const vni = values.vni === undefined ? 42 : Number(values.vni);
  if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) fail(`--vni must be a whole number from 0 to 16777215, got "${values.vni}"`);
  let address: { addr: number; prefixLen: number } | null = null;
  if (values.address !== undefined) {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(values.address);
    const addr = m ? parseIp(m[1]!) : null;
    const prefixLen = m ? Number(m[2]) : -1;
    if (addr === null || prefixLen < 1 || prefixLen > 32) fail(`--address must be A.B.C.D/N, got "${values.address}"`);
    address = { addr, prefixLen };
  }
  let gateway: number | null = null;
  if (values.gateway !== undefined) {
    if (!address) fail('--gateway needs --address (with DHCP the lease names the router)');
    gateway = parseIp(values.gateway);
    if (gateway === null) fail(`--gateway must be A.B.C.D, got "${values.gateway}"`);
  }
  const serve: LiveService[] = [];
  for (const s of (values.serve ?? '').split(',')) {
    if (s === '') continue;
    if (!(LIVE_SERVICES as readonly string[]).includes(s)) fail(`--serve: unknown program "${s}" (${LIVE_SERVICES.join(', ')})`);
    if (!serve.includes(s as LiveService)) serve.push(s as LiveService);
  }
  let durationSeconds: number | null = null;
  if (values.duration !== undefined) {
    durationSeconds = Number(values.duration);
    if (!Number.isFinite(durationSeconds) || durationSeconds <= 0 || durationSeconds > 86400) fail(`--duration must be seconds from 0 to 86400, got "${values.duration}"`);
  }
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) fail(`--seed must be an integer from 0 to 4294967295, got "${values.seed}"`);
  if (values.cpu !== undefined && values.cpu !== 'on' && values.cpu !== 'off') fail(`--cpu must be on or off, got "${values.cpu}"`);
  const out = values.out ?? 'out';

  const outcome = await live({
    board: values.board ?? DEFAULT_BOARD,
    profile: values.profile ?? DEFAULT_PROFILE,
    costTablePath: values.costs,
    seed,
    cpu: values.cpu !== 'off',
    local,
    remote,
    vni,
    address,
    gateway,
    serve,
    durationSeconds,
    say: (line) => process.stderr.write(`quarklab live: ${line}\n`),
  });
  if (outcome.exitCode === 2) fail(outcome.error ?? 'bad input');
  if (!outcome.report) {
    process.stderr.write(`quarklab live: ${outcome.error ?? 'failed'}\n`);
    return outcome.exitCode;
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'report.json'), JSON.stringify(outcome.report, null, 2) + '\n');
  if (outcome.capture) writeFileSync(join(out, 'capture.pcapng'), outcome.capture);
  writeFileSync(join(out, 'trace.msgpack'), pack(outcome.trace));
  write(values.json ? JSON.stringify(outcome.report, null, 2) : summarize(outcome.report));
  if (!values.json) write(`wrote ${join(out, 'report.json')}, ${join(out, 'capture.pcapng')}, ${join(out, 'trace.msgpack')}`);
  return outcome.exitCode;
}
