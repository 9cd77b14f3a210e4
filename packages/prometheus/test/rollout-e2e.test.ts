import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import type { AnalysisEvent, RollbackEvent, StepEvent } from '@canary-kit/core';
import { PrometheusSource } from '@canary-kit/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrometheusServer, startPrometheus } from '../../../test/helpers/prometheus-server.js';
import { FLAG, type MetricsService, metricsService, until } from './support/service.js';

/**
 * The rollout controller on Prometheus data: real services export the version-labelled histogram, a real
 * Prometheus scrapes them, and the controller's only view of the traffic is PromQL.
 */

const SCRAPE_MS = 500;
const rollout = { steps: [20, 50, 100], intervalMs: 1000, minRequests: 20, failureLimit: 2 };

interface Watched {
  service: MetricsService;
  analysis: AnalysisEvent[];
  step: StepEvent[];
  rollback: RollbackEvent[];
  errors: Error[];
  complete: number;
  failedRequests: number;
  stopTraffic?: () => Promise<void>;
}

const services: Watched[] = [];
let prom: PrometheusServer;

/** A service whose rollout reads `source(target)`; listeners on from the start. */
async function watched(
  source: (target: string) => PrometheusSource,
  behaviour: Parameters<typeof metricsService>[1] = {},
  plan: object = {},
): Promise<Watched> {
  // The target is only known once it listens, and the source needs it: it is created on first use.
  let resolved: PrometheusSource | undefined;
  let target = '';
  const lazy = {
    kind: 'prometheus',
    snapshot: (flag: string, since: number) => {
      resolved ??= source(target);
      return resolved.snapshot(flag, since);
    },
  };
  const service = await metricsService(
    { flags: { [FLAG]: { percentage: 0, rollout: { ...rollout, ...plan } } }, rollout: { source: lazy } },
    behaviour,
  );
  target = service.target;
  const w: Watched = {
    service,
    analysis: [],
    step: [],
    rollback: [],
    errors: [],
    complete: 0,
    failedRequests: 0,
  };
  service.canary.on('analysis', (e) => w.analysis.push(e));
  service.canary.on('step', (e) => w.step.push(e));
  service.canary.on('rollback', (e) => w.rollback.push(e));
  service.canary.on('complete', () => w.complete++);
  service.canary.on('error', (e) => w.errors.push(e));
  services.push(w);
  return w;
}

