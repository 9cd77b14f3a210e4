import {
  type AnalysisSnapshot,
  type AnalysisSource,
  createCanary,
  type StepEvent,
  type StoreContent,
} from '@canary-kit/core';
import { backoffDelay, createLeaderLease, createRedisStore, type LeaderLease } from '@canary-kit/redis';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer, stopRedisServer } from '../../../test/helpers/redis-server.js';
import { until, watchUnhandled } from './support.js';

let redis: RedisServer;
let keyCounter = 0;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await stopRedisServer(redis);
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const freshKey = () => `lease-${process.pid}-${++keyCounter}`;

function lease(key: string, options: Partial<Parameters<typeof createLeaderLease>[0]> = {}): LeaderLease {
  const l = createLeaderLease({ url: redis.url, key, ttlMs: 600, ...options });
  closers.push(() => l.close());
  return l;
}

function rawClient(): Redis {
  const client = new Redis(redis.url);
  closers.push(async () => client.disconnect());
  return client;
}

describe('LeaderLease', () => {
  it('exactly one of several replicas holds the lease, with a fencing token, and keeps it by renewing', async () => {
    const key = freshKey();
    const leases = [lease(key, { id: 'a' }), lease(key, { id: 'b' }), lease(key, { id: 'c' })];
    await Promise.all(leases.map((l) => l.ready()));
    const leaders = leases.filter((l) => l.isLeader());
    expect(leaders).toHaveLength(1);
    const leader = leaders[0]!;
    expect(leader.token).toBe(1);
    expect(await rawClient().get(key)).toBe(`${leader.id}:1`);
    // Several TTLs go by: still the same leader, renewed rather than re-acquired.
    await until(() => leader.counts.renewed >= 5, 'five renewals');
    expect(leader.isLeader()).toBe(true);
    expect(leader.counts.acquired).toBe(1);
    expect(leases.filter((l) => l.isLeader())).toEqual([leader]);
    // isLeader is bound: usable as `rollout: { isLeader: lease.isLeader }`.
    const { isLeader } = leader;
    expect(isLeader()).toBe(true);
  });

  it('close() releases the lease (compare-and-delete) and another replica takes it with a higher token', async () => {
    const key = freshKey();
    const a = lease(key, { id: 'a', ttlMs: 60_000, renewIntervalMs: 20_000 });
    await a.ready();
    const b = lease(key, { id: 'b', ttlMs: 60_000, renewIntervalMs: 100 });
    await b.ready();
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    const lost: string[] = [];
    a.on('lost', (reason) => lost.push(reason));
    await a.close();
    expect(lost).toEqual(['closed']);
    await until(() => b.isLeader(), 'b takes over');
    expect(b.token).toBe(2);
  });

  it('a leader that dies is replaced within the TTL, and never while it could still think it leads', async () => {
    const key = freshKey();
    const doomedClient = new Redis(redis.url);
    closers.push(async () => doomedClient.disconnect());
    const a = lease(key, { id: 'a', client: doomedClient, ttlMs: 500 });
    await a.ready();
    expect(a.isLeader()).toBe(true);
    const b = lease(key, { id: 'b', ttlMs: 500 });
    await b.ready();
    let aAtTakeover: boolean | undefined;
    b.on('acquired', () => {
      aAtTakeover = a.isLeader();
    });
    const aLost = new Promise<string>((resolve) => a.on('lost', resolve));
    // The leader's link dies for good: it can no longer renew.
    doomedClient.disconnect();
    await until(() => b.isLeader(), 'b takes over');
    expect(aAtTakeover).toBe(false);
    expect(await aLost).toBe('expired');
    expect(b.token).toBe(2);
  });

  it('a lease taken from under the leader (it expired in Redis) is noticed at the next renewal', async () => {
    const key = freshKey();
    const a = lease(key, { id: 'a', ttlMs: 3_000, renewIntervalMs: 100 });
    await a.ready();
    const lost = new Promise<string>((resolve) => a.on('lost', resolve));
    await rawClient().set(key, 'intruder:99', 'PX', 3_000);
    expect(await lost).toBe('taken');
    expect(a.isLeader()).toBe(false);
  });

  it('rejects settings that would let the lease lapse between renewals', () => {
    expect(() => createLeaderLease({ url: redis.url, ttlMs: 1_000, renewIntervalMs: 1_000 })).toThrow(
      /renewIntervalMs/,
    );
    expect(() => createLeaderLease({ url: redis.url, ttlMs: 5 })).toThrow(/ttlMs/);
  });

  it('reconnect delays grow exponentially, stay capped and jittered within [cap/2, cap]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (attempt, r) => {
          const delay = backoffDelay(attempt, 50, 2_000, () => r);
          const cap = Math.min(2_000, 50 * 2 ** (attempt - 1));
          return delay >= Math.floor(cap / 2) && delay <= cap;
        },
      ),
    );
  });
});

const content = (percentage: number): StoreContent => ({ flags: { checkout: { percentage } }, rollouts: {} });

