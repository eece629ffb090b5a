// Big-endian field access on raw memory. Callers check bounds first; these
// helpers never allocate.

// @ts-ignore: decorator
@inline export function get8(p: usize): u32 { return <u32>load<u8>(p); }
// @ts-ignore: decorator
@inline export function get16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
// @ts-ignore: decorator
@inline export function get32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
// @ts-ignore: decorator
@inline export function put8(p: usize, v: u32): void { store<u8>(p, <u8>v); }
// @ts-ignore: decorator
@inline export function put16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
// @ts-ignore: decorator
@inline export function put32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }

/** True if [ptr, ptr + len) lies inside linear memory (no overflow, len >= 0). */
export function inMemory(ptr: usize, len: i32): bool {
  if (len < 0) return false;
  const end = <u64>ptr + <u64>len;
  return end <= (<u64>memory.size() << 16);
}

/** Byte-wise equality (not constant time: for public data only). */
export function bytesEqual(a: usize, b: usize, len: i32): bool {
  for (let i = 0; i < len; i++) {
    if (load<u8>(a + i) != load<u8>(b + i)) return false;
  }
  return true;
}

/** True if all len bytes at p are zero. */
export function allZero(p: usize, len: i32): bool {
  let acc: u32 = 0;
  for (let i = 0; i < len; i++) acc |= load<u8>(p + i);
  return acc == 0;
}
