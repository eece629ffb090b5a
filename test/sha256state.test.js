// The demo's resumable SHA-256 (demo/sha256.ts) against node:crypto: any
// split of the input, with the state exported and resumed at each split,
// gives the same digest.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { Sha256 } from "../dist/demo/sha256.js";

test("empty, short and block-boundary inputs match node:crypto", () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000]) {
    const d = randomBytes(n);
    assert.is(new Sha256().update(d).hex(), createHash("sha256").update(d).digest("hex"), `${n} bytes`);
  }
});

test("exported and resumed at random splits, the digest is unchanged", () => {
  const d = randomBytes(5000);
  for (let round = 0; round < 50; round++) {
    let h = new Sha256();
    for (let at = 0; at < d.length; ) {
      const n = Math.floor(Math.random() * 300);
      h.update(d.subarray(at, at + n));
      at += n;
      h = Sha256.resume(JSON.parse(JSON.stringify(h.state())));
    }
    assert.is(h.hex(), createHash("sha256").update(d).digest("hex"));
  }
});

test("hex() does not end the hash", () => {
  const h = new Sha256().update(Buffer.from("abc"));
  assert.is(h.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  h.update(Buffer.from("def"));
  assert.is(h.hex(), createHash("sha256").update("abcdef").digest("hex"));
});

test.run();
