/**
 * CUBIC with HyStart, Linux 6.1's default congestion control (net/ipv4/tcp_cubic.c,
 * RFC 9438). After a reduction the window follows W(t) = C·(t − K)³ + W_max with
 * K = ∛(W_max·(1 − β)/C), in 6.1's fixed point: β = 717/1024, C = bic_scale·10/1024 = 0.4004
 * per second³ (bic_scale 41), time in units of 1/1024 s, K from a table-plus-Newton cube root.
 * tcp_friendliness keeps it at least as fast as Reno would be (the "TCP-friendly" estimate);
 * fast_convergence gives up bandwidth sooner when W_max is falling. HyStart leaves slow start
 * before the first loss: when a round's ACK train lasts past half the minimum RTT, or when
 * the round's minimum RTT grows by delay_min/8 (clamped to 4..16 ms) over the smallest seen.
 *
 * The state is icsk_ca_priv's struct bictcp, one object per socket made at init.
 */
import {
  HZ,
  tcpClockUs,
  tcpCongAvoidAi,
  tcpInSlowStart,
  tcpJiffies32,
  jiffiesAt,
  tcpRenoUndoCwnd,
  tcpSlowStart,
  TcpCaEvent,
  TcpCaState,
  type CongSock,
  type TcpCongestionOps,
} from './tcp-cong.js';

const BICTCP_BETA_SCALE = 1024;
/** BIC's clock: 2^10 ticks a second. */
const BICTCP_HZ = 10;
const HYSTART_ACK_TRAIN = 0x1;
const HYSTART_DELAY = 0x2;
const HYSTART_MIN_SAMPLES = 8;
const HYSTART_DELAY_MIN = 4000;
const HYSTART_DELAY_MAX = 16000;

// Module parameters at their 6.1 defaults.
const fastConvergence = true;
const beta = 717;
const bicScale = 41;
const tcpFriendliness = true;
const hystart = true;
const hystartDetect = HYSTART_ACK_TRAIN | HYSTART_DELAY;
const hystartLowWindow = 16;
const hystartAckDeltaUs = 2000;
/** tcp_pacing_ss_ratio and tcp_pacing_ca_ratio (percent). */
const PACING_SS_RATIO = 200;
const PACING_CA_RATIO = 120;

// cubictcp_register's precomputed factors.
/** 8·(1024 + β)/3/(1024 − β) = 15: ACKs per Reno-estimate increment, ×8 per segment of window. */
export const BETA_SCALE = Math.floor(Math.floor((8 * (BICTCP_BETA_SCALE + beta)) / 3) / (BICTCP_BETA_SCALE - beta));
/** 1024·C: bic_scale·10 = 410. */
export const CUBE_RTT_SCALE = bicScale * 10;
/** 2^40 / 410: K³ in BIC ticks per segment of (W_max − cwnd). */
export const CUBE_FACTOR = Math.floor(2 ** (10 + 3 * BICTCP_HZ) / (bicScale * 10));

/** struct bictcp. */
export class Bictcp {
  cnt = 0;
  lastMaxCwnd = 0;
  lastCwnd = 0;
  lastTime = 0;
  bicOriginPoint = 0;
  bicK = 0;
  /** Smallest RTT seen, µs. */
  delayMin = 0;
  epochStart = 0;
  ackCnt = 0;
  tcpCwnd = 0;
  sampleCnt = 0;
  found = false;
  roundStart = 0;
  endSeq = 0;
  lastAck = 0;
  currRtt = 0;

  reset(): void {
    this.cnt = this.lastMaxCwnd = this.lastCwnd = this.lastTime = this.bicOriginPoint = this.bicK = 0;
    this.delayMin = this.epochStart = this.ackCnt = this.tcpCwnd = 0;
    this.found = false;
  }
}

function ca(sk: CongSock): Bictcp {
  return sk.caPriv as Bictcp;
}

/** Table of cube roots for the first guess (cubic_root's v[]). */
const CBRT_TABLE = Uint8Array.of(
  0, 54, 54, 54, 118, 118, 118, 118, 123, 129, 134, 138, 143, 147, 151, 156,
  157, 161, 164, 168, 170, 173, 176, 179, 181, 185, 187, 190, 192, 194, 197, 199,
  200, 202, 204, 206, 209, 211, 213, 215, 217, 219, 221, 222, 224, 225, 227, 229,
  231, 232, 234, 236, 237, 239, 240, 242, 244, 245, 246, 248, 250, 251, 252, 254,
);

