import { createCanary } from '@canary-kit/core';
import canaryPlugin, { canaryHandler } from '@canary-kit/fastify';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, listen, sampleValue, scrape } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FLAG = 'search-v2';

describe('the primary path is sacred', () => {
  it('serves a request whose context() throws, by stable, counting and reporting the error', async () => {
    const canary = cleanup.canary(createCanary({ flags: { [FLAG]: { percentage: 100 } } }));
    const errors: Error[] = [];
    canary.on('error', (error) => errors.push(error));
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, {
      canary,
      metricsRoute: '/metrics',
      context: (request) => {
        if (request.headers['x-break'] === 'yes') throw new Error('session store is down');
        return { userId: 'u-1' };
      },
    });
    app.get(
      '/search',
      { config: { canary: { flag: FLAG } } },
      canaryHandler({
        canary: async () => ({ served: 'canary' }),
        stable: async () => ({ served: 'stable' }),
      }),
    );
    const base = await listen(app);

    for (let i = 0; i < 3; i++) {
      const broken = await fetch(`${base}/search`, { headers: { 'x-break': 'yes' } });
      expect(broken.status).toBe(200);
      expect(await broken.json()).toEqual({ served: 'stable' });
    }
    const fine = await fetch(`${base}/search`);
    expect(await fine.json()).toEqual({ served: 'canary' });

    expect(canary.stats().contextErrors).toBe(3);
    expect(errors).toHaveLength(3);
    expect((errors[0]!.cause as Error).message).toBe('session store is down');
    const samples = await scrape(base);
    expect(sampleValue(samples, 'canary_kit_context_errors_total')).toBe(3);
    expect(
      sampleValue(samples, 'http_request_duration_seconds_count', { route: '/search', version: 'stable' }),
    ).toBe(3);
    expect(
      sampleValue(samples, 'http_request_duration_seconds_count', { route: '/search', version: 'canary' }),
    ).toBe(1);
  });

  it('serves requests with a malformed Cookie header and counts them', async () => {
    const canary = cleanup.canary(
      createCanary({ flags: { [FLAG]: { percentage: 100 } }, overrides: { trust: () => true } }),
    );
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary, context: () => ({ userId: 'u' }) });
    app.get('/search', async (request) => ({ canary: request.canary.isCanary(FLAG) }));
    const base = await listen(app);
    const res = await fetch(`${base}/search`, { headers: { cookie: 'canary="never; x' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ canary: true });
    expect(canary.stats().malformedCookies).toBe(1);
  });

  it('keeps serving when the Canary records no metrics at all', async () => {
    const canary = cleanup.canary(createCanary({ flags: { [FLAG]: { percentage: 100 } }, metrics: false }));
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary, context: () => ({ userId: 'u' }) });
    app.get('/search', { config: { canary: { flag: FLAG } } }, async (request) => ({
      canary: request.canary.isCanary(FLAG),
    }));
    const base = await listen(app);
    expect(await (await fetch(`${base}/search`)).json()).toEqual({ canary: true });
  });
});

describe('overrides', () => {
  /** Trusts callers presenting the internal token; the flag itself sends nobody to the canary. */
  async function overrideApp() {
    const canary = cleanup.canary(
      createCanary({
        flags: { [FLAG]: { percentage: 0 } },
        overrides: { trust: (context) => context.attributes?.internal === true },
      }),
    );
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, {
      canary,
      metricsRoute: '/metrics',
      context: (request) => ({
        userId: 'u-1',
        attributes: { internal: request.headers['x-internal-token'] === 'let-me-in' },
      }),
    });
    app.get('/search', { config: { canary: { flag: FLAG } } }, async (request) =>
      request.canary.evaluate(FLAG),
    );
    return { canary, base: await listen(app) };
  }

  it('honours x-canary: always from a trusted caller, ignores and counts it from anyone else', async () => {
    const { canary, base } = await overrideApp();
    const trusted = await fetch(`${base}/search`, {
      headers: { 'x-canary': 'always', 'x-internal-token': 'let-me-in' },
    });
    expect(await trusted.json()).toMatchObject({ version: 'canary', reason: 'override' });
    for (let i = 0; i < 2; i++) {
      const untrusted = await fetch(`${base}/search`, { headers: { 'x-canary': 'always' } });
      expect(untrusted.status).toBe(200);
      expect(await untrusted.json()).toMatchObject({ version: 'stable', reason: 'percentage' });
    }
    // The override cookie goes through the same trust check.
    const cookie = await fetch(`${base}/search`, {
      headers: { cookie: `canary=${FLAG}=always`, 'x-internal-token': 'let-me-in' },
    });
    expect(await cookie.json()).toMatchObject({ version: 'canary', reason: 'override' });

    expect(canary.stats().overrides.header).toMatchObject({ honoured: 1, untrusted: 2 });
    const samples = await scrape(base);
    expect(
      sampleValue(samples, 'canary_kit_overrides_total', { source: 'header', outcome: 'untrusted' }),
    ).toBe(2);
    expect(
      sampleValue(samples, 'canary_kit_overrides_total', { source: 'header', outcome: 'honoured' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'canary_kit_overrides_total', { source: 'cookie', outcome: 'honoured' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'http_request_duration_seconds_count', { route: '/search', version: 'canary' }),
    ).toBe(2);
    expect(
      sampleValue(samples, 'http_request_duration_seconds_count', { route: '/search', version: 'stable' }),
    ).toBe(2);
  });

  it('counts a malformed override as invalid and serves the normal decision', async () => {
    const { canary, base } = await overrideApp();
    const res = await fetch(`${base}/search`, {
      headers: { 'x-canary': 'sometimes', 'x-internal-token': 'let-me-in' },
    });
    expect(await res.json()).toMatchObject({ version: 'stable', reason: 'percentage' });
    expect(canary.stats().overrides.header.invalid).toBe(1);
  });
});
