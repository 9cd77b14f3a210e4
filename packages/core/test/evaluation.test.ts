import { type CanaryWarning, createCanary, type Decision, murmur3 } from '@canary-kit/core';
import { afterEach, describe, expect, it } from 'vitest';

const canaries: { close(): Promise<void> }[] = [];
function make(config: Parameters<typeof createCanary>[0]) {
  const canary = createCanary(config);
  canaries.push(canary);
  return canary;
}
afterEach(async () => {
  await Promise.all(canaries.splice(0).map((c) => c.close()));
});

describe('evaluation order', () => {
  const flags = {
    checkout: {
      percentage: 0,
      users: ['vip', 'both'],
      excludeUsers: ['banned', 'both'],
      groups: ['beta'],
      rules: [{ attribute: 'country', operator: 'in' as const, values: ['NZ'] }],
    },
  };

  it.each<[string, object, Partial<Decision>]>([
    ['excluded beats users', { userId: 'both' }, { version: 'stable', reason: 'excluded' }],
    [
      'excluded beats groups and rules',
      { userId: 'banned', groups: ['beta'], attributes: { country: 'NZ' } },
      { reason: 'excluded' },
    ],
    ['users', { userId: 'vip' }, { version: 'canary', reason: 'user' }],
    ['groups', { userId: 'x', groups: ['alpha', 'beta'] }, { version: 'canary', reason: 'group' }],
    ['rules', { userId: 'x', attributes: { country: 'NZ' } }, { version: 'canary', reason: 'rule' }],
    [
      'percentage when nothing targets',
      { userId: 'x', attributes: { country: 'AU' } },
      { version: 'stable', reason: 'percentage' },
    ],
    [
      'no identity',
      { attributes: { country: 'AU' } },
      { version: 'stable', reason: 'no-identity', bucket: null },
    ],
  ])('%s', (_name, context, expected) => {
    const canary = make({ flags });
    expect(canary.evaluate('checkout', context)).toMatchObject({ flag: 'checkout', ...expected });
  });

  it('the kill switch beats everything, overrides included', () => {
    const canary = make({
      flags: { f: { enabled: false, percentage: 100, users: ['vip'] } },
      overrides: { trust: () => true },
    });
    expect(canary.evaluate('f', { userId: 'vip', overrides: { header: 'always' } })).toEqual({
      flag: 'f',
      version: 'stable',
      reason: 'disabled',
      bucket: null,
    });
  });

  it('a rolled-back flag serves stable even at 100 %', async () => {
    const { MemoryStore } = await import('@canary-kit/core');
    const store = new MemoryStore({
      flags: { f: { percentage: 100 } },
      rollouts: {
        f: {
          flag: 'f',
          canaryVersionId: 'v2',
          phase: 'rolled-back',
          stepIndex: 0,
          stepStartedAt: 0,
          failures: 3,
        },
      },
    });
    const canary = make({ flags: { f: { percentage: 100 } }, store });
    await canary.ready();
    expect(canary.evaluate('f', { userId: 'a' })).toMatchObject({ version: 'stable', reason: 'rolled-back' });
  });
});

describe('percentage bucketing', () => {
  it('uses murmur3(seed:identity) mod 10000 with the flag key as default seed', () => {
    const canary = make({ flags: { test: { percentage: 50 }, other: { percentage: 50, seed: 'test' } } });
    const d = canary.evaluate('test', { userId: '123' });
    expect(d.bucket).toBe(1898182313 % 10_000);
    expect(d.bucket).toBe(murmur3('test:123') % 10_000);
    expect(d.version).toBe(d.bucket! < 5000 ? 'canary' : 'stable');
    // a shared seed splits identically
    expect(canary.evaluate('other', { userId: '123' }).bucket).toBe(d.bucket);
  });

  it('puts buckets below percentage × 100 on the canary, in 0.01 % steps', () => {
    const bucket = murmur3('f:u1') % 10_000;
    const at = (p: number) =>
      make({ flags: { f: { percentage: p } } }).evaluate('f', { userId: 'u1' }).version;
    expect(at(bucket / 100)).toBe('stable');
    expect(at((bucket + 1) / 100)).toBe('canary');
    expect(at(0)).toBe('stable');
    expect(at(100)).toBe('canary');
  });

  it('falls back along the stickiness list and reads non-standard keys from attributes', () => {
    const canary = make({
      flags: {
        f: { percentage: 50, stickiness: ['userId', 'sessionId'] },
        t: { percentage: 50, stickiness: 'tenantId' },
        a: { percentage: 50, stickiness: 'accountId' },
      },
    });
    expect(canary.evaluate('f', { sessionId: 's1' }).bucket).toBe(murmur3('f:s1') % 10_000);
    expect(canary.evaluate('f', { userId: 'u', sessionId: 's1' }).bucket).toBe(murmur3('f:u') % 10_000);
    expect(canary.evaluate('t', { userId: 'u', tenantId: 'acme' }).bucket).toBe(murmur3('t:acme') % 10_000);
    expect(canary.evaluate('a', { attributes: { accountId: 42 } }).bucket).toBe(murmur3('a:42') % 10_000);
    expect(canary.evaluate('t', { userId: 'u' }).reason).toBe('no-identity');
    expect(canary.evaluate('f', { userId: '' }).reason).toBe('no-identity');
  });
});

