// The few Bun APIs the Bun host uses, declared for the project's tsc (instead
// of the bun-types package). Shapes follow Bun 1.4, narrowed to what
// hosts/bun uses.

declare namespace Bun {
  interface UdpSocket {
    readonly port: number;
    /** false: not sent (the socket's buffer is full). Throws on a bad destination. */
    send(data: Uint8Array, port: number, address: string): boolean;
    close(): void;
  }
  interface UdpSocketOptions {
    hostname?: string;
    port?: number;
    binaryType?: "uint8array";
    /**
     * Bun's internal bind flags, as its node:dgram passes them (undocumented):
     * 8 = IPV6_V6ONLY, 16 = SO_REUSEADDR, 4 = SO_REUSEPORT.
     */
    flags?: number;
    socket?: {
      data?(socket: UdpSocket, data: Uint8Array, port: number, address: string): void;
      error?(...args: unknown[]): void;
    };
  }
  interface Socket {
    write(data: string | Uint8Array): number;
    end(data?: string | Uint8Array): void;
    /** Shuts writing down (FIN); with halfClose false, reading goes on. */
    shutdown(halfClose?: boolean): void;
  }
  interface SocketHandler {
    open?(socket: Socket): void;
    data?(socket: Socket, data: Uint8Array): void;
    drain?(socket: Socket): void;
    end?(socket: Socket): void;
    close?(socket: Socket): void;
    error?(socket: Socket, error: Error): void;
    connectError?(socket: Socket, error: Error): void;
  }
  interface SocketListener {
    stop(closeActiveConnections?: boolean): void;
  }
  interface BunFile {
    text(): Promise<string>;
    arrayBuffer(): Promise<ArrayBuffer>;
  }
}

declare const Bun: {
  readonly version: string;
  readonly env: Record<string, string | undefined>;
  udpSocket(options: Bun.UdpSocketOptions): Promise<Bun.UdpSocket>;
  listen(options: { unix: string; socket: Bun.SocketHandler }): Bun.SocketListener;
  connect(options: { unix: string; socket: Bun.SocketHandler } | { fd: number; allowHalfOpen?: boolean; socket: Bun.SocketHandler }): Promise<Bun.Socket>;
  file(path: string | URL): Bun.BunFile;
};

declare module "bun:ffi" {
  type FFIType = "i32" | "u32" | "i64" | "u64" | "ptr" | "void";
  type Pointer = number;
  export function dlopen<S extends Record<string, { args: readonly FFIType[]; returns: FFIType }>>(
    path: string,
    symbols: S,
  ): { symbols: { [K in keyof S]: (...args: any[]) => any }; close(): void };
  export const read: { i32(ptr: Pointer, offset?: number): number };
  export class CString {
    constructor(ptr: Pointer);
    toString(): string;
  }
}
