import {
  type Bucketing,
  createCanary,
  type Decision,
  type EvalContext,
  type FlagConfigInput,
  REASONS,
  RULE_OPERATORS,
  type RuleConfig,
  type RuleOperator,
  signOverride,
} from '@canary-kit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// ── arbitraries ─────────────────────────────────────────────────────────────────────────────────────────

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
/** Identities: ASCII, any Unicode, and raw code units (lone surrogates). Never empty. */
const idArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme-ascii' }),
  fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }),
  fc.string({ minLength: 1, maxLength: 12, unit: codeUnit }),
  fc.uuid(),
);
const seedArb = fc.string({ minLength: 1, maxLength: 16, unit: 'binary' });
const bucketingArb = fc.constantFrom<Bucketing>('murmur3', 'unleash');
/** A percentage in 0.01 steps, as hundredths. */
const hundredthsArb = fc.integer({ min: 0, max: 10_000 });

/** Every kind of value a context field could hold: objects with null prototypes, boxed values, maps, typed arrays, sparse arrays, BigInt… */
const anyValue = fc.anything({
  maxDepth: 3,
  maxKeys: 5,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withBigInt: true,
  withDate: true,
  withTypedArray: true,
  withSparseArray: true,
  stringUnit: 'binary',
});

const STANDARD_KEYS = ['userId', 'sessionId', 'tenantId', 'ip'] as const;
const attributeKeyArb = fc.oneof(
  fc.constantFrom(
    'plan',
    'country',
    'version',
    'age',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'length',
  ),
  fc.string({ minLength: 1, maxLength: 8 }),
);

const SECRET = 'property-test-secret-0123456789';

/**
 * Contexts as adapters would never build them: any value anywhere, including the override inputs.
 * `overrideHeader` is what `overrides.header` may hold (see the `no reason error` tests).
 */
function contextArb(overrideHeader: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    anyValue,
    fc.constantFrom(undefined, null, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, '', 'user-1', true, 10n),
    fc.record(
      {
        userId: fc.oneof(idArb, anyValue),
        sessionId: fc.oneof(idArb, anyValue),
        tenantId: fc.oneof(idArb, anyValue),
        ip: fc.oneof(fc.ipV4(), fc.ipV6(), anyValue),
        groups: fc.oneof(
          anyValue,
          fc.array(fc.oneof(fc.constantFrom('beta', 'staff'), anyValue), { maxLength: 5 }),
        ),
        attributes: fc.oneof(anyValue, fc.dictionary(attributeKeyArb, anyValue, { maxKeys: 5 })),
        overrides: fc.oneof(
          anyValue,
          fc.record(
            {
              header: fc.oneof(
                overrideHeader,
                fc.constantFrom('always', 'never', 'guarded=always', 'always,exp=1,sig=x', '%E0%A4%A'),
                fc.array(fc.oneof(fc.constantFrom('always', 'guarded=never'), fc.string())),
              ),
              cookie: fc.oneof(anyValue, fc.constantFrom('always', 'never', '%E0%A4%A', 'guarded%3Dalways')),
            },
            { requiredKeys: [] },
          ),
        ),
      },
      { requiredKeys: [] },
    ),
  );
}

/** Anything at all, in every field. */
const garbageContextArb = contextArb(anyValue);
/**
 * The same, except that `overrides.header`, when an array, holds strings (its declared type is
 * `string | string[]`): an array of objects without a prototype makes `join` throw, see the test below.
 */
const garbageContextTypedHeaderArb = contextArb(anyValue.filter((v) => !Array.isArray(v)));

/** Versions `parseSemver` accepts: `1.2.3`, `v1.2.3-beta.1`, `1.2.3+build`, and the short forms `1` and `1.2`. */
const semverArb = fc.oneof(
  fc
    .tuple(
      fc.boolean(),
      fc.nat(20),
      fc.nat(20),
      fc.nat(20),
      fc.option(fc.constantFrom('alpha', 'beta.1', 'rc.2', '0', 'x-y'), { nil: undefined }),
      fc.option(fc.constantFrom('build.5', '001'), { nil: undefined }),
    )
    .map(
      ([v, major, minor, patch, pre, build]) =>
        `${v ? 'v' : ''}${major}.${minor}.${patch}${pre === undefined ? '' : `-${pre}`}${build === undefined ? '' : `+${build}`}`,
    ),
  fc
    .tuple(fc.nat(20), fc.option(fc.nat(20), { nil: undefined }))
    .map(([major, minor]) => (minor === undefined ? `${major}` : `${major}.${minor}`)),
);