describe('rules', () => {
  const cases: [string, unknown[], unknown, boolean][] = [
    ['in', ['NZ', 'AU'], 'AU', true],
    ['in', ['NZ'], 'US', false],
    ['not_in', ['NZ'], 'US', true],
    ['not_in', ['NZ'], 'NZ', false],
    ['eq', [5], '5', true],
    ['eq', [true], true, true],
    ['neq', ['a'], 'b', true],
    ['starts_with', ['ab'], 'abc', true],
    ['ends_with', ['bc'], 'abc', true],
    ['contains', ['@corp.com'], 'x@corp.com', true],
    ['contains', ['@corp.com'], 'x@gmail.com', false],
    ['lt', [10], 9, true],
    ['lt', [10], '9', true],
    ['lt', [10], 10, false],
    ['lte', [10], 10, true],
    ['gt', [10], 11, true],
    ['gte', [10], 'ten', false],
    ['semver_lt', ['2.0.0'], '1.9.9', true],
    ['semver_lt', ['2.0.0'], '2.0.0-rc.1', true],
    ['semver_gte', ['2.0.0'], '2.0.0', true],
    ['semver_gte', ['2.0.0'], 'v2.1', true],
    ['semver_gte', ['2.0.0'], '1.99.0', false],
    ['semver_gte', ['2.0.0'], 'not-a-version', false],
  ];
  it.each(cases)('%s %j against %j → %s', (operator, values, actual, matches) => {
    const canary = make({
      flags: { f: { rules: [{ attribute: 'v', operator: operator as never, values: values as never }] } },
    });
    expect(canary.evaluate('f', { userId: 'u', attributes: { v: actual as string } }).reason).toBe(
      matches ? 'rule' : 'percentage',
    );
  });

  it('a missing attribute never matches, not even not_in', () => {
    const canary = make({
      flags: { f: { rules: [{ attribute: 'country', operator: 'not_in', values: ['NZ'] }] } },
    });
    expect(canary.evaluate('f', { userId: 'u' }).reason).toBe('percentage');
  });

  it('reads standard keys from the context itself', () => {
    const canary = make({
      flags: { f: { rules: [{ attribute: 'tenantId', operator: 'eq', values: ['acme'] }] } },
    });
    expect(canary.evaluate('f', { userId: 'u', tenantId: 'acme' }).reason).toBe('rule');
  });
});

describe('unknown flags', () => {
  it('serve stable with reason unknown-flag and warn once per flag, never throwing', () => {
    const canary = make({ flags: {} });
    const warnings: CanaryWarning[] = [];
    canary.on('warning', (w) => warnings.push(w));
    for (let i = 0; i < 5; i++)
      expect(canary.evaluate('nope', { userId: 'u' })).toMatchObject({
        version: 'stable',
        reason: 'unknown-flag',
      });
    canary.evaluate('other');
    expect(warnings.map((w) => w.flag)).toEqual(['nope', 'other']);
    expect(warnings[0]).toMatchObject({ code: 'unknown-flag' });
    expect(canary.stats().unknownFlagEvaluations).toBe(6);
  });

  it('a throwing warning listener cannot fail evaluation; it is reported as an error', () => {
    const canary = make({});
    const errors: Error[] = [];
    canary.on('warning', () => {
      throw new Error('listener bug');
    });
    canary.on('error', (e) => errors.push(e));
    expect(canary.evaluate('x').reason).toBe('unknown-flag');
    expect(errors[0]?.message).toMatch(/listener threw: listener bug/);
  });
});

describe('isCanary and per-request memo', () => {
  it('isCanary is the boolean of evaluate', () => {
    const canary = make({ flags: { f: { percentage: 50 } } });
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
      expect(canary.isCanary('f', { userId: id })).toBe(
        canary.evaluate('f', { userId: id }).version === 'canary',
      );
    }
  });

  it('a request keeps its decision when the percentage changes mid-request', async () => {
    const canary = make({ flags: { f: { percentage: 0 } } });
    const request = canary.forContext({ userId: 'u' });
    expect(request.isCanary('f')).toBe(false);
    await canary.setPercentage('f', 100);
    expect(request.isCanary('f')).toBe(false);
    expect(canary.forContext({ userId: 'u' }).isCanary('f')).toBe(true);
    expect(request.decisions()).toHaveLength(1);
  });
});
