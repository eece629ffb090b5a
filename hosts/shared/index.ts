// The runtime-neutral part of handover, shared by the Node, Deno and Bun hosts.
export { Core, HandoverError } from "./core.ts";
export type { CoreExports, SessionKeyWrap, SessionKeyUnwrap } from "./core.ts";
export type { MessageJson, ExtensionJson, AuthKey, Hex } from "./types.ts";
export { hex, unhex } from "./bytes.ts";
export * from "./registry.ts";
export { Engine, OPTIONS } from "./engine.ts";
export type { Output, EngineEvent, SaConfig, MigrateRequest, OptionName } from "./engine.ts";
export { Daemon, StartError } from "./daemon.ts";
export type { MigrationResult, Listener, EventName } from "./daemon.ts";
export { validateConfig, checkConfig, ConfigError } from "./config.ts";
export type { Config, PeerSpec, SaSpec, ConfigWarning } from "./config.ts";
export { AlreadyRunning } from "./lock.ts";
export type { HostIO, KernelIO, UdpSocket, UdpHandlers, ControlServer, Runtime } from "./io.ts";
export { SidCodec } from "./sid.ts";
export type { TcpStateFields, TcpStateRecord } from "./sid.ts";
export { SidEngine } from "./sidengine.ts";
export type { SidSession, TransferOptions } from "./sidengine.ts";
