/**
 * The statistics behind a canary verdict: pure functions, no dependencies, each checked against SciPy in
 * packages/core/test/analysis/stats.test.ts. Every test here is one-sided in the direction "the canary is
 * worse" — a canary that is *better* than stable is never a reason to roll back.
 */

// ── the normal distribution ───────────────────────────────────────────────────────────────────────────────

const INV_SQRT_2PI = 0.3989422804014327;
/** Below this |x| the power series is used, above it the continued fraction; both are ~1e-15 there. */
const SERIES_LIMIT = 3;

/** Standard normal density φ(x). */
export function normalPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/**
 * Upper tail Q(x) = P(Z > x) of the standard normal, to ~1e-14 *relative* accuracy over the whole range.
 * p-values live in the far tail (a reason may say p = 1e-12), where the usual erf polynomial (Abramowitz &
 * Stegun 7.1.26, 1.5e-7 absolute) is worthless, so:
 * - |x| ≤ 3: Marsaglia's series Φ(x) = ½ + φ(x)·(x + x³/3 + x⁵/(3·5) + …) (J. Stat. Software 11(4), 2004),
 *   all terms positive, converging for every x;
 * - x > 3: the Laplace continued fraction Q(x) = φ(x) / (x + 1/(x + 2/(x + 3/(x + …)))), evaluated with the
 *   modified Lentz method, which converges fast once x is past ~2.
 */
export function normalSf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 1 - normalSf(-x);
  if (x === Number.POSITIVE_INFINITY) return 0;
  if (x <= SERIES_LIMIT) {
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let k = 3; k < 400; k += 2) {
      term *= x2 / k;
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 0.5 - normalPdf(x) * sum;
  }
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let i = 1; i < 500; i++) {
    d = x + i * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + i / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return normalPdf(x) / f;
}

/** Φ(x) = P(Z ≤ x), accurate in the lower tail for the same reason as {@link normalSf}. */
export function normalCdf(x: number): number {
  return normalSf(-x);
}

// ── gamma, beta, binomial ─────────────────────────────────────────────────────────────────────────────────

/** Lanczos coefficients, g = 7, n = 9 (the set in Numerical Recipes 3rd ed. and most libms): ~1e-15. */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
] as const;
const HALF_LOG_2PI = 0.9189385332046728;

/** ln Γ(x) for x > 0 (reflection below ½). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** ln C(n, k). */
export function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/**
 * Continued fraction of the incomplete beta function (modified Lentz, Numerical Recipes `betacf`). It needs
 * O(√max(a, b)) iterations, so a million-request window converges in about a thousand.
 */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b), a, b > 0. */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  // The fraction converges fast only on one side of the mean; use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a).
  // On the side we return directly the result keeps full relative accuracy, so tiny tails stay exact.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/**
 * P(X ≥ k) for X ~ Binomial(n, p): the p-value of the exact one-sided binomial test of "the true rate is at
 * most p" when k of n failed. Uses P(X ≥ k) = I_p(k, n − k + 1).
 */
export function binomialSf(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  return regularizedBeta(p, k, n - k + 1);
}

// ── comparing two error rates ─────────────────────────────────────────────────────────────────────────────

export interface ProportionTest {
  /** `fisher`: Fisher's exact test; `z`: the pooled two-proportion z-test. */
  readonly method: 'fisher' | 'z';
  /** One-sided: the probability of a canary rate at least this much above stable's if they were equal. */
  readonly pValue: number;
}

/**
 * Fisher's exact test, one-sided (canary has more errors): P(X ≥ a) where X, the canary's share of all
 * errors, is hypergeometric given both versions' request counts and the total error count — exactly
 * `scipy.stats.fisher_exact([[a, n1 − a], [c, n2 − c]], alternative='greater')`.
 *
 * It is the test for small and zero counts: conditioning on the total makes "stable had 0 errors" an
 * ordinary case (1 canary error in 100 requests against 0 in 9,900 is p = 100/10,000 ≈ 0.01, where a z-test
 * would claim 10⁻²³), and it is exact at any size and any traffic split. It is conservative (the discrete
 * tail includes the observed table), which errs on the side of not rolling back.
 *
 * The tail is summed from the observed count with the pmf ratio, stopping when terms no longer matter, so
 * the cost is a few standard deviations' worth of terms, not the window size.
 */
