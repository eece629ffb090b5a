// A deterministic random bit generator: ChaCha20 with fast key erasure.
//
// The state is one 32-byte key. A request runs ChaCha20 under that key
// (nonce 0, counter from 0): the first 32 bytes of keystream replace the key,
// the bytes after them are the output. So every request leaves a key from
// which earlier outputs cannot be recomputed. Seeding mixes new material in:
// key = SHA-256(key || seed). The host supplies the entropy; the same seeds
// in the same order give the same stream.

import { chacha20Block } from "./chacha20";
import { ALG_SHA256, hashInit, hashBlocks, hashFinish } from "./hmac";

const NONCE: usize = memory.data(12, 16);
const BLK: usize = memory.data(64, 16);
const ST: usize = memory.data(32, 16);
const MIX: usize = memory.data(64, 16);

/** The least seed material (bytes) before the generator may be used: 128 bits. */
export const SEED_MIN_BYTES: i32 = 16;

export class Drbg {
  private key: StaticArray<u8> = new StaticArray<u8>(32);
  /** How many times seed() was called. */
  seeds: i32 = 0;
  /** Bytes of seed material mixed in so far. */
  seededBytes: i32 = 0;

  /** True once at least SEED_MIN_BYTES of seed material went in: before, outputs are predictable. */
  get seeded(): bool { return this.seededBytes >= SEED_MIN_BYTES; }

  /** Mixes `len` bytes at `ptr` into the key: key = SHA-256(key || seed). */
  seed(ptr: usize, len: i32): void {
    if (len < 0) len = 0;
    const key = changetype<usize>(this.key);
    hashInit(ALG_SHA256, ST);
    memory.copy(MIX, key, 32);
    if (len >= 32) {
      memory.copy(MIX + 32, ptr, 32);
      hashBlocks(ALG_SHA256, ST, MIX, 1);
      hashFinish(ALG_SHA256, ST, 64, ptr + 32, len - 32, key);
    } else {
      if (len > 0) memory.copy(MIX + 32, ptr, <usize>len);
      hashFinish(ALG_SHA256, ST, 0, MIX, 32 + len, key);
    }
    memory.fill(MIX, 0, 64);
    memory.fill(ST, 0, 32);
    this.seeds++;
    if (this.seededBytes < SEED_MIN_BYTES) this.seededBytes += len;
  }

  /** Writes `len` pseudorandom bytes at `out`, then replaces the key. */
  fill(out: usize, len: i32): void {
    if (len < 0) len = 0;
    const key = changetype<usize>(this.key);
    // Block 0: new key (first half) and up to 32 output bytes (second half).
    chacha20Block(key, NONCE, 0, BLK);
    const first = len < 32 ? len : 32;
    memory.copy(out, BLK + 32, <usize>first);
    let done = first;
    let counter: u32 = 1;
    while (len - done >= 64) {
      chacha20Block(key, NONCE, counter++, out + <usize>done);
      done += 64;
    }
    if (done < len) {
      chacha20Block(key, NONCE, counter, MIX);
      memory.copy(out + <usize>done, MIX, <usize>(len - done));
      memory.fill(MIX, 0, 64);
    }
    memory.copy(key, BLK, 32);
    memory.fill(BLK, 0, 64);
  }
}

/** The module-wide generator: the flat exports and the protocol code share it. */
export const drbg = new Drbg();
