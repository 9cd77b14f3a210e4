import { describe, expect, it } from 'vitest';
import {
  binomialSf,
  countAbove,
  errorRateTest,
  fisherExactGreater,
  logGamma,
  mannWhitneyU,
  normalCdf,
  normalSf,
  quantile,
  regularizedBeta,
  twoProportionZTest,
  Z_TEST_MIN_EXPECTED,
} from '../../src/analysis/stats.js';

// Every expected value below was computed with SciPy 1.17.1 / NumPy 2.4.6 (Python 3.11), by the call named in
// each table, and pasted here with full precision. The z-test has no SciPy function: its expected values are
// the textbook pooled formula evaluated in Python with scipy.stats.norm.sf.

/** |actual − expected| within `rel` of expected (relative accuracy, which is what matters in the tails). */
function close(actual: number, expected: number, rel: number) {
  if (expected === 0) return expect(actual).toBe(0);
  expect(Math.abs(actual - expected) / Math.abs(expected), `${actual} vs ${expected}`).toBeLessThan(rel);
}

describe('normal distribution', () => {
  // scipy.stats.norm.sf(x)
  const sf: [number, number][] = [
    [-8, 0.9999999999999993],
    [-3, 0.9986501019683699],
    [-1.96, 0.9750021048517795],
    [-0.5, 0.6914624612740131],
    [0, 0.5],
    [0.3, 0.3820885778110474],
    [1.2815515655446004, 0.10000000000000009],
    [1.6448536269514722, 0.050000000000000044],
    [2.326347874040841, 0.009999999999999992],
    [3, 0.0013498980316300933],
    [4.5, 3.3976731247300535e-6],
    [7, 1.279812543885835e-12],
    [12, 1.776482112077653e-33],
    [30, 4.906713927147908e-198],
  ];

  it.each(sf)('Q(%d) matches SciPy to 1e-12 relative, far tails included', (x, expected) => {
    close(normalSf(x), expected, 1e-12);
    close(normalCdf(-x), expected, 1e-12);
  });

  it('handles the edges', () => {
    expect(normalSf(Number.POSITIVE_INFINITY)).toBe(0);
    expect(normalSf(Number.NEGATIVE_INFINITY)).toBe(1);
    expect(normalSf(50)).toBe(0); // underflows cleanly, no NaN
    expect(Number.isNaN(normalSf(Number.NaN))).toBe(true);
  });
});

describe('gamma and beta', () => {
  // math.lgamma(x)
  it.each([
    [0.5, 0.5723649429247004],
    [1.5, -0.12078223763524543],
    [3, Math.LN2], // ln Γ(3) = ln 2! = ln 2
    [10.25, 13.368023671476049],
    [100, 359.1342053695754],
    [12345.5, 103958.24296512322],
    [1e6, 12815504.569147611],
  ])('lnΓ(%d)', (x, expected) => close(logGamma(x), expected, 1e-13));

  it('lnΓ(1) = lnΓ(2) = 0', () => {
    expect(Math.abs(logGamma(1))).toBeLessThan(1e-14);
    expect(Math.abs(logGamma(2))).toBeLessThan(1e-14);
  });

  // scipy.special.betainc(a, b, x)
  it.each([
    [0.05, 1, 3, 0.142625],
    [0.3, 2.5, 7, 0.6412224629717214],
    [0.05, 30, 171, 8.709270943980009e-8],
    [0.5, 1000, 1000, 0.4999999999999992],
    [0.01, 50, 9951, 0.9999999896875161],
    [0.9, 3, 2, 0.9477],
  ])('I_%d(%d, %d)', (x, a, b, expected) => close(regularizedBeta(x, a, b), expected, 1e-11));
});

