// The hold (docs/PROTOCOL.md section 7.2, seed FIG. 3 steps 305 and 310):
// the migrator's session packets wait in a kernel queue during the control
// exchange and leave the moment the reply arrives. docs/dataplane.md section 2
// has the measurements; this module builds and parses the netlink messages.
//
// - The ruleset's `tag` chain marks held packets (HOLD_MARK); the `hold` chain
//   queues marked packets to NFQUEUE `queue` with bypass (a dead daemon holds
//   nothing). That queue rule is an xtables target through nft_compat, which
//   nft's text cannot express (this kernel has no nft `queue`), so the core
//   sends it as an nf_tables netlink batch (queueRuleBatch).
// - The host's NETLINK_NETFILTER socket binds the queue (queueConfig), copying
//   only metadata; it reads notifications only when the core asks.
// - Release: the rule stops marking, then one VERDICT_BATCH accepts every
//   queued packet up to an id far ahead of the last one seen; a second one a
//   few milliseconds later catches packets that were on their way into the
//   queue while the rule changed.

import { NETLINK_NETFILTER, NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NFNL_SUBSYS_NFTABLES, NFNL_SUBSYS_QUEUE, NFPROTO_INET, NFQNL_MSG_CONFIG, NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT_BATCH, NFT_MSG_NEWRULE, NLA_F_NESTED, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST } from "./linux";
import { DEFAULT_PORT } from "../generated/registry";
const BUF = memory.data(1024);

/** The packet-mark bit that tells the hold chain to queue a packet (a held session's: the migration's queue). */
export const HOLD_MARK: u32 = 0x10000000;
/**
 * The mark of a packet from a lost address whose sessions are not known yet
 * (the tag chain's "lost" rule): it waits in a queue of its own (the hold's
 * queue + 3), so that a migration's reply releases the sessions it carries
 * while these stay until the session dumps' answer decides them
 * (docs/dataplane.md section 2, "two queues").
 */
export const LOST_MARK: u32 = 0x20000000;
/** The default queue number: the control port's number, so one number names the node's kernel state. */
export const DEFAULT_QUEUE: u32 = <u32>DEFAULT_PORT;

let seq: u32 = 0x48000000;
let pos: usize = 0;

function w8(v: u32): void {
  store<u8>(pos, <u8>v);
  pos += 1;
}
function w16le(v: u32): void {
  store<u16>(pos, <u16>v);
  pos += 2;
}
function w32le(v: u32): void {
  store<u32>(pos, v);
  pos += 4;
}
function w16be(v: u32): void {
  store<u16>(pos, bswap<u16>(<u16>v));
  pos += 2;
}
function w32be(v: u32): void {
  store<u32>(pos, bswap<u32>(v));
  pos += 4;
}
function align(): void {
  while ((pos & 3) != 0) {
    store<u8>(pos, 0);
    pos++;
  }
}

/** Starts a netlink message; returns where its length goes. */
function message(type: u16, flags: u16, family: u8, resId: u32): usize {
  const start = pos;
  w32le(0);
  w16le(type);
  w16le(flags);
  w32le(seq++);
  w32le(0);
  w8(family);
  w8(0); // version
  w16be(resId);
  return start;
}
function end(start: usize): void {
  store<u32>(start, <u32>(pos - start));
  align();
}

/** Starts an attribute; returns where its length goes. */
function attr(type: u16): usize {
  const start = pos;
  w16le(0);
  w16le(type);
  return start;
}
function close(start: usize): void {
  store<u16>(start, <u16>(pos - start));
  align();
}
function strAttr(type: u16, s: string): void {
  const a = attr(type);
  for (let i = 0; i < s.length; i++) w8(<u32>s.charCodeAt(i));
  w8(0);
  close(a);
}
function be32Attr(type: u16, v: u32): void {
  const a = attr(type);
  w32be(v);
  close(a);
}
/** A nested NFTA_DATA_VALUE holding a u32 in host order (register data). */
function dataValue(type: u16, v: u32): void {
  const outer = attr(type | NLA_F_NESTED);
  const inner = attr(1);
  w32le(v);
  close(inner);
  close(outer);
}
function expression(name: string): usize {
  const elem = attr(1 | NLA_F_NESTED); // NFTA_LIST_ELEM
  strAttr(1, name); // NFTA_EXPR_NAME
  return elem;
}

