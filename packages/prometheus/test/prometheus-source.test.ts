import { analyze, CanaryConfigError } from '@canary-kit/core';
import { PrometheusSource } from '@canary-kit/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrometheusServer, startPrometheus } from '../../../test/helpers/prometheus-server.js';
import { FLAG, type MetricsService, metricsService, type Served, until } from './support/service.js';

const SCRAPE_MS = 250;

let service: MetricsService;
/** A second service whose flag route is a pattern full of regex metacharacters. */
let patterned: MetricsService;
const PATTERN = '/files/*.(json|csv)/:id?';
let prom: PrometheusServer;

const sumByVersion = async (metric: string): Promise<Record<string, number>> =>
  Object.fromEntries(
    (await prom.query(`sum by (version) (${metric}{instance="${service.target}",route="/checkout"})`)).map(
      (s) => [s.metric.version, Number(s.value[1])],
    ),
  );

/** Until Prometheus' latest scrape shows exactly what the handlers have served. */
const scraped = () =>
  until(async () => {
    const count = await sumByVersion('http_request_duration_seconds_count');
    const [other] = await prom.query(
      `sum(http_request_duration_seconds_count{instance="${service.target}",route="/other"})`,
    );
    return (
      count.stable === service.served.stable.requests &&
      count.canary === service.served.canary.requests &&
      Number(other?.value[1]) === service.other.requests
    );
  }, 'prometheus to scrape what was served');

/** Until Prometheus has scraped at least once after `t` (ms since the epoch). */
const scrapedAfter = (t: number) =>
  until(async () => {
    const [up] = await prom.query(`timestamp(up{instance="${service.target}"})`);
    return up !== undefined && Number(up.value[1]) * 1000 > t;
  }, 'a scrape after the mark');

/** Until Prometheus holds at least `n` scrapes since `t`, so extrapolation is a small part of the range. */
const samplesSince = (t: number, n: number) =>
  until(async () => {
    const range = Math.ceil((Date.now() - t) / 1000);
    const [c] = await prom.query(`count_over_time(up{instance="${service.target}"}[${range}s])`);
    return c !== undefined && Number(c.value[1]) >= n;
  }, `${n} scrapes`);

const copy = (s: Served): Served => ({ ...s });

beforeAll(async () => {
  // Half the users get the canary; every fifth canary answer is a 500 (the first one too, so the canary's
  // 5xx series exists before the measured window), and the canary is ~30 ms slower.
  service = await metricsService(
    { flags: { [FLAG]: { percentage: 50 } } },
    { canaryStatus: (n) => (n % 5 === 0 ? 500 : 200), canaryDelayMs: 30 },
  );
  patterned = await metricsService({ flags: { [FLAG]: { percentage: 50 } } }, { route: PATTERN });
  prom = await startPrometheus({ targets: [service.target, patterned.target], scrapeIntervalMs: SCRAPE_MS });
  // Warm-up: every series the window will read exists before it starts (Prometheus' increase() cannot count a
  // series' first scraped value).
  await service.drive(40);
  await service.drive(5, '/other');
  await patterned.drive(30);
  await prom.waitForTargetsUp();
  await scraped();
});

afterAll(async () => {
  await prom?.stop();
  await service?.close();
  await patterned?.close();
});

