// AF_PACKET sockets for Node through koffi (docs/dataplane.md section 9):
// frames out exactly as the core built them, frames in through poll() on
// libuv's thread pool (koffi's async call), so the event loop never blocks.
// Needs CAP_NET_RAW.

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import type { PacketLink } from "../shared/sidio.ts";
import { AF_PACKET, SOCK_RAW, SOCK_CLOEXEC, MSG_DONTWAIT, EAGAIN, POLLIN, EPERM } from "../shared/linux.ts";

const ETH_P_ALL = 0x0003;

interface Libc {
  socket(d: number, t: number, p: number): number;
  bind(fd: number, a: Uint8Array, n: number): number;
  sendto(fd: number, b: Uint8Array, n: number, flags: number, a: Uint8Array, al: number): number;
  recv(fd: number, b: Uint8Array, n: number, flags: number): number;
  poll: any;
  close(fd: number): number;
  ifNameToIndex(name: string): number;
  errno(): number;
}

let libc: Libc | undefined;
function c(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)("koffi");
  const l = koffi.load("libc.so.6");
  const errnoLocation = l.func("int *__errno_location()");
  const sendto = l.func("intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)");
  const recv = l.func("intptr_t recv(int, _Out_ void *, size_t, int)");
  libc = {
    socket: l.func("int socket(int, int, int)"),
    bind: l.func("int bind(int, const void *, uint32_t)"),
    sendto: (...a: any[]) => Number(sendto(...a)),
    recv: (...a: any[]) => Number(recv(...a)),
    poll: l.func("int poll(_Inout_ void *, unsigned long, int)"),
    close: l.func("int close(int)"),
    ifNameToIndex: l.func("unsigned int if_nametoindex(const char *)"),
    errno: () => koffi.decode(errnoLocation(), "int") as number,
  };
  return libc;
}

/** struct sockaddr_ll for an interface and an EtherType (network order). */
function sockaddrLl(ifindex: number, etherType: number): Uint8Array {
  const s = new Uint8Array(20);
  const v = new DataView(s.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, etherType);
  v.setInt32(4, ifindex, true);
  return s;
}

function macOf(ifname: string): Uint8Array {
  const text = readFileSync(`/sys/class/net/${ifname}/address`, "utf8").trim();
  return Uint8Array.from(text.split(":").map((h) => parseInt(h, 16)));
}

export function openPacket(ifname: string, etherType: number): PacketLink {
  const l = c();
  const ifindex = l.ifNameToIndex(ifname);
  if (!ifindex) throw new Error(`AF_PACKET: no interface ${ifname}`);
  const proto = ((etherType & 255) << 8) | (etherType >> 8);
  const fd = l.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, proto);
  if (fd < 0) {
    const e = l.errno();
    throw new Error(`AF_PACKET socket failed with errno ${e}${e === EPERM ? " (EPERM: needs CAP_NET_RAW; run as root)" : ""}`);
  }
  const ll = sockaddrLl(ifindex, etherType);
  if (l.bind(fd, ll, ll.length) < 0) {
    const e = l.errno();
    l.close(fd);
    throw new Error(`AF_PACKET bind to ${ifname} failed with errno ${e}`);
  }
  const to = sockaddrLl(ifindex, ETH_P_ALL);
  const buf = new Uint8Array(65536);
  const pfd = new Uint8Array(8);
  new DataView(pfd.buffer).setInt32(0, fd, true);
  new DataView(pfd.buffer).setInt16(4, POLLIN, true);
  let open = true;
  let polling = false;
  return {
    ifname,
    ifindex,
    mac: macOf(ifname),
    send(frame) {
      if (!open) throw new Error(`AF_PACKET on ${ifname}: closed`);
      const n = l.sendto(fd, frame, frame.length, 0, to, to.length);
      if (n !== frame.length) throw new Error(`AF_PACKET send on ${ifname} failed with errno ${l.errno()}`);
    },
    receive(fn) {
      if (polling) throw new Error(`AF_PACKET on ${ifname}: already receiving`);
      polling = true;
      const drain = () => {
        for (;;) {
          const n = l.recv(fd, buf, buf.length, MSG_DONTWAIT);
          if (n > 0) {
            fn(buf.slice(0, n));
            continue;
          }
          if (n < 0 && l.errno() !== EAGAIN) throw new Error(`AF_PACKET recv on ${ifname} failed with errno ${l.errno()}`);
          return;
        }
      };
      const arm = () => {
        if (!open) return;
        l.poll.async(pfd, 1, 200, (err: unknown, ready: number) => {
          if (!open) return;
          if (!err && ready > 0) drain();
          arm();
        });
      };
      arm();
    },
    close() {
      if (!open) return;
      open = false;
      // a pending poll returns within 200 ms; then the descriptor goes
      if (polling) setTimeout(() => l.close(fd), 250);
      else l.close(fd);
    },
  };
}
