// GENERATED from core/registry.json by scripts/gen-registry.js. Do not edit.

export const PROTOCOL_VERSION: u8 = 1;
export const DEFAULT_PORT: u16 = 4346;
export const HEADER_LENGTH: i32 = 20;
export const MAX_MESSAGE_LENGTH: i32 = 1232;
export const FIRST_ASSIGNABLE_SPI: u32 = 256;
export const DEFAULT_SKEW_MS: f64 = 7000;

export const MSG_REGISTRATION_REQUEST: u8 = 1;
export const MSG_REGISTRATION_REPLY: u8 = 2;
export const MSG_MIGRATION_REQUEST: u8 = 3;
export const MSG_MIGRATION_REPLY: u8 = 4;
export const MSG_MIGRATION_CONFIRM: u8 = 5;
export const MSG_TRANSFER_NEGOTIATION_REQUEST: u8 = 16;
export const MSG_TRANSFER_NEGOTIATION_REPLY: u8 = 17;
export const MSG_TRANSFER_REQUEST: u8 = 18;
export const MSG_TRANSFER_REPLY: u8 = 19;
export const MSG_BINDING_UPDATE: u8 = 20;
export const MSG_BINDING_ACK: u8 = 21;
export const MSG_WAKE_UP: u8 = 22;
export const MSG_WAKE_UP_ACK: u8 = 23;
export const MSG_STOP_TRANSFER: u8 = 24;
export const MSG_STOP_TRANSFER_REPLY: u8 = 25;

export const FLAG_FURTHER_TRANSFER: u8 = 1;
export const FLAG_SAME_SUBNET: u8 = 2;
export const FLAG_REVERSE_TUNNEL: u8 = 2;
export const FLAG_REVERSE_RETURN: u8 = 8;
export const FLAG_PER_FLOW: u8 = 4;

export const EXT_AUTH: u8 = 32;
export const EXT_MIGRATION: u8 = 33;
export const EXT_PATH_CHALLENGE: u8 = 34;
export const EXT_PATH_RESPONSE: u8 = 35;
export const EXT_LIFETIME: u8 = 36;
export const EXT_TRANSFERRED_ADDRESS: u8 = 37;
export const EXT_TARGET_ADDRESS: u8 = 38;
export const EXT_AGENT_ADDRESS: u8 = 39;
export const EXT_INTERIM_ADDRESS: u8 = 40;
export const EXT_LINK_LAYER_ADDRESS: u8 = 41;
export const EXT_SESSION_KEY: u8 = 42;
export const EXT_FLOW: u8 = 43;
export const EXT_SEALED: u8 = 44;
export const EXT_ADDRESS_LEASE: u8 = 45;
export const EXT_OPAQUE_DATA: u8 = 128;

export const CODE_ACCEPTED: u8 = 1;
export const CODE_REASON_UNSPECIFIED: u8 = 128;
export const CODE_ADMINISTRATIVELY_PROHIBITED: u8 = 129;
export const CODE_INSUFFICIENT_RESOURCES: u8 = 130;
export const CODE_FAILED_AUTHENTICATION: u8 = 131;
export const CODE_IDENTIFICATION_MISMATCH: u8 = 133;
export const CODE_POORLY_FORMED_REQUEST: u8 = 134;
export const CODE_UNKNOWN_SESSION: u8 = 135;
export const CODE_ADDRESS_NOT_ALLOWED: u8 = 136;
export const CODE_TOO_MANY_PENDING: u8 = 137;
export const CODE_TRANSFER_NOT_PERMITTED: u8 = 140;
export const CODE_UNKNOWN_BINDING: u8 = 141;
export const CODE_SESSION_KEY_REJECTED: u8 = 142;
export const CODE_ADDRESS_IN_USE: u8 = 143;

export const AUTH_HMAC_MD5: u8 = 1;
export const AUTH_HMAC_SHA1: u8 = 2;
export const AUTH_HMAC_SHA256: u8 = 3;

export const REPLAY_TIMESTAMP: u8 = 1;
export const REPLAY_NONCE: u8 = 2;

export const WRAP_CHACHA20_POLY1305: u8 = 1;
export const WRAP_X25519_CHACHA20_POLY1305: u8 = 2;

export const PROTO_TCP: u8 = 1;
export const PROTO_UDP: u8 = 2;

export const FAMILY_IPV4: u8 = 1;
export const FAMILY_IPV6: u8 = 2;

export const IPPROTO_TCP: u8 = 6;
export const IPPROTO_UDP: u8 = 17;

