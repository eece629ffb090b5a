-- Wireshark dissector for the handover control protocol (docs/PROTOCOL.md):
-- the 20-byte common header and every extension of STEM and SID, validated in
-- the order of PROTOCOL.md section 5.1. The first failure is shown as expert
-- information (group Malformed) named like the implementation's error code, e.g.
-- handover.error.bad_length; with the handover.keys preference set, the
-- authenticator is verified too (section 6.2). Field labels are PROTOCOL.md's
-- field names. Installation and use: tools/wireshark/README.md.
--
-- Numbers come from core/registry.json: the block between the registry lines
-- is written by `npm run gen` (scripts/gen-registry.js) and checked by the build.

-- registry:begin
-- GENERATED from core/registry.json by scripts/gen-registry.js (npm run gen). Do not edit.
local R = {}
R.protocolVersion = 1
R.defaultPort = 4346
R.headerLength = 20
R.maxMessageLength = 1232
R.firstAssignableSpi = 256
-- Message types. reply: the type that answers a request. ext: {extension type, rule} in the registry's order;
-- rule 1, ? (at most one), + (one or more), * (any).
R.messageTypes = {
  [1] = { name = "REGISTRATION_REQUEST", title = "Registration Request", protocol = "STEM", kind = "request", reply = 2,
    flags = {},
    ext = { { 36, "?" }, { 128, "*" }, { 32, "1" } } },
  [2] = { name = "REGISTRATION_REPLY", title = "Registration Reply", protocol = "STEM", kind = "reply",
    flags = {},
    ext = { { 36, "?" }, { 34, "?" }, { 128, "*" }, { 32, "1" } } },
  [3] = { name = "MIGRATION_REQUEST", title = "Migration Request", protocol = "STEM", kind = "request", reply = 4,
    flags = {},
    ext = { { 33, "+" }, { 128, "*" }, { 32, "1" } } },
  [4] = { name = "MIGRATION_REPLY", title = "Migration Reply", protocol = "STEM", kind = "reply",
    flags = {},
    ext = { { 34, "?" }, { 128, "*" }, { 32, "1" } } },
  [5] = { name = "MIGRATION_CONFIRM", title = "Migration Confirm", protocol = "STEM", kind = "notice",
    flags = {},
    ext = { { 35, "1" }, { 32, "1" } } },
  [16] = { name = "TRANSFER_NEGOTIATION_REQUEST", title = "Transfer Negotiation Request", protocol = "SID", kind = "request", reply = 17,
    flags = { { value = 1, name = "FURTHER_TRANSFER", letter = "F" }, { value = 2, name = "SAME_SUBNET", letter = "S" }, { value = 4, name = "PER_FLOW", letter = "P" }, { value = 8, name = "REVERSE_RETURN", letter = "R" } },
    ext = { { 37, "1" }, { 39, "?" }, { 40, "?" }, { 41, "?" }, { 42, "?" }, { 43, "*" }, { 36, "?" }, { 45, "?" }, { 128, "*" }, { 32, "1" } } },
  [17] = { name = "TRANSFER_NEGOTIATION_REPLY", title = "Transfer Negotiation Reply", protocol = "SID", kind = "reply",
    flags = {},
    ext = { { 38, "?" }, { 128, "*" }, { 32, "1" } } },
  [18] = { name = "TRANSFER_REQUEST", title = "Transfer Request", protocol = "SID", kind = "request", reply = 19,
    flags = { { value = 1, name = "FURTHER_TRANSFER", letter = "F" }, { value = 2, name = "REVERSE_TUNNEL", letter = "R" }, { value = 4, name = "PER_FLOW", letter = "P" } },
    ext = { { 37, "1" }, { 38, "1" }, { 41, "?" }, { 40, "?" }, { 42, "1" }, { 43, "*" }, { 36, "?" }, { 128, "*" }, { 32, "1" } } },
  [19] = { name = "TRANSFER_REPLY", title = "Transfer Reply", protocol = "SID", kind = "reply",
    flags = {},
    ext = { { 36, "?" }, { 128, "*" }, { 32, "1" } } },
  [20] = { name = "BINDING_UPDATE", title = "Binding Update", protocol = "SID", kind = "request", reply = 21,
    flags = {},
    ext = { { 37, "1" }, { 36, "1" }, { 128, "*" }, { 44, "?" }, { 32, "1" } } },
  [21] = { name = "BINDING_ACK", title = "Binding Acknowledgement", protocol = "SID", kind = "reply",
    flags = {},
    ext = { { 36, "?" }, { 128, "*" }, { 44, "?" }, { 32, "1" } } },
  [22] = { name = "WAKE_UP", title = "Wake-up", protocol = "SID", kind = "request", reply = 23,
    flags = {},
    ext = { { 37, "1" }, { 128, "*" }, { 32, "1" } } },
  [23] = { name = "WAKE_UP_ACK", title = "Wake-up Acknowledgement", protocol = "SID", kind = "reply",
    flags = {},
    ext = { { 128, "*" }, { 32, "1" } } },
  [24] = { name = "STOP_TRANSFER", title = "Stop Transfer", protocol = "SID", kind = "request", reply = 25,
    flags = {},
    ext = { { 37, "1" }, { 43, "*" }, { 128, "*" }, { 32, "1" } } },
  [25] = { name = "STOP_TRANSFER_REPLY", title = "Stop Transfer Reply", protocol = "SID", kind = "reply",
    flags = {},
    ext = { { 128, "*" }, { 32, "1" } } },
}
R.extensionTypes = {
  [32] = { name = "AUTH", title = "Authentication" },
  [33] = { name = "MIGRATION", title = "Migration" },
  [34] = { name = "PATH_CHALLENGE", title = "Path Challenge" },
  [35] = { name = "PATH_RESPONSE", title = "Path Response" },
  [36] = { name = "LIFETIME", title = "Lifetime" },
  [37] = { name = "TRANSFERRED_ADDRESS", title = "Transferred Address" },
  [38] = { name = "TARGET_ADDRESS", title = "Target Address" },
  [39] = { name = "AGENT_ADDRESS", title = "Agent Address" },
  [40] = { name = "INTERIM_ADDRESS", title = "Interim Address" },
  [41] = { name = "LINK_LAYER_ADDRESS", title = "Link-layer Address" },
  [42] = { name = "SESSION_KEY", title = "Session Key" },
  [43] = { name = "FLOW", title = "Flow" },
  [44] = { name = "SEALED", title = "Sealed" },
  [45] = { name = "ADDRESS_LEASE", title = "Address Lease" },
  [128] = { name = "OPAQUE_DATA", title = "Opaque Data" },
}
R.flags = {
  { value = 1, name = "FURTHER_TRANSFER", letter = "F" },
  { value = 2, name = "SAME_SUBNET", letter = "S" },
  { value = 2, name = "REVERSE_TUNNEL", letter = "R" },
  { value = 8, name = "REVERSE_RETURN", letter = "R" },
  { value = 4, name = "PER_FLOW", letter = "P" },
}
R.replyCodes = {
  [1] = { name = "ACCEPTED" },
  [128] = { name = "REASON_UNSPECIFIED" },
  [129] = { name = "ADMINISTRATIVELY_PROHIBITED" },
  [130] = { name = "INSUFFICIENT_RESOURCES" },
  [131] = { name = "FAILED_AUTHENTICATION" },
  [133] = { name = "IDENTIFICATION_MISMATCH" },
  [134] = { name = "POORLY_FORMED_REQUEST" },
  [135] = { name = "UNKNOWN_SESSION" },
  [136] = { name = "ADDRESS_NOT_ALLOWED" },
  [137] = { name = "TOO_MANY_PENDING" },
  [140] = { name = "TRANSFER_NOT_PERMITTED" },
  [141] = { name = "UNKNOWN_BINDING" },
  [142] = { name = "SESSION_KEY_REJECTED" },
  [143] = { name = "ADDRESS_IN_USE" },
}
R.authAlgorithms = {
  [1] = { name = "HMAC_MD5", title = "HMAC-MD5", tagLength = 16 },
  [2] = { name = "HMAC_SHA1", title = "HMAC-SHA1", tagLength = 20 },
  [3] = { name = "HMAC_SHA256", title = "HMAC-SHA256", tagLength = 32 },
}
R.keyWrapAlgorithms = {
  [1] = { name = "CHACHA20_POLY1305" },
  [2] = { name = "X25519_CHACHA20_POLY1305" },
}
R.protoFlags = {
  [1] = { name = "TCP" },
  [2] = { name = "UDP" },
}
R.addressFamilies = {
  [1] = { name = "IPV4", length = 4 },
  [2] = { name = "IPV6", length = 16 },
}
R.opaqueSubtypes = {
  [1] = { name = "LOCATION" },
  [2] = { name = "SIGNAL_QUALITY" },
  [3] = { name = "CONNECTION_QUALITY" },
  [4] = { name = "FIXED_ENDPOINT" },
  [255] = { name = "APPLICATION" },
}
R.errors = {
  [1] = { name = "TRUNCATED", message = "the message ends inside its header or inside an extension", hint = "the datagram was cut short; check the sender's MTU and that it sends whole messages" },
  [2] = { name = "BAD_LENGTH", message = "an extension's Length is not valid for its type", hint = "the sender encodes this extension with the wrong size; see the extension's layout in docs/PROTOCOL.md" },
  [3] = { name = "BAD_VERSION", message = "the protocol version is not 1", hint = "upgrade the peer, or configure it to speak version 1" },
  [4] = { name = "UNKNOWN_TYPE", message = "the message type is not defined", hint = "the peer speaks a newer or different protocol" },
  [5] = { name = "UNKNOWN_MANDATORY_EXTENSION", message = "an extension with a type below 128 is not understood", hint = "types 0-127 must be understood; the peer needs a version of this protocol we do not have" },
  [6] = { name = "DUPLICATE_EXTENSION", message = "an extension that may appear once appears twice", hint = "fix the sender's encoder" },
  [7] = { name = "MISSING_EXTENSION", message = "a required extension is missing", hint = "see the message's table of extensions in docs/PROTOCOL.md" },
  [8] = { name = "UNEXPECTED_EXTENSION", message = "a known extension is not allowed in this message type", hint = "see the message's table of extensions in docs/PROTOCOL.md" },
  [9] = { name = "AUTH_NOT_LAST", message = "an extension follows the authentication extension", hint = "the authentication extension must be the last one" },
  [10] = { name = "MISSING_AUTH", message = "the message carries no authentication extension", hint = "every message is authenticated; configure a security association on the sender" },
  [11] = { name = "UNKNOWN_SPI", message = "no security association matches the sender's cookie and SPI", hint = "configure the same SPI and key on both ends (handover keys)" },
  [12] = { name = "BAD_AUTHENTICATOR", message = "the authenticator does not verify", hint = "the keys differ on the two ends, or the message was altered in transit" },
  [13] = { name = "AUTH_LENGTH_MISMATCH", message = "the authenticator's length does not fit the security association's algorithm", hint = "both ends must use the same algorithm for this SPI" },
  [14] = { name = "REPLAYED", message = "this sequence number was already accepted", hint = "a duplicate or a replay; retransmissions are answered from the reply cache instead" },
  [15] = { name = "SEQUENCE_TOO_OLD", message = "the sequence number is behind the replay window", hint = "a very late or replayed message; a restarted sender must register again" },
  [16] = { name = "STALE_TIMESTAMP", message = "the timestamp is outside the allowed clock skew", hint = "synchronise the clocks (NTP) or raise the skew; the reply carries the receiver's time" },
  [17] = { name = "NONCE_MISMATCH", message = "the nonce is not the one the receiver issued", hint = "use the nonce from the receiver's last reply" },
  [18] = { name = "BAD_FAMILY", message = "the address family is neither 1 (IPv4) nor 2 (IPv6)", hint = "fix the sender's encoder" },
  [19] = { name = "BAD_ADDRESS", message = "an address is not usable here (unspecified, multicast, loopback or broadcast)", hint = "migrate to a unicast address the peer can reach" },
  [20] = { name = "RESERVED_NONZERO", message = "a reserved field is not zero", hint = "reserved fields must be sent as zero in version 1" },
  [21] = { name = "MESSAGE_TOO_LONG", message = "the message is longer than 1232 bytes", hint = "send fewer extensions per message" },
  [22] = { name = "BAD_CODE", message = "a reply carries Code 0", hint = "replies carry 1 (accepted) or a refusal code of 128 or more" },
  [23] = { name = "BAD_FLAGS", message = "a flag bit not defined for this message type is set", hint = "see the message's flags in docs/PROTOCOL.md" },
  [24] = { name = "BAD_PORT", message = "a wildcard old port (0) is paired with a non-zero new port, or the reverse", hint = "use 0 for both ports to migrate every port, or name both" },
  [25] = { name = "BAD_PROTO_FLAGS", message = "protocol flags other than TCP (1) and UDP (2) are set", hint = "use 0 for all protocols" },
  [26] = { name = "KEY_UNWRAP_FAILED", message = "the session key does not unwrap", hint = "the wrapping key or X25519 key pair differs on the two ends" },
  [27] = { name = "BUFFER_TOO_SMALL", message = "the output does not fit", hint = "a message may not exceed 1232 bytes" },
  [28] = { name = "INVALID_ARGUMENT", message = "an argument to the core is out of range", hint = "a host bug: check pointers, lengths and enum values passed to the core" },
  [29] = { name = "BAD_SPI", message = "SPIs 0-255 are reserved", hint = "choose an SPI of 256 or more" },
  [30] = { name = "LOW_ORDER_POINT", message = "the X25519 public key is a low-order point", hint = "the peer's public key is invalid or malicious" },
  [31] = { name = "BAD_VALUE", message = "a field holds a value not defined for it", hint = "see the field's table in docs/PROTOCOL.md" },
  [32] = { name = "NOT_A_REPLY", message = "no outstanding request matches this reply", hint = "a late duplicate, or a forged reply; ignored" },
  [33] = { name = "UNKNOWN_PEER", message = "no peer is configured for this address or cookie", hint = "add the peer to the configuration" },
  [34] = { name = "BUSY", message = "a migration for these sessions is already under way", hint = "wait for it to finish or fail" },
  [35] = { name = "TIMED_OUT", message = "the peer did not answer in time", hint = "check that the peer's daemon runs and that its control port is reachable" },
  [36] = { name = "REFUSED", message = "the peer refused the request", hint = "the reply code says why" },
  [37] = { name = "KERNEL", message = "the kernel refused a rule, address or route", hint = "run as root (CAP_NET_ADMIN) and check that nftables is installed" },
  [38] = { name = "CONFIG", message = "the configuration is invalid", hint = "see the message for the field" },
  [39] = { name = "NOT_SEEDED", message = "the random generator has not been seeded", hint = "call drbg_seed with at least 16 bytes from the host's entropy source (32 recommended) first" },
  [40] = { name = "RECORD_TRUNCATED", message = "the TCP state record ends before its header or its queues end", hint = "the record was cut short in transit or by the encoder; send the whole record (docs/PROTOCOL.md 8.12)" },
  [41] = { name = "RECORD_VERSION", message = "the TCP state record's version is not 1", hint = "the sender writes a record version this implementation does not know; upgrade one side" },
  [42] = { name = "RECORD_TOO_LONG", message = "a queue or the application state in the TCP state record exceeds its limit", hint = "queues are at most 64 MiB and the application state at most 1 MiB (docs/PROTOCOL.md 8.12)" },
  [43] = { name = "RECORD_TRAILING_BYTES", message = "bytes follow the end of the TCP state record", hint = "the record's lengths and its size disagree; fix the encoder" },
  [44] = { name = "TUNNEL_MISMATCH", message = "a tunnelled packet is not for this binding (another VNI, destination MAC or inner address)", hint = "a stray or forged packet on the tunnel port; it is dropped (docs/PROTOCOL.md 8.9)" },
  [45] = { name = "UNSERVED_TYPE", message = "no protocol module on this node serves this message type", hint = "the sender speaks a protocol (see the Protocol column of the message types) that this node does not run; run that protocol's module here or stop sending it" },
  [46] = { name = "NO_SESSION_ADDRESS", message = "no session address could be had from the generator (its pool is used up, or it has no prefix)", hint = "widen the static pool (sid.addressPool), configure the IPv6 prefix (sid.addressPrefix6), or release session addresses that ended (docs/PROTOCOL.md 8.18)" },
}
-- registry:end