describe('binomialSf: P(X ≥ k), the exact binomial test', () => {
  // scipy.stats.binom.sf(k - 1, n, p)
  it.each([
    [1, 3, 0.05, 0.142625],
    [2, 3, 0.05, 0.007250000000000001],
    [30, 200, 0.05, 8.709270943980009e-8],
    [5, 50, 0.05, 0.10361681014414346],
    [21, 200, 0.05, 0.0011599082507479197],
    [0, 10, 0.3, 1],
    [10, 10, 0.5, 0.0009765625],
    [600, 10000, 0.05, 4.509387117818274e-6],
    [40, 1000, 0.03, 0.043734378934783893],
  ])('k = %d of n = %d at p = %d', (k, n, p, expected) => close(binomialSf(k, n, p), expected, 1e-10));

  it('one error in three requests is no evidence of a rate above 5 %', () => {
    expect(binomialSf(1, 3, 0.05)).toBeGreaterThan(0.1);
  });

  it('edges', () => {
    expect(binomialSf(4, 3, 0.5)).toBe(0);
    expect(binomialSf(1, 3, 0)).toBe(0);
    expect(binomialSf(1, 3, 1)).toBe(1);
  });
});

describe('Fisher exact test, one-sided (canary has more errors)', () => {
  // scipy.stats.fisher_exact([[a, n1 - a], [c, n2 - c]], alternative='greater').pvalue
  it.each([
    [1, 100, 0, 9900, 0.01],
    [30, 1000, 0, 1000, 7.468327881304512e-10],
    [4, 100, 50, 9900, 0.002029904889492694],
    [3, 10, 1, 12, 0.22556390977443608],
    [0, 100, 0, 100, 1],
    [0, 50, 5, 5000, 1],
    [7, 200, 99, 19800, 9.511876243382553e-5],
    [42, 200, 40, 9900, 6.810023183112694e-51],
    [250, 50000, 320, 50000, 0.9985857961994721],
    [12, 1000, 50, 10000, 0.009069704325580456],
  ])('canary %d/%d vs stable %d/%d', (a, n1, c, n2, expected) => {
    close(fisherExactGreater(a, n1, c, n2), expected, 1e-9);
  });

  it('stable with zero errors: one canary error in 100 is p ≈ 0.01, where the z-test claims 1e-23', () => {
    expect(fisherExactGreater(1, 100, 0, 9900)).toBeCloseTo(0.01, 12);
    expect(twoProportionZTest(1, 100, 0, 9900).pValue).toBeLessThan(1e-20);
    const chosen = errorRateTest(1, 100, 0, 9900);
    expect(chosen.method).toBe('fisher');
    expect(chosen.pValue).toBeCloseTo(0.01, 12);
  });
});

describe('two-proportion z-test (pooled, one-sided)', () => {
  // pooled formula, Python + scipy.stats.norm.sf
  it.each([
    [30, 1000, 0, 1000, 5.518772761391628, 1.706876429016021e-8],
    [45, 1000, 30, 1000, 1.7654696590094991, 0.03874243256632235],
    [5200, 100000, 5000, 100000, 2.0328100706668577, 0.02103585765235726],
    [10, 100, 10, 100, 0, 0.5],
  ])('canary %d/%d vs stable %d/%d', (a, n1, c, n2, z, p) => {
    const result = twoProportionZTest(a, n1, c, n2);
    expect(result.z).toBeCloseTo(z, 12);
    close(result.pValue, p, 1e-11);
  });

  it('no errors anywhere, or an empty side, is no evidence (p = 1), not a division by zero', () => {
    expect(twoProportionZTest(0, 100, 0, 100)).toEqual({ z: 0, pValue: 1 });
    expect(twoProportionZTest(0, 0, 3, 100)).toEqual({ z: 0, pValue: 1 });
    expect(errorRateTest(0, 0, 3, 100).pValue).toBe(1);
  });

  it('errorRateTest uses the z-test only when every expected cell is large', () => {
    expect(errorRateTest(5200, 100000, 5000, 100000).method).toBe('z');
    expect(errorRateTest(52, 1000, 50, 1000).method).toBe('fisher');
    // Around the switch the two tests agree closely: at expected counts of ~1,000 within 10 %.
    const n = Math.ceil((Z_TEST_MIN_EXPECTED / 0.05) * 2);
    const z = errorRateTest(2600, n, 2450, n);
    expect(z.method).toBe('z');
    close(z.pValue, fisherExactGreater(2600, n, 2450, n), 0.1);
  });
});

