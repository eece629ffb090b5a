// The ABI of the handover core: every export of the WebAssembly module is
// listed here, and documented in docs/ABI.md.
import "./abort";
import { IO_SIZE, inPtr, outPtr } from "./abi/io";
import { ABI_VERSION } from "./generated/registry";

/** Version of this ABI; a host refuses a module whose version it does not know. */
export function abi_version(): i32 { return ABI_VERSION; }

/** Address of the 64 KiB input buffer the host writes into. */
export function io_in_ptr(): usize { return inPtr(); }
/** Address of the 64 KiB output buffer the host reads from. */
export function io_out_ptr(): usize { return outPtr(); }
/** Size of each exchange buffer in bytes. */
export function io_size(): i32 { return IO_SIZE; }
export * from "./abi/crypto";
export * from "./abi/codec";
export * from "./abi/engine";
export * from "./abi/keywrap";
export * from "./abi/sid";
export * from "./abi/sidengine";
export * from "./abi/sidbench";
export * from "./abi/sidflows";
export * from "./abi/sidaddr";