/** fls64: the 1-based position of the highest set bit (0 for 0), for a < 2^53. */
function fls64(a: number): number {
  const hi = Math.floor(a / 2 ** 32);
  if (hi > 0) return 64 - Math.clz32(hi);
  return 32 - Math.clz32(a >>> 0);
}

/** cubic_root: a table lookup then one Newton-Raphson step (about 0.2% error). */
export function cubicRoot(a: number): number {
  let b = fls64(a);
  if (b < 7) return (CBRT_TABLE[a]! + 35) >>> 6;
  b = ((b * 84) >> 8) - 1;
  const shift = Math.floor(a / 2 ** (b * 3));
  let x = (((CBRT_TABLE[shift]! + 10) << b) >>> 0) >>> 6;
  x = 2 * x + (Math.floor(a / (x * (x - 1))) >>> 0);
  x = Math.floor((x * 341) / 1024) >>> 0;
  return x;
}

/** (cube_rtt_scale · offs³) >> 40 without losing bits for offs < 2^20 (about 17 minutes). */
export function cubicDelta(offs: number): number {
  const a = CUBE_RTT_SCALE * offs * offs; // < 2^50
  const hi = Math.floor(a / 2 ** 20);
  const lo = a - hi * 2 ** 20;
  const x = hi * offs + Math.floor((lo * offs) / 2 ** 20); // (a·offs) >> 20
  return Math.floor(x / 2 ** 20) >>> 0;
}

/** usecs_to_jiffies (rounds up). */
function usecsToJiffies(us: number): number {
  return Math.ceil((us * HZ) / 1_000_000);
}

function hystartReset(sk: CongSock): void {
  const c = ca(sk);
  c.roundStart = c.lastAck = tcpClockUs(sk);
  c.endSeq = sk.sndNxt;
  c.currRtt = 0xffffffff;
  c.sampleCnt = 0;
}

/** bictcp_update: the ACK count per one-segment increase that tracks the cubic target. */
function bictcpUpdate(sk: CongSock, c: Bictcp, cwnd: number, acked: number): void {
  const now = tcpJiffies32(sk);
  c.ackCnt += acked;
  if (c.lastCwnd === cwnd && ((now - c.lastTime) | 0) <= Math.floor(HZ / 32)) return;
  // The target is recomputed at most once a jiffy; a reduction (epoch_start 0) forces it.
  if (!(c.epochStart && now === c.lastTime)) {
    c.lastCwnd = cwnd;
    c.lastTime = now;
    if (c.epochStart === 0) {
      c.epochStart = now;
      c.ackCnt = acked;
      c.tcpCwnd = cwnd;
      if (c.lastMaxCwnd <= cwnd) {
        c.bicK = 0;
        c.bicOriginPoint = cwnd;
      } else {
        c.bicK = cubicRoot(CUBE_FACTOR * (c.lastMaxCwnd - cwnd));
        c.bicOriginPoint = c.lastMaxCwnd;
      }
    }
    // t: time since the epoch began plus one minimum RTT, in BIC ticks (1/1024 s).
    let t = ((now - c.epochStart) | 0) + usecsToJiffies(c.delayMin);
    t = Math.floor((t * 2 ** BICTCP_HZ) / HZ);
    const offs = t < c.bicK ? c.bicK - t : t - c.bicK;
    const delta = cubicDelta(offs);
    const bicTarget = (t < c.bicK ? c.bicOriginPoint - delta : c.bicOriginPoint + delta) >>> 0;
    if (bicTarget > cwnd) c.cnt = Math.floor(cwnd / (bicTarget - cwnd));
    else c.cnt = 100 * cwnd;
    // Before any loss, grow at least 5% a round.
    if (c.lastMaxCwnd === 0 && c.cnt > 20) c.cnt = 20;
  }
  if (tcpFriendliness) {
    const perIncrement = (cwnd * BETA_SCALE) >>> 3;
    while (c.ackCnt > perIncrement) {
      c.ackCnt -= perIncrement;
      c.tcpCwnd++;
    }
    if (c.tcpCwnd > cwnd) {
      const maxCnt = Math.floor(cwnd / (c.tcpCwnd - cwnd));
      if (c.cnt > maxCnt) c.cnt = maxCnt;
    }
  }
  // At most one segment per two ACKed: 1.5× a round.
  c.cnt = Math.max(c.cnt, 2);
}

