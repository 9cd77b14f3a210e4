import {
  formatCount,
  formatP,
  formatPoints,
  formatPointsThreshold,
  formatRate,
  formatRateThreshold,
  formatRatio,
  formatSeconds,
  formatSecondsThreshold,
} from './format.js';
import type { AnalysisInput, VersionSamples } from './source.js';
import {
  binomialSf,
  countAbove,
  errorRateTest,
  type MannWhitneyResult,
  mannWhitneyUSorted,
  quantileSorted,
} from './stats.js';
import { type AnalysisThresholds, type AnalysisThresholdsInput, resolveThresholds } from './thresholds.js';

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export type CheckName = 'error-rate' | 'error-rate-increase' | 'p95' | 'p95-ratio' | 'p99-ratio';

/**
 * - `pass`: the effect is within its threshold (whatever a test would say: evidence without effect passes).
 * - `fail`: the effect is past its threshold and the test backs it (p ≤ alpha).
 * - `unproven`: the effect is past its threshold without that evidence (not significant yet, or a source
 *   with quantiles only). It holds the step: more data decides it either way.
 * - `skipped`: turned off, below `minRequests`, or no data for this check (no latency from the source).
 */
export type CheckStatus = 'pass' | 'fail' | 'unproven' | 'skipped';

export type CheckTest = 'binomial' | 'fisher' | 'z' | 'mann-whitney' | 'none';

export interface CheckResult {
  readonly name: CheckName;
  readonly status: CheckStatus;
  /** The effect: canary error rate, rate difference, canary p95 in seconds, or quantile ratio. */
  readonly observed: number | null;
  readonly threshold: number | null;
  readonly test: CheckTest;
  /**
   * One-sided p-value of "the canary is worse", computed whenever the data allow the test (passing checks
   * too, so a dashboard sees evidence build up); null when no test is possible.
   */
  readonly pValue: number | null;
  /** One line for people: what was compared, to what, and the evidence. */
  readonly detail: string;
}

/** How a version's latency was known: sampled (tested), quantiles from the source (compared only), none. */
export type LatencyBasis = 'samples' | 'quantiles' | 'none';