export const OPAQUE_LOCATION: u8 = 1;
export const OPAQUE_SIGNAL_QUALITY: u8 = 2;
export const OPAQUE_CONNECTION_QUALITY: u8 = 3;
export const OPAQUE_FIXED_ENDPOINT: u8 = 4;
export const OPAQUE_APPLICATION: u8 = 255;

export const ERR_TRUNCATED: i32 = 1;
export const ERR_BAD_LENGTH: i32 = 2;
export const ERR_BAD_VERSION: i32 = 3;
export const ERR_UNKNOWN_TYPE: i32 = 4;
export const ERR_UNKNOWN_MANDATORY_EXTENSION: i32 = 5;
export const ERR_DUPLICATE_EXTENSION: i32 = 6;
export const ERR_MISSING_EXTENSION: i32 = 7;
export const ERR_UNEXPECTED_EXTENSION: i32 = 8;
export const ERR_AUTH_NOT_LAST: i32 = 9;
export const ERR_MISSING_AUTH: i32 = 10;
export const ERR_UNKNOWN_SPI: i32 = 11;
export const ERR_BAD_AUTHENTICATOR: i32 = 12;
export const ERR_AUTH_LENGTH_MISMATCH: i32 = 13;
export const ERR_REPLAYED: i32 = 14;
export const ERR_SEQUENCE_TOO_OLD: i32 = 15;
export const ERR_STALE_TIMESTAMP: i32 = 16;
export const ERR_NONCE_MISMATCH: i32 = 17;
export const ERR_BAD_FAMILY: i32 = 18;
export const ERR_BAD_ADDRESS: i32 = 19;
export const ERR_RESERVED_NONZERO: i32 = 20;
export const ERR_MESSAGE_TOO_LONG: i32 = 21;
export const ERR_BAD_CODE: i32 = 22;
export const ERR_BAD_FLAGS: i32 = 23;
export const ERR_BAD_PORT: i32 = 24;
export const ERR_BAD_PROTO_FLAGS: i32 = 25;
export const ERR_KEY_UNWRAP_FAILED: i32 = 26;
export const ERR_BUFFER_TOO_SMALL: i32 = 27;
export const ERR_INVALID_ARGUMENT: i32 = 28;
export const ERR_BAD_SPI: i32 = 29;
export const ERR_LOW_ORDER_POINT: i32 = 30;
export const ERR_BAD_VALUE: i32 = 31;
export const ERR_NOT_A_REPLY: i32 = 32;
export const ERR_UNKNOWN_PEER: i32 = 33;
export const ERR_BUSY: i32 = 34;
export const ERR_TIMED_OUT: i32 = 35;
export const ERR_REFUSED: i32 = 36;
export const ERR_KERNEL: i32 = 37;
export const ERR_CONFIG: i32 = 38;
export const ERR_NOT_SEEDED: i32 = 39;
export const ERR_RECORD_TRUNCATED: i32 = 40;
export const ERR_RECORD_VERSION: i32 = 41;
export const ERR_RECORD_TOO_LONG: i32 = 42;
export const ERR_RECORD_TRAILING_BYTES: i32 = 43;
export const ERR_TUNNEL_MISMATCH: i32 = 44;
export const ERR_UNSERVED_TYPE: i32 = 45;
export const ERR_NO_SESSION_ADDRESS: i32 = 46;
export const ERR_DHCP_BAD_HEADER: i32 = 50;
export const ERR_DHCP_BAD_COOKIE: i32 = 51;
export const ERR_DHCP_OPTION_OVERRUN: i32 = 52;
export const ERR_DHCP_NO_END: i32 = 53;
export const ERR_DHCP_BAD_OPTION_LENGTH: i32 = 54;
export const ERR_DHCP_MISSING_TYPE: i32 = 55;
export const ERR_DHCP_BAD_TYPE: i32 = 56;
export const ERR_DHCP_BAD_OVERLOAD: i32 = 57;
export const ERR_DHCP_MISSING_OPTION: i32 = 58;
export const ERR_DHCP_BAD_LEASE: i32 = 59;
export const ERR_DHCP_UNMATCHED: i32 = 60;

