// The typed form of control messages: exactly the JSON the core writes with
// msg_describe (docs/PROTOCOL.md section 9.3), so that a decoded message, a
// conformance vector and an application event all look the same.

/** Hex text, lowercase, two digits per byte. */
export type Hex = string;

export type ExtensionJson =
  | { type: "AUTH"; spi: number; authenticator: Hex }
  | { type: "MIGRATION"; protocols: ("TCP" | "UDP")[]; oldAddress: string; newAddress: string; oldPort: number; newPort: number }
  | { type: "PATH_CHALLENGE" | "PATH_RESPONSE"; token: Hex }
  | { type: "LIFETIME"; seconds: number }
  | { type: "TRANSFERRED_ADDRESS" | "TARGET_ADDRESS" | "AGENT_ADDRESS" | "INTERIM_ADDRESS"; address: string }
  | { type: "LINK_LAYER_ADDRESS"; hardwareType: number; address: Hex }
  | {
      type: "SESSION_KEY";
      wrap: "CHACHA20_POLY1305" | "X25519_CHACHA20_POLY1305";
      wrapSpi: number;
      sessionSpi: number;
      ephemeralPublicKey?: Hex;
      nonce: Hex;
      sealedKey: Hex;
      tag: Hex;
    }
  | { type: "FLOW"; protocol: "TCP" | "UDP"; localAddress: string; localPort: number; remoteAddress: string; remotePort: number }
  | { type: "OPAQUE_DATA"; subtype: string | number; flags: number; data: Hex }
  /** Section 8.18: a session address's lease (remaining in s, 4294967295: no end; the generator's state). */
  | { type: "ADDRESS_LEASE"; generator: "STATIC" | "IPV6" | "DHCP4"; remaining: number; state: Hex }
  /** An extension this version does not define (skippable types 128-255 when decoding). */
  | { type: number; data: Hex };

export interface MessageJson {
  version: number;
  type: string;
  /** Requests and notices: the names of the flags set. */
  flags?: string[];
  /** Replies: the reply code's name, or its number if it has none. */
  code?: string | number;
  sequence: number;
  /** 6 bytes, hex. */
  cookie: Hex;
  /** 8 bytes, hex. */
  replayId: Hex;
  extensions: ExtensionJson[];
}

/** A key for computing or checking an authentication extension. */
export interface AuthKey {
  spi: number;
  /** "HMAC_MD5", "HMAC_SHA1" or "HMAC_SHA256" (the default). */
  algorithm?: string;
  key: Uint8Array;
}
