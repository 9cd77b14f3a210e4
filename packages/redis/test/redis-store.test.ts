import { type Canary, createCanary, type StoreContent } from '@canary-kit/core';
import {
  createLeaderLease,
  createRedisStore,
  type RedisStore,
  RedisStoreError,
  RedisUnavailableError,
} from '@canary-kit/redis';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer, stopRedisServer } from '../../../test/helpers/redis-server.js';
import { serve, until, watchUnhandled } from './support.js';

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

/** Each test gets its own key prefix on the shared server. */
const freshKey = () => `test-${process.pid}-${++keyCounter}`;

function store(key: string, options: Partial<Parameters<typeof createRedisStore>[0]> = {}): RedisStore {
  const s = createRedisStore({ url: redis.url, key, ...options });
  closers.push(() => s.close());
  return s;
}

function canaryOn(s: RedisStore, percentage = 10): Canary {
  const canary = createCanary({ store: s, metrics: false, flags: { checkout: { percentage } } });
  closers.push(() => canary.close());
  return canary;
}

const content = (percentage: number): StoreContent => ({
  flags: { checkout: { percentage } },
  rollouts: {},
});

describe('RedisStore: compare-and-set', () => {
  it('starts empty, writes revision 1, reads back what it wrote', async () => {
    const s = store(freshKey());
    expect(s.kind).toBe('redis');
    expect(await s.load()).toBeUndefined();
    expect(await s.save(content(5), 0)).toEqual({ ok: true, revision: 1 });
    expect(await s.load()).toEqual({ revision: 1, ...content(5) });
    const stale = await s.save(content(6), 0);
    expect(stale).toEqual({ ok: false, current: { revision: 1, ...content(5) } });
  });

  it('writers racing on the same revision: exactly one wins each round, the others get its document', async () => {
    const key = freshKey();
    const writers = Array.from({ length: 4 }, () => store(key));
    await writers[0]!.save(content(0), 0);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.subarray([0, 1, 2, 3], { minLength: 2 }), { minLength: 1, maxLength: 4 }),
        async (rounds) => {
          for (const racers of rounds) {
            const current = (await writers[0]!.load())!;
            const results = await Promise.all(
              racers.map((w) => writers[w]!.save(content(w), current.revision)),
            );
            const winners = results.flatMap((r, i) => (r.ok ? [racers[i]!] : []));
            expect(winners).toHaveLength(1);
            const after = (await writers[0]!.load())!;
            expect(after.revision).toBe(current.revision + 1);
            expect(after.flags).toEqual(content(winners[0]!).flags);
            for (const r of results) {
              if (!r.ok) expect(r.current).toEqual(after);
            }
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it('two Canaries changing the same flag concurrently: both changes land, none is lost', async () => {
    const key = freshKey();
    const a = canaryOn(store(key));
    const b = canaryOn(store(key));
    await Promise.all([a.ready(), b.ready()]);
    await b.replaceConfig({ flags: { checkout: { percentage: 10 }, search: { percentage: 0 } } });
    await until(() => a.getFlag('search') !== undefined, 'a sees the search flag');
    await Promise.all([a.setPercentage('checkout', 30), b.setPercentage('search', 40)]);
    const stored = (await store(key).load())!;
    expect(stored.flags).toMatchObject({ checkout: { percentage: 30 }, search: { percentage: 40 } });
    await until(
      () => a.revision === stored.revision && b.revision === stored.revision,
      'both at the final revision',
    ).catch((error: Error) => {
      // Say which one lagged, and where.
      throw new Error(`${error.message} ${stored.revision}: a at ${a.revision}, b at ${b.revision}`);
    });
    expect(a.getFlag('search')?.percentage).toBe(40);
    expect(b.getFlag('checkout')?.percentage).toBe(30);
  });
});

describe('RedisStore: no change lost', () => {
  it('bursts of changes from two Canaries, queued without waiting: every change lands', async () => {
    const key = freshKey();
    const flags = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, { percentage: 0 }]));
    const a = createCanary({ store: store(key), metrics: false, flags });
    const b = createCanary({ store: store(key), metrics: false, flags });
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    await Promise.all([a.ready(), b.ready()]);
    // Each Canary queues 20 writes at once: later ones wait behind earlier ones while the other's changes arrive.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => [
        a.setPercentage(`f${i}`, 10 + i),
        b.setPercentage(`f${20 + i}`, 50 + i),
      ]).flat(),
    );
    const stored = (await store(key).load())!;
    for (let i = 0; i < 20; i++) {
      expect(stored.flags[`f${i}`], `f${i}`).toMatchObject({ percentage: 10 + i });
      expect(stored.flags[`f${20 + i}`], `f${20 + i}`).toMatchObject({ percentage: 50 + i });
    }
  });
});