local band, bor, bxor, bnot = bit32.band, bit32.bor, bit32.bxor, bit32.bnot
local lrotate, rrotate, rshift = bit32.lrotate, bit32.rrotate, bit32.rshift

local proto = Proto("handover", "handover control protocol")

-- ---- Registry lookups -------------------------------------------------------

local function valueNames(list, field)
  local names = {}
  for value, x in pairs(list) do names[value] = x[field or "name"] end
  return names
end

local extensionByName = {}
for value, e in pairs(R.extensionTypes) do extensionByName[e.name] = value end
local errorByName = {}
for value, e in pairs(R.errors) do errorByName[e.name] = value end
local authByName = {}
for value, a in pairs(R.authAlgorithms) do authByName[a.name] = { value = value, name = a.name, tagLength = a.tagLength } end

local MESSAGE_TITLES = valueNames(R.messageTypes, "title")
local EXTENSION_TITLES = valueNames(R.extensionTypes, "title")
local IP_PROTOCOLS = { [6] = "TCP", [17] = "UDP" } -- IANA protocol numbers (section 4.8)

-- ---- Fields (labels as PROTOCOL.md names them) ------------------------------

local F = {}
local function field(key, f) F[key] = f end

-- 3.2 Common header
field("version", ProtoField.uint8("handover.version", "Version", base.DEC))
field("type", ProtoField.uint8("handover.type", "Type", base.DEC, MESSAGE_TITLES))
field("sequence", ProtoField.uint16("handover.sequence", "Sequence #", base.DEC))
field("cookie", ProtoField.bytes("handover.cookie", "Identifier cookie"))
field("flags", ProtoField.uint8("handover.flags", "Flags/Code", base.HEX))
field("code", ProtoField.uint8("handover.code", "Flags/Code", base.DEC, valueNames(R.replyCodes)))
field("reserved", ProtoField.uint8("handover.reserved", "Reserved", base.DEC))
field("replay_id", ProtoField.bytes("handover.replay_id", "Replay Protect ID"))
field("replay_timestamp", ProtoField.absolute_time("handover.replay_id.timestamp", "As a timestamp (timestamp mode)", base.UTC))
field("replay_offset", ProtoField.relative_time("handover.replay_id.clock_offset", "Timestamp minus the capture's time"))
-- 12.3 Flags: one boolean per registry flag (the same bit means different things per type).
local FLAG_FIELDS = {}
for _, f in ipairs(R.flags) do
  FLAG_FIELDS[f.name] = ProtoField.bool("handover.flags." .. f.name:lower(), f.name .. " (" .. f.letter .. ")", 8, nil, f.value)
  field("flag_" .. f.name, FLAG_FIELDS[f.name])
