import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AnalysisEvent,
  type Canary,
  type CanaryConfig,
  createCanary,
  createFileStore,
  RequestBinding,
  type RollbackEvent,
  type StepEvent,
} from '@canary-kit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../support/until.js';

const FLAG = 'checkout-v2';
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Behaviour {
  /** Status the canary answers for its n-th request. */
  canaryStatus?: (n: number) => number;
  canaryDelayMs?: number;
}

/** A real service: stable and canary handlers behind one route bound to the flag, as an adapter serves them. */
async function service(config: CanaryConfig, behaviour: Behaviour = {}) {
  const canary = createCanary(config);
  // Listeners go on at once, as in an app: the rollout starts as soon as the store has answered.
  const events = {
    analysis: [] as AnalysisEvent[],
    step: [] as StepEvent[],
    rollback: [] as RollbackEvent[],
    complete: 0,
  };
  canary.on('analysis', (e) => events.analysis.push(e));
  canary.on('step', (e) => events.step.push(e));
  canary.on('rollback', (e) => events.rollback.push(e));
  canary.on('complete', () => events.complete++);
  const binding = new RequestBinding(canary, {
    context: (req: IncomingMessage) => ({ userId: req.headers['x-user'] as string }),
  });
  let canaryRequests = 0;
  const server: Server = createServer((req, res) => {
    const state = binding.start(req, req.headers, false);
    const version = state.canary.evaluate(FLAG).version;
    res.on('finish', () => binding.finish(state, 'GET', '/checkout', res.statusCode, FLAG));
    if (version === 'canary') {
      const n = canaryRequests++;
      const answer = () => {
        res.statusCode = behaviour.canaryStatus?.(n) ?? 200;
        res.end('v2');
      };
      // Synchronous unless a delay is planted: a timer alone would make a "healthy" canary slower under load.
      if (behaviour.canaryDelayMs) setTimeout(answer, behaviour.canaryDelayMs);
      else answer();
    } else res.end('v1');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/checkout`;
  closers.push(
    () => canary.close(),
    () => new Promise((r) => server.close(r)),
  );
  return { canary, url, events };
}

/** Keeps `rate` requests per second from 1,000 users going until stopped. */
function traffic(url: string, perTick: number) {
  let stopped = false;
  let user = 0;
  const run = (async () => {
    while (!stopped) {
      await Promise.all(
        Array.from({ length: perTick }, () =>
          fetch(url, { headers: { 'x-user': `user-${user++ % 1000}` } }).then((r) => r.arrayBuffer()),
        ),
      );
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const stop = async () => {
    stopped = true;
    await run;
  };
  closers.push(stop);
  return stop;
}

const rollout = (extra: object = {}) => ({
  steps: [20, 50, 100],
  intervalMs: 1000,
  minRequests: 20,
  failureLimit: 2,
  ...extra,
});

describe('the rollout controller, end to end', () => {
  it('rolls back a canary answering 20 % 500s after failureLimit failed analyses', async () => {
    const { canary, url, events } = await service(
      { flags: { [FLAG]: { percentage: 0, rollout: rollout() } } },
      { canaryStatus: (n) => (n % 5 === 0 ? 500 : 200) },
    );
    traffic(url, 10);
    await until(() => events.rollback.length === 1, 'the rollback');
    // Rolled back within failureLimit + 1 intervals of its start, plus one: counted in analyses, not seconds.
    expect(events.analysis.length).toBeLessThanOrEqual(2 + 1 + 1);
    expect(events.analysis.filter((a) => a.verdict === 'fail').length).toBe(2);
    expect(events.rollback[0]?.reason).toMatch(/error rate/);
    expect(canary.rolloutState(FLAG)).toMatchObject({ phase: 'rolled-back', failures: 2 });
    expect(canary.getFlag(FLAG)?.percentage).toBe(0);
    expect(canary.evaluate(FLAG, { userId: 'user-1' })).toMatchObject({
      version: 'stable',
      reason: 'rolled-back',
    });
    // every input of the verdict is in the event
    const failed = events.analysis.find((a) => a.verdict === 'fail')!;
    expect(failed.canary.requests).toBeGreaterThanOrEqual(20);
    expect(failed.canary.errorRate).toBeGreaterThan(0.1);
    expect(failed.checks.some((c) => c.status === 'fail' && c.pValue !== null && c.pValue < 0.01)).toBe(true);
  });

  it('rolls back a canary 300 ms slower, on latency', async () => {
    const { url, events } = await service(
      { flags: { [FLAG]: { percentage: 0, rollout: rollout() } } },
      { canaryDelayMs: 300 },
    );
    traffic(url, 10);
    await until(() => events.rollback.length === 1, 'the rollback');
    const failed = events.analysis.filter((a) => a.verdict === 'fail');
    expect(failed.length).toBe(2);
    expect(failed[0]!.failed.some((name) => name === 'p95-ratio' || name === 'p99-ratio')).toBe(true);
  });

  it('takes a healthy canary to 100 %', async () => {
    const { canary, url, events } = await service({
      flags: { [FLAG]: { percentage: 0, rollout: rollout() } },
    });
    traffic(url, 10);
    await until(() => events.complete === 1, 'completion');
    expect(events.step.map((s) => s.percentage)).toEqual([20, 50]);
    expect(events.rollback).toHaveLength(0);
    expect(canary.rolloutState(FLAG)?.phase).toBe('complete');
    expect(canary.getFlag(FLAG)?.percentage).toBe(100);
  });

  it('holds a canary with almost no traffic and never rolls it back for lack of data', async () => {
    const { canary, url, events } = await service(
      { flags: { [FLAG]: { percentage: 0, rollout: rollout({ minRequests: 500 }) } } },
      { canaryStatus: () => 500 },
    );
    traffic(url, 1);
    await until(() => events.analysis.length >= 4, 'four analyses');
    expect(events.analysis.every((a) => a.verdict === 'inconclusive')).toBe(true);
    expect(events.rollback).toHaveLength(0);
    expect(canary.rolloutState(FLAG)).toMatchObject({ phase: 'progressing', stepIndex: 0, failures: 0 });
  });
});

describe('rollout state survives restarts', () => {
  it('a process restarted mid-rollout resumes at its saved step; a rolled-back flag stays rolled back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canary-kit-rollout-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'flags.json');
    const config = (): CanaryConfig => ({
      flags: { [FLAG]: { percentage: 0, rollout: rollout() } },
      store: createFileStore({ path }),
    });

    const first = await service(config());
    const stopFirst = traffic(first.url, 10);
    await until(() => first.events.step.some((s) => s.percentage === 50), 'the second step');
    await stopFirst();
    await first.canary.close();
    const saved = first.canary.rolloutState(FLAG)!;
    expect(saved.stepIndex).toBe(1);

    const second = await service(config(), { canaryStatus: () => 500 });
    await second.canary.ready();
    expect(second.canary.rolloutState(FLAG)).toMatchObject({
      phase: 'progressing',
      stepIndex: 1,
      stepStartedAt: saved.stepStartedAt,
    });
    expect(second.canary.getFlag(FLAG)?.percentage).toBe(50);
    const stopSecond = traffic(second.url, 10);
    await until(() => second.events.rollback.length === 1, 'the rollback after restart');
    expect(second.events.step.filter((s) => s.cause === 'started')).toHaveLength(0);
    await stopSecond();
    await second.canary.close();

    const third = await service(config());
    await third.canary.ready();
    traffic(third.url, 5);
    await until(
      () => third.canary.evaluate(FLAG, { userId: 'u' }).reason === 'rolled-back',
      'the rolled-back state',
    );
    // Three intervals later it has not started again on its own (nothing to poll for: we wait them out).
    const waitedFrom = Date.now();
    await until(() => Date.now() - waitedFrom > 3000, 'three intervals');
    expect(third.events.step).toHaveLength(0);
    expect(third.canary.rolloutState(FLAG)?.phase).toBe('rolled-back');
    // A person resumes it, and a new canary build id would too.
    expect(await third.canary.resumeRollout(FLAG)).toBe(true);
    expect(third.canary.rolloutState(FLAG)).toMatchObject({ phase: 'progressing', stepIndex: 0 });
  });
});
