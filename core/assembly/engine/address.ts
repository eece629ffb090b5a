// An IP address as a value: family (1 IPv4, 2 IPv6) and 128 bits. IPv4 sits in
// the low 32 bits of `lo`. Comparing and hashing are on the numbers.

import { FAMILY_IPV4, FAMILY_IPV6 } from "../generated/registry";
import { familyLength } from "../wire/family";
import { TextOut, formatAddress } from "../util/text";

const SCRATCH = memory.data(16);

export class Address {
  family: u8 = 0;
  hi: u64 = 0;
  lo: u64 = 0;

  static read(family: u32, p: usize): Address {
    const a = new Address();
    a.load(family, p);
    return a;
  }

  static v4(x: u32): Address {
    const a = new Address();
    a.family = FAMILY_IPV4;
    a.lo = <u64>x;
    return a;
  }

  /** Reads an address of `family` from memory (4 or 16 bytes). */
  load(family: u32, p: usize): void {
    this.family = <u8>family;
    if (family == FAMILY_IPV4) {
      this.hi = 0;
      this.lo = <u64>bswap<u32>(load<u32>(p));
    } else {
      this.hi = bswap<u64>(load<u64>(p));
      this.lo = bswap<u64>(load<u64>(p + 8));
    }
  }

  /** Writes the address (4 or 16 bytes) to memory. */
  store(p: usize): void {
    if (this.family == FAMILY_IPV4) {
      store<u32>(p, bswap<u32>(<u32>this.lo));
    } else {
      store<u64>(p, bswap<u64>(this.hi));
      store<u64>(p + 8, bswap<u64>(this.lo));
    }
  }

  get length(): i32 { return familyLength(this.family); }
  get isSet(): bool { return this.family != 0; }

  equals(o: Address): bool {
    return this.family == o.family && this.hi == o.hi && this.lo == o.lo;
  }

  copy(): Address {
    const a = new Address();
    a.family = this.family;
    a.hi = this.hi;
    a.lo = this.lo;
    return a;
  }

  set(o: Address): void {
    this.family = o.family;
    this.hi = o.hi;
    this.lo = o.lo;
  }

  /** A hash for table keys. */
  key(): u64 {
    return (this.hi * 0x9e3779b97f4a7c15) ^ this.lo ^ (<u64>this.family << 62);
  }

  /**
   * True for an address a session can move to: not unspecified, loopback,
   * multicast, IPv4 broadcast or 0.0.0.0/8 (docs/PROTOCOL.md section 7.4).
   */
  isUsableUnicast(): bool {
    if (this.family == FAMILY_IPV4) {
      const top = <u32>(this.lo >> 24) & 0xff;
      return top != 0 && top != 127 && top < 224;
    }
    if (this.family != FAMILY_IPV6) return false;
    if (this.hi == 0 && (this.lo == 0 || this.lo == 1)) return false; // :: and ::1
    if ((this.hi >> 56) == 0xff) return false; // multicast
    if (this.hi == 0 && (this.lo >> 32) == 0xffff) return false; // IPv4-mapped
    return true;
  }

  /** Writes the address as a JSON string. */
  json(out: TextOut): void {
    this.store(SCRATCH);
    out.addressString(this.family, SCRATCH);
  }

  /** Writes the address as bare text. */
  text(out: TextOut): void {
    this.store(SCRATCH);
    formatAddress(out, this.family, SCRATCH);
  }
}

export function isValidFamily(f: u32): bool {
  return f == FAMILY_IPV4 || f == FAMILY_IPV6;
}
