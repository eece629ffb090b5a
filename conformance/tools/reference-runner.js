#!/usr/bin/env node
// The line protocol of docs/PROTOCOL.md section 9.4, spoken by the reference
// implementation (reference.js), so that `conformance/run.js --external`
// is itself tested and so that a port has a working example to copy:
//
//   node conformance/run.js --external "node conformance/tools/reference-runner.js"
//
// Reads one {"suite", "group", "test"} JSON object per line on standard input
// and writes one answer per line: {"tcId", "result", "error"?, outputs...}.
// The protocol suites (and hkdf, keywrap) come from reference.js, the SID
// codec suites (tcpstate, tunnel, frames) from sid-reference.js; the other
// crypto suites use node:crypto and the @noble libraries (development
// dependencies), which are independent of the core's own cryptography.
import { createHash, createHmac } from "node:crypto";
import { createInterface } from "node:readline";
import { chacha20poly1305, chacha20 } from "@noble/ciphers/chacha.js";
import { poly1305 } from "@noble/ciphers/_poly1305.js";
import { x25519 } from "@noble/curves/ed25519.js";
import * as R from "./reference.js";
import { sidAnswer } from "./sid-reference.js";
import { dhcpAnswer } from "./dhcp-reference.js";

const { hex, unhex } = R;
const HASH = { MD5: "md5", "SHA-1": "sha1", "SHA-256": "sha256" };
const HMAC = { "HMAC-MD5": "md5", "HMAC-SHA1": "sha1", "HMAC-SHA256": "sha256" };

/** The answer to one test (section 9.4). */
export function answer({ suite, group, test }) {
  const a = { tcId: test.tcId };
  switch (suite) {
    case "message": {
      const bytes = unhex(test.message);
      const error = R.verify(bytes, group.algorithm, unhex(group.key));
      if (error) return { ...a, result: "invalid", error };
      const out = { ...a, result: "valid", json: R.decode(bytes).json };
      if (test.json) out.message = hex(R.encode(test.json));
      return out;
    }
    case "cookie":
      try {
        return { ...a, result: "valid", cookie: R.cookieFromName(test.name) };
      } catch (e) {
        if (e instanceof R.RefError) return { ...a, result: "invalid", error: e.errorName };
        throw e;
      }
    case "replay-window": {
      const w = new R.ReplayWindow(group.windowBits);
      const steps = test.steps.map(([seq]) => {
        const r = w.check(seq);
        if (r === null) w.update(seq);
        return [seq, r ?? "valid"];
      });
      const last = steps[steps.length - 1][1];
      return { ...a, result: last === "valid" ? "valid" : "invalid", ...(last === "valid" ? {} : { error: last }), steps };
    }
    case "timestamp": {
      const r = R.checkTimestamp(test.id, test.now, test.skewMs);
      return r === null ? { ...a, result: "valid" } : { ...a, result: "invalid", error: r };
    }
    case "hash": {
      const h = createHash(HASH[group.algorithm]);
      const unit = unhex(test.msg);
      for (let i = 0; i < (test.repeat ?? 1); i++) h.update(unit);
      return { ...a, result: "valid", digest: h.digest("hex") };
    }
    case "hmac": {
      const full = createHmac(HMAC[group.algorithm], unhex(test.key)).update(unhex(test.msg)).digest("hex");
      const tag = full.slice(0, 2 * (test.tagLength ?? full.length / 2));
      return { ...a, result: tag === test.tag ? "valid" : "invalid", tag };
    }
    case "aead": {
      const key = unhex(test.key);
      if (group.algorithm === "CHACHA20-POLY1305") {
        const nonce = unhex(test.nonce), aad = unhex(test.aad);
        let opened;
        try {
          opened = chacha20poly1305(key, nonce, aad).decrypt(R.concat(unhex(test.ct), unhex(test.tag)));
        } catch {
          return { ...a, result: "invalid" };
        }
        const sealed = chacha20poly1305(key, nonce, aad).encrypt(unhex(test.msg));
        return { ...a, result: "valid", msg: hex(opened), ct: hex(sealed.subarray(0, sealed.length - 16)), tag: hex(sealed.subarray(sealed.length - 16)) };
      }
      if (group.algorithm === "CHACHA20") {
        return { ...a, result: "valid", ct: hex(chacha20(key, unhex(test.nonce), unhex(test.msg), undefined, test.counter)) };
      }
      if (group.algorithm === "POLY1305") {
        const tag = hex(poly1305(unhex(test.msg), key));
        return { ...a, result: tag === test.tag ? "valid" : "invalid", tag };
      }
      throw new Error(`aead: unknown algorithm ${group.algorithm}`);
    }
    case "x25519": {
      let k = unhex(test.private), u = unhex(test.public);
      for (let i = 0; i < (test.iterations ?? 1); i++) {
        let s;
        try {
          s = x25519.scalarMult(k, u);
        } catch {
          s = new Uint8Array(32); // @noble refuses the all-zero result of a low-order point
        }
        u = k;
        k = s;
      }
      return k.every((b) => b === 0) ? { ...a, result: "invalid", error: "LOW_ORDER_POINT", shared: hex(k) } : { ...a, result: "valid", shared: hex(k) };
    }
    case "hkdf":
    case "keywrap":
      try {
        return { ...a, result: "valid", ...keyDerivation(suite, group, test) };
      } catch (e) {
        if (e instanceof R.RefError) return { ...a, result: "invalid", error: e.errorName };
        throw e;
      }
  }
  return sidAnswer(suite, group, test) ?? dhcpAnswer(suite, group, test) ?? { ...a, result: "invalid", error: "UNSUPPORTED_SUITE" };
}

/** The outputs of the hkdf and keywrap suites, from reference.js (which throws RefError to refuse). */
function keyDerivation(suite, group, test) {
  if (suite === "hkdf") {
    const ikm = unhex(test.ikm), salt = unhex(test.salt);
    return { okm: hex(R.hkdfSha256(ikm, salt, unhex(test.info), test.size)), prk: hex(R.hkdfExtract(salt, ikm)) };
  }
  const common = { header: unhex(test.header), wrap: group.wrap, wrapSpi: test.wrapSpi, sessionSpi: test.sessionSpi };
  const x = group.wrap === "X25519_CHACHA20_POLY1305";
  if (group.operation === "wrap") {
    const w = R.wrapSessionKey({
      ...common, nonce: unhex(test.nonce), sessionKey: unhex(test.sessionKey),
      ...(x ? { recipientPublic: unhex(test.recipientPublic), ephemeralPrivate: unhex(test.ephemeralPrivate) } : { key: unhex(test.key) }),
    });
    return { body: hex(w.body) };
  }
  if (group.operation === "unwrap") {
    return { sessionKey: hex(R.unwrapSessionKey({ ...common, key: unhex(x ? test.recipientPrivate : test.key), body: unhex(test.body) })) };
  }
  throw new Error(`keywrap: unknown operation ${group.operation}`);
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line.trim() === "") continue;
  let out;
  try {
    out = answer(JSON.parse(line));
  } catch (e) {
    let tcId = null;
    try { tcId = JSON.parse(line).test.tcId; } catch { /* not JSON */ }
    out = { tcId, result: "invalid", error: "RUNNER_ERROR", detail: String(e?.message ?? e) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