// ABI numbers (docs/ABI.md)
export const ABI_VERSION: i32 = 1;
export const OPT_WINDOW_BITS: i32 = 1;
export const OPT_QUOTA_BYTES: i32 = 2;
export const OPT_QUARANTINE_MS: i32 = 3;
export const OPT_VALIDATION_TIMEOUT_MS: i32 = 4;
export const OPT_MAX_PENDING_PATHS: i32 = 5;
export const OPT_REGISTRATION_LIFETIME_S: i32 = 6;
export const OPT_DEBUG: i32 = 7;
export const OPT_CONTROL_PORT: i32 = 8;
export const OPT_AUTO: i32 = 9;
export const OPT_GUARD: i32 = 10;
export const OPT_SESSION_IDLE_MS: i32 = 11;
export const OPT_MAX_MOVES_PER_PEER: i32 = 12;
export const OPT_MAX_MOVES: i32 = 13;
export const OPT_MAX_OWNED_PER_PEER: i32 = 14;
export const OPT_MISMATCH_REPLIES_PER_S: i32 = 15;
export const OPT_FOLLOW_DEFAULT_ROUTE: i32 = 16;
export const OPT_SID_AGENT: i32 = 17;
export const OPT_SID_TARGET: i32 = 18;
export const OPT_SID_ALLOW_REVERSE: i32 = 19;
export const OPT_SID_MAX_LIFETIME_S: i32 = 20;
export const OPT_SID_LIFETIME_S: i32 = 21;
export const OPT_SID_BINDINGS: i32 = 22;
export const OPT_SID_TUNNEL_PORT: i32 = 23;
export const OPT_SID_TUNNEL_MTU: i32 = 24;
export const OPT_SID_ROUTE_TABLE: i32 = 25;
export const OPT_SID_FLOWS: i32 = 26;

/** Option defaults (abi.options). */
export const DEFAULT_WINDOW_BITS: f64 = 256;
export const DEFAULT_QUOTA_BYTES: f64 = 1048576;
export const DEFAULT_QUARANTINE_MS: f64 = 30000;
export const DEFAULT_VALIDATION_TIMEOUT_MS: f64 = 5000;
export const DEFAULT_MAX_PENDING_PATHS: f64 = 3;
export const DEFAULT_REGISTRATION_LIFETIME_S: f64 = 3600;
export const DEFAULT_DEBUG: bool = false;
export const DEFAULT_CONTROL_PORT: f64 = 4346;
export const DEFAULT_AUTO: bool = true;
export const DEFAULT_GUARD: bool = true;
export const DEFAULT_SESSION_IDLE_MS: f64 = 60000;
export const DEFAULT_MAX_MOVES_PER_PEER: f64 = 64;
export const DEFAULT_MAX_MOVES: f64 = 100000;
export const DEFAULT_MAX_OWNED_PER_PEER: f64 = 8;
export const DEFAULT_MISMATCH_REPLIES_PER_S: f64 = 10;
export const DEFAULT_FOLLOW_DEFAULT_ROUTE: bool = false;
export const DEFAULT_SID_AGENT: bool = false;
export const DEFAULT_SID_TARGET: bool = false;
export const DEFAULT_SID_ALLOW_REVERSE: bool = true;
export const DEFAULT_SID_MAX_LIFETIME_S: f64 = 600;
export const DEFAULT_SID_LIFETIME_S: f64 = 600;
export const DEFAULT_SID_BINDINGS: f64 = 4096;
export const DEFAULT_SID_TUNNEL_PORT: f64 = 4789;
export const DEFAULT_SID_TUNNEL_MTU: f64 = 1450;
export const DEFAULT_SID_ROUTE_TABLE: f64 = 4346;
export const DEFAULT_SID_FLOWS: f64 = 4096;

