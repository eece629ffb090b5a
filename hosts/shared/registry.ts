// GENERATED from core/registry.json by scripts/gen-registry.js. Do not edit.

export const PROTOCOL_VERSION = 1;
export const DEFAULT_PORT = 4346;
export const HEADER_LENGTH = 20;
export const MAX_MESSAGE_LENGTH = 1232;
export const FIRST_ASSIGNABLE_SPI = 256;
export const DEFAULT_SKEW_MS = 7000;

export const MessageType = {
  REGISTRATION_REQUEST: 1,
  REGISTRATION_REPLY: 2,
  MIGRATION_REQUEST: 3,
  MIGRATION_REPLY: 4,
  MIGRATION_CONFIRM: 5,
  TRANSFER_NEGOTIATION_REQUEST: 16,
  TRANSFER_NEGOTIATION_REPLY: 17,
  TRANSFER_REQUEST: 18,
  TRANSFER_REPLY: 19,
  BINDING_UPDATE: 20,
  BINDING_ACK: 21,
  WAKE_UP: 22,
  WAKE_UP_ACK: 23,
  STOP_TRANSFER: 24,
  STOP_TRANSFER_REPLY: 25,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const Flag = {
  FURTHER_TRANSFER: 1,
  SAME_SUBNET: 2,
  REVERSE_TUNNEL: 2,
  REVERSE_RETURN: 8,
  PER_FLOW: 4,
} as const;
export type Flag = (typeof Flag)[keyof typeof Flag];

export const ExtensionType = {
  AUTH: 32,
  MIGRATION: 33,
  PATH_CHALLENGE: 34,
  PATH_RESPONSE: 35,
  LIFETIME: 36,
  TRANSFERRED_ADDRESS: 37,
  TARGET_ADDRESS: 38,
  AGENT_ADDRESS: 39,
  INTERIM_ADDRESS: 40,
  LINK_LAYER_ADDRESS: 41,
  SESSION_KEY: 42,
  FLOW: 43,
  SEALED: 44,
  ADDRESS_LEASE: 45,
  OPAQUE_DATA: 128,
} as const;
export type ExtensionType = (typeof ExtensionType)[keyof typeof ExtensionType];

export const ReplyCode = {
  ACCEPTED: 1,
  REASON_UNSPECIFIED: 128,
  ADMINISTRATIVELY_PROHIBITED: 129,
  INSUFFICIENT_RESOURCES: 130,
  FAILED_AUTHENTICATION: 131,
  IDENTIFICATION_MISMATCH: 133,
  POORLY_FORMED_REQUEST: 134,
  UNKNOWN_SESSION: 135,
  ADDRESS_NOT_ALLOWED: 136,
  TOO_MANY_PENDING: 137,
  TRANSFER_NOT_PERMITTED: 140,
  UNKNOWN_BINDING: 141,
  SESSION_KEY_REJECTED: 142,
  ADDRESS_IN_USE: 143,
} as const;
export type ReplyCode = (typeof ReplyCode)[keyof typeof ReplyCode];

export const AuthAlgorithm = {
  HMAC_MD5: 1,
  HMAC_SHA1: 2,
  HMAC_SHA256: 3,
} as const;
export type AuthAlgorithm = (typeof AuthAlgorithm)[keyof typeof AuthAlgorithm];

export const ReplayMode = {
  TIMESTAMP: 1,
  NONCE: 2,
} as const;
export type ReplayMode = (typeof ReplayMode)[keyof typeof ReplayMode];

export const KeyWrap = {
  CHACHA20_POLY1305: 1,
  X25519_CHACHA20_POLY1305: 2,
} as const;
export type KeyWrap = (typeof KeyWrap)[keyof typeof KeyWrap];

export const Proto = {
  TCP: 1,
  UDP: 2,
} as const;
export type Proto = (typeof Proto)[keyof typeof Proto];

export const Family = {
  IPV4: 1,
  IPV6: 2,
} as const;
export type Family = (typeof Family)[keyof typeof Family];

export const IpProtocol = {
  TCP: 6,
  UDP: 17,
} as const;
export type IpProtocol = (typeof IpProtocol)[keyof typeof IpProtocol];

export const OpaqueSubtype = {
  LOCATION: 1,
  SIGNAL_QUALITY: 2,
  CONNECTION_QUALITY: 3,
  FIXED_ENDPOINT: 4,
  APPLICATION: 255,
} as const;
export type OpaqueSubtype = (typeof OpaqueSubtype)[keyof typeof OpaqueSubtype];

export const ErrorCode = {
  TRUNCATED: 1,
  BAD_LENGTH: 2,
  BAD_VERSION: 3,
  UNKNOWN_TYPE: 4,
  UNKNOWN_MANDATORY_EXTENSION: 5,
  DUPLICATE_EXTENSION: 6,
  MISSING_EXTENSION: 7,
  UNEXPECTED_EXTENSION: 8,
  AUTH_NOT_LAST: 9,
  MISSING_AUTH: 10,
  UNKNOWN_SPI: 11,
  BAD_AUTHENTICATOR: 12,
  AUTH_LENGTH_MISMATCH: 13,
  REPLAYED: 14,
  SEQUENCE_TOO_OLD: 15,
  STALE_TIMESTAMP: 16,
  NONCE_MISMATCH: 17,
  BAD_FAMILY: 18,
  BAD_ADDRESS: 19,
  RESERVED_NONZERO: 20,
  MESSAGE_TOO_LONG: 21,
  BAD_CODE: 22,
  BAD_FLAGS: 23,
  BAD_PORT: 24,
  BAD_PROTO_FLAGS: 25,
  KEY_UNWRAP_FAILED: 26,
  BUFFER_TOO_SMALL: 27,
  INVALID_ARGUMENT: 28,
  BAD_SPI: 29,
  LOW_ORDER_POINT: 30,
  BAD_VALUE: 31,
  NOT_A_REPLY: 32,
  UNKNOWN_PEER: 33,
  BUSY: 34,
  TIMED_OUT: 35,
  REFUSED: 36,
  KERNEL: 37,
  CONFIG: 38,
  NOT_SEEDED: 39,
  RECORD_TRUNCATED: 40,
  RECORD_VERSION: 41,
  RECORD_TOO_LONG: 42,
  RECORD_TRAILING_BYTES: 43,
  TUNNEL_MISMATCH: 44,
  UNSERVED_TYPE: 45,
  NO_SESSION_ADDRESS: 46,
  DHCP_BAD_HEADER: 50,
  DHCP_BAD_COOKIE: 51,
  DHCP_OPTION_OVERRUN: 52,
  DHCP_NO_END: 53,
  DHCP_BAD_OPTION_LENGTH: 54,
  DHCP_MISSING_TYPE: 55,
  DHCP_BAD_TYPE: 56,
  DHCP_BAD_OVERLOAD: 57,
  DHCP_MISSING_OPTION: 58,
  DHCP_BAD_LEASE: 59,
  DHCP_UNMATCHED: 60,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

// ABI numbers (docs/ABI.md)
export const ABI_VERSION = 1;

export const Option = {
  windowBits: 1,
  quotaBytes: 2,
  quarantineMs: 3,
  validationTimeoutMs: 4,
  maxPendingPaths: 5,
  registrationLifetimeS: 6,
  debug: 7,
  controlPort: 8,
  auto: 9,
  guard: 10,
  sessionIdleMs: 11,
  maxMovesPerPeer: 12,
  maxMoves: 13,
  maxOwnedPerPeer: 14,
  mismatchRepliesPerS: 15,
  followDefaultRoute: 16,
  sidAgent: 17,
  sidTarget: 18,
  sidAllowReverse: 19,
  sidMaxLifetimeS: 20,
  sidLifetimeS: 21,
  sidBindings: 22,
  sidTunnelPort: 23,
  sidTunnelMtu: 24,
  sidRouteTable: 25,
  sidFlows: 26,
} as const;
export type Option = (typeof Option)[keyof typeof Option];

/** Type, default and range of every option of node_option (abi.options). */
export const OPTION_SPECS: Record<keyof typeof Option, { type: "integer" | "boolean"; default: number; min: number; max: number; multipleOf?: number; meaning: string }> = {
  windowBits: {"type":"integer","default":256,"min":64,"max":4096,"multipleOf":64,"meaning":"replay window width in bits, a multiple of 64"},
  quotaBytes: {"type":"integer","default":1048576,"min":0,"max":1000000000000,"meaning":"bytes allowed toward an unvalidated address"},
  quarantineMs: {"type":"integer","default":30000,"min":0,"max":1000000000000,"meaning":"how long a left address stays quarantined"},
  validationTimeoutMs: {"type":"integer","default":5000,"min":0,"max":1000000000000,"meaning":"how long the non-migrator waits for a Migration Confirm"},
  maxPendingPaths: {"type":"integer","default":3,"min":0,"max":1024,"meaning":"unvalidated addresses per peer"},
  registrationLifetimeS: {"type":"integer","default":3600,"min":0,"max":65535,"meaning":"longest registration granted"},
  debug: {"type":"boolean","default":0,"min":0,"max":1,"meaning":"1: emit a 'dropped' event for every dropped datagram"},
  controlPort: {"type":"integer","default":4346,"min":1,"max":65535,"meaning":"this node's control port, kept out of the rewrite rules"},
  auto: {"type":"boolean","default":1,"min":0,"max":1,"meaning":"1: when an address with sessions disappears, hold them and migrate to the next usable address"},
  guard: {"type":"boolean","default":1,"min":0,"max":1,"meaning":"1 (with auto): keep every usable address also on lo, a last-resort route, and hold what only that route would carry, so a break loses nothing before the daemon reacts"},
  sessionIdleMs: {"type":"integer","default":60000,"min":0,"max":1000000000000,"meaning":"a move whose rules counted no packet this long, with no TCP socket left, has ended"},
  maxMovesPerPeer: {"type":"integer","default":64,"min":0,"max":1000000,"meaning":"moves one peer's migrations may hold at the same time; more are refused with 130"},
  maxMoves: {"type":"integer","default":100000,"min":0,"max":1000000,"meaning":"moves of all peers' migrations together (a server's table: about 0.7 KiB of the core's memory and a few map elements in the kernel each, docs/dataplane.md); more are refused with 130"},
  maxOwnedPerPeer: {"type":"integer","default":8,"min":0,"max":1024,"meaning":"addresses a peer may own through registrations and validations; the one that expires first makes room"},
  mismatchRepliesPerS: {"type":"integer","default":10,"min":0,"max":1000000,"meaning":"code-133 replies per second, all peers together, to sources a peer does not own (a burst of as many; 0: none)"},
  followDefaultRoute: {"type":"boolean","default":0,"min":0,"max":1,"meaning":"1 (needs auto): when the default route moves to another link, migrate the sessions on the old link's address to the new link's, make-before-break, without a command"},
  sidAgent: {"type":"boolean","default":0,"min":0,"max":1,"meaning":"1: this node is a SID agent: it accepts Transfer Requests from peers for the addresses they are configured to own (peer_add_address)"},
  sidTarget: {"type":"boolean","default":0,"min":0,"max":1,"meaning":"1: this node accepts Transfer Negotiation Requests (it may become a SID target)"},
  sidAllowReverse: {"type":"boolean","default":1,"min":0,"max":1,"meaning":"1 (target): accept reverse-tunnelled return (R); 0: refuse such negotiations with 129"},
  sidMaxLifetimeS: {"type":"integer","default":600,"min":1,"max":65535,"meaning":"agent: the longest binding granted (lifetime = min(requested, this))"},
  sidLifetimeS: {"type":"integer","default":600,"min":1,"max":65535,"meaning":"transferring node: the lifetime requested when sid_transfer passes 0"},
  sidBindings: {"type":"integer","default":4096,"min":1,"max":2000000,"meaning":"agent: bindings the table holds; a Transfer Request beyond is refused with 130"},
  sidTunnelPort: {"type":"integer","default":4789,"min":1,"max":65535,"meaning":"the VXLAN tunnel's UDP port (section 8.9)"},
  sidTunnelMtu: {"type":"integer","default":1450,"min":576,"max":65000,"meaning":"the tunnel device's MTU (the path MTU between agent and target minus 50, or 70 over IPv6)"},
  sidRouteTable: {"type":"integer","default":4346,"min":256,"max":4278190079,"meaning":"target, reverse mode: the first of the routing tables of the transferred addresses' return routes, one per binding: this value plus the binding's VNI (section 8.9 step 4)"},
  sidFlows: {"type":"integer","default":4096,"min":1,"max":2000000,"meaning":"agent: transferred flows the flow table holds (per-flow mode, section 8.16); a Transfer Request beyond is refused with 130"},
};

export const OutputKind = {
  NONE: 0,
  TRANSMIT: 1,
  NFT: 2,
  NETLINK: 3,
  EVENT: 4,
  FRAME: 5,
  RENEWED: 6,
} as const;
export type OutputKind = (typeof OutputKind)[keyof typeof OutputKind];
/** NETLINK output aux flag: wait for the kernel's acknowledgement (abi.netlinkWaitAck). */
export const NETLINK_WAIT_ACK = 256;
/** NETLINK output aux flag: a dump, read until NLMSG_DONE (abi.netlinkDump). */
export const NETLINK_DUMP = 512;

/** Offsets in the 64-byte block at io_meta_ptr() (little-endian). */
export const Meta = {
  KIND: 0,
  ID: 4,
  LENGTH: 8,
  AUX: 12,
  DST_PORT: 16,
  DST_FAMILY: 18,
  SRC_FAMILY: 19,
  DST_ADDR: 20,
  SRC_ADDR: 36,
} as const;

/** Name, message and hint of every error code the core returns. */
export const ERRORS: Record<number, { name: string; message: string; hint: string }> = {
  1: {"name":"TRUNCATED","message":"the message ends inside its header or inside an extension","hint":"the datagram was cut short; check the sender's MTU and that it sends whole messages"},
  2: {"name":"BAD_LENGTH","message":"an extension's Length is not valid for its type","hint":"the sender encodes this extension with the wrong size; see the extension's layout in docs/PROTOCOL.md"},
  3: {"name":"BAD_VERSION","message":"the protocol version is not 1","hint":"upgrade the peer, or configure it to speak version 1"},
  4: {"name":"UNKNOWN_TYPE","message":"the message type is not defined","hint":"the peer speaks a newer or different protocol"},
  5: {"name":"UNKNOWN_MANDATORY_EXTENSION","message":"an extension with a type below 128 is not understood","hint":"types 0-127 must be understood; the peer needs a version of this protocol we do not have"},
  6: {"name":"DUPLICATE_EXTENSION","message":"an extension that may appear once appears twice","hint":"fix the sender's encoder"},
  7: {"name":"MISSING_EXTENSION","message":"a required extension is missing","hint":"see the message's table of extensions in docs/PROTOCOL.md"},
  8: {"name":"UNEXPECTED_EXTENSION","message":"a known extension is not allowed in this message type","hint":"see the message's table of extensions in docs/PROTOCOL.md"},
  9: {"name":"AUTH_NOT_LAST","message":"an extension follows the authentication extension","hint":"the authentication extension must be the last one"},
  10: {"name":"MISSING_AUTH","message":"the message carries no authentication extension","hint":"every message is authenticated; configure a security association on the sender"},
  11: {"name":"UNKNOWN_SPI","message":"no security association matches the sender's cookie and SPI","hint":"configure the same SPI and key on both ends (handover keys)"},
  12: {"name":"BAD_AUTHENTICATOR","message":"the authenticator does not verify","hint":"the keys differ on the two ends, or the message was altered in transit"},
  13: {"name":"AUTH_LENGTH_MISMATCH","message":"the authenticator's length does not fit the security association's algorithm","hint":"both ends must use the same algorithm for this SPI"},
  14: {"name":"REPLAYED","message":"this sequence number was already accepted","hint":"a duplicate or a replay; retransmissions are answered from the reply cache instead"},
  15: {"name":"SEQUENCE_TOO_OLD","message":"the sequence number is behind the replay window","hint":"a very late or replayed message; a restarted sender must register again"},
  16: {"name":"STALE_TIMESTAMP","message":"the timestamp is outside the allowed clock skew","hint":"synchronise the clocks (NTP) or raise the skew; the reply carries the receiver's time"},
  17: {"name":"NONCE_MISMATCH","message":"the nonce is not the one the receiver issued","hint":"use the nonce from the receiver's last reply"},
  18: {"name":"BAD_FAMILY","message":"the address family is neither 1 (IPv4) nor 2 (IPv6)","hint":"fix the sender's encoder"},
  19: {"name":"BAD_ADDRESS","message":"an address is not usable here (unspecified, multicast, loopback or broadcast)","hint":"migrate to a unicast address the peer can reach"},
  20: {"name":"RESERVED_NONZERO","message":"a reserved field is not zero","hint":"reserved fields must be sent as zero in version 1"},
  21: {"name":"MESSAGE_TOO_LONG","message":"the message is longer than 1232 bytes","hint":"send fewer extensions per message"},
  22: {"name":"BAD_CODE","message":"a reply carries Code 0","hint":"replies carry 1 (accepted) or a refusal code of 128 or more"},
  23: {"name":"BAD_FLAGS","message":"a flag bit not defined for this message type is set","hint":"see the message's flags in docs/PROTOCOL.md"},
  24: {"name":"BAD_PORT","message":"a wildcard old port (0) is paired with a non-zero new port, or the reverse","hint":"use 0 for both ports to migrate every port, or name both"},
  25: {"name":"BAD_PROTO_FLAGS","message":"protocol flags other than TCP (1) and UDP (2) are set","hint":"use 0 for all protocols"},
  26: {"name":"KEY_UNWRAP_FAILED","message":"the session key does not unwrap","hint":"the wrapping key or X25519 key pair differs on the two ends"},
  27: {"name":"BUFFER_TOO_SMALL","message":"the output does not fit","hint":"a message may not exceed 1232 bytes"},
  28: {"name":"INVALID_ARGUMENT","message":"an argument to the core is out of range","hint":"a host bug: check pointers, lengths and enum values passed to the core"},
  29: {"name":"BAD_SPI","message":"SPIs 0-255 are reserved","hint":"choose an SPI of 256 or more"},
  30: {"name":"LOW_ORDER_POINT","message":"the X25519 public key is a low-order point","hint":"the peer's public key is invalid or malicious"},
  31: {"name":"BAD_VALUE","message":"a field holds a value not defined for it","hint":"see the field's table in docs/PROTOCOL.md"},
  32: {"name":"NOT_A_REPLY","message":"no outstanding request matches this reply","hint":"a late duplicate, or a forged reply; ignored"},
  33: {"name":"UNKNOWN_PEER","message":"no peer is configured for this address or cookie","hint":"add the peer to the configuration"},
  34: {"name":"BUSY","message":"a migration for these sessions is already under way","hint":"wait for it to finish or fail"},
  35: {"name":"TIMED_OUT","message":"the peer did not answer in time","hint":"check that the peer's daemon runs and that its control port is reachable"},
  36: {"name":"REFUSED","message":"the peer refused the request","hint":"the reply code says why"},
  37: {"name":"KERNEL","message":"the kernel refused a rule, address or route","hint":"run as root (CAP_NET_ADMIN) and check that nftables is installed"},
  38: {"name":"CONFIG","message":"the configuration is invalid","hint":"see the message for the field"},
  39: {"name":"NOT_SEEDED","message":"the random generator has not been seeded","hint":"call drbg_seed with at least 16 bytes from the host's entropy source (32 recommended) first"},
  40: {"name":"RECORD_TRUNCATED","message":"the TCP state record ends before its header or its queues end","hint":"the record was cut short in transit or by the encoder; send the whole record (docs/PROTOCOL.md 8.12)"},
  41: {"name":"RECORD_VERSION","message":"the TCP state record's version is not 1","hint":"the sender writes a record version this implementation does not know; upgrade one side"},
  42: {"name":"RECORD_TOO_LONG","message":"a queue or the application state in the TCP state record exceeds its limit","hint":"queues are at most 64 MiB and the application state at most 1 MiB (docs/PROTOCOL.md 8.12)"},
  43: {"name":"RECORD_TRAILING_BYTES","message":"bytes follow the end of the TCP state record","hint":"the record's lengths and its size disagree; fix the encoder"},
  44: {"name":"TUNNEL_MISMATCH","message":"a tunnelled packet is not for this binding (another VNI, destination MAC or inner address)","hint":"a stray or forged packet on the tunnel port; it is dropped (docs/PROTOCOL.md 8.9)"},
  45: {"name":"UNSERVED_TYPE","message":"no protocol module on this node serves this message type","hint":"the sender speaks a protocol (see the Protocol column of the message types) that this node does not run; run that protocol's module here or stop sending it"},
  46: {"name":"NO_SESSION_ADDRESS","message":"no session address could be had from the generator (its pool is used up, or it has no prefix)","hint":"widen the static pool (sid.addressPool), configure the IPv6 prefix (sid.addressPrefix6), or release session addresses that ended (docs/PROTOCOL.md 8.18)"},
  50: {"name":"DHCP_BAD_HEADER","message":"a DHCP message's fixed header is invalid (op not 1 or 2, or a hardware address length above 16 or not 6 for Ethernet)","hint":"not a BOOTP/DHCP message; it is dropped (docs/PROTOCOL.md 8.19)"},
  51: {"name":"DHCP_BAD_COOKIE","message":"a DHCP message lacks the magic cookie 99.130.83.99 after its fixed header","hint":"a plain BOOTP message or garbage on port 68; it is dropped"},
  52: {"name":"DHCP_OPTION_OVERRUN","message":"a DHCP option's length runs past the end of its field","hint":"the sender's option encoding is broken; the message is dropped"},
  53: {"name":"DHCP_NO_END","message":"a DHCP option field ends without the End option (255)","hint":"the sender's option encoding is broken or the message was cut; it is dropped"},
  54: {"name":"DHCP_BAD_OPTION_LENGTH","message":"a DHCP option of fixed length (53, 50, 51, 54, 58, 59, 1, 52) has another length, also after concatenating repeated instances (RFC 3396)","hint":"the sender's option encoding is broken; the message is dropped"},
  55: {"name":"DHCP_MISSING_TYPE","message":"a DHCP message has no DHCP Message Type option (53)","hint":"a BOOTP message, not DHCP; it is dropped"},
  56: {"name":"DHCP_BAD_TYPE","message":"a DHCP Message Type (option 53) outside 1-8","hint":"an unknown DHCP message kind; it is dropped"},
  57: {"name":"DHCP_BAD_OVERLOAD","message":"the Option Overload option (52) is not 1, 2 or 3","hint":"the sender's option encoding is broken; the message is dropped"},
  58: {"name":"DHCP_MISSING_OPTION","message":"a DHCPOFFER or DHCPACK lacks its server identifier (54) or lease time (51), or a DHCPNAK its server identifier","hint":"the server does not follow RFC 2131 table 3; the message is dropped"},
  59: {"name":"DHCP_BAD_LEASE","message":"a DHCPOFFER or DHCPACK offers an address that is not usable unicast, or a T1 above T2 or a T2 above the lease time","hint":"the server's configuration is broken; the message is dropped"},
  60: {"name":"DHCP_UNMATCHED","message":"a DHCP reply matches no client of this node (transaction id, hardware address, client identifier or server identifier differ, or the client does not expect it now)","hint":"a reply for another client, a late duplicate or a forgery; it is dropped"},
};

export const MESSAGE_NAMES: Record<number, string> = {
  1: "REGISTRATION_REQUEST",
  2: "REGISTRATION_REPLY",
  3: "MIGRATION_REQUEST",
  4: "MIGRATION_REPLY",
  5: "MIGRATION_CONFIRM",
  16: "TRANSFER_NEGOTIATION_REQUEST",
  17: "TRANSFER_NEGOTIATION_REPLY",
  18: "TRANSFER_REQUEST",
  19: "TRANSFER_REPLY",
  20: "BINDING_UPDATE",
  21: "BINDING_ACK",
  22: "WAKE_UP",
  23: "WAKE_UP_ACK",
  24: "STOP_TRANSFER",
  25: "STOP_TRANSFER_REPLY",
};

export const EXTENSION_NAMES: Record<number, string> = {
  32: "AUTH",
  33: "MIGRATION",
  34: "PATH_CHALLENGE",
  35: "PATH_RESPONSE",
  36: "LIFETIME",
  37: "TRANSFERRED_ADDRESS",
  38: "TARGET_ADDRESS",
  39: "AGENT_ADDRESS",
  40: "INTERIM_ADDRESS",
  41: "LINK_LAYER_ADDRESS",
  42: "SESSION_KEY",
  43: "FLOW",
  44: "SEALED",
  45: "ADDRESS_LEASE",
  128: "OPAQUE_DATA",
};

export const REPLY_CODE_NAMES: Record<number, string> = {
  1: "ACCEPTED",
  128: "REASON_UNSPECIFIED",
  129: "ADMINISTRATIVELY_PROHIBITED",
  130: "INSUFFICIENT_RESOURCES",
  131: "FAILED_AUTHENTICATION",
  133: "IDENTIFICATION_MISMATCH",
  134: "POORLY_FORMED_REQUEST",
  135: "UNKNOWN_SESSION",
  136: "ADDRESS_NOT_ALLOWED",
  137: "TOO_MANY_PENDING",
  140: "TRANSFER_NOT_PERMITTED",
  141: "UNKNOWN_BINDING",
  142: "SESSION_KEY_REJECTED",
  143: "ADDRESS_IN_USE",
};