describe('fencing: a stale leader cannot write', () => {
  it('Redis refuses a leader write once the lease has passed to another replica; a person’s write still goes through', async () => {
    const key = freshKey();
    const aLease = lease(`${key}:leader`, { id: 'a', ttlMs: 60_000, renewIntervalMs: 20_000 });
    await aLease.ready();
    const a = createRedisStore({ url: redis.url, key, lease: aLease });
    closers.push(() => a.close());
    expect(await a.save(content(1), 0, { leader: true })).toEqual({ ok: true, revision: 1 });
    // The lease expires in Redis while `a` is paused (its clock says it still leads) and `b` takes it.
    await rawClient().del(aLease.key);
    const bLease = lease(`${key}:leader`, { id: 'b', ttlMs: 60_000, renewIntervalMs: 20_000 });
    await bLease.ready();
    expect(bLease.token).toBe(2);
    expect(aLease.isLeader()).toBe(true);
    const refused = await a.save(content(2), 1, { leader: true });
    expect(refused).toEqual({ ok: false, fenced: true, current: { revision: 1, ...content(1) } });
    expect(a.stats.fencedWrites).toBe(1);
    // Manual operations are not fenced: any replica may change a percentage.
    expect(await a.save(content(3), 1)).toEqual({ ok: true, revision: 2 });
    const b = createRedisStore({ url: redis.url, key, lease: bLease });
    closers.push(() => b.close());
    expect(await b.save(content(4), 2, { leader: true })).toEqual({ ok: true, revision: 3 });
    // A follower, whose lease is held by someone else, is refused without an error.
    const followerLease = lease(`${key}:leader`, { id: 'f', ttlMs: 60_000, renewIntervalMs: 20_000 });
    await followerLease.ready();
    expect(followerLease.isLeader()).toBe(false);
    const f = createRedisStore({ url: redis.url, key, lease: followerLease });
    closers.push(() => f.close());
    expect(await f.save(content(9), 3, { leader: true })).toEqual({
      ok: false,
      fenced: true,
      current: { revision: 3, ...content(4) },
    });
    // A leader whose lease value in Redis was replaced is refused too.
    const c = createRedisStore({ url: redis.url, key, lease: lease(`${key}:other`, { id: 'c' }) });
    closers.push(() => c.close());
    await rawClient().set(`${key}:other`, 'someone-else:1', 'PX', 60_000);
    const follower = await c.save(content(5), 3, { leader: true });
    expect(follower.ok).toBe(false);
  });

  it('a leader paused mid-analysis comes back after a takeover: its step is refused, the step is applied once', async () => {
    const key = freshKey();
    const unhandled = watchUnhandled();
    closers.push(async () => unhandled.stop());
    const healthy: AnalysisSnapshot['stable'] = {
      requests: 1_000,
      errors: 0,
      p50: 0.01,
      p95: 0.02,
      p99: 0.03,
    };
    let releaseA: (() => void) | undefined;
    let aPaused = false;
    // Replica a's first analysis hangs (a GC pause, a stalled query) until the test lets it go.
    const sourceA: AnalysisSource = {
      kind: 'paused',
      snapshot: (flag) =>
        new Promise((resolve) => {
          if (aPaused) resolve({ flag, from: 0, to: Date.now(), stable: healthy, canary: healthy });
          aPaused = true;
          releaseA = () => resolve({ flag, from: 0, to: Date.now(), stable: healthy, canary: healthy });
        }),
    };
    const sourceB: AnalysisSource = {
      kind: 'healthy',
      snapshot: async (flag) => ({ flag, from: 0, to: Date.now(), stable: healthy, canary: healthy }),
    };
    const flags = {
      checkout: { percentage: 0, rollout: { steps: [10, 50, 100], intervalMs: 1_000, minRequests: 10 } },
    };
    const leaseA = lease(`${key}:leader`, { id: 'a', ttlMs: 60_000, renewIntervalMs: 20_000 });
    await leaseA.ready();
    const storeA = createRedisStore({ url: redis.url, key, lease: leaseA });
    closers.push(() => storeA.close());
    const a = createCanary({
      store: storeA,
      metrics: false,
      flags,
      rollout: { source: sourceA, isLeader: leaseA.isLeader },
    });
    closers.push(() => a.close());
    const steps: (StepEvent & { replica: string })[] = [];
    a.on('step', (e) => steps.push({ ...e, replica: 'a' }));
    await a.ready();
    await until(() => a.rolloutState('checkout')?.stepIndex === 0, 'a starts the rollout');
    await until(() => aPaused, 'a is stuck in its first analysis');

    // Meanwhile its lease runs out and replica b becomes the leader.
    await rawClient().del(leaseA.key);
    const leaseB = lease(`${key}:leader`, { id: 'b', ttlMs: 60_000, renewIntervalMs: 20_000 });
    await leaseB.ready();
    expect(leaseB.isLeader()).toBe(true);
    const storeB = createRedisStore({ url: redis.url, key, lease: leaseB });
    closers.push(() => storeB.close());
    const b = createCanary({
      store: storeB,
      metrics: false,
      flags,
      rollout: { source: sourceB, isLeader: leaseB.isLeader },
    });
    closers.push(() => b.close());
    b.on('step', (e) => steps.push({ ...e, replica: 'b' }));
    await b.ready();

    // a wakes up with a passing analysis of step 0 and tries to advance: Redis refuses it.
    releaseA!();
    await until(() => storeA.stats.fencedWrites >= 1, 'a’s stale write is fenced off');
    expect(a.rolloutState('checkout')?.stepIndex).toBe(0);
    // b, the real leader, advances step 0 once; nobody advanced it twice.
    await until(() => steps.some((s) => s.cause === 'advanced'), 'b advances');
    await until(() => a.rolloutState('checkout')?.stepIndex === 1, 'a sees b’s step');
    const advances = steps.filter((s) => s.cause === 'advanced' && s.stepIndex === 1);
    expect(advances.map((s) => s.replica)).toEqual(['b']);
    expect(a.getFlag('checkout')?.percentage).toBe(50);
    expect(unhandled.reasons).toEqual([]);
  });
});
