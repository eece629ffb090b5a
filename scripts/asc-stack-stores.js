// An asc transform (package.json build:core: --transform): the shadow stack's frames are
// zeroed with stores, not memory.fill.
//
// With the incremental runtime every function that keeps a managed reference
// across a call takes a shadow-stack frame and zeroes it on entry. asc emits
// that as memory.fill when bulk memory is enabled and the frame is over 16
// bytes (its stores otherwise), and V8 compiles memory.fill to a call out of
// the module into C (wasm::memory_fill_wrapper): about 5 ns a call, against
// under 1 ns for the stores, and a renewal at the agent makes some twenty
// such calls (decode, the engine's handlers, the reply). Frames up to
// MAX_STORED bytes are zeroed by asc's own store path (i64 stores); larger
// ones keep memory.fill. Nothing else of the module changes.
//
// asc 0.28's ShadowStackPass.makeStackFill(frameSize, stmts) is wrapped: it
// emits the stores when options.hasFeature(BulkMemory) says no, so for the
// call it says no. If a later asc has no such method the transform does
// nothing (and says so).
import { Transform } from "assemblyscript/transform";
import * as assemblyscript from "assemblyscript";

const MAX_STORED = 128;
/** Set when the patched Compiler#compile ran (afterCompile checks). */
let compiled = false;
const BULK_MEMORY = 8; // Feature.BulkMemory

export default class StackStores extends Transform {
  afterInitialize() {
    const C = assemblyscript.Compiler;
    if (!C || C.prototype.__stackStores) return;
    const compile = C.prototype.compile;
    const log = (s) => this.stderr?.write?.(s + "\n");
    C.prototype.compile = function () {
      compiled = true;
      const ss = this.shadowStack;
      if (ss && typeof ss.makeStackFill === "function") {
        const fill = ss.makeStackFill;
        ss.makeStackFill = function (frameSize, stmts) {
          if (frameSize > MAX_STORED) return fill.call(this, frameSize, stmts);
          const options = this.options;
          const has = options.hasFeature;
          options.hasFeature = function (f) {
            return f === BULK_MEMORY ? false : has.call(this, f);
          };
          try {
            return fill.call(this, frameSize, stmts);
          } finally {
            delete options.hasFeature;
          }
        };
      } else {
        log("scripts/asc-stack-stores.js: this asc has no ShadowStackPass.makeStackFill: frames stay memory.fill");
      }
      return compile.call(this);
    };
    C.prototype.__stackStores = true;
  }

  afterCompile() {
    // (another copy of the assemblyscript package than the one asc runs: its Compiler was not the one patched)
    if (!compiled) this.stderr?.write?.("scripts/asc-stack-stores.js: asc's Compiler is not the one imported here: frames stay memory.fill\n");
  }
}
