// The SID protocol module (docs/PROTOCOL.md section 8): the state machines of
// the transferring node, the target and the agent, served by the engine
// (Node.serve(PROTOCOL_SID, ...)). Sans-I/O: `now` is an argument; kernel
// actions, frames and events go through the node's output queue; the session
// keys, SPIs and nonces come from the DRBG the host seeded.
//
// One node may play every role at once: the transferring node of its own
// addresses (Transfer), the target of others' (Hosted), the agent of the
// addresses its peers are configured to own (the binding table).

import { copy32 } from "../crypto/wipe";
import { Node, Procedure, FrameRoute, typeSeals } from "../engine/node";
import { Peer, SessionPeer, SecurityAssociation, CachedReply } from "../engine/peer";
import { Address } from "../engine/address";
import { Timer } from "../engine/timers";
import { takeOutput, bytesOf, beginEvent, endEvent, renewedOutput, OUT_FRAME } from "../engine/output";
import { Decoded } from "../wire/decode";
import { Encoder } from "../wire/encode";
import { TextOut } from "../util/text";
import { drbg } from "../crypto/drbg";
import { keyWrapRandom } from "../crypto/keywrap";
import { gratuitousArp, neighbourAdvertisement, NA_FRAME } from "./frames";
import { SEAL_UP, SEAL_DOWN, SEAL_SA, bindingKey, bindingSubkey } from "../wire/sealed";
import { stopRule, arpRule, reversePathRule, udpPassRule, holdChainName, forwardRule, forwardPassRule, nodeQueueChainName, flushChains, wakeHoldRule, wakeQueueChainName, flushWakeHold } from "./rules";
import { SidHold } from "./hold";
import { queueConfig, queueRuleIn, verdictBatch, bufferPtr as nfqueueBuffer } from "../kernel/nfqueue";
import { RECORD as BINDING_RECORD } from "./bindings";
import { isValidFamily } from "../engine/address";
import { SidFlows, Flow, readFlows, SID_RULE_PRIORITY } from "./flows";
import {
  SidBase, Claim, ROLE_NODE, ROLE_TARGET, ROLE_AGENT, NEGOTIATING, DELIVERING, REQUESTING, TRANSFERRED, NEGOTIATED,
  REGISTERING, BOUND, DEREGISTERING, ACTIVE, WAKING, RETURNING, RETIRED, MAIN_TABLE, IDS, KEY_BUF, ids, addressOf, lifetimeOf,
  sessionSa, toBindingKey, unwrapSessionKey, wrapSpiOf, sessionSpiOf, addressMessageCopy,
} from "./base";
import { AddressRegistry, AliasSink, StaticPool, Ipv6Generator, Lease } from "./addrgen";
import {
  BindingTable, address as bAddress, holds as bHolds, target as bTarget, setTarget as bSetTarget, flags as bFlags,
  setFlags as bSetFlags, spi as bSpi, setSpi as bSetSpi, vni as bVni, setVni as bSetVni, nodePeer as bNodePeer,
  setNodePeer as bSetNodePeer, expires as bExpires, keyPtr as bKey, macPtr as bMac,
  hasMac as bHasMac, setHasMac as bSetHasMac, setCookie as bSetCookieRaw, cookie as bCookie, family as bFamily, hasMacByte as bHasMacByte,
  SAVED_USED, SAVED_INTERIM_FAMILY, SAVED_WINDOW_TOP, SAVED_INTERIM,
} from "./bindings";
import {
  kernelMessagePtr, vxlanLink, fdbEntry, neighEntry, tunnelRoute, sourceRule, tunnelFilter,
  proxyNeighbour, tunnelIfindex, returnTable,
} from "../kernel/vxlan";
import { NETLINK_ROUTE, NETLINK_NETFILTER, ENOENT, NFPROTO_IPV4, NFPROTO_IPV6 } from "../kernel/linux";
import {
  PROTOCOL_SID, FAMILY_IPV4, AUTH_HMAC_SHA256, WRAP_CHACHA20_POLY1305, FIRST_ASSIGNABLE_SPI,
  MSG_TRANSFER_NEGOTIATION_REQUEST, MSG_TRANSFER_REQUEST, MSG_BINDING_UPDATE, MSG_BINDING_ACK, MSG_WAKE_UP, MSG_STOP_TRANSFER,
  EXT_TRANSFERRED_ADDRESS, EXT_TARGET_ADDRESS, EXT_AGENT_ADDRESS, EXT_INTERIM_ADDRESS,
  EXT_LINK_LAYER_ADDRESS, EXT_SESSION_KEY, EXT_ADDRESS_LEASE,
  FLAG_FURTHER_TRANSFER, FLAG_SAME_SUBNET, FLAG_REVERSE_TUNNEL, FLAG_REVERSE_RETURN, FLAG_PER_FLOW,
  CODE_ACCEPTED, CODE_ADMINISTRATIVELY_PROHIBITED, CODE_INSUFFICIENT_RESOURCES, CODE_POORLY_FORMED_REQUEST,
  CODE_ADDRESS_NOT_ALLOWED, CODE_TRANSFER_NOT_PERMITTED, CODE_UNKNOWN_BINDING, CODE_SESSION_KEY_REJECTED,
  CODE_ADDRESS_IN_USE,
  ERR_BUSY, ERR_CONFIG, ERR_REFUSED, ERR_TIMED_OUT, ERR_KERNEL, ERR_NOT_SEEDED, codeName, errorName,
  ERR_RECORD_TRUNCATED, ERR_RECORD_VERSION, ERR_RECORD_TRAILING_BYTES, ERR_BAD_FAMILY, ERR_BAD_VALUE, ERR_UNKNOWN_PEER,
  ERR_BUFFER_TOO_SMALL,
} from "../generated/registry";

/** Size of the block sid_session writes (docs/ABI.md "SID engine"). */
export const SESSION_INFO_SIZE: i32 = 64;


/** Gratuitous ARP frames when an address is claimed, 1 s apart (8.14). */
const GARP_COUNT: i32 = 3;
const GARP_GAP_MS: f64 = 1000;
/** The target renews at this fraction of the granted lifetime (8.3). */
const RENEW_FRACTION: f64 = 2.0 / 3.0;
/** After a renewal got no answer, the next try comes this much later (while the binding lasts). */
const RENEW_RETRY_MS: f64 = 1000;
/** Binding Updates kept for an address the agent has no binding for yet (8.12): at most this many, this long. */
const PARK_MAX: i32 = 64;
const PARK_MS: f64 = 10000;
/** The original node gives up a return (8.6) whose record or Wake-up has not come within this time. */
const RETURN_WAIT_MS: f64 = 10000;
/**
 * A return (8.6), make before break: the agent holds the binding (RETURNING) until the
 * node acknowledges the Wake-up, at most this long (the Wake-up's retransmissions last 10 s).
 */
const RETURN_HOLD_MS: f64 = 12000;
/** A return: the old target keeps its tunnel, session key and reply cache this long (RETIRED). */
const RETIRE_MS: f64 = 10000;
/** A return: the agent's tunnel to the old target outlives the binding this long (what the old target still sends). */
const TUNNEL_LINGER_MS: f64 = 2000;
/**
 * 8.4: the agent's Wake-up hold is released in steps, at most WAKE_DRAIN_STEP packets every WAKE_DRAIN_INTERVAL_MS,
 * not in one verdict: released at once, a few hundred held packets (3.5 s of 10 ms pings) reach the node and its
 * answers the correspondent in one burst, and the correspondent's receiving socket dropped 75-152 of them; released
 * in steps, none (docs/benchmarks.md, "The agent's Wake-up hold released in steps").
 */
const WAKE_DRAIN_STEP: u32 = 16;
const WAKE_DRAIN_INTERVAL_MS: f64 = 4;
/** The binding record's flags byte: a bit of the agent's own (never on the wire): the binding is RETURNING. */
const B_RETURNING: u8 = 0x40;
const ETHERNET: u32 = 1;

/** The agent's saved bindings (8.17): "HSB" and version 1; header and entry sizes. */
const SAVE_MAGIC: u32 = 0x01425348;
const SAVE_HEADER: i32 = 8;
/** The header: the magic (u32), then the count of entries (u32). */
const SAVE_COUNT: usize = 4;
const SAVE_ENTRY: i32 = 128;

/** A further transfer's old tunnel key, kept until the new tunnel stands (make before break). */
const OLD_KEY = memory.data(32, 8);
const WRAP_BUF = memory.data(96, 8);
const ADDR_A = memory.data(16, 8);
const ADDR_B = memory.data(16, 8);
const NFT_CAP: i32 = 4096;
const NFT_BUF = memory.data(NFT_CAP);
const FRAME_BUF = memory.data(NA_FRAME);
const nftText = new TextOut();
const ZERO16 = memory.data(16, 8);
/** The node's link-layer address of a binding that ends, kept past its record's removal for the Wake-up. */
const WAKE_MAC = memory.data(8, 8);


function randomSpi(): u32 {
  drbg.fill(KEY_BUF, 4);
  const v = load<u32>(KEY_BUF);
  return v < FIRST_ASSIGNABLE_SPI ? v + FIRST_ASSIGNABLE_SPI : v;
}

/** The Transferred Address of the message being handled, read in place for the table's lookup (8.3). */
const LOOKUP = new Address();
/** Scratch for a binding key derived on the way (sessionInfo). */
const SUB_BUF = memory.data(32, 8);
/** The agent's Binding Ack at the binding (8.12): its random sequence number and Replay Protect ID. */
const NOTICE_BUF = memory.data(12, 8);

/** Writes the Session Key extension: key wrapped under `sa`'s raw key for the message begun in enc. */
function writeSessionKey(enc: Encoder, sa: SecurityAssociation, sessionSpi: u32, key: usize): void {
  const n = keyWrapRandom(enc.ptr, WRAP_CHACHA20_POLY1305, sa.spi, sessionSpi, changetype<usize>(sa.raw), sa.raw.length, key, WRAP_BUF);
  if (n < 0) {
    if (!enc.err) enc.err = -n;
    return;
  }
  enc.sessionKey(WRAP_CHACHA20_POLY1305, sa.spi, sessionSpi, WRAP_BUF);
}

// ---- the transferring node ---------------------------------------------------------

/** A transfer of one of this node's addresses (or, 8.6, of one it holds as a target). */
class Transfer extends Procedure {
  sid: Sid;
  address: Address;
  target: Peer;
  /** null: same subnet (S). For a further transfer, the session peer of the agent. */
  agent: Peer | null;
  /** The Hosted this node holds the address as, for a further transfer (8.6). */
  hosted: Hosted | null = null;
  /**
   * The Transfer Request waits for the delivered record (8.2, 8.12): a further
   * transfer (8.6), and a transfer with UDP flows (sid_udp_pass): the agent's
   * claim must not divert their datagrams to the target before its sockets
   * for them are bound (a datagram is never retransmitted).
   */
  recordFirst: bool = false;
  /**
   * 8.12, the 1-RTT order: the stop rule and `state-requested` came at the call
   * (the record leaves with the negotiation); a negotiation that fails removes
   * the stop rule again (the host restores the socket from the record).
   */
  early: bool = false;
  flags: u8;
  lifetime: u32;
  state: u8 = NEGOTIATING;
  key: StaticArray<u8> = new StaticArray<u8>(32);
  spi: u32 = 0;
  targetAddress: Address = new Address();
  startedAt: f64;
  /** The request under way: 16, 18 or 24. */
  step: u8 = 0;
  /** Per-flow mode (8.16): the flows that move, the node's Interim Address; null: the whole address. */
  flows: Array<Flow> | null = null;
  interim: Address | null = null;
  /** Per-flow mode: the Stop Transfer under way names this transfer's flows (false: every flow set). */
  stopsOne: bool = false;
  /** Per-flow mode: this flow set was stopped; the transfer stays until the address comes back. */
  stopped: bool = false;
  /**
   * 8.2, 8.12: the Transfer Request goes out with the negotiation, not after the record.
   * The record's outcome (0: under way, 1: delivered, 2: failed) and the
   * agent's (0: under way, 1: granted `granted` s, 2: refused or no answer);
   * the transfer completes when both are in.
   */
  delivery: u8 = 0;
  request: u8 = 0;
  granted: u32 = 0;
  /** The agent's refusal (0: no answer, or agentEnded). */
  refusedCode: u32 = 0;
  /** The agent ended the binding it granted (its Wake-up) before the transfer completed. */
  agentEnded: bool = false;
  /** The record failed after the agent granted the binding: the Stop Transfer under way undoes it (no rule of the node's is left). */
  abandoned: bool = false;
  /** The Transfer Request sent with the negotiation (8.2), its own procedure; null: sent after it, or none. */
  ask: AgentAsk | null = null;
  /** Per-flow mode, a return (8.16): the hosting that takes this flow set back; its Stop Transfer Reply releases it. */
  returnTo: Hosted | null = null;

  constructor(sid: Sid, a: Address, target: Peer, agent: Peer | null, flags: u8, lifetime: u32, now: f64) {
    super();
    this.sid = sid;
    this.address = a.copy();
    this.target = target;
    this.agent = agent;
    this.flags = flags;
    this.lifetime = lifetime;
    this.startedAt = now;
    drbg.fill(changetype<usize>(this.key), 32);
    this.spi = randomSpi();
  }

  get sameSubnet(): bool { return this.agent == null; }

  /** The stop rule while the state moves (8.12): the address's, or in per-flow mode the flows' (8.16). */
  stopRule(add: bool): void {
    const flows = this.flows;
    // A target holds the address for its flow set alone (8.16): its return stops the whole address, as a hosting ends.
    if (flows && !this.hosted) this.sid.flows.applyStopRule(add, this.spi, flows);
    else this.sid.applyStopRule(add, this.address, add && (this.handsOn || this.handsBack) ? this : null);
  }

  /**
   * The hold at the old target of a same-subnet return (8.7): its stop rule
   * queues the address's packets (the node's hold chains, 8.12) until the
   * node's Wake-up Ack (the node has announced the address and resumed the
   * socket), then copies them on to the node. The only further move of a
   * same-subnet hosting is its return.
   */
  get handsBack(): bool {
    const h = this.hosted;
    // The copies go to the node's control address: not the address itself (local here, they would stay here).
    return h != null && this.agent == null && h.sameSubnet && this.target == h.node && !h.node.control.equals(this.address);
  }

  /**
   * The hold at the node (8.12): a whole-address transfer through an agent,
   * from this node's own address (not a further transfer: packets for an
   * address held as a target come through the old tunnel and meet no router's
   * stale neighbour entry).
   */
  get handsOn(): bool {
    return this.flows == null && this.hosted == null && this.agent != null;
  }

  /** Per-flow mode: the Interim Address and the Flow extensions (8.16). */
  private encodeFlows(enc: Encoder, interim: bool): void {
    const flows = this.flows;
    if (!flows) return;
    let i = this.interim;
    const h = this.hosted;
    if (!i && h) i = h.interim;
    if (interim && i) {
      i.store(ADDR_B);
      enc.address(EXT_INTERIM_ADDRESS, i.family, ADDR_B);
    }
    for (let k = 0; k < flows.length; k++) flows[k].write(enc);
  }

  encodeBody(node: Node, enc: Encoder): void {
    this.encodeStep(enc, this.step);
  }

  encodeStep(enc: Encoder, step: u8): void {
    this.address.store(ADDR_A);
    if (step == MSG_TRANSFER_NEGOTIATION_REQUEST) {
      enc.address(EXT_TRANSFERRED_ADDRESS, this.address.family, ADDR_A);
      const agent = this.agent;
      if (agent) {
        agent.control.store(ADDR_B);
        enc.address(EXT_AGENT_ADDRESS, agent.control.family, ADDR_B);
      } else {
        enc.linkLayer(ETHERNET, changetype<usize>(this.sid.mac), 6);
      }
      enc.lifetime(this.lifetime);
      this.encodeFlows(enc, true);
      // 8.18: a session address's lease goes with it (4.10).
      if (!this.flows) this.sid.addresses.writeLease(enc, this.address, this.startedAt);
      writeSessionKey(enc, this.target.sendSa()!, this.spi, changetype<usize>(this.key));
    } else if (step == MSG_TRANSFER_REQUEST) {
      enc.address(EXT_TRANSFERRED_ADDRESS, this.address.family, ADDR_A);
      this.targetAddress.store(ADDR_B);
      enc.address(EXT_TARGET_ADDRESS, this.targetAddress.family, ADDR_B);
      // The link-layer address the Wake-up goes to: the original node's (a further transfer passes it on).
      const h = this.hosted;
      if (!h) enc.linkLayer(ETHERNET, changetype<usize>(this.sid.mac), 6);
      enc.lifetime(this.lifetime);
      this.encodeFlows(enc, true);
      writeSessionKey(enc, this.agent!.sendSa()!, this.spi, changetype<usize>(this.key));
    } else {
      enc.address(EXT_TRANSFERRED_ADDRESS, this.address.family, ADDR_A);
      if (this.stopsOne) this.encodeFlows(enc, false);
    }
  }

  onReply(node: Node, d: Decoded, code: u32, now: f64): void {
    const sid = this.sid;
    if (this.step == MSG_TRANSFER_NEGOTIATION_REQUEST) {
      if (code != CODE_ACCEPTED) {
        this.unstop();
        sid.refused(ROLE_NODE, this.address, code, 0, "the target refused the negotiation: check its sidTarget and sidAllowReverse options and the SA", now);
        this.abandon(node, now);
        return;
      }
      const named = d.has(EXT_TARGET_ADDRESS) ? addressOf(d, EXT_TARGET_ADDRESS) : node.from.copy();
      if (this.ask) {
        // 8.2: the Transfer Request went with the negotiation, naming the target's control address.
        if (!named.equals(this.targetAddress)) {
          this.unstop();
          sid.refused(ROLE_NODE, this.address, 0, ERR_REFUSED, "the target named a Target Address other than its control address, which the Transfer Request (sent with the negotiation) named", now);
          this.abandon(node, now);
          return;
        }
        if (this.request == 2) {
          // The agent refused (or did not answer) before the target accepted: nothing moved here
          // (with the record sent at the call: the stop rule goes, the host restores the socket).
          this.unstop();
          sid.agentRefused(this, now);
          sid.forgetTransfer(this);
          return;
        }
      } else this.targetAddress = named;
      this.state = DELIVERING;
      if (this.early) {
        // 8.12, the 1-RTT order: stopped and dumped at the call; the record may be delivered already.
        const e = sid.event("negotiated", ROLE_NODE, this.address, now);
        e.key("target");
        this.targetAddress.json(e);
        node.emit(endEvent());
        if (this.delivery != 0) {
          if (this.request == 0 && this.delivery == 1) this.state = REQUESTING;
          sid.transferStep(this, now);
        }
        return;
      }
      this.stopRule(true);
      const e = sid.event("negotiated", ROLE_NODE, this.address, now);
      e.key("target");
      this.targetAddress.json(e);
      node.emit(endEvent());
      this.requestState(node, now);
      return;
    }
    if (this.step == MSG_TRANSFER_REQUEST) {
      this.onAgentReply(node, d, code, now);
      return;
    }
    if (this.abandoned) {
      // The Stop Transfer Reply of a transfer whose record failed: the address is this node's again (8.2).
      sid.announce(this.address, now);
      sid.forgetTransfer(this);
      return;
    }
    // Stop Transfer Reply: accepted, or the binding was already gone (141).
    if (this.flows) {
      // 8.16: one flow set ended (a Wake-up follows if it was the last), or every one of the address.
      const e = sid.event("stopped", ROLE_NODE, this.address, now);
      e.key("code");
      e.num(code);
      e.key("spi");
      e.num(this.stopsOne ? this.spi : 0);
      node.emit(endEvent());
      if (this.stopsOne) {
        this.stopsOne = false;
        this.stopped = true;
        this.stopRule(false);
        // 8.16, a per-flow return: the flow set is ended at the agent, its flows come here: the socket resumes.
        const back = this.returnTo;
        if (back) {
          this.returnTo = null;
          sid.finishFlowReturn(back, now);
        }
      } else sid.reclaimFlows(this.address, now);
      return;
    }
    sid.reclaim(this.address, now);
    // 8.18: the node took its session address back on purpose: it holds the lease again.
    sid.addresses.cameBack(this.address, true, now);
    const e = sid.event("stopped", ROLE_NODE, this.address, now);
    e.key("code");
    e.num(code);
    node.emit(endEvent());
    sid.forgetTransfer(this);
  }

