// What a runtime host provides to SID beyond HostIO (docs/PROTOCOL.md 8.12,
// 8.14): a link-layer socket on one interface, for the frames the core builds
// (gratuitous ARP, proxy-ARP replies, the Wake-up) and the ARP requests it
// classifies; and TCP_REPAIR, to dump a live TCP connection into the state
// record's fields and restore it elsewhere. Each host implements these with
// its FFI (koffi in Node); what to do with them is shared (hosts/shared/sidplane.ts).

import type { TcpStateFields, TcpStateRecord } from "./sid.ts";

/** An AF_PACKET socket bound to one interface. */
/** A bound UDP socket (SidHostIO.udp4). */
export interface DatagramSocket {
  /** A promise, if the send completes later (node:dgram): it settles once the datagram left (or failed). */
  send(data: Uint8Array, port: number, address: string): void | Promise<void>;
  close(): void;
}

export interface PacketLink {
  readonly ifname: string;
  readonly ifindex: number;
  /** The interface's own Ethernet address. */
  readonly mac: Uint8Array;
  /** Sends one whole Ethernet frame as it is. */
  send(frame: Uint8Array): void;
  /** Hands every frame received on the interface (of the socket's EtherType) to fn, without blocking the event loop. */
  receive(fn: (frame: Uint8Array) => void): void;
  close(): void;
}

/** TCP_REPAIR on descriptors (docs/dataplane.md section 8). */
export interface TcpRepair {
  /** Puts a connected socket into repair mode and reads its state (the socket stays in repair mode). */
  dump(fd: number): Omit<TcpStateRecord, "appState">;
  /** Rebuilds a connection in a new socket in repair mode; returns its descriptor. */
  restore(r: TcpStateFields & { sendQueue: Uint8Array; receiveQueue: Uint8Array }): number;
  /** Leaves repair mode and writes the never-sent tail as ordinary data. */
  resume(fd: number, unsent: Uint8Array): number;
  /** Closes a descriptor (in repair mode: no FIN, no RST). */
  close(fd: number): void;
}

/** The SID part of a host. */
export interface SidHostIO {
  /** Opens an AF_PACKET socket on an interface for one EtherType (0x0806 ARP; 0x0003 every frame). */
  packet(ifname: string, etherType: number): PacketLink;
  /**
   * A UDP socket bound to address:port with SO_REUSEADDR and SO_BROADCAST
   * (the DHCP generator's port 68, PROTOCOL.md 8.19; docs/dataplane.md 12).
   */
  udp4?(address: string, port: number, onMessage: (m: Uint8Array) => void): Promise<DatagramSocket>;
  readonly repair: TcpRepair;
  /**
   * Takes a live connection from the application: waits until the runtime
   * has handed every written byte to the kernel, stops reading, delivers what
   * the runtime had read to the application, and returns the descriptor.
   */
  detach(socket: unknown): Promise<number>;
  /** Closes a detached socket after its dump (in repair mode: no FIN, no RST). */
  discard(socket: unknown): void;
  /** The runtime's socket object over a resumed descriptor (Node: net.Socket; Bun: a Duplex over Bun.connect({ fd })); absent where a runtime cannot adopt one. */
  adopt?(fd: number): unknown;
}
