// The core's memory stays flat under every steady load (issue 7, item 6): on
// the simulated pair, each kind of traffic in test/_load.js runs long enough
// that a leak of even the smallest heap block per unit would outgrow the whole
// memory, and the page count after the warm-up must not change.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LOADS, pages } from "./_load.js";

/** Units run before measuring: the caches, quarantines and the GC's pacing reach their steady state. */
const WARMUP = 1000;
/**
 * The smallest block the core's allocator hands out for an object: a 20-byte
 * header, rounded up to TLSF's 16-byte granularity, and some payload.
 */
const SMALLEST_BLOCK = 32;

for (const name of Object.keys(LOADS)) {
  test(`memory stays flat: ${name}`, () => {
    const load = LOADS[name]();
    let i = 0;
    for (; i < WARMUP; i++) load.step(i);
    const before = load.nodes.map(pages);
    // Enough units that one leaked block each would fill more than the memory there is.
    const units = Math.ceil((Math.max(...before) * 65536) / (load.smallestLeak ?? SMALLEST_BLOCK));
    for (const end = i + units; i < end; i++) load.step(i);
    const after = load.nodes.map(pages);
    load.nodes.forEach((n, k) => {
      assert.is(after[k], before[k], `${n.name}: ${before[k]} pages after ${WARMUP} units, ${after[k]} after ${units} more`);
    });
  });
}

test.run();