describe('PrometheusSource against a real Prometheus scraping a real service', () => {
  let mark: number;
  let before: { stable: Served; canary: Served };
  let source: PrometheusSource;

  beforeAll(async () => {
    source = new PrometheusSource({
      url: prom.url,
      selector: `instance="${service.target}"`,
      flags: { [FLAG]: { routes: ['/checkout'] } },
      scrapeIntervalMs: SCRAPE_MS,
    });
    mark = Date.now();
    before = { stable: copy(service.served.stable), canary: copy(service.served.canary) };
    // The first sample in the window is taken before its traffic: the baseline is in the range.
    await scrapedAfter(mark);
    await service.drive(400);
    await service.drive(30, '/other');
    await scraped();
    await samplesSince(mark, 12);
  });

  it('counts what was served per version, within Prometheus extrapolation; a version without 5xx has 0 errors', async () => {
    const snap = await source.snapshot(FLAG, mark);
    const served = {
      stable: service.served.stable.requests - before.stable.requests,
      canary: service.served.canary.requests - before.canary.requests,
      canaryErrors: service.served.canary.errors - before.canary.errors,
    };
    expect(served.stable).toBeGreaterThan(100);
    expect(served.canary).toBeGreaterThan(100);
    // increase() extrapolates past the first and last samples by at most 1.1 scrape intervals at each end,
    // which scales the count by (span + extension) / span: ≥ 12 scrapes of 250 ms in span bound it by 1.2×.
    const within = (got: number, want: number) => {
      expect(got).toBeGreaterThanOrEqual(want - 1e-6);
      expect(got).toBeLessThanOrEqual(want * 1.2 + 1e-6);
    };
    within(snap.stable.requests, served.stable);
    within(snap.canary.requests, served.canary);
    within(snap.canary.errors, served.canaryErrors);
    expect(snap.stable.errors).toBe(0); // no 5xx series for stable at all: 0, not "no data"
    expect(snap.to - snap.from).toBe(1000 * Math.max(1, Math.ceil((snap.to - mark) / 1000)));
    expect(snap.stable.latencySamples).toBeUndefined();
    expect(source.stats).toMatchObject({ failures: 0, rejected: 0 });
  });

  it('gives sane quantiles: ordered, stable in the first bucket, the 30 ms canary above 25 ms', async () => {
    const { stable, canary } = await source.snapshot(FLAG, mark);
    for (const v of [stable, canary]) {
      expect(v.p50).toBeGreaterThan(0);
      expect(v.p50!).toBeLessThanOrEqual(v.p95!);
      expect(v.p95!).toBeLessThanOrEqual(v.p99!);
    }
    expect(canary.p50).toBeGreaterThanOrEqual(0.025);
    expect(canary.p99).toBeLessThanOrEqual(10);
    expect(stable.p50).toBeLessThan(canary.p50!);
  });

  it('the analysis reads it as quantiles without samples and judges the 20 % canary errors', async () => {
    const result = analyze(await source.snapshot(FLAG, mark), { minRequests: 50 });
    expect(result.canary.latency).toBe('quantiles');
    expect(result.verdict).toBe('fail');
    expect(result.failed).toContain('error-rate');
    const latency = result.checks.find((c) => c.name === 'p95-ratio');
    expect(latency).toMatchObject({ test: 'none', pValue: null });
  });

  it('selects a flag by its routes: unbound-route traffic (labelled stable) is left out, or in without them', async () => {
    // Both evaluated at one instant, over one range: the same extrapolation.
    const now = Date.now();
    const options = {
      url: prom.url,
      selector: `instance="${service.target}"`,
      scrapeIntervalMs: SCRAPE_MS,
      now: () => now,
    };
    const routed = await new PrometheusSource({
      ...options,
      flags: { [FLAG]: { routes: ['/checkout'] } },
    }).snapshot(FLAG, mark);
    const unrouted = await new PrometheusSource(options).snapshot(FLAG, mark);
    // 30 /other requests in the window, all stable: only the route-less source counts them.
    expect(unrouted.stable.requests - routed.stable.requests).toBeGreaterThanOrEqual(30 - 1e-6);
    expect(unrouted.canary.requests).toBeCloseTo(routed.canary.requests, 6);
  });

  it('a selector that matches nothing: 0 requests, 0 errors, no quantiles — and the analysis waits', async () => {
    const none = new PrometheusSource({
      url: prom.url,
      flags: { [FLAG]: { routes: ['/no-such-route'] } },
      scrapeIntervalMs: SCRAPE_MS,
    });
    const snap = await none.snapshot(FLAG, mark);
    expect(snap.stable).toEqual({ requests: 0, errors: 0 });
    expect(snap.canary).toEqual({ requests: 0, errors: 0 });
    const result = analyze(snap);
    expect(result.verdict).toBe('inconclusive');
    expect(result.reason).toMatch(/waiting for data/);
  });

  it('honours custom templates and their placeholders', async () => {
    // An exact count for counters that existed before the window: last minus first sample in the range.
    const custom = new PrometheusSource({
      url: prom.url,
      selector: `instance="${service.target}"`,
      flags: { [FLAG]: { selector: 'route="/checkout"' } },
      scrapeIntervalMs: SCRAPE_MS,
      queries: {
        requests:
          'sum(max_over_time(http_request_duration_seconds_count{{{selector}}}[{{range}}]) - min_over_time(http_request_duration_seconds_count{{{selector}}}[{{range}}]))',
        errors:
          'sum(max_over_time(http_request_duration_seconds_count{{{selector}},status_code="500"}[{{range}}]) - min_over_time(http_request_duration_seconds_count{{{selector}},status_code="500"}[{{range}}]))',
        latency: null,
      },
    });
    const snap = await custom.snapshot(FLAG, mark);
    expect(snap.stable).toEqual({
      requests: service.served.stable.requests - before.stable.requests,
      errors: 0,
    });
    expect(snap.canary).toEqual({
      requests: service.served.canary.requests - before.canary.requests,
      errors: service.served.canary.errors - before.canary.errors,
    });
    expect(custom.queriesFor(FLAG, 'canary', 7).requests).toContain(
      `{instance="${service.target}",route="/checkout",version="canary"}[7s]`,
    );

    // {{version}} and {{flag}}: a template may build its own matchers.
    const now = Date.now();
    const byHand = new PrometheusSource({
      url: prom.url,
      scrapeIntervalMs: SCRAPE_MS,
      now: () => now,
      queries: {
        requests: `sum(increase(http_request_duration_seconds_count{instance="${service.target}",route="/{{flag}}",version="{{version}}"}[{{range}}]))`,
        latency: null,
      },
    });
    const viaPlaceholders = await byHand.snapshot(FLAG, mark);
    const viaDefaults = await new PrometheusSource({
      url: prom.url,
      selector: `instance="${service.target}"`,
      flags: { [FLAG]: { routes: ['/checkout'] } },
      scrapeIntervalMs: SCRAPE_MS,
      now: () => now,
    }).snapshot(FLAG, mark);
    expect(viaPlaceholders.canary.requests).toBeCloseTo(viaDefaults.canary.requests, 6);
    expect(viaPlaceholders.canary.p95).toBeUndefined();
  });

  it('rejects, naming the query, when a template returns several series or Prometheus cannot parse it', async () => {
    const unaggregated = new PrometheusSource({
      url: prom.url,
      flags: { [FLAG]: { routes: ['/checkout'] } },
      queries: { errors: 'increase(http_request_duration_seconds_count{{{selector}}}[{{range}}])' },
    });
    await expect(unaggregated.snapshot(FLAG, mark)).rejects.toThrow(
      /returned 2 series for query increase\(.*aggregate it/,
    );
    const broken = new PrometheusSource({ url: prom.url, queries: { requests: 'sum(rate(x[{{range}}])' } });
    await expect(broken.snapshot(FLAG, mark)).rejects.toThrow(/answered HTTP 400 \(bad_data: .*parse error/);
    expect(broken.stats).toEqual({ snapshots: 0, failures: 1, rejected: 0 });
  });
});

describe('PrometheusSource options', () => {
  it('names every bad option with its path and rule', () => {
    let error: unknown;
    try {
      new PrometheusSource({
        url: 'ftp://x',
        selector: '{job="a"}',
        flags: { a: { selector: 'route=/x', routes: [] }, b: { selector: 'version="canary"' } },
        queries: {
          requests: 'sum(x{{{selectr}}})',
          latency: 'histogram_quantile(0.9, x)',
          errors: 'x{{{quantile}}}',
          ...({ p95: 'x' } as object),
        },
        timeoutMs: 0,
        headers: { authorization: 1 as unknown as string },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CanaryConfigError);
    const issues = (error as CanaryConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    expect(issues).toEqual([
      expect.stringMatching(/^PrometheusSource\.url: must be an http\(s\) URL/),
      expect.stringMatching(/^PrometheusSource\.selector: give the label matchers without the braces/),
      expect.stringMatching(/^PrometheusSource\.flags\.a\.selector: must be comma-separated label matchers/),
      expect.stringMatching(/^PrometheusSource\.flags\.a\.routes: must be a non-empty array/),
      expect.stringMatching(/^PrometheusSource\.flags\.b\.selector: must not match on version/),
      expect.stringMatching(/^PrometheusSource\.queries\.requests: unknown placeholder \{\{selectr\}\}/),
      expect.stringMatching(/^PrometheusSource\.queries\.latency: must use \{\{quantile\}\}/),
      expect.stringMatching(/^PrometheusSource\.queries\.errors: \{\{quantile\}\} is only filled in latency/),
      expect.stringMatching(/^PrometheusSource\.queries\.p95: unknown query/),
      expect.stringMatching(/^PrometheusSource\.timeoutMs: must be a positive number, got 0/),
      expect.stringMatching(/^PrometheusSource\.headers: must map header names to strings/),
    ]);
  });

  it('defaults: the documented templates, rendered with the selector, version and range', () => {
    const source = new PrometheusSource({ url: 'http://prometheus:9090/', selector: 'job="shop",' });
    expect(source.url).toBe('http://prometheus:9090');
    expect(source.queriesFor('checkout', 'canary', 60)).toEqual({
      requests: 'sum(increase(http_request_duration_seconds_count{job="shop",version="canary"}[60s]))',
      errors:
        'sum(increase(http_request_duration_seconds_count{job="shop",version="canary",status_code=~"5.."}[60s]))',
      p50: 'histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{job="shop",version="canary"}[60s])))',
      p95: 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="shop",version="canary"}[60s])))',
      p99: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="shop",version="canary"}[60s])))',
    });
  });
});