/** hystart_ack_delay: allowance for TSO/GRO batching, from the pacing rate (tcp_update_pacing_rate). */
function hystartAckDelay(sk: CongSock): number {
  if (sk.srtt <= 0 || sk.gsoMaxSize === 0) return 0;
  const ratio = sk.cwnd < sk.ssthresh / 2 ? PACING_SS_RATIO : PACING_CA_RATIO;
  const rateBytesPerSec = (sk.mss * sk.cwnd * ratio * 1e7) / sk.srtt; // mss·cwnd·ratio% / srtt
  if (rateBytesPerSec <= 0) return 0;
  return Math.min(1000, Math.floor((sk.gsoMaxSize * 4 * 1_000_000) / rateBytesPerSec));
}

function hystartUpdate(sk: CongSock, c: Bictcp, delay: number): void {
  if (((sk.sndUna - c.endSeq) | 0) > 0) hystartReset(sk);
  const t = sk.table.ext;
  if (hystartDetect & HYSTART_ACK_TRAIN) {
    const now = tcpClockUs(sk);
    if (((now - c.lastAck) | 0) <= hystartAckDeltaUs) {
      c.lastAck = now;
      // No pacing qdisc: the train is compared with half the minimum RTT.
      const threshold = (c.delayMin + hystartAckDelay(sk)) >>> 1;
      if (((now - c.roundStart) | 0) > threshold) {
        c.found = true;
        t['TCPHystartTrainDetect']!++;
        t['TCPHystartTrainCwnd']! += sk.cwnd;
        sk.ssthresh = sk.cwnd;
      }
    }
  }
  if (hystartDetect & HYSTART_DELAY) {
    if (c.currRtt > delay) c.currRtt = delay;
    if (c.sampleCnt < HYSTART_MIN_SAMPLES) c.sampleCnt++;
    else {
      const thresh = Math.min(Math.max(c.delayMin >>> 3, HYSTART_DELAY_MIN), HYSTART_DELAY_MAX);
      if (c.currRtt > c.delayMin + thresh) {
        c.found = true;
        t['TCPHystartDelayDetect']!++;
        t['TCPHystartDelayCwnd']! += sk.cwnd;
        sk.ssthresh = sk.cwnd;
      }
    }
  }
}

export const tcpCubic: TcpCongestionOps = {
  name: 'cubic',
  init(sk: CongSock): void {
    const c = sk.caPriv instanceof Bictcp ? sk.caPriv : new Bictcp();
    c.reset();
    sk.caPriv = c;
    if (hystart) hystartReset(sk);
  },
  ssthresh(sk: CongSock): number {
    const c = ca(sk);
    c.epochStart = 0;
    // W_max, lowered further when it is falling (fast convergence).
    if (sk.cwnd < c.lastMaxCwnd && fastConvergence) c.lastMaxCwnd = Math.floor((sk.cwnd * (BICTCP_BETA_SCALE + beta)) / (2 * BICTCP_BETA_SCALE));
    else c.lastMaxCwnd = sk.cwnd;
    return Math.max(Math.floor((sk.cwnd * beta) / BICTCP_BETA_SCALE), 2);
  },
  congAvoid(sk: CongSock, _ack: number, acked: number): void {
    const c = ca(sk);
    if (tcpInSlowStart(sk)) {
      acked = tcpSlowStart(sk, acked);
      if (!acked) return;
    }
    bictcpUpdate(sk, c, sk.cwnd, acked);
    tcpCongAvoidAi(sk, c.cnt, acked);
  },
  undoCwnd: tcpRenoUndoCwnd,
  setState(sk: CongSock, state: TcpCaState): void {
    if (state === TcpCaState.Loss) {
      ca(sk).reset();
      hystartReset(sk);
    }
  },
  cwndEvent(sk: CongSock, ev: TcpCaEvent): void {
    if (ev !== TcpCaEvent.TxStart) return;
    // Idle for a while (application limited): shift the epoch so the curve does not jump.
    const c = ca(sk);
    const now = tcpJiffies32(sk);
    const delta = (now - jiffiesAt(sk.lastSendNs)) | 0;
    if (c.epochStart && delta > 0) {
      c.epochStart = (c.epochStart + delta) >>> 0;
      if (((c.epochStart - now) | 0) > 0) c.epochStart = now;
    }
  },
  pktsAcked(sk: CongSock, _acked: number, rttUs: number): void {
    const c = ca(sk);
    if (rttUs < 0) return;
    // Discard delay samples right after fast recovery.
    if (c.epochStart && ((tcpJiffies32(sk) - c.epochStart) | 0) < HZ) return;
    const delay = rttUs === 0 ? 1 : rttUs;
    if (c.delayMin === 0 || c.delayMin > delay) c.delayMin = delay;
    if (!c.found && tcpInSlowStart(sk) && hystart && sk.cwnd >= hystartLowWindow) hystartUpdate(sk, c, delay);
  },
};
