import { describe, expect, it } from 'vitest';
import { type AnalysisResult, analyze, type CheckName } from '../../src/analysis/analyze.js';
import { seededRandom } from '../../src/analysis/random.js';
import { DEFAULT_THRESHOLDS } from '../../src/analysis/thresholds.js';
import { lognormal, version } from './helpers.js';

const check = (result: AnalysisResult, name: CheckName) => result.checks.find((c) => c.name === name)!;

describe('verdicts: each threshold fails with evidence and not without', () => {
  it('one error in three requests is not a rollback', () => {
    const input = { canary: version(3, 1), stable: version(1000, 5, { seed: 2 }) };
    // With the default minimum the step simply waits for data …
    const waiting = analyze(input);
    expect(waiting.verdict).toBe('inconclusive');
    expect(waiting.reason).toContain('waiting for data: canary has 3 requests');
    // … and with no minimum at all, the evidence requirement alone keeps it from failing: 33 % is past
    // both error thresholds, but 1 of 3 is no evidence (binomial p = 0.14, Fisher p = 0.018 > 0.01).
    const judged = analyze(input, { minRequests: 1 });
    expect(judged.verdict).toBe('inconclusive');
    expect(check(judged, 'error-rate')).toMatchObject({ status: 'unproven', test: 'binomial' });
    expect(check(judged, 'error-rate').pValue).toBeCloseTo(0.142625, 10);
    expect(check(judged, 'error-rate-increase').status).toBe('unproven');
    expect(judged.reason).toContain('not significant');
    expect(judged.reason).toContain('holding for more data');
  });

  it('stable 0/1000 vs canary 31/1000 fails on the +3 pp rule (stable without errors, Fisher)', () => {
    const result = analyze({ canary: version(1000, 31), stable: version(1000, 0, { seed: 2 }) });
    expect(result.verdict).toBe('fail');
    expect(result.failed).toEqual(['error-rate-increase']);
    const increase = check(result, 'error-rate-increase');
    expect(increase.test).toBe('fisher');
    expect(increase.observed).toBeCloseTo(0.031, 12);
    expect(increase.pValue).toBeLessThan(1e-8);
    expect(result.reason).toMatch(
      /^canary error rate 3\.1 % \(31 of 1,000\) vs stable 0\.00 % \(0 of 1,000\): \+3\.1 pp > 3 pp, p = [\d.]+e-10 \(Fisher\)$/,
    );
  });

  it('exactly +3 pp is not "more than 3 pp": 30/1000 vs 0/1000 passes', () => {
    // 0.03 − 0 sits on the threshold; float noise (35/1000 − 5/1000 = 0.030000000000000002) must not tip it.
    expect(analyze({ canary: version(1000, 30), stable: version(1000, 0, { seed: 2 }) }).verdict).toBe(
      'pass',
    );
    expect(analyze({ canary: version(1000, 35), stable: version(1000, 5, { seed: 2 }) }).verdict).toBe(
      'pass',
    );
  });

  it('20 % of requests failing with 500 fails on both error checks', () => {
    const result = analyze({ canary: version(200, 40), stable: version(9900, 40, { seed: 2 }) });
    expect(result.verdict).toBe('fail');
    expect(result.failed).toEqual(['error-rate', 'error-rate-increase']);
    expect(check(result, 'error-rate').pValue).toBeLessThan(1e-10);
    expect(result.reason).toContain('canary error rate 20.0 % (40 of 200) > 5 %, p = ');
    expect(result.reason).toContain('+19.6 pp > 3 pp');
  });

  it('the absolute 5 % limit needs evidence too: 4 errors in 60 is past it but unproven', () => {
    const result = analyze({ canary: version(60, 4), stable: version(60, 3, { seed: 2 }) });
    expect(check(result, 'error-rate')).toMatchObject({ status: 'unproven' });
    expect(result.verdict).toBe('inconclusive');
  });

  it('+300 ms on 200 samples fails on the latency ratio (Mann–Whitney)', () => {
    const result = analyze({
      canary: version(200, 1, { shift: 0.3 }),
      stable: version(200, 1, { seed: 2 }),
    });
    expect(result.verdict).toBe('fail');
    expect(result.failed).toContain('p95-ratio');
    const p95 = check(result, 'p95-ratio');
    expect(p95.test).toBe('mann-whitney');
    expect(p95.observed).toBeGreaterThan(1.5);
    expect(p95.pValue).toBeLessThan(1e-20);
    expect(result.reason).toMatch(/canary p95 \d+ ms vs stable \d+ ms: [\d.]+× > 1\.5×, p [=<] /);
  });

  it('a canary p95 above 2 s fails on the absolute limit with the binomial test on the sample', () => {
    // Both versions slow alike: no ratio past 1.5×, only the absolute limit.
    const result = analyze({
      canary: version(500, 1, { median: 1.5 }),
      stable: version(5000, 10, { seed: 2, median: 1.5 }),
    });
    expect(result.verdict).toBe('fail');
    expect(result.failed).toEqual(['p95']);
    expect(check(result, 'p95').test).toBe('binomial');
    expect(result.reason).toContain('sampled requests above it');
  });

  it('a p95 barely past 2 s on few samples is unproven, not a failure', () => {
    // 60 samples, 4 above 2 s: the p95 is past 2 s, but 6.7 % above is no evidence against "≤ 5 %" (p = 0.35).
    const samples = [...Array(56).fill(0.1), 2.5, 2.6, 2.7, 2.8];
    const result = analyze({
      canary: { requests: 60, errors: 0, latencySamples: samples },
      stable: { requests: 60, errors: 0, latencySamples: samples },
    });
    const p95 = check(result, 'p95');
    expect(p95.status).toBe('unproven');
    expect(p95.pValue).toBeGreaterThan(0.3);
    expect(result.verdict).toBe('inconclusive');
  });

  it('below minRequests per version the verdict is inconclusive, whatever the data say', () => {
    const result = analyze({ canary: version(49, 49), stable: version(10_000, 0, { seed: 2 }) });
    expect(result.verdict).toBe('inconclusive');
    expect(result.checks.every((c) => c.status === 'skipped')).toBe(true);
    expect(result.failed).toEqual([]);
    // every input is still reported
    expect(result.canary).toMatchObject({ requests: 49, errors: 49, errorRate: 1 });
    // and stable below the minimum holds too
    expect(analyze({ canary: version(500, 0), stable: version(10, 0, { seed: 2 }) }).verdict).toBe(
      'inconclusive',
    );
  });

  it('a 1 % vs 99 % traffic split with equal rates passes: rates are compared, never counts', () => {
    const result = analyze({ canary: version(100, 1), stable: version(9900, 99, { seed: 2 }) });
    expect(result.verdict).toBe('pass');
    expect(result.canary.errorRate).toBeCloseTo(result.stable.errorRate!, 12);
    expect(result.reason).toMatch(
      /^canary within thresholds: error rate 1\.0 % vs 1\.0 % \(\+0\.00 pp\); p95 /,
    );
  });

  it('a canary better than stable passes (the tests are one-sided)', () => {
    const result = analyze({
      canary: version(1000, 0, { median: 0.04 }),
      stable: version(1000, 50, { seed: 2 }),
    });
    expect(result.verdict).toBe('pass');
    expect(check(result, 'error-rate-increase').pValue).toBe(1);
    expect(check(result, 'p95-ratio').pValue).toBeGreaterThan(0.99);
  });

  it('stable with zero errors: a canary error or two is no failure, Fisher decides', () => {
    const one = analyze({ canary: version(100, 1), stable: version(9900, 0, { seed: 2 }) });
    expect(one.verdict).toBe('pass'); // +1 pp is within 3 pp
    const four = analyze({ canary: version(100, 4), stable: version(9900, 0, { seed: 2 }) });
    expect(four.verdict).toBe('fail'); // 4 % vs 0 % of 9,900: +4 pp, p ≈ 1e-8
    expect(check(four, 'error-rate-increase')).toMatchObject({ status: 'fail', test: 'fisher' });
    const sparse = analyze({ canary: version(60, 2), stable: version(60, 0, { seed: 2 }) });
    expect(check(sparse, 'error-rate-increase').status).toBe('unproven'); // 3.3 pp, p = 0.25
  });
});

