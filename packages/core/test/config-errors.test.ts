import { CanaryConfigError, createCanary, parseConfig } from '@canary-kit/core';
import { describe, expect, it } from 'vitest';

function issuesOf(config: unknown) {
  try {
    parseConfig(config);
  } catch (error) {
    expect(error).toBeInstanceOf(CanaryConfigError);
    return (error as CanaryConfigError).issues;
  }
  throw new Error('expected a CanaryConfigError');
}

describe('config validation', () => {
  it('names the path and the rule', () => {
    expect(issuesOf({ flags: { checkout: { percentage: 150 } } })).toEqual([
      { path: 'flags.checkout.percentage', message: 'must be between 0 and 100' },
    ]);
  });

  it('reports every issue, not just the first', () => {
    const issues = issuesOf({
      flags: {
        a: {
          percentage: 1.234,
          enabled: 'yes',
          stickiness: [],
          rules: [{ attribute: 'x', operator: 'like', values: [] }],
        },
        'b c': {},
        exp: {},
      },
      overrides: {},
      tpyo: true,
    });
    expect(issues.map((i) => i.path)).toEqual([
      'tpyo',
      'flags.a.percentage',
      'flags.a.enabled',
      'flags.a.stickiness',
      'flags.a.rules[0].operator',
      'flags.a.rules[0].values',
      'flags["b c"]',
      'flags.exp',
      'overrides',
    ]);
    expect(issues.find((i) => i.path === 'flags.a.percentage')?.message).toBe('must be a multiple of 0.01');
  });

  it('checks rule values against their operator', () => {
    const issues = issuesOf({
      flags: {
        f: {
          rules: [
            { attribute: 'age', operator: 'gt', values: ['18'] },
            { attribute: 'app', operator: 'semver_gte', values: ['two'] },
            { attribute: 'x', operator: 'in', values: [null] },
          ],
        },
      },
    });
    expect(issues).toEqual([
      { path: 'flags.f.rules[0].values[0]', message: 'operator gt compares numbers: must be a number' },
      {
        path: 'flags.f.rules[1].values[0]',
        message: 'operator semver_gte needs a semantic version such as "2.1.0"',
      },
      {
        path: 'flags.f.rules[2].values[0]',
        message: 'must be a string, a finite number or a boolean, got null',
      },
    ]);
  });

  it('the message lists every issue for people reading logs', () => {
    expect(() => createCanary({ flags: { checkout: { percentage: -1 } } } as never)).toThrow(
      /flags\.checkout\.percentage: must be between 0 and 100/,
    );
  });

  it('rejects a non-object config and unknown options', () => {
    expect(issuesOf('flags')).toEqual([
      { path: '', message: 'config must be an object, got string "flags"' },
    ]);
    expect(issuesOf({ flags: { f: { percent: 5 } } })).toEqual([
      { path: 'flags.f.percent', message: 'unknown option' },
    ]);
  });

  it('validates overrides, store, metrics and service', () => {
    const paths = issuesOf({
      overrides: { secret: 'short', header: 'bad header' },
      store: {},
      metrics: { registry: {}, buckets: [1, 0.5] },
      service: { version: '' },
    }).map((i) => i.path);
    expect(paths).toEqual([
      'overrides.header',
      'overrides.secret',
      'store',
      'metrics.registry',
      'metrics.buckets',
      'service.version',
    ]);
  });

  it('fills in defaults', () => {
    const { flags } = parseConfig({ flags: { f: {} } });
    expect(flags.f).toEqual({
      percentage: 0,
      enabled: true,
      stickiness: ['userId'],
      users: [],
      excludeUsers: [],
      groups: [],
      rules: [],
      seed: 'f',
      bucketing: 'murmur3',
    });
  });
});

describe('runtime changes are validated too', () => {
  it('setPercentage rejects invalid values and unknown flags, changing nothing', async () => {
    const canary = createCanary({ flags: { f: { percentage: 5 } } });
    await expect(canary.setPercentage('f', 101)).rejects.toMatchObject({
      issues: [{ path: 'flags.f.percentage', message: 'must be between 0 and 100' }],
    });
    await expect(canary.setPercentage('nope', 1)).rejects.toMatchObject({
      issues: [{ path: 'flags.nope', message: 'unknown flag' }],
    });
    expect(canary.getFlag('f')?.percentage).toBe(5);
    await canary.close();
  });

  it('replaceConfig validates the whole config and keeps the last good one on error', async () => {
    const canary = createCanary({ flags: { f: { percentage: 5 } } });
    await expect(
      canary.replaceConfig({ flags: { f: { percentage: 5 }, g: { percentage: 'x' as never } } }),
    ).rejects.toBeInstanceOf(CanaryConfigError);
    expect(Object.keys(canary.flags)).toEqual(['f']);
    await canary.close();
  });
});
