// The conformance runner as a library: the runner contract of
// docs/PROTOCOL.md section 9.4, in three parts.
//
//   answer:  an implementation performs a suite's operation on one test and
//            answers { tcId, result, error?, ...outputs } (the line protocol's
//            answer). coreAnswer() does it with the core through the binding.
//   compare: compare(suite, group, test, answer) lists what differs from the
//            vector (empty: the test passed). The one judge for both modes.
//   drive:   runCore() asks the core in-process; runExternal() streams the
//            tests as JSON lines to another program and reads its answers.
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { basename, join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { deepEqual } from "./schema.js";
import { replay, firstDifference } from "./transcript.js";

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, "..", "..");
export const WASM_PATH = join(ROOT, "build", "handover.wasm");

const hex = (b) => Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
const unhex = (s) => {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
};

// ---- files ----------------------------------------------------------------

/** Reads vector files: [{ name, path, data }]. */
export function loadVectorFiles(paths) {
  return paths.map((path) => ({ name: basename(path), path, data: JSON.parse(readFileSync(path, "utf8")) }));
}

/** The (group, test) pairs of a file, in file order. */
export function* cases(file) {
  for (const group of file.data.testGroups) for (const test of group.tests) yield { group, test };
}

/** A group's shared parameters, without its tests (what the line protocol sends). */
export function groupParams(group) {
  const { tests, ...params } = group;
  return params;
}

// ---- the core ---------------------------------------------------------------

/**
 * Loads build/handover.wasm through the typed binding (dist/hosts/shared).
 * `engine()` makes an Engine on a fresh instance of the module (fresh state
 * and DRBG), as each transcript needs.
 */
export async function loadCore(wasmPath = WASM_PATH) {
  const binding = await import("../../dist/hosts/shared/index.js");
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const core = await binding.Core.load(module);
  const engine = () => new binding.Engine(binding.Core.loadSync(module));
  return { core, engine, HandoverError: binding.HandoverError, SidCodec: binding.SidCodec, DhcpCore: binding.DhcpCore };
}

const HMAC_NAME = { "HMAC-MD5": "HMAC_MD5", "HMAC-SHA1": "HMAC_SHA1", "HMAC-SHA256": "HMAC_SHA256" };

/** Room for `len` bytes in the core's memory: its input buffer, or fresh pages for larger inputs. */
function region(core, len) {
  if (len <= core.ioCapacity) return core.inputPtr;
  const pages = Math.ceil(len / 65536);
  const at = core.x.memory.grow(pages) * 65536;
  return at;
}

/**
 * The core's answer to one test. Only HandoverError (the core's refusal) is an
 * answer; anything else thrown is a runner failure and propagates.
 */
