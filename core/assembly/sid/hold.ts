// The target's hold (PROTOCOL.md 8.12 "the hold", docs/dataplane.md "SID"):
// packets for a transferred address that arrive before the restored socket is
// released wait in a kernel queue of SID's own (NFQUEUE, the xt compat rule
// sent as netlink as STEM's hold does: this kernel has no nft `queue`), and
// are accepted in order right after the release, so that the correspondent's
// segments reach the restored socket instead of waiting for its
// retransmission. One queue for every hosting: it is released when the last
// hosting holding it is released (or dropped when the last one ends unreleased).
//
// The hold at the node (PROTOCOL.md 8.12 "the hold at the node"): packets for
// a transferred address that still reach the transferring node after its stop
// rule (the router's neighbour entry moves with the agent's gratuitous ARP,
// not at once) wait in a second queue of SID's own until the node knows the
// agent holds the address (its accepting Transfer Reply), then go back through
// the node's hand-on chain (verdict NF_REPEAT), which now copies them to the
// agent: they reach the target through the tunnel instead of waiting for the
// correspondent's retransmission.
//
// A base chain's removal flushes every NFQUEUE queue of the namespace (the
// kernel's nf_queue_nf_hook_drop on every hook unregistration): so a hold's
// chains are emptied (flush chain) before its verdict and deleted only after
// it, and while any SID hold stands, a released hold's chains wait (Sid's
// pendingChains) instead of being deleted.

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

  /** The node's queue: SID's queue + 1 (node_kernel_setup). */
  static nodeQueue: u32 = (DEFAULT_QUEUE + 2) & 0xffff;
  static nodeBound: bool = false;
  /** Transfers whose node hold (queue) stands. */
  static nodeHolding: i32 = 0;
  /** Packets the node's queue took, since start. */
  static nodeHeld: u64 = 0;
  static nodeLastId: u32 = 0;
  /** The node's queue: the highest id released so far by the agent's stepped release (Sid.drainWake). */
  static nodeReleasedId: u32 = 0;

  static seen(s: NetlinkSummary): void {
    if (s.nodePackets != 0) {
      SidHold.nodeHeld += <u64>s.nodePackets;
      if (<i32>(s.nodeLastId - SidHold.nodeLastId) > 0) SidHold.nodeLastId = s.nodeLastId;
    }
    if (s.otherPackets == 0) return;
    SidHold.held += <u64>s.otherPackets;
    if (<i32>(s.otherLastId - SidHold.lastId) > 0) SidHold.lastId = s.otherLastId;
  }

  /** Any SID hold stands (the target's or the node's): no base chain of SID's may be deleted now. */
  static any(): bool {
    return SidHold.holding > 0 || SidHold.nodeHolding > 0;
  }
}
