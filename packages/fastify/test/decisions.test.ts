import { createCanary } from '@canary-kit/core';
import canaryPlugin, { canaryHandler } from '@canary-kit/fastify';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, listen, sampleValue, scrape } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FLAG = 'checkout-v2';

const byRouteAndMethod = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  `${a.route} ${a.method}`.localeCompare(`${b.route} ${b.method}`);

/** An app with one route split between two handlers by FLAG, identity from `x-user-id`. */
function splitApp(percentage: number) {
  const canary = cleanup.canary(createCanary({ flags: { [FLAG]: { percentage } } }));
  const app = cleanup.app(Fastify());
  app.register(canaryPlugin, {
    canary,
    context: (request) => ({ userId: request.headers['x-user-id'] as string | undefined }),
    metricsRoute: '/metrics',
  });
  app.get(
    '/checkout',
    { config: { canary: { flag: FLAG } } },
    canaryHandler({
      canary: async (request) => ({ served: 'canary', decision: request.canary.evaluate(FLAG) }),
      stable: async (request) => ({ served: 'stable', decision: request.canary.evaluate(FLAG) }),
    }),
  );
  return { app, canary };
}

describe('per-request decisions over HTTP', () => {
  it('serves every identity the version canary.evaluate gives it, and labels the metrics with it', async () => {
    const { app, canary } = splitApp(30);
    const base = await listen(app);
    const answers: { id: string; body: { served: 'canary' | 'stable'; decision: { version: string } } }[] =
      [];
    for (let batch = 0; batch < 10; batch++) {
      const ids = Array.from({ length: 40 }, (_, i) => `user-${batch * 40 + i}`);
      answers.push(
        ...(await Promise.all(
          ids.map(async (id) => {
            const res = await fetch(`${base}/checkout`, { headers: { 'x-user-id': id } });
            expect(res.status).toBe(200);
            return {
              id,
              body: (await res.json()) as { served: 'canary' | 'stable'; decision: { version: string } },
            };
          }),
        )),
      );
    }
    const served = { canary: 0, stable: 0 };
    for (const { body } of answers) served[body.served]++;
    // 400 ids at 30 %: both versions are served (a miss would mean P < 1e-60).
    expect(served.canary).toBeGreaterThan(60);
    expect(served.stable).toBeGreaterThan(200);

    // Scraped before the checks below evaluate again, so the decision counter holds the requests' alone.
    const samples = await scrape(base);
    const count = (version: string) =>
      sampleValue(samples, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: '/checkout',
        status_code: '200',
        version,
      });
    expect(count('canary')).toBe(served.canary);
    expect(count('stable')).toBe(served.stable);
    // One decision per request (memoized across the handler and the metrics label), by reason.
    expect(
      sampleValue(samples, 'canary_kit_decisions_total', {
        flag: FLAG,
        version: 'canary',
        reason: 'percentage',
      }),
    ).toBe(served.canary);
    expect(
      sampleValue(samples, 'canary_kit_decisions_total', {
        flag: FLAG,
        version: 'stable',
        reason: 'percentage',
      }),
    ).toBe(served.stable);
    expect(sampleValue(samples, 'canary_kit_flag_percentage', { flag: FLAG })).toBe(30);

    for (const { id, body } of answers) {
      const expected = canary.evaluate(FLAG, { userId: id });
      expect(body.served, id).toBe(expected.version);
      expect(body.decision).toEqual(expected);
    }
    // The scrape itself is left out of the request histogram.
    expect(samples.some((s) => s.labels.route === '/metrics')).toBe(false);
  });

  it('records the route pattern, never the raw URL, and unmatched requests as (unmatched)', async () => {
    const canary = cleanup.canary(
      createCanary({ flags: { [FLAG]: { percentage: 100 } }, service: { version: 'v7' } }),
    );
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary, context: () => ({ userId: 'u' }), metricsRoute: '/metrics' });
    app.register(
      async (api) => {
        api.get('/items/:id', { config: { canary: { flag: FLAG } } }, async (request) => ({
          canary: request.canary.isCanary(FLAG),
        }));
        api.get('/health', { config: { canary: { metrics: false } } }, async () => 'ok');
        api.get('/plain', async () => 'plain');
      },
      { prefix: '/api' },
    );
    const base = await listen(app);
    for (const id of ['1', '2', '3'])
      expect(await (await fetch(`${base}/api/items/${id}`)).json()).toEqual({ canary: true });
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    expect((await fetch(`${base}/api/plain`)).status).toBe(200);
    expect((await fetch(`${base}/nowhere/42`)).status).toBe(404);
    expect((await fetch(`${base}/api/items/1`, { method: 'DELETE' })).status).toBe(404);

    const samples = await scrape(base);
    const requests = samples.filter((s) => s.name === 'http_request_duration_seconds_count');
    expect(requests.map((s) => ({ ...s.labels, n: s.value })).sort(byRouteAndMethod)).toEqual(
      [
        { method: 'DELETE', route: '(unmatched)', status_code: '404', version: 'v7', n: 1 },
        { method: 'GET', route: '(unmatched)', status_code: '404', version: 'v7', n: 1 },
        { method: 'GET', route: '/api/items/:id', status_code: '200', version: 'canary', n: 3 },
        // A route bound to no flag is labelled with the service's own version.
        { method: 'GET', route: '/api/plain', status_code: '200', version: 'v7', n: 1 },
      ].sort(byRouteAndMethod),
    );
  });

  it('makes request.canary available to hooks and handlers of child plugins when registered in the root', async () => {
    const canary = cleanup.canary(
      createCanary({ flags: { [FLAG]: { percentage: 100 }, other: { percentage: 0 } } }),
    );
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, {
      canary,
      context: (request) => ({ userId: request.headers['x-user-id'] as string }),
    });
    app.register(async (child) => {
      child.addHook('preHandler', async (request, reply) => {
        reply.header('x-seen-in-hook', String(request.canary.isCanary(FLAG)));
      });
      child.register(async (grandchild) => {
        grandchild.get('/deep', { config: { canary: { flag: FLAG } } }, async (request) => ({
          checkout: request.canary.isCanary(FLAG),
          other: request.canary.isCanary('other'),
          decisions: request.canary.decisions().map((d) => d.flag),
        }));
      });
    });
    const base = await listen(app);
    const res = await fetch(`${base}/deep`, { headers: { 'x-user-id': 'someone' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-seen-in-hook')).toBe('true');
    expect(await res.json()).toEqual({ checkout: true, other: false, decisions: [FLAG, 'other'] });
  });

  it('is confined to its context when registered inside an encapsulated plugin', async () => {
    const canary = cleanup.canary(createCanary({ flags: { [FLAG]: { percentage: 100 } } }));
    const app = cleanup.app(Fastify());
    app.register(async (scoped) => {
      scoped.register(canaryPlugin, { canary, context: () => ({ userId: 'u' }) });
      scoped.get('/inside', async (request) => ({ canary: request.canary.isCanary(FLAG) }));
    });
    app.get('/outside', async (request) => ({ hasCanary: 'canary' in request && request.canary != null }));
    const base = await listen(app);
    expect(await (await fetch(`${base}/inside`)).json()).toEqual({ canary: true });
    expect(await (await fetch(`${base}/outside`)).json()).toEqual({ hasCanary: false });
  });
});

