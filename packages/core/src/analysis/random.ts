/**
 * A seeded pseudo-random source returning numbers in [0, 1). The analysis windows take one so that tests and
 * the rollout simulation are reproducible; production code uses `Math.random` unless told otherwise.
 */
export type Random = () => number;

/** splitmix32: spreads an arbitrary 32-bit seed over the generator state, so seeds 1, 2, 3 start far apart. */
function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state): passes PractRand to terabytes,
 * has no short cycles thanks to its counter, and runs on 32-bit integer operations without allocating.
 * Mulberry32 would do for a reservoir, but the simulation draws ~10⁹ numbers, past a 32-bit state's comfort.
 */
export function seededRandom(seed: number): Random {
  const init = splitmix32(seed);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}