/**
 * An nf_tables batch inserting, first in table `inet handover` chain `hold`:
 *   meta mark & HOLD_MARK == HOLD_MARK counter queue num `queue` bypass
 * Returns its length at bufferPtr().
 */
export function queueRuleBatch(queue: u32, mark: u32 = HOLD_MARK): i32 {
  return queueRuleIn(queue, "handover", "hold", true, NFPROTO_INET, mark);
}

/**
 * The same queue rule in any chain of an inet table: with `markMatch` as
 * above, first in the chain; without, unconditional (SID's hold chain, which
 * a rule jumps to for the held address only, docs/dataplane.md "SID").
 */
export function queueRuleIn(queue: u32, table: string, chain: string, markMatch: bool, family: u8 = NFPROTO_INET, mark: u32 = HOLD_MARK): i32 {
  pos = BUF;
  end(message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES));
  // Without NLM_F_APPEND the rule goes first in the chain, before the drop of unqueued marked packets (stem/nft.ts).
  const rule = message((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, family, 0);
  strAttr(1, table); // NFTA_RULE_TABLE
  strAttr(2, chain); // NFTA_RULE_CHAIN
  const exprs = attr(4 | NLA_F_NESTED); // NFTA_RULE_EXPRESSIONS
  let e: usize;
  let d: usize;
  if (markMatch) {
  // meta load mark => reg 1
  e = expression("meta");
  d = attr(2 | NLA_F_NESTED);
  be32Attr(1, 1); // NFTA_META_DREG = NFT_REG_1
  be32Attr(2, 3); // NFTA_META_KEY = NFT_META_MARK
  close(d);
  close(e);
  // bitwise reg 1 = (reg 1 & HOLD_MARK) ^ 0
  e = expression("bitwise");
  d = attr(2 | NLA_F_NESTED);
  be32Attr(1, 1); // SREG
  be32Attr(2, 1); // DREG
  be32Attr(3, 4); // LEN
  dataValue(4, mark); // MASK
  dataValue(5, 0); // XOR
  close(d);
  close(e);
  // cmp eq reg 1 HOLD_MARK
  e = expression("cmp");
  d = attr(2 | NLA_F_NESTED);
  be32Attr(1, 1); // SREG
  be32Attr(2, 0); // OP = NFT_CMP_EQ
  dataValue(3, mark);
  close(d);
  close(e);
  }
  // counter
  e = expression("counter");
  d = attr(2 | NLA_F_NESTED);
  close(d);
  close(e);
  // target NFQUEUE rev 3, xt_NFQ_info_v3 { queuenum, queues_total = 1, flags = NFQ_FLAG_BYPASS }
  e = expression("target");
  d = attr(2 | NLA_F_NESTED);
  strAttr(1, "NFQUEUE");
  be32Attr(2, 3);
  const info = attr(3);
  w16le(queue);
  w16le(1);
  w16le(1);
  close(info);
  close(d);
  close(e);
  close(exprs);
  end(rule);
  end(message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES));
  return <i32>(pos - BUF);
}

/**
 * Binds the host's NETLINK_NETFILTER socket to the queue: metadata only, a
 * long queue, GSO packets unsegmented, and fail-open (a full queue accepts
 * rather than drops). Two messages, each acknowledged.
 */
