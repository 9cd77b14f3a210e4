/**
 * Reference MurmurHash3 x86_32, written for the tests straight from Austin Appleby's C original
 * (`MurmurHash3_x86_32` in smhasher/src/MurmurHash3.cpp) and deliberately sharing nothing with
 * `src/evaluation/murmur3.ts`:
 *
 * - it hashes a byte array (`Uint8Array`), produced by the platform's UTF-8 encoder (`TextEncoder`), instead
 *   of encoding UTF-16 code units on the fly;
 * - 32-bit multiplication is done by splitting the operands into 16-bit halves, not with `Math.imul`;
 * - every intermediate value is kept as an unsigned 32-bit number (`>>> 0`), like `uint32_t` in C;
 * - blocks are read with `getblock32` semantics (little-endian) and the tail with the C `switch`, one byte at
 *   a time.
 *
 * It is slow on purpose: clarity over speed. Only the tests and `generate-vectors.ts` use it.
 */

const TWO_POW_32 = 4294967296;

/** `(a * b) mod 2^32` for two uint32 values, without `Math.imul`: schoolbook multiplication on 16-bit halves. */
export function mul32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = (a >>> 16) & 0xffff;
  const bLo = b & 0xffff;
  const bHi = (b >>> 16) & 0xffff;
  // a * b = aHi*bHi*2^32 + (aHi*bLo + aLo*bHi)*2^16 + aLo*bLo; the first term vanishes mod 2^32 and only the
  // low 16 bits of the middle sum survive the shift. Every partial product is below 2^32, so exact in a double.
  const low = aLo * bLo;
  const middle = (aHi * bLo + aLo * bHi) % 65536;
  return (low + middle * 65536) % TWO_POW_32;
}

/** `ROTL32(x, r)` from the C source, on uint32. */
export function rotl32(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/** `fmix32`: the finalization mix that forces all bits of the hash block to avalanche. */
export function fmix32(input: number): number {
  let h = input >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = mul32(h, 0x85ebca6b);
  h = (h ^ (h >>> 13)) >>> 0;
  h = mul32(h, 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return h;
}

/** `MurmurHash3_x86_32(key, len, seed, out)` over raw bytes; returns the uint32 written to `out`. */
export function murmur3ReferenceBytes(data: Uint8Array, seed = 0): number {
  const len = data.length;
  const nblocks = Math.floor(len / 4);

  let h1 = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;

  // body
  for (let i = 0; i < nblocks; i++) {
    const at = i * 4;
    // getblock32: little-endian uint32 (the C code reads it natively on x86).
    let k1 = data[at]! + data[at + 1]! * 0x100 + data[at + 2]! * 0x10000 + data[at + 3]! * 0x1000000;

    k1 = mul32(k1, c1);
    k1 = rotl32(k1, 15);
    k1 = mul32(k1, c2);

    h1 = (h1 ^ k1) >>> 0;
    h1 = rotl32(h1, 13);
    h1 = (mul32(h1, 5) + 0xe6546b64) % TWO_POW_32;
  }

  // tail: switch (len & 3) { case 3: ... case 2: ... case 1: ... } with fall-through
  const tail = nblocks * 4;
  const rest = len & 3;
  let k1 = 0;
  if (rest >= 3) k1 = (k1 ^ (data[tail + 2]! << 16)) >>> 0;
  if (rest >= 2) k1 = (k1 ^ (data[tail + 1]! << 8)) >>> 0;
  if (rest >= 1) {
    k1 = (k1 ^ data[tail]!) >>> 0;
    k1 = mul32(k1, c1);
    k1 = rotl32(k1, 15);
    k1 = mul32(k1, c2);
    h1 = (h1 ^ k1) >>> 0;
  }

  // finalization (`len` is an int in C: the byte length mod 2^32)
  h1 = (h1 ^ (len % TWO_POW_32)) >>> 0;
  return fmix32(h1);
}

const encoder = new TextEncoder();

/**
 * The UTF-8 bytes of a JavaScript string, as `TextEncoder` (and `Buffer.from(s, 'utf8')`) produce them: a
 * lone surrogate (a high surrogate not followed by a low one, or a low surrogate not preceded by a high one)
 * becomes U+FFFD REPLACEMENT CHARACTER, bytes EF BF BD.
 */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** MurmurHash3 x86_32 of the UTF-8 bytes of `s`: what `mmh3.hash(s, seed, signed=False)` gives in Python. */
export function murmur3Reference(s: string, seed = 0): number {
  return murmur3ReferenceBytes(utf8(s), seed);
}

/** The published bucket: `murmur3(utf8(seed + ":" + identity)) mod 10000`. */
export function referenceBucket(seed: string, identity: string): number {
  return murmur3Reference(`${seed}:${identity}`) % 10_000;
}
