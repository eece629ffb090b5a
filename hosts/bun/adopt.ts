// A restored TCP descriptor as a socket for the application under Bun: Bun's
// node:net does not adopt a descriptor (`new net.Socket({ fd })` on a
// connected TCP descriptor emits "Socket is closed", measured with Bun
// 1.4.5), but `Bun.connect({ fd, socket })` does. This wraps that Bun socket
// in a node:stream Duplex with the net.Socket methods an application of a
// moved connection uses (data, end, close and error events; write, end,
// destroy, setNoDelay; the addresses), so the same application code runs on
// a Node and a Bun target.

import { Duplex } from "node:stream";

export class BunFdSocket extends Duplex {
  private sock: Bun.Socket | null = null;
  private queue: { chunk: Uint8Array; cb: (e?: Error | null) => void }[] = [];
  private ended = false;
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;

  constructor(readonly fd: number, tuple?: { local: string; localPort: number; remote: string; remotePort: number }) {
    super({ allowHalfOpen: true });
    if (tuple) {
      this.localAddress = tuple.local;
      this.localPort = tuple.localPort;
      this.remoteAddress = tuple.remote;
      this.remotePort = tuple.remotePort;
    }
    const self = this;
    Bun.connect({
      fd,
      allowHalfOpen: true,
      socket: {
        open(s) {
          self.sock = s;
          self.flush();
        },
        data(_s, d) {
          self.push(d);
        },
        drain() {
          self.flush();
        },
        end() {
          self.push(null);
        },
        close() {
          self.push(null);
          self.sock = null;
          if (!self.destroyed) self.destroy();
        },
        error(_s, e) {
          self.destroy(e);
        },
      },
    }).catch((e: Error) => this.destroy(e));
  }

  private flush(): void {
    while (this.sock && this.queue.length) {
      const q = this.queue[0];
      const n = this.sock.write(q.chunk);
      if (n < q.chunk.length) {
        // Bun took part of it: the rest waits for drain.
        q.chunk = q.chunk.subarray(Math.max(0, n));
        return;
      }
      this.queue.shift();
      q.cb();
    }
    // Half-close (FIN, reading goes on): Bun's end() closes the socket, and the peer's last bytes would meet a RST.
    if (this.sock && !this.queue.length && this.ended) {
      this.ended = false;
      this.sock.shutdown();
    }
  }

  override _write(chunk: Uint8Array, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.queue.push({ chunk, cb });
    this.flush();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.ended = true;
    this.flush();
    cb();
  }

  override _read(): void {}

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    try {
      this.sock?.end();
    } catch {
      // already gone
    }
    this.sock = null;
    cb(e);
  }

  setNoDelay(_on = true): this {
    // Bun's sockets send at once (TCP_NODELAY is its default).
    return this;
  }
}
