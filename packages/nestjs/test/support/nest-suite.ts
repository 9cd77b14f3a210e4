/**
 * The @canary-kit/nestjs suite, run once per Nest major (packages/nestjs/test for 12, test/nest11 for 11)
 * on both HTTP platforms. It imports no Nest package itself: the test file passes the modules it resolved,
 * so the app below is built with the same Nest as the adapter it is testing.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Canary, createCanary, type Decision, type EvalContext, Registry } from '@canary-kit/core';
import type * as Adapter from '@canary-kit/nestjs';
import type * as NestCommon from '@nestjs/common';
import type * as NestCore from '@nestjs/core';
import type * as PlatformExpress from '@nestjs/platform-express';
import type * as PlatformFastify from '@nestjs/platform-fastify';
import type * as NestTesting from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieFrom, getJson, parseMetrics, sampleValue } from './http.js';

export interface NestKit {
  /** The Nest major the test file expects to load. */
  readonly major: 11 | 12;
  /** `import.meta.url` of the test file: where the app resolves Nest from. */
  readonly from: string;
  readonly common: typeof NestCommon;
  readonly core: typeof NestCore;
  readonly express: typeof PlatformExpress;
  readonly fastify: typeof PlatformFastify;
  readonly testing: typeof NestTesting;
  readonly adapter: typeof Adapter;
}

type Platform = 'express' | 'fastify';
type App = NestCommon.INestApplication;

const FLAGS = {
  checkout: { percentage: 50 },
  anon: { percentage: 50, stickiness: ['userId', 'sessionId'] },
};

/** The identity comes from a header; `x-boom` makes the context function throw. */
function context(req: { headers: Record<string, string | string[] | undefined> }): EvalContext {
  if (req.headers['x-boom'] !== undefined) throw new Error('context exploded');
  const id = req.headers['x-user-id'];
  return typeof id === 'string' ? { userId: id } : {};
}

const users = (n: number, prefix = 'user') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

interface Resolved {
  readonly version: string;
  readonly packageJson: string;
  readonly entry: string;
}

/** @nestjs/<name> as Node resolves it from `from`: its version, package.json and entry file (real paths). */
function resolveNest(name: 'core' | 'common', from: string | URL): Resolved {
  const require = createRequire(from);
  const packageJson = realpathSync(require.resolve(`@nestjs/${name}/package.json`));
  const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  return { version, packageJson, entry: realpathSync(require.resolve(`@nestjs/${name}`)) };
}

/** Asserts the app and the adapter load one and the same Nest, of the expected major. */
async function expectOneNest(kit: NestKit): Promise<void> {
  const adapterPackage = realpathSync(createRequire(kit.from).resolve('@canary-kit/nestjs/package.json'));
  for (const name of ['core', 'common'] as const) {
    const app = resolveNest(name, kit.from);
    const adapter = resolveNest(name, pathToFileURL(adapterPackage));
    expect(Number(app.version.split('.')[0]), `@nestjs/${name} ${app.version} from the app`).toBe(kit.major);
    expect(adapter.version, `@nestjs/${name} from the adapter`).toBe(app.version);
    expect(adapter.packageJson, `@nestjs/${name} from the adapter`).toBe(app.packageJson);
  }
  // The very classes the adapter injects are the app's.
  const adapterCore = (await import(
    pathToFileURL(resolveNest('core', pathToFileURL(adapterPackage)).entry).href
  )) as {
    Reflector: unknown;
    HttpAdapterHost: unknown;
  };
  expect(adapterCore.Reflector).toBe(kit.core.Reflector);
  expect(adapterCore.HttpAdapterHost).toBe(kit.core.HttpAdapterHost);
}