export interface VersionSummary {
  readonly requests: number;
  readonly errors: number;
  /** errors / requests; null without requests. */
  readonly errorRate: number | null;
  /** Latency samples used (finite, non-negative). */
  readonly latencySamples: number;
  readonly latency: LatencyBasis;
  /** Seconds; null when unknown. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/** Everything a verdict was reached from: the payload of the controller's `analysis` event. */
export interface AnalysisResult {
  readonly verdict: Verdict;
  /** e.g. `canary error rate 21.0 % (42 of 200) vs stable 0.40 % (40 of 9,900): +20.6 pp > 3 pp, p = 6.8e-51 (Fisher)`. */
  readonly reason: string;
  readonly stable: VersionSummary;
  readonly canary: VersionSummary;
  /** Every check, in a fixed order, including skipped ones. */
  readonly checks: readonly CheckResult[];
  /** The checks that failed (empty unless the verdict is `fail`). */
  readonly failed: readonly CheckName[];
  readonly thresholds: AnalysisThresholds;
}

/**
 * Latency samples per version from which the samples are tested (Mann–Whitney, binomial). Below it a
 * rank test has little power and a p99 is a maximum, so fewer samples count as quantiles only.
 */
export const MIN_LATENCY_SAMPLES = 20;

/** "More than" with room for float noise: 35/1000 − 5/1000 is 0.030000000000000002, which is not > 3 pp. */
const exceeds = (value: number, threshold: number) =>
  value - threshold > 1e-9 * Math.max(1, Math.abs(threshold));

interface Counts {
  readonly requests: number;
  readonly errors: number;
}

interface Latency {
  readonly basis: LatencyBasis;
  /** Sorted samples when basis is `samples`. */
  readonly sorted: Float64Array;
  readonly count: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && n >= 0 && n < Number.POSITIVE_INFINITY;
const isSeconds = isCount;

/**
 * Counts as whole requests (a Prometheus `increase()` is fractional), or a description of what is wrong.
 * Errors above requests — counters scraped at different instants — are refused, not clamped: the data
 * are inconsistent and the step holds.
 */
function countsOf(v: VersionSamples | undefined, name: string): Counts | string {
  const requests = v?.requests;
  const errors = v?.errors;
  if (!isCount(requests)) return `${name} requests is ${String(requests)}`;
  if (!isCount(errors)) return `${name} errors is ${String(errors)}`;
  const r = Math.round(requests);
  const e = Math.round(errors);
  if (e > r) return `${name} has more errors (${formatCount(e)}) than requests (${formatCount(r)})`;
  return { requests: r, errors: e };
}

/**
 * The version's latency: tested samples when there are at least {@link MIN_LATENCY_SAMPLES}, else the
 * source's quantiles, else the quantiles of the few samples there are (compared, never tested), else none.
 */
function latencyOf(v: VersionSamples | undefined): Latency {
  const raw = v?.latencySamples;
  let sorted = new Float64Array(0);
  if (raw instanceof Float64Array || Array.isArray(raw)) {
    let n = 0;
    for (let i = 0; i < raw.length; i++) if (isSeconds(raw[i])) n++;
    sorted = new Float64Array(n);
    n = 0;
    for (let i = 0; i < raw.length; i++) {
      const x = raw[i];
      if (isSeconds(x)) sorted[n++] = x;
    }
    sorted.sort();
  }
  const fromSamples = (basis: LatencyBasis): Latency => ({
    basis,
    sorted,
    count: sorted.length,
    p50: quantileSorted(sorted, 0.5),
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
  });
  if (sorted.length >= MIN_LATENCY_SAMPLES) return fromSamples('samples');
  const given = (q: unknown) => (isSeconds(q) ? q : null);
  const p50 = given(v?.p50);
  const p95 = given(v?.p95);
  const p99 = given(v?.p99);
  if (p50 !== null || p95 !== null || p99 !== null) {
    return { basis: 'quantiles', sorted, count: sorted.length, p50, p95, p99 };
  }
  // A handful of samples: their quantiles are shown and compared, never tested.
  if (sorted.length > 0) return fromSamples('quantiles');
  return { basis: 'none', sorted, count: 0, p50: null, p95: null, p99: null };
}

function summary(counts: Counts | null, latency: Latency): VersionSummary {
  return {
    requests: counts?.requests ?? 0,
    errors: counts?.errors ?? 0,
    errorRate: counts && counts.requests > 0 ? counts.errors / counts.requests : null,
    latencySamples: latency.count,
    latency: latency.basis,
    p50: latency.p50,
    p95: latency.p95,
    p99: latency.p99,
  };
}

const ORDER: readonly CheckName[] = ['error-rate', 'error-rate-increase', 'p95', 'p95-ratio', 'p99-ratio'];

const skipped = (name: CheckName, threshold: number | null, detail: string, observed: number | null = null) =>
  ({ name, status: 'skipped', observed, threshold, test: 'none', pValue: null, detail }) as const;

/** Turns effect + evidence into a status: see {@link CheckStatus}. */
function judge(effect: boolean, pValue: number | null, alpha: number, withoutTest: 'fail' | 'inconclusive') {
  if (!effect) return 'pass';
  if (pValue === null) return withoutTest === 'fail' ? 'fail' : 'unproven';
  return pValue <= alpha ? 'fail' : 'unproven';
}

function evidence(status: CheckStatus, pValue: number | null, alpha: number, test: string): string {
  if (status === 'pass') return '';
  if (pValue === null) return ', quantiles only: no samples to test';
  const p = formatP(pValue);
  if (status === 'unproven') return `, but not significant (${p} > ${alpha}, ${test})`;
  return `, ${p} (${test})`;
}

/**
 * Judges a canary against stable. A check fails only when its effect is past the threshold **and** a
 * one-sided test at `alpha` backs it; an effect without evidence holds the step (`inconclusive`); below
 * `minRequests` per version nothing is judged. Every input, statistic and threshold is in the result.
 *
 * Throws only for invalid thresholds (a CanaryConfigError); any data — empty, inconsistent, NaN — gives a
 * result, `inconclusive` when it cannot be judged.
 */
export function analyze(input: AnalysisInput, thresholds: AnalysisThresholdsInput = {}): AnalysisResult {
  const t = resolveThresholds(thresholds);
  const canaryCounts = countsOf(input?.canary, 'canary');
  const stableCounts = countsOf(input?.stable, 'stable');
  const canaryLatency = latencyOf(input?.canary);
  const stableLatency = latencyOf(input?.stable);
  const valid = typeof canaryCounts !== 'string' && typeof stableCounts !== 'string';
  const result = (verdict: Verdict, reason: string, checks: readonly CheckResult[]): AnalysisResult => ({
    verdict,
    reason,
    stable: summary(typeof stableCounts === 'string' ? null : stableCounts, stableLatency),
    canary: summary(typeof canaryCounts === 'string' ? null : canaryCounts, canaryLatency),
    checks,
    failed: verdict === 'fail' ? checks.filter((c) => c.status === 'fail').map((c) => c.name) : [],
    thresholds: t,
  });

  if (!valid) {
    const problems = [canaryCounts, stableCounts].filter((c): c is string => typeof c === 'string');
    const checks = ORDER.map((name) => skipped(name, null, 'invalid input'));
    return result('inconclusive', `invalid input: ${problems.join('; ')}`, checks);
  }
  const canary = canaryCounts as Counts;
  const stable = stableCounts as Counts;

  if (canary.requests < t.minRequests || stable.requests < t.minRequests) {
    const checks = ORDER.map((name) => skipped(name, null, `fewer than ${t.minRequests} requests`));
    const reason =
      `waiting for data: canary has ${formatCount(canary.requests)} requests, stable ` +
      `${formatCount(stable.requests)}; ${formatCount(t.minRequests)} per version needed`;
    return result('inconclusive', reason, checks);
  }

  const checks = [
    errorRateCheck(canary, t),
    errorRateIncreaseCheck(canary, stable, t),
    p95Check(canaryLatency, t),
    ...ratioChecks(canaryLatency, stableLatency, t),
  ];
  const failed = checks.filter((c) => c.status === 'fail');
  if (failed.length > 0) return result('fail', failed.map((c) => c.detail).join('; '), checks);
  const unproven = checks.filter((c) => c.status === 'unproven');
  if (unproven.length > 0) {
    return result(
      'inconclusive',
      `${unproven.map((c) => c.detail).join('; ')}: holding for more data`,
      checks,
    );
  }
  return result('pass', passReason(canary, stable, canaryLatency, stableLatency), checks);
}

/** A pass in one line: what the canary did next to stable (the checks hold the thresholds). */
function passReason(canary: Counts, stable: Counts, c: Latency, s: Latency): string {
  const canaryRate = canary.errors / canary.requests;
  const stableRate = stable.errors / stable.requests;
  const parts = [
    `error rate ${formatRate(canaryRate)} vs ${formatRate(stableRate)} (${formatPoints(canaryRate - stableRate)})`,
  ];
  for (const [label, cq, sq] of [
    ['p95', c.p95, s.p95],
    ['p99', c.p99, s.p99],
  ] as const) {
    if (cq !== null && sq !== null) {
      parts.push(`${label} ${formatSeconds(cq)} vs ${formatSeconds(sq)} (${formatRatio(ratio(cq, sq))})`);
    }
  }
  return `canary within thresholds: ${parts.join('; ')}`;
}

// ── the checks ────────────────────────────────────────────────────────────────────────────────────────────

const ofRequests = (c: Counts) => `(${formatCount(c.errors)} of ${formatCount(c.requests)})`;

/** Canary 5xx share above `maxErrorRate`, backed by the exact binomial test of "rate ≤ maxErrorRate". */
function errorRateCheck(canary: Counts, t: AnalysisThresholds): CheckResult {
  const limit = t.maxErrorRate;
  const rate = canary.errors / canary.requests;
  if (limit === null) return skipped('error-rate', null, 'off', rate);
  const effect = exceeds(rate, limit);
  const pValue = binomialSf(canary.errors, canary.requests, limit);
  const status = judge(effect, pValue, t.alpha, 'fail');
  const compare = effect ? '>' : '≤';
  const detail =
    `canary error rate ${formatRate(rate)} ${ofRequests(canary)} ${compare} ${formatRateThreshold(limit)}` +
    evidence(status, pValue, t.alpha, 'exact binomial');
  return { name: 'error-rate', status, observed: rate, threshold: limit, test: 'binomial', pValue, detail };
}

/** Canary 5xx share more than `maxErrorRateIncrease` above stable's, backed by Fisher / z. */
function errorRateIncreaseCheck(canary: Counts, stable: Counts, t: AnalysisThresholds): CheckResult {
  const limit = t.maxErrorRateIncrease;
  const canaryRate = canary.errors / canary.requests;
  const stableRate = stable.errors / stable.requests;
  const diff = canaryRate - stableRate;
  if (limit === null) return skipped('error-rate-increase', null, 'off', diff);
  const effect = exceeds(diff, limit);
  const test = errorRateTest(canary.errors, canary.requests, stable.errors, stable.requests);
  const pValue = test.pValue;
  const status = judge(effect, pValue, t.alpha, 'fail');
  const compare = effect ? '>' : '≤';
  const detail =
    `canary error rate ${formatRate(canaryRate)} ${ofRequests(canary)} vs stable ${formatRate(stableRate)} ` +
    `${ofRequests(stable)}: ${formatPoints(diff)} ${compare} ${formatPointsThreshold(limit)}` +
    evidence(status, pValue, t.alpha, test.method === 'z' ? 'z-test' : 'Fisher');
  return {
    name: 'error-rate-increase',
    status,
    observed: diff,
    threshold: limit,
    test: test.method,
    pValue,
    detail,
  };
}

/**
 * Canary p95 above `maxP95Seconds`. With samples, the evidence is the exact binomial test of "at most 5 % of
 * requests take longer than the limit" — the same statement as "p95 ≤ limit", distribution-free.
 */
function p95Check(canary: Latency, t: AnalysisThresholds): CheckResult {
  const limit = t.maxP95Seconds;
  if (limit === null) return skipped('p95', null, 'off', canary.p95);
  if (canary.p95 === null) return skipped('p95', limit, 'no canary latency data');
  const effect = exceeds(canary.p95, limit);
  let pValue: number | null = null;
  let above = '';
  if (canary.basis === 'samples') {
    const k = countAbove(canary.sorted, limit);
    pValue = binomialSf(k, canary.count, 0.05);
    if (effect)
      above = ` with ${formatRate(k / canary.count)} of ${formatCount(canary.count)} sampled requests above it`;
  }
  const status = judge(effect, pValue, t.alpha, t.latencyWithoutSamples);
  const detail =
    `canary p95 ${formatSeconds(canary.p95)} ${effect ? '>' : '≤'} ${formatSecondsThreshold(limit)}${above}` +
    evidence(status, pValue, t.alpha, 'exact binomial');
  return {
    name: 'p95',
    status,
    observed: canary.p95,
    threshold: limit,
    test: canary.basis === 'samples' ? 'binomial' : 'none',
    pValue,
    detail,
  };
}

/** Canary over stable quantile; 0 over 0 is 1 (no change), anything over 0 is unbounded. */
function ratio(canary: number, stable: number): number {
  if (stable > 0) return canary / stable;
  return canary > 0 ? Number.POSITIVE_INFINITY : 1;
}

/**
 * p95 and p99 more than `maxP95Ratio` / `maxP99Ratio` × stable's. With samples on both sides the evidence is
 * one Mann–Whitney U test (canary slower), shared by both checks; with quantiles only there is no test.
 */
function ratioChecks(canary: Latency, stable: Latency, t: AnalysisThresholds): CheckResult[] {
  let mwu: MannWhitneyResult | undefined;
  const tested = canary.basis === 'samples' && stable.basis === 'samples';
  const check = (name: 'p95-ratio' | 'p99-ratio', label: string, limit: number | null): CheckResult => {
    const c = name === 'p95-ratio' ? canary.p95 : canary.p99;
    const s = name === 'p95-ratio' ? stable.p95 : stable.p99;
    const observed = c !== null && s !== null ? ratio(c, s) : null;
    if (limit === null) return skipped(name, null, 'off', observed);
    if (c === null || s === null || observed === null) {
      const missing = c === null ? 'canary' : 'stable';
      return skipped(name, limit, `no ${label} latency for ${missing}`);
    }
    // The ratio must be past its limit and the quantile far enough above stable's to matter at all.
    const effect = exceeds(observed, limit) && c - s > t.minLatencyIncreaseSeconds;
    let pValue: number | null = null;
    if (tested) {
      mwu ??= mannWhitneyUSorted(canary.sorted, stable.sorted);
      pValue = mwu.pValue;
    }
    const status = judge(effect, pValue, t.alpha, t.latencyWithoutSamples);
    const detail =
      `canary ${label} ${formatSeconds(c)} vs stable ${formatSeconds(s)}: ${formatRatio(observed)} ` +
      `${effect ? '>' : '≤'} ${formatRatio(limit, true)}` +
      evidence(status, pValue, t.alpha, 'Mann–Whitney');
    return {
      name,
      status,
      observed,
      threshold: limit,
      test: tested ? 'mann-whitney' : 'none',
      pValue,
      detail,
    };
  };
  return [check('p95-ratio', 'p95', t.maxP95Ratio), check('p99-ratio', 'p99', t.maxP99Ratio)];
}
