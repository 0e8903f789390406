/**
 * Why the stack freed a packet it did not deliver: Linux 6.1's enum skb_drop_reason
 * (include/net/dropreason.h), without the SKB_DROP_REASON_ prefix, as the kfree_skb tracepoint
 * and `perf script` print it. Only the reasons this stack gives are listed; each is one of 6.1's
 * names, so a count in the report means what it means on a Linux board.
 */
export type SkbDropReason =
  | 'PKT_TOO_SMALL'
  | 'TCP_CSUM'
  | 'TCP_OLD_DATA'
  | 'TCP_OVERWINDOW'
  | 'TCP_RFC7323_PAWS'
  | 'TCP_TOO_OLD_ACK'
  | 'TCP_ACK_UNSENT_DATA';
