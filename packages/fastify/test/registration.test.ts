import { createCanary, Registry } from '@canary-kit/core';
import canaryPlugin, {
  canaryHandler,
  metricsHandler,
  canaryPlugin as namedPlugin,
  PLUGIN_NAME,
} from '@canary-kit/fastify';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, listen, sampleValue, scrape } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FLAG = 'pricing-v3';

describe('plugin registration', () => {
  it('is a fastify-plugin named after the package, also exported by name', async () => {
    expect(namedPlugin).toBe(canaryPlugin);
    const canary = cleanup.canary(createCanary());
    const app = cleanup.app(Fastify());
    await app.register(canaryPlugin, { canary });
    expect(app.hasPlugin(PLUGIN_NAME)).toBe(true);
    expect(PLUGIN_NAME).toBe('@canary-kit/fastify');
    expect(app.hasRequestDecorator('canary')).toBe(true);
  });

  it('rejects a missing Canary with a clear error', async () => {
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary: undefined as never });
    await expect(app.ready()).rejects.toThrow(/pass the Canary returned by createCanary\(\)/);
  });

  it('rejects a second registration in the same context tree', async () => {
    const canary = cleanup.canary(createCanary());
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary });
    app.register(async (child) => {
      child.register(canaryPlugin, { canary });
    });
    await expect(app.ready()).rejects.toThrow(/register @canary-kit\/fastify once/);
  });

  it('rejects an invalid config.canary when the route is declared', async () => {
    const canary = cleanup.canary(createCanary({ flags: { [FLAG]: {} } }));
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary });
    app.register(async (child) => {
      child.get('/bad', { config: { canary: { flag: 42 as unknown as string } } }, async () => 'x');
    });
    await expect(app.ready()).rejects.toThrow(
      'canary-kit: route GET /bad: config.canary.flag must be a non-empty string',
    );
  });

  it('rejects canaryHandler() on a route that binds no flag', async () => {
    const canary = cleanup.canary(createCanary({ flags: { [FLAG]: {} } }));
    const app = cleanup.app(Fastify());
    await app.register(canaryPlugin, { canary });
    expect(() =>
      app.get('/unbound', canaryHandler({ canary: async () => 'c', stable: async () => 's' })),
    ).toThrow(
      'canary-kit: route GET /unbound uses canaryHandler() but binds no flag; add config: { canary: { flag } }',
    );
  });

  it('serves a route declared before the plugin loaded with an invalid binding, unbound', async () => {
    const canary = cleanup.canary(createCanary({ flags: { [FLAG]: { percentage: 100 } } }));
    const app = cleanup.app(Fastify());
    // Declared synchronously right after register(): onRoute never sees it, the request path must cope.
    app.register(canaryPlugin, { canary, metricsRoute: '/metrics', context: () => ({ userId: 'u' }) });
    app.get('/early', { config: { canary: { flag: '' } } }, async (request) => ({
      canary: request.canary.isCanary(FLAG),
    }));
    const base = await listen(app);
    expect(await (await fetch(`${base}/early`)).json()).toEqual({ canary: true });
    const samples = await scrape(base);
    expect(
      sampleValue(samples, 'http_request_duration_seconds_count', { route: '/early', version: 'stable' }),
    ).toBe(1);
  });
});

describe('metrics route', () => {
  it('is off by default', async () => {
    const canary = cleanup.canary(createCanary());
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary });
    const base = await listen(app);
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
  });

  it('serves the registry on the configured path with the Prometheus content type', async () => {
    const canary = cleanup.canary(createCanary({ flags: { [FLAG]: { percentage: 12.5 } } }));
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary, metricsRoute: '/internal/prometheus' });
    const base = await listen(app);
    const res = await fetch(`${base}/internal/prometheus`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain(`canary_kit_flag_percentage{flag="${FLAG}"} 12.5`);
  });

  it('rejects a path that is not one, and a Canary without metrics', async () => {
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary: cleanup.canary(createCanary()), metricsRoute: 'metrics' });
    await expect(app.ready()).rejects.toThrow(/metricsRoute must be a path starting with "\/"/);
    const noMetrics = cleanup.canary(createCanary({ metrics: false }));
    const other = cleanup.app(Fastify());
    other.register(canaryPlugin, { canary: noMetrics, metricsRoute: '/metrics' });
    await expect(other.ready()).rejects.toThrow(/metrics on/);
    expect(() => metricsHandler(noMetrics)).toThrow(/metrics on/);
  });

  it('serves any prom-client Registry handed to metricsHandler()', async () => {
    const registry = new Registry();
    const canary = cleanup.canary(
      createCanary({ flags: { [FLAG]: { percentage: 5 } }, metrics: { registry } }),
    );
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary });
    app.get('/registry-metrics', { config: { canary: { metrics: false } } }, metricsHandler(registry));
    const base = await listen(app);
    expect(
      sampleValue(await scrape(base, '/registry-metrics'), 'canary_kit_flag_percentage', { flag: FLAG }),
    ).toBe(5);
  });

  it('mounts by hand behind the app own hooks with metricsHandler()', async () => {
    const canary = cleanup.canary(createCanary());
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary });
    app.get(
      '/ops/metrics',
      {
        config: { canary: { metrics: false } },
        onRequest: async (request, reply) => {
          if (request.headers.authorization !== 'Bearer ops') await reply.code(401).send('no');
        },
      },
      metricsHandler(canary),
    );
    const base = await listen(app);
    expect((await fetch(`${base}/ops/metrics`)).status).toBe(401);
    const ok = await fetch(`${base}/ops/metrics`, { headers: { authorization: 'Bearer ops' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('# TYPE http_request_duration_seconds histogram');
  });
});

describe('two apps, each with its own Canary, on one prom-client Registry', () => {
  it('register without "already registered" and share the request histogram', async () => {
    const registry = new Registry();
    const bases: string[] = [];
    for (const version of ['stable', 'canary'] as const) {
      const canary = cleanup.canary(
        createCanary({ flags: { [FLAG]: { percentage: 100 } }, metrics: { registry }, service: { version } }),
      );
      const app = cleanup.app(Fastify());
      app.register(canaryPlugin, { canary, metricsRoute: '/metrics', context: () => ({ userId: 'u' }) });
      app.get('/price', async () => ({ version }));
      app.get('/bound', { config: { canary: { flag: FLAG } } }, async () => 'ok');
      bases.push(await listen(app));
    }
    const [a, b] = bases as [string, string];
    for (let i = 0; i < 3; i++)
      expect(await (await fetch(`${a}/price`)).json()).toEqual({ version: 'stable' });
    for (let i = 0; i < 2; i++)
      expect(await (await fetch(`${b}/price`)).json()).toEqual({ version: 'canary' });
    await fetch(`${a}/bound`);
    await fetch(`${b}/bound`);

    // Either app serves the whole registry: both apps' requests, and the decisions of both Canaries summed.
    for (const base of bases) {
      const samples = await scrape(base);
      expect(
        sampleValue(samples, 'http_request_duration_seconds_count', { route: '/price', version: 'stable' }),
      ).toBe(3);
      expect(
        sampleValue(samples, 'http_request_duration_seconds_count', { route: '/price', version: 'canary' }),
      ).toBe(2);
      expect(
        sampleValue(samples, 'http_request_duration_seconds_count', { route: '/bound', version: 'canary' }),
      ).toBe(2);
      expect(
        sampleValue(samples, 'canary_kit_decisions_total', {
          flag: FLAG,
          version: 'canary',
          reason: 'percentage',
        }),
      ).toBe(2);
    }
  });
});
