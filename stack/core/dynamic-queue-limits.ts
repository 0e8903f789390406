/**
 * Byte queue limits (lib/dynamic_queue_limits.c, CONFIG_BQL, on in every 6.1 build with
 * sysfs): a TX queue's limit on bytes handed to the driver and not yet completed, grown when
 * the hardware ran dry and shrunk by the slack seen over slack_hold_time. stmmac reports
 * bytes sent (netdev_tx_sent_queue) and completed (netdev_tx_completed_queue); when the
 * limit is used up the stack stops the queue (__QUEUE_STATE_STACK_XOFF), so the backlog
 * builds in the qdisc, where fq_codel can order and police it, and not in the DMA ring.
 *
 * The counters are unsigned ints that wrap; the arithmetic below keeps them as u32.
 */

/** DQL_MAX_OBJECT = UINT_MAX / 16; DQL_MAX_LIMIT = UINT_MAX / 2 - DQL_MAX_OBJECT. */
const DQL_MAX_OBJECT = Math.floor(0xffffffff / 16);
export const DQL_MAX_LIMIT = Math.floor(0xffffffff / 2) - DQL_MAX_OBJECT;
const UINT_MAX = 0xffffffff;

/** POSDIFF(A, B): (int)(A - B) > 0 ? A - B : 0. */
function posdiff(a: number, b: number): number {
  const d = (a - b) | 0;
  return d > 0 ? d : 0;
}
/** AFTER_EQ(A, B): (int)(A - B) >= 0. */
function afterEq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

export class Dql {
  numQueued = 0;
  adjLimit = 0;
  lastObjCnt = 0;
  limit = 0;
  numCompleted = 0;
  prevOvlimit = 0;
  prevNumQueued = 0;
  prevLastObjCnt = 0;
  lowestSlack = UINT_MAX;
  slackStartTime = 0;
  maxLimit = DQL_MAX_LIMIT;
  minLimit = 0;

  /** dql_init(dql, hold_time): netdev_init_one_queue passes HZ (one second of jiffies). */
  constructor(readonly slackHoldTime: number) {}

  /** dql_reset (netdev_tx_reset_queue at open). */
  reset(jiffies: number): void {
    this.limit = 0;
    this.numQueued = 0;
    this.numCompleted = 0;
    this.lastObjCnt = 0;
    this.prevNumQueued = 0;
    this.prevLastObjCnt = 0;
    this.prevOvlimit = 0;
    this.lowestSlack = UINT_MAX;
    this.slackStartTime = jiffies;
  }

  /** dql_queued: `count` bytes handed to the hardware. */
  queued(count: number): void {
    this.lastObjCnt = count;
    this.numQueued = (this.numQueued + count) >>> 0;
  }

  /** dql_avail: bytes that may still be queued; negative means stop. */
  avail(): number {
    return (this.adjLimit - this.numQueued) | 0;
  }

  /** dql_completed: `count` bytes done; adjust the limit. */
  completed(count: number, jiffies: number): void {
    const numQueued = this.numQueued;
    const completed = (this.numCompleted + count) >>> 0;
    let limit = this.limit;
    let ovlimit = posdiff((numQueued - this.numCompleted) >>> 0, limit);
    const inprogress = (numQueued - completed) >>> 0;
    const prevInprogress = (this.prevNumQueued - this.numCompleted) >>> 0;
    const allPrevCompleted = afterEq(completed, this.prevNumQueued);

    if ((ovlimit && !inprogress) || (this.prevOvlimit && allPrevCompleted)) {
      // Starved: grow by what was sent and completed in the last interval, plus the previous over-limit.
      limit = (limit + posdiff(completed, this.prevNumQueued) + this.prevOvlimit) >>> 0;
      this.slackStartTime = jiffies;
      this.lowestSlack = UINT_MAX;
    } else if (inprogress && prevInprogress && !allPrevCompleted) {
      // Busy the whole interval: shrink by the lowest slack seen over slack_hold_time.
      let slack = posdiff((limit + this.prevOvlimit) >>> 0, (2 * ((completed - this.numCompleted) >>> 0)) >>> 0);
      const slackLastObjs = this.prevOvlimit ? posdiff(this.prevLastObjCnt, this.prevOvlimit) : 0;
      slack = Math.max(slack, slackLastObjs);
      if (slack < this.lowestSlack) this.lowestSlack = slack;
      if (((jiffies - (this.slackStartTime + this.slackHoldTime)) | 0) > 0) {
        limit = posdiff(limit, this.lowestSlack);
        this.slackStartTime = jiffies;
        this.lowestSlack = UINT_MAX;
      }
    }
    limit = Math.min(Math.max(limit, this.minLimit), this.maxLimit);
    if (limit !== this.limit) {
      this.limit = limit;
      ovlimit = 0;
    }
    this.adjLimit = (limit + completed) >>> 0;
    this.prevOvlimit = ovlimit;
    this.prevLastObjCnt = this.lastObjCnt;
    this.numCompleted = completed;
    this.prevNumQueued = numQueued;
  }
}
