import { CanaryConfigError, type ConfigIssue } from '../config/errors.js';
import { childPath } from '../config/path.js';
import { describe, isPlainObject, unknownKeys } from '../config/validate-helpers.js';

/**
 * When a canary fails. Each threshold is an *effect* the canary must exceed **and** back with a one-sided
 * test at level `alpha` before it fails (see docs/analysis.md). `null` turns a check off.
 */
export interface AnalysisThresholds {
  /** Requests each version needs in the window; below it the verdict is `inconclusive` and the step holds. */
  readonly minRequests: number;
  /** Significance level of each one-sided test (error rate, latency shift, absolute limits). */
  readonly alpha: number;
  /** Canary 5xx share (0–1) above which it fails: 0.05 = 5 %. */
  readonly maxErrorRate: number | null;
  /** Canary 5xx share minus stable's, as a fraction: 0.03 = 3 percentage points. */
  readonly maxErrorRateIncrease: number | null;
  /** Canary p95 latency, in seconds, above which it fails. */
  readonly maxP95Seconds: number | null;
  /** Canary p95 over stable p95 above which it fails. */
  readonly maxP95Ratio: number | null;
  /** Canary p99 over stable p99 above which it fails. */
  readonly maxP99Ratio: number | null;
  /**
   * A latency ratio only counts when the canary's quantile is also this many seconds above stable's: 0.9 ms vs
   * 0.5 ms is 1.8× but no regression anyone feels, and such noise would hold a step forever. Default 0.025.
   */
  readonly minLatencyIncreaseSeconds: number;
  /**
   * What a latency effect past its threshold does when the source has quantiles but no samples (a
   * Prometheus histogram), so no significance test is possible: `inconclusive` holds the step (default),
   * `fail` counts it as a failure on the effect alone, leaving persistence to the controller's failure limit.
   */
  readonly latencyWithoutSamples: 'inconclusive' | 'fail';
}

export type AnalysisThresholdsInput = Partial<AnalysisThresholds>;

/**
 * The defaults. Effects are the thresholds of the plans we follow (5 %, 2 s, +3 pp, 1.5×).
 * - `minRequests: 50` per version: the 1 % step of a 10,000 req/min service has 100 canary requests a minute,
 *   so the first interval is judged; at 50 a canary with 10 % errors fails with ~90 % probability, and
 *   each later step re-judges the canary on more data.
 * - `alpha: 0.01`: four one-sided tests per analysis (error rate, error-rate increase, latency shift,
 *   p95 limit) keep the family-wise false-alarm rate of one analysis under 4 % even if every effect were
 *   past its threshold by chance; the effect thresholds and the controller's consecutive-failure limit take
 *   a healthy rollout's false-rollback rate far below the 1 % target (0 of 1,000 in bench/analysis).
 */
export const DEFAULT_THRESHOLDS: AnalysisThresholds = Object.freeze({
  minRequests: 50,
  alpha: 0.01,
  maxErrorRate: 0.05,
  maxErrorRateIncrease: 0.03,
  maxP95Seconds: 2,
  maxP95Ratio: 1.5,
  maxP99Ratio: 1.5,
  minLatencyIncreaseSeconds: 0.025,
  latencyWithoutSamples: 'inconclusive',
});

const KEYS = new Set(Object.keys(DEFAULT_THRESHOLDS));

type Rule = (value: number) => string | undefined;
const fraction: Rule = (v) => (v >= 0 && v < 1 ? undefined : 'must be at least 0 and below 1 (0.05 = 5 %)');
const ratio: Rule = (v) => (v >= 1 ? undefined : 'must be at least 1 (1.5 = 50 % slower)');
const seconds: Rule = (v) => (v > 0 ? undefined : 'must be above 0 (seconds)');

/**
 * Validates thresholds over the defaults. Throws a {@link CanaryConfigError} naming every bad key under `path`
 * (`analysis.alpha: must be above 0 and at most 1`), so a bad value is refused before a rollout starts.
 */
export function resolveThresholds(input: unknown = {}, path = 'analysis'): AnalysisThresholds {
  const issues: ConfigIssue[] = [];
  if (!isPlainObject(input)) {
    throw new CanaryConfigError([{ path, message: `must be an object, got ${describe(input)}` }]);
  }
  unknownKeys(input, KEYS, path, issues);
  const at = (key: string) => childPath(path, key);
  const number = (key: keyof AnalysisThresholds, rule: Rule, nullable: boolean): number | null => {
    const value = input[key];
    const fallback = DEFAULT_THRESHOLDS[key] as number | null;
    if (value === undefined) return fallback;
    if (value === null && nullable) return null;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      const expected = nullable ? 'a finite number or null (off)' : 'a finite number';
      issues.push({ path: at(key), message: `must be ${expected}, got ${describe(value)}` });
      return fallback;
    }
    const problem = rule(value);
    if (problem) issues.push({ path: at(key), message: problem });
    return value;
  };
  const minRequests = number(
    'minRequests',
    (v) => (Number.isInteger(v) && v >= 1 ? undefined : 'must be a whole number of at least 1'),
    false,
  ) as number;
  const alpha = number(
    'alpha',
    (v) => (v > 0 && v <= 1 ? undefined : 'must be above 0 and at most 1'),
    false,
  );
  const mode = input.latencyWithoutSamples ?? DEFAULT_THRESHOLDS.latencyWithoutSamples;
  if (mode !== 'inconclusive' && mode !== 'fail') {
    issues.push({ path: at('latencyWithoutSamples'), message: 'must be "inconclusive" or "fail"' });
  }
  const result: AnalysisThresholds = {
    minRequests,
    alpha: alpha as number,
    maxErrorRate: number('maxErrorRate', fraction, true),
    maxErrorRateIncrease: number('maxErrorRateIncrease', fraction, true),
    maxP95Seconds: number('maxP95Seconds', seconds, true),
    maxP95Ratio: number('maxP95Ratio', ratio, true),
    maxP99Ratio: number('maxP99Ratio', ratio, true),
    minLatencyIncreaseSeconds: number(
      'minLatencyIncreaseSeconds',
      (v) => (v >= 0 ? undefined : 'must be 0 or more (seconds)'),
      false,
    ) as number,
    latencyWithoutSamples: mode === 'fail' ? 'fail' : 'inconclusive',
  };
  if (issues.length > 0) throw new CanaryConfigError(issues);
  return Object.freeze(result);
}