export function queueConfig(queue: u32): i32 {
  pos = BUF;
  let m = message((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, 0, queue);
  const cmd = attr(1); // NFQA_CFG_CMD
  w8(1); // NFQNL_CFG_CMD_BIND
  w8(0);
  w16be(0);
  close(cmd);
  end(m);
  m = message((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, 0, queue);
  const params = attr(2); // NFQA_CFG_PARAMS
  w32be(0); // copy_range
  w8(1); // NFQNL_COPY_META
  close(params);
  be32Attr(3, 65536); // NFQA_CFG_QUEUE_MAXLEN
  be32Attr(4, 5); // NFQA_CFG_MASK: GSO | FAIL_OPEN
  be32Attr(5, 5); // NFQA_CFG_FLAGS
  end(m);
  return <i32>(pos - BUF);
}

/** VERDICT_BATCH: accept (verdict 1, NF_ACCEPT; 0 is NF_DROP) every queued packet with an id up to maxId (serial arithmetic). */
export function verdictBatch(queue: u32, maxId: u32, verdict: u32 = 1): i32 {
  pos = BUF;
  const m = message((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH, NLM_F_REQUEST, 0, queue);
  const hdr = attr(2); // NFQA_VERDICT_HDR
  w32be(verdict); // NF_ACCEPT or NF_DROP
  w32be(maxId);
  close(hdr);
  end(m);
  return <i32>(pos - BUF);
}

export function bufferPtr(): usize {
  return BUF;
}

/** What a stream of netlink messages from a netfilter socket said. */
export class NetlinkSummary {
  /** The first non-zero errno of an acknowledgement, or 0. */
  errno: i32 = 0;
  acks: i32 = 0;
  packets: i32 = 0;
  /** The highest queue packet id seen (serial order), valid if packets > 0. */
  lastId: u32 = 0;
  /** SID's hold queue (sid/hold.ts): its packets are counted here, not above (0x10000: none). */
  otherQueue: u32 = 0x10000;
  otherPackets: i32 = 0;
  otherLastId: u32 = 0;
  /** The node's hold queue (sid/hold.ts, PROTOCOL.md 8.12 "the hold at the node"): counted here (0x10000: none). */
  nodeQueue: u32 = 0x10000;
  nodePackets: i32 = 0;
  nodeLastId: u32 = 0;
  /** STEM's queue of a lost address's packets (LOST_MARK): counted here (0x10000: none). */
  lostQueue: u32 = 0x10000;
  lostPackets: i32 = 0;
  lostLastId: u32 = 0;
}

/** Parses netlink messages (acks and queue packet notifications); never reads past [p, p+n). */
export function parseNetfilter(p: usize, n: i32, out: NetlinkSummary): void {
  let off = 0;
  while (off + 16 <= n) {
    const len = <i32>load<u32>(p + off);
    if (len < 16 || off + len > n) break;
    const type = load<u16>(p + off + 4);
    if (type == NLMSG_ERROR && len >= 20) {
      const err = load<i32>(p + off + 16);
      out.acks++;
      if (err != 0 && out.errno == 0) out.errno = err < 0 ? -err : err;
    } else if (type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
      // attributes after nlmsghdr (16) and nfgenmsg (4)
      let a = off + 20;
      while (a + 4 <= off + len) {
        const alen = <i32>load<u16>(p + a);
        const atype = load<u16>(p + a + 2) & 0x3fff;
        if (alen < 4 || a + alen > off + len) break;
        if (atype == 1 && alen >= 8) {
          const id = bswap<u32>(load<u32>(p + a + 4));
          // nfgenmsg.res_id: the queue number
          const q = <u32>bswap<u16>(load<u16>(p + off + 18));
          if (q == out.otherQueue) {
            if (out.otherPackets == 0 || <i32>(id - out.otherLastId) > 0) out.otherLastId = id;
            out.otherPackets++;
          } else if (q == out.lostQueue) {
            if (out.lostPackets == 0 || <i32>(id - out.lostLastId) > 0) out.lostLastId = id;
            out.lostPackets++;
          } else if (q == out.nodeQueue) {
            if (out.nodePackets == 0 || <i32>(id - out.nodeLastId) > 0) out.nodeLastId = id;
            out.nodePackets++;
          } else {
            if (out.packets == 0 || <i32>(id - out.lastId) > 0) out.lastId = id;
            out.packets++;
          }
        }
        a += (alen + 3) & ~3;
      }
    }
    off += (len + 3) & ~3;
  }
}