export function coreAnswer(ctx, suite, group, test) {
  const { core, HandoverError } = ctx;
  const a = { tcId: test.tcId };
  const refused = (e) => {
    if (e instanceof HandoverError) return { ...a, result: "invalid", error: e.errorName };
    throw e;
  };
  switch (suite) {
    case "message": {
      const bytes = unhex(test.message);
      const auth = { spi: group.spi ?? 0, algorithm: group.algorithm, key: unhex(group.key) };
      let json;
      try {
        json = core.decodeVerified(bytes, auth);
      } catch (e) {
        return refused(e);
      }
      const out = { ...a, result: "valid", json };
      // Encode the vector's JSON (when it has one), both ways: the AUTH
      // extension as given, and recomputed from the key.
      if (test.json) {
        const { version, ...m } = test.json;
        const asGiven = hex(core.encode(m));
        const signed = hex(core.encode(m, auth));
        out.message = asGiven === signed ? asGiven : `${asGiven} (recomputing the tag gives ${signed})`;
      }
      return out;
    }
    case "cookie": {
      try {
        return { ...a, result: "valid", cookie: core.cookieFromName(test.name) };
      } catch (e) {
        if (e instanceof RangeError) {
          // The binding checks the length before the core does; ask the core itself.
          const t = new TextEncoder().encode(test.name);
          const ptr = core.put(t.subarray(0, Math.min(t.length, core.ioCapacity)));
          const r = core.x.cookie_from_name(ptr, t.length, core.outputPtr);
          if (r < 0) return refused(new HandoverError(-r));
          return { ...a, result: "valid", cookie: hex(core.get(core.outputPtr, 6)), note: "the binding refused a name the core accepts" };
        }
        return refused(e);
      }
    }
    case "replay-window": {
      const w = core.replayWindow(group.windowBits);
      const steps = test.steps.map(([seq]) => {
        const r = w.check(seq);
        if (r === null) w.update(seq);
        return [seq, r ?? "valid"];
      });
      const last = steps[steps.length - 1][1];
      return { ...a, result: last === "valid" ? "valid" : "invalid", ...(last === "valid" ? {} : { error: last }), steps };
    }
    case "timestamp": {
      const r = core.checkTimestamp(unhex(test.id), test.now, test.skewMs);
      return r === null ? { ...a, result: "valid" } : { ...a, result: "invalid", error: r };
    }
    case "hash": {
      const unit = unhex(test.msg), reps = test.repeat ?? 1, len = unit.length * reps;
      if (len <= core.ioCapacity) {
        const msg = new Uint8Array(len);
        for (let i = 0; i < reps; i++) msg.set(unit, i * unit.length);
        return { ...a, result: "valid", digest: hex(core.hash(group.algorithm, msg)) };
      }
      const at = region(core, len);
      const mem = core.mem();
      for (let i = 0; i < reps; i++) mem.set(unit, at + i * unit.length);
      const alg = { MD5: 1, "SHA-1": 2, "SHA-256": 3 }[group.algorithm];
      const n = core.check(core.x.crypto_hash(alg, at, len, core.outputPtr));
      return { ...a, result: "valid", digest: hex(core.get(core.outputPtr, n)) };
    }
    case "hmac": {
      const tag = core.hmac(HMAC_NAME[group.algorithm], unhex(test.key), unhex(test.msg));
      const got = hex(tag.subarray(0, test.tagLength ?? tag.length));
      return { ...a, result: got === test.tag ? "valid" : "invalid", tag: got };
    }
    case "aead": {
      const key = unhex(test.key);
      if (group.algorithm === "CHACHA20-POLY1305") {
        const nonce = unhex(test.nonce), aad = unhex(test.aad);
        const opened = core.aeadOpen(key, nonce, aad, unhex(test.ct), unhex(test.tag));
        if (opened === null) return { ...a, result: "invalid" };
        const sealed = core.aeadSeal(key, nonce, aad, unhex(test.msg));
        return { ...a, result: "valid", msg: hex(opened), ct: hex(sealed.ct), tag: hex(sealed.tag) };
      }
      if (group.algorithm === "CHACHA20") {
        const msg = unhex(test.msg);
        const [k, n, m] = core.stage(key, unhex(test.nonce), msg);
        const len = core.check(core.x.crypto_chacha20(k, n, test.counter | 0, m, msg.length, core.outputPtr));
        return { ...a, result: "valid", ct: hex(core.get(core.outputPtr, len)) };
      }
      if (group.algorithm === "POLY1305") {
        const msg = unhex(test.msg);
        const [k, m] = core.stage(key, msg);
        const len = core.check(core.x.crypto_poly1305(k, m, msg.length, core.outputPtr));
        const tag = hex(core.get(core.outputPtr, len));
        return { ...a, result: tag === test.tag ? "valid" : "invalid", tag };
      }
      throw new Error(`aead: unknown algorithm ${group.algorithm}`);
    }
    case "x25519": {
      let k = unhex(test.private), u = unhex(test.public), ok = true;
      for (let i = 0; i < (test.iterations ?? 1); i++) {
        const r = core.x25519(k, u);
        ok = r.ok;
        u = k;
        k = r.shared;
      }
      return ok ? { ...a, result: "valid", shared: hex(k) } : { ...a, result: "invalid", error: "LOW_ORDER_POINT", shared: hex(k) };
    }
    case "hkdf": {
      const ikm = unhex(test.ikm), salt = unhex(test.salt);
      let okm;
      try {
        okm = core.hkdf(ikm, salt, unhex(test.info), test.size);
      } catch (e) {
        return refused(e);
      }
      return { ...a, result: "valid", okm: hex(okm), prk: hex(core.hkdfExtract(salt, ikm)) };
    }
    case "keywrap": {
      const common = { header: unhex(test.header), wrap: group.wrap, wrapSpi: test.wrapSpi, sessionSpi: test.sessionSpi };
      const x25519 = group.wrap === "X25519_CHACHA20_POLY1305";
      try {
        if (group.operation === "wrap") {
          const body = core.wrapSessionKey({
            ...common, key: unhex(x25519 ? test.recipientPublic : test.key), sessionKey: unhex(test.sessionKey),
            nonce: unhex(test.nonce), ...(x25519 ? { ephemeralPrivateKey: unhex(test.ephemeralPrivate) } : {}),
          });
          return { ...a, result: "valid", body: hex(body) };
        }
        if (group.operation === "unwrap") {
          const sessionKey = core.unwrapSessionKey({ ...common, key: unhex(x25519 ? test.recipientPrivate : test.key), body: unhex(test.body) });
          return { ...a, result: "valid", sessionKey: hex(sessionKey) };
        }
      } catch (e) {
        return refused(e);
      }
      throw new Error(`keywrap: unknown operation ${group.operation}`);
    }
    case "stem-transcripts":
    case "sid-transcripts":
      // Replay the node's configuration and inputs on a fresh engine; the
      // answer is what came out after each input.
      return { ...a, result: "valid", steps: replay(ctx.engine(), test, HandoverError) };
    case "tcpstate":
    case "seal":
    case "tunnel":
    case "frames":
      try {
        return { ...a, result: "valid", ...sidCoreAnswer(ctx, suite, group, test) };
      } catch (e) {
        return refused(e);
      }
    case "dhcp":
      try {
        return { ...a, result: "valid", ...dhcpCoreAnswer(ctx, group, test) };
      } catch (e) {
        return refused(e);
      }
  }
  throw new Error(`no operation for suite '${suite}'`);
}