export function fisherExactGreater(a: number, n1: number, c: number, n2: number): number {
  const total = n1 + n2;
  const errors = a + c;
  const lo = Math.max(0, n1 - (total - errors));
  const hi = Math.min(errors, n1);
  if (a <= lo) return 1;
  if (a > hi) return 0;
  const others = total - errors - n1; // (N − K − n1): offsets the stable-success count in the pmf ratio
  const logPmf = (x: number) =>
    logChoose(errors, x) + logChoose(total - errors, n1 - x) - logChoose(total, n1);
  const mode = Math.floor(((n1 + 1) * (errors + 1)) / (total + 2));
  if (a > mode) {
    // Terms fall from a upwards: sum the upper tail directly, in full relative precision.
    let term = Math.exp(logPmf(a));
    let sum = term;
    for (let x = a; x < hi && term > sum * 1e-17; x++) {
      term *= ((errors - x) * (n1 - x)) / ((x + 1) * (others + x + 1));
      sum += term;
    }
    return Math.min(1, sum);
  }
  // a is at or below the mode: the p-value is large, 1 − P(X ≤ a − 1) loses nothing that matters.
  let term = Math.exp(logPmf(a - 1));
  let sum = term;
  for (let x = a - 1; x > lo && term > sum * 1e-17; x--) {
    term *= (x * (others + x)) / ((errors - x + 1) * (n1 - x + 1));
    sum += term;
  }
  return Math.min(1, Math.max(0, 1 - sum));
}

/**
 * The pooled two-proportion z-test, one-sided (canary worse): z = (p̂₁ − p̂₂) / √(p̂(1 − p̂)(1/n₁ + 1/n₂))
 * with p̂ the pooled rate. With no errors (or only errors) anywhere, or an empty side, there is no evidence
 * of anything: p = 1.
 */
export function twoProportionZTest(
  a: number,
  n1: number,
  c: number,
  n2: number,
): { z: number; pValue: number } {
  if (!(n1 > 0 && n2 > 0)) return { z: 0, pValue: 1 };
  const pooled = (a + c) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return { z: 0, pValue: 1 };
  const z = (a / n1 - c / n2) / se;
  return { z, pValue: normalSf(z) };
}

/**
 * Smallest expected cell count from which the z-test replaces Fisher's test. The textbook rule is 5, but our
 * p-values sit in the 1 % tail with traffic split as unevenly as 1:99, where the binomial is still skewed:
 * at the count where Fisher says p = 0.01, the z-test says 0.001 at an expected count of 5, 0.0056 at 50 and
 * 0.009 at 1,000 (SciPy, 1:99 split, 0.5 % errors). From 1,000 on they agree within ~10 %, and the z-test
 * is O(1) where Fisher's tail sum grows with the square root of the counts.
 */
export const Z_TEST_MIN_EXPECTED = 1000;

/**
 * One-sided test that the canary's error rate (`a` of `n1`) is above stable's (`c` of `n2`): Fisher's exact
 * test unless every expected cell count is at least {@link Z_TEST_MIN_EXPECTED}, then the pooled z-test.
 * Compares rates, never counts: the split of traffic between the versions is part of the test.
 */
export function errorRateTest(a: number, n1: number, c: number, n2: number): ProportionTest {
  const total = n1 + n2;
  const errors = a + c;
  const minExpected = (Math.min(n1, n2) * Math.min(errors, total - errors)) / total;
  if (minExpected >= Z_TEST_MIN_EXPECTED) {
    return { method: 'z', pValue: twoProportionZTest(a, n1, c, n2).pValue };
  }
  return { method: 'fisher', pValue: fisherExactGreater(a, n1, c, n2) };
}

// ── comparing two latency distributions ───────────────────────────────────────────────────────────────────

export interface MannWhitneyResult {
  /** U of the first sample: pairs (x, y) with x > y, ties counting ½. */
  readonly u: number;
  /** The standardized statistic (continuity- and tie-corrected); 0 for the exact method. */
  readonly z: number;
  /** One-sided p-value for "the first sample tends to be larger" (canary slower). */
  readonly pValue: number;
  readonly method: 'exact' | 'normal';
}

/** Both samples at most this size and no ties: the exact null distribution of U (cheap up to 20 × 20). */
const MWU_EXACT_MAX = 20;

