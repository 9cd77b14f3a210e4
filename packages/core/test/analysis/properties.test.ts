import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analysis/analyze.js';
import type { VersionSamples } from '../../src/analysis/source.js';
import {
  binomialSf,
  errorRateTest,
  fisherExactGreater,
  mannWhitneyU,
  normalSf,
  quantile,
  twoProportionZTest,
} from '../../src/analysis/stats.js';

const inUnit = (p: number) => p >= 0 && p <= 1;

/** Two versions' counts: n ≥ 1 requests each, errors ≤ requests. */
const table = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 1, max: 20_000 }))
  .chain(([n1, n2]) =>
    fc.tuple(
      fc.integer({ min: 0, max: n1 }),
      fc.constant(n1),
      fc.integer({ min: 0, max: n2 }),
      fc.constant(n2),
    ),
  );

const latencies = fc.array(fc.double({ min: 0, max: 30, noNaN: true }), { maxLength: 120 });

describe('p-values are probabilities', () => {
  it('binomial, Fisher, z', () => {
    fc.assert(
      fc.property(table, fc.double({ min: 0, max: 1, noNaN: true }), ([a, n1, c, n2], p) => {
        expect(inUnit(binomialSf(a, n1, p))).toBe(true);
        expect(inUnit(fisherExactGreater(a, n1, c, n2))).toBe(true);
        expect(inUnit(twoProportionZTest(a, n1, c, n2).pValue)).toBe(true);
        expect(inUnit(errorRateTest(a, n1, c, n2).pValue)).toBe(true);
      }),
    );
  });

  it('Mann–Whitney', () => {
    fc.assert(
      fc.property(latencies, latencies, (x, y) => {
        expect(inUnit(mannWhitneyU(x, y).pValue)).toBe(true);
      }),
    );
  });

  it('the normal tail is monotone and symmetric', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -40, max: 40, noNaN: true }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        (x, d) => {
          expect(normalSf(x + d)).toBeLessThanOrEqual(normalSf(x));
          expect(normalSf(x) + normalSf(-x)).toBeCloseTo(1, 14);
        },
      ),
    );
  });
});

describe('the tests point one way: canary worse', () => {
  it('Mann–Whitney never calls both samples slower: p(x, y) + p(y, x) ≥ 1', () => {
    fc.assert(
      fc.property(latencies, latencies, (x, y) => {
        expect(mannWhitneyU(x, y).pValue + mannWhitneyU(y, x).pValue).toBeGreaterThanOrEqual(1 - 1e-12);
      }),
    );
  });

  it('identical samples are no evidence: p ≥ 0.5', () => {
    fc.assert(
      fc.property(latencies, (x) => {
        expect(mannWhitneyU(x, x).pValue).toBeGreaterThanOrEqual(0.5);
        expect(mannWhitneyU(x, [...x].reverse()).pValue).toBeGreaterThanOrEqual(0.5);
      }),
    );
  });

  it('one more canary error never weakens the evidence', () => {
    fc.assert(
      fc.property(table, ([a, n1, c, n2]) => {
        fc.pre(a < n1);
        expect(fisherExactGreater(a + 1, n1, c, n2)).toBeLessThanOrEqual(
          fisherExactGreater(a, n1, c, n2) + 1e-12,
        );
      }),
    );
  });

  it('equal rates are never significant, whatever the traffic split', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 20 }),
        (k1, k2, per) => {
          // errors per 100 requests equal on both sides; sizes differ up to 200×
          const [n1, n2] = [k1 * 100, k2 * 100];
          expect(errorRateTest(k1 * per, n1, k2 * per, n2).pValue).toBeGreaterThan(0.4);
        },
      ),
    );
  });
});

describe('quantiles', () => {
  it('lie within the sample and grow with q', () => {
    fc.assert(
      fc.property(
        latencies.filter((x) => x.length > 0),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (x, q1, q2) => {
          const [lo, hi] = q1 <= q2 ? [q1, q2] : [q2, q1];
          expect(quantile(x, lo)).toBeLessThanOrEqual(quantile(x, hi));
          expect(quantile(x, lo)).toBeGreaterThanOrEqual(Math.min(...x));
          expect(quantile(x, hi)).toBeLessThanOrEqual(Math.max(...x));
        },
      ),
    );
  });
});

const sampleArray = fc.oneof(
  latencies,
  latencies.map((x) => Float64Array.from(x)),
  fc.array(fc.oneof(fc.double(), fc.constant(Number.NaN), fc.constant(-1)), { maxLength: 40 }),
);

/** Arbitrary non-negative inputs, consistent or not (errors above requests, fractional counts, no samples). */
const anyVersion: fc.Arbitrary<VersionSamples> = fc.record(
  {
    requests: fc.oneof(fc.nat(100_000), fc.double({ min: 0, max: 1e6, noNaN: true })),
    errors: fc.oneof(fc.nat(100_000), fc.double({ min: 0, max: 1e6, noNaN: true })),
    latencySamples: sampleArray,
    p50: fc.double({ min: 0, max: 100, noNaN: true }),
    p95: fc.double({ min: 0, max: 100, noNaN: true }),
    p99: fc.double({ min: 0, max: 100, noNaN: true }),
  },
  { requiredKeys: ['requests', 'errors'] },
);

/** A consistent version: errors ≤ requests, samples as a window would give. */
const consistentVersion: fc.Arbitrary<VersionSamples> = fc.integer({ min: 0, max: 5000 }).chain((requests) =>
  fc.record({
    requests: fc.constant(requests),
    errors: fc.integer({ min: 0, max: requests }),
    latencySamples: latencies,
  }),
);

describe('analyze', () => {
  it('never throws on arbitrary non-negative input, and its result is coherent', () => {
    fc.assert(
      fc.property(anyVersion, anyVersion, fc.integer({ min: 1, max: 200 }), (canary, stable, minRequests) => {
        const result = analyze({ canary, stable }, { minRequests });
        expect(['pass', 'fail', 'inconclusive']).toContain(result.verdict);
        expect(result.reason.length).toBeGreaterThan(0);
        expect(result.failed.length > 0).toBe(result.verdict === 'fail');
        for (const c of result.checks) if (c.pValue !== null) expect(inUnit(c.pValue)).toBe(true);
        // A failing check always has its effect past the threshold.
        for (const c of result.checks.filter((c) => c.status === 'fail')) {
          expect(c.observed).toBeGreaterThan(c.threshold!);
        }
      }),
    );
  });

  it('a canary identical to stable never fails on the relative checks, at any traffic', () => {
    fc.assert(
      fc.property(consistentVersion, (v) => {
        const result = analyze(
          { canary: v, stable: v },
          { minRequests: 1, maxErrorRate: null, maxP95Seconds: null },
        );
        expect(result.verdict).not.toBe('fail');
      }),
    );
  });

  it('the same rates at a 1:99 split never fail', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 100 }),
        (hundreds, perHundred) => {
          const canary = { requests: hundreds * 100, errors: hundreds * perHundred };
          const stable = { requests: hundreds * 9900, errors: hundreds * 99 * perHundred };
          const result = analyze({ canary, stable }, { maxErrorRate: null });
          expect(result.verdict).not.toBe('fail');
        },
      ),
    );
  });
});
