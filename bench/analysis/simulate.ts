// Rollout simulation for the canary analysis: a controller stepping 1 → 5 → 10 → 25 → 50 → 100 %, fed
// request by request through the real in-process windows and judged by the real `analyze`, with simulated
// time (no HTTP, no clock). `bench/analysis/run.mjs` bundles this file and runs it; see docs/analysis.md.

import { analyze } from '../../packages/core/src/analysis/analyze.js';
import { type Random, seededRandom } from '../../packages/core/src/analysis/random.js';
import { binomialSf } from '../../packages/core/src/analysis/stats.js';
import {
  type AnalysisThresholdsInput,
  DEFAULT_THRESHOLDS,
} from '../../packages/core/src/analysis/thresholds.js';
import { AnalysisWindows } from '../../packages/core/src/analysis/window.js';

export const STEPS: readonly number[] = [1, 5, 10, 25, 50, 100];
/** Consecutive failing analyses that roll back (the controller default we recommend). */
export const FAILURE_LIMIT = 2;
/** A run still at a step after this many intervals is reported as stalled. */
export const MAX_INTERVALS = 60;
export const STABLE_ERROR_RATE = 0.005;
export const MEDIAN_SECONDS = 0.08;
export const SIGMA = 0.5;
const FLAG = 'checkout';
const INTERVAL_MS = 60_000;

export interface Scenario {
  readonly name: string;
  /** Threshold overrides for this scenario (the systems' own settings still apply on top). */
  readonly thresholds?: AnalysisThresholdsInput;
  /** Added to stable's 0.5 % error rate for the canary (0.03 = +3 pp). */
  readonly errorIncrease: number;
  /** Canary latencies are stable's times this factor (1.5 = +50 %). */
  readonly latencyFactor: number;
  readonly requestsPerMinute: number;
  readonly runs: number;
  /** Past its thresholds: a rollback is a detection. Otherwise a rollback is a false alarm. */
  readonly bad: boolean;
  /** One of the scenarios, or an extra one for context. */
  readonly extra?: boolean;
  readonly systems: readonly SystemName[];
}

export type SystemName = 'statistical' | 'plain' | 'plain, no minimum' | 'statistical, failureLimit 1';

export interface System {
  readonly thresholds: AnalysisThresholdsInput;
  readonly failureLimit: number;
}

/**
 * What judges each interval. `plain` is the same analysis with alpha = 1 — every effect past its threshold
 * fails with no evidence asked, as fixed-threshold systems do — on the same windows with the same minimum;
 * `plain, no minimum` also drops the minimum (minRequests 1), as Flagger and Argo do by default.
 * `statistical, failureLimit 1` rolls back on the first failing analysis: the price of faster rollbacks.
 */
export const SYSTEMS: Readonly<Record<SystemName, System>> = {
  statistical: { thresholds: {}, failureLimit: FAILURE_LIMIT },
  plain: { thresholds: { alpha: 1 }, failureLimit: FAILURE_LIMIT },
  'plain, no minimum': { thresholds: { alpha: 1, minRequests: 1 }, failureLimit: FAILURE_LIMIT },
  'statistical, failureLimit 1': { thresholds: {}, failureLimit: 1 },
};

export interface RunOutcome {
  readonly outcome: 'rolled-back' | 'promoted' | 'stalled';
  /** Intervals from the start of the rollout (the regression starts with it, at the 1 % step). */
  readonly intervals: number;
  /** The percentage at which it ended (rolled back, or 100 when promoted). */
  readonly step: number;
  /** Canary requests served before the end: the users who met the canary. */
  readonly canaryRequests: number;
}

