// The CPU model charges every path (docs/cpu-model.md): UDP and ICMP sends and receives, socket
// filters per BPF instruction, GRO per segment, kernel timers. Each figure is worked by hand from
// the board's cycle table (quark-4m: copyByte 1, checksumByte 1; the optional entries at their
// defaults: bpfInsn 8, timer 400, groSegment 250) as the difference between two runs that
// differ only in the thing charged, so the fixed costs (IRQ, driver, protocol) cancel.
import { describe, expect, it } from 'vitest';
import { NS_PER_MS } from '../emulator/event-queue.js';
import { DEFAULT_OPTIONAL_CYCLES } from '../emulator/cpu.js';
import { bootPair, DUT_IP, LAB_IP, settle, type Pair } from './helpers/lab-pair.js';
import { IPPROTO_ICMP } from '../stack/uapi/in.js';
import { AF_INET, SOCK_DGRAM } from '../stack/uapi/socket.js';

function cycles(p: Pair): number {
  return p.dut.board.cpu.cyclesUsed;
}

/** Cycles the DUT spends while `act` runs and the world settles for 10 ms. */
function cost(p: Pair, act: () => void): number {
  settle(p, 10 * NS_PER_MS);
  const before = cycles(p);
  act();
  settle(p, 10 * NS_PER_MS);
  return cycles(p) - before;
}

function echoRequest(seq: number, payload: number): Uint8Array {
  const b = new Uint8Array(8 + payload);
  b[0] = 8;
  b[7] = seq;
  return b;
}

describe('CPU charges on every path', () => {
  it('UDP send: 1000 more payload bytes cost 1000 × (copy + checksum) = 2000 cycles more', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const fd = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
    const sink = p.labSys.socket(AF_INET, SOCK_DGRAM, 0);
    expect(p.labSys.bind(sink, { addr: 0, port: 9 })).toBe(0); // no ICMP error comes back
    // Prime ARP so both sends take the same path.
    p.dutSys.sendto(fd, new Uint8Array(1), { addr: LAB_IP, port: 9 });
    const small = cost(p, () => p.dutSys.sendto(fd, new Uint8Array(100), { addr: LAB_IP, port: 9 }));
    const large = cost(p, () => p.dutSys.sendto(fd, new Uint8Array(1100), { addr: LAB_IP, port: 9 }));
    expect(large - small).toBe(2000);
  });

  it('UDP receive: the copy to the program is charged (1000 bytes: 1000 cycles), on top of the driver checksum', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const rx = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
    expect(p.dutSys.bind(rx, { addr: 0, port: 7000 })).toBe(0);
    const tx = p.labSys.socket(AF_INET, SOCK_DGRAM, 0);
    p.labSys.sendto(tx, new Uint8Array(1), { addr: DUT_IP, port: 7000 });
    settle(p, 10 * NS_PER_MS);
    p.dutSys.recvfrom(rx);
    // (Payloads above the 60-byte minimum frame, so padding does not blur the difference.)
    const small = cost(p, () => p.labSys.sendto(tx, new Uint8Array(100), { addr: DUT_IP, port: 7000 })) + cost(p, () => p.dutSys.recvfrom(rx));
    const large = cost(p, () => p.labSys.sendto(tx, new Uint8Array(1100), { addr: DUT_IP, port: 7000 })) + cost(p, () => p.dutSys.recvfrom(rx));
    // 1000 bytes more: the driver's receive checksum (1000) + the copy to the program (1000).
    expect(large - small).toBe(2000);
  });

  it('ICMP echo reply: copying and checksumming the echoed bytes is charged', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const ping = p.labSys.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    p.labSys.sendto(ping, echoRequest(0, 0), { addr: DUT_IP, port: 0 });
    const small = cost(p, () => p.labSys.sendto(ping, echoRequest(1, 100), { addr: DUT_IP, port: 0 }));
    const large = cost(p, () => p.labSys.sendto(ping, echoRequest(2, 1100), { addr: DUT_IP, port: 0 }));
    // 1000 more bytes: received checksum in the driver (1000), the reply's copy and checksum (2000).
    expect(large - small).toBe(3000);
  });

  it('a socket filter costs bpfInsn cycles per instruction it executes', () => {
    const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
    const rx = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
    expect(p.dutSys.bind(rx, { addr: 0, port: 7000 })).toBe(0);
    const tx = p.labSys.socket(AF_INET, SOCK_DGRAM, 0);
    p.labSys.sendto(tx, new Uint8Array(1), { addr: DUT_IP, port: 7000 });
    const plain = cost(p, () => p.labSys.sendto(tx, new Uint8Array(100), { addr: DUT_IP, port: 7000 }));
    // Five instructions executed: four loads of the accumulator, then "accept all".
    const ld = { code: 0x00, jt: 0, jf: 0, k: 1 };
    const filter = [ld, ld, ld, ld, { code: 0x06, jt: 0, jf: 0, k: 0xffffffff }];
    expect(p.dutSys.setsockopt(rx, 'SO_ATTACH_FILTER', filter)).toBe(0);
    const filtered = cost(p, () => p.labSys.sendto(tx, new Uint8Array(100), { addr: DUT_IP, port: 7000 }));
    expect(filtered - plain).toBe(5 * DEFAULT_OPTIONAL_CYCLES.bpfInsn);
  });

  it('kernel timers expiring are charged: the same idle minute costs timer cycles more per timer fired', () => {
    const idleCost = (timerCycles: number): number => {
      const p = bootPair({ dutBoard: 'quark-4m', dutProfile: 'full' });
      (p.dut.board.cpu.cycles as { timer: number }).timer = timerCycles;
      const fd = p.dutSys.socket(AF_INET, SOCK_DGRAM, 0);
      p.dutSys.sendto(fd, new Uint8Array(1), { addr: LAB_IP, port: 9 });
      settle(p, 10 * NS_PER_MS);
      // Idle for two minutes: the ARP entry's timers run (REACHABLE → STALE → gone).
      return cost(p, () => settle(p, 120_000 * NS_PER_MS));
    };
    const charged = idleCost(DEFAULT_OPTIONAL_CYCLES.timer);
    const free = idleCost(0);
    const extra = charged - free;
    expect(extra).toBeGreaterThan(0);
    expect(extra % DEFAULT_OPTIONAL_CYCLES.timer).toBe(0);
  });
});