describe('latency: tails and sources without samples', () => {
  it('a tail-only regression (p99 ×3, median unchanged) is unproven: the step holds, never passes', () => {
    const random = seededRandom(7);
    const stable = lognormal(random, 2000, 0.08);
    const canary = lognormal(random, 2000, 0.08);
    for (let i = 0; i < 60; i++) canary[i]! *= 4; // 3 % of requests four times slower
    const result = analyze({
      canary: { requests: 5000, errors: 0, latencySamples: canary },
      stable: { requests: 5000, errors: 0, latencySamples: stable },
    });
    expect(check(result, 'p99-ratio').observed).toBeGreaterThan(1.5);
    expect(check(result, 'p99-ratio').status).toBe('unproven');
    expect(result.verdict).toBe('inconclusive');
  });

  it('quantiles without samples: compared, never tested; an effect holds the step by default', () => {
    const input = {
      canary: { requests: 5000, errors: 5, p50: 0.1, p95: 0.4, p99: 0.5 },
      stable: { requests: 50_000, errors: 40, p50: 0.08, p95: 0.2, p99: 0.3 },
    };
    const held = analyze(input);
    expect(held.verdict).toBe('inconclusive');
    expect(held.canary.latency).toBe('quantiles');
    expect(check(held, 'p95-ratio')).toMatchObject({ status: 'unproven', test: 'none', pValue: null });
    expect(held.reason).toContain('quantiles only: no samples to test');
    const failing = analyze(input, { latencyWithoutSamples: 'fail' });
    expect(failing.verdict).toBe('fail');
    expect(failing.failed).toEqual(['p95-ratio', 'p99-ratio']);
    const fine = analyze({ ...input, canary: { ...input.canary, p95: 0.22, p99: 0.31 } });
    expect(fine.verdict).toBe('pass');
  });

  it('fewer than 20 samples count as quantiles only', () => {
    const result = analyze({
      canary: { requests: 100, errors: 0, latencySamples: [0.5, 0.6, 0.7] },
      stable: version(100, 0),
    });
    expect(result.canary.latency).toBe('quantiles');
    expect(check(result, 'p95-ratio').status).toBe('unproven');
  });

  it('no latency at all: latency checks are skipped, errors still judged', () => {
    const result = analyze({ canary: { requests: 100, errors: 0 }, stable: { requests: 100, errors: 1 } });
    expect(result.verdict).toBe('pass');
    expect(check(result, 'p95').status).toBe('skipped');
    expect(check(result, 'p95-ratio').detail).toBe('no p95 latency for canary');
    expect(result.canary.latency).toBe('none');
  });

  it('stable at 0 s: a canary above it is an unbounded ratio, 0 vs 0 is no change', () => {
    const zeros = new Float64Array(50);
    const result = analyze({
      canary: { requests: 50, errors: 0, latencySamples: new Float64Array(50).fill(0.1) },
      stable: { requests: 50, errors: 0, latencySamples: zeros },
    });
    expect(check(result, 'p95-ratio').observed).toBe(Number.POSITIVE_INFINITY);
    expect(result.verdict).toBe('fail');
    const same = analyze({
      canary: { requests: 50, errors: 0, latencySamples: zeros },
      stable: { requests: 50, errors: 0, latencySamples: zeros },
    });
    expect(check(same, 'p95-ratio').observed).toBe(1);
    expect(same.verdict).toBe('pass');
  });
});

