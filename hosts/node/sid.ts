// SID's host parts for Node (hosts/shared/sidio.ts): AF_PACKET through koffi,
// TCP_REPAIR through koffi, and handing a live net.Socket's descriptor over
// and back: detach() takes a connection away from Node without losing a byte
// (Node's buffers emptied: what it had read is delivered to the application,
// the rest stays in the kernel's queues), adopt() gives a restored
// descriptor to Node as an ordinary net.Socket.

import net from "node:net";
import type { Core } from "../shared/core.ts";
import type { SidHostIO } from "../shared/sidio.ts";
import { udp4Socket } from "./dhcp.ts";
import { openPacket } from "./packet.ts";
import { dumpTcp, restoreTcp, resumeTcp, closeFd, loadRepairCalls } from "./tcprepair.ts";

/**
 * The SID host parts through koffi, which loads in Node, Deno and Bun alike;
 * what differs per runtime is whether its sockets can be detached and adopted
 * (`parts`; Node's can both, docs/USAGE.md "SID").
 */
export function koffiSidIO(core: Core, parts: Pick<SidHostIO, "detach" | "discard" | "adopt">): SidHostIO {
  // libc's TCP_REPAIR calls bound now, not at a transfer's dump or restore (~1 ms each, on its critical path)
  loadRepairCalls();
  return {
    packet: openPacket,
    udp4: udp4Socket,
    repair: {
      dump: (fd) => dumpTcp(core, fd),
      restore: (r) => restoreTcp(core, r),
      resume: resumeTcp,
      close: closeFd,
    },
    ...parts,
  };
}

export function nodeSidIO(core: Core): SidHostIO {
  return koffiSidIO(core, { detach: (s) => detach(s as net.Socket), discard: (s) => discard(s as net.Socket), adopt });
}

/**
 * Waits until Node has handed every written byte to the kernel, stops
 * reading, and delivers what Node had already read to the socket's 'data'
 * listeners; returns the descriptor. The application must have stopped
 * writing. The socket must not be used afterwards except to destroy it.
 */
export async function detach(socket: net.Socket, timeoutMs = 5000): Promise<number> {
  const handle = (socket as any)._handle;
  if (!handle || typeof handle.fd !== "number" || handle.fd < 0) throw new Error("detach: the socket has no descriptor (not connected, or already closed)");
  if (socket.writableLength > 0) await flushed(socket, timeoutMs);
  handle.readStop();
  // In flowing mode read() also emits 'data' for what it returns.
  while (socket.read() !== null);
  return handle.fd;
}

/**
 * Resolves once Node has handed every byte written so far to the kernel: an
 * empty write's callback runs after the writes queued before it (on a
 * transfer's critical path: no timer steps).
 */
function flushed(socket: net.Socket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`detach: ${socket.writableLength} bytes still in Node's write buffer after ${timeoutMs} ms`)), timeoutMs);
    socket.write(new Uint8Array(0), (e) => {
      clearTimeout(timer);
      e ? reject(e) : resolve();
    });
  });
}

/** Closes a detached socket that was dumped in repair mode (no FIN, no RST). */
export function discard(socket: net.Socket): void {
  socket.destroy();
}

/** An ordinary net.Socket over a restored, resumed descriptor. */
export function adopt(fd: number): net.Socket {
  return new net.Socket({ fd, readable: true, writable: true });
}
