// The agent's binding table (core/assembly/sid/bindings.ts) through the bench exports (core/assembly/abi/sidbench.ts):
// the batched lookup (a packet path's, BindingTable.findBatch) finds exactly what the single lookup finds, for bound
// and unbound addresses, in a full table (every slot's probe in use) with consecutive and scattered addresses.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { agent, FILL_HEAP, FILL_VNIS } from "../bench/sid-bindings.js";

const module = new WebAssembly.Module(readFileSync(new URL("../build/handover.wasm", import.meta.url)));

for (const scattered of [false, true]) {
  test(`the batched lookup agrees with the single one, ${scattered ? "scattered" : "consecutive"} addresses, a full table of 50,000`, () => {
    const { x } = agent(module, 50000, FILL_HEAP | FILL_VNIS, 50000, scattered);
    for (const seed of [3, 11]) {
      assert.is(x.sidbench_lookup_batch(20000, seed, 0), 20000, "every bound address found in batches");
      assert.is(x.sidbench_lookup_batch(20000, seed, 1), 0, "no unbound address found in batches");
      assert.is(x.sidbench_lookup(20000, seed, 0), 20000, "every bound address found one by one");
      assert.is(x.sidbench_lookup_agree(20000, seed, 0), 0, "bound: the batch's records are find's");
      assert.is(x.sidbench_lookup_agree(20000, seed, 1), 0, "unbound: the batch's records are find's (none)");
      assert.is(x.sidbench_lookup_agree(77, seed, 0), 0, "a count that is no multiple of the batch");
    }
  });
}

test.run();
