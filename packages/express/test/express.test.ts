import { type Canary, type CanaryConfig, createCanary, Registry } from '@canary-kit/core';
import { bindFlag, canaryMiddleware, canaryRoute, metricsHandler } from '@canary-kit/express';
import type { ErrorRequestHandler, Express, Request } from 'express';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, EXPRESS_MAJORS, find, itRunsAgainst, scrape, value } from './helpers.js';

const DURATION = 'http_request_duration_seconds_count';
const STICKY_COOKIE = /^canary_sid=([A-Za-z0-9_-]{8,64}); Path=\/; Max-Age=31536000; HttpOnly; SameSite=Lax$/;

const { canaryFor, later, start } = closeAfterEach();

/** The same flags with no metrics: the expected decisions, without touching the app's counters. */
const referenceFor = (config: CanaryConfig): Canary =>
  later(createCanary({ flags: config.flags, overrides: config.overrides, metrics: false }));

const byUserHeader = (req: Request) => ({ userId: req.get('x-user-id') });

const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
  res.status(500).json({ handled: (error as Error).message });
};

describe.each(EXPRESS_MAJORS)('%s', (name, express, module) => {
  itRunsAgainst(name, module);

  /** An app with the middleware, a split route, a bound route, an unbound route and /metrics. */
  function appFor(
    canary: Canary,
    options: Parameters<typeof canaryMiddleware>[1] = { context: byUserHeader },
  ): Express {
    const app = express();
    app.use(canaryMiddleware(canary, options));
    app.get(
      '/checkout',
      canaryRoute('checkout', {
        canary: (req, res) => {
          res.json({ version: 'canary', reason: req.canary.evaluate('checkout').reason });
        },
        stable: (req, res) => {
          res.json({ version: 'stable', reason: req.canary.evaluate('checkout').reason });
        },
      }),
    );
    app.get('/bound', bindFlag('checkout'), (req, res) => {
      res.json({ version: req.canary.isCanary('checkout') ? 'canary' : 'stable' });
    });
    app.get('/plain', (_req, res) => {
      res.send('plain');
    });
    app.get('/metrics', metricsHandler(canary));
    return app;
  }

  describe('decisions', () => {
    it('serves every identity the version canary.evaluate gives it, and labels its metrics with it', async () => {
      const config: CanaryConfig = { flags: { checkout: { percentage: 50 } } };
      const canary = canaryFor(config);
      const reference = referenceFor(config);
      const base = await start(appFor(canary));

      const ids = Array.from({ length: 300 }, (_, i) => `user-${i}`);
      const counts = { canary: 0, stable: 0 };
      for (const id of ids) {
        const response = await fetch(`${base}/checkout`, { headers: { 'x-user-id': id } });
        const body = (await response.json()) as { version: 'canary' | 'stable'; reason: string };
        expect(body.version, id).toBe(reference.evaluate('checkout', { userId: id }).version);
        expect(body.reason).toBe('percentage');
        counts[body.version]++;
      }
      expect(counts.canary).toBeGreaterThan(90);
      expect(counts.stable).toBeGreaterThan(90);

      const samples = await scrape(base);
      const route = { method: 'GET', route: '/checkout', status_code: '200' };
      expect(value(samples, DURATION, { ...route, version: 'canary' })).toBe(counts.canary);
      expect(value(samples, DURATION, { ...route, version: 'stable' })).toBe(counts.stable);
      expect(
        value(samples, 'canary_kit_decisions_total', {
          flag: 'checkout',
          version: 'canary',
          reason: 'percentage',
        }),
      ).toBe(counts.canary);
      expect(value(samples, 'canary_kit_flag_percentage', { flag: 'checkout' })).toBe(50);
    });

    it('labels a route bound with bindFlag by the decision, and unbound routes by the service version', async () => {
      const config: CanaryConfig = { flags: { checkout: { percentage: 50 } }, service: { version: 'v7' } };
      const canary = canaryFor(config);
      const reference = referenceFor(config);
      const base = await start(appFor(canary));

      const counts = { canary: 0, stable: 0 };
      for (let i = 0; i < 60; i++) {
        const id = `bound-${i}`;
        const body = (await (await fetch(`${base}/bound`, { headers: { 'x-user-id': id } })).json()) as {
          version: 'canary' | 'stable';
        };
        expect(body.version).toBe(reference.evaluate('checkout', { userId: id }).version);
        counts[body.version]++;
        expect(await (await fetch(`${base}/plain`, { headers: { 'x-user-id': id } })).text()).toBe('plain');
      }

      const samples = await scrape(base);
      expect(value(samples, DURATION, { route: '/bound', version: 'canary' })).toBe(counts.canary);
      expect(value(samples, DURATION, { route: '/bound', version: 'stable' })).toBe(counts.stable);
      expect(find(samples, DURATION, { route: '/plain' }).map((s) => [s.labels.version, s.value])).toEqual([
        ['v7', 60],
      ]);
    });

    it('gives handlers one memoized decision per flag on req.canary, built from context()', async () => {
      const canary = canaryFor({ flags: { checkout: { percentage: 100 }, search: { percentage: 0 } } });
      const app = express();
      app.use(
        canaryMiddleware(canary, {
          context: (req) => ({
            userId: req.get('x-user-id'),
            attributes: { plan: req.get('x-plan') ?? 'free' },
          }),
        }),
      );
      app.get('/inspect', (req, res) => {
        const first = req.canary.evaluate('checkout');
        res.json({
          same: first === req.canary.evaluate('checkout'),
          checkout: req.canary.isCanary('checkout'),
          search: req.canary.isCanary('search'),
          decisions: req.canary.decisions().map((d) => d.flag),
          context: req.canary.context,
        });
      });
      const base = await start(app);
      const body = await (
        await fetch(`${base}/inspect`, { headers: { 'x-user-id': 'u1', 'x-plan': 'pro' } })
      ).json();
      expect(body).toEqual({
        same: true,
        checkout: true,
        search: false,
        decisions: ['checkout', 'search'],
        context: { userId: 'u1', attributes: { plan: 'pro' } },
      });
    });
  });

  describe('route labels', () => {
    it('labels nested routers and sub-apps with the full route pattern, never the URL', async () => {
      const canary = canaryFor({ flags: { checkout: { percentage: 100 } } });
      const app = express();
      app.use(canaryMiddleware(canary, { context: byUserHeader }));
      const api = express.Router();
      const v1 = express.Router();
      v1.get('/users/:id', (req, res) => {
        res.json({ id: req.params.id });
      });
      v1.get(
        '/orders/:id',
        canaryRoute('checkout', {
          canary: (req, res) => {
            res.send(`canary ${req.params.id}`);
          },
          stable: (req, res) => {
            res.send(`stable ${req.params.id}`);
          },
        }),
      );
      v1.get('/fail/:id', () => {
        throw new Error('nested failure');
      });
      api.use('/v1', v1);
      app.use('/api', api);
      const admin = express();
      admin.get('/stats/:day', (_req, res) => {
        res.send('stats');
      });
      app.use('/admin', admin);
      app.get('/metrics', metricsHandler(canary));
      app.use(errorHandler);
      const base = await start(app);

      for (const id of ['1', '2', '3']) {
        expect((await fetch(`${base}/api/v1/users/${id}`)).status).toBe(200);
      }
      expect(await (await fetch(`${base}/api/v1/orders/9`, { headers: { 'x-user-id': 'u' } })).text()).toBe(
        'canary 9',
      );
      const failed = await fetch(`${base}/api/v1/fail/7`);
      expect(failed.status).toBe(500);
      expect(await failed.json()).toEqual({ handled: 'nested failure' });
      expect(await (await fetch(`${base}/admin/stats/monday`)).text()).toBe('stats');

      const samples = await scrape(base);
      expect(
        value(samples, DURATION, { route: '/api/v1/users/:id', status_code: '200', version: 'stable' }),
      ).toBe(3);
      expect(value(samples, DURATION, { route: '/api/v1/orders/:id', version: 'canary' })).toBe(1);
      // The error left the nested routers before the app-level handler answered: still the route's pattern.
      expect(value(samples, DURATION, { route: '/api/v1/fail/:id', status_code: '500' })).toBe(1);
      expect(value(samples, DURATION, { route: '/admin/stats/:day' })).toBe(1);
      const routes = find(samples, DURATION).map((s) => s.labels.route);
      expect(routes.some((r) => /\/\d|monday/.test(r ?? ''))).toBe(false);
    });

    it('labels multi-path and RegExp routes by their definition', async () => {
      const canary = canaryFor({ flags: {} });
      const app = express();
      app.use(canaryMiddleware(canary));
      app.get(['/a/:id', '/b/:id'], (_req, res) => {
        res.send('ab');
      });
      app.get(/^\/re\/\d+$/, (_req, res) => {
        res.send('re');
      });
      app.get('/metrics', metricsHandler(canary));
      const base = await start(app);
      for (const path of ['/a/1', '/b/2', '/re/3', '/re/4'])
        expect((await fetch(`${base}${path}`)).status).toBe(200);
      const samples = await scrape(base);
      expect(value(samples, DURATION, { route: '/a/:id|/b/:id' })).toBe(2);
      expect(value(samples, DURATION, { route: '/^\\/re\\/\\d+$/' })).toBe(2);
    });

    it('puts every unmatched request under one route label', async () => {
      const canary = canaryFor({ flags: { checkout: { percentage: 50 } } });
      const base = await start(appFor(canary));
      for (const path of ['/nope/1', '/nope/2', '/elsewhere?q=secret']) {
        expect((await fetch(`${base}${path}`)).status).toBe(404);
      }
      expect((await fetch(`${base}/nope/3`, { method: 'POST' })).status).toBe(404);

      const samples = await scrape(base);
      expect(value(samples, DURATION, { method: 'GET', route: '(unmatched)', status_code: '404' })).toBe(3);
      expect(value(samples, DURATION, { method: 'POST', route: '(unmatched)', status_code: '404' })).toBe(1);
      const routes = new Set(find(samples, DURATION).map((s) => s.labels.route));
      expect([...routes].sort()).toEqual(['(unmatched)']);
    });
  });

  describe('sticky anonymous id', () => {
    const sticky: CanaryConfig = {
      flags: { checkout: { percentage: 50, stickiness: ['userId', 'sessionId'] } },
    };

    it('keeps an anonymous client on one version for 50 requests', async () => {
      const canary = canaryFor(sticky);
      const reference = referenceFor(sticky);
      const base = await start(appFor(canary));

      const versions = new Set<string>();
      for (let client = 0; client < 4; client++) {
        const first = await fetch(`${base}/checkout`);
        const [cookie] = first.headers.getSetCookie();
        const id = STICKY_COOKIE.exec(cookie ?? '')?.[1];
        expect(id, cookie).toBeDefined();
        const version = ((await first.json()) as { version: string }).version;
        expect(version).toBe(reference.evaluate('checkout', { sessionId: id }).version);
        for (let i = 0; i < 50; i++) {
          const again = await fetch(`${base}/checkout`, {
            headers: { cookie: `theme=dark; canary_sid=${id}` },
          });
          expect(again.headers.getSetCookie()).toEqual([]);
          expect(((await again.json()) as { version: string }).version).toBe(version);
        }
      }
      // Fresh anonymous clients are spread over both versions (40 random ids at 50 %: all alike has p = 2^-39).
      for (let client = 0; client < 40; client++) {
        versions.add(((await (await fetch(`${base}/checkout`)).json()) as { version: string }).version);
      }
      expect([...versions].sort()).toEqual(['canary', 'stable']);
      const samples = await scrape(base);
      const served = find(samples, DURATION, { route: '/checkout' }).reduce((sum, s) => sum + s.value, 0);
      expect(served).toBe(4 * 51 + 40);
    });

    it('issues no cookie to a client that has an identity', async () => {
      const canary = canaryFor(sticky);
      const base = await start(appFor(canary));
      const response = await fetch(`${base}/checkout`, { headers: { 'x-user-id': 'known' } });
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(((await response.json()) as { reason: string }).reason).toBe('percentage');
    });

    it('can be renamed, marked Secure behind a trusted proxy, or turned off', async () => {
      const renamed = await start(
        appFor(canaryFor(sticky), {
          context: byUserHeader,
          stickyCookie: { name: 'sid', maxAgeSeconds: 60 },
        }),
      );
      const named = (await fetch(`${renamed}/checkout`)).headers.getSetCookie();
      expect(named).toHaveLength(1);
      expect(named[0]).toMatch(/^sid=[A-Za-z0-9_-]+; Path=\/; Max-Age=60; HttpOnly; SameSite=Lax$/);

      const proxied = appFor(canaryFor(sticky));
      proxied.set('trust proxy', true);
      const behindProxy = await start(proxied);
      const secure = (
        await fetch(`${behindProxy}/checkout`, { headers: { 'x-forwarded-proto': 'https' } })
      ).headers.getSetCookie();
      expect(secure[0]).toMatch(/; Secure$/);
      const plain = (await fetch(`${behindProxy}/checkout`)).headers.getSetCookie();
      expect(plain[0]).not.toMatch(/Secure/);

      const off = await start(appFor(canaryFor(sticky), { context: byUserHeader, stickyCookie: false }));
      const response = await fetch(`${off}/checkout`);
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(await response.json()).toEqual({ version: 'stable', reason: 'no-identity' });
    });

    it('adds its cookie beside the cookies the app sets, however it sets them', async () => {
      const canary = canaryFor(sticky);
      const app = express();
      app.use(canaryMiddleware(canary));
      app.get('/res-cookie', (req, res) => {
        req.canary.evaluate('checkout');
        res.cookie('a', '1');
        res.cookie('b', '2');
        res.send('ok');
      });
      app.get('/set-header', (_req, res) => {
        res.setHeader('Set-Cookie', 'c=3');
        res.end('ok');
      });
      app.get('/write-head', (_req, res) => {
        res.writeHead(200, { 'Set-Cookie': ['d=4', 'e=5'], 'Content-Type': 'text/plain' });
        res.end('ok');
      });
      app.get('/write-head-raw', (_req, res) => {
        res.writeHead(201, 'Made', ['Set-Cookie', 'f=6', 'Content-Type', 'text/plain']);
        res.end('ok');
      });
      app.get('/write-head-no-message', (_req, res) => {
        res.writeHead(200, undefined, { 'Set-Cookie': 'g=7' });
        res.end('ok');
      });
      app.get('/own-cookie', (_req, res) => {
        res.cookie('canary_sid', '', { maxAge: 0 });
        res.end('ok');
      });
      const base = await start(app);

      const names = async (path: string) => {
        const response = await fetch(`${base}${path}`);
        await response.text();
        return {
          status: response.status,
          cookies: response.headers.getSetCookie().map((c) => c.slice(0, c.indexOf('='))),
        };
      };
      expect(await names('/res-cookie')).toEqual({ status: 200, cookies: ['a', 'b', 'canary_sid'] });
      expect(await names('/set-header')).toEqual({ status: 200, cookies: ['c', 'canary_sid'] });
      expect(await names('/write-head')).toEqual({ status: 200, cookies: ['d', 'e', 'canary_sid'] });
      expect(await names('/write-head-raw')).toEqual({ status: 201, cookies: ['f', 'canary_sid'] });
      expect(await names('/write-head-no-message')).toEqual({ status: 200, cookies: ['g', 'canary_sid'] });
      // The app deciding about the cookie itself (here: clearing it) wins.
      const own = await fetch(`${base}/own-cookie`);
      expect(own.headers.getSetCookie()).toHaveLength(1);
      expect(own.headers.getSetCookie()[0]).toMatch(/^canary_sid=;/);
    });

    it('replaces a malformed sticky cookie instead of failing the request', async () => {
      const canary = canaryFor(sticky);
      const base = await start(appFor(canary));
      const response = await fetch(`${base}/checkout`, {
        headers: { cookie: 'canary_sid="x y\\"; other=1' },
      });
      expect(response.status).toBe(200);
      expect(response.headers.getSetCookie()[0]).toMatch(STICKY_COOKIE);
    });
  });

  describe('failures stay off the primary path', () => {
    it('serves a request whose context() throws by stable, counts it and reports it', async () => {
      const canary = canaryFor({ flags: { checkout: { percentage: 100 } } });
      const errors: Error[] = [];
      canary.on('error', (error) => errors.push(error));
      const base = await start(
        appFor(canary, {
          context: () => {
            throw new Error('no user service');
          },
        }),
      );

      const response = await fetch(`${base}/checkout`, { headers: { 'x-user-id': 'u1' } });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ version: 'stable', reason: 'no-identity' });
      expect(errors).toHaveLength(1);
      expect((errors[0]!.cause as Error).message).toBe('no user service');

      const samples = await scrape(base);
      expect(value(samples, 'canary_kit_context_errors_total')).toBe(2); // the /checkout request and the scrape itself
      expect(value(samples, DURATION, { route: '/checkout', version: 'stable', status_code: '200' })).toBe(1);
    });

    it('passes a rejected async handler to the error handler, with no unhandled rejection', async () => {
      const canary = canaryFor({ flags: { checkout: { percentage: 100 } } });
      const app = express();
      app.use(canaryMiddleware(canary, { context: byUserHeader }));
      app.get(
        '/async',
        canaryRoute('checkout', {
          canary: async () => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            throw new Error('canary broke');
          },
          stable: async (_req, res) => {
            res.send('stable');
          },
        }),
      );
      app.get(
        '/reject-nothing',
        canaryRoute('checkout', {
          canary: () => Promise.reject(undefined),
          stable: (_req, res) => {
            res.send('stable');
          },
        }),
      );
      app.get('/metrics', metricsHandler(canary));
      app.use(errorHandler);
      const base = await start(app);

      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const response = await fetch(`${base}/async`, { headers: { 'x-user-id': 'u1' } });
        expect(response.status).toBe(500);
        expect(await response.json()).toEqual({ handled: 'canary broke' });
        const nothing = await fetch(`${base}/reject-nothing`, { headers: { 'x-user-id': 'u1' } });
        expect(await nothing.json()).toEqual({ handled: 'Rejected promise' });
        await new Promise((resolve) => setTimeout(resolve, 20));
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      expect(unhandled).toEqual([]);
      const samples = await scrape(base);
      expect(value(samples, DURATION, { route: '/async', status_code: '500', version: 'canary' })).toBe(1);
    });

    it('serves stable from canaryRoute when canaryMiddleware is missing, and warns once', async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error) => warnings.push(warning);
      process.on('warning', onWarning);
      const app = express();
      app.get(
        '/split',
        canaryRoute('checkout', {
          canary: (_req, res) => {
            res.send('canary');
          },
          stable: (_req, res) => {
            res.send('stable');
          },
        }),
      );
      const base = await start(app);
      try {
        expect(await (await fetch(`${base}/split`)).text()).toBe('stable');
        expect(await (await fetch(`${base}/split`)).text()).toBe('stable');
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('warning', onWarning);
      }
      expect(warnings.map((w) => [w.name, w.message])).toEqual([
        [
          'CanaryKitWarning',
          'canaryRoute("checkout") ran on a request canaryMiddleware did not see; serving stable',
        ],
      ]);
    });
  });

  describe('overrides', () => {
    it('forces the canary with a trusted x-canary header or cookie', async () => {
      const config: CanaryConfig = {
        flags: { checkout: { percentage: 0 } },
        overrides: { trust: () => true },
      };
      const base = await start(appFor(canaryFor(config)));
      const plain = await (await fetch(`${base}/checkout`, { headers: { 'x-user-id': 'u1' } })).json();
      expect(plain).toEqual({ version: 'stable', reason: 'percentage' });
      const forced = await (
        await fetch(`${base}/checkout`, { headers: { 'x-user-id': 'u1', 'x-canary': 'always' } })
      ).json();
      expect(forced).toEqual({ version: 'canary', reason: 'override' });
      const byCookie = await (
        await fetch(`${base}/checkout`, { headers: { 'x-user-id': 'u1', cookie: 'canary=checkout=always' } })
      ).json();
      expect(byCookie).toEqual({ version: 'canary', reason: 'override' });

      const samples = await scrape(base);
      expect(value(samples, DURATION, { route: '/checkout', version: 'canary' })).toBe(2);
      expect(value(samples, 'canary_kit_overrides_total', { source: 'header', outcome: 'honoured' })).toBe(1);
    });

    it('ignores and counts an override from an untrusted caller', async () => {
      const config: CanaryConfig = {
        flags: { checkout: { percentage: 0 } },
        overrides: { trust: (context) => context.attributes?.internal === true },
      };
      const canary = canaryFor(config);
      const base = await start(
        appFor(canary, {
          context: (req) => ({
            userId: req.get('x-user-id'),
            attributes: { internal: req.get('x-internal') === 'yes' },
          }),
        }),
      );
      const outsider = await (
        await fetch(`${base}/checkout`, { headers: { 'x-user-id': 'u1', 'x-canary': 'always' } })
      ).json();
      expect(outsider).toEqual({ version: 'stable', reason: 'percentage' });
      const insider = await (
        await fetch(`${base}/checkout`, {
          headers: { 'x-user-id': 'u1', 'x-canary': 'always', 'x-internal': 'yes' },
        })
      ).json();
      expect(insider).toEqual({ version: 'canary', reason: 'override' });

      const samples = await scrape(base);
      expect(value(samples, 'canary_kit_overrides_total', { source: 'header', outcome: 'untrusted' })).toBe(
        1,
      );
      expect(value(samples, 'canary_kit_overrides_total', { source: 'header', outcome: 'honoured' })).toBe(1);
      expect(canary.stats().overrides.header.untrusted).toBe(1);
    });
  });

  describe('metricsHandler', () => {
    it('serves the exposition of a Canary or of a Registry', async () => {
      const registry = new Registry();
      const canary = canaryFor({ flags: { checkout: { percentage: 10 } }, metrics: { registry } });
      const app = express();
      app.get('/metrics', metricsHandler(canary));
      app.get('/registry', metricsHandler(registry));
      const base = await start(app);
      const response = await fetch(`${base}/metrics`);
      expect(response.headers.get('content-type')).toBe(registry.contentType);
      const text = await response.text();
      expect(text).toContain('canary_kit_flag_percentage{flag="checkout"} 10');
      expect(await (await fetch(`${base}/registry`)).text()).toBe(text);
    });
  });
});

describe('setup errors are thrown at startup, not per request', () => {
  it('rejects what cannot work', () => {
    const canary = canaryFor({ flags: { checkout: { percentage: 10 } } });
    const stable = () => {};
    expect(() => canaryMiddleware(undefined as unknown as Canary)).toThrow(TypeError);
    expect(() => canaryMiddleware(canary, { context: 'userId' as never })).toThrow(/context/);
    expect(() => canaryRoute('', { canary: stable, stable })).toThrow(/flag/);
    expect(() => canaryRoute('checkout', { stable } as never)).toThrow(/`canary` must be a request handler/);
    expect(() => bindFlag(undefined as unknown as string)).toThrow(TypeError);
    const noMetrics = later(createCanary({ flags: {}, metrics: false }));
    expect(() => metricsHandler(noMetrics)).toThrow(/metrics on/);
  });
});
