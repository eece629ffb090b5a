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

/**
 * memory.copy for the short copies of a message's path (headers, AAD,
 * sealed bodies, replies of up to 256 bytes): 16-byte moves and a last one
 * ending at n (bytes in between written twice, with the same values), or
 * 8/4/2/1-byte moves under 16, none outside [0, n). A wasm call, where
 * memory.copy is a call into C in V8 (~5 ns). Overlapping ranges, and longer
 * copies, go to memory.copy.
 */
export function copyBytes(dst: usize, src: usize, n: usize): void {
  if (n > 256 || (dst < src + n && src < dst + n)) {
    memory.copy(dst, src, n);
    return;
  }
  if (n >= 16) {
    let i: usize = 0;
    for (; i + 16 <= n; i += 16) v128.store(dst + i, v128.load(src + i));
    if (i < n) v128.store(dst + n - 16, v128.load(src + n - 16));
    return;
  }
  let o: usize = 0;
  if (n & 8) { store<u64>(dst, load<u64>(src)); o = 8; }
  if (n & 4) { store<u32>(dst + o, load<u32>(src + o)); o += 4; }
  if (n & 2) { store<u16>(dst + o, load<u16>(src + o)); o += 2; }
  if (n & 1) store<u8>(dst + o, load<u8>(src + o));
}

/** memory.fill(p, 0, n) for n up to 256 bytes, as copyBytes (16-byte stores); longer fills go to memory.fill. */
export function zeroFill(p: usize, n: usize): void {
  if (n > 256) {
    memory.fill(p, 0, n);
    return;
  }
  const z = i32x4.splat(0);
  if (n >= 16) {
    let i: usize = 0;
    for (; i + 16 <= n; i += 16) v128.store(p + i, z);
    if (i < n) v128.store(p + n - 16, z);
    return;
  }
  let o: usize = 0;
  if (n & 8) { store<u64>(p, 0); o = 8; }
  if (n & 4) { store<u32>(p + o, 0); o += 4; }
  if (n & 2) { store<u16>(p + o, 0); o += 2; }
  if (n & 1) store<u8>(p + o, 0);
}