/**
 * The Mann–Whitney U test, one-sided (x stochastically larger than y), on samples already sorted ascending.
 * Kayenta's method for latency: it compares whole distributions by ranks, makes no assumption about their
 * shape (latency is skewed and heavy-tailed) and is unmoved by a few extreme values. Large samples use the
 * normal approximation with tie correction and continuity correction — exactly SciPy's
 * `mannwhitneyu(x, y, alternative='greater', method='asymptotic')`; both samples ≤ 20 with no ties use the
 * exact distribution (`method='exact'`). Either sample empty: no evidence, p = 1.
 */
export function mannWhitneyUSorted(x: ArrayLike<number>, y: ArrayLike<number>): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) return { u: 0, z: 0, pValue: 1, method: 'normal' };
  const n = n1 + n2;
  // Walk both sorted samples in step, one group of equal values at a time, giving the group its mean rank.
  let i = 0;
  let j = 0;
  let rank = 0;
  let rankSumX = 0;
  let tieTerm = 0;
  while (i < n1 || j < n2) {
    const v = i < n1 && (j >= n2 || x[i]! <= y[j]!) ? x[i]! : y[j]!;
    let inX = 0;
    let inY = 0;
    while (i < n1 && x[i] === v) {
      i++;
      inX++;
    }
    while (j < n2 && y[j] === v) {
      j++;
      inY++;
    }
    const t = inX + inY;
    rankSumX += inX * (rank + (t + 1) / 2);
    rank += t;
    if (t > 1) tieTerm += t * t * t - t;
  }
  const u = rankSumX - (n1 * (n1 + 1)) / 2;
  if (tieTerm === 0 && n1 <= MWU_EXACT_MAX && n2 <= MWU_EXACT_MAX) {
    return { u, z: 0, pValue: exactUpperTail(u, n1, n2), method: 'exact' };
  }
  const mean = (n1 * n2) / 2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (!(sd > 0)) return { u, z: 0, pValue: 1, method: 'normal' };
  const z = (u - mean - 0.5) / sd;
  return { u, z, pValue: normalSf(z), method: 'normal' };
}

/** Sorts copies, then {@link mannWhitneyUSorted}. */
export function mannWhitneyU(x: ArrayLike<number>, y: ArrayLike<number>): MannWhitneyResult {
  return mannWhitneyUSorted(sortedCopy(x), sortedCopy(y));
}

/**
 * P(U ≥ u) under the null for sizes m, n without ties. Counts arrangements with the recurrence
 * f(i, j, u) = f(i − 1, j, u − j) + f(i, j − 1, u) (the largest value is an x, beating all j y's, or a y).
 */
function exactUpperTail(u: number, m: number, n: number): number {
  const max = m * n;
  let prev: Float64Array[] = [];
  for (let i = 0; i <= m; i++) {
    prev.push(new Float64Array(max + 1));
    prev[i]![0] = 1; // j = 0: no y to beat, U = 0 in one way
  }
  for (let j = 1; j <= n; j++) {
    const cur: Float64Array[] = [new Float64Array(max + 1)];
    cur[0]![0] = 1;
    for (let i = 1; i <= m; i++) {
      const row = new Float64Array(max + 1);
      const below = cur[i - 1]!;
      const left = prev[i]!;
      for (let k = 0; k <= max; k++) row[k] = left[k]! + (k >= j ? below[k - j]! : 0);
      cur.push(row);
    }
    prev = cur;
  }
  const counts = prev[m]!;
  let tail = 0;
  let all = 0;
  for (let k = 0; k <= max; k++) {
    all += counts[k]!;
    if (k >= u) tail += counts[k]!;
  }
  return tail / all;
}

// ── quantiles ─────────────────────────────────────────────────────────────────────────────────────────────

/** A sorted Float64Array copy (typed-array sort is numeric). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/**
 * The q-quantile of an ascending sample by linear interpolation between order statistics — Hyndman & Fan
 * type 7, the default of NumPy, R and Excel's PERCENTILE.INC. NaN for an empty sample.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const below = sorted[lo]!;
  return lo + 1 < n ? below + (h - lo) * (sorted[lo + 1]! - below) : below;
}

/** The q-quantile of an unsorted sample (sorts a copy). */
export function quantile(values: ArrayLike<number>, q: number): number {
  return quantileSorted(sortedCopy(values), q);
}

/** How many values of an ascending sample are strictly greater than `threshold` (binary search). */
export function countAbove(sorted: ArrayLike<number>, threshold: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! > threshold) hi = mid;
    else lo = mid + 1;
  }
  return sorted.length - lo;
}
