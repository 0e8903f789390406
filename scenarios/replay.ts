/**
 * Scenario `replay:file=CAPTURE`: the lab host plays a capture's frames to the board at their
 * recorded relative times, addresses mapped onto the lab network (scenarios/replay-capture.ts),
 * and the board's answers are recorded: counted by kind here, every frame in the capture.
 * Stateless, as tcpreplay is: ARP, ICMP, UDP, DHCP, DNS, fragments, floods and malformed frames
 * replay meaningfully; TCP segments go out as recorded, not re-sequenced.
 */
import { defineScenario, refuse } from '../api/define-scenario.js';
import { FrameReplay } from '../apps/frame-replay.js';
import { NS_PER_SEC } from '../emulator/event-queue.js';
import { applyMacs, planReplay, type ReplayPlan } from './replay-capture.js';
import { DUT_STATIC_ADDR, LAB_ADDR, LAB_PREFIX } from './static-network.js';

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
 * The capture is read and mapped in `state`, before any board boots, so a malformed capture
 * is refused up front. The MACs go in once the boards exist.
 */
export const replayScenario = defineScenario({
  name: 'replay',
  summary: "the lab host replays a capture's frames to the board at their recorded times, addresses mapped to the lab network",
  options: {
    file: { type: 'string', default: null, help: 'the capture to replay, pcapng or classic pcap (required)' },
    device: { type: 'string', default: null, pattern: /^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/, help: "the capture's device, a MAC like 02:51:00:00:00:02 (none: the one the capture's frames are addressed to)" },
  },
  programs: { lab: ['tcpreplay'] },
  state: (o) => {
    if (!o.file) return refuse('file=CAPTURE is required (a pcapng or classic pcap capture)');
    const device = o.device === null ? undefined : Uint8Array.from(o.device.split(/[:-]/).map((x) => parseInt(x, 16)));
    const plan = planReplay(o.file, DUT_STATIC_ADDR, LAB_ADDR, device);
    if ('error' in plan) return refuse(plan.error);
    const answers: BoardAnswers = { frames: 0, arpReplies: 0, arpRequests: 0, icmpEchoReplies: 0, icmpErrors: 0, udp: 0, tcp: 0, tcpResets: 0, other: 0 };
    return { plan, answers, player: null as FrameReplay | null };
  },
  description: (o, s) => `the lab host replays ${s.plan.frames.length} frames of ${o.file} to the board at their recorded times`,
  timeLimitSeconds: (_o, s) => s.plan.frames[s.plan.frames.length - 1]!.offsetNs / NS_PER_SEC + 60,
  lab(t, _o, s) {
    const plan = s.plan;
    for (const f of plan.frames) applyMacs(f, t.board.mac, t.lab.mac);
    for (const a of plan.labAddresses) t.lab.addAddress(a, LAB_PREFIX);
    t.board.tap((direction, frame) => {
      if (direction === 'outbound') classify(frame, s.answers);
    });
    s.player = new FrameReplay(plan.frames, t.lab.ifindex);
    t.step(`scenario replay: ${plan.frames.length} frames of ${plan.captured} in the capture, to device ${plan.deviceMac}${plan.deviceIp ? ` (${plan.deviceIp})` : ''}`);
    t.lab.spawn(s.player, () => t.after(QUIET_AFTER_NS, () => t.finish()));
  },
  checks(_t, _o, s) {
    const r = s.player!.result;
    const errors = Object.entries(r.errors).map(([k, v]) => `${v} ${k}`).join(', ');
    return [{ name: 'every frame replayed', pass: r.sent === s.plan.frames.length, detail: `${r.sent} of ${s.plan.frames.length} frames sent${errors ? `; refused: ${errors}` : ''}` }];
  },
  figures(t, _o, s) {
    const dut = t.board.observe();
    return {
      replay: figuresOf(s.plan, s.player!.result),
      boardAnswers: { ...s.answers },
      dut: { rx_missed_errors: dut.netdev['rx_missed_errors'], rx_packets: dut.netdev['rx_packets'] },
    };
  },
});

function figuresOf(plan: ReplayPlan, r: FrameReplay['result']): Record<string, unknown> {
  return { framesInCapture: plan.captured, framesToDevice: plan.frames.length, deviceMac: plan.deviceMac, deviceIp: plan.deviceIp, peers: plan.peers, sent: r.sent, refused: r.errors, startNs: r.startNs, endNs: r.endNs };
}
