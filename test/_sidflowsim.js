// A SIMULATED network for SID's per-flow mode (docs/PROTOCOL.md 8.16):
// test/_sim.js plus the SID calls, made on the core's exports directly (so
// these tests do not depend on the shape of hosts/shared/sidengine.ts).
// The node "tn" (198.18.0.10) moves flows through the agent (198.18.0.1) to
// targets on foreign subnets; its Interim Address pool is 198.18.0.200-201.
import { SimNet, SimNode } from "./_sim.js";
import { SidFlows } from "../dist/hosts/shared/index.js";

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

/** rtnetlink message types: 16 NEWLINK, 17 DELLINK, 20/21 ADDR, 24/25 ROUTE, 28/29 NEIGH, 32/33 RULE. */
export const RTM = { NEWLINK: 16, DELLINK: 17, NEWADDR: 20, DELADDR: 21, NEWROUTE: 24, DELROUTE: 25, NEWNEIGH: 28, DELNEIGH: 29, NEWRULE: 32, DELRULE: 33 };

export class FlowNode extends SimNode {
  constructor(net, name, addresses, seed, mac) {
    super(net, name, addresses, seed);
    this.flows = new SidFlows(this.engine);
    this.mac = mac;
    this.frames = [];
  }
  get core() {
    return this.engine.core;
  }
  /** sid_link: home link ifindex 2, this node's MAC and primary address. */
  link() {
    const c = this.core;
    const a = c.parseAddress(this.primary);
    const [m, p] = c.stage(this.mac, a.bytes);
    c.check(c.x.sid_link(2, m, a.family, p), "sid_link");
    return this;
  }
  call(name, address, ...rest) {
    const c = this.core;
    const a = c.parseAddress(address);
    return c.x[name](this.clock(), a.family, c.put(a.bytes), ...rest);
  }
  stateDelivered(address, ok = true) {
    const r = this.call("sid_state_delivered", address, ok ? 1 : 0);
    this.pump();
    return r;
  }
  stateReceived(address, ok = true) {
    const r = this.call("sid_state_received", address, ok ? 1 : 0);
    this.pump();
    return r;
  }
  state() {
    const c = this.core;
    const n = c.check(c.x.sid_state(this.clock(), c.outputPtr, c.ioCapacity), "sid_state");
    return JSON.parse(new TextDecoder().decode(c.get(c.outputPtr, n)));
  }
  pump() {
    for (let o; (o = this.engine.poll()); ) {
      if (o.kind === "transmit") this.net.send(this, o);
      else if (o.kind === "nft") {
        this.nft.push(o.text);
        this.engine.actionResult(this.clock(), o.id, this.failKernel);
      } else if (o.kind === "netlink") {
        this.netlink.push(o.data);
        this.engine.netlinkReply(this.clock(), o.id, o.waitAck ? ack(o.data, this.failKernel) : new Uint8Array(0));
      } else if (o.kind === "frame") this.frames.push(o.data);
      else this.events.push(o.event);
    }
  }
  sidEvents(state) {
    return this.events.filter((e) => e.event === "sid" && (state === undefined || e.state === state));
  }
  netlinkTypes() {
    return this.netlink.map((b) => new DataView(b.buffer, b.byteOffset).getUint16(4, true));
  }
  nftText() {
    return this.nft.join("");
  }
}

export class FlowNet extends SimNet {
  node(name, addresses, mac) {
    const n = new FlowNode(this, name, addresses, this.nodes.length, mac ?? new Uint8Array([2, 0, 0, 0, 0, this.nodes.length + 1]));
    this.nodes.push(n);
    return n;
  }
}

export const TA = "198.18.0.10";
export const INTERIM = ["198.18.0.200", "198.18.0.201"];
export const C1 = "198.18.20.2";
export const C2 = "198.18.21.2";
/** Correspondent 1's TCP stream, correspondent 2's TCP stream and its UDP flow, all with the node's address TA. */
export const FLOW_A = { protocol: "tcp", local: TA, localPort: 40001, remote: C1, remotePort: 5001 };
export const FLOW_B = { protocol: "tcp", local: TA, localPort: 40002, remote: C2, remotePort: 5001 };
export const FLOW_U = { protocol: "udp", local: TA, localPort: 5004, remote: C2, remotePort: 5004 };

/**
 * The transferring node tn, the agent, and two targets u (198.19.0.20) and v
 * (198.19.1.20) on foreign subnets; SAs between tn and each. Options: the
 * agent's sidFlows.
 */
export function quartet({ sidFlows, delayMs = 5 } = {}) {
  const net = new FlowNet({ delayMs });
  const tn = net.node("tn", [TA, ...INTERIM]);
  const agent = net.node("agent", ["198.18.0.1"]);
  const u = net.node("u", ["198.19.0.20"]);
  const v = net.node("v", ["198.19.1.20"]);
  const ids = {
    tnU: tn.peer(u, { key: new Uint8Array(32).fill(0x11), spi: 300 }),
    tnV: tn.peer(v, { key: new Uint8Array(32).fill(0x12), spi: 302 }),
    tnAgent: tn.peer(agent, { key: new Uint8Array(32).fill(0x22), spi: 301 }),
    agentTn: agent.peer(tn, { key: new Uint8Array(32).fill(0x22), spi: 301 }),
  };
  u.peer(tn, { key: new Uint8Array(32).fill(0x11), spi: 300 });
  v.peer(tn, { key: new Uint8Array(32).fill(0x12), spi: 302 });
  agent.engine.option("sidAgent", 1);
  if (sidFlows) agent.engine.option("sidFlows", sidFlows);
  u.engine.option("sidTarget", 1);
  v.engine.option("sidTarget", 1);
  for (const n of [tn, agent, u, v]) n.link();
  for (const i of INTERIM) tn.flows.addInterim(i);
  return { net, tn, agent, u, v, ...ids };
}

/**
 * One per-flow transfer as the hosts play it: the call, the state record
 * "delivered" when the node asks for it and "received" at the target.
 * Returns the flow set's session SPI (from state-requested), or null if the
 * node was never asked.
 */
export function moveFlows(s, flows, target, targetPeer, opts = {}) {
  const { net, tn, tnAgent } = s;
  const asked = tn.sidEvents("state-requested").length;
  tn.flows.transfer(net.now, TA, flows, targetPeer, tnAgent, opts);
  tn.pump();
  for (let waited = 0; tn.sidEvents("state-requested").length === asked; waited += 10) {
    if (waited >= 5000) return null;
    net.run(10);
  }
  const spi = tn.sidEvents("state-requested").at(-1).spi;
  target.stateReceived(TA);
  tn.stateDelivered(TA);
  net.run(1000);
  return spi;
}