/** The core's outputs for the SID codec suites (docs/PROTOCOL.md 8.9, 8.12, 8.14), through SidCodec. */
function sidCoreAnswer(ctx, suite, group, test) {
  ctx.sid ??= new ctx.SidCodec(ctx.core);
  const sid = ctx.sid;
  const op = group.operation;
  if (suite === "tcpstate" && op === "decode") {
    const r = sid.decodeTcpState(unhex(test.record));
    return { fields: { ...r, sendQueue: hex(r.sendQueue), receiveQueue: hex(r.receiveQueue), appState: hex(r.appState) } };
  }
  if (suite === "tcpstate" && op === "udp-decode") {
    const r = sid.decodeUdpFlow(unhex(test.record));
    return { fields: { ...r, appState: hex(r.appState) } };
  }
  if (suite === "tcpstate" && op === "udp-encode") {
    const f = test.fields;
    return { record: hex(sid.encodeUdpFlow({ ...f, appState: unhex(f.appState) })) };
  }
  if (suite === "tcpstate" && op === "encode") {
    const f = test.fields;
    return { record: hex(sid.encodeTcpState({ ...f, sendQueue: unhex(f.sendQueue), receiveQueue: unhex(f.receiveQueue), appState: unhex(f.appState) })) };
  }
  if (suite === "tunnel" && op === "ids") {
    const i = sid.tunnelIds(unhex(test.sessionKey));
    return { ids: { vni: i.vni, agentMac: hex(i.agentMac), targetMac: hex(i.targetMac), name: i.name } };
  }
  if (suite === "tunnel" && op === "filter") return { nft: sid.tunnelFilter(test.add, test.peer, test.port, test.vni) };
  if (suite === "tunnel" && op === "encap") return { payload: hex(sid.encapsulate(test.vni, unhex(test.dstMac), unhex(test.srcMac), unhex(test.inner))) };
  if (suite === "tunnel" && op === "decap") {
    return { inner: hex(sid.decapsulate(unhex(test.payload), { vni: test.vni, ownMac: unhex(test.ownMac), innerDestination: test.innerDestination, innerSource: test.innerSource })) };
  }
  if (suite === "seal") {
    const key = unhex(test.sessionKey);
    if (op === "key") return { key: hex(sid.sealKey(key, test.which)) };
    if (op === "message-seal") return { body: hex(sid.sealMessage(key, test.which, test.seq32, unhex(test.header), unhex(test.plaintext))) };
    if (op === "message-open") return { plaintext: hex(sid.openMessage(key, test.which, test.seq32, unhex(test.header), unhex(test.body))) };
    const c = ctx.core;
    if (op === "frame-seal") {
      const pt = unhex(test.plaintext);
      const [k, p] = c.stage(key, pt);
      const n = c.check(c.x.sid_seal_state_frame(k, test.sessionSpi, test.index, test.last ? 1 : 0, p, pt.length, c.outputPtr), "frame");
      return { frame: hex(c.get(c.outputPtr, n)) };
    }
    if (op === "frame-open") {
      const fr = unhex(test.frame);
      const [k, p] = c.stage(key, fr);
      const n = c.check(c.x.sid_open_state_frame(k, test.sessionSpi, test.index, p, fr.length, c.outputPtr), "frame");
      return { plaintext: hex(c.get(c.outputPtr, n)), last: (c.x.sid_state_frame_info() & 0x1000000) !== 0 };
    }
  }
  if (suite === "frames" && op === "gratuitous-arp") return { frame: hex(sid.gratuitousArp(unhex(test.mac), test.ip)) };
  if (suite === "frames" && op === "neighbour-advertisement") return { frame: hex(sid.neighbourAdvertisement(unhex(test.mac), test.ip)) };
  if (suite === "frames" && op === "arp-reply") return { frame: hex(sid.arpReply(unhex(test.mac), test.ip, unhex(test.askerMac), test.askerIp)) };
  if (suite === "frames" && op === "arp-parse") {
    const r = sid.parseArp(unhex(test.frame));
    return { arp: r && { ...r, senderMac: hex(r.senderMac), targetMac: hex(r.targetMac) } };
  }
  if (suite === "frames" && op === "wakeup") {
    return { frame: hex(sid.wakeupFrame({ ...test, dstMac: unhex(test.dstMac), srcMac: unhex(test.srcMac), payload: unhex(test.payload) })) };
  }
  throw new Error(`${suite}: unknown operation ${op}`);
}