describe('RedisStore: propagation', () => {
  it('a percentage set on one Canary reaches another through pub/sub, with identical decisions', async () => {
    const key = freshKey();
    const a = canaryOn(store(key), 10);
    const b = canaryOn(store(key), 10);
    await Promise.all([a.ready(), b.ready()]);
    const seen = new Promise<void>((resolve) =>
      b.on('change', (e) => {
        if (e.source === 'store' && e.after?.percentage === 60) resolve();
      }),
    );
    await a.setPercentage('checkout', 60);
    await seen;
    expect(b.getFlag('checkout')?.percentage).toBe(60);
    for (let i = 0; i < 2_000; i++) {
      expect(b.evaluate('checkout', { userId: `u${i}` })).toEqual(
        a.evaluate('checkout', { userId: `u${i}` }),
      );
    }
  });

  it('a change written to Redis behind the subscribers’ backs is picked up by the periodic resync', async () => {
    const key = freshKey();
    const s = store(key, { resyncIntervalMs: 200 });
    const canary = canaryOn(s, 10);
    await canary.ready();
    // A write that publishes nothing, as if the message had been lost while the subscriber was away.
    const raw = new Redis(redis.url);
    closers.push(async () => raw.disconnect());
    await raw.hset(
      s.documentKey,
      'revision',
      String(canary.revision + 1),
      'flags',
      JSON.stringify({ checkout: { percentage: 77 } }),
    );
    await until(() => canary.getFlag('checkout')?.percentage === 77, 'the resync applies the change');
    expect(s.stats.resyncChanges).toBeGreaterThanOrEqual(1);
  });

  it('a document in Redis that does not parse is reported naming the key and field; the last good config serves', async () => {
    const key = freshKey();
    const s = store(key, { resyncIntervalMs: 100 });
    const canary = canaryOn(s, 25);
    const errors: Error[] = [];
    canary.on('error', (e) => errors.push(e));
    await canary.ready();
    const raw = new Redis(redis.url);
    closers.push(async () => raw.disconnect());
    await raw.hset(s.documentKey, 'revision', String(canary.revision + 1), 'flags', '{not json');
    await until(() => errors.some((e) => e instanceof RedisStoreError), 'the bad document is reported');
    const error = errors.find((e) => e instanceof RedisStoreError)!;
    expect(error.message).toContain(`${s.documentKey} field "flags"`);
    expect(error.message).toContain('not valid JSON');
    expect(canary.getFlag('checkout')?.percentage).toBe(25);
  });
});