/** True if value is in the option's range (abi.options: min, max, multipleOf); false for an unknown option. */
export function optionInRange(id: i32, value: f64): bool {
  switch (id) {
    case 1: return value >= 64 && value <= 4096 && value == Math.floor(value) && value % 64 == 0;
    case 2: return value >= 0 && value <= 1000000000000 && value == Math.floor(value);
    case 3: return value >= 0 && value <= 1000000000000 && value == Math.floor(value);
    case 4: return value >= 0 && value <= 1000000000000 && value == Math.floor(value);
    case 5: return value >= 0 && value <= 1024 && value == Math.floor(value);
    case 6: return value >= 0 && value <= 65535 && value == Math.floor(value);
    case 7: return value >= 0 && value <= 1 && value == Math.floor(value);
    case 8: return value >= 1 && value <= 65535 && value == Math.floor(value);
    case 9: return value >= 0 && value <= 1 && value == Math.floor(value);
    case 10: return value >= 0 && value <= 1 && value == Math.floor(value);
    case 11: return value >= 0 && value <= 1000000000000 && value == Math.floor(value);
    case 12: return value >= 0 && value <= 1000000 && value == Math.floor(value);
    case 13: return value >= 0 && value <= 1000000 && value == Math.floor(value);
    case 14: return value >= 0 && value <= 1024 && value == Math.floor(value);
    case 15: return value >= 0 && value <= 1000000 && value == Math.floor(value);
    case 16: return value >= 0 && value <= 1 && value == Math.floor(value);
    case 17: return value >= 0 && value <= 1 && value == Math.floor(value);
    case 18: return value >= 0 && value <= 1 && value == Math.floor(value);
    case 19: return value >= 0 && value <= 1 && value == Math.floor(value);
    case 20: return value >= 1 && value <= 65535 && value == Math.floor(value);
    case 21: return value >= 1 && value <= 65535 && value == Math.floor(value);
    case 22: return value >= 1 && value <= 2000000 && value == Math.floor(value);
    case 23: return value >= 1 && value <= 65535 && value == Math.floor(value);
    case 24: return value >= 576 && value <= 65000 && value == Math.floor(value);
    case 25: return value >= 256 && value <= 4278190079 && value == Math.floor(value);
    case 26: return value >= 1 && value <= 2000000 && value == Math.floor(value);
  }
  return false;
}
export const OUT_NONE: u32 = 0;
export const OUT_TRANSMIT: u32 = 1;
export const OUT_NFT: u32 = 2;
export const OUT_NETLINK: u32 = 3;
export const OUT_EVENT: u32 = 4;
export const OUT_FRAME: u32 = 5;
export const OUT_RENEWED: u32 = 6;
export const META_KIND: i32 = 0;
export const META_ID: i32 = 4;
export const META_LENGTH: i32 = 8;
export const META_AUX: i32 = 12;
export const META_DST_PORT: i32 = 16;
export const META_DST_FAMILY: i32 = 18;
export const META_SRC_FAMILY: i32 = 19;
export const META_DST_ADDR: i32 = 20;
export const META_SRC_ADDR: i32 = 36;
export const META_SIZE: i32 = 64;
/** NETLINK output aux flag: the host waits for the kernel's acknowledgement (abi.netlinkWaitAck). */
export const NETLINK_WAIT_ACK: u32 = 256;
/** NETLINK output aux flag: the request is a dump; the host reads until NLMSG_DONE or an error (abi.netlinkDump). */
export const NETLINK_DUMP: u32 = 512;

/** Extension rules: how many of an extension a message type may carry. */
export const RULE_NONE: u8 = 0; // not allowed
export const RULE_ONE: u8 = 1; // exactly one
export const RULE_OPTIONAL: u8 = 2; // at most one
export const RULE_ONE_OR_MORE: u8 = 3; // one or more
export const RULE_ANY: u8 = 4; // any number

/** True for a defined message type. */
export function messageKnown(type: u8): bool {
  switch (type) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 16:
    case 17:
    case 18:
    case 19:
    case 20:
    case 21:
    case 22:
    case 23:
    case 24:
    case 25: return true;
  }
  return false;
}

/** Protocols, numbered in the order the message types name them; a module serves one (Node.serve). */
export const PROTOCOL_STEM: i32 = 1;
export const PROTOCOL_SID: i32 = 2;
export const PROTOCOL_COUNT: i32 = 2;

/** The protocol that owns a message type (routing table, from the registry), or 0 for an undefined type. */
export function messageProtocol(type: u8): i32 {
  switch (type) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5: return PROTOCOL_STEM;
    case 16:
    case 17:
    case 18:
    case 19:
    case 20:
    case 21:
    case 22:
    case 23:
    case 24:
    case 25: return PROTOCOL_SID;
  }
  return 0;
}

/** True for a reply type (its Flags/Code byte is a Code). */
export function messageIsReply(type: u8): bool {
  switch (type) {
    case 2:
    case 4:
    case 17:
    case 19:
    case 21:
    case 23:
    case 25: return true;
  }
  return false;
}

/** The reply type that answers a request type, or 0. */
export function replyTypeOf(type: u8): u8 {
  switch (type) {
    case 1: return 2;
    case 3: return 4;
    case 16: return 17;
    case 18: return 19;
    case 20: return 21;
    case 22: return 23;
    case 24: return 25;
  }
  return 0;
}

/** Flag bits a request type may set (replies carry a Code instead). */
export function allowedFlags(type: u8): u8 {
  switch (type) {
    case 1: return 0;
    case 3: return 0;
    case 5: return 0;
    case 16: return 15;
    case 18: return 7;
    case 20: return 0;
    case 22: return 0;
    case 24: return 0;
  }
  return 0;
}

