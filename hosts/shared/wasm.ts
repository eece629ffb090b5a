// Where the compiled core is: build/handover.wasm at the package's root,
// found relative to this module (dist/hosts/shared/wasm.js) so that it works
// from a checkout and from an installed package, in every runtime.
export const WASM_URL = new URL("../../../build/handover.wasm", import.meta.url);