end

-- Requests, replies and repeated messages across the capture (generated items)
field("duplicate_of", ProtoField.framenum("handover.duplicate_of", "Same message as frame", base.NONE, frametype.NONE))
field("reply_in", ProtoField.framenum("handover.reply_in", "Reply in frame", base.NONE, frametype.RESPONSE))
field("request_in", ProtoField.framenum("handover.request_in", "Request in frame", base.NONE, frametype.REQUEST))
field("reply_time", ProtoField.relative_time("handover.reply_time", "Time since request"))

-- 4.0 Generic extension format
field("extension", ProtoField.none("handover.extension", "Extension"))
field("ext_type", ProtoField.uint8("handover.ext.type", "Type", base.DEC, EXTENSION_TITLES))
field("ext_length", ProtoField.uint8("handover.ext.length", "Length", base.DEC))
field("ext_data", ProtoField.bytes("handover.ext.data", "Data"))
field("undecoded", ProtoField.bytes("handover.undecoded", "Not decoded"))

-- 4.1 Authentication
field("auth_spi", ProtoField.uint32("handover.auth.spi", "SPI", base.DEC))
field("auth_authenticator", ProtoField.bytes("handover.auth.authenticator", "Authenticator"))
field("auth_verified", ProtoField.bool("handover.auth.verified", "Authenticator verified", base.NONE))
field("auth_algorithm", ProtoField.uint8("handover.auth.algorithm", "Algorithm (from handover.keys)", base.DEC, valueNames(R.authAlgorithms, "title")))

