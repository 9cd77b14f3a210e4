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

// Working state of the hash in progress. Module-level so the byte pusher needs no closure; safe because
// every public function runs synchronously from start to finish.
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

function pushByte(b: number): void {
  W |= b << (N << 3);
  if (++N === 4) {
    H = mixBlock(H, W);
    W = 0;
    N = 0;
  }
}

function pushCodePoint(cp: number): void {
  if (cp < 0x800) {
    pushByte(0xc0 | (cp >> 6));
    pushByte(0x80 | (cp & 0x3f));
    L += 2;
  } else if (cp < 0x10000) {
    pushByte(0xe0 | (cp >> 12));
    pushByte(0x80 | ((cp >> 6) & 0x3f));
    pushByte(0x80 | (cp & 0x3f));
    L += 3;
  } else {
    pushByte(0xf0 | (cp >> 18));
    pushByte(0x80 | ((cp >> 12) & 0x3f));
    pushByte(0x80 | ((cp >> 6) & 0x3f));
    pushByte(0x80 | (cp & 0x3f));
    L += 4;
  }
}

function feed(s: string): void {
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      // ASCII fast path: four characters make one block, whatever the alignment of the pending bytes.
      if (i + 3 < n) {
        const c1 = s.charCodeAt(i + 1);
        const c2 = s.charCodeAt(i + 2);
        const c3 = s.charCodeAt(i + 3);
        if ((c1 | c2 | c3) < 0x80) {
          const word = c | (c1 << 8) | (c2 << 16) | (c3 << 24);
          if (N === 0) {
            H = mixBlock(H, word);
          } else {
            const shift = N << 3;
            H = mixBlock(H, W | (word << shift));
            W = word >>> (32 - shift);
          }
          L += 4;
          i += 4;
          continue;
        }
      }
      pushByte(c);
      L += 1;
      i += 1;
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        pushCodePoint(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000);
        i += 2;
      } else {
        pushCodePoint(0xfffd);
        i += 1;
      }
    } else {
      pushCodePoint(c >= 0xd800 && c < 0xe000 ? 0xfffd : c);
      i += 1;
    }
  }
}

function finish(): number {
  let h = H;
  if (N > 0) h ^= mixK(W);
  h ^= L;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32 of the UTF-8 bytes of `s` (unsigned), the same number as `mmh3.hash(s, seed, signed=False)`. */
export function murmur3(s: string, seed = 0): number {
  H = seed | 0;
  W = 0;
  N = 0;
  L = 0;
  feed(s);
  return finish();
}

/** The state after hashing `prefix`, to resume with {@link murmur3Resume} for many suffixes. */
export function murmur3Prefix(prefix: string, seed = 0): Murmur3State {
  H = seed | 0;
  W = 0;
  N = 0;
  L = 0;
  feed(prefix);
  return { h: H, w: W, n: N, length: L };
}

/** Hash of `prefix + suffix`, given the state returned by `murmur3Prefix(prefix)`. */
export function murmur3Resume(state: Murmur3State, suffix: string): number {
  H = state.h;
  W = state.w;
  N = state.n;
  L = state.length;
  feed(suffix);
  return finish();
}