/** How many extensions of type `ext` a message of type `type` may carry (RULE_*). */
export function extensionRule(type: u8, ext: u8): u8 {
  switch (type) {
    case 1: switch (ext) {
      case 36: return 2;
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 2: switch (ext) {
      case 36: return 2;
      case 34: return 2;
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 3: switch (ext) {
      case 33: return 3;
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 4: switch (ext) {
      case 34: return 2;
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 5: switch (ext) {
      case 35: return 1;
      case 32: return 1;
      default: return 0;
    }
    case 16: switch (ext) {
      case 37: return 1;
      case 39: return 2;
      case 40: return 2;
      case 41: return 2;
      case 42: return 2;
      case 43: return 4;
      case 36: return 2;
      case 45: return 2;
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 17: switch (ext) {
      case 38: return 2;
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 18: switch (ext) {
      case 37: return 1;
      case 38: return 1;
      case 41: return 2;
      case 40: return 2;
      case 42: return 1;
      case 43: return 4;
      case 36: return 2;
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 19: switch (ext) {
      case 36: return 2;
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 20: switch (ext) {
      case 37: return 1;
      case 36: return 1;
      case 128: return 4;
      case 44: return 2;
      case 32: return 1;
      default: return 0;
    }
    case 21: switch (ext) {
      case 36: return 2;
      case 128: return 4;
      case 44: return 2;
      case 32: return 1;
      default: return 0;
    }
    case 22: switch (ext) {
      case 37: return 1;
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 23: switch (ext) {
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 24: switch (ext) {
      case 37: return 1;
      case 43: return 4;
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
    case 25: switch (ext) {
      case 128: return 4;
      case 32: return 1;
      default: return 0;
    }
  }
  return 0;
}

/** Required extensions of a message type: bit (type - 32) for each type that must appear. */
export function requiredMask(type: u8): u64 {
  switch (type) {
    case 1: return 0x1;
    case 2: return 0x1;
    case 3: return 0x3;
    case 4: return 0x1;
    case 5: return 0x9;
    case 16: return 0x21;
    case 17: return 0x1;
    case 18: return 0x461;
    case 19: return 0x1;
    case 20: return 0x31;
    case 21: return 0x1;
    case 22: return 0x21;
    case 23: return 0x1;
    case 24: return 0x21;
    case 25: return 0x1;
  }
  return 0;
}

/** True for an extension type this version defines. */
export function extensionKnown(ext: u8): bool {
  switch (ext) {
    case 32:
    case 33:
    case 34:
    case 35:
    case 36:
    case 37:
    case 38:
    case 39:
    case 40:
    case 41:
    case 42:
    case 43:
    case 44:
    case 45:
    case 128: return true;
  }
  return false;
}

/** Authenticator length of an algorithm, or 0 if unknown. */
export function authTagLength(alg: u8): i32 {
  switch (alg) {
    case 1: return 16;
    case 2: return 20;
    case 3: return 32;
  }
  return 0;
}

/** The registry name of a value, or "" if it has none. */
export function messageName(v: u32): string {
  switch (v) {
    case 1: return "REGISTRATION_REQUEST";
    case 2: return "REGISTRATION_REPLY";
    case 3: return "MIGRATION_REQUEST";
    case 4: return "MIGRATION_REPLY";
    case 5: return "MIGRATION_CONFIRM";
    case 16: return "TRANSFER_NEGOTIATION_REQUEST";
    case 17: return "TRANSFER_NEGOTIATION_REPLY";
    case 18: return "TRANSFER_REQUEST";
    case 19: return "TRANSFER_REPLY";
    case 20: return "BINDING_UPDATE";
    case 21: return "BINDING_ACK";
    case 22: return "WAKE_UP";
    case 23: return "WAKE_UP_ACK";
    case 24: return "STOP_TRANSFER";
    case 25: return "STOP_TRANSFER_REPLY";
  }
  return "";
}

/** The registry name of a value, or "" if it has none. */
export function extensionName(v: u32): string {
  switch (v) {
    case 32: return "AUTH";
    case 33: return "MIGRATION";
    case 34: return "PATH_CHALLENGE";
    case 35: return "PATH_RESPONSE";
    case 36: return "LIFETIME";
    case 37: return "TRANSFERRED_ADDRESS";
    case 38: return "TARGET_ADDRESS";
    case 39: return "AGENT_ADDRESS";
    case 40: return "INTERIM_ADDRESS";
    case 41: return "LINK_LAYER_ADDRESS";
    case 42: return "SESSION_KEY";
    case 43: return "FLOW";
    case 44: return "SEALED";
    case 45: return "ADDRESS_LEASE";
    case 128: return "OPAQUE_DATA";
  }
  return "";
}

/** The registry name of a value, or "" if it has none. */
export function codeName(v: u32): string {
  switch (v) {
    case 1: return "ACCEPTED";
    case 128: return "REASON_UNSPECIFIED";
    case 129: return "ADMINISTRATIVELY_PROHIBITED";
    case 130: return "INSUFFICIENT_RESOURCES";
    case 131: return "FAILED_AUTHENTICATION";
    case 133: return "IDENTIFICATION_MISMATCH";
    case 134: return "POORLY_FORMED_REQUEST";
    case 135: return "UNKNOWN_SESSION";
    case 136: return "ADDRESS_NOT_ALLOWED";
    case 137: return "TOO_MANY_PENDING";
    case 140: return "TRANSFER_NOT_PERMITTED";
    case 141: return "UNKNOWN_BINDING";
    case 142: return "SESSION_KEY_REJECTED";
    case 143: return "ADDRESS_IN_USE";
  }
  return "";
}

/** The registry name of a value, or "" if it has none. */
export function opaqueSubtypeName(v: u32): string {
  switch (v) {
    case 1: return "LOCATION";
    case 2: return "SIGNAL_QUALITY";
    case 3: return "CONNECTION_QUALITY";
    case 4: return "FIXED_ENDPOINT";
    case 255: return "APPLICATION";
  }
  return "";
}

/** The registry name of a value, or "" if it has none. */
export function wrapName(v: u32): string {
  switch (v) {
    case 1: return "CHACHA20_POLY1305";
    case 2: return "X25519_CHACHA20_POLY1305";
  }
  return "";
}

/** The name of flag bit `bit` in a message of type `type`, or "". */
export function flagName(type: u8, bit: u32): string {
  switch (type) {
    case 16: switch (bit) {
      case 1: return "FURTHER_TRANSFER";
      case 2: return "SAME_SUBNET";
      case 4: return "PER_FLOW";
      case 8: return "REVERSE_RETURN";
      default: return "";
    }
    case 18: switch (bit) {
      case 1: return "FURTHER_TRANSFER";
      case 2: return "REVERSE_TUNNEL";
      case 4: return "PER_FLOW";
      default: return "";
    }
  }
  return "";
}

/** The name of an error code. */
export function errorName(code: i32): string {
  switch (code) {
    case 1: return "TRUNCATED";
    case 2: return "BAD_LENGTH";
    case 3: return "BAD_VERSION";
    case 4: return "UNKNOWN_TYPE";
    case 5: return "UNKNOWN_MANDATORY_EXTENSION";
    case 6: return "DUPLICATE_EXTENSION";
    case 7: return "MISSING_EXTENSION";
    case 8: return "UNEXPECTED_EXTENSION";
    case 9: return "AUTH_NOT_LAST";
    case 10: return "MISSING_AUTH";
    case 11: return "UNKNOWN_SPI";
    case 12: return "BAD_AUTHENTICATOR";
    case 13: return "AUTH_LENGTH_MISMATCH";
    case 14: return "REPLAYED";
    case 15: return "SEQUENCE_TOO_OLD";
    case 16: return "STALE_TIMESTAMP";
    case 17: return "NONCE_MISMATCH";
    case 18: return "BAD_FAMILY";
    case 19: return "BAD_ADDRESS";
    case 20: return "RESERVED_NONZERO";
    case 21: return "MESSAGE_TOO_LONG";
    case 22: return "BAD_CODE";
    case 23: return "BAD_FLAGS";
    case 24: return "BAD_PORT";
    case 25: return "BAD_PROTO_FLAGS";
    case 26: return "KEY_UNWRAP_FAILED";
    case 27: return "BUFFER_TOO_SMALL";
    case 28: return "INVALID_ARGUMENT";
    case 29: return "BAD_SPI";
    case 30: return "LOW_ORDER_POINT";
    case 31: return "BAD_VALUE";
    case 32: return "NOT_A_REPLY";
    case 33: return "UNKNOWN_PEER";
    case 34: return "BUSY";
    case 35: return "TIMED_OUT";
    case 36: return "REFUSED";
    case 37: return "KERNEL";
    case 38: return "CONFIG";
    case 39: return "NOT_SEEDED";
    case 40: return "RECORD_TRUNCATED";
    case 41: return "RECORD_VERSION";
    case 42: return "RECORD_TOO_LONG";
    case 43: return "RECORD_TRAILING_BYTES";
    case 44: return "TUNNEL_MISMATCH";
    case 45: return "UNSERVED_TYPE";
    case 46: return "NO_SESSION_ADDRESS";
    case 50: return "DHCP_BAD_HEADER";
    case 51: return "DHCP_BAD_COOKIE";
    case 52: return "DHCP_OPTION_OVERRUN";
    case 53: return "DHCP_NO_END";
    case 54: return "DHCP_BAD_OPTION_LENGTH";
    case 55: return "DHCP_MISSING_TYPE";
    case 56: return "DHCP_BAD_TYPE";
    case 57: return "DHCP_BAD_OVERLOAD";
    case 58: return "DHCP_MISSING_OPTION";
    case 59: return "DHCP_BAD_LEASE";
    case 60: return "DHCP_UNMATCHED";
  }
  return "unknown error";
}

/** The message of an error code. */
export function errorMessage(code: i32): string {
  switch (code) {
    case 1: return "the message ends inside its header or inside an extension";
    case 2: return "an extension's Length is not valid for its type";
    case 3: return "the protocol version is not 1";
    case 4: return "the message type is not defined";
    case 5: return "an extension with a type below 128 is not understood";
    case 6: return "an extension that may appear once appears twice";
    case 7: return "a required extension is missing";
    case 8: return "a known extension is not allowed in this message type";
    case 9: return "an extension follows the authentication extension";
    case 10: return "the message carries no authentication extension";
    case 11: return "no security association matches the sender's cookie and SPI";
    case 12: return "the authenticator does not verify";
    case 13: return "the authenticator's length does not fit the security association's algorithm";
    case 14: return "this sequence number was already accepted";
    case 15: return "the sequence number is behind the replay window";
    case 16: return "the timestamp is outside the allowed clock skew";
    case 17: return "the nonce is not the one the receiver issued";
    case 18: return "the address family is neither 1 (IPv4) nor 2 (IPv6)";
    case 19: return "an address is not usable here (unspecified, multicast, loopback or broadcast)";
    case 20: return "a reserved field is not zero";
    case 21: return "the message is longer than 1232 bytes";
    case 22: return "a reply carries Code 0";
    case 23: return "a flag bit not defined for this message type is set";
    case 24: return "a wildcard old port (0) is paired with a non-zero new port, or the reverse";
    case 25: return "protocol flags other than TCP (1) and UDP (2) are set";
    case 26: return "the session key does not unwrap";
    case 27: return "the output does not fit";
    case 28: return "an argument to the core is out of range";
    case 29: return "SPIs 0-255 are reserved";
    case 30: return "the X25519 public key is a low-order point";
    case 31: return "a field holds a value not defined for it";
    case 32: return "no outstanding request matches this reply";
    case 33: return "no peer is configured for this address or cookie";
    case 34: return "a migration for these sessions is already under way";
    case 35: return "the peer did not answer in time";
    case 36: return "the peer refused the request";
    case 37: return "the kernel refused a rule, address or route";
    case 38: return "the configuration is invalid";
    case 39: return "the random generator has not been seeded";
    case 40: return "the TCP state record ends before its header or its queues end";
    case 41: return "the TCP state record's version is not 1";
    case 42: return "a queue or the application state in the TCP state record exceeds its limit";
    case 43: return "bytes follow the end of the TCP state record";
    case 44: return "a tunnelled packet is not for this binding (another VNI, destination MAC or inner address)";
    case 45: return "no protocol module on this node serves this message type";
    case 46: return "no session address could be had from the generator (its pool is used up, or it has no prefix)";
    case 50: return "a DHCP message's fixed header is invalid (op not 1 or 2, or a hardware address length above 16 or not 6 for Ethernet)";
    case 51: return "a DHCP message lacks the magic cookie 99.130.83.99 after its fixed header";
    case 52: return "a DHCP option's length runs past the end of its field";
    case 53: return "a DHCP option field ends without the End option (255)";
    case 54: return "a DHCP option of fixed length (53, 50, 51, 54, 58, 59, 1, 52) has another length, also after concatenating repeated instances (RFC 3396)";
    case 55: return "a DHCP message has no DHCP Message Type option (53)";
    case 56: return "a DHCP Message Type (option 53) outside 1-8";
    case 57: return "the Option Overload option (52) is not 1, 2 or 3";
    case 58: return "a DHCPOFFER or DHCPACK lacks its server identifier (54) or lease time (51), or a DHCPNAK its server identifier";
    case 59: return "a DHCPOFFER or DHCPACK offers an address that is not usable unicast, or a T1 above T2 or a T2 above the lease time";
    case 60: return "a DHCP reply matches no client of this node (transaction id, hardware address, client identifier or server identifier differ, or the client does not expect it now)";
  }
  return "unknown error";
}

/** The hint of an error code. */
export function errorHint(code: i32): string {
  switch (code) {
    case 1: return "the datagram was cut short; check the sender's MTU and that it sends whole messages";
    case 2: return "the sender encodes this extension with the wrong size; see the extension's layout in docs/PROTOCOL.md";
    case 3: return "upgrade the peer, or configure it to speak version 1";
    case 4: return "the peer speaks a newer or different protocol";
    case 5: return "types 0-127 must be understood; the peer needs a version of this protocol we do not have";
    case 6: return "fix the sender's encoder";
    case 7: return "see the message's table of extensions in docs/PROTOCOL.md";
    case 8: return "see the message's table of extensions in docs/PROTOCOL.md";
    case 9: return "the authentication extension must be the last one";
    case 10: return "every message is authenticated; configure a security association on the sender";
    case 11: return "configure the same SPI and key on both ends (handover keys)";
    case 12: return "the keys differ on the two ends, or the message was altered in transit";
    case 13: return "both ends must use the same algorithm for this SPI";
    case 14: return "a duplicate or a replay; retransmissions are answered from the reply cache instead";
    case 15: return "a very late or replayed message; a restarted sender must register again";
    case 16: return "synchronise the clocks (NTP) or raise the skew; the reply carries the receiver's time";
    case 17: return "use the nonce from the receiver's last reply";
    case 18: return "fix the sender's encoder";
    case 19: return "migrate to a unicast address the peer can reach";
    case 20: return "reserved fields must be sent as zero in version 1";
    case 21: return "send fewer extensions per message";
    case 22: return "replies carry 1 (accepted) or a refusal code of 128 or more";
    case 23: return "see the message's flags in docs/PROTOCOL.md";
    case 24: return "use 0 for both ports to migrate every port, or name both";
    case 25: return "use 0 for all protocols";
    case 26: return "the wrapping key or X25519 key pair differs on the two ends";
    case 27: return "a message may not exceed 1232 bytes";
    case 28: return "a host bug: check pointers, lengths and enum values passed to the core";
    case 29: return "choose an SPI of 256 or more";
    case 30: return "the peer's public key is invalid or malicious";
    case 31: return "see the field's table in docs/PROTOCOL.md";
    case 32: return "a late duplicate, or a forged reply; ignored";
    case 33: return "add the peer to the configuration";
    case 34: return "wait for it to finish or fail";
    case 35: return "check that the peer's daemon runs and that its control port is reachable";
    case 36: return "the reply code says why";
    case 37: return "run as root (CAP_NET_ADMIN) and check that nftables is installed";
    case 38: return "see the message for the field";
    case 39: return "call drbg_seed with at least 16 bytes from the host's entropy source (32 recommended) first";
    case 40: return "the record was cut short in transit or by the encoder; send the whole record (docs/PROTOCOL.md 8.12)";
    case 41: return "the sender writes a record version this implementation does not know; upgrade one side";
    case 42: return "queues are at most 64 MiB and the application state at most 1 MiB (docs/PROTOCOL.md 8.12)";
    case 43: return "the record's lengths and its size disagree; fix the encoder";
    case 44: return "a stray or forged packet on the tunnel port; it is dropped (docs/PROTOCOL.md 8.9)";
    case 45: return "the sender speaks a protocol (see the Protocol column of the message types) that this node does not run; run that protocol's module here or stop sending it";
    case 46: return "widen the static pool (sid.addressPool), configure the IPv6 prefix (sid.addressPrefix6), or release session addresses that ended (docs/PROTOCOL.md 8.18)";
    case 50: return "not a BOOTP/DHCP message; it is dropped (docs/PROTOCOL.md 8.19)";
    case 51: return "a plain BOOTP message or garbage on port 68; it is dropped";
    case 52: return "the sender's option encoding is broken; the message is dropped";
    case 53: return "the sender's option encoding is broken or the message was cut; it is dropped";
    case 54: return "the sender's option encoding is broken; the message is dropped";
    case 55: return "a BOOTP message, not DHCP; it is dropped";
    case 56: return "an unknown DHCP message kind; it is dropped";
    case 57: return "the sender's option encoding is broken; the message is dropped";
    case 58: return "the server does not follow RFC 2131 table 3; the message is dropped";
    case 59: return "the server's configuration is broken; the message is dropped";
    case 60: return "a reply for another client, a late duplicate or a forgery; it is dropped";
  }
  return "unknown error";
}
