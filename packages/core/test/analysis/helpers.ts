import { type Random, seededRandom } from '../../src/analysis/random.js';
import type { VersionSamples } from '../../src/analysis/source.js';

/** A standard normal variate by Box–Muller (one of the pair; tests need clarity, not speed). */
export function normal(random: Random): number {
  const u = 1 - random(); // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** `n` lognormal latencies in seconds: median `medianSeconds`, log-scale sigma `sigma`. */
export function lognormal(random: Random, n: number, medianSeconds: number, sigma = 0.5): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = medianSeconds * Math.exp(sigma * normal(random));
  return out;
}

/**
 * One version's window: `requests` requests with `errors` 5xx and lognormal latencies (median 80 ms,
 * sigma 0.5 unless told), every request sampled (as the in-process window does below its capacity).
 */
export function version(
  requests: number,
  errors: number,
  options: { seed?: number; median?: number; sigma?: number; shift?: number; samples?: number } = {},
): VersionSamples {
  const random = seededRandom(options.seed ?? 1);
  const latencies = lognormal(random, options.samples ?? requests, options.median ?? 0.08, options.sigma);
  if (options.shift) for (let i = 0; i < latencies.length; i++) latencies[i]! += options.shift;
  return { requests, errors, latencySamples: latencies };
}
