// The shared daemon (hosts/shared/daemon.ts) on an in-memory host: datagrams
// pass between two daemons inside this process, the kernel accepts every
// action. No sockets, no root; real timers and clock.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { Core, Daemon } from "../dist/hosts/shared/index.js";

const MODULE = new WebAssembly.Module(readFileSync(new URL("../build/handover.wasm", import.meta.url)));
const KEY = "5a".repeat(32);

/** A netlink acknowledgement (NLMSG_ERROR, error 0) for a request. */
function ack(request) {
  const b = new Uint8Array(36);
  const v = new DataView(b.buffer);
  v.setUint32(0, 36, true);
  v.setUint16(4, 2, true);
  v.setUint32(8, new DataView(request.buffer, request.byteOffset).getUint32(8, true), true);
  b.set(request.subarray(0, 16), 20);
  return b;
}

/** An rtnetlink RTM_DELADDR notification for an IPv4 address on interface ifindex. */
function addressRemoved(ipv4, ifindex) {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setUint32(0, b.length, true);
  v.setUint16(4, 21, true); // RTM_DELADDR
  b[16] = 2; // AF_INET
  b[17] = 24;
  v.setUint32(20, ifindex, true);
  v.setUint16(24, 8, true); // IFA_LOCAL
  v.setUint16(26, 2, true);
  b.set(ipv4, 28);
  return b;
}

/**
 * Hosts whose UDP sockets reach each other by address and port, in this
 * process. `open(address)` counts the sockets bound to an address; a host's
 * address watch is handed to onWatch.
 */
function network() {
  const sockets = new Map();
  let nextPort = 40000;
  const open = (address) => [...sockets.keys()].filter((k) => k.startsWith(`${address}:`)).length;
  const io = (addresses, { onWatch } = {}) => ({
    runtime: "node",
    now: () => performance.timeOrigin + performance.now(),
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: (t) => clearTimeout(t),
    udp(address, port, handlers) {
      const bound = port || nextPort++;
      const key = `${address}:${bound}`;
      if (addresses.includes(address)) sockets.set(key, handlers);
      return {
        address,
        port: () => bound,
        send(data, to, toPort) {
          const h = sockets.get(`${to}:${toPort}`);
          const copy = data.slice();
          if (h && addresses.includes(address)) setTimeout(() => h.message(copy, address, bound), 1);
        },
        close: () => sockets.delete(key),
      };
    },
    openKernel: () => ({
      nft: () => ({ status: 0, error: "" }),
      netlink: (protocol, request, waitAck) => (waitAck ? ack(request) : new Uint8Array(0)),
      watch: (protocol, groups, onMessage) => {
        onWatch?.(onMessage);
        return { close() {} };
      },
      close() {},
    }),
    serveControl: () => Promise.reject(new Error("no control socket here")),
    callControl: () => Promise.reject(new Error("no control socket here")),
    readText: () => Promise.reject(new Error("no files here")),
    log() {},
    env: () => undefined,
    onShutdown() {},
    onReload: () => () => {},
    pid: 4242,
    // Pid files (the one-daemon lock) live in this host's own file table.
    fileMode: async (path) => (files.has(path) ? 0o600 : undefined),
    createExclusive: async (path, text) => (files.has(path) ? false : (files.set(path, text), true)),
    removeFile: async (path) => void files.delete(path),
    readBytes: async (path) => {
      if (!files.has(path)) throw new Error("no such file");
      return files.get(path);
    },
    writeBytesSync: (path, bytes, append) => {
      const old = append && files.has(path) ? files.get(path) : new Uint8Array(0);
      const all = new Uint8Array(old.length + bytes.length);
      all.set(old);
      all.set(bytes, old.length);
      files.set(path, all);
    },
    networkNamespace: async () => `net:[${addresses.join(",")}]`,
    localAddresses: () => [...addresses],
  });
  const files = new Map();
  return { io, open };
}

const config = (name, listen, peer, peerAddress) => ({
  name,
  port: 4346,
  listen,
  kernel: false,
  control: false,
  log: "warn",
  register: false,
  peers: [{ name: peer, address: peerAddress, sa: [{ spi: 256, key: KEY }] }],
});

test("asking again for a migration under way: every caller hears its end", async () => {
  const net = network();
  const m = await Daemon.start(net.io(["198.18.0.2", "198.18.1.2"]), Core.loadSync(MODULE), config("m.test", ["198.18.0.2"], "f.test", "198.18.9.1"));
  const f = await Daemon.start(net.io(["198.18.9.1"]), Core.loadSync(MODULE), config("f.test", ["198.18.9.1"], "m.test", "198.18.0.2"));
  try {
    const request = { peer: "f.test", from: "198.18.0.2", to: "198.18.1.2" };
    const first = m.migrate(request);
    const again = m.migrate(request);
    let timer;
    const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("a caller never heard the migration end")), 3000)));
    const [a, b] = await Promise.race([Promise.all([first, again]), timeout]).finally(() => clearTimeout(timer));
    assert.is(a.id, b.id, "the same migration");
    assert.is(a.state, "completed");
    assert.is(b.state, "completed");
  } finally {
    await m.close({ keepKernelState: false });
    await f.close({ keepKernelState: false });
  }
});

test("a source socket goes when its address leaves the host", async () => {
  const net = network();
  let watch;
  const mio = net.io(["198.18.0.2", "198.18.1.2"], { onWatch: (fn) => (watch = fn) });
  const m = await Daemon.start(mio, Core.loadSync(MODULE), { ...config("m.test", ["198.18.0.2"], "f.test", "198.18.9.1"), kernel: true });
  const f = await Daemon.start(net.io(["198.18.9.1"]), Core.loadSync(MODULE), config("f.test", ["198.18.9.1"], "m.test", "198.18.0.2"));
  try {
    // One port: a port-wide migration with the kernel on first asks sock_diag for
    // the sessions, and this host has none, so nothing would be sent.
    const out = await m.migrate({ peer: "f.test", from: "198.18.0.2", fromPort: 5001, to: "198.18.1.2", toPort: 5001 });
    assert.is(out.state, "completed");
    const back = await m.migrate({ peer: "f.test", from: "198.18.1.2", fromPort: 5001, to: "198.18.0.2", toPort: 5001 });
    assert.is(back.state, "completed");
    assert.is(net.open("198.18.1.2"), 1, "the request went from a socket bound to the new address");
    assert.ok(watch, "the daemon watches address changes");
    watch(addressRemoved([198, 18, 1, 2], 3));
    assert.is(net.open("198.18.1.2"), 0, "its socket is closed once the address is gone");
    assert.is(net.open("198.18.0.2"), 2, "the other address keeps its sockets (listening, sending)");
  } finally {
    await m.close({ keepKernelState: false });
    await f.close({ keepKernelState: false });
  }
});

test.run();
