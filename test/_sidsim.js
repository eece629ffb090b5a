// A SIMULATED network for SID (test/_sim.js plus link-layer frames): the
// transferring node, the agent and the target (and more) on a virtual clock.
// Frames the core sends (gratuitous ARP, the Wake-up) are recorded; a frame
// that carries UDP is delivered to the node whose MAC it is addressed to.
import { SimNet, SimNode, PORT } from "./_sim.js";
import { SidEngine } from "../dist/hosts/shared/index.js";

export { PORT };

function ack(request, errno = 0) {
  const b = new Uint8Array(36);
  const v = new DataView(b.buffer);
  v.setUint32(0, 36, true);
  v.setUint16(4, 2, true);
  v.setUint32(8, new DataView(request.buffer, request.byteOffset).getUint32(8, true), true);
  v.setInt32(16, -errno, true);
  b.set(request.subarray(0, 16), 20);
  return b;
}

/**
 * A SIMULATED NFQUEUE queue, for the agent's Wake-up hold (PROTOCOL.md 8.4): packets take consecutive ids as the
 * kernel's queue gives them; each notification waits, as in the host's netfilter socket, until the next netfilter
 * answer carries it to the core (hosts/shared/netlink.ts reads what the socket holds after each request); a
 * VERDICT_BATCH releases every queued packet whose id is at most its own (serial order), in id order.
 */
export class SimQueue {
  constructor(queue) {
    this.queue = queue;
    this.nextId = 1;
    this.queued = [];
    this.unread = [];
    /** Each verdict that released something: { at, ids }. */
    this.releases = [];
  }
  /** n packets arrive at the queue. */
  add(n) {
    for (let i = 0; i < n; i++) {
      const id = this.nextId++;
      this.queued.push(id);
      const b = new Uint8Array(32);
      const v = new DataView(b.buffer);
      v.setUint32(0, 32, true);
      v.setUint16(4, (3 << 8) | 0, true); // NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET
      v.setUint16(18, this.queue, false); // nfgenmsg.res_id
      v.setUint16(20, 11, true); // NFQA_PACKET_HDR: packet_id, hw_protocol, hook
      v.setUint16(22, 1, true);
      v.setUint32(24, id, false);
      this.unread.push(b);
    }
  }
  /** A netfilter request reached the kernel (at `at`): a verdict for this queue is applied. */
  request(data, at) {
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (v.getUint16(4, true) !== ((3 << 8) | 3) || v.getUint16(18, false) !== this.queue) return;
    const maxId = v.getUint32(28, false);
    const ids = this.queued.filter((id) => ((maxId - id) | 0) >= 0);
    if (!ids.length) return;
    this.queued = this.queued.filter((id) => ((maxId - id) | 0) < 0);
    this.releases.push({ at, ids, verdict: v.getUint32(24, false) });
  }
  /** What the socket holds: the notifications not read yet. */
  read() {
    const out = this.unread;
    this.unread = [];
    return out;
  }
}

const concat = (parts) => {
  const b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (b.set(p, o), (o += p.length));
  return b;
};

