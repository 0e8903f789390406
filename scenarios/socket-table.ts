/**
 * The report's socket table: the board's TCP sockets when the scenario's traffic ends, taken
 * the way a person on the board would take them — by running `ss -tan` there, through the
 * board's own system calls. ss asks sock_diag (INET_DIAG) or, without it, reads /proc/net/tcp
 * (PROC_FS), as iproute2's ss does; the table says which. A profile with neither offers no
 * program a way to list sockets, so the table is then read from the kernel's own tables, as a
 * debugger reading the board's memory would, and says that instead.
 *
 * ss runs after the scenario's programs are done measuring and before they exit; its own
 * process memory is not reserved at boot (it is not one of the scenario's programs), but the
 * kernel memory its requests take (the netlink socket, the dump's skb) is the board's.
 */
import { ipToString } from '../stack/core/addr.js';
import { parseInetDiagMsg, tcpDiagMsgs, type InetDiagMsg } from '../stack/core/sock-diag.js';
import { ALL_STATES, Ss, ssStateName } from '../apps/ss.js';
import type { EventQueue } from '../emulator/event-queue.js';
import type { SocketsReport, SocketRow } from '../traces/report.js';
import type { BootedBoard } from './boot.js';
import { Process, type TraceLine } from './process.js';

const endpoint = (addr: number, port: number): string => `${ipToString(addr)}:${port}`;
const row = (m: InetDiagMsg): SocketRow => ({ state: ssStateName(m.state), recvQ: m.rqueue, sendQ: m.wqueue, local: endpoint(m.src, m.sport), peer: endpoint(m.dst, m.dport) });

export function socketTable(b: BootedBoard, sim: EventQueue, trace: TraceLine[]): SocketsReport {
  const ss = new Ss();
  new Process(b.role, ss, b.stack, sim, trace).start();
  const r = ss.result;
  if (r.source !== null) {
    return {
      source: r.source === 'sock_diag' ? 'ss (sock_diag)' : 'ss (/proc/net/tcp)',
      detail: r.source === 'sock_diag'
        ? 'ss -tan on the board: a SOCK_DIAG_BY_FAMILY dump over NETLINK_SOCK_DIAG (INET_DIAG)'
        : `ss -tan on the board: no sock_diag (${r.fallbackReason}), so ss read /proc/net/tcp as iproute2's fallback does`,
      rows: r.sockets.map(row),
    };
  }
  return { source: 'kernel tables', detail: `no board program can list sockets on this profile (ss: ${r.error}); read from the kernel's tables as a debugger would`, rows: kernelRows(b) };
}

/** Every TCP socket in every state, straight from the kernel's tables (no syscall, no netlink). */
function kernelRows(b: BootedBoard): SocketRow[] {
  return tcpDiagMsgs(b.stack, ALL_STATES).map((msg) => row(parseInetDiagMsg(msg, 0)));
}