describe('routes with regex metacharacters, against the real RE2 matcher', () => {
  it('matches the pattern exactly, and nothing that a regex reading of it would', async () => {
    await until(async () => {
      const [c] = await prom.query(
        `sum(http_request_duration_seconds_count{instance="${patterned.target}"})`,
      );
      return c !== undefined && Number(c.value[1]) === 30;
    }, 'the patterned service scraped');
    const total = async (routes: string[]) => {
      const s = new PrometheusSource({
        url: prom.url,
        selector: `instance="${patterned.target}"`,
        flags: { [FLAG]: { routes } },
        scrapeIntervalMs: SCRAPE_MS,
        queries: {
          // The series' whole count, so the check does not depend on a window.
          requests: 'sum(max_over_time(http_request_duration_seconds_count{{{selector}}}[{{range}}]))',
          latency: null,
        },
      });
      const snap = await s.snapshot(FLAG, Date.now() - 60_000);
      return snap.stable.requests + snap.canary.requests;
    };
    // Unescaped, this pattern would not match its own label (`*` and `(…)` are operators): 30 proves the escaping.
    expect(await total([PATTERN])).toBe(30);
    expect(await total(['/checkout', PATTERN])).toBe(30);
    // Unescaped, these would match every route; as exact routes they match none.
    expect(await total(['.*'])).toBe(0);
    expect(await total(['/files/.*'])).toBe(0);
  });
});
