/**
 * MurmurHash3 x86_32 over the UTF-8 bytes of a JavaScript string, without allocating.
 *
 * Bucketing hashes `seed + ":" + identity` on every request. Encoding that string to a Buffer (what the
 * `murmurhash` package does) costs more than the hash itself, so this module walks the UTF-16 code units,
 * produces the UTF-8 bytes on the fly and feeds them into the 4-byte block mixer. The hash of a fixed
 * prefix (`seed:`) is computed once per flag and resumed per identity.
 *
 * Lone surrogates are encoded as U+FFFD, exactly as `TextEncoder` and `Buffer.from(s, 'utf8')` do, so the
 * result always equals the reference implementation run on `Buffer.from(s)`.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Hash state after some bytes: mixed blocks in `h`, `n` (0–3) pending bytes in `w`, `length` bytes so far. */
export interface Murmur3State {
  readonly h: number;
  readonly w: number;
  readonly n: number;
  readonly length: number;
}

// The state the general path ended in, for murmur3Prefix. The loops themselves work on locals: module-level
// variables live in a context object that V8 reads and writes on every access.
let H = 0;
let W = 0;
let N = 0;
let L = 0;

function mixK(k: number): number {
  let x = Math.imul(k, C1);
  x = (x << 15) | (x >>> 17);
  return Math.imul(x, C2);
}

function mixBlock(h: number, k: number): number {
  let x = h ^ mixK(k);
  x = (x << 13) | (x >>> 19);
  return (Math.imul(x, 5) + 0xe6546b64) | 0;
}

/**
 * The finalizer. Internally hashes are kept signed (`| 0`): a signed 32-bit integer is a small integer to V8,
 * while an unsigned one above 2^31 returned from a function that is not inlined becomes a heap number,
 * allocated, and `% 10_000` on it a floating-point remainder. The exported functions convert with `>>> 0`.
 */
function finalize(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * The general path. Feeds the UTF-8 bytes of `s` from index `start` into the state `h` (mixed blocks),
 * `w` (`n` pending bytes, 0–3) and `length` (bytes so far), leaves the new state in H, W, N and L, and
 * returns the finished hash, signed.
 */
function hashGeneral(h: number, w: number, n: number, length: number, s: string, start: number): number {
  const end = s.length;
  let i = start;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      // ASCII: four characters make one block, whatever the alignment of the pending bytes.
      if (i + 3 < end) {
        const c1 = s.charCodeAt(i + 1);
        const c2 = s.charCodeAt(i + 2);
        const c3 = s.charCodeAt(i + 3);
        if ((c1 | c2 | c3) < 0x80) {
          const word = c | (c1 << 8) | (c2 << 16) | (c3 << 24);
          if (n === 0) {
            h = mixBlock(h, word);
          } else {
            const shift = n << 3;
            h = mixBlock(h, w | (word << shift));
            w = word >>> (32 - shift);
          }
          length += 4;
          i += 4;
          continue;
        }
      }
      w |= c << (n << 3);
      if (++n === 4) {
        h = mixBlock(h, w);
        w = 0;
        n = 0;
      }
      length += 1;
      i += 1;
      continue;
    }

    // A code point outside ASCII. Lone surrogates become U+FFFD.
    let cp = c;
    i += 1;
    if (c >= 0xd800 && c < 0xe000) {
      cp = 0xfffd;
      if (c < 0xdc00 && i < end) {
        const d = s.charCodeAt(i);
        if (d >= 0xdc00 && d < 0xe000) {
          cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          i += 1;
        }
      }
    }
    // Its UTF-8 bytes, first byte lowest, `count` of them.
    let bytes: number;
    let count: number;
    if (cp < 0x800) {
      bytes = 0xc0 | (cp >> 6) | ((0x80 | (cp & 0x3f)) << 8);
      count = 2;
    } else if (cp < 0x10000) {
      bytes = 0xe0 | (cp >> 12) | ((0x80 | ((cp >> 6) & 0x3f)) << 8) | ((0x80 | (cp & 0x3f)) << 16);
      count = 3;
    } else {
      bytes =
        0xf0 |
        (cp >> 18) |
        ((0x80 | ((cp >> 12) & 0x3f)) << 8) |
        ((0x80 | ((cp >> 6) & 0x3f)) << 16) |
        ((0x80 | (cp & 0x3f)) << 24);
      count = 4;
    }
    length += count;
    for (; count > 0; count--) {
      w |= (bytes & 0xff) << (n << 3);
      bytes >>>= 8;
      if (++n === 4) {
        h = mixBlock(h, w);
        w = 0;
        n = 0;
      }
    }
  }
  H = h;
  W = w;
  N = n;
  L = length;
  if (n > 0) h ^= mixK(w);
  return finalize(h, length);
}

/**
 * The request path: no pending bytes and an ASCII string, four characters to a block and the tail
 * straight into the finalizer. Anything else goes on by the general path from where this one stopped.
 * Returns the hash signed.
 */
function hashFrom(h: number, w: number, n: number, length: number, s: string): number {
  if (n !== 0) return hashGeneral(h, w, n, length, s, 0);
  const end = s.length;
  const last = end - 3;
  let i = 0;
  while (i < last) {
    const c0 = s.charCodeAt(i);
    const c1 = s.charCodeAt(i + 1);
    const c2 = s.charCodeAt(i + 2);
    const c3 = s.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) >= 0x80) return hashGeneral(h, 0, 0, length + i, s, i);
    h = mixBlock(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
    i += 4;
  }
  const rest = end - i;
  if (rest > 0) {
    const c0 = s.charCodeAt(i);
    const c1 = rest > 1 ? s.charCodeAt(i + 1) : 0;
    const c2 = rest > 2 ? s.charCodeAt(i + 2) : 0;
    if ((c0 | c1 | c2) >= 0x80) return hashGeneral(h, 0, 0, length + i, s, i);
    h ^= mixK(c0 | (c1 << 8) | (c2 << 16));
  }
  return finalize(h, length + end);
}

/** MurmurHash3 x86_32 of the UTF-8 bytes of `s` (unsigned), the same number as `mmh3.hash(s, seed, signed=False)`. */
export function murmur3(s: string, seed = 0): number {
  return hashFrom(seed | 0, 0, 0, 0, s) >>> 0;
}

/** The state after hashing `prefix`, to resume with {@link murmur3Resume} for many suffixes. */
export function murmur3Prefix(prefix: string, seed = 0): Murmur3State {
  hashGeneral(seed | 0, 0, 0, 0, prefix, 0);
  return { h: H, w: W, n: N, length: L };
}

/** Hash of `prefix + suffix`, given the state returned by `murmur3Prefix(prefix)`. */
export function murmur3Resume(state: Murmur3State, suffix: string): number {
  return hashFrom(state.h, state.w, state.n, state.length, suffix) >>> 0;
}

/** The bucket, 0–9999, of `prefix + suffix`: `murmur3Resume(state, suffix) % 10_000`, in integer arithmetic. */
export function murmur3BucketResume(state: Murmur3State, suffix: string): number {
  return (hashFrom(state.h, state.w, state.n, state.length, suffix) >>> 0) % 10_000;
}