describe('a latency ratio needs a difference that matters', () => {
  it('sub-millisecond quantiles 1.8× apart are no effect (minLatencyIncreaseSeconds, default 25 ms)', () => {
    const result = analyze({
      canary: { requests: 200, errors: 0, latencySamples: new Float64Array(200).fill(0.0009) },
      stable: { requests: 200, errors: 0, latencySamples: new Float64Array(200).fill(0.0005) },
    });
    expect(check(result, 'p95-ratio').observed).toBeCloseTo(1.8);
    expect(result.verdict).toBe('pass');
    const strict = analyze(
      {
        canary: { requests: 200, errors: 0, latencySamples: new Float64Array(200).fill(0.0009) },
        stable: { requests: 200, errors: 0, latencySamples: new Float64Array(200).fill(0.0005) },
      },
      { minLatencyIncreaseSeconds: 0 },
    );
    expect(strict.verdict).not.toBe('pass');
  });
});

describe('the result carries every input', () => {
  it('n, rates, quantiles, p-values and thresholds per version', () => {
    const result = analyze({ canary: version(500, 10), stable: version(5000, 25, { seed: 2 }) });
    for (const v of [result.canary, result.stable]) {
      expect(v.latency).toBe('samples');
      expect(v.p50).toBeGreaterThan(0);
      expect(v.p95).toBeGreaterThan(v.p50!);
      expect(v.p99).toBeGreaterThan(v.p95!);
    }
    expect(result.canary).toMatchObject({ requests: 500, errors: 10, errorRate: 0.02, latencySamples: 500 });
    expect(result.stable).toMatchObject({
      requests: 5000,
      errors: 25,
      errorRate: 0.005,
      latencySamples: 5000,
    });
    expect(result.thresholds).toEqual(DEFAULT_THRESHOLDS);
    expect(result.checks.map((c) => c.name)).toEqual([
      'error-rate',
      'error-rate-increase',
      'p95',
      'p95-ratio',
      'p99-ratio',
    ]);
    // p-values are computed for passing checks too
    for (const c of result.checks) expect(c.pValue).not.toBeNull();
    expect(JSON.parse(JSON.stringify(result))).toEqual(result); // serializable as an event / in a store
  });
});