-- 4.2 Migration
field("m_proto_flags", ProtoField.uint8("handover.migration.proto_flags", "Proto Flags", base.HEX))
local PROTO_FLAG_FIELDS = {} -- in bit order
for value = 1, 128 do
  local p = R.protoFlags[value]
  if p then
    PROTO_FLAG_FIELDS[#PROTO_FLAG_FIELDS + 1] = ProtoField.bool("handover.migration.proto_flags." .. p.name:lower(), p.name, 8, nil, value)
    field("m_proto_" .. p.name, PROTO_FLAG_FIELDS[#PROTO_FLAG_FIELDS])
  end
end
field("m_family", ProtoField.uint8("handover.migration.family", "Family", base.DEC, valueNames(R.addressFamilies)))
field("m_old_port", ProtoField.uint16("handover.migration.old_port", "Old Port", base.DEC))
field("m_new_port", ProtoField.uint16("handover.migration.new_port", "New Port", base.DEC))
field("m_old_address", ProtoField.ipv4("handover.migration.old_address", "Old IP address"))
field("m_old_address_v6", ProtoField.ipv6("handover.migration.old_address_v6", "Old IP address"))
field("m_new_address", ProtoField.ipv4("handover.migration.new_address", "New IP address"))
field("m_new_address_v6", ProtoField.ipv6("handover.migration.new_address_v6", "New IP address"))

-- 4.3 Path Challenge and Path Response
field("challenge_token", ProtoField.bytes("handover.path_challenge.token", "Token"))
field("response_token", ProtoField.bytes("handover.path_response.token", "Token"))

-- 4.4 Lifetime
field("lifetime", ProtoField.uint16("handover.lifetime.seconds", "Lifetime (seconds)", base.DEC))

-- 4.5 Address extensions (types 37-40): one set of fields per type, so that a
-- filter names the role (handover.target_address.address == 198.18.9.20).
local ADDRESS_FIELDS = {}
for _, name in ipairs({ "TRANSFERRED_ADDRESS", "TARGET_ADDRESS", "AGENT_ADDRESS", "INTERIM_ADDRESS" }) do
  local prefix = "handover." .. name:lower()
  local set = {
    family = ProtoField.uint8(prefix .. ".family", "Family", base.DEC, valueNames(R.addressFamilies)),
    v4 = ProtoField.ipv4(prefix .. ".address", "Address"),
    v6 = ProtoField.ipv6(prefix .. ".address_v6", "Address"),
  }
  ADDRESS_FIELDS[extensionByName[name]] = set
  field(name .. "_family", set.family)
  field(name .. "_v4", set.v4)
  field(name .. "_v6", set.v6)
end

-- 4.6 Link-layer Address
field("ll_hardware_type", ProtoField.uint16("handover.link_layer_address.hardware_type", "Hardware Type", base.DEC, { [1] = "Ethernet" }))
field("ll_address", ProtoField.bytes("handover.link_layer_address.address", "Link-layer address"))

-- 4.7 Session Key
field("sk_wrap", ProtoField.uint8("handover.session_key.wrap", "Wrap Alg", base.DEC, valueNames(R.keyWrapAlgorithms)))
field("sk_reserved", ProtoField.uint8("handover.session_key.reserved", "Reserved", base.DEC))
field("sk_wrap_spi", ProtoField.uint32("handover.session_key.wrap_spi", "Wrap SPI", base.DEC))
field("sk_session_spi", ProtoField.uint32("handover.session_key.session_spi", "Session SPI", base.DEC))
field("sk_ephemeral", ProtoField.bytes("handover.session_key.ephemeral_public_key", "Ephemeral X25519 public key"))
field("sk_nonce", ProtoField.bytes("handover.session_key.nonce", "Nonce"))
field("sk_sealed", ProtoField.bytes("handover.session_key.sealed_key", "Sealed key"))
field("sk_tag", ProtoField.bytes("handover.session_key.tag", "Tag"))

-- 4.8 Flow
field("flow_protocol", ProtoField.uint8("handover.flow.protocol", "Protocol", base.DEC, IP_PROTOCOLS))
field("flow_family", ProtoField.uint8("handover.flow.family", "Family", base.DEC, valueNames(R.addressFamilies)))
field("flow_local_port", ProtoField.uint16("handover.flow.local_port", "Local Port", base.DEC))
field("flow_remote_port", ProtoField.uint16("handover.flow.remote_port", "Remote Port", base.DEC))
field("flow_local_address", ProtoField.ipv4("handover.flow.local_address", "Local IP address"))
field("flow_local_address_v6", ProtoField.ipv6("handover.flow.local_address_v6", "Local IP address"))
field("flow_remote_address", ProtoField.ipv4("handover.flow.remote_address", "Remote IP address"))
field("flow_remote_address_v6", ProtoField.ipv6("handover.flow.remote_address_v6", "Remote IP address"))

-- 4.10 Address Lease
field("al_generator", ProtoField.uint8("handover.address_lease.generator", "Generator", base.DEC, { [1] = "Static pool", [2] = "IPv6 generated", [3] = "DHCPv4" }))
field("al_reserved", ProtoField.uint8("handover.address_lease.reserved", "Reserved", base.DEC))
field("al_remaining", ProtoField.uint32("handover.address_lease.remaining", "Remaining lifetime (s)", base.DEC, { [4294967295] = "no end" }))
field("al_state", ProtoField.bytes("handover.address_lease.state", "Generator state"))

-- 4.9 Opaque Data
field("od_subtype", ProtoField.uint8("handover.opaque_data.subtype", "Sub-Type", base.DEC, valueNames(R.opaqueSubtypes)))
field("od_flags", ProtoField.uint8("handover.opaque_data.flags", "Flags/Codes", base.HEX))
field("od_data", ProtoField.bytes("handover.opaque_data.data", "Opaque Data"))

local fieldList = {}
for _, f in pairs(F) do fieldList[#fieldList + 1] = f end
proto.fields = fieldList

-- ---- Expert information ---------------------------------------------------------

-- The errors a message on the wire can show (sections 5.1 and 6.2), and CONFIG
-- for a bad handover.keys preference. Decoding failures are malformed messages;
-- verification failures are forgeries (or the wrong key).
local WIRE_ERRORS = {
  "TRUNCATED", "MESSAGE_TOO_LONG", "BAD_VERSION", "UNKNOWN_TYPE", "BAD_CODE", "BAD_FLAGS", "RESERVED_NONZERO",
  "AUTH_NOT_LAST", "UNKNOWN_MANDATORY_EXTENSION", "UNEXPECTED_EXTENSION", "DUPLICATE_EXTENSION",
  "BAD_LENGTH", "BAD_PROTO_FLAGS", "BAD_FAMILY", "BAD_PORT", "BAD_SPI", "BAD_VALUE",
  "MISSING_AUTH", "MISSING_EXTENSION", "AUTH_LENGTH_MISMATCH", "BAD_AUTHENTICATOR", "CONFIG",
}
local VERIFICATION_ERRORS = { AUTH_LENGTH_MISMATCH = true, BAD_AUTHENTICATOR = true }
local EXPERT = {}
local expertList = {}
for _, name in ipairs(WIRE_ERRORS) do
  local e = R.errors[errorByName[name]]
  if not e then error("handover.lua: the registry has no error " .. name .. "; run npm run gen") end
  local group = (VERIFICATION_ERRORS[name] or name == "CONFIG") and expert.group.SECURITY or expert.group.MALFORMED
  EXPERT[name] = ProtoExpert.new("handover.error." .. name:lower(), name .. ": " .. e.message, group, expert.severity.ERROR)
  expertList[#expertList + 1] = EXPERT[name]
end
local NO_KEY = ProtoExpert.new("handover.no_key", "Authenticator not verified: no key for this SPI in the handover.keys preference", expert.group.SECURITY, expert.severity.NOTE)
expertList[#expertList + 1] = NO_KEY
local CUT_SHORT = ProtoExpert.new("handover.capture_cut_short", "The capture holds only part of this datagram: capture with a larger snapshot length (tcpdump -s 0)", expert.group.UNDECODED, expert.severity.WARN)
expertList[#expertList + 1] = CUT_SHORT
local ZERO_CHECKSUM = ProtoExpert.new("handover.udp_checksum_zero", "The UDP checksum is 0, which PROTOCOL.md 3.1 forbids: the sender must compute it", expert.group.PROTOCOL, expert.severity.WARN)
expertList[#expertList + 1] = ZERO_CHECKSUM
proto.experts = expertList

local udpChecksum = Field.new("udp.checksum")

-- ---- Preferences --------------------------------------------------------------

proto.prefs.port = Pref.uint("UDP port", R.defaultPort, "The control protocol's UDP port (PROTOCOL.md 3.1; default " .. R.defaultPort .. ")")
proto.prefs.keys = Pref.string("Keys", "",
  "Security associations to verify authenticators with, separated by ';' or spaces: SPI:ALGORITHM:HEXKEY, "
  .. "e.g. 256:HMAC_SHA256:00112233... ; SPI * matches any SPI. ALGORITHM is HMAC_SHA256, HMAC_SHA1 or HMAC_MD5.")

-- ---- Hashes for HMAC (RFC 2104) over Lua strings --------------------------------

local M32 = 4294967296

local function be32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end
local function le32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((d * 256 + c) * 256 + b) * 256 + a
end
local function beBytes(x)
  return string.char(rshift(x, 24), band(rshift(x, 16), 255), band(rshift(x, 8), 255), band(x, 255))
end
local function leBytes(x)
  return string.char(band(x, 255), band(rshift(x, 8), 255), band(rshift(x, 16), 255), rshift(x, 24))
end
-- Merkle-Damgard padding to a multiple of 64 bytes with the bit length in 8 bytes.
local function pad(msg, littleEndian)
  local bits = #msg * 8
  local high, low = math.floor(bits / M32), bits % M32
  local length = littleEndian and (leBytes(low) .. leBytes(high)) or (beBytes(high) .. beBytes(low))
  return msg .. "\128" .. string.rep("\0", (55 - #msg) % 64) .. length
end

local K256 = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local function sha256(msg)
  local H = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  msg = pad(msg, false)
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do w[i] = be32(msg, chunk + 4 * i) end
    for i = 16, 63 do
      local s0 = bxor(rrotate(w[i - 15], 7), rrotate(w[i - 15], 18), rshift(w[i - 15], 3))
      local s1 = bxor(rrotate(w[i - 2], 17), rrotate(w[i - 2], 19), rshift(w[i - 2], 10))
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) % M32
    end
    local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
    for i = 0, 63 do
      local S1 = bxor(rrotate(e, 6), rrotate(e, 11), rrotate(e, 25))
      local ch = bxor(band(e, f), band(bnot(e), g))
      local t1 = (h + S1 + ch + K256[i + 1] + w[i]) % M32
      local S0 = bxor(rrotate(a, 2), rrotate(a, 13), rrotate(a, 22))
      local maj = bxor(band(a, b), band(a, c), band(b, c))
      h, g, f, e, d, c, b, a = g, f, e, (d + t1) % M32, c, b, a, (t1 + S0 + maj) % M32
    end
    H[1], H[2], H[3], H[4] = (H[1] + a) % M32, (H[2] + b) % M32, (H[3] + c) % M32, (H[4] + d) % M32
    H[5], H[6], H[7], H[8] = (H[5] + e) % M32, (H[6] + f) % M32, (H[7] + g) % M32, (H[8] + h) % M32
  end
  local out = {}
  for i = 1, 8 do out[i] = beBytes(H[i]) end
  return table.concat(out)
end

local function sha1(msg)
  local H = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 }
  msg = pad(msg, false)
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do w[i] = be32(msg, chunk + 4 * i) end
    for i = 16, 79 do w[i] = lrotate(bxor(w[i - 3], w[i - 8], w[i - 14], w[i - 16]), 1) end
    local a, b, c, d, e = H[1], H[2], H[3], H[4], H[5]
    for i = 0, 79 do
      local f, k
      if i < 20 then f, k = bor(band(b, c), band(bnot(b), d)), 0x5a827999
      elseif i < 40 then f, k = bxor(b, c, d), 0x6ed9eba1
      elseif i < 60 then f, k = bor(band(b, c), band(b, d), band(c, d)), 0x8f1bbcdc
      else f, k = bxor(b, c, d), 0xca62c1d6 end
      local t = (lrotate(a, 5) + f + e + k + w[i]) % M32
      e, d, c, b, a = d, c, lrotate(b, 30), a, t
    end
    H[1], H[2], H[3] = (H[1] + a) % M32, (H[2] + b) % M32, (H[3] + c) % M32
    H[4], H[5] = (H[4] + d) % M32, (H[5] + e) % M32
  end
  local out = {}
  for i = 1, 5 do out[i] = beBytes(H[i]) end
  return table.concat(out)
end

-- MD5 (RFC 1321): round constants floor(|sin(i)| * 2^32), per-round shift amounts.
local MD5_K, MD5_S = {}, {
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
}
for i = 1, 64 do MD5_K[i] = math.floor(math.abs(math.sin(i)) * M32) end

local function md5(msg)
  local H = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 }
  msg = pad(msg, true)
  local x = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do x[i] = le32(msg, chunk + 4 * i) end
    local a, b, c, d = H[1], H[2], H[3], H[4]
    for i = 0, 63 do
      local f, g
      if i < 16 then f, g = bor(band(b, c), band(bnot(b), d)), i
      elseif i < 32 then f, g = bor(band(d, b), band(bnot(d), c)), (5 * i + 1) % 16
      elseif i < 48 then f, g = bxor(b, c, d), (3 * i + 5) % 16
      else f, g = bxor(c, bor(b, bnot(d))), (7 * i) % 16 end
      local t = (a + f + MD5_K[i + 1] + x[g]) % M32
      a, d, c, b = d, c, b, (b + lrotate(t, MD5_S[i + 1])) % M32
    end
    H[1], H[2], H[3], H[4] = (H[1] + a) % M32, (H[2] + b) % M32, (H[3] + c) % M32, (H[4] + d) % M32
  end
  local out = {}
  for i = 1, 4 do out[i] = leBytes(H[i]) end
  return table.concat(out)
end

local HASHES = { HMAC_SHA256 = sha256, HMAC_SHA1 = sha1, HMAC_MD5 = md5 }

local function hmac(hash, key, msg)
  if #key > 64 then key = hash(key) end
  key = key .. string.rep("\0", 64 - #key)
  local inner, outer = {}, {}
  for i = 1, 64 do
    local k = key:byte(i)
    inner[i] = string.char(bxor(k, 0x36))
    outer[i] = string.char(bxor(k, 0x5c))
  end
  return hash(table.concat(outer) .. hash(table.concat(inner) .. msg))
end

-- ---- The handover.keys preference -----------------------------------------------

local keyTable, keyTableSource, keyTableError = {}, nil, nil

local function unhex(text)
  if #text % 2 ~= 0 or text:find("[^%x]") then return nil end
  return (text:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

-- Parses the preference once per change; a bad entry is reported on every message.
local function keys()
  local source = proto.prefs.keys or ""
  if source == keyTableSource then return keyTable, keyTableError end
  keyTable, keyTableSource, keyTableError = {}, source, nil
  for entry in source:gmatch("[^;%s]+") do
    local spi, algorithm, key = entry:match("^([%d*]+):([%w_]+):(%x+)$")
    local bytes = key and unhex(key)
    local a = algorithm and authByName[algorithm:upper()]
    if not (spi and a and bytes and (spi == "*" or tonumber(spi))) then
      keyTableError = "handover.keys: the entry '" .. entry .. "' is not SPI:ALGORITHM:HEXKEY "
        .. "(ALGORITHM one of HMAC_SHA256, HMAC_SHA1, HMAC_MD5; an even number of hex digits)"
    else
      keyTable[spi == "*" and "*" or tonumber(spi)] = { algorithm = a, key = bytes }
    end
  end
  return keyTable, keyTableError
end

-- ---- Addresses ----------------------------------------------------------------------

local function addAddress(tree, v4field, v6field, tvb, offset, length)
  if length == 4 then return tree:add(v4field, tvb(offset, 4)) end
  return tree:add(v6field, tvb(offset, 16))
end
local function familyLength(family)
  local f = R.addressFamilies[family]
  return f and f.length or nil
end

-- ---- Extension decoders ---------------------------------------------------------
-- Each gets the extension's subtree, the buffer, the offset of its data and the
-- data's length, adds the fields and returns the name of the first error in the
-- order of the extension's section, or nil and optionally a one-line summary.

local decoders = {}

decoders.AUTH = function(t, tvb, o, n)
  if n ~= 20 and n ~= 24 and n ~= 36 then return "BAD_LENGTH" end
  t:add(F.auth_spi, tvb(o, 4))
  t:add(F.auth_authenticator, tvb(o + 4, n - 4))
  if tvb(o, 4):uint() < R.firstAssignableSpi then return "BAD_SPI" end
end

decoders.MIGRATION = function(t, tvb, o, n)
  if n ~= 14 and n ~= 38 then return "BAD_LENGTH" end
  local pf = tvb(o, 1):uint()
  local pfItem = t:add(F.m_proto_flags, tvb(o, 1))
  for _, f in ipairs(PROTO_FLAG_FIELDS) do pfItem:add(f, tvb(o, 1)) end
  if pf == 0 then pfItem:append_text(" (wildcard: all protocols)") end
  if band(pf, bnot(3)) ~= 0 then return "BAD_PROTO_FLAGS" end
  t:add(F.m_family, tvb(o + 1, 1))
  local alen = familyLength(tvb(o + 1, 1):uint())
  if not alen then return "BAD_FAMILY" end
  if n ~= 6 + 2 * alen then return "BAD_LENGTH" end
  local oldPort, newPort = tvb(o + 2, 2):uint(), tvb(o + 4, 2):uint()
  local item = t:add(F.m_old_port, tvb(o + 2, 2))
  if oldPort == 0 then item:append_text(" (wildcard: every port)") end
  t:add(F.m_new_port, tvb(o + 4, 2))
  addAddress(t, F.m_old_address, F.m_old_address_v6, tvb, o + 6, alen)
  addAddress(t, F.m_new_address, F.m_new_address_v6, tvb, o + 6 + alen, alen)
  if (oldPort == 0) ~= (newPort == 0) then return "BAD_PORT" end
  local protocols = {}
  for value = 1, 128 do
    if R.protoFlags[value] and band(pf, value) ~= 0 then protocols[#protocols + 1] = R.protoFlags[value].name end
  end
  local function endpoint(at, port)
    local address = tostring(alen == 4 and tvb(at, 4):ipv4() or tvb(at, 16):ipv6())
    if port == 0 then return address end
    return (alen == 4 and address or ("[" .. address .. "]")) .. ":" .. port
  end
  return nil, (#protocols > 0 and table.concat(protocols, "+") or "any protocol") .. " "
    .. endpoint(o + 6, oldPort) .. " -> " .. endpoint(o + 6 + alen, newPort) .. (oldPort == 0 and " (every port)" or "")
end

decoders.PATH_CHALLENGE = function(t, tvb, o, n)
  if n ~= 8 then return "BAD_LENGTH" end
  t:add(F.challenge_token, tvb(o, 8))
end
decoders.PATH_RESPONSE = function(t, tvb, o, n)
  if n ~= 8 then return "BAD_LENGTH" end
  t:add(F.response_token, tvb(o, 8))
end

decoders.LIFETIME = function(t, tvb, o, n)
  if n ~= 2 then return "BAD_LENGTH" end
  t:add(F.lifetime, tvb(o, 2))
end

local function addressExtension(t, tvb, o, n, fields)
  if n ~= 5 and n ~= 17 then return "BAD_LENGTH" end
  t:add(fields.family, tvb(o, 1))
  local alen = familyLength(tvb(o, 1):uint())
  if not alen then return "BAD_FAMILY" end
  if n ~= 1 + alen then return "BAD_LENGTH" end
  addAddress(t, fields.v4, fields.v6, tvb, o + 1, alen)
end
for type, fields in pairs(ADDRESS_FIELDS) do
  decoders[R.extensionTypes[type].name] = function(t, tvb, o, n) return addressExtension(t, tvb, o, n, fields) end
end

decoders.LINK_LAYER_ADDRESS = function(t, tvb, o, n)
  if n < 3 then return "BAD_LENGTH" end
  t:add(F.ll_hardware_type, tvb(o, 2))
  t:add(F.ll_address, tvb(o + 2, n - 2))
  if tvb(o, 2):uint() == 1 and n ~= 8 then return "BAD_LENGTH" end
end

decoders.SESSION_KEY = function(t, tvb, o, n)
  if n ~= 70 and n ~= 102 then return "BAD_LENGTH" end
  local alg = tvb(o, 1):uint()
  t:add(F.sk_wrap, tvb(o, 1))
  local wrap = R.keyWrapAlgorithms[alg]
  if not wrap then return "BAD_VALUE" end
  local withEphemeral = wrap.name == "X25519_CHACHA20_POLY1305"
  if n ~= (withEphemeral and 102 or 70) then return "BAD_LENGTH" end
  t:add(F.sk_reserved, tvb(o + 1, 1))
  t:add(F.sk_wrap_spi, tvb(o + 2, 4))
  t:add(F.sk_session_spi, tvb(o + 6, 4))
  local at = o + 10
  if withEphemeral then
    t:add(F.sk_ephemeral, tvb(at, 32))
    at = at + 32
  end
  t:add(F.sk_nonce, tvb(at, 12))
  t:add(F.sk_sealed, tvb(at + 12, 32))
  t:add(F.sk_tag, tvb(at + 44, 16))
  if tvb(o + 1, 1):uint() ~= 0 then return "RESERVED_NONZERO" end
  if tvb(o + 2, 4):uint() < R.firstAssignableSpi then return "BAD_SPI" end
  if tvb(o + 6, 4):uint() < R.firstAssignableSpi then return "BAD_SPI" end
end

decoders.FLOW = function(t, tvb, o, n)
  if n ~= 14 and n ~= 38 then return "BAD_LENGTH" end
  t:add(F.flow_protocol, tvb(o, 1))
  if not IP_PROTOCOLS[tvb(o, 1):uint()] then return "BAD_VALUE" end
  t:add(F.flow_family, tvb(o + 1, 1))
  local alen = familyLength(tvb(o + 1, 1):uint())
  if not alen then return "BAD_FAMILY" end
  if n ~= 6 + 2 * alen then return "BAD_LENGTH" end
  t:add(F.flow_local_port, tvb(o + 2, 2))
  t:add(F.flow_remote_port, tvb(o + 4, 2))
  addAddress(t, F.flow_local_address, F.flow_local_address_v6, tvb, o + 6, alen)
  addAddress(t, F.flow_remote_address, F.flow_remote_address_v6, tvb, o + 6 + alen, alen)
  if tvb(o + 2, 2):uint() == 0 or tvb(o + 4, 2):uint() == 0 then return "BAD_PORT" end
end

decoders.ADDRESS_LEASE = function(t, tvb, o, n)
  if n < 6 or n > 206 then return "BAD_LENGTH" end
  t:add(F.al_generator, tvb(o, 1))
  local g = tvb(o, 1):uint()
  if g < 1 or g > 3 then return "BAD_VALUE" end
  t:add(F.al_reserved, tvb(o + 1, 1))
  if tvb(o + 1, 1):uint() ~= 0 then return "RESERVED_NONZERO" end
  t:add(F.al_remaining, tvb(o + 2, 4))
  if n > 6 then t:add(F.al_state, tvb(o + 6, n - 6)) end
end

decoders.OPAQUE_DATA = function(t, tvb, o, n)
  if n < 2 then return "BAD_LENGTH" end
  t:add(F.od_subtype, tvb(o, 1))
  t:add(F.od_flags, tvb(o + 1, 1))
  local data = t:add(F.od_data, tvb(o + 2, n - 2))
  if n == 2 then data:set_text("Opaque Data: none (empty)") end
end

-- ---- The message (section 5.1's order) ------------------------------------------

local NTP_TO_UNIX = 2208988800 -- seconds from 1900-01-01 to 1970-01-01
local ERA = 4294967296 -- an NTP era: 2^32 seconds

local function relativeTime(seconds)
  local magnitude = math.abs(seconds)
  local whole = math.floor(magnitude)
  local nanos = math.floor((magnitude - whole) * 1e9 + 0.5)
  if seconds < 0 then return NSTime.new(-whole, -nanos) end
  return NSTime.new(whole, nanos)
end

-- In timestamp mode the Replay Protect ID is the sender's NTP time (section 6.4):
-- shown as a time, in the era closest to the capture's, with the sender's clock
-- offset from the capturing machine's (what decides STALE_TIMESTAMP). A value more
-- than a day away from the capture time is taken for a nonce and not shown.
local function addTimestamp(item, tvb, pinfo)
  local seconds, fraction = tvb(12, 4):uint(), tvb(16, 4):uint()
  local now = pinfo.abs_ts
  local era = math.floor((now + NTP_TO_UNIX - seconds) / ERA + 0.5)
  local t = seconds + era * ERA - NTP_TO_UNIX + fraction / ERA
  if math.abs(t - now) > 86400 then return end
  local whole = math.floor(t)
  item:add(F.replay_timestamp, NSTime.new(whole, math.floor((t - whole) * 1e9))):set_generated()
  item:add(F.replay_offset, relativeTime(t - now)):set_generated()
end

local function summary(spec, tvb)
  if not spec then return "" end
  local text = spec.title .. ", Sequence # " .. tvb(2, 2):uint()
  if spec.kind == "reply" then
    local code = tvb(10, 1):uint()
    text = text .. ", Code " .. (R.replyCodes[code] and R.replyCodes[code].name or tostring(code))
  end
  return text
end

-- Decodes the header and extensions into `tree`; returns the name of the first
-- error and the item to attach it to (and, for MISSING_EXTENSION, the missing
-- extension's title), or nil and the AUTH extension's { offset, length (of its
-- data), item }.
local function decode(tvb, pinfo, tree, notes)
  local len = tvb:len()
  -- 1. Length.
  if len < R.headerLength then
    if len > 0 then tree:add(F.undecoded, tvb(0, len)) end
    return "TRUNCATED", tree
  end
  if len > R.maxMessageLength then return "MESSAGE_TOO_LONG", tree end
  -- 2. Header.
  local vItem = tree:add(F.version, tvb(0, 1))
  if tvb(0, 1):uint() ~= R.protocolVersion then return "BAD_VERSION", vItem end
  local type = tvb(1, 1):uint()
  local tItem = tree:add(F.type, tvb(1, 1))
  local spec = R.messageTypes[type]
  if not spec then return "UNKNOWN_TYPE", tItem end
  tree:add(F.sequence, tvb(2, 2))
  tree:add(F.cookie, tvb(4, 6))
  local fc = tvb(10, 1):uint()
  if spec.kind == "reply" then
    local cItem = tree:add(F.code, tvb(10, 1))
    if fc == 0 then return "BAD_CODE", cItem end
    if fc >= 128 then cItem:append_text(" (refused)") end
  else
    local fItem = tree:add(F.flags, tvb(10, 1))
    local allowed = 0
    for _, f in ipairs(spec.flags) do
      fItem:add(FLAG_FIELDS[f.name], tvb(10, 1))
      allowed = bor(allowed, f.value)
    end
    if band(fc, bnot(allowed)) ~= 0 then return "BAD_FLAGS", fItem end
  end
  local rItem = tree:add(F.reserved, tvb(11, 1))
  if tvb(11, 1):uint() ~= 0 then return "RESERVED_NONZERO", rItem end
  addTimestamp(tree:add(F.replay_id, tvb(12, 8)), tvb, pinfo)

  -- 3. Extensions.
  local rules = {}
  for _, rule in ipairs(spec.ext) do rules[rule[1]] = rule[2] end
  local count = {}
  local authAt, authLength, authItem
  local o = R.headerLength
  while o < len do
    if len - o < 2 or o + 2 + tvb(o + 1, 1):uint() > len then
      local item = tree:add(F.extension, tvb(o, len - o)):set_text("Extension (truncated)")
      item:add(F.ext_type, tvb(o, 1))
      if len - o >= 2 then item:add(F.ext_length, tvb(o + 1, 1)) end
      return "TRUNCATED", item
    end
    local etype, n = tvb(o, 1):uint(), tvb(o + 1, 1):uint()
    local ext = R.extensionTypes[etype]
    local title = ext and ext.title or ("Unknown " .. (etype < 128 and "mandatory" or "skippable") .. " extension " .. etype)
    local item = tree:add(F.extension, tvb(o, 2 + n)):set_text(title .. " (" .. etype .. "), Length " .. n)
    item:add(F.ext_type, tvb(o, 1))
    item:add(F.ext_length, tvb(o + 1, 1))
    if authAt then return "AUTH_NOT_LAST", item end
    if not ext then
      local data = item:add(F.ext_data, tvb(o + 2, n))
      if n == 0 then data:set_text("Data: none (empty)") end
      if etype < 128 then return "UNKNOWN_MANDATORY_EXTENSION", item end
    else
      local rule = rules[etype]
      if not rule then return "UNEXPECTED_EXTENSION", item end
      if (rule == "1" or rule == "?") and count[etype] then return "DUPLICATE_EXTENSION", item end
      local err, note = decoders[ext.name](item, tvb, o + 2, n)
      if err then return err, item end
      if note then
        item:append_text(": " .. note)
        notes[#notes + 1] = note
      end
      count[etype] = (count[etype] or 0) + 1
      if ext.name == "AUTH" then authAt, authLength, authItem = o, n, item end
    end
    o = o + 2 + n
  end
  -- 4. Required extensions: AUTH first, then the others in the registry's order.
  if not authAt then return "MISSING_AUTH", tree end
  for _, rule in ipairs(spec.ext) do
    if (rule[2] == "1" or rule[2] == "+") and not count[rule[1]] then
      return "MISSING_EXTENSION", tree, R.extensionTypes[rule[1]].title
    end
  end
  return nil, { offset = authAt, length = authLength, item = authItem }
end

-- Section 6.2 steps 2 and 3, with a key from the handover.keys preference.
-- Returns nil or the name of the error.
local function verify(tvb, root, auth)
  local sas, problem = keys()
  if problem then root:add_proto_expert_info(EXPERT.CONFIG, "CONFIG: " .. problem) end
  local sa = sas[tvb(auth.offset + 2, 4):uint()] or sas["*"]
  if not sa then
    if next(sas) then auth.item:add_proto_expert_info(NO_KEY)
    else auth.item:add(tvb(auth.offset + 6, auth.length - 4), "Authenticator not verified: no keys (see the handover.keys preference)"):set_generated() end
    return nil
  end
  auth.item:add(F.auth_algorithm, sa.algorithm.value):set_generated()
  local tagLength = auth.length - 4
  if tagLength ~= sa.algorithm.tagLength then return "AUTH_LENGTH_MISMATCH" end
  local len = tvb:len()
  local expect = hmac(HASHES[sa.algorithm.name], sa.key, tvb:raw(0, len - tagLength))
  local got = tvb:raw(len - tagLength, tagLength)
  local verified = expect:sub(1, tagLength) == got
  auth.item:add(F.auth_verified, verified):set_generated()
  if not verified then return "BAD_AUTHENTICATOR" end
  return nil
end

-- ---- Requests, replies and repeated messages ---------------------------------------
-- A reply matches the request whose Sequence # and low 32 bits of the Replay
-- Protect ID it copies (section 6.6), sent by the request's destination. A
-- message byte for byte equal to an earlier one is a retransmission (section
-- 6.7), or the same datagram captured twice (tcpdump -i any on a router).

local firstFrameOf, requestOf, replyOf

local function forget()
  firstFrameOf, requestOf, replyOf = {}, {}, {}
end
forget()
proto.init = forget -- a new capture file

local function exchange(replyType, tvb, responder, port)
  return replyType .. "/" .. tvb(2, 2):uint() .. "/" .. tvb:raw(16, 4) .. "/" .. tostring(responder) .. "/" .. port
end

local function track(tvb, pinfo, root, spec, type)
  local identity = tvb:raw(0, tvb:len())
  if not pinfo.visited and not firstFrameOf[identity] then firstFrameOf[identity] = pinfo.number end
  local first = firstFrameOf[identity]
  if first and first ~= pinfo.number then root:add(F.duplicate_of, first):set_generated() end
  if spec.reply then
    local key = exchange(spec.reply, tvb, pinfo.dst, pinfo.dst_port)
    if not pinfo.visited and not requestOf[key] then requestOf[key] = { frame = pinfo.number, time = pinfo.abs_ts } end
    if replyOf[key] then root:add(F.reply_in, replyOf[key]):set_generated() end
  elseif spec.kind == "reply" then
    local key = exchange(type, tvb, pinfo.src, pinfo.src_port)
    local request = requestOf[key]
    if request and request.frame < pinfo.number then
      if not pinfo.visited and not replyOf[key] then replyOf[key] = pinfo.number end
      root:add(F.request_in, request.frame):set_generated()
      root:add(F.reply_time, relativeTime(pinfo.abs_ts - request.time)):set_generated()
    end
  end
end

function proto.dissector(tvb, pinfo, tree)
  pinfo.cols.protocol = "handover"
  local len = tvb:len()
  local root = tree:add(proto, tvb(0, len))
  local checksums = { udpChecksum() } -- the innermost UDP header is the last
  local checksum = checksums[#checksums]
  if checksum and checksum.value == 0 then root:add_proto_expert_info(ZERO_CHECKSUM) end
  if len < tvb:reported_len() then
    -- Not the sender's fault: checking it would report errors the message does not have.
    root:add_proto_expert_info(CUT_SHORT, "The capture holds " .. len .. " of the datagram's " .. tvb:reported_len()
      .. " bytes, so it is not decoded: capture with a larger snapshot length (tcpdump -s 0)")
    pinfo.cols.info = "[capture cut short]"
    return len
  end
  local notes = {} -- extension summaries for the Info column
  local err, at, missing = decode(tvb, pinfo, root, notes)
  local spec = len >= 2 and R.messageTypes[tvb(1, 1):uint()] or nil
  if not err then
    local auth = at
    err, at = verify(tvb, root, auth), auth.item
    -- A message that does not verify under a configured key is not part of any exchange.
    if not err then track(tvb, pinfo, root, spec, tvb(1, 1):uint()) end
  end
  local info = summary(len >= R.headerLength and spec or nil, tvb)
  if #notes > 0 then info = info .. ", " .. table.concat(notes, ", ") end
  if err then
    local e = R.errors[errorByName[err]]
    local text = err .. ": " .. e.message .. (missing and (" (" .. missing .. ")") or "") .. "; " .. e.hint
    at:add_proto_expert_info(EXPERT[err], text)
    info = (info ~= "" and (info .. " ") or "") .. "[" .. err .. "]"
  end
  pinfo.cols.info = info
  root:append_text(info ~= "" and (", " .. info) or "")
  return len
end

-- ---- Registration -------------------------------------------------------------

local udpPorts = DissectorTable.get("udp.port")
local registeredPort = R.defaultPort
udpPorts:add(registeredPort, proto)
udpPorts:add_for_decode_as(proto) -- Analyze > Decode As... for any other port

function proto.prefs_changed()
  if proto.prefs.port ~= registeredPort then
    udpPorts:remove(registeredPort, proto)
    registeredPort = proto.prefs.port
    udpPorts:add(registeredPort, proto)
  end
end
