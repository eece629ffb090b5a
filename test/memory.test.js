// The core's memory stays flat under every steady load (issue 7, item 6): on
// the simulated pair, each kind of traffic in test/_load.js runs long enough
// that a leak of even the smallest heap block per unit would outgrow the whole
// memory, and the page count after the warm-up must not change. Every unit
// must also have had its effect (a migration completed, a request refused...).
// And a configured peer holds at most 512 B of the core's memory (issue 11;
// bench/memory.js --tables): a count of bytes, not a time.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LOADS, measure } from "./_load.js";
import { corePeerBytes } from "../bench/_tables.js";

/** Units run before measuring: the caches, quarantines and the GC's pacing reach their steady state. */
const WARMUP = 1000;

for (const name of Object.keys(LOADS)) {
  test(`memory stays flat: ${name}`, () => {
    const r = measure(name, WARMUP);
    assert.is(r.missed, 0, `${r.missed} of ${WARMUP + r.units} units missed their effect`);
    r.names.forEach((node, k) => {
      assert.is(r.after[k], r.before[k], `${node}: ${r.before[k]} pages after ${WARMUP} units, ${r.after[k]} after ${r.units} more`);
    });
  });
}

test("a configured peer holds at most 512 B of the core's memory (10,001 peers, one SA each)", () => {
  const t = corePeerBytes(10001);
  assert.ok(t.bytesPerPeer <= 512, `${t.bytesPerPeer.toFixed(0)} B per peer (growth/peers ${t.bytesPerPeerBound.toFixed(0)})`);
});

test.run();
