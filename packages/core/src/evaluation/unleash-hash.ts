/**
 * unleash-client's bucketing, reproduced so a team moving off Unleash keeps every user's assignment.
 *
 * unleash-client hashes `${groupId}:${id}` with murmurhash3js, which reads `charCodeAt(i) & 0xff` — the
 * low byte of each UTF-16 code unit, not UTF-8 — and normalizes with `hash % 100 + 1`. A flexible rollout
 * of p % enables the id when that value is `<= p`.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixK(k: number): number {
  let x = Math.imul(k, C1);
  x = (x << 15) | (x >>> 17);
  return Math.imul(x, C2);
}

/** murmurhash3js `x86.hash32(key, 0)`: MurmurHash3 over the low byte of each code unit. */
export function murmur3CharCodes(key: string): number {
  const n = key.length;
  const tail = n & 3;
  const blocks = n - tail;
  let h = 0;
  for (let i = 0; i < blocks; i += 4) {
    const k =
      (key.charCodeAt(i) & 0xff) |
      ((key.charCodeAt(i + 1) & 0xff) << 8) |
      ((key.charCodeAt(i + 2) & 0xff) << 16) |
      ((key.charCodeAt(i + 3) & 0xff) << 24);
    h ^= mixK(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  if (tail === 3) k ^= (key.charCodeAt(blocks + 2) & 0xff) << 16;
  if (tail >= 2) k ^= (key.charCodeAt(blocks + 1) & 0xff) << 8;
  if (tail >= 1) {
    k ^= key.charCodeAt(blocks) & 0xff;
    h ^= mixK(k);
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** unleash-client's `normalizedStrategyValue(id, groupId)`: 1–100. */
export function unleashNormalizedValue(groupId: string, id: string): number {
  return (murmur3CharCodes(`${groupId}:${id}`) % 100) + 1;
}