describe('thresholds are configurable', () => {
  it('null turns a check off', () => {
    const input = { canary: version(200, 40), stable: version(9900, 40, { seed: 2 }) };
    const result = analyze(input, { maxErrorRate: null, maxErrorRateIncrease: null });
    expect(result.verdict).toBe('pass');
    expect(check(result, 'error-rate')).toMatchObject({ status: 'skipped', detail: 'off', observed: 0.2 });
  });

  it('a tighter threshold catches a smaller regression, with the same evidence rule', () => {
    const input = { canary: version(2000, 30), stable: version(20_000, 100, { seed: 2 }) };
    expect(analyze(input).verdict).toBe('pass'); // +1 pp
    const tight = analyze(input, { maxErrorRateIncrease: 0.005 });
    expect(tight.verdict).toBe('fail');
    expect(tight.reason).toContain('+1.0 pp > 0.5 pp');
  });

  it('alpha = 1 asks for no evidence: the plain thresholds', () => {
    // 2 of 50 vs 0.5 %: +3.5 pp, Fisher p = 0.03
    const input = { canary: version(50, 2), stable: version(6000, 30, { seed: 2 }) };
    expect(analyze(input).verdict).toBe('inconclusive');
    expect(analyze(input, { alpha: 1 }).verdict).toBe('fail');
  });
});

describe('bad data never throws', () => {
  it.each([
    [{ requests: Number.NaN, errors: 0 }, 'canary requests is NaN'],
    [{ requests: -1, errors: 0 }, 'canary requests is -1'],
    [{ requests: 10, errors: 11 }, 'canary has more errors (11) than requests (10)'],
    [{ requests: 10, errors: undefined as unknown as number }, 'canary errors is undefined'],
  ])('%o → inconclusive', (canary, message) => {
    const result = analyze({ canary, stable: version(100, 0) });
    expect(result.verdict).toBe('inconclusive');
    expect(result.reason).toBe(`invalid input: ${message}`);
  });

  it('missing versions, junk samples and fractional counts', () => {
    expect(analyze({} as never).verdict).toBe('inconclusive');
    const junk = analyze({
      canary: { requests: 100.4, errors: 0.6, latencySamples: 'fast' as never },
      stable: { requests: 100, errors: 0, latencySamples: [Number.NaN, -1, Number.POSITIVE_INFINITY] },
    });
    expect(junk.canary).toMatchObject({ requests: 100, errors: 1, latency: 'none' });
    expect(junk.stable.latencySamples).toBe(0);
    expect(junk.verdict).toBe('pass');
  });
});