  /** The `state-requested` event (the host dumps the socket and sends the record), then the hold at the node's queue rule. */
  requestState(node: Node, now: f64): void {
    const e = this.sid.event("state-requested", ROLE_NODE, this.address, now);
    e.key("target");
    this.targetAddress.json(e);
    e.key("port");
    e.num(this.target.controlPort);
    e.key("spi");
    e.num(this.spi);
    node.emit(endEvent());
    // 8.12, the hold at the node: its queue rule after the event that starts the dump.
    if (this.handsOn || this.handsBack) this.sid.nodeQueueRule(this.address);
  }

  /**
   * 8.12, the 1-RTT order: at the call, with the Transfer Request sent, the
   * node stops its socket (stop rule, and the hold at the node) and asks its
   * host for the record, which leaves for the target beside the negotiation.
   */
  stopAtCall(node: Node, now: f64): void {
    this.early = true;
    this.stopRule(true);
    this.requestState(node, now);
  }

  /** The negotiation failed after the stop at the call: the stop rule goes (before the refusal, so the host restores into a free path). */
  unstop(): void {
    if (!this.early) return;
    this.early = false;
    this.stopRule(false);
  }

  transferred(node: Node, lifetime: u32, now: f64): void {
    const sid = this.sid;
    this.state = TRANSFERRED;
    const h = this.hosted;
    if (h) {
      // A further transfer (8.6): this node held the address only as a target. Lifetime 0: a return.
      // A return retires the hosting (8.6): its tunnel, key and reply cache stay a while.
      // On the same subnet (8.7) this node first stops answering for the address, then wakes the node.
      if (h.sameSubnet) sid.giveBack(h, now);
      if (lifetime == 0) sid.retireHosted(h, now);
      else sid.endHosted(h, "transferred-further", 0, now);
    } else if (!this.flows || sid.firstFlowTransfer(this)) {
      // 8.16: a later flow set of the same address only adds flows; the ARP rules are there.
      sid.applyArpRule(true, this.address, 0, false);
      const i = this.interim;
      if (i) sid.flows.applyArpRewrite(true, this.address, i);
    }
    // 8.12, the hold at the node: the target has the UDP flows' sockets now; their datagrams go on to it too.
    if (this.handsOn && sid.udpPassOf(this.address).length) sid.handOnPassed(this);
    // 8.18: a session address's lease goes with it; the new holder keeps it alive and releases it.
    if (!this.flows) {
      const l = sid.addresses.byAddress(this.address);
      if (l) sid.addresses.handOff(l, now);
    }
    const e = sid.event("transferred", ROLE_NODE, this.address, now);
    e.key("lifetime");
    e.num(lifetime);
    e.key("elapsedMs");
    e.num(<u64>Math.round(now - this.startedAt));
    if (this.flows) {
      e.key("spi");
      e.num(this.spi);
    }
    node.emit(endEvent());
    if (h) sid.forgetTransfer(this);
  }

  onGiveUp(node: Node, now: f64): void {
    const sid = this.sid;
    if (this.abandoned) {
      sid.forgetTransfer(this);
      return;
    }
    if (this.step == MSG_TRANSFER_REQUEST) {
      this.onAgentGiveUp(node, now);
      return;
    }
    if (this.step == MSG_TRANSFER_NEGOTIATION_REQUEST) this.unstop();
    sid.refused(ROLE_NODE, this.address, 0, ERR_TIMED_OUT, "no answer: check that the peer runs SID and that its control port is reachable", now);
    if (this.step == MSG_STOP_TRANSFER) return; // still transferred; the application may try again
    // The negotiation: a Transfer Request sent with it is undone.
    this.abandon(node, now);
  }

  /** The agent's Transfer Reply (8.2): granted or refused; the transfer goes on once the record's outcome is in. */
  onAgentReply(node: Node, d: Decoded, code: u32, now: f64): void {
    const sid = this.sid;
    if (this.abandoned) {
      // The negotiation or the record failed meanwhile: a granted binding is undone at once.
      if (code != CODE_ACCEPTED || !this.sendStop(node, now)) sid.forgetTransfer(this);
      return;
    }
    this.request = code == CODE_ACCEPTED ? 1 : 2;
    this.granted = code == CODE_ACCEPTED ? lifetimeOf(d, 0) : 0;
    this.refusedCode = code;
    // 8.12, the hold at the node: stopped at the call, what the node held goes on to the agent now.
    if (this.state == NEGOTIATING && this.early && code == CODE_ACCEPTED) sid.handOn(this);
    if (this.state == NEGOTIATING) return; // the target's answer decides (onReply)
    // 8.12, the hold at the node: the agent holds the address now; what the node held goes on to it.
    if (code == CODE_ACCEPTED) sid.handOn(this);
    sid.transferStep(this, now);
  }

  onAgentGiveUp(node: Node, now: f64): void {
    const sid = this.sid;
    if (this.abandoned) {
      sid.forgetTransfer(this);
      return;
    }
    this.request = 2;
    this.refusedCode = 0;
    if (this.state == NEGOTIATING) return;
    sid.transferStep(this, now);
  }

  /**
   * The transfer fails before the record moved (the negotiation refused or
   * unanswered, a wrong Target Address): a binding the agent granted, or may
   * still grant, for the Transfer Request sent with the negotiation is undone
   * with a Stop Transfer; else the transfer is forgotten.
   */
  abandon(node: Node, now: f64): void {
    const sid = this.sid;
    if (!this.ask || this.request == 2) {
      sid.forgetTransfer(this);
      return;
    }
    this.abandoned = true;
    if (this.request == 1 && !this.sendStop(node, now)) sid.forgetTransfer(this);
    // request 0: the Transfer Reply (or its timeout) comes to the abandoned transfer.
  }

  /** Stop Transfer of an abandoned transfer (8.2): for per-flow mode, of its own flows only. */
  sendStop(node: Node, now: f64): bool {
    this.stopsOne = this.flows != null;
    return this.send(node, MSG_STOP_TRANSFER, now);
  }

  /** 8.2: the Transfer Request with the negotiation, as its own request (AgentAsk), naming the target's control address. */
  sendAsk(node: Node, now: f64): bool {
    this.targetAddress = this.target.control.copy();
    const ask = new AgentAsk(this);
    this.ask = ask;
    return this.sendAs(node, MSG_TRANSFER_REQUEST, ask, now);
  }

  send(node: Node, step: u8, now: f64): bool {
    this.step = step;
    return this.sendAs(node, step, this, now);
  }

  private sendAs(node: Node, step: u8, owner: Procedure, now: f64): bool {
    let peer: Peer = this.target;
    let flags: u8 = 0;
    if (step == MSG_TRANSFER_NEGOTIATION_REQUEST) {
      if (this.flags & FLAG_FURTHER_TRANSFER) flags |= FLAG_FURTHER_TRANSFER;
      if (this.sameSubnet) flags |= FLAG_SAME_SUBNET;
      if (this.flags & FLAG_REVERSE_RETURN) flags |= FLAG_REVERSE_RETURN;
      if (this.flows) flags |= FLAG_PER_FLOW;
    } else if (step == MSG_TRANSFER_REQUEST) {
      if (this.flows) flags |= FLAG_PER_FLOW;
      peer = this.agent!;
      if (this.flags & FLAG_FURTHER_TRANSFER) flags |= FLAG_FURTHER_TRANSFER;
      if (this.flags & FLAG_REVERSE_RETURN) flags |= FLAG_REVERSE_TUNNEL;
    } else {
      const agent = this.agent;
      if (agent) peer = agent;
    }
    return node.sendRequest(now, peer, step, flags, owner, peer.control, peer.controlPort, null);
  }
}

/** The Transfer Request a node sends with its negotiation (8.2): its own request, answered to its transfer. */
class AgentAsk extends Procedure {
  t: Transfer;
  constructor(t: Transfer) {
    super();
    this.t = t;
  }
  encodeBody(node: Node, enc: Encoder): void {
    this.t.encodeStep(enc, MSG_TRANSFER_REQUEST);
  }
  onReply(node: Node, d: Decoded, code: u32, now: f64): void {
    this.t.onAgentReply(node, d, code, now);
  }
  onGiveUp(node: Node, now: f64): void {
    this.t.onAgentGiveUp(node, now);
  }
}

// ---- the target ---------------------------------------------------------------------

/** An address this node holds as a target (8.1, 8.3, 8.10). */
class Hosted extends Procedure {
  sid: Sid;
  address: Address;
  /** The stop rule's input chain holds (queues) instead of dropping until the release (sid/hold.ts). */
  holds: bool = false;
  /** The peer that negotiated (the transferring node). */
  node: Peer;
  flags: u8;
  lifetime: u32;
  state: u8 = NEGOTIATED;
  key: StaticArray<u8> = new StaticArray<u8>(32);
  /** The binding key K_b of the session key (8.11): the session SA's and the tunnel's (8.9). */
  bkey: StaticArray<u8> = new StaticArray<u8>(32);
  spi: u32;
  vni: u32 = 0;
  agentAddress: Address = new Address();
  nodeMac: StaticArray<u8> = new StaticArray<u8>(6);
  /** The session peer for the agent and the session SA (from sid_state_received on). */
  agent: SessionPeer | null = null;
  sa: SecurityAssociation | null = null;
  released: bool = false;
  tunnel: bool = false;
  expiresAt: f64 = 0;
  renewAt: f64 = Infinity;
  /** A Binding Update (or, with S, the Wake-up) is outstanding. */
  busy: bool = false;
  /** Per-flow mode (8.16): the flows held here, and which of them have ended (8.13). */
  flows: Array<Flow> | null = null;
  ended: Array<bool> = new Array<bool>();
  /** The lifetime of the Binding Update under way. */
  asked: u32 = 0;
  startedAt: f64;
  /**
   * A return (8.6): this node is the address's original node taking it back;
   * its transfer's stop and ARP rules stand in for the target's actions.
   */
  returning: bool = false;
  /** Per-flow mode (8.16): the node's Interim Address from the negotiation (a return names it again). */
  interim: Address | null = null;
  /** At the node, a per-flow return (8.16): its flow set's transfer, stopped at the agent once the record is in. */
  returnOf: Transfer | null = null;
  /** A same-subnet return (8.7) left this target: its ARP rule is the silent one (input and output chains). */
  givenBack: bool = false;
  /** A return: the agent's Wake-up came (the ARP rule is gone; the stop rule waits for the record). */
  woken: bool = false;
  /** 8.18: the Address Lease the negotiation carried (kind 0: none), and the lease held here once bound. */
  leaseKind: u8 = 0;
  leaseRemaining: u32 = 0;
  leaseState: StaticArray<u8> = new StaticArray<u8>(0);
  lease: Lease | null = null;
  /** A return is given up at this time unless it completed; for a RETIRED hosting, when it ends. */
  returnBy: f64 = Infinity;
  /** The state record is in (sid_state_received): the release waits for it and for the first Binding Ack (8.12). */
  recordIn: bool = false;
  /** Bound by the agent's Binding Ack at the binding (8.12); the first Binding Update's answer is still to come. */
  noticed: bool = false;
  /** renewAt and returnBy in the engine's timer table. */
  renewTimer!: SidTimer;
  returnTimer!: SidTimer;

  constructor(sid: Sid, a: Address, node: Peer, flags: u8, lifetime: u32, spi: u32, now: f64) {
    super();
    this.sid = sid;
    this.address = a.copy();
    this.node = node;
    this.flags = flags;
    this.lifetime = lifetime;
    this.spi = spi;
    this.startedAt = now;
    this.renewTimer = new SidTimer(sid, T_RENEW, this);
    this.returnTimer = new SidTimer(sid, T_RETURN, this);
  }

  setRenewAt(t: f64): void {
    this.renewAt = t;
    this.sid.node.timers.arm(this.renewTimer, t);
  }

  setReturnBy(t: f64): void {
    this.returnBy = t;
    this.sid.node.timers.arm(this.returnTimer, t);
  }

  get sameSubnet(): bool { return (this.flags & FLAG_SAME_SUBNET) != 0; }

  encodeBody(node: Node, enc: Encoder): void {
    this.address.store(ADDR_A);
    enc.address(EXT_TRANSFERRED_ADDRESS, this.address.family, ADDR_A);
    if (this.sameSubnet) return; // the Wake-up
    enc.markSealed();
    enc.lifetime(this.asked);
  }

  register(node: Node, lifetime: u32, now: f64): void {
    this.asked = lifetime;
    this.busy = true;
    const agent = this.agent!;
    if (!node.sendRequest(now, agent, MSG_BINDING_UPDATE, 0, this, agent.control, agent.controlPort, null)) {
      this.busy = false;
      this.sid.endHosted(this, "send-failed", ERR_CONFIG, now);
    }
  }

  onReply(node: Node, d: Decoded, code: u32, now: f64): void {
    this.busy = false;
    const sid = this.sid;
    if (this.sameSubnet) {
      // Wake-up Ack: the node has its address back.
      sid.endHosted(this, "woken", 0, now);
      return;
    }
    if (code != CODE_ACCEPTED) {
      sid.refused(ROLE_TARGET, this.address, code, 0, "the agent refused the Binding Update: the binding is gone (stopped, expired or replaced)", now);
      sid.endHosted(this, "refused", 0, now);
      return;
    }
    if (this.state == DEREGISTERING) {
      sid.endHosted(this, "deregistered", 0, now);
      return;
    }
    const granted = lifetimeOf(d, 0);
    const first = this.state == REGISTERING;
    if (first) {
      this.bound(node, granted, now);
      return;
    }
    this.state = BOUND;
    this.expiresAt = now + <f64>granted * 1000;
    this.setRenewAt(now + <f64>granted * 1000 * RENEW_FRACTION);
    if (this.noticed) {
      // The answer to the first Binding Update, after the agent's Ack at the binding (8.12): no event of its own.
      this.noticed = false;
    } else {
      const e = sid.event("renewed", ROLE_TARGET, this.address, now);
      e.key("lifetime");
      e.num(granted);
      node.emit(endEvent());
    }
  }

  /**
   * The first accepting Binding Ack: the answer to the first Binding Update,
   * or the agent's own at the binding (8.12, `noticed`). Released now if the
   * record is in too.
   */
  bound(node: Node, granted: u32, now: f64, noticed: bool = false): void {
    const sid = this.sid;
    this.state = BOUND;
    this.noticed = noticed;
    this.expiresAt = now + <f64>granted * 1000;
    this.setRenewAt(now + <f64>granted * 1000 * RENEW_FRACTION);
    // 8.12: the release needs the record too (it may come after the Binding Ack).
    if (this.recordIn) sid.release(this, now);
    sid.holdLease(this, now);
    const e = sid.event("bound", ROLE_TARGET, this.address, now);
    e.key("lifetime");
    e.num(granted);
    if (noticed) {
      e.key("notice");
      e.boolean(true);
    }
    node.emit(endEvent());
  }

  onGiveUp(node: Node, now: f64): void {
    this.busy = false;
    const sid = this.sid;
    if (this.sameSubnet || this.state != BOUND) {
      sid.endHosted(this, "no-answer", ERR_TIMED_OUT, now);
      return;
    }
    // A renewal went unanswered: try again while the binding lasts.
    if (now + RENEW_RETRY_MS < this.expiresAt) this.setRenewAt(now + RENEW_RETRY_MS);
    else sid.endHosted(this, "expired", ERR_TIMED_OUT, now);
  }
}

// ---- the agent's Wake-up (and, with S, the target's) ----------------------------------

class Wakeup extends Procedure {
  sid: Sid;
  address: Address;
  role: u8;
  /** A return's Wake-up (8.6): its Ack (or its give-up) releases the RETURNING binding. */
  returning: bool = false;
  /** The Wake-up after an address's last flow set (8.16): its Ack (or its give-up) removes the interim route to this Interim Address. */
  interim: Address | null = null;
  /** A same-subnet return's Wake-up (8.7, the old target's): at its Ack what this node held goes on to this address, the node's. */
  handBackTo: Address | null = null;
  /** The agent holds the address's packets until this Wake-up's Ack or give-up (8.4, whole-address mode). */
  holds: bool = false;
  constructor(sid: Sid, a: Address, role: u8) {
    super();
    this.sid = sid;
    this.address = a.copy();
    this.role = role;
  }
  encodeBody(node: Node, enc: Encoder): void {
    this.address.store(ADDR_A);
    enc.address(EXT_TRANSFERRED_ADDRESS, this.address.family, ADDR_A);
  }
  onReply(node: Node, d: Decoded, code: u32, now: f64): void {
    const e = this.sid.event("woken", this.role, this.address, now);
    e.key("code");
    e.num(code);
    node.emit(endEvent());
    // Only the Ack the engine matched to this Wake-up (the node's SA, its sequence and Replay Protect ID) gets here.
    if (this.returning) this.sid.returnAcked(this, "returned", now);
    const interim = this.interim;
    if (interim) this.sid.flows.woken(this.address, interim);
    const to = this.handBackTo;
    if (to) this.sid.handBack(this.address, to);
    if (this.holds) this.sid.endWakeHold(this.address, now);
  }
  onGiveUp(node: Node, now: f64): void {
    this.sid.refused(this.role, this.address, 0, ERR_TIMED_OUT, "the node did not acknowledge the Wake-up: it may be gone; its address is free again", now);
    if (this.returning) this.sid.returnAcked(this, "return-timed-out", now);
    const interim = this.interim;
    if (interim) this.sid.flows.woken(this.address, interim);
    if (this.holds) this.sid.endWakeHold(this.address, now);
  }
}


/** SID's timers in the engine's table (docs/ENGINE.md): what each fires. */
const T_EXPIRY: i32 = 0;
const T_FLOWS: i32 = 1;
const T_ANNOUNCE: i32 = 2;
const T_RENEW: i32 = 3;
const T_RETURN: i32 = 4;
const T_CHAINS: i32 = 5;
const T_DRAIN: i32 = 6;

class SidTimer extends Timer {
  sid: Sid;
  kind: i32;
  hosted: Hosted | null;
  constructor(sid: Sid, kind: i32, hosted: Hosted | null = null) {
    super();
    this.sid = sid;
    this.kind = kind;
    this.hosted = hosted;
  }
  fire(now: f64): void {
    const sid = this.sid;
    const k = this.kind;
    if (k == T_EXPIRY) sid.expireBindings(now);
    else if (k == T_FLOWS) sid.expireFlows(now);
    else if (k == T_ANNOUNCE) sid.sendAnnouncements(now);
    else if (k == T_RENEW) sid.renewDue(this.hosted!, now);
    else if (k == T_CHAINS) sid.flushPending();
    else if (k == T_DRAIN) sid.drainWake(now, false);
    else sid.returnDue(this.hosted!, now);
  }
}

