// The exchange buffers between host and core.
//
// The host never allocates inside the core: it writes inputs at `io_in_ptr()`
// and reads outputs at `io_out_ptr()`. Both are static (outside the garbage-
// collected heap), so their addresses never change; but `memory.grow` replaces
// the host's ArrayBuffer, so a host re-creates its views after any call that
// may allocate.

/** Size in bytes of each of the two exchange buffers. */
export const IO_SIZE: i32 = 65536;

const IO_IN: usize = memory.data(IO_SIZE, 16);
const IO_OUT: usize = memory.data(IO_SIZE, 16);

export function inPtr(): usize { return IO_IN; }
export function outPtr(): usize { return IO_OUT; }
