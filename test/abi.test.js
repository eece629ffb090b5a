import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadRaw } from "./_wasm.js";

test("the module imports nothing and reports ABI version 1", () => {
  const { x } = loadRaw();
  assert.is(x.abi_version(), 1);
  assert.is(x.io_size(), 65536);
  assert.ok(x.io_in_ptr() !== x.io_out_ptr());
});

test.run();