describe('RedisStore: Redis down (fail-static), reconnection and resync', () => {
  it('serves every request with the last config while Redis is down; errors are rate-limited; resyncs on return', async () => {
    const server = await startRedisServer();
    const unhandled = watchUnhandled();
    closers.push(async () => {
      unhandled.stop();
      await stopRedisServer(server);
    });
    const key = freshKey();
    const open = (name: string) => {
      const s = createRedisStore({
        url: server.url,
        key,
        resyncIntervalMs: 500,
        errorIntervalMs: 60_000,
        reconnect: { minDelayMs: 20, maxDelayMs: 200 },
      });
      closers.push(() => s.close());
      const canary = createCanary({
        store: s,
        metrics: false,
        flags: { checkout: { percentage: 10 } },
        service: { version: name },
      });
      closers.push(() => canary.close());
      const errors: Error[] = [];
      canary.on('error', (e) => errors.push(e));
      return { s, canary, errors };
    };
    const a = open('a');
    const b = open('b');
    await Promise.all([a.canary.ready(), b.canary.ready()]);
    await a.canary.setPercentage('checkout', 35);
    await until(() => b.canary.getFlag('checkout')?.percentage === 35, 'b has 35 %');
    const http = await serve(b.canary, 'checkout');
    closers.push(() => http.close());

    await server.stop();
    await until(() => b.errors.length > 0, 'an error event on b');
    // Requests keep succeeding, with the last config, the whole time Redis is away.
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`${http.url}/?user=u${i}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { percentage: number }).percentage).toBe(35);
    }
    // Commands fail at once and nothing queues up for later.
    const attempts = await Promise.allSettled(
      Array.from({ length: 1_000 }, (_, i) => (i % 2 ? b.s.load() : b.s.save(content(1), 99))),
    );
    expect(attempts.every((r) => r.status === 'rejected' && r.reason instanceof RedisUnavailableError)).toBe(
      true,
    );
    const client = b.s.client as unknown as {
      offlineQueue: { length: number };
      commandQueue: { length: number };
    };
    expect(client.offlineQueue.length).toBe(0);
    expect(client.commandQueue.length).toBe(0);
    // Many reconnect failures, one report per interval (here: the first one only).
    await until(() => b.s.stats.errorsSuppressed > 3, 'reconnect attempts keep failing');
    expect(b.s.stats.errorsReported).toBe(1);
    await expect(a.canary.setPercentage('checkout', 50)).rejects.toBeInstanceOf(RedisUnavailableError);

    // Back, empty (no persistence): a replica puts its last known document back, and changes flow again.
    await server.restart();
    await until(() => a.s.stats.restores + b.s.stats.restores >= 1, 'the document is restored');
    await until(() => a.s.client.status === 'ready' && b.s.client.status === 'ready', 'both reconnected');
    const reader = createRedisStore({ url: server.url, key });
    closers.push(() => reader.close());
    const stored = await reader.load();
    expect(stored?.revision).toBeGreaterThanOrEqual(b.canary.revision);
    await b.canary.setPercentage('checkout', 70);
    await until(
      () => a.canary.getFlag('checkout')?.percentage === 70,
      'a sees the change made after the restart',
    );
    const res = await fetch(`${http.url}/?user=x`);
    expect(((await res.json()) as { percentage: number }).percentage).toBe(70);
    expect(unhandled.reasons).toEqual([]);
  });

  it('a hung Redis (SIGSTOP) delays only changes: requests are served at once, writes time out, leadership lapses by the clock', async () => {
    const server = await startRedisServer();
    const unhandled = watchUnhandled();
    closers.push(async () => {
      unhandled.stop();
      if (server.pid) process.kill(server.pid, 'SIGCONT');
      await stopRedisServer(server);
    });
    const key = freshKey();
    const lease = createLeaderLease({
      url: server.url,
      key: `${key}:leader`,
      ttlMs: 600,
      commandTimeoutMs: 300,
    });
    closers.push(() => lease.close());
    const s = createRedisStore({ url: server.url, key, commandTimeoutMs: 300, lease });
    closers.push(() => s.close());
    const canary = createCanary({ store: s, metrics: false, flags: { checkout: { percentage: 20 } } });
    closers.push(() => canary.close());
    await canary.ready();
    await until(() => lease.isLeader(), 'the lease is held');
    const http = await serve(canary, 'checkout');
    closers.push(() => http.close());

    process.kill(server.pid!, 'SIGSTOP');
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${http.url}/?user=hung-${i}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { percentage: number }).percentage).toBe(20);
    }
    await expect(canary.setPercentage('checkout', 30)).rejects.toThrow(/timed? ?out/i);
    // No renewal gets through: the leader steps down on its own clock, before Redis could expire the lease.
    await until(() => !lease.isLeader(), 'leadership lapses');

    process.kill(server.pid!, 'SIGCONT');
    await until(() => lease.isLeader(), 'leadership regained after Redis resumes');
    await canary.setPercentage('checkout', 40);
    expect((await s.load())?.flags).toEqual({ checkout: expect.objectContaining({ percentage: 40 }) });
    expect(unhandled.reasons).toEqual([]);
  });

  it('a Canary whose Redis is unreachable from the start serves its own config and reports the error', async () => {
    const server = await startRedisServer();
    const url = server.url;
    await stopRedisServer(server);
    const s = createRedisStore({ url, key: freshKey(), connectTimeoutMs: 300 });
    closers.push(() => s.close());
    const canary = createCanary({ store: s, metrics: false, flags: { checkout: { percentage: 100 } } });
    closers.push(() => canary.close());
    const errors: Error[] = [];
    canary.on('error', (e) => errors.push(e));
    await canary.ready();
    expect(errors.some((e) => e instanceof RedisUnavailableError)).toBe(true);
    expect(canary.evaluate('checkout', { userId: 'u1' }).version).toBe('canary');
  });

  it('leaves a client you pass in open, and rejects bad options with a clear message', async () => {
    const client = new Redis(redis.url);
    closers.push(async () => client.disconnect());
    const s = createRedisStore({ client, key: freshKey() });
    const canary = createCanary({ store: s, metrics: false, flags: { checkout: { percentage: 3 } } });
    await canary.ready();
    await canary.close();
    await s.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    expect(() => createRedisStore({} as never)).toThrow(/give `url`/);
    expect(() => createRedisStore({ url: redis.url, resyncIntervalMs: 0 })).toThrow(/resyncIntervalMs/);
  });
});