/** Box–Muller with the second variate kept: two normals per two uniforms, no allocation. */
function gaussian(random: Random): () => number {
  let spare = Number.NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const s = spare;
      spare = Number.NaN;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const theta = 2 * Math.PI * random();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

const POOL_SIZE = 1 << 16;
let pool: Float64Array | undefined;

/**
 * Lognormal multipliers exp(σ·z) for 2¹⁶ normal draws, made once: each simulated request picks one at
 * random — a uniform and a load from a cache-resident 512 KB table instead of a log, a root, a cosine and
 * an exp, which made generating 10⁸ latencies most of the run. Draws from a 65,536-point empirical
 * lognormal are i.i.d., 655 of its points lie above its p99, and stable and canary draw from the same
 * table, so the comparison the analysis makes is unaffected.
 */
function lognormalPool(): Float64Array {
  if (pool === undefined) {
    const normal = gaussian(seededRandom(0x5eed));
    pool = new Float64Array(POOL_SIZE);
    for (let i = 0; i < POOL_SIZE; i++) pool[i] = Math.exp(SIGMA * normal());
  }
  return pool;
}

/** One rollout of `scenario` judged by `system`, reproducible from `seed`. */
export function runRollout(scenario: Scenario, system: System, seed: number): RunOutcome {
  const thresholds = { ...scenario.thresholds, ...system.thresholds };
  const random = seededRandom(seed);
  const multipliers = lognormalPool();
  let now = 0;
  const windows = new AnalysisWindows({ random: seededRandom(seed ^ 0x5bd1e995), now: () => now });
  windows.reset(FLAG);
  const canaryErrorRate = STABLE_ERROR_RATE + scenario.errorIncrease;
  const serve = (version: 'stable' | 'canary', n: number, errorRate: number, factor: number) => {
    const median = MEDIAN_SECONDS * factor;
    for (let i = 0; i < n; i++) {
      const status = random() < errorRate ? 500 : 200;
      windows.record(FLAG, version, status, median * multipliers[(random() * POOL_SIZE) | 0]!);
    }
  };
  let step = 0;
  let failures = 0;
  let canaryRequests = 0;
  for (let interval = 1; interval <= MAX_INTERVALS; interval++) {
    const percentage = STEPS[step]!;
    const canary = Math.round((scenario.requestsPerMinute * percentage) / 100);
    serve('stable', scenario.requestsPerMinute - canary, STABLE_ERROR_RATE, 1);
    serve('canary', canary, canaryErrorRate, scenario.latencyFactor);
    canaryRequests += canary;
    now += INTERVAL_MS;
    const { verdict } = analyze(windows.snapshot(FLAG), thresholds);
    if (verdict === 'fail') {
      failures++;
      if (failures >= system.failureLimit) {
        return { outcome: 'rolled-back', intervals: interval, step: percentage, canaryRequests };
      }
    } else if (verdict === 'pass') {
      failures = 0;
      step++;
      if (STEPS[step] === 100) return { outcome: 'promoted', intervals: interval, step: 100, canaryRequests };
      windows.reset(FLAG); // a new step is judged on its own data
    }
    // inconclusive: the step holds; it neither counts as a failure nor clears the count
  }
  return { outcome: 'stalled', intervals: MAX_INTERVALS, step: STEPS[step]!, canaryRequests };
}

export interface Summary {
  readonly scenario: string;
  readonly system: SystemName;
  readonly requestsPerMinute: number;
  readonly bad: boolean;
  readonly extra: boolean;
  readonly runs: number;
  readonly rolledBack: number;
  readonly promoted: number;
  readonly stalled: number;
  /** Share rolled back (false rollbacks for a healthy canary, detections for a bad one). */
  readonly rollbackShare: number;
  /** One-sided 95 % Clopper–Pearson upper bound of the rollback share (for the false-rollback target). */
  readonly rollbackShareUpper95: number;
  /** Rolled back within 2 intervals of the start (the +3 pp target). */
  readonly within2Share: number;
  /** Intervals to rollback among rolled-back runs. */
  readonly intervalsMedian: number | null;
  readonly intervalsP95: number | null;
  /** Percentage step at which rollbacks happened: runs per step. */
  readonly rollbackSteps: Readonly<Record<string, number>>;
  /** Canary requests served before rollback (median over rolled-back runs). */
  readonly canaryRequestsMedian: number | null;
  /** Intervals to promotion (median over promoted runs). */
  readonly promotionIntervalsMedian: number | null;
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Upper one-sided 95 % Clopper–Pearson bound for k successes in n, by bisection on the binomial tail. */
function upper95(k: number, n: number): number {
  if (k >= n) return 1;
  let lo = k / n;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    // P(X ≤ k | mid) by summing the pmf (n is at most a few thousand here)
    let term = (1 - mid) ** n;
    let cdf = term;
    for (let x = 0; x < k; x++) {
      term *= ((n - x) / (x + 1)) * (mid / (1 - mid));
      cdf += term;
    }
    if (cdf > 0.05) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Stable per-scenario seed base, so adding a scenario never changes another's runs. */
function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function summarize(scenario: Scenario, system: SystemName): Summary {
  const base = seedOf(scenario.name);
  const outcomes: RunOutcome[] = [];
  for (let run = 0; run < scenario.runs; run++) {
    // The same seeds for every system: each system sees the same traffic until their verdicts differ.
    outcomes.push(runRollout(scenario, SYSTEMS[system], (base + run * 7919) >>> 0));
  }
  const rolled = outcomes.filter((o) => o.outcome === 'rolled-back');
  const intervals = rolled.map((o) => o.intervals).sort((a, b) => a - b);
  const exposure = rolled.map((o) => o.canaryRequests).sort((a, b) => a - b);
  const promotedIntervals = outcomes
    .filter((o) => o.outcome === 'promoted')
    .map((o) => o.intervals)
    .sort((a, b) => a - b);
  const rollbackSteps: Record<string, number> = {};
  for (const o of rolled) rollbackSteps[`${o.step}%`] = (rollbackSteps[`${o.step}%`] ?? 0) + 1;
  return {
    scenario: scenario.name,
    system,
    requestsPerMinute: scenario.requestsPerMinute,
    bad: scenario.bad,
    extra: scenario.extra ?? false,
    runs: scenario.runs,
    rolledBack: rolled.length,
    promoted: promotedIntervals.length,
    stalled: outcomes.filter((o) => o.outcome === 'stalled').length,
    rollbackShare: rolled.length / scenario.runs,
    rollbackShareUpper95: upper95(rolled.length, scenario.runs),
    within2Share: rolled.filter((o) => o.intervals <= 2).length / scenario.runs,
    intervalsMedian: percentile(intervals, 0.5),
    intervalsP95: percentile(intervals, 0.95),
    rollbackSteps,
    canaryRequestsMedian: percentile(exposure, 0.5),
    promotionIntervalsMedian: percentile(promotedIntervals, 0.5),
  };
}

/** The scenarios, plus some for context (marked `extra`). `scale` shrinks the run counts. */
export function scenarios(scale = 1): Scenario[] {
  const runs = (n: number) => Math.max(10, Math.round(n * scale));
  const both: SystemName[] = ['statistical', 'plain'];
  const withLimit1: SystemName[] = [...both, 'statistical, failureLimit 1'];
  const at = (
    name: string,
    errorIncrease: number,
    latencyFactor: number,
    bad: boolean,
    more: Partial<Scenario> = {},
  ): Scenario => ({
    name,
    errorIncrease,
    latencyFactor,
    requestsPerMinute: 10_000,
    runs: runs(bad ? 300 : 1000),
    bad,
    systems: both,
    ...more,
  });
  // Tightened thresholds (+0.5 pp, 1.1×): where asking for evidence changes the outcome at this traffic.
  const tight: AnalysisThresholdsInput = { maxErrorRateIncrease: 0.005, maxP95Ratio: 1.1, maxP99Ratio: 1.1 };
  return [
    at('healthy', 0, 1, false, { systems: withLimit1 }),
    // Below the +3 pp and 1.5× thresholds: by the plans' own definition these are not failures.
    at('errors +1 pp', 0.01, 1, false, { runs: runs(300) }),
    // Exactly at the thresholds ("more than 3 pp", "more than 1.5×"): the boundary itself.
    at('errors +3 pp', 0.03, 1, true, { systems: withLimit1 }),
    at('errors +10 pp', 0.1, 1, true),
    at('latency +20 %', 0, 1.2, false, { runs: runs(300) }),
    at('latency +50 %', 0, 1.5, true, { systems: withLimit1 }),
    at('errors +5 pp', 0.05, 1, true, { extra: true }),
    at('latency +100 %', 0, 2, true, { extra: true }),
    at('healthy, 1,000 req/min', 0, 1, false, {
      requestsPerMinute: 1000,
      extra: true,
      systems: ['statistical', 'plain', 'plain, no minimum'],
    }),
    at('healthy, tight thresholds', 0, 1, false, { thresholds: tight, extra: true }),
    at('errors +1 pp, tight thresholds', 0.01, 1, true, { thresholds: tight, extra: true }),
    at('latency +20 %, tight thresholds', 0, 1.2, true, { thresholds: tight, extra: true }),
  ];
}

/** Every (scenario, system) pair to run, in report order. */
export function jobs(scale = 1): { scenario: Scenario; system: SystemName }[] {
  return scenarios(scale).flatMap((scenario) => scenario.systems.map((system) => ({ scenario, system })));
}

/** The run's settings, for the results file. */
export function settings(): Record<string, unknown> {
  return {
    steps: STEPS,
    intervalSeconds: INTERVAL_MS / 1000,
    defaultFailureLimit: FAILURE_LIMIT,
    maxIntervals: MAX_INTERVALS,
    stableErrorRate: STABLE_ERROR_RATE,
    latency: { distribution: 'lognormal', medianSeconds: MEDIAN_SECONDS, sigma: SIGMA },
    thresholds: DEFAULT_THRESHOLDS,
    systems: SYSTEMS,
    windowReset: 'at every step change (a step is judged on its own data, cumulated over its intervals)',
    inconclusive: 'holds the step; neither counts as a failure nor clears the count',
    regressionStarts: 'with the rollout, at the 1 % step; intervals are counted from there',
  };
}

/**
 * The most any rule could catch from the canary's first `n` requests alone: the Neyman–Pearson test on the
 * error count (fail at k or more errors) with the smallest k whose false-alarm rate on a healthy canary
 * (rate p0) is at most `maxFalseAlarm`, and the share of canaries at rate p1 it catches. Stable's rate is
 * taken as known, which only flatters the bound.
 */
export function detectionBound(n: number, p0: number, p1: number, maxFalseAlarm: number) {
  let k = 0;
  while (k <= n && binomialSf(k, n, p0) > maxFalseAlarm) k++;
  return { requests: n, failAtErrors: k, falseAlarm: binomialSf(k, n, p0), detection: binomialSf(k, n, p1) };
}
