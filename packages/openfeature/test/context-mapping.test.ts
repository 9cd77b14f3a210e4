import { MAX_GROUPS, toEvalContext, toOpenFeatureContext } from '@canary-kit/openfeature';
import type { EvaluationContext } from '@openfeature/server-sdk';
import { describe, expect, it } from 'vitest';

const BOTH = { header: 'x-canary', cookie: 'canary' } as const;

describe('toEvalContext: the table in docs/openfeature.md', () => {
  it('maps identity keys, groups, overrides and attributes', () => {
    const when = new Date('2026-11-22T03:00:00.000Z');
    expect(
      toEvalContext(
        {
          targetingKey: 'u1',
          sessionId: 's1',
          tenantId: 7,
          ip: '10.0.0.1',
          groups: ['beta', 3 as never, 'staff'],
          canaryOverride: 'checkout=always',
          plan: 'pro',
          seats: 12,
          trial: false,
          since: when,
          nested: { a: 1 },
          list: ['x'],
          nothing: null,
          nan: Number.NaN,
        },
        BOTH,
      ),
    ).toEqual({
      userId: 'u1',
      sessionId: 's1',
      tenantId: '7',
      ip: '10.0.0.1',
      groups: ['beta', 'staff'],
      overrides: { header: 'checkout=always' },
      attributes: { targetingKey: 'u1', plan: 'pro', seats: 12, trial: false, since: when.toISOString() },
    });
  });

  it('userId wins over targetingKey; empty ids are no ids', () => {
    expect(toEvalContext({ targetingKey: 'tk', userId: 'uid' }, undefined).userId).toBe('uid');
    expect(toEvalContext({ targetingKey: 'tk', userId: '' }, undefined).userId).toBe('tk');
    expect(toEvalContext({ targetingKey: '', sessionId: '' }, undefined)).toEqual({
      attributes: { targetingKey: '' },
    });
  });

  it('a single group string is a one-group list; lists are cut at MAX_GROUPS', () => {
    expect(toEvalContext({ groups: 'beta' }, undefined).groups).toEqual(['beta']);
    const many = Array.from({ length: MAX_GROUPS + 500 }, (_, i) => `g${i}`);
    const groups = toEvalContext({ groups: many }, undefined).groups!;
    expect(groups).toHaveLength(MAX_GROUPS);
    expect(groups.at(-1)).toBe(`g${MAX_GROUPS - 1}`);
  });

  it('canaryOverride follows where the Canary reads overrides, and is dropped when they are off', () => {
    expect(toEvalContext({ canaryOverride: 'always' }, undefined).overrides).toBeUndefined();
    expect(toEvalContext({ canaryOverride: 'always' }, { header: false, cookie: 'c' }).overrides).toEqual({
      cookie: 'always',
    });
    expect(
      toEvalContext({ canaryOverride: 'always' }, { header: false, cookie: false }).overrides,
    ).toBeUndefined();
    expect(
      toEvalContext({ canaryOverride: { header: ['a=always', 'never'], cookie: 'always' } }, BOTH).overrides,
    ).toEqual({ header: ['a=always', 'never'], cookie: 'always' });
    expect(toEvalContext({ canaryOverride: { header: 5, cookie: 6 } }, BOTH).overrides).toBeUndefined();
    expect(toEvalContext({ canaryOverride: 42 }, BOTH).overrides).toBeUndefined();
  });

  it('anything that is not an object maps to the empty context', () => {
    for (const value of [undefined, null, 'x', 5, true])
      expect(toEvalContext(value as unknown as EvaluationContext, BOTH)).toEqual({});
  });
});

describe('toOpenFeatureContext', () => {
  it('flattens a canary-kit context; attributes named like mapped keys are dropped', () => {
    expect(
      toOpenFeatureContext({
        userId: 'u1',
        sessionId: 's1',
        groups: ['beta'],
        attributes: { plan: 'pro', userId: 'shadowed', groups: 'x', targetingKey: 'y', canaryOverride: 'z' },
        overrides: { header: 'always' },
      }),
    ).toEqual({
      targetingKey: 'u1',
      userId: 'u1',
      sessionId: 's1',
      groups: ['beta'],
      plan: 'pro',
      canaryOverride: 'always',
    });
    expect(toOpenFeatureContext({ overrides: { cookie: 'never' } })).toEqual({
      canaryOverride: { cookie: 'never' },
    });
    expect(toOpenFeatureContext(undefined)).toEqual({});
  });
});