/** The arrays the SciPy values were computed on: `round(((i*mul) % mod)/div + off, 3)` for i < n. */
function seq(n: number, mul: number, mod: number, div: number, off: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.round((((i * mul) % mod) / div + off) * 1000) / 1000);
}

describe('Mann–Whitney U, one-sided (first sample slower)', () => {
  const x1 = seq(60, 37, 101, 50, 0.1);
  const y1 = seq(80, 53, 97, 50, 0);

  it('normal approximation with ties matches scipy mannwhitneyu(method="asymptotic")', () => {
    // 96 distinct values among 140: the tie correction matters
    const r = mannWhitneyU(x1, y1);
    expect(r.method).toBe('normal');
    expect(r.u).toBe(2758);
    close(r.pValue, 0.06610819589014376, 1e-11);
    const swapped = mannWhitneyU(y1, x1);
    expect(swapped.u).toBe(2042);
    close(swapped.pValue, 0.9344310619649737, 1e-11);
  });

  it('heavy ties (integers 0–6 vs 0–4)', () => {
    const x2 = Array.from({ length: 40 }, (_, i) => i % 7);
    const y2 = Array.from({ length: 50 }, (_, i) => i % 5);
    const r = mannWhitneyU(x2, y2);
    expect(r.u).toBe(1250);
    close(r.pValue, 0.01992780824719457, 1e-11);
  });

  it('small samples without ties use the exact distribution (scipy method="exact")', () => {
    const x3 = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y3 = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.07, 3.14, 1.28];
    const r3 = mannWhitneyU(x3, y3);
    expect(r3.method).toBe('exact');
    expect(r3.u).toBe(58);
    close(r3.pValue, 0.06795557383792677, 1e-12);

    const x4 = [
      3.1, 4.2, 5, 6.6, 7.1, 8.4, 9.9, 10.5, 11.2, 12.8, 13.3, 14, 15.9, 16.4, 17.7, 18.1, 19.5, 20.2, 21.6,
      22.3,
    ];
    const y4 = [
      1, 2.5, 3.3, 4, 4.8, 5.5, 6.1, 6.9, 7.7, 8.2, 9, 9.6, 10.1, 11, 11.8, 12.4, 13.9, 14.5, 15.1, 16,
    ];
    const r4 = mannWhitneyU(x4, y4);
    expect(r4.method).toBe('exact');
    expect(r4.u).toBe(283);
    close(r4.pValue, 0.012233861341565554, 1e-12);
    // one more sample and it is the normal approximation: SciPy gives 0.01281963600440279 at 20 × 20
  });

  it('an empty sample is no evidence', () => {
    expect(mannWhitneyU([], [1, 2, 3]).pValue).toBe(1);
    expect(mannWhitneyU([1, 2, 3], []).pValue).toBe(1);
  });

  it('all values tied is no evidence', () => {
    expect(mannWhitneyU([1, 1, 1, 1], Array(30).fill(1)).pValue).toBe(1);
  });
});

describe('quantiles (type 7, as numpy.quantile)', () => {
  it('matches NumPy', () => {
    const x1 = seq(60, 37, 101, 50, 0.1);
    // numpy.quantile(x1, q)
    close(quantile(x1, 0), 0.1, 1e-15);
    close(quantile(x1, 0.5), 1.09, 1e-14);
    close(quantile(x1, 0.95), 1.9819999999999998, 1e-14);
    close(quantile(x1, 0.99), 2.0646, 1e-14);
    close(quantile(x1, 1), 2.1, 1e-15);
    expect(quantile([5, 1, 3], 0.25)).toBe(2);
    expect(quantile([5, 1, 3], 0.95)).toBeCloseTo(4.8, 14);
  });

  it('an empty sample has no quantile', () => {
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('countAbove counts strictly greater values', () => {
    const sorted = Float64Array.from([0.1, 0.2, 0.2, 2, 2, 2.5, 3]);
    expect(countAbove(sorted, 2)).toBe(2);
    expect(countAbove(sorted, 0)).toBe(7);
    expect(countAbove(sorted, 3)).toBe(0);
    expect(countAbove(new Float64Array(0), 1)).toBe(0);
  });
});