/** Requests from rotating users until stopped; a request that fails to get an answer is counted. */
function traffic(w: Watched): void {
  let stopped = false;
  const run = (async () => {
    while (!stopped) {
      await w.service.drive(10).catch(() => w.failedRequests++);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  w.stopTraffic = async () => {
    stopped = true;
    await run;
  };
}

/** A port that was just free: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

let failing: Watched;
let healthy: Watched;
let blind: Watched;
let slowHeld: Watched;
let slowFailed: Watched;

beforeAll(async () => {
  const source = (target: string) =>
    new PrometheusSource({
      url: prom.url,
      selector: `instance="${target}"`,
      flags: { [FLAG]: { routes: ['/checkout'] } },
      scrapeIntervalMs: SCRAPE_MS,
      timeoutMs: 2000,
    });
  failing = await watched(source, { canaryStatus: () => 503 });
  healthy = await watched(source);
  // 300 ms slower: the p95/p99 effect is there, but from a histogram it cannot be tested.
  slowHeld = await watched(source, { canaryDelayMs: 300 });
  slowFailed = await watched(
    source,
    { canaryDelayMs: 300 },
    { thresholds: { latencyWithoutSamples: 'fail' } },
  );
  // Its Prometheus answers nothing: a port where nothing listens any more.
  const dead = await closedPort();
  blind = await watched(() => new PrometheusSource({ url: `http://127.0.0.1:${dead}`, timeoutMs: 500 }), {
    canaryStatus: () => 503,
  });
  prom = await startPrometheus({
    targets: [failing, healthy, slowHeld, slowFailed].map((w) => w.service.target),
    scrapeIntervalMs: SCRAPE_MS,
  });
  for (const w of services) traffic(w);
});

afterAll(async () => {
  for (const w of services) await w.stopTraffic?.();
  await prom?.stop();
  for (const w of services) await w.service.close();
});

describe('a rollout judged on Prometheus data', () => {
  it('rolls back a canary that answers 503, exactly once, on the error checks', async () => {
    await until(() => failing.rollback.length === 1, 'the rollback', 90_000);
    const fails = failing.analysis.filter((a) => a.verdict === 'fail');
    expect(fails).toHaveLength(2);
    for (const a of failing.analysis) expect(a.source).toBe('prometheus');
    expect(fails[0]!.failed).toContain('error-rate');
    expect(fails[0]!.canary.latency).toBe('quantiles');
    expect(fails[0]!.stable.errors).toBe(0);
    expect(failing.rollback[0]!.reason).toMatch(/error rate/);
    expect(failing.service.canary.rolloutState(FLAG)).toMatchObject({ phase: 'rolled-back', failures: 2 });
    expect(failing.service.canary.getFlag(FLAG)?.percentage).toBe(0);
    // Two more intervals (the blind service's controller ticks on the same 1 s interval): still rolled back
    // once, and no analysis since.
    const analyses = failing.analysis.length;
    const ticks = blind.errors.length;
    await until(() => blind.errors.length >= ticks + 2, 'two more intervals', 60_000);
    expect(failing.analysis).toHaveLength(analyses);
    expect(failing.rollback).toHaveLength(1);
  }, 120_000);

  it('takes a healthy canary through every step to 100 %', async () => {
    await until(() => healthy.complete === 1, 'completion', 90_000);
    // Advanced from 20 % to 50 % on a pass; the pass at 50 % completes it (no step event for 100 %).
    expect(healthy.step.map((s) => [s.cause, s.percentage])).toEqual([['advanced', 50]]);
    expect(healthy.rollback).toHaveLength(0);
    expect(healthy.analysis.some((a) => a.verdict === 'fail')).toBe(false);
    const passed = healthy.analysis.filter((a) => a.verdict === 'pass');
    expect(passed.length).toBeGreaterThanOrEqual(2);
    expect(passed.every((a) => a.canary.requests >= 20 && a.canary.latency === 'quantiles')).toBe(true);
    expect(healthy.service.canary.getFlag(FLAG)?.percentage).toBe(100);
  }, 120_000);

  it('with Prometheus unreachable the step holds (inconclusive, an error event), and every request is served', async () => {
    await until(() => blind.errors.length >= 3, 'three failed intervals', 60_000);
    expect(blind.errors[0]!.message).toMatch(/the prometheus source failed; this interval is inconclusive/);
    expect(String((blind.errors[0]!.cause as Error).message)).toMatch(
      /Prometheus at http:\/\/127\.0\.0\.1:\d+ unreachable \(ECONNREFUSED\)/,
    );
    expect(blind.rollback).toHaveLength(0);
    expect(blind.service.canary.rolloutState(FLAG)).toMatchObject({ phase: 'progressing', stepIndex: 0 });
    expect(blind.failedRequests).toBe(0);
    expect(blind.service.served.stable.requests + blind.service.served.canary.requests).toBeGreaterThan(0);
  }, 120_000);

  it('a canary slower on quantiles alone holds by default, and is rolled back with latencyWithoutSamples: fail', async () => {
    await until(() => slowFailed.rollback.length === 1, 'the latency rollback', 90_000);
    const fails = slowFailed.analysis.filter((a) => a.verdict === 'fail');
    expect(fails[0]!.failed.some((name) => name === 'p95-ratio' || name === 'p99-ratio')).toBe(true);
    expect(fails[0]!.canary.p95).toBeGreaterThan(0.25);
    expect(fails[0]!.checks.find((c) => c.name === 'p95-ratio')).toMatchObject({
      test: 'none',
      pValue: null,
    });

    await until(
      () => slowHeld.analysis.filter((a) => a.canary.requests >= 20 && a.stable.requests >= 20).length >= 2,
      'two judged analyses of the held canary',
      90_000,
    );
    const judged = slowHeld.analysis.filter((a) => a.canary.requests >= 20 && a.stable.requests >= 20);
    expect(
      judged.every((a) => a.verdict === 'inconclusive' && /not significant|unproven|holding/.test(a.reason)),
    ).toBe(true);
    expect(slowHeld.rollback).toHaveLength(0);
    expect(slowHeld.service.canary.rolloutState(FLAG)).toMatchObject({ phase: 'progressing', stepIndex: 0 });
  }, 120_000);
});
