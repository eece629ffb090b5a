// The transcript format (conformance/README.md, "stem-transcripts", and
// "sid-transcripts" for SID's inputs and frames): how a
// transcript's node is configured, how each input is applied to an engine,
// and how the outputs that follow it are written. The generator
// (transcripts.js) records transcripts through these functions and the
// runner (runner.js) replays them through the same ones, so the two cannot
// disagree about the format.
//
// A node under test is one Engine (hosts/shared/engine.ts) on a fresh core
// instance: fresh state, a DRBG that only the transcript's seed has touched.

import { SidEngine, SidFlows } from "../../dist/hosts/shared/index.js";

export const hex = (b) => Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
export const unhex = (s) => {
  if (typeof s !== "string" || s.length % 2 || /[^0-9a-f]/.test(s)) throw new TypeError(`not lowercase hex: ${String(s).slice(0, 40)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
};

/**
 * Configures a fresh engine as the transcript's `node` says, in this order:
 * seed the DRBG, init (cookie, start), options (in the order given), peers
 * (each: add, its extra addresses, its SAs), own ports. Peer i of the list is
 * peer id i in the commands.
 */
export function configure(engine, node) {
  engine.seed(unhex(node.seed));
  engine.init(node.cookie, node.start);
  for (const [name, value] of node.options ?? []) engine.option(name, value);
  (node.peers ?? []).forEach((p, i) => {
    const id = engine.addPeer(p.cookie, p.address, p.port);
    if (id !== i) throw new Error(`peer ${i} got id ${id}: peers are numbered in configuration order`);
    for (const a of p.addresses ?? []) engine.addPeerAddress(id, a);
    for (const sa of p.sas) {
      engine.addSa(id, { spi: sa.spi, algorithm: sa.algorithm, key: unhex(sa.key), replayMode: sa.replayMode, skewMs: sa.skewMs });
    }
  });
  for (const port of node.ownPorts ?? []) engine.ownPort(port);
  // SID (sid-transcripts): the home link switches the SID engine on.
  if (node.sid) sidOf(engine).link(node.sid.ifindex, node.sid.mac, node.sid.address);
  // Per-flow mode (PROTOCOL.md 8.16): the Interim Address pool, after sid_link.
  for (const a of node.sid?.interim ?? []) flowsOf(engine).addInterim(a);
}

/** The per-flow calls of an engine (hosts/shared/sidflows.ts), made once per engine. */
function flowsOf(engine) {
  if (!engine.sidFlowCalls) engine.sidFlowCalls = new SidFlows(engine);
  return engine.sidFlowCalls;
}

/** The SID calls of an engine (hosts/shared/sidengine.ts), made once per engine. */
function sidOf(engine) {
  if (!engine.sidCalls) engine.sidCalls = new SidEngine(engine);
  return engine.sidCalls;
}

/**
 * Applies one input. Returns { returns } for a command that returns a value
 * (migrate: the migration's id), { error } for a command the core refused
 * (HandoverError: the error's registry name), or {}.
 */
export function apply(engine, input, HandoverError) {
  const now = input.now;
  try {
    switch (input.kind) {
      case "datagram":
        engine.datagram(now, input.source, input.port, unhex(input.data));
        return {};
      case "timer":
        engine.timeout(now);
        return {};
      case "actionResult":
        engine.actionResult(now, input.id, input.status);
        return {};
      case "actionOutput":
        engine.actionOutput(now, input.id, input.text);
        return {};
      case "netlinkReply":
        engine.netlinkReply(now, input.id, unhex(input.data));
        return {};
      case "netlinkEvent":
        engine.netlinkEvent(now, unhex(input.data));
        return {};
      case "migrate":
        return {
          returns: engine.migrate(now, {
            peer: input.peer, protocols: input.protocols, from: input.from, fromPort: input.fromPort, to: input.to, toPort: input.toPort,
          }),
        };
      case "register":
        engine.register(now, input.peer, input.lifetime);
        return {};
      case "kernelSetup":
        engine.kernelSetup(now, input.queue);
        return {};
      // SID (sid-transcripts): the application's calls and the host's reports.
      case "sidTransfer":
        sidOf(engine).transfer(now, input.address, input.target, { agent: input.agent, further: input.further, reverse: input.reverse, lifetime: input.lifetime });
        return {};
      case "sidStop":
        sidOf(engine).stop(now, input.address);
        return {};
      case "sidStateDelivered":
        sidOf(engine).stateDelivered(now, input.address, input.ok);
        return {};
      case "sidStateReceived":
        sidOf(engine).stateReceived(now, input.address, input.ok);
        return {};
      case "sidSessionEnded":
        sidOf(engine).sessionEnded(now, input.address);
        return {};
      // Per-flow mode (PROTOCOL.md 8.16).
      case "sidTransferFlows":
        flowsOf(engine).transfer(now, input.address, input.flows, input.target, input.agent, { reverse: input.reverse, lifetime: input.lifetime });
        return {};
      case "sidStopFlows":
        flowsOf(engine).stop(now, input.address, input.spi);
        return {};
      case "sidFlowEnded":
        flowsOf(engine).flowEnded(now, input.flow);
        return {};
    }
  } catch (e) {
    if (HandoverError && e instanceof HandoverError) return { error: e.errorName };
    throw e;
  }
  throw new TypeError(`unknown input kind '${input.kind}'`);
}

/** One output of the engine in transcript form. */
export function outputJson(o) {
  switch (o.kind) {
    case "transmit": {
      const t = { kind: "transmit", destination: o.address, port: o.port };
      if (o.source) t.source = o.source;
      t.data = hex(o.data);
      return t;
    }
    case "nft":
      return { kind: "nft", id: o.id, text: o.text };
    case "netlink":
      return { kind: "netlink", id: o.id, protocol: o.protocol, waitAck: o.waitAck, data: hex(o.data) };
    case "event":
      return { kind: "event", event: o.event };
    case "frame":
      return { kind: "frame", ifindex: o.ifindex, data: hex(o.data) };
  }
  throw new TypeError(`unknown output kind '${o.kind}'`);
}

/** Every pending output, in order, then the next timer (null: none). */
export function drain(engine) {
  const outputs = [];
  for (let o; (o = engine.poll()); ) outputs.push(outputJson(o));
  const t = engine.nextTimeout();
  return { outputs, timer: Number.isFinite(t) ? t : null };
}

/** One step as the answer gives it: what apply() returned, the outputs and the timer. */
export function step(engine, input, HandoverError) {
  const r = apply(engine, input, HandoverError);
  return { ...r, ...drain(engine) };
}

/**
 * Replays a transcript test on a fresh engine: configure, then each step's
 * input. Returns the answer's `steps`: [{ returns?, error?, outputs, timer }].
 */
export function replay(engine, test, HandoverError) {
  configure(engine, test.node);
  return test.steps.map((s) => step(engine, s.input, HandoverError));
}

/** The first difference between a test's steps and an answer's, as text (null if equal). */
export function firstDifference(expected, got, deepEqual) {
  if (!Array.isArray(got)) return "no 'steps' list in the answer";
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i], g = got[i];
    const where = `step ${i + 1} (${e.input.kind} at ${e.input.now})`;
    if (!g) return `${where}: no answer (${got.length} of ${expected.length} steps answered)`;
    for (const key of ["returns", "error"]) {
      if (!deepEqual(e[key], g[key])) return `${where}: ${key} expected ${JSON.stringify(e[key])}, got ${JSON.stringify(g[key])}`;
    }
    const eo = e.outputs, go = Array.isArray(g.outputs) ? g.outputs : [];
    for (let k = 0; k < Math.max(eo.length, go.length); k++) {
      if (!deepEqual(eo[k], go[k])) {
        return `${where}, output ${k + 1}: expected ${short(eo[k])}, got ${short(go[k])}`;
      }
    }
    if (e.timer !== g.timer) return `${where}: next timer expected ${e.timer}, got ${g.timer}`;
  }
  if (got.length > expected.length) return `${got.length - expected.length} steps more than the transcript's ${expected.length}`;
  return null;
}

function short(v) {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 300 ? `${s.slice(0, 300)}...` : s;
}