/** A returned binding's tunnel at the agent (8.6), kept TUNNEL_LINGER_MS past the release. */
class LingeringTunnel extends Timer {
  sid: Sid;
  key: StaticArray<u8> = new StaticArray<u8>(32);
  target: Address;
  address: Address;
  reverse: bool;
  vni: u32;
  constructor(sid: Sid, key: usize, target: Address, a: Address, reverse: bool, vni: u32) {
    super();
    this.sid = sid;
    this.target = target.copy();
    this.address = a.copy();
    this.reverse = reverse;
    this.vni = vni;
    memory.copy(changetype<usize>(this.key), key, 32);
  }
  fire(now: f64): void {
    this.sid.endLinger(this);
  }
}

/** SID's emptied chains of an address, deleted once no hold stands (sid/hold.ts). */
class PendingChains {
  key: u64;
  address: Address;
  handOn: bool;
  queued: bool;
  /** The target's stop rule with its hold chain. */
  target: bool;
  /** The agent's Wake-up hold (8.4): chains `wk<hex>` and `wq<hex>` only. */
  wake: bool = false;
  constructor(key: u64, a: Address, handOn: bool, queued: bool, target: bool) {
    this.key = key;
    this.address = a.copy();
    this.handOn = handOn;
    this.queued = queued;
    this.target = target;
  }
}

/** An agent's Wake-up hold whose queued packets are being released (8.4): what goes once they all are. */
class WakeDrain {
  key: u64;
  address: Address;
  /** The ended binding's tunnel, kept for its route until the hold ended (Sid.wakeTunnels). */
  tunnel: LingeringTunnel | null;
  constructor(key: u64, a: Address, tunnel: LingeringTunnel | null) {
    this.key = key;
    this.address = a.copy();
    this.tunnel = tunnel;
  }
}

/** Gratuitous ARP frames still to send for a claimed address. */
class Announcement {
  address: Address;
  left: i32 = GARP_COUNT;
  next: f64;
  constructor(a: Address, now: f64) {
    this.address = a.copy();
    this.next = now;
  }
}

/** A Binding Update for an address that has no binding yet (8.12): verified when the Transfer Request brings its key. */
class Parked {
  address: Address;
  bytes: StaticArray<u8>;
  from: Address;
  port: u32;
  at: f64;
  constructor(a: Address, p: usize, n: i32, from: Address, port: u32, now: f64) {
    this.address = a.copy();
    this.bytes = bytesOf(p, n);
    this.from = from.copy();
    this.port = port;
    this.at = now;
  }
}

export class Sid extends SidBase {
  mac: StaticArray<u8> = new StaticArray<u8>(6);
  address: Address = new Address();
  transfers: Array<Transfer> = new Array<Transfer>();
  hosted: Array<Hosted> = new Array<Hosted>();
  private table: BindingTable | null = null;
  /** VNIs in use by bindings (8.9: a collision is refused with 130). */
  /** Interim Addresses of the bindings that have one (rare; kept out of the compact table). */
  private interims: Map<u64, Address> = new Map<u64, Address>();
  private announcements: Array<Announcement> = new Array<Announcement>();
  private parked: Array<Parked> = new Array<Parked>();
  /** Tunnels of returned bindings that linger (8.6). */
  private lingering: Array<LingeringTunnel> = new Array<LingeringTunnel>();
  /** A return's Wake-up under way per RETURNING binding (8.6), by the address's key. */
  private returnWakeups: Map<u64, Wakeup> = new Map<u64, Wakeup>();
  /** Bindings per target cookie: a target's session peer goes with its last binding. */
  private bindingsOf: Map<u64, i32> = new Map<u64, i32>();
  /** A parked Binding Update is being handled again (it is not parked twice). */
  private reinjecting: bool = false;
  /**
   * The session SA of the binding a message names (8.3), keyed again in place for each
   * message: nothing is allocated per renewal. The engine keeps no reference to it past the
   * message (the peer it names is set again each time); a parked message handled again
   * inside another's handling gets an SA of its own.
   */
  private bindingSa: SecurityAssociation = sessionSa(0, KEY_BUF, SEAL_UP, SEAL_DOWN);
  /** The record bindingSa was last keyed from (0: none): the Binding Update's handler takes it instead of a second lookup. */
  private bindingSaRecord: usize = 0;

  /** Per-flow mode (8.16). */
  flows: SidFlows = new SidFlows();
  /** At the earliest of the bindings' expiries (the wheel's, which may fire early: popDue makes it exact), of the flow sets', of the announcements. */
  private expiryTimer!: SidTimer;
  private flowsTimer!: SidTimer;
  private announceTimer!: SidTimer;
  /** The chains a release emptied are deleted at this timer, after the drain that handed the socket on (8.12). */
  private chainsTimer!: SidTimer;
  private drainTimer!: SidTimer;

  /** Session-specific addresses (8.18): the generators and the leases this node holds. */
  addresses!: AddressRegistry;
  staticPool: StaticPool = new StaticPool();
  ipv6: Ipv6Generator = new Ipv6Generator();

  constructor(node: Node) {
    super(node);
    this.expiryTimer = new SidTimer(this, T_EXPIRY);
    this.flowsTimer = new SidTimer(this, T_FLOWS);
    this.announceTimer = new SidTimer(this, T_ANNOUNCE);
    this.chainsTimer = new SidTimer(this, T_CHAINS);
    this.drainTimer = new SidTimer(this, T_DRAIN);
    this.flows.sid = this;
    this.addresses = new AddressRegistry(node, new HomeLinkAliases(this));
    this.addresses.add(this.staticPool);
    this.addresses.add(this.ipv6);
    node.serve(PROTOCOL_SID, this);
  }

  setLink(ifindex: u32, mac: usize, a: Address): void {
    this.ifindex = ifindex;
    memory.copy(changetype<usize>(this.mac), mac, 6);
    this.address.set(a);
  }

  /** The agent's binding table, made at the first use with the sidBindings option. */
  bindings(): BindingTable {
    let t = this.table;
    if (!t) {
      t = new BindingTable(this.node.options.sidBindings);
      this.table = t;
      this.vnis.adopt(t.vniBits);
    }
    return t;
  }

  // ---- outputs ---------------------------------------------------------------------

  event(state: string, role: u8, a: Address, now: f64): TextOut {
    const e = beginEvent("sid", now);
    e.key("state");
    e.str(state);
    e.key("role");
    e.str(role == ROLE_NODE ? "node" : role == ROLE_TARGET ? "target" : "agent");
    e.key("address");
    a.json(e);
    return e;
  }

  refused(role: u8, a: Address, code: u32, err: i32, message: string, now: f64): void {
    const e = this.event("refused", role, a, now);
    if (code) {
      e.key("code");
      e.num(code);
      e.key("reason");
      e.str(codeName(code));
    }
    if (err) {
      e.key("error");
      e.str(errorName(err));
    }
    e.key("message");
    e.str(message);
    this.node.emit(endEvent());
  }

  netlink(n: i32): void {
    if (n > 0) this.node.netlinkAction(NETLINK_ROUTE, bytesOf(kernelMessagePtr(), n), this.actionOwner);
  }

  private nftBegin(): TextOut {
    nftText.reset(NFT_BUF, NFT_CAP);
    return nftText;
  }
  private nftEnd(): void {
    if (!nftText.overflow && nftText.pos > 0) this.node.nftAction(bytesOf(NFT_BUF, nftText.pos), this.actionOwner);
  }

  applyStopRule(add: bool, a: Address, t: Transfer | null = null): void {
    const k = a.key() ^ (<u64>a.family << 56);
    const state = this.handOns.has(k) ? this.handOns.get(k) : <u8>0;
    if (add) this.unpend(k);
    if (!add && (state != 0 || SidHold.any())) {
      // The hold at the node ends first (its packets go back through the emptied hand-on chain).
      if (state == 1) this.endNodeHold(a, null);
      const queued = this.handOnQueued.has(k);
      this.handOns.delete(k);
      this.handOnQueued.delete(k);
      const out = this.nftBegin();
      if (SidHold.any()) {
        // A base chain's removal flushes every queue (sid/hold.ts): emptied now, deleted once no hold stands.
        flushChains(out, a, true, false, state != 0);
        this.pending.push(new PendingChains(k, a, state != 0, queued, false));
      } else {
        stopRule(out, false, a, this.node.options.controlPort);
        if (state != 0) forwardRule(out, false, a, 0, null, new Array<Flow>(), false, queued);
      }
      this.markStopped(out, false, a);
      this.nftEnd();
      this.flushPending();
      return;
    }
    const out = this.nftBegin();
    stopRule(out, add, a, this.node.options.controlPort);
    this.markStopped(out, add, a);
    const agent = t ? t.agent : null;
    // A same-subnet return's target (8.7, t.handsBack) queues until the node's Wake-up Ack, whatever came before.
    const holds = t != null && (agent == null || t.request != 1);
    if (t) {
      // The hold at the node (8.12): the hand-on chain in the same batch, queueing until the agent (or, for a
      // same-subnet return, the node) holds the address.
      forwardRule(out, true, a, this.node.options.controlPort, holds ? null : agent!.control, this.udpPassOf(a));
      this.handOns.set(k, holds ? 1 : 2);
    }
    this.nftEnd();
    if (holds) {
      this.handOnQueued.add(k);
      SidHold.nodeHolding++;
    }
  }

  /**
   * The node's queue rule in the hand-on's queue chain (and the queue bound,
   * once): after the stop rule and the `state-requested` event, off the path
   * to the dump; until it stands, the queue chain is empty and the stop rule
   * drops, as without the hold.
   */
  nodeQueueRule(a: Address): void {
    const k = a.key() ^ (<u64>a.family << 56);
    if (!this.handOns.has(k) || this.handOns.get(k) != 1) return;
    const node = this.node;
    if (!SidHold.nodeBound) {
      SidHold.nodeBound = true;
      const c = queueConfig(SidHold.nodeQueue);
      node.netlinkAction(NETLINK_NETFILTER, bytesOf(nfqueueBuffer(), c), null);
    }
    const r = queueRuleIn(SidHold.nodeQueue, "hovsid", nodeQueueChainName(a), false, a.family == FAMILY_IPV4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    node.netlinkAction(NETLINK_NETFILTER, bytesOf(nfqueueBuffer(), r), null);
  }

  /** 8.12, the hold at the node: the node's hand-on chain per address (1: queueing, 2: handing on to the agent, 3: emptied). */
  private handOns: Map<u64, u8> = new Map<u64, u8>();
  /** Addresses whose hand-on chain has its queue chain. */
  private handOnQueued: Set<u64> = new Set<u64>();
  /** Chains emptied but not deleted while a hold stands (sid/hold.ts). */
  private pending: Array<PendingChains> = new Array<PendingChains>();

  /** The agent holds t's address: the hand-on chain copies to it, and what the node's queue held goes back through it. */
  handOn(t: Transfer): void {
    const a = t.address;
    const k = a.key() ^ (<u64>a.family << 56);
    if (!this.handOns.has(k) || this.handOns.get(k) != 1) return;
    this.endNodeHold(a, t.agent!.control);
    this.handOns.set(k, 2);
    this.flushPending();
  }

  /**
   * 8.7, the old target of a same-subnet return: the node acknowledged the
   * Wake-up (it has announced the address and resumed the socket): what this
   * node queued since its stop rule, and what still reaches it (a router's
   * neighbour entry follows the node's gratuitous ARP, not at once), is copied
   * on to the node, `to` its control address on the home link.
   */
  handBack(a: Address, to: Address): void {
    const k = a.key() ^ (<u64>a.family << 56);
    if (!this.handOns.has(k) || this.handOns.get(k) != 1) return;
    this.endNodeHold(a, to);
    this.handOns.set(k, 2);
    this.flushPending();
  }

  /**
   * The hold at the node is over for a (a return, 8.6; a Stop Transfer, 8.5):
   * the hand-on chain is emptied (it stays, empty, until the stop rule goes:
   * its removal then is the same batch). State 3: emptied.
   */
  endHandOn(a: Address): void {
    const k = a.key() ^ (<u64>a.family << 56);
    if (!this.handOns.has(k)) return;
    const state = this.handOns.get(k);
    if (state == 3) return;
    if (state == 1) this.endNodeHold(a, null);
    else {
      const out = this.nftBegin();
      flushChains(out, a, false, false, true);
      this.nftEnd();
    }
    this.handOns.set(k, 3);
    this.flushPending();
  }

  /**
   * The transfer completed (the record delivered: the target has the UDP
   * flows' sockets; the agent holds the address): the hand-on chain no longer
   * lets the UDP flows through to this node's sockets, it copies them on too.
   */
  handOnPassed(t: Transfer): void {
    const a = t.address;
    const k = a.key() ^ (<u64>a.family << 56);
    if (!this.handOns.has(k) || this.handOns.get(k) != 2) return;
    const out = this.nftBegin();
    forwardRule(out, true, a, this.node.options.controlPort, t.agent!.control, new Array<Flow>(), true);
    this.nftEnd();
  }

  /**
   * The node's hold of a ends: the hand-on chain's rules are replaced (with
   * `agent`: copied to it; null: emptied) without removing the chain, then one
   * VERDICT_BATCH with NF_REPEAT for every packet the node's queue holds: each
   * runs the hand-on chains again, in the order it came (another address's
   * hold queues its own again).
   */
  private endNodeHold(a: Address, agent: Address | null): void {
    const out = this.nftBegin();
    if (agent) forwardRule(out, true, a, this.node.options.controlPort, agent, this.udpPassOf(a), true);
    else flushChains(out, a, false, false, true);
    this.nftEnd();
    SidHold.nodeHolding--;
    const v = verdictBatch(SidHold.nodeQueue, SidHold.nodeLastId + 0x40000000, 4);
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(nfqueueBuffer(), v), null, false, ENOENT);
  }

  /** A stop rule comes back for an address whose emptied chains wait: they stand again, not deleted. */
  unpend(k: u64): void {
    for (let i = this.pending.length - 1; i >= 0; i--) if (this.pending[i].key == k && !this.pending[i].wake) this.pending.splice(i, 1);
  }

