// The Wireshark dissector (tools/wireshark/handover.lua) against the conformance
// messages: every vector of conformance/vectors/message.json is wrapped in UDP and
// IP (IPv4 and IPv6 frames alternate) into a pcap file, tshark decodes it with
// the dissector, and each frame must show the fields the vector's json gives
// (valid), or exactly the expert information of the vector's error (invalid).
// Each vector group runs with its own key in the handover.keys preference, so
// forged and altered messages show BAD_AUTHENTICATOR / AUTH_LENGTH_MISMATCH; a
// run without keys shows the same messages as well-formed but unverified.
//
// Needs tshark (Debian: apt-get install tshark; .ci/run installs it).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writePcap } from "../tools/wireshark/pcap.js";
import { Prng } from "../conformance/tools/prng.js";
import * as reference from "../conformance/tools/reference.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const DISSECTOR = join(root, "tools/wireshark/handover.lua");
const REGISTRY = JSON.parse(readFileSync(join(root, "core/registry.json"), "utf8"));
const VECTORS = JSON.parse(readFileSync(join(root, "conformance/vectors/message.json"), "utf8"));
const PORT = REGISTRY.defaultPort;
const env = (k) => (globalThis.Deno ? Deno.env.get(k) : process.env[k]);
const SEED = env("HANDOVER_SEED") !== undefined ? Number(env("HANDOVER_SEED")) >>> 0 : 0x77736b31;

const unhex = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const snake = (s) => s.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
const byName = (list) => Object.fromEntries(list.map((x) => [x.name, x.value]));
const MESSAGE = byName(REGISTRY.messageTypes);
const EXTENSION = byName(REGISTRY.extensionTypes);
const CODE = byName(REGISTRY.replyCodes);
const WRAP = byName(REGISTRY.keyWrapAlgorithms);
const PROTO = byName(REGISTRY.protoFlags);
const OPAQUE = byName(REGISTRY.opaqueSubtypes);
const IP_PROTOCOL = { TCP: 6, UDP: 17 };

function tsharkMissing() {
  const r = spawnSync("tshark", ["--version"], { encoding: "utf8" });
  return r.error || r.status !== 0;
}
if (tsharkMissing()) {
  test("tshark is installed", () => {
    assert.unreachable("tshark is not installed: run `apt-get install tshark` (Debian/Ubuntu); .ci/run installs it in CI");
  });
  test.run();
} else {
  suite();
}

/** Runs tshark with the dissector over `frames` (Uint8Array payloads); the JSON of each frame's layers. */
function dissect(frames, prefs = []) {
  const dir = mkdtempSync(join(tmpdir(), "handover-dissector-"));
  try {
    const file = join(dir, "messages.pcap");
    writeFileSync(file, writePcap(frames.map((payload, i) => ({ payload, ipv6: i % 2 === 1, port: PORT }))));
    const args = ["-n", "-X", `lua_script:${DISSECTOR}`, ...prefs.flatMap((p) => ["-o", p]), "-r", file, "-T", "json", "--no-duplicate-keys"];
    const r = spawnSync("tshark", args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    assert.is(r.status, 0, `tshark failed (${r.status}): ${r.stderr}`);
    assert.not.match(r.stderr, /Lua/, `tshark reported a Lua problem: ${r.stderr}`);
    const packets = JSON.parse(r.stdout);
    assert.is(packets.length, frames.length, "tshark returned one packet per frame");
    return packets.map((p) => p._source.layers);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** With --no-duplicate-keys, a key that occurs more than once holds an array. */
const many = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const NUMBER = /^(0x[0-9a-f]+|\d+)$/;
/** tshark's text of a field against the vector's: numbers by value (0x01 is 1), bytes without separators. */
const sameText = (got, want) =>
  NUMBER.test(got) && NUMBER.test(want) ? Number(got) === Number(want) : got.replaceAll(":", "") === want;

/** Every handover.error.* expert in a layer tree, by name (BAD_LENGTH). */
function errorsIn(node, out = []) {
  if (Array.isArray(node)) for (const x of node) errorsIn(x, out);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k.startsWith("handover.error.")) out.push(k.slice("handover.error.".length).toUpperCase());
      errorsIn(v, out);
    }
  }
  return out;
}

