import {
  type Canary,
  type CanaryStore,
  createCanary,
  createMemoryStore,
  type FlagsConfigInput,
  signOverride,
} from '@canary-kit/core';
import {
  CanaryProvider,
  createCanaryProvider,
  PROVIDER_NAME,
  REASON_MAP,
  toEvalContext,
  toOpenFeatureContext,
} from '@canary-kit/openfeature';
import {
  ErrorCode,
  type EvaluationContext,
  type EventDetails,
  OpenFeature,
  ProviderEvents,
  ProviderStatus,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../core/test/support/until.js';

const FLAGS: FlagsConfigInput = {
  checkout: {
    percentage: 30,
    users: ['alice'],
    excludeUsers: ['mallory'],
    groups: ['beta'],
    rules: [{ attribute: 'plan', operator: 'in', values: ['enterprise'] }],
  },
  search: { percentage: 50, stickiness: ['userId', 'sessionId'] },
  off: { enabled: false, percentage: 100, users: ['alice'] },
  zero: { percentage: 0 },
  full: { percentage: 100 },
  byTenant: { percentage: 50, stickiness: 'tenantId' },
};

const canaries: Canary[] = [];
function canaryWith(config: Parameters<typeof createCanary>[0] = { flags: FLAGS }): Canary {
  const canary = createCanary({ metrics: false, ...config });
  canaries.push(canary);
  return canary;
}

async function clientFor(canary: Canary, options?: ConstructorParameters<typeof CanaryProvider>[1]) {
  const provider = new CanaryProvider(canary, options);
  await OpenFeature.setProviderAndWait(provider);
  return { provider, client: OpenFeature.getClient() };
}

afterEach(async () => {
  OpenFeature.clearHandlers();
  await OpenFeature.close();
  await Promise.all(canaries.splice(0).map((c) => c.close()));
});

describe('boolean evaluation through the OpenFeature SDK', () => {
  it('maps every canary-kit reason to an OpenFeature reason', async () => {
    const canary = canaryWith();
    const { client } = await clientFor(canary);
    const cases: [string, EvaluationContext, boolean, string, string, string][] = [
      // flag, context, value, variant, OpenFeature reason, canary-kit reason
      ['checkout', { targetingKey: 'alice' }, true, 'canary', 'TARGETING_MATCH', 'user'],
      [
        'checkout',
        { targetingKey: 'mallory', groups: ['beta'] },
        false,
        'stable',
        'TARGETING_MATCH',
        'excluded',
      ],
      [
        'checkout',
        { targetingKey: 'bob', groups: ['staff', 'beta'] },
        true,
        'canary',
        'TARGETING_MATCH',
        'group',
      ],
      ['checkout', { targetingKey: 'bob', groups: 'beta' }, true, 'canary', 'TARGETING_MATCH', 'group'],
      ['checkout', { targetingKey: 'bob', plan: 'enterprise' }, true, 'canary', 'TARGETING_MATCH', 'rule'],
      ['checkout', {}, false, 'stable', 'DEFAULT', 'no-identity'],
      ['checkout', { plan: 'free' }, false, 'stable', 'DEFAULT', 'no-identity'],
      ['off', { targetingKey: 'alice' }, false, 'stable', 'DISABLED', 'disabled'],
      ['zero', { targetingKey: 'bob' }, false, 'stable', 'DEFAULT', 'percentage'],
      ['full', { targetingKey: 'bob' }, true, 'canary', 'SPLIT', 'percentage'],
    ];
    for (const [flag, context, value, variant, reason, canaryKitReason] of cases) {
      const details = await client.getBooleanDetails(flag, !value, context);
      expect(details, `${flag} ${JSON.stringify(context)}`).toMatchObject({
        flagKey: flag,
        value,
        variant,
        reason,
        flagMetadata: { canaryKitReason },
      });
      expect(details.errorCode).toBeUndefined();
    }
  });

  it('a percentage decision is SPLIT with the bucket and percentage in flagMetadata', async () => {
    const canary = canaryWith();
    const { client } = await clientFor(canary);
    const seen = new Set<boolean>();
    for (let i = 0; i < 200; i++) {
      const details = await client.getBooleanDetails('checkout', false, { targetingKey: `user-${i}` });
      const decision = canary.evaluate('checkout', { userId: `user-${i}` });
      expect(details.reason).toBe(StandardResolutionReasons.SPLIT);
      expect(details.flagMetadata).toEqual({
        canaryKitReason: 'percentage',
        bucket: decision.bucket,
        percentage: 30,
      });
      expect(details.value).toBe(decision.bucket! < 3000);
      seen.add(details.value);
    }
    expect(seen).toEqual(new Set([true, false]));
  });

  it('a rolled-back flag is DISABLED', async () => {
    const canary = canaryWith();
    const { client } = await clientFor(canary);
    expect(await client.getBooleanValue('full', false, { targetingKey: 'bob' })).toBe(true);
    expect(await canary.rollback('full', 'error rate')).toBe(true);
    expect(await client.getBooleanDetails('full', true, { targetingKey: 'bob' })).toMatchObject({
      value: false,
      variant: 'stable',
      reason: StandardResolutionReasons.DISABLED,
      flagMetadata: { canaryKitReason: 'rolled-back', percentage: 0 },
    });
  });

  it('an unknown flag returns the caller default with ERROR / FLAG_NOT_FOUND', async () => {
    const canary = canaryWith();
    const { client } = await clientFor(canary);
    for (const defaultValue of [true, false]) {
      const details = await client.getBooleanDetails('nope', defaultValue, { targetingKey: 'alice' });
      expect(details).toMatchObject({
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.FLAG_NOT_FOUND,
        flagMetadata: { canaryKitReason: 'unknown-flag' },
      });
      expect(details.variant).toBeUndefined();
      expect(details.errorMessage).toContain('"nope"');
    }
    expect(canary.stats().unknownFlagEvaluations).toBe(2);
  });

  it('targetingKey is the user id; an explicit userId attribute wins; other keys are rule attributes', async () => {
    const canary = canaryWith();
    const { client } = await clientFor(canary);
    expect(
      (await client.getBooleanDetails('checkout', false, { targetingKey: 'bob', userId: 'alice' }))
        .flagMetadata.canaryKitReason,
    ).toBe('user');
    // Stickiness on a non-standard key reads the attribute; a number is bucketed as its decimal string.
    const byTenant = await client.getBooleanDetails('byTenant', false, { tenantId: 42 });
    expect(byTenant.flagMetadata.bucket).toBe(canary.evaluate('byTenant', { tenantId: '42' }).bucket);
    // Without a userId the session id decides, as in the HTTP adapters.
    const bySession = await client.getBooleanDetails('search', false, { sessionId: 's-1' });
    expect(bySession.flagMetadata.bucket).toBe(canary.evaluate('search', { sessionId: 's-1' }).bucket);
  });

  it('overrides travel as canaryOverride and are honoured only when signed or trusted', async () => {
    const secret = 'a-secret-of-32-characters-length';
    const canary = canaryWith({ flags: FLAGS, overrides: { secret, trust: (c) => c.ip === '10.0.0.1' } });
    const { client } = await clientFor(canary);
    const signed = signOverride({ overrides: { checkout: 'always' }, secret, expiresInSeconds: 600 });
    expect(
      await client.getBooleanDetails('checkout', false, { targetingKey: 'mallory', canaryOverride: signed }),
    ).toMatchObject({
      value: true,
      reason: 'TARGETING_MATCH',
      flagMetadata: { canaryKitReason: 'override' },
    });
    // Unsigned from an untrusted caller: ignored and counted.
    const ignored = await client.getBooleanDetails('checkout', false, {
      targetingKey: 'mallory',
      canaryOverride: 'checkout=always',
    });
    expect(ignored.flagMetadata.canaryKitReason).toBe('excluded');
    expect(canary.stats().overrides.header.untrusted).toBe(1);
    // Unsigned from a trusted ip: honoured, either way.
    expect(
      await client.getBooleanDetails('checkout', true, {
        targetingKey: 'alice',
        ip: '10.0.0.1',
        canaryOverride: 'never',
      }),
    ).toMatchObject({ value: false, variant: 'stable', reason: 'TARGETING_MATCH' });
    // The kill switch beats an override, as everywhere in canary-kit.
    expect(
      (await client.getBooleanDetails('off', true, { targetingKey: 'x', canaryOverride: signed })).reason,
    ).toBe('DISABLED');
  });

  it('agrees with canary.evaluate for 10,000 ids', async () => {
    const canary = canaryWith();
    const { client } = await clientFor(canary);
    let canaryCount = 0;
    for (let i = 0; i < 10_000; i++) {
      const id = `id-${i}-${(i * 2654435761) % 1000003}`;
      const details = await client.getBooleanDetails('search', false, { targetingKey: id });
      const decision = canary.evaluate('search', { userId: id });
      if (details.value !== (decision.version === 'canary') || details.variant !== decision.version)
        expect.fail(`${id}: OpenFeature ${details.variant}, canary-kit ${decision.version}`);
      if (details.value) canaryCount++;
    }
    // 50 %: the split is murmur3's, roughly even.
    expect(canaryCount).toBeGreaterThan(4_500);
    expect(canaryCount).toBeLessThan(5_500);
  });
});

describe('other value types', () => {
  it('string resolution is the variant; number and object are TYPE_MISMATCH with the default', async () => {
    const canary = canaryWith();
    const { client } = await clientFor(canary);
    expect(await client.getStringDetails('checkout', 'x', { targetingKey: 'alice' })).toMatchObject({
      value: 'canary',
      variant: 'canary',
      reason: 'TARGETING_MATCH',
    });
    expect(await client.getStringValue('off', 'x', { targetingKey: 'alice' })).toBe('stable');
    expect(await client.getStringDetails('nope', 'x')).toMatchObject({
      value: 'x',
      errorCode: ErrorCode.FLAG_NOT_FOUND,
    });
    expect(await client.getNumberDetails('checkout', 7, { targetingKey: 'alice' })).toMatchObject({
      value: 7,
      reason: 'ERROR',
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
    expect(await client.getObjectDetails('checkout', { a: 1 })).toMatchObject({
      value: { a: 1 },
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
    expect(await client.getNumberDetails('nope', 7)).toMatchObject({
      value: 7,
      errorCode: ErrorCode.FLAG_NOT_FOUND,
    });
  });
});

describe('garbage contexts', () => {
  const contextArb = fc.dictionary(
    fc.oneof(
      fc.constantFrom(
        'targetingKey',
        'userId',
        'sessionId',
        'tenantId',
        'ip',
        'groups',
        'canaryOverride',
        'plan',
      ),
      fc.string(),
    ),
    fc.anything({ withDate: true, withNullPrototype: true, withMap: true, withSet: true }),
  );

  it('never throw, always answer with a known reason, agree with canary.evaluate of the mapped context', async () => {
    const canary = canaryWith({ flags: FLAGS, overrides: { trust: () => true } });
    const { client } = await clientFor(canary);
    const reasons = new Set(Object.values(REASON_MAP).concat('DEFAULT'));
    await fc.assert(
      fc.asyncProperty(
        contextArb,
        fc.constantFrom('checkout', 'search', 'off', 'byTenant'),
        async (raw, flag) => {
          const context = raw as EvaluationContext;
          const details = await client.getBooleanDetails(flag, false, context);
          expect(reasons.has(details.reason!)).toBe(true);
          expect(details.errorCode).toBeUndefined();
          const mapped = toEvalContext(context, canary.overrideSources);
          expect(details.variant).toBe(canary.evaluate(flag, mapped).version);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('toOpenFeatureContext carries a canary-kit context through OpenFeature to the same decision', async () => {
    const canary = canaryWith({ flags: FLAGS, overrides: { trust: (c) => c.attributes?.plan === 'team' } });
    const { client } = await clientFor(canary);
    const id = fc.option(fc.oneof(fc.string(), fc.constantFrom('alice', 'mallory')), { nil: undefined });
    const evalContextArb = fc.record(
      {
        userId: id,
        sessionId: id,
        tenantId: id,
        ip: id,
        groups: fc.array(fc.oneof(fc.string(), fc.constant('beta'))),
        attributes: fc.dictionary(
          fc.oneof(fc.string(), fc.constant('plan')),
          fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.constantFrom('enterprise', 'team')),
        ),
        overrides: fc.record(
          {
            header: fc.oneof(
              fc.constantFrom('always', 'never', 'checkout=always', 'search=never,always', '=='),
              fc.array(fc.constantFrom('always', 'checkout=never')),
            ),
            cookie: fc.constantFrom('always', 'never', 'search=always'),
          },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        evalContextArb,
        fc.constantFrom('checkout', 'search', 'byTenant'),
        async (ctx, flag) => {
          const details = await client.getBooleanDetails(flag, false, toOpenFeatureContext(ctx));
          const decision = canary.evaluate(flag, ctx);
          expect(details.variant).toBe(decision.version);
          expect(details.flagMetadata.canaryKitReason).toBe(decision.reason);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a context whose getters throw is answered with the default and INVALID_CONTEXT', async () => {
    const canary = canaryWith();
    const provider = new CanaryProvider(canary);
    const hostile = new Proxy({} as EvaluationContext, {
      ownKeys: () => {
        throw new Error('trap');
      },
    });
    expect(await provider.resolveBooleanEvaluation('checkout', true, hostile)).toMatchObject({
      value: true,
      reason: 'ERROR',
      errorCode: ErrorCode.INVALID_CONTEXT,
    });
    // A throwing getter only loses its own key.
    const getter = Object.defineProperty({ targetingKey: 'alice' }, 'plan', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    expect(toEvalContext(getter as EvaluationContext, undefined)).toEqual({
      userId: 'alice',
      attributes: { targetingKey: 'alice' },
    });
  });

  it('rejects what is not a Canary, and a bad readyTimeoutMs, by name', () => {
    expect(() => new CanaryProvider({} as Canary)).toThrow(/expected a Canary/);
    expect(() => new CanaryProvider(canaryWith(), { readyTimeoutMs: -1 })).toThrow(/readyTimeoutMs/);
  });
});

describe('events and lifecycle', () => {
  it('PROVIDER_CONFIGURATION_CHANGED carries the changed flag keys, one event per change batch', async () => {
    const store = createMemoryStore();
    const canary = canaryWith({ flags: FLAGS, store });
    const { client } = await clientFor(canary);
    const events: EventDetails[] = [];
    client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
      if (details) events.push(details);
    });

    await canary.setPercentage('checkout', 60);
    await until(() => events.length === 1, 'the setPercentage event');
    expect(events[0]).toMatchObject({ flagsChanged: ['checkout'], providerName: PROVIDER_NAME });
    expect(events[0]!.metadata).toEqual({ source: 'api' });
    expect(
      (await client.getBooleanDetails('checkout', false, { targetingKey: 'u' })).flagMetadata.percentage,
    ).toBe(60);

    const { checkout: _, ...rest } = FLAGS;
    await canary.replaceConfig({ flags: { ...rest, zero: { percentage: 10 }, fresh: { percentage: 5 } } });
    await until(() => events.length === 2, 'the replaceConfig event');
    expect(new Set(events[1]!.flagsChanged as string[])).toEqual(new Set(['checkout', 'zero', 'fresh']));

    // Another process (here: another Canary) changing the shared store reaches this provider too.
    const other = canaryWith({ flags: FLAGS, store });
    await other.ready();
    await other.setPercentage('search', 80);
    await until(() => events.length === 3, 'the store event');
    expect(events[2]).toMatchObject({ flagsChanged: ['search'], metadata: { source: 'store' } });
  });

  it('a Canary error is PROVIDER_ERROR (filterable); flags keep evaluating; the next change is READY again', async () => {
    const canary = canaryWith();
    const { client } = await clientFor(canary, { forwardError: (e) => !e.message.includes('ignore me') });
    const errors: EventDetails[] = [];
    const readies: EventDetails[] = [];
    client.addHandler(ProviderEvents.Error, (d) => errors.push(d!));
    client.addHandler(ProviderEvents.Ready, (d) => readies.push(d!));
    await until(() => readies.length === 1, 'the initial ready (handlers run for a ready provider)');

    canary.reportError(new Error('ignore me'));
    canary.reportError(new Error('store unreachable'));
    await until(() => errors.length === 1, 'the error event');
    expect(errors[0]!.message).toContain('store unreachable');
    expect(client.providerStatus).toBe(ProviderStatus.ERROR);
    expect(await client.getBooleanValue('checkout', false, { targetingKey: 'alice' })).toBe(true);

    await canary.setPercentage('checkout', 40);
    await until(() => client.providerStatus === ProviderStatus.READY, 'READY after a change');
    expect(readies).toHaveLength(2);
  });

  it('a hung store does not hold setProviderAndWait: STALE until it loads, then READY', async () => {
    const memory = createMemoryStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A real store whose load hangs until the test releases it.
    const hung: CanaryStore = {
      kind: 'hung',
      load: async () => {
        await gate;
        return memory.load();
      },
      save: (content, revision) => memory.save(content, revision),
      subscribe: (listener) => memory.subscribe(listener),
      close: () => memory.close(),
    };
    const canary = canaryWith({ flags: FLAGS, store: hung });
    const { client } = await clientFor(canary, { readyTimeoutMs: 50 });
    await until(() => client.providerStatus === ProviderStatus.STALE, 'STALE while the store hangs');
    // Serving the configured flags meanwhile.
    expect(await client.getBooleanValue('checkout', false, { targetingKey: 'alice' })).toBe(true);
    release();
    await until(() => client.providerStatus === ProviderStatus.READY, 'READY once the store loads');
  });

  it("closing OpenFeature leaves the user's Canary running unless closeCanary is set", async () => {
    for (const closeCanary of [false, true]) {
      const store = createMemoryStore();
      const canary = canaryWith({ flags: FLAGS, store });
      const other = canaryWith({ flags: FLAGS, store });
      await Promise.all([canary.ready(), other.ready()]);
      const provider = createCanaryProvider(canary, { closeCanary });
      await OpenFeature.setProviderAndWait(provider);
      const changed: EventDetails[] = [];
      provider.events.addHandler(ProviderEvents.ConfigurationChanged, (d) => changed.push(d!));
      await OpenFeature.close();

      // A closed Canary stops following its store; an open one follows it.
      await other.setPercentage('checkout', 77);
      if (closeCanary) {
        // Give the store's notification its chance: the sibling Canary sees it, the closed one must not.
        await until(() => other.getFlag('checkout')?.percentage === 77, 'the write');
        await new Promise((resolve) => setImmediate(resolve));
        expect(canary.getFlag('checkout')?.percentage).toBe(30);
      } else {
        await until(() => canary.getFlag('checkout')?.percentage === 77, 'the open Canary follows its store');
      }
      // Either way the closed provider forwards nothing any more.
      await new Promise((resolve) => setImmediate(resolve));
      expect(changed).toEqual([]);
    }
  });
});
