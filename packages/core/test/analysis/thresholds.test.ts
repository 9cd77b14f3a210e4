import { describe, expect, it } from 'vitest';
import {
  formatP,
  formatPoints,
  formatRate,
  formatRatio,
  formatSeconds,
  formatSecondsThreshold,
} from '../../src/analysis/format.js';
import { DEFAULT_THRESHOLDS, resolveThresholds } from '../../src/analysis/thresholds.js';
import { CanaryConfigError } from '../../src/config/errors.js';

function issues(input: unknown, path?: string) {
  try {
    resolveThresholds(input, path);
  } catch (error) {
    expect(error).toBeInstanceOf(CanaryConfigError);
    return (error as CanaryConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected a CanaryConfigError');
}

describe('resolveThresholds', () => {
  it('defaults', () => {
    expect(resolveThresholds()).toEqual({
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
    expect(Object.isFrozen(DEFAULT_THRESHOLDS)).toBe(true);
  });

  it('overrides single keys and turns checks off with null', () => {
    const t = resolveThresholds({ alpha: 0.001, maxP99Ratio: null, latencyWithoutSamples: 'fail' });
    expect(t).toMatchObject({
      alpha: 0.001,
      maxP99Ratio: null,
      maxP95Ratio: 1.5,
      latencyWithoutSamples: 'fail',
    });
  });

  it('names every bad key with its path and rule', () => {
    expect(
      issues(
        {
          minRequests: 0,
          alpha: 0,
          maxErrorRate: 5,
          maxErrorRateIncrease: '3pp',
          maxP95Seconds: -2,
          maxP95Ratio: 0.5,
          latencyWithoutSamples: 'pass',
          maxP50Ratio: 2,
        },
        'flags.checkout.analysis',
      ),
    ).toEqual([
      'flags.checkout.analysis.maxP50Ratio: unknown option',
      'flags.checkout.analysis.minRequests: must be a whole number of at least 1',
      'flags.checkout.analysis.alpha: must be above 0 and at most 1',
      'flags.checkout.analysis.latencyWithoutSamples: must be "inconclusive" or "fail"',
      'flags.checkout.analysis.maxErrorRate: must be at least 0 and below 1 (0.05 = 5 %)',
      'flags.checkout.analysis.maxErrorRateIncrease: must be a finite number or null (off), got string "3pp"',
      'flags.checkout.analysis.maxP95Seconds: must be above 0 (seconds)',
      'flags.checkout.analysis.maxP95Ratio: must be at least 1 (1.5 = 50 % slower)',
    ]);
    expect(issues({ minRequests: null })).toEqual([
      'analysis.minRequests: must be a finite number, got null',
    ]);
    expect(issues([])).toEqual(['analysis: must be an object, got an array']);
  });
});

describe('reason formats', () => {
  it('reads the same on every machine', () => {
    expect(formatRate(0.21)).toBe('21.0 %');
    expect(formatRate(0.0045)).toBe('0.45 %');
    expect(formatRate(0.00999999)).toBe('1.0 %');
    expect(formatPoints(0.206)).toBe('+20.6 pp');
    expect(formatPoints(-0.001)).toBe('-0.10 pp');
    expect(formatSeconds(0.1824)).toBe('182 ms');
    expect(formatSeconds(0.0042)).toBe('4.2 ms');
    expect(formatSeconds(2.314)).toBe('2.31 s');
    expect(formatSecondsThreshold(0.5)).toBe('500 ms');
    expect(formatRatio(1.7234)).toBe('1.72×');
    expect(formatRatio(Number.POSITIVE_INFINITY)).toBe('∞×');
    expect(formatP(0.142625)).toBe('p = 0.14');
    expect(formatP(0.00312)).toBe('p = 0.0031');
    expect(formatP(1e-9)).toBe('p = 1e-9');
    expect(formatP(2.44e-9)).toBe('p = 2.4e-9');
    expect(formatP(3.8e-163)).toBe('p < 1e-15');
    expect(formatP(0)).toBe('p < 1e-15');
  });
});