/** The first value of field `key` anywhere in a layer tree. */
function find(node, key) {
  if (!node || typeof node !== "object") return undefined;
  if (!Array.isArray(node) && key in node) return node[key];
  for (const v of Object.values(node)) {
    const found = find(v, key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** IPv6 text (any valid form, RFC 4291 2.2) to 16 bytes, so that formatting choices do not matter. */
function ipv6Bytes(text) {
  let tail = [];
  let t = text;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) {
    tail = v4.slice(1).map(Number);
    t = t.slice(0, v4.index) + "0:0";
  }
  const [head, rest] = t.split("::");
  const groups = (s) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const h = groups(head), r = rest === undefined ? [] : groups(rest);
  const all = [...h, ...new Array(8 - h.length - r.length).fill(0), ...r];
  const bytes = all.flatMap((g) => [g >> 8, g & 255]);
  if (v4) bytes.splice(12, 4, ...tail);
  return bytes.join(",");
}

/** The dissector's fields for one canonical-JSON extension (PROTOCOL.md 9.3): [abbreviation, expected text] pairs. */
function expectedFields(e) {
  if (typeof e.type === "number") return [["handover.ext.type", String(e.type)], ["handover.ext.data", e.data]];
  const prefix = "handover." + e.type.toLowerCase();
  const out = [["handover.ext.type", String(EXTENSION[e.type])]];
  const family = (addr) => (addr.includes(":") ? "2" : "1");
  for (const [key, value] of Object.entries(e)) {
    if (key === "type") continue;
    const name = `${prefix}.${snake(key)}`;
    if (key === "protocols") out.push([`${prefix}.proto_flags`, String(value.reduce((a, p) => a | PROTO[p], 0))]);
    else if (key === "wrap") out.push([name, String(WRAP[value])]);
    else if (key === "generator") out.push([name, String({ STATIC: 1, IPV6: 2, DHCP4: 3 }[value])]);
    else if (key === "state" && value === "") continue; // no generator state: no field
    else if (key === "subtype") out.push([name, String(typeof value === "number" ? value : OPAQUE[value])]);
    else if (key === "protocol") out.push([name, String(IP_PROTOCOL[value])]);
    else if (/address$/i.test(key) && e.type !== "LINK_LAYER_ADDRESS") {
      out.push([value.includes(":") ? `${name}_v6` : name, { address: value }]);
      if (key === "address" || key === "oldAddress" || key === "localAddress") out.push([`${prefix}.family`, family(value)]);
    } else out.push([name, typeof value === "number" ? String(value) : value]);
  }
  return out;
}

/** Checks one frame's handover layer against a valid vector's json; returns a list of differences. */
function compare(layer, json) {
  const diffs = [];
  const same = (what, got, want) => {
    if (want !== null && typeof want === "object") {
      if (got === undefined || ipv6Bytes(String(got)) !== ipv6Bytes(want.address) && String(got) !== want.address) diffs.push(`${what}: ${got} != ${want.address}`);
    } else if (got === undefined || !sameText(String(got), String(want))) diffs.push(`${what}: ${got} != ${want}`);
  };
  same("handover.version", layer["handover.version"], String(json.version));
  same("handover.type", layer["handover.type"], String(MESSAGE[json.type]));
  same("handover.sequence", layer["handover.sequence"], String(json.sequence));
  same("handover.cookie", layer["handover.cookie"], json.cookie);
  same("handover.replay_id", layer["handover.replay_id"], json.replayId);
  same("handover.reserved", layer["handover.reserved"], "0");
  if ("code" in json) same("handover.code", layer["handover.code"], String(typeof json.code === "number" ? json.code : CODE[json.code]));
  else {
    const flags = REGISTRY.flags.filter((f) => json.flags.includes(f.name)).reduce((a, f) => a | f.value, 0);
    same("handover.flags", layer["handover.flags"], String(flags));
    const tree = layer["handover.flags_tree"] ?? {};
    for (const name of json.flags) same(`handover.flags.${name.toLowerCase()}`, tree[`handover.flags.${name.toLowerCase()}`], "1");
  }
  const exts = many(layer["handover.extension"]);
  if (exts.length !== json.extensions.length) diffs.push(`${exts.length} extensions shown, ${json.extensions.length} in the vector`);
  json.extensions.forEach((e, i) => {
    const tree = flatten(exts[i] ?? {});
    for (const [name, want] of expectedFields(e)) same(`extension ${i} ${name}`, tree[name], want);
  });
  return diffs;
}

/** An extension's subtree with nested subtrees (flag bits) lifted to the top. */
function flatten(node, out = {}) {
  for (const [k, v] of Object.entries(node)) {
    if (k.endsWith("_tree") && v && typeof v === "object") flatten(v, out);
    else out[k] = v;
  }
  return out;
}

function suite() {
  const groups = VECTORS.testGroups;
  const keyPref = (g) => `handover.keys:*:${g.algorithm}:${g.key}`;

  test("every conformance message decodes to the vector's fields or shows the vector's first error", () => {
    let checked = 0;
    const failures = [];
    for (const g of groups) {
      const layers = dissect(g.tests.map((t) => unhex(t.message)), [keyPref(g)]);
      g.tests.forEach((t, i) => {
        const layer = layers[i].handover;
        const where = `tcId ${t.tcId} (${t.comment})`;
        if (!layer) {
          // UDP hands no empty datagram to a dissector: nothing to show, nothing to flag.
          if (t.message === "") return void checked++;
          return void failures.push(`${where}: no handover layer`);
        }
        const errors = errorsIn(layer);
        if (/Lua Error/i.test(JSON.stringify(layers[i]))) failures.push(`${where}: the dissector failed: ${JSON.stringify(layers[i])}`);
        if (t.result === "valid") {
          if (errors.length) failures.push(`${where}: unexpected ${errors.join(", ")}`);
          if (find(layer, "handover.auth.verified") !== "1") failures.push(`${where}: authenticator not shown as verified`);
          const diffs = compare(layer, t.json);
          if (diffs.length) failures.push(`${where}: ${diffs.join("; ")}`);
        } else if (errors.length !== 1 || errors[0] !== t.error) {
          failures.push(`${where}: shows [${errors.join(", ")}], the vector says ${t.error}`);
        }
        checked++;
      });
    }
    assert.is(failures.length, 0, `${failures.length} of ${checked} frames differ:\n${failures.slice(0, 40).join("\n")}`);
    assert.is(checked, VECTORS.numberOfTests);
  });

  test("truncated and mutated messages show the reference decoder's first error, and never a Lua error", () => {
    // The oracle is conformance/tools/reference.js, written from PROTOCOL.md alone.
    const prng = new Prng(SEED);
    for (const g of groups) {
      const cases = [];
      for (const t of g.tests.filter((x) => x.result === "valid")) {
        const m = unhex(t.message);
        cases.push(m.subarray(0, prng.int(0, m.length - 1))); // a truncation
        for (let k = 0; k < 3; k++) {
          const x = m.slice();
          for (let j = prng.int(1, 3); j > 0; j--) x[prng.int(0, x.length - 1)] ^= 1 << prng.int(0, 7);
          cases.push(x); // one to three flipped bits
        }
      }
      const layers = dissect(cases, [keyPref(g)]);
      cases.forEach((m, i) => {
        const want = reference.verify(m, g.algorithm, unhex(g.key));
        const layer = layers[i].handover;
        const text = JSON.stringify(layers[i]);
        const where = `seed ${SEED}, message ${reference.hex(m)}`;
        assert.not.match(text, /Lua Error/i, `${where}: the dissector failed`);
        if (m.length === 0) return assert.is(layer, undefined, where);
        assert.equal(errorsIn(layer), want === null ? [] : [want], where);
      });
    }
  });

  test("without keys, forged messages decode as well-formed and unverified", () => {
    const forged = groups.flatMap((g) => g.tests).filter((t) => t.result === "invalid" && (t.error === "BAD_AUTHENTICATOR" || t.error === "AUTH_LENGTH_MISMATCH"));
    assert.ok(forged.length > 0);
    const layers = dissect(forged.map((t) => unhex(t.message)));
    forged.forEach((t, i) => {
      const layer = layers[i].handover;
      assert.equal(errorsIn(layer), [], `tcId ${t.tcId}`);
      assert.is(find(layer, "handover.auth.verified"), undefined, `tcId ${t.tcId}: nothing to verify with`);
    });
  });

  test("a malformed handover.keys entry is reported, not ignored", () => {
    const t = groups[0].tests.find((x) => x.result === "valid");
    const [layers] = [dissect([unhex(t.message)], ["handover.keys:256:HMAC_SHA256:abc"])];
    assert.equal(errorsIn(layers[0].handover), ["CONFIG"]);
  });

  test("the malformed frames are counted as malformed by Wireshark's expert system", () => {
    const g = groups[0];
    const bad = g.tests.filter((t) => t.result === "invalid" && t.message !== "" && t.error !== "BAD_AUTHENTICATOR" && t.error !== "AUTH_LENGTH_MISMATCH");
    const dir = mkdtempSync(join(tmpdir(), "handover-dissector-"));
    try {
      const file = join(dir, "bad.pcap");
      writeFileSync(file, writePcap(bad.map((t) => ({ payload: unhex(t.message), ipv6: false, port: PORT }))));
      const r = spawnSync("tshark", ["-n", "-X", `lua_script:${DISSECTOR}`, "-r", file, "-Y", "_ws.expert.group == 0x07000000 && _ws.expert.severity == error", "-T", "fields", "-e", "frame.number"], { encoding: "utf8" });
      assert.is(r.status, 0, r.stderr);
      assert.is(r.stdout.trim().split("\n").length, bad.length, "every malformed frame carries a Malformed/Error expert item");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("every field that PROTOCOL.md sections 3 and 4 name in a Field table is a dissector field of that label", () => {
    const spec = readFileSync(join(root, "docs/PROTOCOL.md"), "utf8");
    const wire = spec.slice(spec.indexOf("\n## 3."), spec.indexOf("\n## 5."));
    const names = new Set();
    let column = -1;
    for (const line of wire.split("\n")) {
      if (!line.startsWith("|")) { column = -1; continue; }
      const cells = line.split("|").slice(1, -1).map((c) => c.trim());
      if (column < 0) { column = cells.indexOf("Field"); continue; } // a table's header row
      if (column < 0 || /^[-:]+$/.test(cells[column])) continue;
      for (const name of cells[column].replaceAll("`", "").split(/,\s*/)) names.add(name);
    }
    assert.ok(names.size >= 15, `PROTOCOL.md's Field tables were found (${[...names]})`);
    const r = spawnSync("tshark", ["-G", "fields", "-X", `lua_script:${DISSECTOR}`], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    const labels = new Set(r.stdout.split("\n").map((l) => l.split("\t")).filter((f) => f[0] === "F" && f[2]?.startsWith("handover.")).map((f) => f[1]));
    const missing = [...names].filter((n) => !labels.has(n));
    assert.equal(missing, [], `PROTOCOL.md names fields the dissector does not label so: ${missing.join(", ")}`);
  });

  test("a datagram the capture cut short is not blamed on its sender; a zero UDP checksum is", () => {
    const t = groups[0].tests.find((x) => x.tcId === 6);
    const payload = unhex(t.message);
    const dir = mkdtempSync(join(tmpdir(), "handover-dissector-"));
    try {
      const file = join(dir, "cut.pcap");
      writeFileSync(file, writePcap([
        { payload, port: PORT, snapLength: 20 + 8 + 40 }, // IP, UDP and 40 of the message's bytes
        { payload, port: PORT, zeroChecksum: true },
        { payload, port: PORT },
      ]));
      const r = spawnSync("tshark", ["-n", "-X", `lua_script:${DISSECTOR}`, "-r", file, "-T", "json", "--no-duplicate-keys"], { encoding: "utf8" });
      assert.is(r.status, 0, r.stderr);
      const [cut, zero, whole] = JSON.parse(r.stdout).map((p) => p._source.layers.handover);
      assert.equal(errorsIn(cut), [], "no TRUNCATED for bytes the capture dropped");
      assert.ok(find(cut, "handover.capture_cut_short") !== undefined, "the cut is reported");
      assert.ok(find(zero, "handover.udp_checksum_zero") !== undefined, "the zero checksum is reported");
      assert.equal(errorsIn(zero), []);
      assert.is(find(whole, "handover.udp_checksum_zero"), undefined);
      assert.is(find(whole, "handover.capture_cut_short"), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a reply names its request and the time since; a retransmission names the first copy (tshark -2)", () => {
    const auth = { algorithm: "HMAC_SHA256", key: unhex(groups[0].key), spi: 256 };
    const header = (type, sequence, replayId) => ({ version: 1, type, sequence, cookie: "1eae5683abb6", replayId });
    const request = reference.encode({ ...header("MIGRATION_REQUEST", 7, "e8a1b2c3000000aa"), flags: [], extensions: [
      { type: "MIGRATION", protocols: ["TCP"], oldAddress: "198.18.1.2", newAddress: "198.18.2.2", oldPort: 5001, newPort: 5001 }] }, auth);
    // The reply copies the Sequence # and the low 32 bits of the Replay Protect ID (section 6.6).
    const reply = (sequence, replayId) => reference.encode({ ...header("MIGRATION_REPLY", sequence, replayId), code: "ACCEPTED", extensions: [] }, auth);
    const frames = [
      { payload: request, port: PORT },
      { payload: request, port: PORT },
      { payload: reply(7, "00000000000000aa"), port: PORT, reverse: true },
      { payload: reply(8, "00000000000000aa"), port: PORT, reverse: true }, // another Sequence #
      { payload: reply(7, "00000000000000ab"), port: PORT, reverse: true }, // another replay ID
      { payload: reply(7, "00000000000000aa"), port: PORT }, // from the request's sender, not its destination
    ];
    const dir = mkdtempSync(join(tmpdir(), "handover-dissector-"));
    try {
      const file = join(dir, "exchange.pcap");
      writeFileSync(file, writePcap(frames));
      const r = spawnSync("tshark", ["-2", "-n", "-X", `lua_script:${DISSECTOR}`, "-r", file, "-T", "json", "--no-duplicate-keys"], { encoding: "utf8" });
      assert.is(r.status, 0, r.stderr);
      const h = JSON.parse(r.stdout).map((p) => p._source.layers.handover);
      assert.equal(h.map((x) => errorsIn(x)), frames.map(() => []));
      assert.is(h[0]["handover.reply_in"], "3");
      assert.is(h[1]["handover.duplicate_of"], "1");
      assert.is(h[0]["handover.duplicate_of"], undefined);
      assert.is(h[2]["handover.request_in"], "1");
      assert.is(Number(h[2]["handover.reply_time"]), 2, "frames 1 and 3 are 2 s apart");
      for (const i of [3, 4, 5]) assert.is(h[i]["handover.request_in"], undefined, `frame ${i + 1} answers no request`);
      assert.is(h[5]["handover.duplicate_of"], "3", "the same bytes as frame 3, whatever the direction");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a Replay Protect ID that is a timestamp shows as one, with the sender's clock offset; a nonce does not", () => {
    const auth = { algorithm: "HMAC_SHA256", key: unhex(groups[0].key), spi: 256 };
    // The pcap's first frame is at Unix time 1 700 000 000 s (tools/wireshark/pcap.js).
    const ntp = (unix) => (Math.floor(unix) + 2208988800).toString(16).padStart(8, "0") + Math.round((unix % 1) * 2 ** 32).toString(16).padStart(8, "0");
    const message = (replayId) => reference.encode({ version: 1, type: "REGISTRATION_REQUEST", flags: [], sequence: 1, cookie: "1eae5683abb6", replayId, extensions: [] }, auth);
    const dir = mkdtempSync(join(tmpdir(), "handover-dissector-"));
    try {
      const file = join(dir, "timestamps.pcap");
      writeFileSync(file, writePcap([
        { payload: message(ntp(1_700_000_000 + 3.5)), port: PORT }, // 3.5 s ahead of the capture
        { payload: message(ntp(1_700_000_001 - 0.25)), port: PORT }, // 0.25 s behind
        { payload: message("7f3a9c11" + "0000beef"), port: PORT }, // a nonce pair, far from any plausible time
      ]));
      const r = spawnSync("tshark", ["-n", "-X", `lua_script:${DISSECTOR}`, "-r", file, "-T", "json", "--no-duplicate-keys"], { encoding: "utf8" });
      assert.is(r.status, 0, r.stderr);
      const h = JSON.parse(r.stdout).map((p) => p._source.layers.handover);
      const offset = (x) => Number(find(x, "handover.replay_id.clock_offset"));
      assert.ok(Math.abs(offset(h[0]) - 3.5) < 1e-6, `ahead: ${offset(h[0])}`);
      assert.ok(Math.abs(offset(h[1]) + 0.25) < 1e-6, `behind: ${offset(h[1])}`);
      assert.match(String(find(h[0], "handover.replay_id.timestamp")), /2023/);
      assert.is(find(h[2], "handover.replay_id.timestamp"), undefined);
      assert.is(find(h[2], "handover.replay_id.clock_offset"), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("another port is dissected after the handover.port preference names it", () => {
    const t = groups[0].tests.find((x) => x.result === "valid");
    const dir = mkdtempSync(join(tmpdir(), "handover-dissector-"));
    try {
      const file = join(dir, "port.pcap");
      writeFileSync(file, writePcap([{ payload: unhex(t.message), ipv6: false, port: 5555 }]));
      const run = (prefs) => spawnSync("tshark", ["-n", "-X", `lua_script:${DISSECTOR}`, ...prefs, "-r", file, "-T", "fields", "-e", "handover.type"], { encoding: "utf8" }).stdout.trim();
      assert.is(run([]), "", "port 5555 is not the default");
      assert.is(run(["-o", "handover.port:5555"]), String(MESSAGE[t.json.type]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.run();
}
