// Fixed-size wipes and copies of key material and scratch blocks, inline as
// v128 stores: memory.fill and memory.copy of a size over 16 bytes are calls
// out of the module in V8 (a C function per call), several per sealed or
// opened message.

/** Zeroes the 16 * n bytes at p, n a constant from 1 to 8 (unrolled: the tests fold away). */
// @ts-ignore: decorator
@inline export function wipe(p: usize, n: i32): void {
  const z = i32x4.splat(0);
  v128.store(p, z);
  if (n > 1) v128.store(p, z, 16);
  if (n > 2) v128.store(p, z, 32);
  if (n > 3) v128.store(p, z, 48);
  if (n > 4) v128.store(p, z, 64);
  if (n > 5) v128.store(p, z, 80);
  if (n > 6) v128.store(p, z, 96);
  if (n > 7) v128.store(p, z, 112);
}

/** Copies 32 bytes from src to dst (no overlap). */
// @ts-ignore: decorator
@inline export function copy32(dst: usize, src: usize): void {
  const a = v128.load(src);
  const b = v128.load(src, 16);
  v128.store(dst, a);
  v128.store(dst, b, 16);
}
