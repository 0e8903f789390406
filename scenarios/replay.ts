/**
 * Scenario `replay:file=CAPTURE`: the lab host plays a capture's frames to the board at their
 * recorded relative times, addresses mapped onto the lab network (scenarios/replay-capture.ts),
 * and the board's answers are recorded: counted by kind here, every frame in the capture.
 * Stateless, as tcpreplay is: ARP, ICMP, UDP, DHCP, DNS, fragments, floods and malformed frames
 * replay meaningfully; TCP segments go out as recorded, not re-sequenced.
 */
import { FrameReplay } from '../apps/frame-replay.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { inetAddAddress } from '../stack/ipv4/devinet.js';
import { applyMacs, planReplay, type ReplayPlan } from './replay-capture.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';
import { DUT_STATIC_ADDR, LAB_ADDR, LAB_PREFIX, staticNetwork } from './static-network.js';

/** After the last frame, how long the board's late answers are still waited for. */
const QUIET_AFTER_NS = NS_PER_SEC;

export interface BoardAnswers {
  frames: number;
  arpReplies: number;
  arpRequests: number;
  icmpEchoReplies: number;
  icmpErrors: number;
  udp: number;
  tcp: number;
  tcpResets: number;
  other: number;
}

export function replayOptions(o: Record<string, string>): { file: string; device?: Uint8Array } | { error: string } {
  for (const k of Object.keys(o)) if (k !== 'file' && k !== 'device') return { error: `unknown option "${k}" (file=CAPTURE.pcapng or .pcap, device=MAC)` };
  if (!o['file']) return { error: 'file=CAPTURE is required (a pcapng or classic pcap capture)' };
  if (o['device'] === undefined) return { file: o['file'] };
  const m = /^([0-9a-fA-F]{2})(?:[:-]([0-9a-fA-F]{2})){5}$/.test(o['device']) ? o['device'].split(/[:-]/).map((x) => parseInt(x, 16)) : null;
  if (!m) return { error: `device=${o['device']}: expected a MAC address like 02:51:00:00:00:02` };
  return { file: o['file'], device: Uint8Array.from(m) };
}

function classify(frame: Uint8Array, a: BoardAnswers): void {
  a.frames++;
  if (frame.length < 14) return void a.other++;
  const type = (frame[12]! << 8) | frame[13]!;
  if (type === 0x0806 && frame.length >= 22) {
    const op = (frame[20]! << 8) | frame[21]!;
    if (op === 2) a.arpReplies++;
    else a.arpRequests++;
    return;
  }
  if (type !== 0x0800 || frame.length < 34) return void a.other++;
  const ihl = (frame[14]! & 15) * 4;
  const proto = frame[23]!;
  if (proto === 1 && frame.length > 14 + ihl) {
    const t = frame[14 + ihl]!;
    if (t === 0) a.icmpEchoReplies++;
    else if (t === 3 || t === 11 || t === 12) a.icmpErrors++;
    else a.other++;
  } else if (proto === 17) a.udp++;
  else if (proto === 6) {
    a.tcp++;
    if (frame.length > 14 + ihl + 13 && (frame[14 + ihl + 13]! & 0x04) !== 0) a.tcpResets++;
  } else a.other++;
}

/**
 * The scenario; the capture is read and mapped here, before any board boots, so a malformed
 * capture is refused up front. The MACs go in once the boards exist.
 */
export function replayScenario(file: string, device?: Uint8Array): Scenario | { error: string } {
  const plan = planReplay(file, DUT_STATIC_ADDR, LAB_ADDR, device);
  if ('error' in plan) return plan;
  let player: FrameReplay | null = null;
  const answers: BoardAnswers = { frames: 0, arpReplies: 0, arpRequests: 0, icmpEchoReplies: 0, icmpErrors: 0, udp: 0, tcp: 0, tcpResets: 0, other: 0 };
  return {
    name: 'replay',
    description: `the lab host replays ${plan.frames.length} frames of ${file} to the board at their recorded times`,
    dutPrograms: [],
    labPrograms: ['tcpreplay'],
    timeLimitNs: plan.frames[plan.frames.length - 1]!.offsetNs + 60 * NS_PER_SEC,
    start(ctx: ScenarioContext) {
      staticNetwork(ctx);
      for (const f of plan.frames) applyMacs(f, ctx.dut.board.mac.address, ctx.lab.board.mac.address);
      for (const a of plan.labAddresses) inetAddAddress(ctx.lab.stack, ctx.lab.dev.ifindex, a, LAB_PREFIX);
      ctx.dut.board.mac.addTap(({ direction, frame }) => {
        if (direction === 'outbound') classify(frame, answers);
      });
      player = new FrameReplay(plan.frames, ctx.lab.dev.ifindex);
      ctx.step(`scenario replay: ${plan.frames.length} frames of ${plan.captured} in the capture, to device ${plan.deviceMac}${plan.deviceIp ? ` (${plan.deviceIp})` : ''}`);
      ctx.spawn(ctx.lab, player, () => {
        ctx.world.sim.after(QUIET_AFTER_NS, () => ctx.finish());
      });
    },
    result(ctx: ScenarioContext): ScenarioResult {
      const r = player!.result;
      const errors = Object.entries(r.errors).map(([k, v]) => `${v} ${k}`).join(', ');
      return {
        checks: [
          { name: 'every frame replayed', pass: r.sent === plan.frames.length, detail: `${r.sent} of ${plan.frames.length} frames sent${errors ? `; refused: ${errors}` : ''}` },
        ],
        figures: {
          replay: figuresOf(plan, r),
          boardAnswers: { ...answers },
          dut: { rx_missed_errors: ctx.dut.board.mac.stats.rx_missed_errors, rx_packets: ctx.dut.board.mac.stats.rx_packets },
        },
        measured: {},
      };
    },
  };
}

function figuresOf(plan: ReplayPlan, r: FrameReplay['result']): Record<string, unknown> {
  return { framesInCapture: plan.captured, framesToDevice: plan.frames.length, deviceMac: plan.deviceMac, deviceIp: plan.deviceIp, peers: plan.peers, sent: r.sent, refused: r.errors, startNs: r.startNs, endNs: r.endNs };
}