describe('canaryHandler', () => {
  it('passes `this`, the reply and callback-style sending through to the chosen handler', async () => {
    const canary = cleanup.canary(
      createCanary({ flags: { [FLAG]: { percentage: 100, excludeUsers: ['old'] } } }),
    );
    const app = cleanup.app(Fastify());
    app.decorate('greeting', 'hello');
    app.register(canaryPlugin, {
      canary,
      context: (request) => ({ userId: request.headers['x-user-id'] as string }),
    });
    app.post(
      '/echo/:name',
      { config: { canary: { flag: FLAG } } },
      canaryHandler({
        canary(request, reply) {
          reply
            .code(201)
            .header('x-version', 'canary')
            .send({ greeting: (this as unknown as { greeting: string }).greeting, body: request.body });
        },
        stable: async (request, reply) => {
          reply.header('x-version', 'stable');
          return { params: request.params };
        },
      }),
    );
    const base = await listen(app);
    const post = (user: string) =>
      fetch(`${base}/echo/ann`, {
        method: 'POST',
        headers: { 'x-user-id': user, 'content-type': 'application/json' },
        body: '{"a":1}',
      });
    const c = await post('new');
    expect([c.status, c.headers.get('x-version')]).toEqual([201, 'canary']);
    expect(await c.json()).toEqual({ greeting: 'hello', body: { a: 1 } });
    const s = await post('old');
    expect([s.status, s.headers.get('x-version')]).toEqual([200, 'stable']);
    expect(await s.json()).toEqual({ params: { name: 'ann' } });
  });

  it('serves stable when the plugin is not registered for the route', async () => {
    const app = cleanup.app(Fastify({ logger: false }));
    app.get('/x', canaryHandler({ canary: async () => 'canary', stable: async () => 'stable' }));
    const base = await listen(app);
    expect(await (await fetch(`${base}/x`)).text()).toBe('stable');
  });

  it('rejects handlers that are not functions', () => {
    expect(() => canaryHandler({ canary: async () => 'x', stable: 'nope' as never })).toThrow(
      /two handler functions/,
    );
  });
});
