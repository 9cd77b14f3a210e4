// @canary-kit/openfeature through the OpenFeature NestJS SDK (@openfeature/nestjs-sdk 0.2 supports Nest ≤ 11, so
// it lives with the Nest 11 suite): a real Nest app on 127.0.0.1, the SDK's module, decorators, injected client
// and flag guard, over a CanaryProvider — alone, and beside canary-kit's own CanaryModule.
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { type Canary, createCanary, type FlagsConfigInput } from '@canary-kit/core';
import { CanaryDecision, CanaryModule, getRequestCanary } from '@canary-kit/nestjs';
import { CanaryProvider, toOpenFeatureContext } from '@canary-kit/openfeature';
import { Controller, type ExecutionContext, Get, type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import {
  BooleanFeatureFlag,
  OpenFeatureClient,
  OpenFeatureModule,
  RequireFlagsEnabled,
  StringFeatureFlag,
} from '@openfeature/nestjs-sdk';
import {
  type Client,
  type EvaluationContext,
  type EvaluationDetails,
  type EventDetails,
  OpenFeature,
  ProviderEvents,
  ProviderStatus,
} from '@openfeature/server-sdk';
import { firstValueFrom, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../packages/core/test/support/until.js';

const FLAGS: FlagsConfigInput = {
  checkout: { percentage: 30, users: ['alice'], groups: ['beta'] },
  search: { percentage: 50, stickiness: ['userId', 'sessionId'] },
};

type Platform = 'express' | 'fastify';
type Details = { value: boolean | string; variant: string | undefined; reason: string | undefined };
const brief = (d: EvaluationDetails<boolean | string>): Details => ({
  value: d.value,
  variant: d.variant,
  reason: d.reason,
});

/** What every request carries: a user header (absent for anonymous visitors) and a group list. */
function headersFor(userId: string | undefined, groups?: string): Record<string, string> {
  const headers: Record<string, string> = {};
  if (userId !== undefined) headers['x-user-id'] = userId;
  if (groups !== undefined) headers['x-groups'] = groups;
  return headers;
}

function header(request: { headers: Record<string, string | string[] | undefined> }, name: string) {
  const value = request.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

@Controller()
class FlagsController {
  constructor(@OpenFeatureClient() private readonly client: Client) {}

  // The SDK's decorators hand over an Observable of its own bundled rxjs, which Nest does not take for one of
  // its own (it would serialize the Observable object): await it, as the docs say.
  @Get('decorated')
  async decorated(
    @BooleanFeatureFlag({ flagKey: 'checkout', defaultValue: false })
    feature: Observable<EvaluationDetails<boolean>>,
  ): Promise<Details> {
    return brief(await firstValueFrom(feature));
  }

  @Get('variant')
  async variant(
    @StringFeatureFlag({ flagKey: 'checkout', defaultValue: 'stable' })
    feature: Observable<EvaluationDetails<string>>,
  ): Promise<Details> {
    return brief(await firstValueFrom(feature));
  }

  @Get('injected')
  async injected(): Promise<Details> {
    return brief(await this.client.getBooleanDetails('checkout', false));
  }

  @Get('unknown')
  async unknown(): Promise<Details & { errorCode: string | undefined }> {
    const d = await this.client.getBooleanDetails('nope', true);
    return { ...brief(d), errorCode: d.errorCode };
  }

  @Get('guarded')
  @RequireFlagsEnabled({ flags: [{ flagKey: 'checkout' }] })
  guarded(): { served: string } {
    return { served: 'canary-only route' };
  }
}

const apps: INestApplication[] = [];
const canaries: Canary[] = [];

afterEach(async () => {
  // app.close() runs the OpenFeature module's shutdown (OpenFeature.close); the Canary is ours to close.
  await Promise.all(apps.splice(0).map((app) => app.close()));
  OpenFeature.clearHandlers();
  await OpenFeature.close();
  await Promise.all(canaries.splice(0).map((c) => c.close()));
});

async function start(platform: Platform, root: new () => unknown): Promise<string> {
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = await NestFactory.create(root, adapter, { logger: false, abortOnError: false });
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  // OpenFeatureModule sets the provider without awaiting its initialize: wait for READY before the first request.
  await until(
    () => OpenFeature.getClient().providerStatus === ProviderStatus.READY,
    'the provider to be ready',
  );
  const { port } = app.getHttpServer().address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

async function getJson<T>(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return {
    status: response.status,
    body: (text.startsWith('{') ? JSON.parse(text) : text) as T,
    setCookies: response.headers.getSetCookie(),
  };
}

describe.each(['express', 'fastify'] as const)(
  'OpenFeatureModule over a CanaryProvider on %s',
  (platform) => {
    it('serves each user the version canary-kit decides, through decorators, the injected client and the guard', async () => {
      const canary = createCanary({ flags: FLAGS, metrics: false });
      canaries.push(canary);
      const changes: EventDetails[] = [];

      @Module({
        imports: [
          OpenFeatureModule.forRoot({
            defaultProvider: new CanaryProvider(canary),
            contextFactory: (context: ExecutionContext) => {
              const request = context.switchToHttp().getRequest();
              const evalContext: EvaluationContext = {};
              const userId = header(request, 'x-user-id');
              const groups = header(request, 'x-groups');
              if (userId !== undefined) evalContext.targetingKey = userId;
              if (groups !== undefined) evalContext.groups = groups.split(',');
              return evalContext;
            },
            handlers: [[ProviderEvents.ConfigurationChanged, (details) => changes.push(details!)]],
          }),
        ],
        controllers: [FlagsController],
      })
      class AppModule {}

      const url = await start(platform, AppModule);

      // Targeting, through every way the SDK offers.
      for (const path of ['decorated', 'injected']) {
        expect((await getJson(`${url}/${path}`, headersFor('alice'))).body).toEqual({
          value: true,
          variant: 'canary',
          reason: 'TARGETING_MATCH',
        });
        expect((await getJson(`${url}/${path}`, headersFor('zed', 'staff,beta'))).body).toMatchObject({
          value: true,
          reason: 'TARGETING_MATCH',
        });
        expect((await getJson(`${url}/${path}`)).body).toEqual({
          value: false,
          variant: 'stable',
          reason: 'DEFAULT',
        });
      }
      expect((await getJson(`${url}/unknown`, headersFor('alice'))).body).toEqual({
        value: true,
        variant: undefined,
        reason: 'ERROR',
        errorCode: 'FLAG_NOT_FOUND',
      });

      // The percentage split, user by user, agrees with canary.evaluate on every path.
      let onCanary = 0;
      for (let i = 0; i < 60; i++) {
        const userId = `user-${i}`;
        const expected = canary.evaluate('checkout', { userId }).version;
        const headers = headersFor(userId);
        const [decorated, injected, variant, guarded] = await Promise.all([
          getJson<Details>(`${url}/decorated`, headers),
          getJson<Details>(`${url}/injected`, headers),
          getJson<Details>(`${url}/variant`, headers),
          getJson(`${url}/guarded`, headers),
        ]);
        expect(decorated.body).toEqual({ value: expected === 'canary', variant: expected, reason: 'SPLIT' });
        expect(injected.body).toEqual(decorated.body);
        expect(variant.body).toEqual({ value: expected, variant: expected, reason: 'SPLIT' });
        expect(guarded.status).toBe(expected === 'canary' ? 200 : 404);
        if (expected === 'canary') onCanary++;
      }
      expect(onCanary).toBeGreaterThan(0);
      expect(onCanary).toBeLessThan(60);

      // A change reaches the module's handlers and the very next requests.
      await canary.setPercentage('checkout', 100);
      await until(() => changes.length === 1, 'PROVIDER_CONFIGURATION_CHANGED through the module');
      expect(changes[0]!.flagsChanged).toEqual(['checkout']);
      for (let i = 0; i < 10; i++)
        expect((await getJson(`${url}/guarded`, headersFor(`user-${i}`))).status).toBe(200);
    });

    it('beside CanaryModule, OpenFeature decides as canary-kit does, anonymous sticky ids included', async () => {
      const canary = createCanary({ flags: FLAGS, metrics: false });
      canaries.push(canary);

      @Controller()
      class BothController {
        @Get('both')
        async both(
          @CanaryDecision('search') decision: { version: string; reason: string },
          @BooleanFeatureFlag({ flagKey: 'search', defaultValue: false })
          feature: Observable<EvaluationDetails<boolean>>,
        ): Promise<{ canaryKit: string; openFeature: string | undefined; reason: string }> {
          const details = await new Promise<EvaluationDetails<boolean>>((resolve, reject) =>
            feature.subscribe({ next: resolve, error: reject }),
          );
          return { canaryKit: decision.version, openFeature: details.variant, reason: decision.reason };
        }
      }

      @Module({
        imports: [
          CanaryModule.forRoot({
            canary,
            context: (req) => ({ userId: header(req as never, 'x-user-id') }),
          }),
          OpenFeatureModule.forRoot({
            defaultProvider: new CanaryProvider(canary),
            // The request's canary-kit context (with the sticky anonymous id CanaryModule issued) as-is.
            contextFactory: (context: ExecutionContext) =>
              toOpenFeatureContext(getRequestCanary(context.switchToHttp().getRequest())?.context),
          }),
        ],
        controllers: [BothController],
      })
      class AppModule {}

      const url = await start(platform, AppModule);
      const reasons = new Set<string>();
      for (let i = 0; i < 40; i++) {
        // Half signed-in users, half anonymous visitors bucketed by the session id CanaryModule issues.
        const { body } = await getJson<{
          canaryKit: string;
          openFeature: string;
          reason: string;
        }>(`${url}/both`, headersFor(i % 2 === 0 ? `user-${i}` : undefined));
        expect(body.openFeature).toBe(body.canaryKit);
        reasons.add(body.reason);
      }
      // `percentage`, never `no-identity`: anonymous visitors were bucketed by the id CanaryModule issued them.
      expect(reasons).toEqual(new Set(['percentage']));
    });
  },
);
