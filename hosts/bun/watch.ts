// The Bun host's netlink watcher thread (bun:ffi has no asynchronous calls):
// blocks in poll() on the descriptor the main thread opened, reads every
// message batch with recv(MSG_DONTWAIT) and posts it; stops when the shared
// flag is set, within one poll timeout, and closes the descriptor.
import { dlopen } from "bun:ffi";

const c = dlopen("libc.so.6", {
  recv: { args: ["i32", "ptr", "u64", "i32"], returns: "i64" },
  poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
} as const).symbols;

const MSG_DONTWAIT = 0x40;
const POLLIN = 1;
const POLLNVAL = 0x20;

self.onmessage = (e: MessageEvent) => {
  const { fd, stop } = e.data as { fd: number; stop: SharedArrayBuffer };
  const stopped = new Int32Array(stop);
  const fds = new Uint8Array(8);
  const v = new DataView(fds.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, POLLIN, true);
  const buf = new Uint8Array(65536);
  while (Atomics.load(stopped, 0) === 0) {
    v.setInt16(6, 0, true);
    if (c.poll(fds, 1, 250) <= 0) continue;
    if (v.getInt16(6, true) & POLLNVAL) break;
    for (;;) {
      const n = Number(c.recv(fd, buf, buf.length, MSG_DONTWAIT));
      if (n <= 0) break;
      postMessage(buf.slice(0, n));
    }
  }
  c.close(fd);
  self.close();
};
