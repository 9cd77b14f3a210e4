import { setTimeout as sleep } from 'node:timers/promises';
import { type CanaryConfig, createCanary, type ShadowOutcome } from '@canary-kit/core';
import canaryPlugin from '@canary-kit/fastify';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Answer,
  garbageServer,
  hungServer,
  payload,
  refusedUrl,
  resettingServer,
  send,
  serve,
  sha256,
  type TestServer,
  until,
  writeLarge,
} from '../../../test/helpers/servers.js';
import { Cleanup, listen, sampleValue, scrape } from './helpers.js';

/**
 * Misbehaving shadow targets never change, fail or hold up the primary response: every answer is identical
 * to the same app's without a shadow target, each copy ends as exactly one counted outcome, and copies past
 * maxInFlight are dropped and counted.
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const N = 12;
const UPLOAD = payload(200_000, 21);

type ShadowConfig = Exclude<NonNullable<CanaryConfig['shadow']>, readonly unknown[]>;

/** The primary: a GET answering JSON and an upload route opted in to write mirroring. */
async function primary(shadow: ShadowConfig | undefined) {
  const canary = cleanup.canary(createCanary(shadow ? { shadow } : {}));
  const app = cleanup.app(Fastify());
  app.register(canaryPlugin, { canary, metricsRoute: '/metrics' });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );
  app.get('/items/:id', async (request, reply) => {
    reply.header('x-served', 'primary');
    return { id: (request.params as { id: string }).id, items: [1, 2, 3] };
  });
  app.post('/upload', { config: { canary: { shadow: { writes: true } } } }, async (request) => ({
    sha: sha256(request.body as Buffer),
  }));
  return { canary, base: await listen(app) };
}

/** N GETs and N uploads, half of them concurrently; the parts of each answer a client can see. */
async function traffic(base: string): Promise<string[]> {
  const describe = (r: Answer) =>
    JSON.stringify([
      r.status,
      r.headers['content-type'],
      r.headers['content-length'],
      r.headers['x-served'],
      r.body.toString(),
    ]);
  const one = async (i: number) => [
    describe(await send(`${base}/items/${i}`)),
    describe(
      await send(`${base}/upload`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: UPLOAD,
      }),
    ),
  ];
  const sequential: string[][] = [];
  for (let i = 0; i < N / 2; i++) sequential.push(await one(i));
  const concurrent = await Promise.all(Array.from({ length: N / 2 }, (_, i) => one(N / 2 + i)));
  return [...sequential, ...concurrent].flat();
}

let expected: string[] | undefined;
async function baseline(): Promise<string[]> {
  if (expected === undefined) {
    const { base } = await primary(undefined);
    expected = await traffic(base);
    await cleanup.run();
  }
  return expected;
}

const COPIES = 2 * N;
const total = (counts: Record<ShadowOutcome, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

interface Fault {
  name: string;
  target: () => Promise<{ url: string; server?: TestServer }>;
  options?: Partial<ShadowConfig>;
  /** Exact outcome counts once every copy settled. */
  outcomes: Partial<Record<ShadowOutcome, number>>;
}

/** Holds the slow target's answers until the test has checked the primaries. */
function gate(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
const slowGate = gate();

const target = async (make: Promise<TestServer>) => {
  const server = await cleanup.server(make);
  return { url: server.url, server };
};

const FAULTS: Fault[] = [
  {
    name: 'hung (accepts, never answers), past maxInFlight',
    target: () => target(hungServer()),
    options: { maxInFlight: 5, timeoutMs: 60_000 },
    outcomes: { dropped: COPIES - 5 },
  },
  {
    name: 'hung, copies timing out',
    target: () => target(hungServer()),
    options: { timeoutMs: 300 },
    outcomes: { timeout: COPIES },
  },
  {
    name: '1 s slow',
    target: () =>
      target(
        serve(async (req, res) => {
          // At least 1 s, and not before the test saw every primary answer (no race with a slow machine).
          await Promise.all([sleep(1000), slowGate.promise]);
          res.setHeader('content-type', 'application/json; charset=utf-8');
          res.setHeader('x-served', 'primary');
          const id = req.url.split('/')[2];
          res.end(
            JSON.stringify(req.method === 'GET' ? { id, items: [1, 2, 3] } : { sha: sha256(req.body) }),
          );
        }),
      ),
    options: { timeoutMs: 10_000 },
    outcomes: { match: COPIES },
  },
  {
    name: 'resetting connections',
    target: () => target(resettingServer()),
    outcomes: { error: COPIES },
  },
  {
    name: 'refusing connections',
    target: async () => ({ url: await refusedUrl() }),
    outcomes: { error: COPIES },
  },
  {
    name: 'answering garbage',
    target: () => target(garbageServer()),
    outcomes: { error: COPIES },
  },
  {
    name: 'answering 50 MB bodies',
    target: () => target(serve((_req, res) => writeLarge(res, 50 * 1024 * 1024))),
    outcomes: { mismatch: COPIES },
  },
];

describe('a misbehaving shadow target never changes the primary response', () => {
  it.each(FAULTS)('$name', async (fault) => {
    const want = await baseline();
    const { url, server } = await fault.target();
    const { canary, base } = await primary({
      name: 'candidate',
      target: url,
      methods: ['GET', 'POST'],
      circuitBreaker: false,
      ...fault.options,
    });
    const got = await traffic(base);
    expect(got).toEqual(want);
    const counts = () => canary.stats().shadow.candidate!;
    if (fault.outcomes.dropped !== undefined) {
      // Every primary answered while the first copies are still hanging at the target.
      expect(canary.shadows[0]!.inFlight).toBe(5);
      expect(server!.arrived()).toBeGreaterThan(0);
    }
    if (fault.name === '1 s slow') {
      // Every primary answered while the target had answered no copy yet.
      expect(counts().match).toBe(0);
      expect(canary.shadows[0]!.inFlight).toBeGreaterThan(0);
      slowGate.resolve();
    }
    const settled = fault.outcomes.dropped !== undefined ? COPIES - 5 : COPIES;
    await until(() => total(counts()) === settled, `${settled} settled copies`);
    const samples = await scrape(base);
    for (const [outcome, count] of Object.entries(counts())) {
      expect(
        sampleValue(samples, 'canary_kit_shadow_requests_total', { target: 'candidate', outcome }),
        outcome,
      ).toBe(count);
    }
    expect(counts()).toMatchObject({
      match: 0,
      mismatch: 0,
      error: 0,
      timeout: 0,
      dropped: 0,
      skipped: 0,
      ...fault.outcomes,
    });
  });
});