/** The core's answer for the dhcp suite (docs/PROTOCOL.md 8.19), through DhcpCore. */
function dhcpCoreAnswer(ctx, group, test) {
  ctx.dhcp ??= new ctx.DhcpCore(ctx.core);
  const d = ctx.dhcp;
  if (group.operation === "decode") {
    const r = d.decode(unhex(test.message));
    const out = { op: r.op, htype: r.htype, hlen: r.hlen, type: r.type, xid: r.xid, secs: r.secs, flags: r.flags,
      ciaddr: r.ciaddr, yiaddr: r.yiaddr, siaddr: r.siaddr, giaddr: r.giaddr, chaddr: hex(r.chaddr) };
    for (const k of ["mask", "requested", "lease", "serverId", "t1", "t2", "router"]) if (r[k] !== undefined) out[k] = r[k];
    if (r.clientId) out.clientId = hex(r.clientId);
    if (r.params) out.params = r.params;
    return { fields: out };
  }
  if (group.operation === "encode") {
    const f = test.fields;
    return { message: hex(d.encode({ ...f, mac: unhex(f.chaddr), clientId: unhex(f.clientId) })) };
  }
  throw new Error(`dhcp: unknown operation ${group.operation}`);
}

// ---- judging ---------------------------------------------------------------

/** The outputs the driver compares, per suite (section 9.4), and when. */
const OUTPUTS = {
  message: [["json", "valid"], ["message", "valid"]],
  cookie: [["cookie", "valid"]],
  "replay-window": [["steps", "always"]],
  hash: [["digest", "valid"]],
  hmac: [["tag", "valid"]],
  aead: [["ct", "valid"], ["tag", "valid"], ["msg", "answered"]],
  x25519: [["shared", "always"]],
  timestamp: [],
  hkdf: [["okm", "valid"], ["prk", "answered"]],
  // keywrap: the output is the operation's: body (wrap) or sessionKey (unwrap).
  keywrap: (group) => (group.operation === "wrap" ? [["body", "valid"]] : [["sessionKey", "valid"]]),
  tcpstate: (group) => (group.operation === "decode" || group.operation === "udp-decode" ? [["fields", "valid"]] : [["record", "valid"]]),
  tunnel: (group) => [[{ ids: "ids", encap: "payload", decap: "inner", filter: "nft" }[group.operation], "valid"]],
  frames: (group) => (group.operation === "arp-parse" ? [["arp", "valid"]] : [["frame", "valid"]]),
  dhcp: (group) => (group.operation === "decode" ? [["fields", "valid"]] : [["message", "valid"]]),
  seal: (group) => ({ key: [["key", "valid"]], "message-seal": [["body", "valid"]], "message-open": [["plaintext", "valid"]], "frame-seal": [["frame", "valid"]], "frame-open": [["plaintext", "valid"], ["last", "valid"]] })[group.operation],
};