const finiteNumber = fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => n + 0);

/** Values the validator accepts for `operator`. */
function valuesFor(operator: RuleOperator): fc.Arbitrary<RuleConfig['values']> {
  if (operator === 'lt' || operator === 'lte' || operator === 'gt' || operator === 'gte') {
    return fc.array(fc.oneof(finiteNumber, fc.integer({ min: -100, max: 100 })), {
      minLength: 1,
      maxLength: 4,
    });
  }
  if (operator.startsWith('semver_')) return fc.array(semverArb, { minLength: 1, maxLength: 3 });
  return fc.array(fc.oneof(fc.string({ maxLength: 6 }), finiteNumber, fc.boolean()), {
    minLength: 1,
    maxLength: 4,
  });
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────────────

const percentageOf = (hundredths: number) => hundredths / 100;

/** A Canary that records evaluation errors (which evaluate() catches and turns into reason `error`). */
function canaryWith(
  flags: Record<string, FlagConfigInput>,
  extra: { trust?: (c: EvalContext) => boolean } = {},
) {
  const errors: unknown[] = [];
  const canary = createCanary({
    flags,
    overrides: { trust: extra.trust ?? (() => true), secret: SECRET },
  });
  canary.on('error', (error) => errors.push(error));
  return { canary, errors };
}

function expectWellFormed(decision: Decision, flag: string) {
  expect(decision.flag).toBe(flag);
  expect(['canary', 'stable']).toContain(decision.version);
  expect(REASONS).toContain(decision.reason);
  if (decision.reason === 'percentage') {
    expect(Number.isInteger(decision.bucket)).toBe(true);
  } else {
    expect(decision.bucket).toBeNull();
  }
}

function describeErrors(errors: unknown[]): string {
  return errors.map((e) => `${String(e)} <- ${String((e as Error).cause)}`).join('\n');
}

// ── monotonicity ────────────────────────────────────────────────────────────────────────────────────────

describe('percentage is monotonic', () => {
  it('canary at p implies canary at every p′ > p (same seed, both bucketings)', () => {
    fc.assert(
      fc.property(
        idArb,
        seedArb,
        bucketingArb,
        fc.uniqueArray(hundredthsArb, { minLength: 2, maxLength: 8 }),
        (id, seed, bucketing, steps) => {
          const sorted = [...steps].sort((a, b) => a - b);
          const flags = Object.fromEntries(
            sorted.map((h, i) => [`f${i}`, { percentage: percentageOf(h), seed, bucketing }]),
          );
          const canary = createCanary({ flags });
          const decisions = sorted.map((_, i) => canary.evaluate(`f${i}`, { userId: id }));
          // Same seed: the identity has one bucket, whatever the percentage.
          expect(new Set(decisions.map((d) => d.bucket)).size).toBe(1);
          for (const d of decisions) expect(d.reason).toBe('percentage');
          const firstCanary = decisions.findIndex((d) => d.version === 'canary');
          if (firstCanary !== -1) {
            for (const d of decisions.slice(firstCanary)) expect(d.version).toBe('canary');
          }
          // The decision is exactly the documented threshold test on the bucket.
          decisions.forEach((d, i) => {
            const bucket = d.bucket!;
            const expected =
              bucketing === 'unleash' ? bucket <= percentageOf(sorted[i]!) : bucket < sorted[i]!;
            expect(d.version).toBe(expected ? 'canary' : 'stable');
            if (bucketing === 'unleash') expect(bucket >= 1 && bucket <= 100).toBe(true);
            else expect(bucket >= 0 && bucket < 10_000).toBe(true);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('0 % is never canary and 100 % always is, for any identity', () => {
    fc.assert(
      fc.property(idArb, seedArb, bucketingArb, (id, seed, bucketing) => {
        const canary = createCanary({
          flags: { none: { percentage: 0, seed, bucketing }, all: { percentage: 100, seed, bucketing } },
        });
        expect(canary.evaluate('none', { userId: id }).version).toBe('stable');
        expect(canary.evaluate('all', { userId: id }).version).toBe('canary');
      }),
      { numRuns: 300 },
    );
  });

  it('lowering the percentage (setPercentage) never moves stable to canary; raising never moves canary to stable', async () => {
    await fc.assert(
      fc.asyncProperty(
        idArb,
        seedArb,
        bucketingArb,
        hundredthsArb,
        hundredthsArb,
        async (id, seed, bucketing, a, b) => {
          const [low, high] = a <= b ? [a, b] : [b, a];
          const canary = createCanary({ flags: { f: { percentage: percentageOf(high), seed, bucketing } } });
          await canary.ready();
          const atHigh = canary.evaluate('f', { userId: id });
          await canary.setPercentage('f', percentageOf(low));
          const atLow = canary.evaluate('f', { userId: id });
          await canary.setPercentage('f', percentageOf(high));
          const backAtHigh = canary.evaluate('f', { userId: id });
          await canary.close();

          expect(atLow.bucket).toBe(atHigh.bucket);
          if (atHigh.version === 'stable') expect(atLow.version).toBe('stable');
          if (atLow.version === 'canary') expect(backAtHigh.version).toBe('canary');
          expect(backAtHigh).toEqual(atHigh);
        },
      ),
      { numRuns: 150 },
    );
  });
});

// ── share ───────────────────────────────────────────────────────────────────────────────────────────────

describe('observed canary share over 100,000 ids', () => {
  const COUNT = 100_000;
  const PERCENTAGES = [1, 5, 10, 50];

  /** Deterministic id sets: sequential, numeric strings, and pseudo-random UUIDs. */
  function idSets(): Record<string, string[]> {
    let state = 0x9e3779b9;
    const next = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0).toString(16).padStart(8, '0');
    };
    const sequential: string[] = [];
    const numeric: string[] = [];
    const uuids: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      sequential.push(`user-${i}`);
      numeric.push(String(1_000_000 + i * 7));
      const h = next() + next() + next() + next();
      uuids.push(
        `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`,
      );
    }
    return { sequential, numeric, uuids };
  }

  it('is within ±0.5 percentage points of 1, 5, 10 and 50 % (murmur3 and unleash)', () => {
    const sets = idSets();
    const flags: Record<string, FlagConfigInput> = {};
    for (const p of PERCENTAGES) {
      flags[`murmur3-${p}`] = { percentage: p };
      flags[`unleash-${p}`] = { percentage: p, bucketing: 'unleash' };
    }
    const canary = createCanary({ flags });
    const report: Record<string, Record<string, string>> = {};
    const failures: string[] = [];
    for (const [setName, ids] of Object.entries(sets)) {
      for (const flag of Object.keys(flags)) {
        let canaryCount = 0;
        for (const id of ids) if (canary.evaluate(flag, { userId: id }).version === 'canary') canaryCount++;
        const share = (100 * canaryCount) / ids.length;
        const target = flags[flag]!.percentage!;
        report[flag] = { ...report[flag], [setName]: `${share.toFixed(3)} %` };
        if (Math.abs(share - target) > 0.5)
          failures.push(`${flag} on ${setName} ids: ${share.toFixed(3)} % (target ${target} %)`);
      }
    }
    console.info('canary share over 100,000 ids per id set:');
    console.table(report);
    expect(failures).toEqual([]);
  });
});

// ── never throws ────────────────────────────────────────────────────────────────────────────────────────

describe('evaluate never throws', () => {
  it('rules of every operator, with valid values, accept any attribute value of any type', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...STANDARD_KEYS), attributeKeyArb),
        fc
          .constantFrom(...RULE_OPERATORS)
          .chain((operator) => fc.tuple(fc.constant(operator), valuesFor(operator))),
        anyValue,
        hundredthsArb,
        fc.option(idArb, { nil: undefined }),
        (attribute, [operator, values], value, hundredths, userId) => {
          const { canary, errors } = canaryWith({
            f: { percentage: percentageOf(hundredths), rules: [{ attribute, operator, values }] },
          });
          const standard = (STANDARD_KEYS as readonly string[]).includes(attribute);
          const context: Record<string, unknown> = standard
            ? { [attribute]: value }
            : { attributes: { [attribute]: value } };
          if (userId !== undefined && attribute !== 'userId') context.userId = userId;

          let decision: Decision | undefined;
          expect(() => {
            decision = canary.evaluate('f', context as EvalContext);
          }).not.toThrow();
          expectWellFormed(decision!, 'f');
          expect(decision!.reason, describeErrors(errors)).not.toBe('error');
          expect(['rule', 'percentage', 'no-identity']).toContain(decision!.reason);
          expect(canary.stats().evaluationErrors).toBe(0);
          // A value that is not a string, a finite number or a boolean is no value: it never matches, not even not_in / neq.
          const usable =
            typeof value === 'string' ||
            typeof value === 'boolean' ||
            (typeof value === 'number' && Number.isFinite(value));
          if (!usable) expect(decision!.reason).not.toBe('rule');
        },
      ),
      { numRuns: 800 },
    );
  });

  // One config exercising every stage of the evaluation order, both bucketings and every operator.
  const everything: Record<string, FlagConfigInput> = {
    full: {
      percentage: 37.5,
      users: ['alice', 'user-1'],
      excludeUsers: ['mallory'],
      groups: ['beta', 'staff'],
      rules: RULE_OPERATORS.map((operator) => ({
        attribute: operator.startsWith('semver_') ? 'version' : operator === 'eq' ? 'ip' : 'plan',
        operator,
        values: operator.startsWith('semver_')
          ? ['2.1.0', 'v3']
          : ['lt', 'lte', 'gt', 'gte'].includes(operator)
            ? [18, 65.5]
            : ['pro', 7, true],
      })),
    },
    unleash: {
      percentage: 50,
      bucketing: 'unleash',
      stickiness: ['sessionId', 'tenantId', '__proto__', 'constructor'],
    },
    byAttribute: { percentage: 50, stickiness: ['toString', 'plan', 'userId'] },
    guarded: { percentage: 0, excludeUsers: ['user-1'] },
    off: { enabled: false, percentage: 100, users: ['alice'], groups: ['beta'] },
  };

  it('with garbage contexts (any value, null, undefined, numbers, junk in every field)', () => {
    const withTrust = canaryWith(everything, {
      trust: (c) => (c as { tenantId?: unknown }).tenantId !== 'untrusted',
    });
    const throwingTrust = canaryWith(everything, {
      trust: () => {
        throw new Error('trust failed');
      },
    });
    fc.assert(
      fc.property(garbageContextArb, (context) => {
        for (const { canary } of [withTrust, throwingTrust]) {
          for (const flag of Object.keys(everything)) {
            let decision: Decision | undefined;
            expect(() => {
              decision = canary.evaluate(flag, context as EvalContext);
            }).not.toThrow();
            expectWellFormed(decision!, flag);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('with garbage contexts, nothing fails inside evaluation either (no reason `error`)', () => {
    const { canary, errors } = canaryWith(everything);
    fc.assert(
      fc.property(garbageContextTypedHeaderArb, (context) => {
        for (const flag of Object.keys(everything)) {
          const decision = canary.evaluate(flag, context as EvalContext);
          expect(decision.reason, `${describeErrors(errors)}\ncontext: ${fc.stringify(context)}`).not.toBe(
            'error',
          );
        }
      }),
      { numRuns: 800 },
    );
    expect(canary.stats().evaluationErrors).toBe(0);
  });

  // Known failure (see report): `overrides.header` is joined with Array#join before anything else, so an
  // item that cannot become a string (an object without a prototype, a symbol) throws inside evaluate():
  // the decision comes out as reason `error`, even for a flag that is switched off (expected `disabled`).
  it('override header arrays holding any values neither fail evaluation nor bypass the kill switch', () => {
    const { canary, errors } = canaryWith({
      on: { percentage: 50 },
      off: { enabled: false, percentage: 100 },
    });
    fc.assert(
      fc.property(idArb, fc.array(anyValue, { minLength: 1, maxLength: 3 }), (userId, header) => {
        const context = { userId, overrides: { header } } as unknown as EvalContext;
        const on = canary.evaluate('on', context);
        const off = canary.evaluate('off', context);
        expect(on.reason, describeErrors(errors)).not.toBe('error');
        expect(off).toEqual({ flag: 'off', version: 'stable', reason: 'disabled', bucket: null });
      }),
      { numRuns: 300 },
    );
  });
});

// ── evaluation order ────────────────────────────────────────────────────────────────────────────────────

describe('evaluation order', () => {
  const others = fc.uniqueArray(idArb, { maxLength: 4 });
  const groupArb = fc.string({ minLength: 1, maxLength: 8 });

  /** A flag that would put `id` on the canary by every means: users, groups, a rule and 100 %. */
  function targetingEverything(id: string, group: string, extra: FlagConfigInput = {}): FlagConfigInput {
    return {
      percentage: 100,
      users: [id],
      groups: [group],
      rules: [{ attribute: 'userId', operator: 'eq', values: [id] }],
      ...extra,
    };
  }

  it('excludeUsers beats users, groups, rules and percentage', () => {
    fc.assert(
      fc.property(idArb, groupArb, others, bucketingArb, (id, group, more, bucketing) => {
        const canary = createCanary({
          flags: {
            f: targetingEverything(id, group, {
              excludeUsers: [...more, id],
              users: [id, ...more],
              bucketing,
            }),
          },
        });
        const decision = canary.evaluate('f', { userId: id, groups: [group], sessionId: id });
        expect(decision).toEqual({ flag: 'f', version: 'stable', reason: 'excluded', bucket: null });
      }),
      { numRuns: 300 },
    );
  });

  it('users beat groups, rules and the percentage (even 0 %)', () => {
    fc.assert(
      fc.property(
        idArb,
        groupArb,
        others,
        hundredthsArb,
        bucketingArb,
        (id, group, more, hundredths, bucketing) => {
          const excluded = more.filter((m) => m !== id);
          const canary = createCanary({
            flags: {
              f: targetingEverything(id, group, {
                percentage: percentageOf(hundredths),
                excludeUsers: excluded,
                bucketing,
              }),
              zero: { percentage: 0, users: [id, ...excluded], bucketing },
            },
          });
          expect(canary.evaluate('f', { userId: id, groups: [group] })).toEqual({
            flag: 'f',
            version: 'canary',
            reason: 'user',
            bucket: null,
          });
          expect(canary.evaluate('zero', { userId: id })).toEqual({
            flag: 'zero',
            version: 'canary',
            reason: 'user',
            bucket: null,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('groups beat rules, and rules beat the percentage', () => {
    fc.assert(
      fc.property(idArb, groupArb, fc.array(groupArb, { maxLength: 3 }), (id, group, extraGroups) => {
        const canary = createCanary({
          flags: {
            f: {
              percentage: 0,
              groups: [group],
              rules: [{ attribute: 'userId', operator: 'eq', values: [id] }],
            },
            r: { percentage: 0, rules: [{ attribute: 'userId', operator: 'eq', values: [id] }] },
          },
        });
        expect(canary.evaluate('f', { userId: id, groups: [...extraGroups, group] }).reason).toBe('group');
        expect(
          canary.evaluate('f', { userId: id, groups: extraGroups.filter((g) => g !== group) }).reason,
        ).toBe('rule');
        expect(canary.evaluate('r', { userId: id })).toEqual({
          flag: 'r',
          version: 'canary',
          reason: 'rule',
          bucket: null,
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a trusted override beats excludeUsers, but `enabled: false` beats everything', () => {
    fc.assert(
      fc.property(idArb, fc.constantFrom('always', 'never'), (id, value) => {
        const { canary } = canaryWith({
          f: { percentage: 50, excludeUsers: [id], users: [id] },
          off: { enabled: false, percentage: 100, users: [id] },
        });
        const context: EvalContext = { userId: id, overrides: { header: value } };
        expect(canary.evaluate('f', context)).toMatchObject({
          version: value === 'always' ? 'canary' : 'stable',
          reason: 'override',
        });
        expect(canary.evaluate('off', context)).toEqual({
          flag: 'off',
          version: 'stable',
          reason: 'disabled',
          bucket: null,
        });
      }),
      { numRuns: 100 },
    );
  });

  it('`enabled: false` serves stable with reason `disabled` to every context', () => {
    const signed = signOverride({ overrides: 'always', secret: SECRET });
    fc.assert(
      fc.property(
        fc.oneof(
          garbageContextTypedHeaderArb,
          idArb.map(
            (id): EvalContext => ({
              userId: id,
              groups: ['beta'],
              overrides: { header: 'always', cookie: signed },
            }),
          ),
        ),
        bucketingArb,
        (context, bucketing) => {
          const { canary } = canaryWith({
            off: {
              enabled: false,
              percentage: 100,
              users: ['alice'],
              groups: ['beta'],
              bucketing,
              rules: [{ attribute: 'userId', operator: 'neq', values: ['x'] }],
            },
          });
          expect(canary.evaluate('off', context as EvalContext)).toEqual({
            flag: 'off',
            version: 'stable',
            reason: 'disabled',
            bucket: null,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('without an identity (and no targeting match) the reason is `no-identity`', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<unknown>(
          undefined,
          null,
          '',
          0.5,
          Number.NaN,
          Number.POSITIVE_INFINITY,
          {},
          [],
          true,
        ),
        hundredthsArb,
        bucketingArb,
        (userId, hundredths, bucketing) => {
          const canary = createCanary({ flags: { f: { percentage: percentageOf(hundredths), bucketing } } });
          const decision = canary.evaluate('f', { userId } as EvalContext);
          if (typeof userId === 'number' && Number.isFinite(userId))
            expect(decision.reason).toBe('percentage');
          else
            expect(decision).toEqual({ flag: 'f', version: 'stable', reason: 'no-identity', bucket: null });
        },
      ),
      { numRuns: 100 },
    );
  });
});
