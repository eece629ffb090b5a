// Writes a pcap file (LINKTYPE_RAW: each record an IPv4 or IPv6 packet) of UDP
// datagrams, for feeding control messages to tshark without a network.
//
//   writePcap([{ payload: Uint8Array, ipv6: false, port: 4346 }, ...]) -> Uint8Array
//
// Per datagram, `reverse: true` sends it the other way (198.18.0.2 -> 198.18.0.1),
// `snapLength: n` records only the first n bytes of the IP packet
// (as a capture with a small snapshot length does) and `zeroChecksum: true` (IPv4
// only) sends it without a UDP checksum.
//
// Sources and destinations are fixed documentation addresses (198.18.0.1 ->
// 198.18.0.2, 2001:db8::1 -> 2001:db8::2); both ports are `port`. Checksums are
// real (the UDP checksum of the control protocol must be non-zero, PROTOCOL.md 3.1).

const LINKTYPE_RAW = 101;
const V4 = { src: [198, 18, 0, 1], dst: [198, 18, 0, 2] };
const V6 = { src: [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1], dst: [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2] };

/** The ones' complement sum of `parts` (byte arrays), folded to 16 bits. */
function checksum(...parts) {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) sum += (p[i] << 8) | (p[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const u16 = (v) => [v >> 8, v & 255];
const u32 = (v) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

function udp(payload, port, pseudo, zeroChecksum) {
  const header = [...u16(port), ...u16(port), ...u16(8 + payload.length), 0, 0];
  if (zeroChecksum) return header;
  let sum = checksum(pseudo, header, payload.length % 2 ? [...payload, 0] : payload);
  if (sum === 0) sum = 0xffff; // 0 means "no checksum" in UDP (RFC 768)
  header[6] = sum >> 8;
  header[7] = sum & 255;
  return header;
}

/** One IP packet carrying `payload` in UDP. */
export function ipPacket({ payload, ipv6 = false, port = 4346, zeroChecksum = false, reverse = false }) {
  const udpLength = 8 + payload.length;
  const ends = (a) => (reverse ? { src: a.dst, dst: a.src } : a);
  if (ipv6) {
    const a = ends(V6);
    const pseudo = [...a.src, ...a.dst, ...u32(udpLength), 0, 0, 0, 17];
    const ip = [0x60, 0, 0, 0, ...u16(udpLength), 17, 64, ...a.src, ...a.dst];
    return Uint8Array.from([...ip, ...udp(payload, port, pseudo), ...payload]);
  }
  const a = ends(V4);
  const pseudo = [...a.src, ...a.dst, 0, 17, ...u16(udpLength)];
  const ip = [0x45, 0, ...u16(20 + udpLength), 0, 1, 0x40, 0, 64, 17, 0, 0, ...a.src, ...a.dst];
  const sum = checksum(ip);
  ip[10] = sum >> 8;
  ip[11] = sum & 255;
  return Uint8Array.from([...ip, ...udp(payload, port, pseudo, zeroChecksum), ...payload]);
}

/** A whole pcap file, one record per datagram, one second apart. */
export function writePcap(datagrams) {
  const le32 = (v) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];
  const le16 = (v) => [v & 255, v >> 8];
  const out = [...le32(0xa1b2c3d4), ...le16(2), ...le16(4), ...le32(0), ...le32(0), ...le32(65535), ...le32(LINKTYPE_RAW)];
  datagrams.forEach((d, i) => {
    const packet = ipPacket(d);
    const kept = packet.subarray(0, Math.min(packet.length, d.snapLength ?? packet.length));
    out.push(...le32(1_700_000_000 + i), ...le32(0), ...le32(kept.length), ...le32(packet.length), ...kept);
  });
  return Uint8Array.from(out);
}
