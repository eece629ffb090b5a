// The few Deno globals the Deno host uses, declared for the project's tsc
// (Deno's own 23,000-line lib.deno.d.ts is not vendored). Signatures follow
// `deno types --unstable-net` of Deno 2.9, narrowed to what hosts/deno uses.

declare namespace Deno {
  interface NetAddr {
    transport: "tcp" | "udp";
    hostname: string;
    port: number;
  }
  interface UnixAddr {
    transport: "unix" | "unixpacket";
    path: string;
  }
  type Addr = NetAddr | UnixAddr;

  interface DatagramConn {
    receive(p?: Uint8Array): Promise<[Uint8Array<ArrayBuffer>, Addr]>;
    send(p: Uint8Array, addr: Addr): Promise<number>;
    close(): void;
    readonly addr: Addr;
  }
  /** Needs --unstable-net. */
  function listenDatagram(options: { transport: "udp"; hostname?: string; port: number; reuseAddress?: boolean }): DatagramConn;

  interface Conn {
    read(p: Uint8Array): Promise<number | null>;
    write(p: Uint8Array): Promise<number>;
    close(): void;
  }
  interface Listener extends AsyncIterable<Conn> {
    close(): void;
  }
  function listen(options: { transport: "unix"; path: string }): Listener;
  function connect(options: { transport: "unix"; path: string }): Promise<Conn>;

  type NativeType = "i8" | "u8" | "i16" | "u16" | "i32" | "u32" | "i64" | "u64" | "isize" | "usize" | "f32" | "f64" | "pointer" | "buffer";
  type PointerObject = { readonly __pointer: unique symbol };
  type PointerValue = null | PointerObject;
  interface ForeignFunction {
    name?: string;
    parameters: readonly NativeType[];
    result: NativeType | "void";
    nonblocking?: boolean;
  }
  interface DynamicLibrary<S extends Record<string, ForeignFunction>> {
    // Results: numbers, bigints (64-bit), pointers, or Promises of them for nonblocking symbols.
    symbols: { [K in keyof S]: (...args: any[]) => any };
    close(): void;
  }
  /** Needs --allow-ffi. */
  function dlopen<S extends Record<string, ForeignFunction>>(path: string, symbols: S): DynamicLibrary<S>;
  class UnsafePointerView {
    constructor(pointer: PointerObject);
    getInt32(offset?: number): number;
    getCString(offset?: number): string;
  }

  type Signal = "SIGTERM" | "SIGINT" | "SIGHUP";
  function addSignalListener(signal: Signal, handler: () => void): void;
  function removeSignalListener(signal: Signal, handler: () => void): void;

  function readTextFile(path: string | URL): Promise<string>;
  function readFile(path: string | URL): Promise<Uint8Array<ArrayBuffer>>;
  function writeFileSync(path: string, data: Uint8Array, options?: { append?: boolean }): void;
  function renameSync(from: string, to: string): void;
  function mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  function remove(path: string): Promise<void>;
  function stat(path: string): Promise<{ mode: number | null }>;
  function writeTextFile(path: string, data: string, options?: { createNew?: boolean }): Promise<void>;
  function networkInterfaces(): { name: string; address: string }[];
  function readLink(path: string): Promise<string>;
  const pid: number;
  namespace errors {
    class AlreadyExists extends Error {}
    class NotFound extends Error {}
  }
  function execPath(): string;
  function exit(code?: number): never;
  let exitCode: number;
  const args: string[];
  const env: { get(name: string): string | undefined };
  const stderr: { writeSync(p: Uint8Array): number };
  const version: { deno: string };
}