const macText = (b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");

export class SidNode extends SimNode {
  constructor(net, name, addresses, seed, mac) {
    super(net, name, addresses, seed);
    this.sid = new SidEngine(this.engine);
    this.mac = mac;
    this.frames = [];
    this.ifindex = 2;
    /** NETLINK_NETFILTER requests (the target's hold: queue binding, queue rule, verdicts). */
    this.netfilter = [];
    /** A SimQueue standing for this node's kernel queue, or null (netfilter requests are only recorded). */
    this.kernelQueue = null;
  }
  link() {
    this.sid.link(this.ifindex, this.mac, this.primary);
    return this;
  }
  pump() {
    for (let o; (o = this.engine.poll()); ) {
      (this.order ??= []).push(o.kind === "netlink" ? `netlink${o.protocol}` : o.kind === "event" ? `event:${o.event.state}` : o.kind === "nft" ? `nft:${o.text.split("\n")[0]}` : o.kind);
      // failAction(o): the errno this one action fails with (0: it works), else failKernel for every action
      const errno = this.failAction ? this.failAction(o) : this.failKernel;
      if (o.kind === "transmit") this.net.send(this, o);
      else if (o.kind === "nft") {
        this.nft.push(o.text);
        this.engine.actionResult(this.clock(), o.id, errno);
      } else if (o.kind === "netlink") {
        (o.protocol === 12 ? this.netfilter : this.netlink).push(o.data);
        const answer = o.waitAck ? [ack(o.data, errno)] : [];
        // With a simulated kernel queue (kernelQueue), a netfilter answer carries its waiting notifications first.
        if (o.protocol === 12 && this.kernelQueue) {
          this.kernelQueue.request(o.data, this.net.now);
          answer.unshift(...this.kernelQueue.read());
        }
        this.engine.netlinkReply(this.clock(), o.id, concat(answer));
      } else if (o.kind === "frame") {
        this.frames.push({ at: this.net.now, ifindex: o.ifindex, data: o.data });
        this.net.sendFrame(this, o.data);
      } else this.events.push(o.event);
    }
  }
  sidEvents(state) {
    return this.events.filter((e) => e.event === "sid" && (state === undefined || e.state === state));
  }
  /** Kernel actions as rtnetlink message types (16 NEWLINK, 17 DELLINK, 20/21 ADDR, 24/25 ROUTE, 28/29 NEIGH, 32/33 RULE). */
  netlinkTypes() {
    return this.netlink.map((b) => new DataView(b.buffer, b.byteOffset).getUint16(4, true));
  }
  /** The netfilter requests by first message type (770 queue CONFIG, 16 a batch: the queue rule, 771 VERDICT_BATCH). */
  netfilterTypes() {
    return this.netfilter.map((b) => new DataView(b.buffer, b.byteOffset).getUint16(4, true));
  }
}

export class SidNet extends SimNet {
  node(name, addresses, mac) {
    const n = new SidNode(this, name, addresses, this.nodes.length, mac ?? `02:00:00:00:00:${(this.nodes.length + 1).toString(16).padStart(2, "0")}`);
    this.nodes.push(n);
    return n;
  }
  /** An Ethernet frame on the home link: UDP inside goes to the node with the destination MAC. */
  sendFrame(from, frame) {
    const dst = macText(frame.subarray(0, 6));
    const type = (frame[12] << 8) | frame[13];
    if (type !== 0x0800) return; // ARP is only recorded
    const ihl = (frame[14] & 15) * 4;
    const src = [...frame.subarray(26, 30)].join(".");
    const udp = 14 + ihl;
    const len = ((frame[udp + 4] << 8) | frame[udp + 5]) - 8;
    const payload = frame.slice(udp + 8, udp + 8 + len);
    const to = this.nodes.find((n) => n.mac === dst);
    if (!to) return;
    if (this.filter && !this.filter({ from: from.name, frame: true, data: payload })) return;
    if (this.rand() < this.loss) return;
    this.queue.push({ at: this.now + this.delayMs, address: to.primary, source: src, port: PORT, data: payload });
  }
}

export const KEY_TN_TARGET = new Uint8Array(32).fill(0x11);
export const KEY_TN_AGENT = new Uint8Array(32).fill(0x22);

/**
 * The three roles: the transferring node tn (198.18.0.10, the address that
 * moves), the agent (198.18.0.1, same home link) and the target on a
 * foreign subnet (198.19.0.20). Options: lifetime, net options.
 */
export function trio(netOptions = {}, { control } = {}) {
  const net = new SidNet({ delayMs: 5, ...netOptions });
  // With `control`, the node's control address is another than the one that moves (PROTOCOL.md 8.10).
  const tn = net.node("tn", control ? [control, "198.18.0.10"] : ["198.18.0.10"]);
  const agent = net.node("agent", ["198.18.0.1"]);
  const target = net.node("target", ["198.19.0.20"]);
  const tnTarget = tn.peer(target, { key: KEY_TN_TARGET, spi: 300 });
  const tnAgent = tn.peer(agent, { key: KEY_TN_AGENT, spi: 301 });
  const targetTn = target.peer(tn, { key: KEY_TN_TARGET, spi: 300 });
  const agentTn = agent.peer(tn, { key: KEY_TN_AGENT, spi: 301 });
  if (control) agent.engine.addPeerAddress(agentTn, "198.18.0.10");
  agent.engine.option("sidAgent", 1);
  target.engine.option("sidTarget", 1);
  for (const n of [tn, agent, target]) n.link();
  return { net, tn, agent, target, tnTarget, tnAgent, targetTn, agentTn, TA: "198.18.0.10", control };
}

/**
 * The agent of trio `s` dies (its core is gone) and a new process starts with
 * the same configuration; with `saved` (its saveBindings() bytes) it restores
 * them. Returns the new agent node; s.agent is left as it was.
 */
export function restartAgent(s, saved) {
  const { net, agent, tn } = s;
  net.nodes.splice(net.nodes.indexOf(agent), 1);
  const fresh = net.node("agent", [...agent.addresses], agent.mac);
  const id = fresh.peer(tn, { key: KEY_TN_AGENT, spi: 301 });
  if (id !== s.agentTn) throw new Error(`the same configuration gave peer id ${id}, not ${s.agentTn}`);
  if (s.control) fresh.engine.addPeerAddress(id, s.TA);
  fresh.engine.option("sidAgent", 1);
  fresh.link();
  if (saved) {
    const n = fresh.sid.restoreBindings(net.now, saved);
    if (n < 1) throw new Error(`restoreBindings took ${n} bindings`);
    fresh.pump();
  }
  return fresh;
}

/**
 * Plays the hosts' part of a transfer: when the node is asked for the state
 * record it "delivers" it, and the target "receives" it (the sealed frames
 * travel over TCP in real hosts; here only the calls are made).
 */
/** A third node t3 (sidTarget) with an SA to the target of trio `s`: the next target of a further transfer (8.6). */
export function thirdTarget(s) {
  const t3 = s.net.node("t3", ["198.19.0.40"]).link();
  t3.engine.option("sidTarget", 1);
  const tt3 = s.target.peer(t3, { key: new Uint8Array(32).fill(0x44), spi: 320 });
  t3.peer(s.target, { key: new Uint8Array(32).fill(0x44), spi: 320 });
  return { t3, tt3 };
}

export function hostsDeliver(s, { deliverOk = true, receiveOk = true, receiveFirst = true } = {}) {
  const { net, tn, target, TA } = s;
  // Each event taken once (at the call the node asks at once, before this runs; 8.12, the 1-RTT order).
  const used = (s.usedEvents ??= new WeakSet());
  const fresh = (n, state) => n.sidEvents(state).find((e) => !used.has(e));
  // In 1 ms steps: the record is delivered right after the node asked for it (the Transfer Request is under way meanwhile, 8.2).
  for (let waited = 0; !fresh(tn, "state-requested"); waited += 1) {
    if (waited >= 15000) return false;
    net.run(1);
  }
  const asked = fresh(tn, "state-requested");
  used.add(asked);
  // 8.12, the 1-RTT order: the record leaves at the call, beside the negotiation; the target's host keeps
  // it until the negotiation brings the key (its `negotiated`), then opens and restores it.
  // (this transfer's: at most 100 ms before the ask; on one subnet the node asks after the negotiation)
  const negotiated = () => target.sidEvents("negotiated").find((e) => !used.has(e) && e.t >= asked.t - 100);
  for (let waited = 0; !negotiated(); waited += 1) {
    if (waited >= 15000) return false;
    net.run(1);
  }
  used.add(negotiated());
  s.deliveredAt = net.now;
  const steps = [
    () => { target.sid.stateReceived(target.clock(), TA, receiveOk); target.pump(); },
    () => { tn.sid.stateDelivered(tn.clock(), TA, deliverOk); tn.pump(); },
  ];
  if (!receiveFirst) steps.reverse();
  for (const f of steps) f();
  return true;
}