const short = (v) => {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s === undefined ? "nothing" : s.length > 400 ? `${s.slice(0, 400)}...` : s;
};

/** What differs between a test's expectation and an answer ([] if the test passed). */
export function compare(suite, group, test, answer) {
  const problems = [];
  if (!answer || typeof answer !== "object") return [`no answer`];
  if (answer.tcId !== test.tcId) problems.push(`answered tcId ${answer.tcId}, expected ${test.tcId}`);
  if (test.result === "valid" && answer.result !== "valid") {
    problems.push(`expected valid, got ${answer.result}${answer.error ? ` ${answer.error}` : ""}`);
  } else if (test.result === "invalid") {
    if (answer.result !== "invalid") problems.push(`expected invalid${test.error ? ` ${test.error}` : ""}, got ${answer.result}`);
    else if (test.error && answer.error !== test.error) problems.push(`expected ${test.error}, got ${answer.error ?? "an invalid result without an error name"}`);
  } else if (test.result === "acceptable") {
    if (answer.result !== "valid" && answer.result !== "invalid") problems.push(`expected valid or invalid, got ${answer.result}`);
    return problems;
  }
  if (suite === "stem-transcripts" || suite === "sid-transcripts") {
    // The whole exchange: every step's outputs, in order, and its next timer.
    const d = firstDifference(test.steps, answer.steps, deepEqual);
    if (d) problems.push(d);
    return problems;
  }
  const outputs = typeof OUTPUTS[suite] === "function" ? OUTPUTS[suite](group) : OUTPUTS[suite] ?? [];
  for (const [key, when] of outputs) {
    if (!(key in test) || (when !== "always" && test.result !== "valid")) continue;
    if (when === "answered" && !(key in answer)) continue; // an output only some groups give (AEAD's opened plaintext)
    if (answer.result !== test.result && when !== "always") continue; // already reported
    if (!(key in answer)) {
      problems.push(`no '${key}' in the answer`);
      continue;
    }
    if (deepEqual(answer[key], test[key])) continue;
    if (key === "steps" && Array.isArray(answer.steps)) {
      // Name the first step that differs rather than printing both lists.
      const i = test.steps.findIndex((s, k) => !deepEqual(s, answer.steps[k]));
      const got = answer.steps[i];
      problems.push(i < 0 || got === undefined
        ? `steps: expected ${test.steps.length}, got ${answer.steps.length}`
        : `step ${i + 1} of ${test.steps.length}: seq ${test.steps[i][0]} expected ${test.steps[i][1]}, got ${short(got[1])}`);
      continue;
    }
    problems.push(`${key}: expected ${short(test[key])}, got ${short(answer[key])}`);
  }
  return problems;
}

