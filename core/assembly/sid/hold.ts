// The target's hold (PROTOCOL.md 8.12 "the hold", docs/dataplane.md "SID"):
// packets for a transferred address that arrive before the restored socket is
// released wait in a kernel queue of SID's own (NFQUEUE, the xt compat rule
// sent as netlink as STEM's hold does: this kernel has no nft `queue`), and
// are accepted in order right after the release, so that the correspondent's
// segments reach the restored socket instead of waiting for its
// retransmission. One queue for every hosting: it is released when the last
// hosting holding it is released (or dropped when the last one ends unreleased).

import { DEFAULT_QUEUE, NetlinkSummary } from "../kernel/nfqueue";

export class SidHold {
  /** SID's queue number: STEM's hold queue + 1 (node_kernel_setup), its own so that STEM's releases never touch it. */
  static queue: u32 = (DEFAULT_QUEUE + 1) & 0xffff;
  /** The host's netfilter socket is bound to the queue (once, at the first hold). */
  static bound: bool = false;
  /** Hostings whose hold chain stands. */
  static holding: i32 = 0;
  /** Packets the queue took (queue notifications seen), since start. */
  static held: u64 = 0;
  /** The highest queue packet id seen (serial order): verdicts go up to 2^30 past it. */
  static lastId: u32 = 0;

  static seen(s: NetlinkSummary): void {
    if (s.otherPackets == 0) return;
    SidHold.held += <u64>s.otherPackets;
    if (<i32>(s.otherLastId - SidHold.lastId) > 0) SidHold.lastId = s.otherLastId;
  }
}