export function nestSuite(kit: NestKit): void {
  const { Controller, Get, Injectable, Module, Param, Res, Req, UseGuards, VersioningType } = kit.common;
  const {
    CanaryDecision,
    CanaryFlag,
    CanaryGuard,
    CanaryModule,
    InjectCanary,
    canaryVersionExtractor,
    getRequestCanary,
  } = kit.adapter;

  @Injectable()
  class HandlerHits {
    beta = 0;
  }

  @Injectable()
  class DenyAll {
    canActivate(): boolean {
      return false;
    }
  }

  @Controller()
  class SplitController {
    // `Canary` and `HandlerHits` are injected from design:paramtypes (no @Inject): real decorator metadata.
    constructor(
      readonly canary: Canary,
      @InjectCanary() readonly injected: Canary,
      private readonly hits: HandlerHits,
    ) {}

    @Get('decision')
    @CanaryFlag('checkout')
    decision(@CanaryDecision() bound: Decision, @CanaryDecision('checkout') explicit: Decision) {
      return { bound, explicit };
    }

    @Get('beta')
    @CanaryGuard('checkout')
    beta() {
      this.hits.beta++;
      return { handler: 'beta' };
    }

    @Get('beta-forbidden')
    @CanaryGuard('checkout', { status: 403 })
    betaForbidden() {
      return { handler: 'beta-forbidden' };
    }

    @Get('items/:id')
    @CanaryFlag('checkout')
    item(@Param('id') id: string, @CanaryDecision() decision: Decision) {
      return { id, version: decision.version };
    }

    @Get('anonymous')
    @CanaryFlag('anon')
    anonymous(@CanaryDecision() decision: Decision, @Res({ passthrough: true }) res: any) {
      // The handler sets a cookie of its own, the way each platform appends one.
      if (typeof res.append === 'function') res.append('Set-Cookie', 'app=1; Path=/');
      else res.header('set-cookie', 'app=1; Path=/');
      return { version: decision.version };
    }

    @Get('plain')
    plain(@Req() req: unknown) {
      return { version: getRequestCanary(req)?.evaluate('checkout').version ?? null };
    }

    @Get('private')
    @UseGuards(DenyAll)
    private() {
      return { secret: true };
    }
  }

  @Controller({ path: 'checkout', version: 'canary' })
  class CheckoutCanaryController {
    @Get()
    get() {
      return { served: 'canary' };
    }
  }

  @Controller({ path: 'checkout', version: 'stable' })
  class CheckoutStableController {
    @Get()
    get() {
      return { served: 'stable' };
    }
  }

  const controllers = [SplitController, CheckoutCanaryController, CheckoutStableController];

  async function listen(app: App): Promise<string> {
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  function create(platform: Platform, root: NestCommon.Type<unknown>): Promise<App> {
    const adapter =
      platform === 'express' ? new kit.express.ExpressAdapter() : new kit.fastify.FastifyAdapter();
    return kit.core.NestFactory.create(root, adapter, { logger: false, abortOnError: false });
  }

  describe(`NestJS ${kit.major}`, () => {
    // Every test below runs on the Nest major it names, shared by app and adapter.
    beforeAll(() => expectOneNest(kit));

    it(`loads @nestjs/core ${kit.major} for both the app and the adapter, as one instance`, async () => {
      await expectOneNest(kit);
    });

    for (const platform of ['express', 'fastify'] as const) {
      describe(`platform-${platform}`, () => {
        let app: App;
        let url: string;
        let canary: Canary;
        let registry: Registry;

        beforeAll(async () => {
          await expectOneNest(kit);
          registry = new Registry();
          canary = createCanary({ flags: FLAGS, metrics: { registry } });

          @Module({
            imports: [CanaryModule.forRoot({ canary, context, metricsPath: '/metrics' })],
            controllers,
            providers: [HandlerHits, DenyAll],
          })
          class AppModule {}

          app = await create(platform, AppModule);
          app.enableVersioning({
            type: VersioningType.CUSTOM,
            extractor: canaryVersionExtractor(app, 'checkout'),
          });
          url = await listen(app);
        });

        afterAll(async () => {
          await app?.close();
          await canary?.close();
        });

        const scrape = async () => parseMetrics((await getJson<string>(`${url}/metrics`)).body);

        it('injects the Canary by its class (design:paramtypes) and with @InjectCanary()', () => {
          const controller = app.get(SplitController);
          expect(controller.canary).toBeInstanceOf(Canary);
          expect(controller.canary).toBe(canary);
          expect(controller.injected).toBe(canary);
          expect(app.get(Canary)).toBe(canary);
        });

        it("serves each request the version canary.evaluate gives the same identity, and injects the flag's decision", async () => {
          const seen = new Set<string>();
          for (const userId of users(40)) {
            const { status, body } = await getJson(`${url}/decision`, { 'x-user-id': userId });
            const expected = canary.evaluate('checkout', { userId });
            expect(status).toBe(200);
            expect(body.bound).toEqual({ ...expected });
            expect(body.explicit).toEqual({ ...expected });
            seen.add(body.bound.version);
          }
          expect([...seen].sort()).toEqual(['canary', 'stable']);
          const plain = await getJson(`${url}/plain`, { 'x-user-id': 'user-3' });
          expect(plain.body.version).toBe(canary.evaluate('checkout', { userId: 'user-3' }).version);
        });

        it('@CanaryGuard runs the handler for canary requests and answers stable ones with 404 or the configured status', async () => {
          const hits = app.get(HandlerHits);
          const before = hits.beta;
          let canaries = 0;
          for (const userId of users(30, 'guard')) {
            const isCanary = canary.isCanary('checkout', { userId });
            const beta = await getJson(`${url}/beta`, { 'x-user-id': userId });
            const forbidden = await getJson(`${url}/beta-forbidden`, { 'x-user-id': userId });
            if (isCanary) {
              canaries++;
              expect(beta).toMatchObject({ status: 200, body: { handler: 'beta' } });
              expect(forbidden).toMatchObject({ status: 200, body: { handler: 'beta-forbidden' } });
            } else {
              expect(beta).toMatchObject({
                status: 404,
                body: { statusCode: 404, message: 'Cannot GET /beta' },
              });
              expect(forbidden.status).toBe(403);
            }
          }
          expect(canaries).toBeGreaterThan(0);
          expect(canaries).toBeLessThan(30);
          expect(hits.beta - before).toBe(canaries);
        });

        it('custom versioning routes one path to the canary and to the stable controller', async () => {
          const served = new Set<string>();
          for (const userId of users(30, 'split')) {
            const { status, body } = await getJson(`${url}/checkout`, { 'x-user-id': userId });
            expect(status).toBe(200);
            expect(body.served).toBe(canary.evaluate('checkout', { userId }).version);
            served.add(body.served);
          }
          expect([...served].sort()).toEqual(['canary', 'stable']);
        });

        it('labels /metrics with the bound flag’s version and the route pattern, with the right counts', async () => {
          const before = await scrape();
          const expected = new Map<string, number>();
          const add = (route: string, status: number, version: string) => {
            const key = `${route} ${status} ${version}`;
            expected.set(key, (expected.get(key) ?? 0) + 1);
          };
          for (const [i, userId] of users(24, 'metrics').entries()) {
            const version = canary.evaluate('checkout', { userId }).version;
            expect((await getJson(`${url}/items/item-${i}`, { 'x-user-id': userId })).status).toBe(200);
            add('/items/:id', 200, version);
            expect((await getJson(`${url}/checkout`, { 'x-user-id': userId })).status).toBe(200);
            add('/checkout', 200, version);
            const beta = await getJson(`${url}/beta`, { 'x-user-id': userId });
            add('/beta', beta.status, version);
          }
          expect((await getJson(`${url}/private`, { 'x-user-id': 'metrics-0' })).status).toBe(403);
          expect((await getJson(`${url}/no/such/route`)).status).toBe(404);
          const after = await scrape();

          const count = (samples: typeof after, route: string, status: number, version: string) =>
            sampleValue(samples, 'http_request_duration_seconds_count', {
              method: 'GET',
              route,
              status_code: String(status),
              version,
            });
          for (const [key, n] of expected) {
            const [route, status, version] = key.split(' ') as [string, string, string];
            expect(count(after, route, +status, version) - count(before, route, +status, version), key).toBe(
              n,
            );
          }
          for (const route of ['/items/:id', '/checkout', '/beta']) {
            for (const version of ['canary', 'stable']) {
              expect(after.some((s) => s.labels.route === route && s.labels.version === version)).toBe(true);
            }
          }
          // A route whose own guard rejects keeps its pattern; no route at all is "(unmatched)".
          expect(count(after, '/private', 403, 'stable') - count(before, '/private', 403, 'stable')).toBe(1);
          expect(
            count(after, '(unmatched)', 404, 'stable') - count(before, '(unmatched)', 404, 'stable'),
          ).toBe(1);
          // Never the raw URL.
          expect(
            after.some((s) => s.labels.route?.includes('item-') || s.labels.route?.includes('no/such')),
          ).toBe(false);
        });

        it('keeps an anonymous client on one version for 50 requests with the sticky cookie', async () => {
          const versions = new Set<string>();
          // New clients until both versions have been seen (random ids: a few clients, never 30 in practice).
          for (let client = 0; client < 30 && (client < 4 || versions.size < 2); client++) {
            const first = await getJson(`${url}/anonymous`);
            expect(first.status).toBe(200);
            const sid = cookieFrom(first.setCookies, 'canary_sid');
            expect(sid).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
            // The handler's own cookie survives next to the sticky id.
            expect(cookieFrom(first.setCookies, 'app')).toBe('1');
            const version = canary.evaluate('anon', { sessionId: sid! }).version;
            expect(first.body.version).toBe(version);
            for (let i = 0; i < 50; i++) {
              const next = await getJson(`${url}/anonymous`, { cookie: `canary_sid=${sid}` });
              expect(next.body.version).toBe(version);
              expect(cookieFrom(next.setCookies, 'canary_sid')).toBeUndefined();
            }
            versions.add(version);
          }
          expect([...versions].sort()).toEqual(['canary', 'stable']);
        });

        it('serves a request whose context() throws, by stable, counted and reported', async () => {
          const errors: Error[] = [];
          const onError = (error: Error) => errors.push(error);
          canary.on('error', onError);
          try {
            const before = canary.stats().contextErrors;
            const metricsBefore = sampleValue(await scrape(), 'canary_kit_context_errors_total');
            // An identity the canary would get, to show the throw is what makes it stable.
            const userId = users(200, 'boom').find((id) => canary.isCanary('checkout', { userId: id }))!;
            const decision = await getJson(`${url}/decision`, { 'x-user-id': userId, 'x-boom': '1' });
            expect(decision.status).toBe(200);
            expect(decision.body.bound.version).toBe('stable');
            const split = await getJson(`${url}/checkout`, { 'x-user-id': userId, 'x-boom': '1' });
            expect(split).toMatchObject({ status: 200, body: { served: 'stable' } });
            expect(canary.stats().contextErrors - before).toBe(2);
            expect(errors).toHaveLength(2);
            expect(errors[0]!.message).toMatch(/context\(\) function threw/);
            expect(sampleValue(await scrape(), 'canary_kit_context_errors_total') - metricsBefore).toBe(2);
          } finally {
            canary.off('error', onError);
          }
        });
      });
    }

    describe('forRootAsync', () => {
      @Injectable()
      class CanarySettings {
        readonly registry = new Registry();
        readonly flags = FLAGS;
      }

      @Module({ providers: [CanarySettings], exports: [CanarySettings] })
      class SettingsModule {}

      for (const platform of ['express', 'fastify'] as const) {
        it(`creates the Canary from an injected config service, answers stable with guardStatus and closes it on shutdown (platform-${platform})`, async () => {
          await expectOneNest(kit);

          @Module({
            imports: [
              CanaryModule.forRootAsync({
                imports: [SettingsModule],
                inject: [CanarySettings],
                useFactory: (settings: CanarySettings) => ({
                  config: { flags: settings.flags, metrics: { registry: settings.registry } },
                  context,
                  guardStatus: 451,
                }),
                metricsPath: '/canary-metrics',
              }),
            ],
            controllers: [SplitController],
            providers: [HandlerHits, DenyAll],
          })
          class AsyncAppModule {}

          // Through @nestjs/testing this time: the same module, compiled by the testing module builder.
          const moduleRef = await kit.testing.Test.createTestingModule({
            imports: [AsyncAppModule],
          }).compile();
          const adapter =
            platform === 'express' ? new kit.express.ExpressAdapter() : new kit.fastify.FastifyAdapter();
          const app = moduleRef.createNestApplication(adapter, { logger: false });
          let closed = false;
          try {
            const url = await listen(app);
            const created = app.get(Canary);
            const settings = app.get(CanarySettings);
            expect(created).toBeInstanceOf(Canary);
            expect(created.metrics?.registry).toBe(settings.registry);
            let stable = 0;
            for (const userId of users(20, 'async')) {
              const { status } = await getJson(`${url}/beta`, { 'x-user-id': userId });
              const isCanary = created.isCanary('checkout', { userId });
              expect(status).toBe(isCanary ? 200 : 451);
              if (!isCanary) stable++;
            }
            expect(stable).toBeGreaterThan(0);
            const metrics = await getJson<string>(`${url}/canary-metrics`);
            expect(metrics.status).toBe(200);
            expect(
              sampleValue(parseMetrics(metrics.body), 'http_request_duration_seconds_count', {
                route: '/beta',
                status_code: '451',
                version: 'stable',
              }),
            ).toBe(stable);

            const decisions = async () =>
              (await settings.registry.getSingleMetric('canary_kit_decisions_total')!.get()).values.length;
            expect(await decisions()).toBeGreaterThan(0);
            await app.close();
            closed = true;
            // Closed: it left the registry it reported to.
            expect(await decisions()).toBe(0);
          } finally {
            if (!closed) await app.close();
          }
        });
      }

      it('leaves a Canary passed in open when the application shuts down', async () => {
        const registry = new Registry();
        const mine = createCanary({ flags: FLAGS, metrics: { registry } });
        try {
          @Module({
            imports: [CanaryModule.forRoot({ canary: mine, context })],
            controllers: [SplitController],
            providers: [HandlerHits, DenyAll],
          })
          class OwnCanaryModule {}
          const app = await create('express', OwnCanaryModule);
          const url = await listen(app);
          expect((await getJson(`${url}/decision`, { 'x-user-id': 'u1' })).status).toBe(200);
          await app.close();
          const decisions = await registry.getSingleMetric('canary_kit_decisions_total')!.get();
          expect(decisions.values.length).toBeGreaterThan(0);
        } finally {
          await mine.close();
        }
      });

      it('rejects options that give both or neither of canary and config', async () => {
        const mine = createCanary({ flags: FLAGS, metrics: false });
        try {
          for (const options of [{ canary: mine, config: { flags: FLAGS } }, { context }]) {
            @Module({ imports: [CanaryModule.forRoot(options)] })
            class BadModule {}
            await expect(create('express', BadModule)).rejects.toThrow(/CanaryModule (takes either|needs)/);
          }
        } finally {
          await mine.close();
        }
      });
    });
  });
}