// ---- driving ----------------------------------------------------------------

/**
 * Runs files through `answerOf(suite, group, test)`; returns per-file and
 * total counts and the failures ({ file, tcId, comment, problems }).
 */
export async function runFiles(files, answerOf) {
  const report = { passed: 0, failed: 0, files: [], failures: [] };
  for (const file of files) {
    const r = { name: file.name, passed: 0, failed: 0 };
    const suite = file.data.suite;
    const list = [...cases(file)];
    const answers = await answerOf(suite, list, file);
    list.forEach(({ group, test }, i) => {
      const answer = answers[i];
      const problems = answer instanceof Error ? [`threw ${answer.name}: ${answer.message}`] : compare(suite, group, test, answer);
      if (problems.length === 0) r.passed++;
      else {
        r.failed++;
        report.failures.push({ file: file.name, tcId: test.tcId, comment: test.comment, problems });
      }
    });
    report.passed += r.passed;
    report.failed += r.failed;
    report.files.push(r);
  }
  return report;
}

/** Runs files against the core in this process. */
export function runCore(ctx, files) {
  return runFiles(files, (suite, list) =>
    list.map(({ group, test }) => {
      try {
        return coreAnswer(ctx, suite, group, test);
      } catch (e) {
        return e instanceof Error ? e : new Error(String(e));
      }
    }));
}

/**
 * Runs files against an external program speaking section 9.4's line
 * protocol: one {"suite", "group", "test"} JSON line per test on its standard
 * input, one answer line per test on its standard output, in order.
 */
export async function runExternal(command, files, { timeoutMs = 120000 } = {}) {
  const lines = [];
  for (const file of files) {
    for (const { group, test } of cases(file)) lines.push(JSON.stringify({ suite: file.data.suite, group: groupParams(group), test }));
  }
  const answers = await talk(command, lines, timeoutMs);
  let i = 0;
  return runFiles(files, (suite, list) =>
    list.map(() => {
      const line = answers[i++];
      if (line === undefined) return new Error("the program gave no answer");
      try {
        return JSON.parse(line);
      } catch {
        return new Error(`not a JSON line: ${line.slice(0, 200)}`);
      }
    }));
}

/** Spawns command (a shell command line), writes lines, collects its output lines. */
function talk(command, lines, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, stdio: ["pipe", "pipe", "inherit"] });
    const out = [];
    const rl = createInterface({ input: child.stdout });
    rl.on("line", (l) => {
      if (l.trim() !== "") out.push(l);
    });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`'${command}' did not finish within ${timeoutMs} ms (${out.length} of ${lines.length} answers)`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    let exited = null, closed = false;
    const finish = () => {
      if (exited === null || !closed) return;
      clearTimeout(timer);
      resolve(out);
    };
    child.on("exit", (code) => {
      exited = code ?? 0;
      finish();
    });
    rl.on("close", () => {
      closed = true;
      finish();
    });
    child.stdin.on("error", () => {}); // a program that exits early: missing answers are reported per test
    (async () => {
      for (const l of lines) {
        if (!child.stdin.write(l + "\n")) await new Promise((r) => child.stdin.once("drain", r));
      }
      child.stdin.end();
    })();
  });
}