  /** The emptied chains go once no SID hold stands. */
  flushPending(): void {
    if (SidHold.any() || this.pending.length == 0) return;
    const out = this.nftBegin();
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i];
      if (p.wake) {
        wakeHoldRule(out, false, p.address);
        continue;
      }
      stopRule(out, false, p.address, 0, p.target);
      if (p.handOn) forwardRule(out, false, p.address, 0, null, new Array<Flow>(), false, p.queued);
    }
    this.pending.length = 0;
    this.nftEnd();
  }

  /** 8.4: addresses whose agent's Wake-up hold stands (keys as handOns'). */
  private wakeHolds: Set<u64> = new Set<u64>();
  /**
   * 8.4: their tunnels, kept (unused: the hold queues before the routing decision) until the hold ends, for
   * their route alone: the kernel answers ARP for a proxy entry only if the address routes through another
   * link than the request's.
   */
  private wakeTunnels: Map<u64, LingeringTunnel> = new Map<u64, LingeringTunnel>();

  /**
   * 8.4, a whole-address binding ended with a Wake-up to send: what still
   * reaches this agent for the address (the router follows the node's
   * gratuitous ARP, not the end of the binding) is queued (the node's
   * queue, sid/hold.ts) instead of waiting for the address in this kernel's
   * neighbour queue (the node answers no ARP for it before the Wake-up):
   * there it is dropped, with an ICMP error to the sender, once the
   * resolution gives up (3 s), or when that queue is full, and what it kept
   * leaves in one burst as the router turns to the node.
   */
  private holdForWake(a: Address): void {
    const k = a.key() ^ (<u64>a.family << 56);
    if (this.wakeHolds.has(k)) return;
    // The address's packets from its last hold are still being released: they all go now (its chains stand again).
    if (this.draining(k)) this.finishDrain();
    // The first of overlapping holds: the queue's count of packets taken from here on is theirs (drainWake).
    if (this.wakeHolds.size == 0 && this.drains.length == 0) this.drainHeldFrom = SidHold.nodeHeld;
    let again = false;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      if (this.pending[i].key == k && this.pending[i].wake) {
        this.pending.splice(i, 1);
        again = true;
      }
    }
    const node = this.node;
    if (!SidHold.nodeBound) {
      SidHold.nodeBound = true;
      const c = queueConfig(SidHold.nodeQueue);
      node.netlinkAction(NETLINK_NETFILTER, bytesOf(nfqueueBuffer(), c), null);
    }
    const out = this.nftBegin();
    wakeHoldRule(out, true, a, again);
    this.nftEnd();
    const r = queueRuleIn(SidHold.nodeQueue, "hovsid", wakeQueueChainName(a), false);
    node.netlinkAction(NETLINK_NETFILTER, bytesOf(nfqueueBuffer(), r), null);
    this.wakeHolds.add(k);
    SidHold.nodeHolding++;
  }

  /**
   * The Wake-up was acknowledged (the node has its address back) or given up:
   * the hold's base chain is emptied (deleted once no hold stands), then every
   * queued packet is repeated (NF_REPEAT): it runs the emptied chain and goes
   * on to the node, in the order it came (another hold's are queued again by
   * their own chains).
   */
  endWakeHold(a: Address, now: f64): void {
    const k = a.key() ^ (<u64>a.family << 56);
    if (!this.wakeHolds.has(k)) return;
    this.wakeHolds.delete(k);
    // The claim's proxy entry and its tunnel's route go first (the node answers ARP for the address again; the
    // repeated packets are routed to it), then the hold; the tunnel's link and chains only after the last verdict
    // (a base chain's removal, its filters', would flush the queue).
    a.store(ADDR_A);
    this.netlink(proxyNeighbour(false, this.ifindex, a.family, ADDR_A));
    let l: LingeringTunnel | null = null;
    if (this.wakeTunnels.has(k)) {
      l = this.wakeTunnels.get(k);
      this.wakeTunnels.delete(k);
      this.netlink(tunnelRoute(false, a.family, ADDR_A, a.family == FAMILY_IPV4 ? 32 : 128, tunnelIfindex(l.vni), 0, MAIN_TABLE));
    }
    const out = this.nftBegin();
    flushWakeHold(out, a);
    this.nftEnd();
    this.drains.push(new WakeDrain(k, a, l));
    this.drainEndKnown = false;
    this.drainWake(now, true);
  }

  /** Holds whose packets are being released (8.4), and the queue's release in steps (drainWake). */
  private drains: Array<WakeDrain> = new Array<WakeDrain>();
  /** The hold of the address with key k is being released. */
  private draining(k: u64): bool {
    for (let i = 0; i < this.drains.length; i++) if (this.drains[i].key == k) return true;
    return false;
  }
  /** SidHold.nodeHeld when the first of the standing holds went up. */
  private drainHeldFrom: u64 = 0;
  /** The last id to release in steps (the queue's last id at the first timed step); later ones go with the last verdict. */
  private drainUntil: u32 = 0;
  private drainEndKnown: bool = false;

  /**
   * One step of the release of the agent's Wake-up holds (8.4): the queued
   * packets are repeated (NF_REPEAT) up to WAKE_DRAIN_STEP ids past the last
   * released, every WAKE_DRAIN_INTERVAL_MS. The first step (at the Ack, with
   * `blind`) goes before the core has read the queue's notifications (the
   * host reads them with a netfilter answer: this verdict's); from the first
   * timed step on, the queue's last id is known, and the release starts at
   * the first id the holds took (their count since drainHeldFrom before it).
   * When the rest fits in one step, one verdict for everything queued ends
   * the holds (finishDrain).
   */
  drainWake(now: f64, blind: bool): void {
    if (this.drains.length == 0) return;
    if (blind && this.drainTimer.armed) return; // a release under way takes this hold along, at its own pace
    if (!blind && !this.drainEndKnown) {
      this.drainEndKnown = true;
      this.drainUntil = SidHold.nodeLastId;
      const before = SidHold.nodeLastId - <u32>(SidHold.nodeHeld - this.drainHeldFrom);
      if (<i32>(before - SidHold.nodeReleasedId) > 0) SidHold.nodeReleasedId = before;
    }
    if (!blind && <i32>(this.drainUntil - SidHold.nodeReleasedId) <= <i32>WAKE_DRAIN_STEP) {
      this.finishDrain();
      return;
    }
    const upTo = SidHold.nodeReleasedId + WAKE_DRAIN_STEP;
    const v = verdictBatch(SidHold.nodeQueue, upTo, 4);
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(nfqueueBuffer(), v), null, false, ENOENT);
    SidHold.nodeReleasedId = upTo;
    this.node.timers.arm(this.drainTimer, now + WAKE_DRAIN_INTERVAL_MS);
  }

  /**
   * The holds being released end: one verdict (NF_REPEAT) for every packet
   * still queued, then their tunnels' links and their chains (deleted once
   * no hold stands).
   */
  private finishDrain(): void {
    this.node.timers.disarm(this.drainTimer);
    const drains = this.drains;
    this.drains = new Array<WakeDrain>();
    SidHold.nodeHolding -= drains.length;
    const v = verdictBatch(SidHold.nodeQueue, SidHold.nodeLastId + 0x40000000, 4);
    this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(nfqueueBuffer(), v), null, false, ENOENT);
    SidHold.nodeReleasedId = SidHold.nodeLastId;
    for (let i = 0; i < drains.length; i++) {
      const d = drains[i];
      const l = d.tunnel;
      if (l) this.endLinger(l);
      const p = new PendingChains(d.key, d.address, false, false, false);
      p.wake = true;
      this.pending.push(p);
    }
    this.flushPending();
  }

  /** The address's stop rule stands (add) or went: its UDP flows pass it (in the batch `out`), or are forgotten. */
  private markStopped(out: TextOut, add: bool, a: Address): void {
    const k = a.key() ^ (<u64>a.family << 56);
    if (add) {
      this.stopped.add(k);
      const pass = this.udpPassOf(a);
      if (pass.length) udpPassRule(out, a, pass);
    } else {
      this.stopped.delete(k);
      // The flows pass one move of the address: a later one names its own.
      for (let i = this.udpPass.length - 1; i >= 0; i--) if (this.udpPass[i].local.equals(a)) this.udpPass.splice(i, 1);
    }
  }

  /** UDP flows that pass the stop rule of their local address (8.12, "UDP flows"; sid_udp_pass). */
  private udpPass: Array<Flow> = new Array<Flow>();
  /** Addresses whose stop rule stands (keys as the bindings file's). */
  private stopped: Set<u64> = new Set<u64>();

  udpPassOf(a: Address): Array<Flow> {
    const list = new Array<Flow>();
    for (let i = 0; i < this.udpPass.length; i++) if (this.udpPass[i].local.equals(a)) list.push(this.udpPass[i]);
    return list;
  }

  /**
   * The host's UDP flows of address a (local address a, protocol UDP) pass
   * its stop rule: in the one that stands now (inserted at once) and in the
   * one a later transfer adds, until that stop rule goes. Replaces the
   * flows of a given before.
   */
  setUdpPass(a: Address, flows: Array<Flow>): i32 {
    for (let i = this.udpPass.length - 1; i >= 0; i--) if (this.udpPass[i].local.equals(a)) this.udpPass.splice(i, 1);
    const added = new Array<Flow>();
    for (let i = 0; i < flows.length; i++) {
      const f = flows[i];
      let known = false;
      for (let j = 0; j < this.udpPass.length; j++) if (this.udpPass[j].equals(f)) known = true;
      if (known) continue;
      this.udpPass.push(f);
      added.push(f);
    }
    const k = a.key() ^ (<u64>a.family << 56);
    if (added.length && this.stopped.has(k)) {
      const out = this.nftBegin();
      udpPassRule(out, a, added);
      if (this.handOns.has(k)) forwardPassRule(out, a, added);
      this.nftEnd();
    }
    return 0;
  }

  applyArpRule(add: bool, a: Address, exceptIfindex: u32, announce: bool): void {
    if (arpRule(this.nftBegin(), add, a, exceptIfindex, announce)) this.nftEnd();
  }

  private frame(n: i32): void {
    const o = takeOutput(OUT_FRAME);
    o.aux = this.ifindex;
    o.copy(FRAME_BUF, n);
    this.node.emit(o);
  }

  /** Announces a claimed address: three gratuitous ARP frames (IPv6: unsolicited Neighbour Advertisements), 1 s apart (8.14, 8.18). */
  announce(a: Address, now: f64): void {
    for (let i = 0; i < this.announcements.length; i++) {
      if (this.announcements[i].address.equals(a)) {
        this.announcements[i].left = GARP_COUNT;
        this.announcements[i].next = now;
        this.sendAnnouncements(now);
        return;
      }
    }
    this.announcements.push(new Announcement(a, now));
    this.sendAnnouncements(now);
  }

  stopAnnouncing(a: Address): void {
    for (let i = this.announcements.length - 1; i >= 0; i--) if (this.announcements[i].address.equals(a)) this.announcements.splice(i, 1);
    this.armAnnouncements();
  }

  /** The announcements' timer at the earliest one's next frame (a few at most). */
  private armAnnouncements(): void {
    let t = Infinity;
    for (let i = 0; i < this.announcements.length; i++) if (this.announcements[i].next < t) t = this.announcements[i].next;
    this.node.timers.arm(this.announceTimer, t);
  }

  sendAnnouncements(now: f64): void {
    for (let i = this.announcements.length - 1; i >= 0; i--) {
      const g = this.announcements[i];
      if (g.next > now) continue;
      const n = g.address.family == FAMILY_IPV4
        ? gratuitousArp(changetype<usize>(this.mac), <u32>g.address.lo, FRAME_BUF)
        : neighbourAdvertisement(changetype<usize>(this.mac), g.address, FRAME_BUF);
      if (n > 0) this.frame(n);
      g.left--;
      g.next = now + GARP_GAP_MS;
      if (g.left <= 0) this.announcements.splice(i, 1);
    }
    this.armAnnouncements();
  }

  /**
   * The binding's tunnel (8.9) at this end: role ROLE_AGENT or ROLE_TARGET,
   * the session key's identifiers (ids() must have run), the other end's
   * address, the transferred address, reverse-tunnelled return or not; the
   * agent routes the address into the tunnel in `table` (per-flow mode: the
   * flow set's mark, 8.16).
   */
  tunnel(add: bool, role: u8, key: usize, peer: Address, ta: Address, reverse: bool, table: u32 = MAIN_TABLE): void {
    const o = this.node.options;
    const vni = ids(key);
    const ifindex = tunnelIfindex(vni);
    const own = role == ROLE_AGENT ? IDS + 4 : IDS + 10;
    const other = role == ROLE_AGENT ? IDS + 10 : IDS + 4;
    const family = <u32>peer.family;
    this.address.store(ADDR_A);
    peer.store(ADDR_B);
    const decapsulates = role == ROLE_TARGET || reverse;
    if (!add) {
      if (role == ROLE_TARGET && reverse) {
        ta.store(ADDR_A);
        this.netlink(sourceRule(false, family, ADDR_A, family == FAMILY_IPV4 ? 32 : 128, returnTable(o.sidRouteTable, vni), SID_RULE_PRIORITY));
      }
      if (role == ROLE_AGENT && reverse) {
        reversePathRule(this.nftBegin(), false, vni, ifindex, ta);
        this.nftEnd();
      }
      // Deleting the link removes its fdb, neighbour and route entries with it.
      this.netlink(vxlanLink(false, IDS + 16, 9, own, o.sidTunnelMtu, vni, family, ADDR_A, o.sidTunnelPort, ifindex));
      if (decapsulates) {
        tunnelFilter(this.nftBegin(), false, family, ADDR_B, o.sidTunnelPort, vni);
        this.nftEnd();
      }
      return;
    }
    // 8.9: the filters first, in one nft batch (they name the VNI and the link's index, which the core
    // chose: no link needed), so the link never decapsulates unfiltered and the claim makes one nft call.
    if (decapsulates || (role == ROLE_AGENT && reverse)) {
      const out = this.nftBegin();
      if (decapsulates) tunnelFilter(out, true, family, ADDR_B, o.sidTunnelPort, vni);
      if (role == ROLE_AGENT && reverse) reversePathRule(out, true, vni, ifindex, ta);
      this.nftEnd();
    }
    this.netlink(vxlanLink(true, IDS + 16, 9, own, o.sidTunnelMtu, vni, family, ADDR_A, o.sidTunnelPort, ifindex));
    this.netlink(fdbEntry(true, ifindex, other, family, ADDR_B));
    ta.store(ADDR_A);
    const prefix: u32 = family == FAMILY_IPV4 ? 32 : 128;
    if (role == ROLE_AGENT) {
      this.netlink(neighEntry(true, ifindex, family, ADDR_A, other));
      this.netlink(tunnelRoute(true, family, ADDR_A, prefix, ifindex, 0, table));
    } else if (reverse) {
      this.netlink(neighEntry(true, ifindex, family, ADDR_B, other));
      // A table per binding: two sessions held here, each with its own tunnel device, need two default routes.
      const rt = returnTable(o.sidRouteTable, vni);
      this.netlink(tunnelRoute(true, family, ZERO16, 0, ifindex, ADDR_B, rt));
      this.netlink(sourceRule(true, family, ADDR_A, prefix, rt, SID_RULE_PRIORITY));
    }
  }

  /**
   * The target's hold of a transferred address: on lo (8.10), except IPv6 on
   * the same subnet, which goes on the home link so that the kernel answers
   * Neighbour Solicitations for it there (it answers none for an address on
   * lo, 8.18; IPv4's ARP answers for any local address).
   */
  private hostAddress(add: bool, a: Address, same: bool = false): void {
    if (same && a.family != FAMILY_IPV4) this.netlink(addressMessageCopy(add, a, this.ifindex, true, true));
    else this.netlink(addressMessageCopy(add, a));
  }

  // ---- lookups ---------------------------------------------------------------------

  findTransfer(a: Address): Transfer | null {
    for (let i = 0; i < this.transfers.length; i++) if (this.transfers[i].address.equals(a)) return this.transfers[i];
    return null;
  }
  findHosted(a: Address): Hosted | null {
    for (let i = 0; i < this.hosted.length; i++) if (this.hosted[i].address.equals(a)) return this.hosted[i];
    return null;
  }
  /** The transfer of a in `state` (per-flow mode, 8.16, may have several transfers of one address). */
  findTransferIn(a: Address, state: u8): Transfer | null {
    for (let i = 0; i < this.transfers.length; i++) {
      const t = this.transfers[i];
      if (t.address.equals(a) && t.state == state) return t;
    }
    return null;
  }
  forgetTransfer(t: Transfer): void {
    this.node.cancelRequests(t);
    const ask = t.ask;
    if (ask) this.node.cancelRequests(ask);
    const i = this.transfers.indexOf(t);
    if (i >= 0) this.transfers.splice(i, 1);
    // 8.16: the Interim Address goes back to the pool with the address's last per-flow transfer.
    const interim = t.interim;
    if (interim && !this.findTransfer(t.address)) this.flows.returnInterim(interim);
  }

  /** True if t is the first per-flow transfer of its address to be transferred (the ARP rule comes with it, 8.16). */
  firstFlowTransfer(t: Transfer): bool {
    for (let i = 0; i < this.transfers.length; i++) {
      const o = this.transfers[i];
      if (o != t && o.address.equals(t.address) && o.state == TRANSFERRED) return false;
    }
    return true;
  }

  /** Sets the target cookie of a binding, counting the bindings per target (bindingsOf). */
  private setTargetCookie(r: usize, cookie: u64): void {
    const old = bCookie(r);
    if (old == cookie) return;
    this.countTarget(old, cookie);
    bSetCookieRaw(r, cookie);
  }

  /** A binding (or flow set) moves from target cookie `old` to `cookie` (0: none): the counts of bindingsOf follow. */
  countTarget(old: u64, cookie: u64): void {
    if (old == cookie) return;
    if (old != 0) {
      const n = this.bindingsOf.get(old) - 1;
      if (n > 0) this.bindingsOf.set(old, n);
      else {
        this.bindingsOf.delete(old);
        const p = this.node.findSessionPeer(old);
        if (p) this.node.dropSessionPeer(p);
      }
    }
    if (cookie != 0) this.bindingsOf.set(cookie, this.bindingsOf.has(cookie) ? this.bindingsOf.get(cookie) + 1 : 1);
  }

  /** The agent has a whole-address binding for a. */
  hasBinding(a: Address): bool {
    return this.table != null && this.bindings().find(a) != 0;
  }

  // ---- the engine's entry points -----------------------------------------------------

  sessionSa(node: Node, d: Decoded, spi: u32, now: f64): SecurityAssociation | null {
    this.bindingSaRecord = 0;
    // The agent: a binding's SA, found by the Transferred Address in clear (8.3).
    if (d.has(EXT_TRANSFERRED_ADDRESS) && this.table) {
      // (read in place: nothing is allocated per renewal)
      const ta = d.first(EXT_TRANSFERRED_ADDRESS);
      LOOKUP.load(load<u8>(ta + 2), ta + 3);
      const r = this.bindings().find(LOOKUP);
      if (r && bSpi(r) == spi) {
        if (this.reinjecting) return sessionSa(spi, bKey(r), SEAL_UP, SEAL_DOWN);
        const sa = this.bindingSa;
        this.bindingSaRecord = r;
        sa.spi = spi;
        copy32(changetype<usize>(sa.sealBase), bKey(r));
        // A Binding Update is verified by its Sealed tag alone (8.11): no HMAC key to make.
        if (!typeSeals(d.type)) {
          bindingSubkey(bKey(r), SEAL_SA, changetype<usize>(sa.raw));
          sa.key.init(AUTH_HMAC_SHA256, changetype<usize>(sa.raw), 32);
        }
        sa.peer = null;
        return sa;
      }
    }
    // The agent in per-flow mode: a flow set's SA, by the address and the SPI (8.16).
    if (d.has(EXT_TRANSFERRED_ADDRESS)) {
      const f = this.flows.sessionSa(addressOf(d, EXT_TRANSFERRED_ADDRESS), spi);
      if (f) return f;
    }
    // The target: the SA of an address it holds (Binding Acks).
    for (let i = 0; i < this.hosted.length; i++) {
      const sa = this.hosted[i].sa;
      if (sa && sa.spi == spi) return sa;
    }
    return null;
  }

  /**
   * The target: the agent's Binding Ack at the binding (8.12), authenticated
   * and opened under the hosting's session SA; it answers no request. It binds
   * a hosting still waiting for its first Binding Ack; anything else (another
   * code, a hosting bound already, a replay) is not a reply and changes nothing.
   */
  lateReply(node: Node, peer: Peer, d: Decoded, now: f64): bool {
    if (d.type != MSG_BINDING_ACK || <u32>d.flagsCode != CODE_ACCEPTED) return false;
    let h: Hosted | null = null;
    for (let i = 0; i < this.hosted.length && !h; i++) if (this.hosted[i].agent == peer) h = this.hosted[i];
    if (!h || h.sameSubnet) return false;
    const granted = lifetimeOf(d, 0);
    if (granted == 0) {
      // 8.12: the second part of the agent's claim failed after its Ack at the binding: the binding is gone.
      if (h.state != REGISTERING && h.state != BOUND) return false;
      this.refused(ROLE_TARGET, h.address, 0, ERR_KERNEL, "the agent's claim failed after its Binding Ack (its Binding Ack of Lifetime 0): the binding is gone, the address is given up here", now);
      this.endHosted(h, "agent-claim-failed", ERR_KERNEL, now);
      return true;
    }
    if (h.state != REGISTERING) return false;
    h.bound(node, granted, now, true);
    return true;
  }

  unverifiable(node: Node, d: Decoded, now: f64): bool {
    // 8.12: a Binding Update that may run ahead of its Transfer Request is kept, one per address.
    if (d.type != MSG_BINDING_UPDATE || !node.options.sidAgent || !d.has(EXT_TRANSFERRED_ADDRESS) || this.reinjecting) return false;
    // Also when a binding exists under another SPI: its further transfer may be on the way (8.6).
    const a = addressOf(d, EXT_TRANSFERRED_ADDRESS);
    this.expireParked(now);
    for (let i = 0; i < this.parked.length; i++) {
      if (this.parked[i].address.equals(a)) {
        this.parked[i] = new Parked(a, d.ptr, d.len, node.from, node.fromPort, now);
        return true;
      }
    }
    if (this.parked.length >= PARK_MAX) this.parked.shift();
    this.parked.push(new Parked(a, d.ptr, d.len, node.from, node.fromPort, now));
    return true;
  }

  private expireParked(now: f64): void {
    for (let i = this.parked.length - 1; i >= 0; i--) if (now - this.parked[i].at >= PARK_MS) this.parked.splice(i, 1);
  }

  private takeParked(a: Address): Parked | null {
    for (let i = 0; i < this.parked.length; i++) {
      if (this.parked[i].address.equals(a)) {
        const p = this.parked[i];
        this.parked.splice(i, 1);
        return p;
      }
    }
    return null;
  }

  request(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    const type = node.incoming.type;
    if (sa.seals) {
      // 8.6: a retired hosting's key answers repeats from the reply cache (the engine, before this) and nothing new.
      const h = this.retiredBySa(sa);
      if (h) return this.refuse(ROLE_TARGET, h.address, peer, sa, cache, CODE_UNKNOWN_BINDING, "the session was returned to its node: its key is retired here", now);
    }
    if (type == MSG_TRANSFER_NEGOTIATION_REQUEST) this.onNegotiation(node, peer, sa, cache, now);
    else if (type == MSG_TRANSFER_REQUEST) this.onTransferRequest(node, peer, sa, cache, now);
    else if (type == MSG_BINDING_UPDATE) this.onBindingUpdate(node, peer, sa, cache, now);
    else if (type == MSG_WAKE_UP) this.onWakeup(node, peer, sa, cache, now);
    else if (type == MSG_STOP_TRANSFER) this.onStop(node, peer, sa, cache, now);
  }

  reply(peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, code: u32, lifetime: i32, target: Address | null, now: f64): void {
    const node = this.node;
    const enc = node.beginReply(peer, sa, code, now);
    if (target) {
      target.store(ADDR_B);
      enc.address(EXT_TARGET_ADDRESS, target.family, ADDR_B);
    }
    enc.markSealed();
    if (lifetime >= 0) enc.lifetime(<u32>lifetime);
    node.finishReply(peer, sa, cache, node.from, node.fromPort, null, now, this.linkRoute(node.from));
  }

  /**
   * How to reach a node whose address is claimed here (8.14): the agent
   * tunnels a bound address to its target, and a target on the same subnet
   * holds it locally, so neither's routes reach the node, which no longer
   * answers ARP for it. Messages to it go as frames to its link-layer
   * address; null for any other destination.
   */
  linkRoute(dst: Address): FrameRoute | null {
    let mac: usize = 0;
    const r = this.table ? this.bindings().find(dst) : 0;
    if (r && bHasMac(r)) mac = bMac(r);
    const h = this.findHosted(dst);
    if (!mac && h && h.sameSubnet) mac = changetype<usize>(h.nodeMac);
    if (!mac) return null;
    const route = new FrameRoute();
    route.ifindex = this.ifindex;
    memory.copy(changetype<usize>(route.dstMac), mac, 6);
    memory.copy(changetype<usize>(route.srcMac), changetype<usize>(this.mac), 6);
    route.src.set(this.address);
    route.srcPort = this.node.options.controlPort;
    return route;
  }

  refuse(role: u8, a: Address, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, code: u32, message: string, now: f64): void {
    this.reply(peer, sa, cache, code, -1, null, now);
    this.refused(role, a, code, 0, message, now);
  }

  // ---- target: negotiation (8.1) --------------------------------------------------------

  private onNegotiation(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    const d = node.incoming;
    const o = node.options;
    const a = addressOf(d, EXT_TRANSFERRED_ADDRESS);
    const flags = d.flagsCode;
    const back = this.findTransfer(a);
    if (back && back.state == TRANSFERRED && !back.hosted && !back.flows && !this.findHosted(a)) return this.onReturn(node, peer, sa, cache, back, now);
    // 8.16: a flow set of this node's comes back from its target.
    if ((flags & FLAG_PER_FLOW) && back && back.flows && !back.hosted && !this.findHosted(a)) return this.onFlowReturn(node, peer, sa, cache, a, now);
    if (!o.sidTarget) return this.refuse(ROLE_TARGET, a, peer, sa, cache, CODE_ADMINISTRATIVELY_PROHIBITED, "this node does not accept transfers: set the sidTarget option", now);
    if ((flags & FLAG_REVERSE_RETURN) && !o.sidAllowReverse) return this.refuse(ROLE_TARGET, a, peer, sa, cache, CODE_ADMINISTRATIVELY_PROHIBITED, "reverse-tunnelled return is not allowed here: set sidAllowReverse or transfer without R", now);
    const same = (flags & FLAG_SAME_SUBNET) != 0;
    if (flags & FLAG_PER_FLOW) {
      const c = this.flows.negotiationCode(d, a, same);
      if (c) return this.refuse(ROLE_TARGET, a, peer, sa, cache, c, this.flows.reason, now);
    }
    if (!d.has(EXT_SESSION_KEY) || (!same && !d.has(EXT_AGENT_ADDRESS)) || (same && !d.has(EXT_LINK_LAYER_ADDRESS))) {
      return this.refuse(ROLE_TARGET, a, peer, sa, cache, CODE_POORLY_FORMED_REQUEST, "a negotiation needs a Session Key and an Agent Address (or, with S, a Link-layer Address)", now);
    }
    // A retired hosting of the address (8.6) gives way to a new transfer of it.
    const retired = this.findHosted(a);
    if (retired && retired.state == RETIRED) this.endHosted(retired, "returned", 0, now);
    if (this.findHosted(a) || this.findTransfer(a)) return this.refuse(ROLE_TARGET, a, peer, sa, cache, CODE_ADDRESS_IN_USE, "this node already holds or moves the address", now);
    if (!a.isUsableUnicast() || node.isOwnAddress(a)) return this.refuse(ROLE_TARGET, a, peer, sa, cache, CODE_ADDRESS_NOT_ALLOWED, "the transferred address is not a usable unicast address of another node", now);
    if (this.addresses.byAddress(a) || this.addresses.awayAt(a)) return this.refuse(ROLE_TARGET, a, peer, sa, cache, CODE_ADDRESS_NOT_ALLOWED, "the transferred address is one of this node's own session addresses (PROTOCOL.md 8.18)", now);
    // 8.18: a session address comes with its lease; this node must run that generator to hold it.
    const leaseAt: usize = d.has(EXT_ADDRESS_LEASE) ? d.first(EXT_ADDRESS_LEASE) : 0;
    if (leaseAt && !this.addresses.generator(load<u8>(leaseAt + 2))) return this.refuse(ROLE_TARGET, a, peer, sa, cache, CODE_ADDRESS_NOT_ALLOWED, "the session address's generator (PROTOCOL.md 8.18) does not run on this node: it could not keep the address", now);
    const wrapSa = peer.findSa(wrapSpiOf(d));
    if (!wrapSa || !unwrapSessionKey(d, wrapSa.raw, KEY_BUF)) return this.refuse(ROLE_TARGET, a, peer, sa, cache, CODE_SESSION_KEY_REJECTED, "the session key did not unwrap: the Wrap SPI must name an SA configured with the key", now);
    let agent = new Address();
    if (!same) {
      agent = addressOf(d, EXT_AGENT_ADDRESS);
      if (!node.acceptsPeerAddress(agent)) return this.refuse(ROLE_TARGET, a, peer, sa, cache, CODE_ADDRESS_NOT_ALLOWED, "the agent address is not usable", now);
    }
    const h = new Hosted(this, a, peer, flags, lifetimeOf(d, o.sidLifetimeS), sessionSpiOf(d), now);
    memory.copy(changetype<usize>(h.key), KEY_BUF, 32);
    bindingKey(KEY_BUF, changetype<usize>(h.bkey));
    memory.fill(KEY_BUF, 0, 32);
    h.agentAddress = agent;
    if (same) {
      const ll = d.first(EXT_LINK_LAYER_ADDRESS);
      if (load<u8>(ll + 1) == 8) memory.copy(changetype<usize>(h.nodeMac), ll + 4, 6);
    }
    h.vni = ids(changetype<usize>(h.bkey));
    if (leaseAt) {
      h.leaseKind = load<u8>(leaseAt + 2);
      h.leaseRemaining = bswap<u32>(load<u32>(leaseAt + 4));
      const n = <i32>load<u8>(leaseAt + 1) - 6;
      h.leaseState = new StaticArray<u8>(n);
      if (n > 0) memory.copy(changetype<usize>(h.leaseState), leaseAt + 8, <usize>n);
    }
    if (flags & FLAG_PER_FLOW) {
      const flows = readFlows(d, a)!;
      h.flows = flows;
      for (let i = 0; i < flows.length; i++) h.ended.push(false);
      if (d.has(EXT_INTERIM_ADDRESS)) h.interim = addressOf(d, EXT_INTERIM_ADDRESS);
    }
    this.hosted.push(h);
    // The reply first, then the kernel actions (8.12): the node's next steps need none of them, and the
    // host applies them all before it handles another input (the record, tunnelled packets); a failed
    // one ends the hosting (claimFailed), which then refuses the record.
    this.reply(peer, sa, cache, CODE_ACCEPTED, -1, this.address.isSet ? this.address : null, now);
    // 8.10: the address is local from now (the host restores the socket into it), never answered
    // for elsewhere (with S: but on the home link), and its traffic stopped until the release.
    this.actionOwner = new Claim(this, a, ROLE_TARGET, h.spi);
    this.hostAddress(true, a, same);
    this.applyArpRule(true, a, same ? this.ifindex : 0, true);
    this.applyHold(h);
    if (!same) {
      this.tunnel(true, ROLE_TARGET, changetype<usize>(h.bkey), agent, a, (flags & FLAG_REVERSE_RETURN) != 0);
      h.tunnel = true;
    }
    this.actionOwner = null;
    const e = this.event("negotiated", ROLE_TARGET, a, now);
    e.key("reverse");
    e.boolean((flags & FLAG_REVERSE_RETURN) != 0);
    e.key("sameSubnet");
    e.boolean(same);
    e.key("spi");
    e.num(h.spi);
    node.emit(endEvent());
    // 8.12: the first Binding Update goes now, with the record still on its way; the agent keeps it until the Transfer Request brings the key.
    if (!same) this.startRegistering(h, now);
  }

  /** The target's session peer and SA for the agent (8.3), and its first Binding Update (8.12). */
  private startRegistering(h: Hosted, now: f64): void {
    const node = this.node;
    const agent = node.sessionPeer(0, h.agentAddress, node.options.controlPort);
    // The agent keeps one replay window for this node (its cookie): another hosting's session peer for the
    // same agent numbers this one's messages too, or each would find the other's numbers too old (8.3).
    for (let i = 0; i < this.hosted.length; i++) {
      const other = this.hosted[i].agent;
      if (other && this.hosted[i].agentAddress.equals(h.agentAddress)) {
        agent.seqSource = other.seqSource ? other.seqSource : other;
        break;
      }
    }
    const sa = sessionSa(h.spi, changetype<usize>(h.bkey), SEAL_DOWN, SEAL_UP);
    sa.peer = agent;
    agent.addSa(sa);
    h.agent = agent;
    h.sa = sa;
    h.state = REGISTERING;
    h.register(node, h.lifetime, now);
  }

  /**
   * 8.6: the holder of an address this node transferred gives it back. No
   * sidTarget needed: it is this node's own address. Only the target it went
   * to may, or, if the transfer permitted F, any peer it has an SA with. No
   * kernel action: the transfer's stop and ARP rules stand until the agent's
   * Wake-up (which a return's Transfer Request makes the agent send).
   */
  private onReturn(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, t: Transfer, now: f64): void {
    const d = node.incoming;
    const a = t.address;
    const flags = d.flagsCode;
    // 8.6, 8.7: a same-subnet transfer comes back from its target only (it cannot have moved on).
    if (peer != t.target && (t.sameSubnet || !(t.flags & FLAG_FURTHER_TRANSFER))) return this.refuse(ROLE_NODE, a, peer, sa, cache, CODE_ADMINISTRATIVELY_PROHIBITED, "only the target the address went to may give it back (any peer, if the transfer permitted F)", now);
    if (flags & FLAG_PER_FLOW) return this.refuse(ROLE_NODE, a, peer, sa, cache, CODE_POORLY_FORMED_REQUEST, "a return moves the whole address: no P", now);
    if (((flags & FLAG_SAME_SUBNET) != 0) != t.sameSubnet) return this.refuse(ROLE_NODE, a, peer, sa, cache, CODE_POORLY_FORMED_REQUEST, t.sameSubnet ? "the address went to its target on the same subnet: its return carries S" : "a return goes through the agent the transfer went through: no S", now);
    const h = this.returningHosted(node, peer, sa, cache, a, now);
    if (!h) return;
    // 8.18: the lease comes back with the holder's latest state (a DHCP lease renewed meanwhile).
    if (d.has(EXT_ADDRESS_LEASE)) {
      const p = d.first(EXT_ADDRESS_LEASE);
      this.addresses.refresh(a, bswap<u32>(load<u32>(p + 4)), p + 8, <i32>load<u8>(p + 1) - 6, now);
    }
    // 8.12: the address is coming back here (the agent delivers it to this node during the return): the hand-on
    // chain is emptied, or it would send the agent's deliveries back to it.
    this.endHandOn(a);
    this.acceptReturn(h, peer, sa, cache, now);
    node.emit(endEvent());
  }

  /**
   * 8.16, a per-flow return: the target of one of this node's flow sets gives
   * it back. It must list exactly that set's flows (else 134) and come from
   * its target (else 129); the key must unwrap (142). No kernel change: the
   * set's stop chains stay until the agent has ended the set (the node's
   * Stop Transfer for it, sent once the record is in).
   */
  private onFlowReturn(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, a: Address, now: f64): void {
    const d = node.incoming;
    const flags = d.flagsCode;
    const flows = readFlows(d, a);
    let t: Transfer | null = null;
    let fromOther = false;
    if (flows) {
      for (let i = 0; i < this.transfers.length && !t; i++) {
        const o = this.transfers[i];
        const f = o.flows;
        if (!f || !o.address.equals(a) || o.state != TRANSFERRED || o.stopped || o.returnTo || f.length != flows.length) continue;
        let same = true;
        for (let k = 0; k < f.length && same; k++) {
          let found = false;
          for (let j = 0; j < flows.length; j++) if (flows[j].equals(f[k])) found = true;
          same = found;
        }
        if (!same) continue;
        if (o.target != peer) fromOther = true;
        else t = o;
      }
    }
    if (!t && fromOther) return this.refuse(ROLE_NODE, a, peer, sa, cache, CODE_ADMINISTRATIVELY_PROHIBITED, "only the target a flow set went to may give it back", now);
    if (!t || (flags & FLAG_SAME_SUBNET)) return this.refuse(ROLE_NODE, a, peer, sa, cache, CODE_POORLY_FORMED_REQUEST, "a per-flow return lists exactly the flows of one flow set of this node's, transferred (no S)", now);
    const h = this.returningHosted(node, peer, sa, cache, a, now);
    if (!h) return;
    h.returnOf = t;
    h.flows = flows;
    for (let i = 0; i < flows!.length; i++) h.ended.push(false);
    const e = this.acceptReturn(h, peer, sa, cache, now);
    e.key("flowSet");
    e.num(t.spi);
    node.emit(endEvent());
  }

  /**
   * A return's negotiation (8.6, 8.7, 8.16) past its own checks: the session key
   * must come and unwrap (else 134, 142); the returning hosting, holding its keys
   * and given up RETURN_WAIT_MS from now unless it completes. Null: refused.
   */
  private returningHosted(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, a: Address, now: f64): Hosted | null {
    const d = node.incoming;
    if (!d.has(EXT_SESSION_KEY)) {
      this.refuse(ROLE_NODE, a, peer, sa, cache, CODE_POORLY_FORMED_REQUEST, "a negotiation needs a Session Key", now);
      return null;
    }
    const wrapSa = peer.findSa(wrapSpiOf(d));
    if (!wrapSa || !unwrapSessionKey(d, wrapSa.raw, KEY_BUF)) {
      this.refuse(ROLE_NODE, a, peer, sa, cache, CODE_SESSION_KEY_REJECTED, "the session key did not unwrap: the Wrap SPI must name an SA configured with the key", now);
      return null;
    }
    const h = new Hosted(this, a, peer, d.flagsCode, 0, sessionSpiOf(d), now);
    memory.copy(changetype<usize>(h.key), KEY_BUF, 32);
    bindingKey(KEY_BUF, changetype<usize>(h.bkey));
    memory.fill(KEY_BUF, 0, 32);
    h.returning = true;
    h.setReturnBy(now + RETURN_WAIT_MS);
    h.vni = ids(changetype<usize>(h.bkey));
    return h;
  }

  /** A return's negotiation accepted: the hosting is kept, the reply goes, and the `negotiated` event begins (the caller ends it). */
  private acceptReturn(h: Hosted, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): TextOut {
    this.hosted.push(h);
    this.reply(peer, sa, cache, CODE_ACCEPTED, -1, this.address.isSet ? this.address : null, now);
    const e = this.event("negotiated", ROLE_TARGET, h.address, now);
    e.key("returning");
    e.boolean(true);
    e.key("spi");
    e.num(h.spi);
    return e;
  }

  /** 8.16: a per-flow return is complete (the agent ended the flow set): the socket resumes; the set's stop chains went. */
  finishFlowReturn(h: Hosted, now: f64): void {
    if (this.hosted.indexOf(h) < 0) return;
    h.released = true;
    const e = this.event("released", ROLE_TARGET, h.address, now);
    e.key("elapsedMs");
    e.num(<u64>Math.round(now - h.startedAt));
    e.key("returned");
    e.boolean(true);
    this.node.emit(endEvent());
    this.hosted.splice(this.hosted.indexOf(h), 1);
    this.stopTimers(h);
    this.node.cancelRequests(h);
    const x = this.event("ended", ROLE_TARGET, h.address, now);
    x.key("reason");
    x.str("returned");
    this.node.emit(endEvent());
  }

  /** A return is complete (the record is in and the agent woke this node): the address is this node's again. */
  private finishReturn(h: Hosted, now: f64): void {
    this.release(h, now);
    const i = this.hosted.indexOf(h);
    if (i >= 0) this.hosted.splice(i, 1);
    this.stopTimers(h);
    this.node.cancelRequests(h);
    const e = this.event("ended", ROLE_TARGET, h.address, now);
    e.key("reason");
    e.str("returned");
    this.node.emit(endEvent());
  }

  /** The target's socket may leave repair mode: the stop rule goes, and the host hears of it (8.12). */
  release(h: Hosted, now: f64): void {
    if (h.released) return;
    h.released = true;
    // The event first (the host resumes the restored socket on it), then the stop rule goes, then the held
    // packets are accepted in order into the live socket (sid/hold.ts).
    const e = this.event("released", ROLE_TARGET, h.address, now);
    e.key("elapsedMs");
    e.num(<u64>Math.round(now - h.startedAt));
    if (h.returning) {
      e.key("returned");
      e.boolean(true);
    }
    this.node.emit(endEvent());
    if (h.holds) this.endHold(h, true, now);
    else this.applyStopRule(false, h.address);
  }

  /**
   * The target's stop rule with the hold (8.12): the queue bound once, the
   * chains, then the queue rule in the hold chain (owned by the claim: if it
   * fails, the hosting ends).
   */
  private applyHold(h: Hosted): void {
    const node = this.node;
    if (!SidHold.bound) {
      SidHold.bound = true;
      const c = queueConfig(SidHold.queue);
      node.netlinkAction(NETLINK_NETFILTER, bytesOf(nfqueueBuffer(), c), null);
    }
    this.unpend(h.address.key() ^ (<u64>h.address.family << 56));
    const out = this.nftBegin();
    stopRule(out, true, h.address, node.options.controlPort, true);
    this.markStopped(out, true, h.address);
    this.nftEnd();
    const r = queueRuleIn(SidHold.queue, "hovsid", holdChainName(h.address), false);
    node.netlinkAction(NETLINK_NETFILTER, bytesOf(nfqueueBuffer(), r), this.actionOwner);
    h.holds = true;
    SidHold.holding++;
  }

  /**
   * The hold ends: the chains go (nothing is queued after this), then, once no
   * other hosting holds, one verdict for every queued packet: accept at the
   * release, drop when the hosting ended unreleased (no socket to take them).
   */
  private endHold(h: Hosted, accept: bool, now: f64 = -1): void {
    h.holds = false;
    SidHold.holding--;
    // Emptied, not deleted: a base chain's removal flushes every queue (sid/hold.ts), this hold's too.
    const out = this.nftBegin();
    flushChains(out, h.address, true, true, false);
    this.markStopped(out, false, h.address);
    this.nftEnd();
    this.pending.push(new PendingChains(h.address.key() ^ (<u64>h.address.family << 56), h.address, false, false, true));
    if (SidHold.holding == 0) {
      const v = verdictBatch(SidHold.queue, SidHold.lastId + 0x40000000, accept ? 1 : 0);
      // No acknowledgement is asked; an empty queue answers ENOENT, which is fine.
      this.node.netlinkAction(NETLINK_NETFILTER, bytesOf(nfqueueBuffer(), v), null, false, ENOENT);
    }
    // At a release the emptied chains go at a timer due now, not in this drain: their deletion (an nft
    // batch of ~1-7 ms on a loaded host) then comes after the host has handed the live socket to the
    // application, off the path to the first byte there (docs/benchmarks.md, branch sidrtt).
    if (accept && now >= 0) this.node.timers.arm(this.chainsTimer, now);
    else this.flushPending();
  }

  /** 8.18: the hosting is bound: this node holds the session address's lease now (it renews and releases it). */
  holdLease(h: Hosted, now: f64): void {
    if (!h.leaseKind || h.lease) return;
    const elapsed = <u32>Math.max(0, Math.floor((now - h.startedAt) / 1000));
    const remaining = h.leaseRemaining == 0xffffffff ? h.leaseRemaining : (h.leaseRemaining > elapsed ? h.leaseRemaining - elapsed : 0);
    h.lease = this.addresses.adopt(h.leaseKind, h.address, remaining, changetype<usize>(h.leaseState), h.leaseState.length, now);
    if (!h.lease) this.refused(ROLE_TARGET, h.address, 0, ERR_CONFIG, "the session address's lease was not taken over (its generator refused it or 1024 leases are held): the address is hosted, but not renewed here", now);
  }

  /**
   * A return (8.6) left this target (the agent's Transfer Reply, Lifetime 0): the hosting
   * retires instead of ending. For RETIRE_MS it renews nothing and keeps its tunnel (a late
   * tunnelled packet still reaches the application's socket while the host hands the UDP
   * flows over; in reverse mode what the application still sends goes into the tunnel), its
   * address, its session key and session peer (a repeated message gets its cached reply); a
   * new request under the retired key is refused (141). Then everything goes as in endHosted.
   */
  retireHosted(h: Hosted, now: f64): void {
    if (this.hosted.indexOf(h) < 0 || h.state == RETIRED) return;
    h.state = RETIRED;
    this.node.timers.disarm(h.renewTimer);
    h.renewAt = Infinity;
    this.node.cancelRequests(h);
    h.busy = false;
    // 8.18: the lease moved on with the return.
    const l = h.lease;
    if (l) {
      this.addresses.handOff(l, now);
      h.lease = null;
    }
    h.setReturnBy(now + RETIRE_MS);
    const e = this.event("retired", ROLE_TARGET, h.address, now);
    e.key("untilMs");
    e.num(<u64>RETIRE_MS);
    this.node.emit(endEvent());
  }

  /**
   * 8.7, a same-subnet return: the record is at the node (it confirmed it). This
   * node stops answering ARP for the address on the home link too (its ARP rule
   * without the exception) and stops announcing it, then sends the node the
   * Wake-up under their SA (retransmitted, 6.7), a frame to its link-layer
   * address and control address: the node announces the address
   * and resumes the socket. The address stays local here while the hosting
   * retires (the UDP flows' sockets still take what reaches them until the host
   * hands them over).
   */
  giveBack(h: Hosted, now: f64): void {
    const a = h.address;
    this.stopAnnouncing(a);
    // One batch: the rule that answered on the home link goes, the silent one comes.
    const out = this.nftBegin();
    arpRule(out, false, a, 0, true);
    arpRule(out, true, a, 0, false);
    this.nftEnd();
    h.givenBack = true;
    // As 8.7's Wake-up: a frame to the node's link-layer address (the address may be its control address, local here still).
    const peer = h.node;
    const route = new FrameRoute();
    route.ifindex = this.ifindex;
    memory.copy(changetype<usize>(route.dstMac), changetype<usize>(h.nodeMac), 6);
    memory.copy(changetype<usize>(route.srcMac), changetype<usize>(this.mac), 6);
    route.src.set(this.address);
    route.srcPort = this.node.options.controlPort;
    const w = new Wakeup(this, a, ROLE_TARGET);
    w.handBackTo = peer.control.copy();
    this.node.sendRequest(now, peer, MSG_WAKE_UP, 0, w, peer.control, peer.controlPort, null, route);
  }

  /** The RETIRED hosting whose session SA this is, if any. */
  private retiredBySa(sa: SecurityAssociation): Hosted | null {
    for (let i = 0; i < this.hosted.length; i++) {
      const h = this.hosted[i];
      if (h.sa == sa) return h.state == RETIRED ? h : null;
    }
    return null;
  }

  /** Removes everything the target put in place for h (8.13) and forgets it. */
  endHosted(h: Hosted, reason: string, err: i32, now: f64): void {
    const i = this.hosted.indexOf(h);
    if (i < 0) return;
    this.hosted.splice(i, 1);
    const node = this.node;
    this.stopTimers(h);
    node.cancelRequests(h);
    if (h.returning) {
      // A return that failed: before the Wake-up the transfer's rules stay; after it only the stop rule was left.
      if (h.woken && !h.released) this.applyStopRule(false, h.address);
    } else {
      if (h.tunnel) this.tunnel(false, ROLE_TARGET, changetype<usize>(h.bkey), h.agentAddress, h.address, (h.flags & FLAG_REVERSE_RETURN) != 0);
      if (h.holds) this.endHold(h, false);
      else if (!h.released) this.applyStopRule(false, h.address);
      this.applyArpRule(false, h.address, 0, !h.givenBack);
      this.hostAddress(false, h.address, h.sameSubnet);
      // The stop rule this node put up again to move the address on (a further transfer, a return: Transfer.stopRule).
      if (h.released && this.stopped.has(h.address.key() ^ (<u64>h.address.family << 56))) this.applyStopRule(false, h.address);
      this.stopAnnouncing(h.address);
    }
    const agent = h.agent;
    if (agent) node.dropSessionPeer(agent);
    // 8.18: the lease moves on with a further transfer or a return; otherwise the session ended here: release it.
    const l = h.lease;
    if (l) {
      if (reason == "transferred-further" || reason == "returned") this.addresses.handOff(l, now);
      else this.addresses.release(l.session, now);
      h.lease = null;
    }
    const e = this.event("ended", ROLE_TARGET, h.address, now);
    e.key("reason");
    e.str(reason);
    if (err) {
      e.key("error");
      e.str(errorName(err));
    }
    node.emit(endEvent());
  }

  // ---- agent: Transfer Request (8.2, 8.6) ------------------------------------------------

  private onTransferRequest(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    const d = node.incoming;
    const o = node.options;
    const a = addressOf(d, EXT_TRANSFERRED_ADDRESS);
    const flags = d.flagsCode;
    if (!o.sidAgent) return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_ADMINISTRATIVELY_PROHIBITED, "this node is not an agent: set the sidAgent option", now);
    if (flags & FLAG_PER_FLOW) return this.flows.transferRequest(node, peer, sa, cache, a, flags, now);
    const table = this.bindings();
    // A request under a binding's session SA is a further transfer by its current target (8.6).
    const further = sa.seals;
    let r = table.find(a);
    if (further) {
      if (r && this.isReturn(r, d)) return this.returnBinding(r, peer, sa, cache, now);
      if (r && (bFlags(r) & B_RETURNING)) return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_UNKNOWN_BINDING, "the binding is being returned to its node (8.6): it takes no further transfer", now);
      if (!r || !(bFlags(r) & FLAG_FURTHER_TRANSFER)) return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_TRANSFER_NOT_PERMITTED, "the binding does not permit a further transfer: the node must transfer with F", now);
    } else {
      if (!peer.configured(a)) return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_ADMINISTRATIVELY_PROHIBITED, "the peer is not configured to own this address here (peer_add_address)", now);
      if (r) return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_ADDRESS_IN_USE, "the address is bound to a target already: stop that transfer first", now);
      if (this.flows.group(a)) return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_ADDRESS_IN_USE, "flows of the address are transferred (per-flow mode): stop them first", now);
    }
    // The session key: wrapped under the node's SA, or (8.6) under the binding's session key.
    const wrapSpi = wrapSpiOf(d);
    let wrapKey = new StaticArray<u8>(0);
    if (further) {
      if (wrapSpi == sa.spi) wrapKey = sa.raw;
    } else {
      const w = peer.findSa(wrapSpi);
      if (w) wrapKey = w.raw;
    }
    if (!unwrapSessionKey(d, wrapKey, KEY_BUF)) return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_SESSION_KEY_REJECTED, "the session key did not unwrap: the Wrap SPI must name the SA (or, further, the session SPI)", now);
    toBindingKey(KEY_BUF); // 8.11: the binding keeps K_b, derived once, in place of the session key
    const target = addressOf(d, EXT_TARGET_ADDRESS);
    if (target.family != a.family || !node.acceptsPeerAddress(target)) {
      memory.fill(KEY_BUF, 0, 32);
      return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_ADDRESS_NOT_ALLOWED, "the target address is not a usable unicast address of the transferred address's family", now);
    }
    const requested = lifetimeOf(d, o.sidMaxLifetimeS);
    if (requested == 0) {
      memory.fill(KEY_BUF, 0, 32);
      return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_POORLY_FORMED_REQUEST, "a Transfer Request asks for a lifetime above 0", now);
    }
    const vni = ids(KEY_BUF);
    if (this.vnis.has(vni) && !(further && r && bVni(r) == vni)) {
      memory.fill(KEY_BUF, 0, 32);
      return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_INSUFFICIENT_RESOURCES, "the session key's VNI is in use by another binding: negotiate a new session key", now);
    }
    // A further transfer: the old target's tunnel goes once the new one stands (below: make before
    // break, so the address is never without a tunnel); the proxy entry and the node stay.
    const old = new Address();
    let oldReverse = false;
    if (further) {
      bTarget(r, old);
      oldReverse = (bFlags(r) & FLAG_REVERSE_TUNNEL) != 0;
      memory.copy(OLD_KEY, bKey(r), 32);
      this.vnis.delete(bVni(r));
    } else {
      // 8.4: a hold for the address's last Wake-up gives way to the new claim.
      this.endWakeHold(a, now);
      r = table.insert(a);
      if (!r) {
        memory.fill(KEY_BUF, 0, 32);
        return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_INSUFFICIENT_RESOURCES, "the binding table is full (option sidBindings)", now);
      }
      bSetNodePeer(r, peer.id);
      if (d.has(EXT_LINK_LAYER_ADDRESS)) {
        const ll = d.first(EXT_LINK_LAYER_ADDRESS);
        if (load<u8>(ll + 1) == 8) {
          memory.copy(bMac(r), ll + 4, 6);
          bSetHasMac(r, true);
        }
      }
      if (d.has(EXT_INTERIM_ADDRESS)) this.interims.set(a.key(), addressOf(d, EXT_INTERIM_ADDRESS));
    }
    memory.copy(bKey(r), KEY_BUF, 32);
    memory.fill(KEY_BUF, 0, 32);
    bSetSpi(r, sessionSpiOf(d));
    bSetVni(r, vni);
    bSetTarget(r, target);
    // The permission and the return mode are the latest request's (a further transfer restates them).
    bSetFlags(r, flags & (FLAG_FURTHER_TRANSFER | FLAG_REVERSE_TUNNEL));
    this.setTargetCookie(r, 0);
    const granted = requested < o.sidMaxLifetimeS ? requested : o.sidMaxLifetimeS;
    const expires = now + <f64>granted * 1000;
    this.bindings().expireAt(r, expires);
    this.node.timers.armBy(this.expiryTimer, expires);
    this.vnis.add(vni);
    // Claim the address (8.2 step 5), in two parts (8.12): first the tunnel (its filters, link and route:
    // what the target's release and the node's hand-on need); when those are done, claimMade sends the
    // agent's own Binding Ack, then the announcements and the proxy entry.
    const claim = new Claim(this, a, ROLE_AGENT, bSpi(r));
    claim.notice = true;
    claim.announce = !further;
    claim.granted = granted;
    claim.target = target;
    this.actionOwner = claim;
    this.tunnel(true, ROLE_AGENT, bKey(r), target, a, (flags & FLAG_REVERSE_TUNNEL) != 0);
    this.actionOwner = null;
    if (further) {
      // The new route for the address replaced the old one; removing the old link leaves it alone.
      this.tunnel(false, ROLE_AGENT, OLD_KEY, old, a, oldReverse);
      memory.fill(OLD_KEY, 0, 32);
    }
    this.reply(peer, sa, cache, CODE_ACCEPTED, <i32>granted, null, now);
    const e = this.event("bound", ROLE_AGENT, a, now);
    e.key("target");
    target.json(e);
    e.key("lifetime");
    e.num(granted);
    e.key("further");
    e.boolean(further);
    node.emit(endEvent());
    if (claim.pendingActions == 0) this.claimMade(claim, now);
  }

  /**
   * 8.12: the first part of the agent's claim is done (the tunnel's filters,
   * link and route stand: what the target's release and the node's hand-on
   * need). Now the agent's own Binding Ack leaves, then the second part: the
   * gratuitous ARP and the proxy entry (owned by a Claim marked `noticed`),
   * and a Binding Update kept before the binding is answered.
   */
  claimMade(c: Claim, now: f64): void {
    if (c.role != ROLE_AGENT || !c.notice) return;
    c.notice = false;
    const a = c.address;
    const r = this.table ? this.bindings().find(a) : 0;
    if (!r || bSpi(r) != c.spi) return; // ended or replaced meanwhile
    this.noticeTarget(r, c.granted, c.target!);
    if (c.announce) {
      this.announce(a, now);
      const rest = new Claim(this, a, ROLE_AGENT, c.spi);
      rest.noticed = true;
      rest.target = c.target;
      this.actionOwner = rest;
      a.store(ADDR_A);
      this.netlink(proxyNeighbour(true, this.ifindex, a.family, ADDR_A));
      this.actionOwner = null;
    }
    this.verifyParked(this.node, a, now);
  }

  /**
   * 8.12, the 1-RTT order: at the binding the agent sends the target a
   * Binding Ack of its own (sealed under K_down of the new binding key, like
   * any Binding Ack; its own random sequence number in the first quarter of
   * epoch 1 and a random Replay Protect ID, so no nonce of its Acks to Binding
   * Updates repeats), to the Target Address's control port: the target knows
   * the address is delivered half a round trip after the binding, without
   * waiting for the answer to its own first Binding Update. It is not
   * retransmitted: the target's Binding Update is the fallback.
   */
  private noticeTarget(r: usize, granted: u32, target: Address): void {
    const node = this.node;
    const sa = sessionSa(bSpi(r), bKey(r), SEAL_UP, SEAL_DOWN);
    drbg.fill(NOTICE_BUF, 12);
    const seq = load<u32>(NOTICE_BUF) & 0x3fff;
    const enc = node.beginNotice(MSG_BINDING_ACK, CODE_ACCEPTED, seq, load<u32>(NOTICE_BUF + 4), load<u32>(NOTICE_BUF + 8));
    // (as every Binding Ack: no Transferred Address; the target finds its hosting by the Session SPI)
    enc.markSealed();
    enc.lifetime(granted);
    node.finishNotice(sa, 0x10000 | seq, target, node.options.controlPort);
  }

  /** A Binding Update for a that came first is verified now, under the new key (8.12). Last: it reuses node.incoming. */
  verifyParked(node: Node, a: Address, now: f64): void {
    this.expireParked(now);
    const p = this.takeParked(a);
    if (p) {
      // Verified once: what does not verify under the binding's key now is dropped, not kept again.
      this.reinjecting = true;
      node.handleDatagram(now, p.from, p.port, changetype<usize>(p.bytes), p.bytes.length);
      this.reinjecting = false;
    }
  }

  /** 8.6: a further transfer to the binding's own node (its Target Address is the node's control address) is a return. */
  private isReturn(r: usize, d: Decoded): bool {
    if (!d.has(EXT_TARGET_ADDRESS)) return false;
    const id = bNodePeer(r);
    const peers = this.node.peers;
    return id >= 0 && id < peers.length && addressOf(d, EXT_TARGET_ADDRESS).equals(peers[id].control);
  }

  /**
   * A return (8.6): no F needed (the current target could end the binding by
   * deregistering anyway); answered with Lifetime 0, then the binding ends
   * and the node gets its Wake-up, which is its signal to take the address back.
   */
  private returnBinding(r: usize, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    // Make before break: the binding stays (RETURNING) until the node acknowledges the Wake-up.
    if (bFlags(r) & B_RETURNING) {
      // A new request for a return under way: the same answer, nothing changes.
      this.reply(peer, sa, cache, CODE_ACCEPTED, 0, null, now);
      return;
    }
    const a = new Address();
    bAddress(r, a);
    // The tunnel, the proxy entry and the binding key stay: the address's packets still go to the target,
    // whose sockets are open until it hands the UDP flows over, until the node has announced the address.
    bSetFlags(r, bFlags(r) | B_RETURNING);
    const expires = now + RETURN_HOLD_MS;
    this.bindings().expireAt(r, expires);
    this.node.timers.armBy(this.expiryTimer, expires);
    this.reply(peer, sa, cache, CODE_ACCEPTED, 0, null, now);
    this.event("returning", ROLE_AGENT, a, now);
    this.node.emit(endEvent());
    const key = a.key();
    const w = this.wake(a, bNodePeer(r), bHasMac(r), bMac(r), this.interims.has(key) ? this.interims.get(key) : null, now);
    if (w) {
      w.returning = true;
      this.returnWakeups.set(key, w);
    } else this.endBinding(r, now, false, "returned");
  }

  /** A returned binding's tunnel goes at the end of its linger (8.6). */
  endLinger(l: LingeringTunnel): void {
    const i = this.lingering.indexOf(l);
    if (i < 0) return;
    this.lingering.splice(i, 1);
    this.tunnel(false, ROLE_AGENT, changetype<usize>(l.key), l.target, l.address, l.reverse);
    this.vnis.delete(l.vni);
    memory.fill(changetype<usize>(l.key), 0, 32);
  }

  /** A return's Wake-up was acknowledged (or given up): the RETURNING binding is released (8.6). */
  returnAcked(w: Wakeup, reason: string, now: f64): void {
    const key = w.address.key();
    if (!this.returnWakeups.has(key) || this.returnWakeups.get(key) != w) return;
    this.returnWakeups.delete(key);
    const r = this.table ? this.bindings().find(w.address) : 0;
    if (r && (bFlags(r) & B_RETURNING)) this.endBinding(r, now, false, reason);
  }

  // ---- agent: Binding Update (8.3) -------------------------------------------------------

  /** a's record: the one sessionSa keyed sa from when it still holds a (one lookup per renewal), else a lookup. */
  private bindingOf(sa: SecurityAssociation, a: Address): usize {
    const r = this.bindingSaRecord;
    this.bindingSaRecord = 0;
    if (r && sa === this.bindingSa && bHolds(r, a)) return r;
    return this.bindings().find(a);
  }

  private onBindingUpdate(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    const d = node.incoming;
    const o = node.options;
    const ta = d.first(EXT_TRANSFERRED_ADDRESS);
    const a = LOOKUP;
    a.load(load<u8>(ta + 2), ta + 3);
    const r = this.table ? this.bindingOf(sa, a) : 0;
    // Only a binding's own session SA reaches here: sessionSa matched the address and its SPI.
    if (!r) {
      const own = addressOf(d, EXT_TRANSFERRED_ADDRESS);
      if (this.flows.bindingUpdate(node, peer, sa, cache, own, now)) return;
      return this.refuse(ROLE_AGENT, own, peer, sa, cache, CODE_UNKNOWN_BINDING, "no binding for this address under this SA", now);
    }
    this.setTargetCookie(r, peer.cookie);
    // A binding being returned (8.6) is renewed and ended by the node's Wake-up Ack alone.
    if (bFlags(r) & B_RETURNING) return this.refuse(ROLE_AGENT, a.copy(), peer, sa, cache, CODE_UNKNOWN_BINDING, "the binding is being returned to its node (8.6)", now);
    const asked = lifetimeOf(d, 0);
    if (asked == 0) {
      // 8.4: the Wake-up hold stands before the target has the Ack (it gives the address up then): what the
      // agent's tunnel would still carry to it from here on waits for the node instead.
      const id = bNodePeer(r);
      if (id >= 0 && id < node.peers.length) this.holdForWake(a.copy());
      this.reply(peer, sa, cache, CODE_ACCEPTED, 0, null, now);
      this.endBinding(r, now, true, "deregistered");
      return;
    }
    const granted = asked < o.sidMaxLifetimeS ? asked : o.sidMaxLifetimeS;
    const expires = now + <f64>granted * 1000;
    this.bindings().expireAt(r, expires);
    this.node.timers.armBy(this.expiryTimer, expires);
    this.reply(peer, sa, cache, CODE_ACCEPTED, <i32>granted, null, now);
    // The "renewed" event in binary (docs/ABI.md RENEWED): the host makes the same event of it, no JSON text per renewal.
    node.emit(renewedOutput(a, <u32>granted, now));
  }

  /** Ends a binding (8.4): interception stops, every kernel action is undone; then the Wake-up unless stopped. */
  private endBinding(r: usize, now: f64, wake: bool, reason: string): void {
    const node = this.node;
    const a = new Address();
    bAddress(r, a);
    const target = new Address();
    bTarget(r, target);
    const reverse = (bFlags(r) & FLAG_REVERSE_TUNNEL) != 0;
    const returning = (bFlags(r) & B_RETURNING) != 0;
    if (returning) {
      // A return's binding ends another way (Stop Transfer, expiry): its Wake-up goes with it.
      const key = a.key();
      if (this.returnWakeups.has(key)) {
        node.cancelRequests(this.returnWakeups.get(key));
        this.returnWakeups.delete(key);
      }
      wake = false;
    }
    const nodeId = bNodePeer(r);
    // 8.4: with a Wake-up to send, the claim's proxy entry stays until its Ack (endWakeHold), as a return's does (8.6).
    const holds = wake && !returning && nodeId >= 0 && nodeId < node.peers.length;
    a.store(ADDR_A);
    if (!holds) this.netlink(proxyNeighbour(false, this.ifindex, a.family, ADDR_A));
    const hasMac = bHasMac(r);
    memory.copy(changetype<usize>(WAKE_MAC), bMac(r), 6);
    // 8.4: with a Wake-up to send, the address's packets that still come here wait for its Ack in a queue (before
    // the routing decision); the claim (proxy entry, tunnel and its route) stands until then.
    if (holds) this.holdForWake(a);
    if (holds) {
      const l = new LingeringTunnel(this, bKey(r), target, a, reverse, bVni(r));
      this.lingering.push(l);
      this.wakeTunnels.set(a.key() ^ (<u64>a.family << 56), l);
    } else if (returning) {
      // 8.6: the tunnel lingers (its VNI stays taken): what the old target still sends, and a packet still on
      // its way to this node, get through; it goes at the end of the linger.
      const l = new LingeringTunnel(this, bKey(r), target, a, reverse, bVni(r));
      this.lingering.push(l);
      node.timers.arm(l, now + TUNNEL_LINGER_MS);
    } else {
      this.tunnel(false, ROLE_AGENT, bKey(r), target, a, reverse);
      this.vnis.delete(bVni(r));
    }
    this.stopAnnouncing(a);
    this.setTargetCookie(r, 0);
    this.bindings().remove(r);
    const key = a.key();
    const interim = this.interims.has(key) ? this.interims.get(key) : null;
    if (interim) this.interims.delete(key);
    const e = this.event("ended", ROLE_AGENT, a, now);
    e.key("reason");
    e.str(reason);
    node.emit(endEvent());
    if (wake) {
      const w = this.wake(a, nodeId, hasMac, changetype<usize>(WAKE_MAC), interim, now);
      if (w && holds) w.holds = true;
      else if (holds) this.endWakeHold(a, now);
    }
  }

  /**
   * Sends the node the Wake-up for binding r (8.4): to its Interim Address, or as a frame to its
   * link-layer address, or to its control address. Null if the binding names no node peer.
   */
  private wake(a: Address, nodeId: i32, hasMac: bool, mac: usize, interim: Address | null, now: f64): Wakeup | null {
    const node = this.node;
    if (nodeId < 0 || nodeId >= node.peers.length) return null;
    const peer = node.peers[nodeId];
    const w = new Wakeup(this, a, ROLE_AGENT);
    if (interim) {
      node.sendRequest(now, peer, MSG_WAKE_UP, 0, w, interim, peer.controlPort, null);
    } else if (hasMac) {
      // 8.14: a frame to the node's link-layer address; the agent's own ARP table would answer itself.
      const route = new FrameRoute();
      memory.copy(changetype<usize>(route.dstMac), mac, 6);
      route.ifindex = this.ifindex;
      memory.copy(changetype<usize>(route.srcMac), changetype<usize>(this.mac), 6);
      route.src.set(this.address);
      route.srcPort = node.options.controlPort;
      node.sendRequest(now, peer, MSG_WAKE_UP, 0, w, a, peer.controlPort, null, route);
    } else {
      node.sendRequest(now, peer, MSG_WAKE_UP, 0, w, peer.control, peer.controlPort, null);
    }
    return w;
  }

  /** The agent's Wake-up to the node's Interim Address (8.4). */
  sendWakeup(peer: Peer, a: Address, interim: Address, now: f64): void {
    const w = new Wakeup(this, a, ROLE_AGENT);
    w.interim = interim.copy();
    this.node.sendRequest(now, peer, MSG_WAKE_UP, 0, w, interim, peer.controlPort, null);
  }

  // ---- Stop Transfer (8.5; with S, at the target) ------------------------------------------

  private onStop(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    const d = node.incoming;
    const a = addressOf(d, EXT_TRANSFERRED_ADDRESS);
    const h = this.findHosted(a);
    if (h && h.sameSubnet && h.node == peer) {
      this.reply(peer, sa, cache, CODE_ACCEPTED, -1, null, now);
      this.event("stopped", ROLE_TARGET, a, now);
      node.emit(endEvent());
      this.endHosted(h, "stopped", 0, now);
      return;
    }
    const g = this.flows.group(a);
    if (g) return this.flows.stop(node, peer, sa, cache, g, now);
    const r = this.table ? this.bindings().find(a) : 0;
    if (!r) return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_UNKNOWN_BINDING, "no binding for this address", now);
    // Only the node that owns the address may stop it (never a target under a session SA).
    if (sa.seals || !peer.configured(a)) return this.refuse(ROLE_AGENT, a, peer, sa, cache, CODE_ADMINISTRATIVELY_PROHIBITED, "only the node configured to own the address may stop its transfer", now);
    this.reply(peer, sa, cache, CODE_ACCEPTED, -1, null, now);
    this.event("stopped", ROLE_AGENT, a, now);
    node.emit(endEvent());
    this.endBinding(r, now, false, "stopped");
  }

  // ---- transferring node: Wake-up (8.4) ----------------------------------------------------

  private onWakeup(node: Node, peer: Peer, sa: SecurityAssociation, cache: CachedReply | null, now: f64): void {
    const d = node.incoming;
    const a = addressOf(d, EXT_TRANSFERRED_ADDRESS);
    const t = this.findTransferIn(a, TRANSFERRED);
    // Only from the agent of the transfer (or, with S, its target), under their configured SA.
    const from = t ? (t.agent ? t.agent : t.target) : null;
    if (!t && !sa.seals) {
      // 8.2: the agent ended a binding it granted before the transfer completed (its claim failed):
      // the transfer fails once the target's answer and the record's outcome are in.
      const p = this.findTransfer(a);
      if (p && p.agent == peer && !p.hosted && !p.abandoned && p.request == 1 && p.state != TRANSFERRED) {
        p.request = 2;
        p.refusedCode = 0;
        p.agentEnded = true;
        this.announce(a, now);
        this.reply(peer, sa, cache, CODE_ACCEPTED, -1, null, now);
        if (p.state != NEGOTIATING) this.transferStep(p, now);
        return;
      }
    }
    if (!t || from != peer || sa.seals) return this.refuse(ROLE_NODE, a, peer, sa, cache, CODE_UNKNOWN_BINDING, "no transfer of this address to that peer", now);
    const h = this.findHosted(a);
    const back: Hosted | null = h != null && h.returning ? h : null;
    if (back) {
      // A return (8.6): the address answers here again; its traffic waits for the restored socket.
      this.applyArpRule(false, a, 0, false);
      this.announce(a, now);
      back.woken = true;
    } else if (t.flows) {
      this.reclaimFlows(a, now);
    } else {
      this.reclaim(a, now);
    }
    // A return whose record is in (8.6 step 4, 8.7 step 5): the socket resumes and the stop rule goes before the
    // Ack, so that what the old target copies on at the Ack (8.7) meets the live socket here, not the stop rule.
    const finish = back != null && back.state == RETURNING;
    if (!finish) this.reply(peer, sa, cache, CODE_ACCEPTED, -1, null, now);
    if (!t.flows) this.addresses.cameBack(a, back != null, now);
    const e = this.event("woken", ROLE_NODE, a, now);
    e.key("elapsedMs");
    e.num(<u64>Math.round(now - t.startedAt));
    if (back) {
      e.key("returned");
      e.boolean(true);
    }
    node.emit(endEvent());
    this.forgetTransfer(t);
    if (finish) {
      this.finishReturn(back!, now);
      this.reply(peer, sa, cache, CODE_ACCEPTED, -1, null, now);
    }
  }

  /** The node claims its address again: its ARP and stop rules go, gratuitous ARP (8.4). */
  reclaim(a: Address, now: f64): void {
    this.applyArpRule(false, a, 0, false);
    this.applyStopRule(false, a);
    this.announce(a, now);
  }

  /**
   * Per-flow mode (8.16): the address comes back (Wake-up, or the Stop Transfer
   * Reply for every flow set): the flow sets' stop rules and the ARP rule go,
   * gratuitous ARP, and the Interim Address returns to the pool with the last
   * transferred flow set. A per-flow transfer still under way stays.
   */
  reclaimFlows(a: Address, now: f64): void {
    const t0 = this.findTransferIn(a, TRANSFERRED);
    const i = t0 ? t0.interim : null;
    if (i) this.flows.applyArpRewrite(false, a, i);
    this.applyArpRule(false, a, 0, false);
    this.announce(a, now);
    for (let i = this.transfers.length - 1; i >= 0; i--) {
      const t = this.transfers[i];
      if (!t.address.equals(a) || !t.flows || t.state != TRANSFERRED) continue;
      if (!t.stopped) t.stopRule(false);
      this.forgetTransfer(t);
    }
  }

  // ---- the application's calls ---------------------------------------------------------------

  transfer(now: f64, a: Address, target: Peer, agent: Peer | null, flags: u8, lifetime: u32): i32 {
    if (this.findTransfer(a)) return -ERR_BUSY;
    if (!drbg.seeded) return -ERR_NOT_SEEDED;
    const tsa = target.sendSa();
    if (!tsa || tsa.raw.length < 16) return -ERR_CONFIG;
    if (flags & ~(FLAG_FURTHER_TRANSFER | FLAG_REVERSE_RETURN)) return -ERR_CONFIG;
    const h = this.findHosted(a);
    let agentPeer = agent;
    if (h) {
      // 8.6: the target moves the session on, through the same agent, under its session SA;
      // 8.7: on the same subnet only back to the node it came from, with no agent.
      if (h.state != BOUND) return -ERR_BUSY;
      if (h.sameSubnet) {
        if (target != h.node || agent != null || h.returning) return -ERR_BUSY;
      } else if (!h.agent) return -ERR_BUSY;
      // Without F only a return (to the node the address came from) may follow: refused here,
      // before a negotiation the agent would refuse with the same code (8.6).
      if (!(h.flags & FLAG_FURTHER_TRANSFER) && target != h.node) {
        this.refused(ROLE_NODE, a, CODE_TRANSFER_NOT_PERMITTED, 0, "the transfer here did not permit a further transfer (F): only a return to the node it came from", now);
        return 0;
      }
      agentPeer = h.agent;
    } else if (agent) {
      const asa = agent.sendSa();
      if (!asa || asa.raw.length < 16) return -ERR_CONFIG;
    }
    const t = new Transfer(this, a, target, agentPeer, flags, lifetime ? lifetime : this.node.options.sidLifetimeS, now);
    t.hosted = h;
    // 8.16: a flow set's return to its node lists its flows (P); a further transfer of it stays refused by the agent (140).
    if (h && h.flows && target == h.node) t.flows = h.flows;
    t.recordFirst = h != null || this.udpPassOf(a).length > 0;
    this.transfers.push(t);
    if (!t.send(this.node, MSG_TRANSFER_NEGOTIATION_REQUEST, now)) {
      this.forgetTransfer(t);
      return -ERR_CONFIG;
    }
    // 8.2: the Transfer Request goes with the negotiation; a further transfer's (8.6) and one with UDP
    // flows (recordFirst) after the delivered record.
    if (agentPeer && !t.recordFirst && !t.sendAsk(this.node, now)) {
      this.forgetTransfer(t);
      return -ERR_CONFIG;
    }
    // 8.12, the 1-RTT order: the record leaves with the negotiation (a whole address, through an agent).
    if (agentPeer && !t.recordFirst && !h) t.stopAtCall(this.node, now);
    return 0;
  }

  stop(now: f64, a: Address): i32 {
    const t = this.findTransfer(a);
    if (t && t.flows) return this.stopFlows(now, a, 0);
    if (!t || t.state != TRANSFERRED || t.hosted) return -ERR_REFUSED;
    // 8.12: the agent is about to give the address up: nothing more is handed on to it.
    this.endHandOn(a);
    return t.send(this.node, MSG_STOP_TRANSFER, now) ? 0 : -ERR_CONFIG;
  }

  /**
   * Per-flow mode (8.16): Stop Transfer for the flow set of session SPI `spi`
   * (its flows listed), or with spi 0 for every flow set of the address.
   */
  stopFlows(now: f64, a: Address, spi: u32): i32 {
    let t: Transfer | null = null;
    for (let i = 0; i < this.transfers.length; i++) {
      const o = this.transfers[i];
      if (!o.address.equals(a) || !o.flows || o.state != TRANSFERRED || o.stopped) continue;
      if (spi == 0 || o.spi == spi) {
        t = o;
        break;
      }
    }
    if (!t) return -ERR_REFUSED;
    t.stopsOne = spi != 0;
    return t.send(this.node, MSG_STOP_TRANSFER, now) ? 0 : -ERR_CONFIG;
  }

  /**
   * Per-flow mode (8.16): moves the flows of address a (their local address)
   * to the target through the agent; the address's other flows stay here
   * through its Interim Address (from the pool, or the one its other flow
   * sets use).
   */
  transferFlows(now: f64, a: Address, flows: Array<Flow>, target: Peer, agent: Peer, flags: u8, lifetime: u32): i32 {
    if (!drbg.seeded) return -ERR_NOT_SEEDED;
    if (flags & ~(FLAG_REVERSE_RETURN)) return -ERR_CONFIG;
    const tsa = target.sendSa();
    const asa = agent.sendSa();
    if (!tsa || tsa.raw.length < 16 || !asa || asa.raw.length < 16) return -ERR_CONFIG;
    if (this.findHosted(a)) return -ERR_BUSY;
    let interim: Address | null = null;
    for (let i = 0; i < this.transfers.length; i++) {
      const o = this.transfers[i];
      if (!o.address.equals(a)) continue;
      const other = o.flows;
      // A whole-address transfer, or another per-flow transfer still under way: one at a time.
      if (!other || o.state != TRANSFERRED || o.agent != agent) return -ERR_BUSY;
      if (!o.stopped) {
        for (let k = 0; k < other.length; k++) for (let j = 0; j < flows.length; j++) if (other[k].equals(flows[j])) return -ERR_BUSY;
      }
      interim = o.interim;
    }
    interim = this.flows.takeInterim(a, interim);
    if (!interim) return -ERR_BUSY;
    const t = new Transfer(this, a, target, agent, flags, lifetime ? lifetime : this.node.options.sidLifetimeS, now);
    t.flows = flows;
    t.interim = interim;
    this.transfers.push(t);
    if (!t.send(this.node, MSG_TRANSFER_NEGOTIATION_REQUEST, now) || !t.sendAsk(this.node, now)) {
      this.forgetTransfer(t);
      return -ERR_CONFIG;
    }
    return 0;
  }

  stateDelivered(now: f64, a: Address, ok: bool): i32 {
    const t = this.findTransferIn(a, DELIVERING);
    if (!t) {
      // 8.12, the 1-RTT order: the record's outcome may come before the negotiation's reply.
      const n = this.findTransferIn(a, NEGOTIATING);
      if (!n || !n.early || n.delivery != 0 || n.abandoned) return -ERR_REFUSED;
      n.delivery = ok ? 1 : 2;
      if (!ok) {
        // The negotiation is given up (its reply would find the address taken back); the agent's binding undone.
        this.node.cancelRequests(n);
        n.early = false;
        n.state = DELIVERING;
        this.transferStep(n, now);
      }
      return 0;
    }
    t.delivery = ok ? 1 : 2;
    if (t.sameSubnet) {
      if (!ok) {
        t.stopRule(false);
        this.refused(ROLE_NODE, a, 0, ERR_REFUSED, "the state record could not be delivered: the address stays here", now);
        this.forgetTransfer(t);
        return 0;
      }
      // 8.7: no agent; the target claims the address itself. A return (8.7): the node claims it at this node's Wake-up.
      t.transferred(this.node, t.hosted ? 0 : t.lifetime, now);
      return 0;
    }
    if (t.hosted && t.flows) {
      // 8.16, a per-flow return: the node ends the flow set at the agent itself once it has the record.
      if (!ok) {
        t.stopRule(false);
        this.refused(ROLE_NODE, a, 0, ERR_REFUSED, "the state record could not be delivered: the flow set stays here", now);
        this.forgetTransfer(t);
        return 0;
      }
      t.transferred(this.node, 0, now);
      return 0;
    }
    if (t.recordFirst && !t.sameSubnet && t.request == 0) {
      // 8.6: a further transfer's Transfer Request goes only now; so does one with UDP flows.
      if (!ok) {
        t.stopRule(false);
        this.refused(ROLE_NODE, a, 0, ERR_REFUSED, "the state record could not be delivered: the address stays here", now);
        this.forgetTransfer(t);
        return 0;
      }
      t.state = REQUESTING;
      if (!t.send(this.node, MSG_TRANSFER_REQUEST, now)) {
        t.stopRule(false);
        this.forgetTransfer(t);
        return -ERR_CONFIG;
      }
      return 0;
    }
    if (t.request == 0 && ok) t.state = REQUESTING;
    this.transferStep(t, now);
    return 0;
  }

  /**
   * 8.2: the record's outcome and the agent's, in either order. Both good:
   * transferred. The agent refused: the refusal was reported; the stop rule
   * goes once the record's outcome is in too. The record failed: the address
   * stays here (the stop rule goes now, the host restores the socket), and a
   * binding the agent granted is undone with a Stop Transfer.
   */
  agentRefused(t: Transfer, now: f64): void {
    if (t.agentEnded) this.refused(ROLE_NODE, t.address, 0, ERR_REFUSED, "the agent ended the binding before the transfer completed (a kernel action of its claim failed?): the address stays here", now);
    else if (t.refusedCode) this.refused(ROLE_NODE, t.address, t.refusedCode, 0, "the agent refused the transfer: the node must own the address there (peer_add_address), and a further transfer needs F", now);
    else this.refused(ROLE_NODE, t.address, 0, ERR_TIMED_OUT, "no answer from the agent: check that the peer runs SID and that its control port is reachable", now);
  }

  transferStep(t: Transfer, now: f64): void {
    if (t.delivery == 0) return;
    if (t.request == 2) {
      // The agent refused (or did not answer): reported now, once the record's outcome is in too.
      this.agentRefused(t, now);
      t.stopRule(false);
      this.forgetTransfer(t);
      return;
    }
    if (t.delivery == 1) {
      if (t.request == 1) t.transferred(this.node, t.granted, now);
      return;
    }
    if (t.abandoned) return;
    t.stopRule(false);
    this.refused(ROLE_NODE, t.address, 0, ERR_REFUSED, "the state record could not be delivered: the address stays here", now);
    t.abandoned = true;
    if (t.request == 1 && !t.sendStop(this.node, now)) this.forgetTransfer(t);
    // request 0: the Transfer Reply (or its timeout) comes to the abandoned transfer, which sends the Stop Transfer then.
  }

  stateReceived(now: f64, a: Address, ok: bool): i32 {
    const h = this.findHosted(a);
    if (!h || h.recordIn || (h.state != NEGOTIATED && h.state != REGISTERING && h.state != BOUND)) return -ERR_REFUSED;
    if (!ok) {
      this.endHosted(h, "state-record-failed", ERR_REFUSED, now);
      return 0;
    }
    h.recordIn = true;
    if (h.returning) {
      h.state = RETURNING;
      const ft = h.returnOf;
      if (ft) {
        // 8.16: the flow set ends at the agent (Stop Transfer naming its flows); its reply resumes the socket.
        ft.returnTo = h;
        ft.stopsOne = true;
        if (!ft.send(this.node, MSG_STOP_TRANSFER, now)) ft.returnTo = null;
        return 0;
      }
      // 8.6: the socket is back in repair mode; it resumes at the agent's Wake-up (or now, if that came first).
      if (h.woken) this.finishReturn(h, now);
      return 0;
    }
    if (h.sameSubnet) {
      // 8.7: claim the address on the home link, and the socket may run at once.
      h.state = BOUND;
      this.announce(a, now);
      this.release(h, now);
      this.holdLease(h, now);
      this.event("bound", ROLE_TARGET, a, now);
      this.node.emit(endEvent());
      return 0;
    }
    // 8.12: the first Binding Update went at the negotiation; released once it is answered (now, if it was).
    if (h.state == BOUND) this.release(h, now);
    else if (h.state == NEGOTIATED) this.startRegistering(h, now);
    return 0;
  }

  /**
   * Target, per-flow mode (8.16, 8.13): one flow of a flow set held here has
   * ended; when every one has, the binding is deregistered as at the session's end.
   */
  flowEnded(now: f64, f: Flow): i32 {
    for (let i = 0; i < this.hosted.length; i++) {
      const h = this.hosted[i];
      const flows = h.flows;
      if (!flows || !h.address.equals(f.local)) continue;
      for (let k = 0; k < flows.length; k++) {
        if (!flows[k].equals(f) || h.ended[k]) continue;
        h.ended[k] = true;
        if (h.ended.indexOf(false) >= 0) return 0;
        return this.sessionEnded(now, h.address);
      }
    }
    return -ERR_REFUSED;
  }

  sessionEnded(now: f64, a: Address): i32 {
    const h = this.findHosted(a);
    if (!h || (h.state != BOUND && h.state != REGISTERING)) return -ERR_REFUSED;
    const node = this.node;
    if (h.sameSubnet) {
      // 8.7: the target gives the address back itself: everything goes, then the Wake-up frame.
      const peer = h.node;
      const route = new FrameRoute();
      route.ifindex = this.ifindex;
      memory.copy(changetype<usize>(route.dstMac), changetype<usize>(h.nodeMac), 6);
      memory.copy(changetype<usize>(route.srcMac), changetype<usize>(this.mac), 6);
      route.src.set(this.address);
      route.srcPort = node.options.controlPort;
      this.endHosted(h, "session-ended", 0, now);
      node.sendRequest(now, peer, MSG_WAKE_UP, 0, new Wakeup(this, a, ROLE_TARGET), a, peer.controlPort, null, route);
      return 0;
    }
    // 8.18, 8.19: the last holder releases the lease now, while the tunnel to the home link still carries the
    // address's packets (the agent removes its end once the deregistration is through; a RELEASE sent after it is lost)
    const l = h.lease;
    if (l) {
      this.addresses.release(l.session, now);
      h.lease = null;
    }
    node.cancelRequests(h);
    h.state = DEREGISTERING;
    h.register(node, 0, now);
    return 0;
  }

  // ---- timers --------------------------------------------------------------------------------

  // In the engine's table (SidTimer): the bindings' expiry wheel and the flow sets by their
  // earliest time, the announcements, each hosted address's renewal and return. The address
  // registry (sid/addresses.ts, 8.18) keeps its own deadlines: the engine polls it (nextTimeout).

  nextTimeout(node: Node): f64 {
    return this.addresses.nextTimeout();
  }

  timeout(node: Node, now: f64): void {
    this.addresses.tick(now);
  }

  /** Bindings that were not renewed in time (8.3). */
  expireBindings(now: f64): void {
    const A = new Address();
    const bt = this.table;
    if (bt) {
      while (bt.popDue(now, A)) {
        const r = bt.find(A);
        if (r) this.endBinding(r, now, true, (bFlags(r) & B_RETURNING) ? "return-timed-out" : "expired");
      }
    }
    this.node.timers.arm(this.expiryTimer, bt ? bt.earliest() : Infinity);
  }

  /** A flow set's expiry may be as early as t (8.16): the timer fires by then and looks. */
  flowExpiresBy(t: f64): void {
    this.node.timers.armBy(this.flowsTimer, t);
  }

  expireFlows(now: f64): void {
    this.flows.expire(now);
    this.node.timers.arm(this.flowsTimer, this.flows.nextExpiry());
  }

  /** A flow set ended (8.16): the timer goes to the earliest of those left. */
  flowsChanged(): void {
    this.node.timers.arm(this.flowsTimer, this.flows.nextExpiry());
  }

  private stopTimers(h: Hosted): void {
    this.node.timers.disarm(h.renewTimer);
    this.node.timers.disarm(h.returnTimer);
  }

  /** A return whose record or Wake-up did not come (8.6). */
  returnDue(h: Hosted, now: f64): void {
    if (this.hosted.indexOf(h) < 0) return;
    if (h.state == RETIRED) {
      this.endHosted(h, "returned", 0, now);
      return;
    }
    this.refused(ROLE_NODE, h.address, 0, ERR_TIMED_OUT, "the return did not complete: the state record or the agent's Wake-up did not come", now);
    this.endHosted(h, "return-timed-out", ERR_TIMED_OUT, now);
  }

  /** Renewals (8.3: at two thirds of the lifetime). */
  renewDue(h: Hosted, now: f64): void {
    if (this.hosted.indexOf(h) < 0) return;
    if (h.state == BOUND && !h.busy && !h.sameSubnet) {
      h.renewAt = Infinity;
      h.register(this.node, h.lifetime, now);
    }
  }

  /** A claim's kernel action failed: the binding (agent) or the hosting (target) it was for ends. */
  claimFailed(c: Claim, now: f64): void {
    if (c.role == ROLE_AGENT) {
      const r = this.table ? this.bindings().find(c.address) : 0;
      if (!r || bSpi(r) != c.spi) {
        this.flows.claimFailed(c.address, c.spi, now); // a flow set's (8.16), or already gone or replaced
        return;
      }
      this.refused(ROLE_AGENT, c.address, 0, ERR_KERNEL, "a kernel action of the binding failed (see the kernel-error event): the binding ends", now);
      // 8.12: the agent's Binding Ack left before this part of the claim: the target hears that the binding is gone.
      if (c.noticed && c.target) this.noticeTarget(r, 0, c.target!);
      this.endBinding(r, now, true, "kernel-failed");
      return;
    }
    const h = this.findHosted(c.address);
    if (!h || h.spi != c.spi) return;
    this.refused(ROLE_TARGET, c.address, 0, ERR_KERNEL, "a kernel action of the hosting failed (see the kernel-error event): the address is given up here", now);
    this.endHosted(h, "kernel-failed", ERR_KERNEL, now);
  }

  // ---- the host's view -------------------------------------------------------------------------

  sessionInfo(a: Address, out: usize): i32 {
    memory.fill(out, 0, SESSION_INFO_SIZE);
    // Per-flow mode (8.16): the transfer whose state record is under way first, it is the one the host asks about.
    let t = this.findTransferIn(a, DELIVERING);
    if (!t) t = this.findTransfer(a);
    const h = this.findHosted(a);
    const r = this.table ? this.bindings().find(a) : 0;
    let key: usize = 0;
    // During a return (8.6) the node's own transfer stands too: the session being received is the return's.
    const back = h != null && h.returning;
    if (t && !back) {
      key = changetype<usize>(t.key);
      store<u32>(out + 32, t.spi);
      store<u8>(out + 56, ROLE_NODE);
      store<u8>(out + 57, t.state);
      store<u8>(out + 58, t.flags);
      store<i32>(out + 60, t.target.id);
    } else if (h) {
      key = changetype<usize>(h.key);
      store<u32>(out + 32, h.spi);
      store<u8>(out + 56, ROLE_TARGET);
      store<u8>(out + 57, h.state);
      store<u8>(out + 58, h.flags);
      store<i32>(out + 60, h.node.id);
    } else if (r) {
      key = bKey(r);
      store<u32>(out + 32, bSpi(r));
      store<u8>(out + 56, ROLE_AGENT);
      store<u8>(out + 57, (bFlags(r) & B_RETURNING) ? WAKING : ACTIVE);
      store<u8>(out + 58, bFlags(r) & ~B_RETURNING);
      store<i32>(out + 60, bNodePeer(r));
    } else {
      return -ERR_REFUSED;
    }
    memory.copy(out, key, 32);
    // The tunnel's identifiers come from the binding key (8.9, 8.11); the agent keeps only that one.
    let kb = key;
    if (t && !back) {
      bindingKey(key, SUB_BUF);
      kb = SUB_BUF;
    } else if (h) kb = changetype<usize>(h.bkey);
    const vni = ids(kb);
    memory.fill(SUB_BUF, 0, 32);
    store<u32>(out + 36, vni);
    store<u32>(out + 40, t && t.sameSubnet ? 0 : tunnelIfindex(vni));
    memory.copy(out + 44, IDS + 4, 6);
    memory.copy(out + 50, IDS + 10, 6);
    return SESSION_INFO_SIZE;
  }

  // ---- the agent's restart (8.17) ----------------------------------------------------------

  /**
   * The agent's bindings as bytes for the host to keep (8.17): "HSB", version
   * 1, the count (u32 LE), then per binding its table record (112 bytes) with
   * byte 0 set to 1 (reserved in the table), at 104 the highest sequence number accepted from its target (u64 LE, 0
   * none), at 94 the Interim Address's family (0 none), and 16 bytes more:
   * the Interim Address. Returns the length, or -ERR_BUFFER_TOO_SMALL.
   */
  saveBindings(out: usize, cap: i32): i32 {
    const t = this.table;
    const count = t ? t.count : 0;
    const n = SAVE_HEADER + count * SAVE_ENTRY;
    if (n > cap) return -ERR_BUFFER_TOO_SMALL;
    store<u32>(out, SAVE_MAGIC);
    store<u32>(out + SAVE_COUNT, <u32>count);
    if (!t) return n;
    let p = out + SAVE_HEADER;
    for (let i: u32 = 0; i < t.capacity; i++) {
      const r = t.at(i);
      if (!r) continue;
      memory.copy(p, r, <usize>BINDING_RECORD);
      // Byte 0 of a saved entry says "a binding" (1): in the table it is reserved (the slot's tag says it).
      store<u8>(p + SAVED_USED, 1);
      const c = bCookie(r);
      const sp = c != 0 ? this.node.findSessionPeer(c) : null;
      store<u64>(p + SAVED_WINDOW_TOP, sp && !sp.window.empty ? sp.window.top : 0);
      // (and the byte after it: the table's expiry bucket, which a restore files anew)
      store<u16>(p + SAVED_INTERIM_FAMILY, 0);
      memory.fill(p + SAVED_INTERIM, 0, 16);
      const a = new Address();
      bAddress(r, a);
      const k = a.key();
      if (this.interims.has(k)) {
        const ia = this.interims.get(k);
        store<u8>(p + SAVED_INTERIM_FAMILY, ia.family);
        ia.store(p + SAVED_INTERIM);
      }
      p += SAVE_ENTRY;
    }
    return n;
  }

  /**
   * A restarted agent takes its bindings over (8.17) from saveBindings'
   * bytes: only into an empty table, and only if every entry is sound (else
   * the error, and nothing changes). The kernel state of each binding (the
   * tunnel, the proxy entry, the filters) is the previous run's and stays as
   * it is: no kernel action. Expiry times are kept; a binding already expired
   * ends at the next timeout, with its Wake-up. Returns the count taken over.
   */
  restoreBindings(now: f64, p: usize, n: i32): i32 {
    if (n < SAVE_HEADER) return -ERR_RECORD_TRUNCATED;
    if (load<u32>(p) != SAVE_MAGIC) return -ERR_RECORD_VERSION;
    const count = <i32>load<u32>(p + SAVE_COUNT);
    if (count < 0 || count > (n - SAVE_HEADER) / SAVE_ENTRY + 1) return -ERR_RECORD_TRUNCATED;
    if (n < SAVE_HEADER + count * SAVE_ENTRY) return -ERR_RECORD_TRUNCATED;
    if (n > SAVE_HEADER + count * SAVE_ENTRY) return -ERR_RECORD_TRAILING_BYTES;
    const t = this.bindings();
    if (t.count != 0) return -ERR_BUSY;
    if (count > t.limit) return -ERR_BAD_VALUE;
    const peers = this.node.peers;
    // Everything is checked before anything changes.
    const seen = new Set<u64>();
    const vnis = new Set<u32>();
    const a = new Address();
    for (let i = 0; i < count; i++) {
      const e = p + SAVE_HEADER + <usize>(i * SAVE_ENTRY);
      const fam = bFamily(e);
      const ifam = load<u8>(e + SAVED_INTERIM_FAMILY);
      if (load<u8>(e + SAVED_USED) != 1 || !isValidFamily(fam) || (ifam != 0 && !isValidFamily(ifam))) return -ERR_BAD_FAMILY;
      const f = bExpires(e);
      if (!isFinite(f) || (bFlags(e) & ~(FLAG_FURTHER_TRANSFER | FLAG_REVERSE_TUNNEL | B_RETURNING)) != 0 || bHasMacByte(e) > 1) return -ERR_BAD_VALUE;
      bAddress(e, a);
      const k = a.key() ^ (<u64>fam << 56);
      const vni = bVni(e);
      if (seen.has(k) || vnis.has(vni) || this.vnis.has(vni) || vni != ids(bKey(e))) return -ERR_BAD_VALUE;
      seen.add(k);
      vnis.add(vni);
      const id = bNodePeer(e);
      if (id < 0 || id >= peers.length || !peers[id].configured(a)) return -ERR_UNKNOWN_PEER;
    }
    const target = new Address();
    for (let i = 0; i < count; i++) {
      const e = p + SAVE_HEADER + <usize>(i * SAVE_ENTRY);
      bAddress(e, a);
      const r = t.insert(a);
      memory.copy(r, e, <usize>BINDING_RECORD);
      store<u8>(r + SAVED_USED, 0);
      const c = bCookie(r);
      const top = load<u64>(r + SAVED_WINDOW_TOP);
      store<u64>(r + SAVED_WINDOW_TOP, 0);
      store<u8>(r + SAVED_INTERIM_FAMILY, 0);
      bSetCookieRaw(r, 0);
      this.setTargetCookie(r, c);
      bTarget(r, target);
      if (c != 0 && top != 0) {
        // The target's session peer with its replay window: no Binding Update of before counts again.
        const sp = this.node.sessionPeer(c, target, this.node.options.controlPort);
        sp.window.seed(top);
      }
      const ifam = load<u8>(e + SAVED_INTERIM_FAMILY);
      if (ifam != 0) this.interims.set(a.key(), Address.read(ifam, e + SAVED_INTERIM));
      this.vnis.add(bVni(r));
      t.expireAt(r, bExpires(r));
      this.node.timers.armBy(this.expiryTimer, bExpires(r));
      if (bFlags(r) & B_RETURNING) {
        // A return under way when the previous run stopped (8.6, 8.17): its Wake-up goes again.
        const k = a.key();
        const w = this.wake(a, bNodePeer(r), bHasMac(r), bMac(r), this.interims.has(k) ? this.interims.get(k) : null, now);
        if (w) {
          w.returning = true;
          this.returnWakeups.set(k, w);
        }
      }
    }
    const ev = this.event("restored", ROLE_AGENT, this.address, now);
    ev.key("bindings");
    ev.num(<u64>count);
    this.node.emit(endEvent());
    return count;
  }

  stateJson(out: TextOut, now: f64): void {
    out.objOpen();
    // The target's hold (sid/hold.ts): packets its queue took since start.
    out.key("held");
    out.num(SidHold.held);
    // The node's hold (8.12, "the hold at the node"): packets its queue took since start.
    out.key("nodeHeld");
    out.num(SidHold.nodeHeld);
    out.key("transfers");
    out.arrOpen();
    for (let i = 0; i < this.transfers.length; i++) {
      const t = this.transfers[i];
      out.objOpen();
      out.key("address");
      t.address.json(out);
      out.key("state");
      out.num(t.state);
      out.key("target");
      out.num(<u64>t.target.id);
      out.objClose();
    }
    out.arrClose();
    out.key("targets");
    out.arrOpen();
    for (let i = 0; i < this.hosted.length; i++) {
      const h = this.hosted[i];
      out.objOpen();
      out.key("address");
      h.address.json(out);
      out.key("state");
      out.num(h.state);
      out.key("released");
      out.boolean(h.released);
      out.objClose();
    }
    out.arrClose();
    this.flows.json(out);
    out.key("bindings");
    out.objOpen();
    out.key("count");
    out.num(this.table ? <u64>this.bindings().count : 0);
    out.key("limit");
    out.num(<u64>this.node.options.sidBindings);
    out.key("parked");
    out.num(<u64>this.parked.length);
    out.key("targets");
    out.num(<u64>this.bindingsOf.size);
    out.objClose();
    out.objClose();
  }
}

/** Session addresses (8.18) go on and off the home link beside the base address. */
class HomeLinkAliases extends AliasSink {
  sid: Sid;
  constructor(sid: Sid) {
    super();
    this.sid = sid;
  }
  alias(add: bool, a: Address, dad: bool): void {
    this.sid.netlink(addressMessageCopy(add, a, this.sid.ifindex, !dad, true));
  }
}

