import {
  type Bucketing,
  CanaryConfigError,
  type ConfigIssue,
  createCanary,
  type FlagConfig,
  type FlagConfigInput,
  parseConfig,
  parseFlags,
  RULE_OPERATORS,
  type RuleConfig,
  type RuleOperator,
} from '@canary-kit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────────────

/** The documented issue path format: `flags.checkout.rules[0].values`, non-identifier keys as `flags["a.b"]`. */
function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (!/^[A-Za-z_$][\w$-]*$/.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent ? `${parent}.${key}` : key;
}
const pathOf = (keys: readonly (string | number)[]) => keys.reduce<string>((p, k) => childPath(p, k), '');

/** True when `path` is `prefix` or lies under it. */
const isUnder = (path: string, prefix: string) =>
  prefix === '' || path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);

type Outcome =
  | { ok: true; value: ReturnType<typeof parseConfig> }
  | { ok: false; issues: readonly ConfigIssue[] };

/** Runs parseConfig and asserts its only failure mode: a CanaryConfigError whose issues are all well-formed. */
function parseChecked(input: unknown): Outcome {
  let value: ReturnType<typeof parseConfig>;
  try {
    value = parseConfig(input);
  } catch (error) {
    expect(error, `threw ${String(error)} for ${fc.stringify(input)}`).toBeInstanceOf(CanaryConfigError);
    const { issues } = error as CanaryConfigError;
    expect(Array.isArray(issues)).toBe(true);
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) {
      expect(typeof issue.path).toBe('string');
      expect(typeof issue.message).toBe('string');
      expect(issue.message.length).toBeGreaterThan(0);
    }
    expect((error as Error).message).toContain(`${issues.length} issue`);
    return { ok: false, issues };
  }
  return { ok: true, value };
}

function issuesOf(input: unknown): ConfigIssue[] {
  const outcome = parseChecked(input);
  if (outcome.ok) throw new Error(`expected ${fc.stringify(input)} to be rejected`);
  return [...outcome.issues];
}

const byPath = (a: ConfigIssue, b: ConfigIssue) =>
  a.path < b.path ? -1 : a.path > b.path ? 1 : a.message < b.message ? -1 : a.message > b.message ? 1 : 0;

// ── arbitraries ─────────────────────────────────────────────────────────────────────────────────────────

const anyValue = fc.anything({
  maxDepth: 4,
  maxKeys: 6,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withDate: true,
  withTypedArray: true,
  withSparseArray: true,
  stringUnit: 'binary',
});

const FLAG_KEY_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$/;
const flagKeyArb = fc
  .oneof(
    fc.constantFrom(
      'checkout',
      'new-search',
      'a.b',
      'team/x:y',
      '_',
      '0',
      '__proto__',
      'constructor',
      'toString',
    ),
    fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,20}$/),
  )
  .filter((k) => k !== 'exp' && k !== 'sig');

const nonEmptyString = fc.oneof(
  fc.string({ minLength: 1, maxLength: 10, unit: 'grapheme-ascii' }),
  fc.string({ minLength: 1, maxLength: 6, unit: 'binary' }),
);

const semverArb = fc.oneof(
  fc
    .tuple(
      fc.boolean(),
      fc.nat(30),
      fc.nat(30),
      fc.nat(30),
      fc.option(fc.constantFrom('alpha', 'beta.1', 'rc-2.0'), { nil: undefined }),
    )
    .map(([v, a, b, c, pre]) => `${v ? 'v' : ''}${a}.${b}.${c}${pre === undefined ? '' : `-${pre}`}`),
  fc.nat(30).map(String),
  fc.tuple(fc.nat(30), fc.nat(30)).map(([a, b]) => `${a}.${b}`),
);

/** Finite numbers; -0 is written as 0 (JSON has no -0). */
const finiteNumber = fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => n + 0);

function valuesFor(operator: RuleOperator): fc.Arbitrary<RuleConfig['values']> {
  if (operator === 'lt' || operator === 'lte' || operator === 'gt' || operator === 'gte') {
    return fc.array(finiteNumber, { minLength: 1, maxLength: 4 });
  }
  if (operator.startsWith('semver_')) return fc.array(semverArb, { minLength: 1, maxLength: 3 });
  return fc.array(fc.oneof(fc.string({ maxLength: 8, unit: 'binary' }), finiteNumber, fc.boolean()), {
    minLength: 1,
    maxLength: 4,
  });
}

const ruleArb: fc.Arbitrary<RuleConfig> = fc
  .constantFrom(...RULE_OPERATORS)
  .chain((operator) =>
    fc.record({ attribute: nonEmptyString, operator: fc.constant(operator), values: valuesFor(operator) }),
  );

/** Any valid flag as written in a config, every option optional. */
const flagInputArb: fc.Arbitrary<FlagConfigInput> = fc.record(
  {
    percentage: fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100),
    enabled: fc.boolean(),
    stickiness: fc.oneof(nonEmptyString, fc.array(nonEmptyString, { minLength: 1, maxLength: 3 })),
    users: fc.array(nonEmptyString, { maxLength: 4 }),
    excludeUsers: fc.array(nonEmptyString, { maxLength: 4 }),
    groups: fc.array(nonEmptyString, { maxLength: 4 }),
    rules: fc.array(ruleArb, { maxLength: 3 }),
    seed: nonEmptyString,
    bucketing: fc.constantFrom<Bucketing>('murmur3', 'unleash'),
    description: fc.string({ maxLength: 20, unit: 'binary' }),
  },
  { requiredKeys: [] },
);

/** Valid whole configs of up to `maxFlags` flags, sometimes with overrides (a secret). */
const configArbOf = (maxFlags: number) =>
  fc.record(
    {
      flags: fc.dictionary(flagKeyArb, flagInputArb, { maxKeys: maxFlags }),
      overrides: fc.record({
        secret: fc.oneof(
          fc.string({ minLength: 16, maxLength: 24 }),
          fc.array(fc.string({ minLength: 16, maxLength: 24 }), { minLength: 1, maxLength: 2 }),
        ),
        header: fc.constantFrom('x-canary', 'X-Force-Version', false),
      }),
    },
    { requiredKeys: ['flags'] },
  );
const configArb = configArbOf(4);

/** What the validator should make of a valid flag input: every default filled in, lists copied. */
function normalized(key: string, input: FlagConfigInput): FlagConfig {
  const flag: FlagConfig = {
    percentage: input.percentage ?? 0,
    enabled: input.enabled ?? true,
    stickiness:
      input.stickiness === undefined
        ? ['userId']
        : typeof input.stickiness === 'string'
          ? [input.stickiness]
          : [...input.stickiness],
    users: [...(input.users ?? [])],
    excludeUsers: [...(input.excludeUsers ?? [])],
    groups: [...(input.groups ?? [])],
    rules: (input.rules ?? []).map((r) => ({
      attribute: r.attribute,
      operator: r.operator,
      values: [...r.values],
    })),
    seed: input.seed ?? key,
    bucketing: input.bucketing ?? 'murmur3',
  };
  return input.description === undefined ? flag : { ...flag, description: input.description };
}

/** Every location in a JSON-like tree, as key paths (the root included). */
function locations(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [at];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) out.push(...locations(value[i], [...at, i]));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...locations(v, [...at, k]));
  }
  return out;
}

/** A deep copy of JSON-like `root` with the value at `path` replaced (own data property, so `__proto__` stays a key). */
function replaced(root: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = JSON.parse(JSON.stringify(root)) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  Object.defineProperty(node, path[path.length - 1]!, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return copy;
}

// ── any input: a config or a CanaryConfigError, nothing else ───────────────────────────────────────────

describe('parseConfig on arbitrary input', () => {
  it('any JSON value yields a config or a CanaryConfigError with well-formed issues', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (input) => {
        parseChecked(input);
        parseChecked({ flags: input });
        parseChecked({ flags: { checkout: input } });
      }),
      { numRuns: 500 },
    );
  });

  it('any JavaScript value (null prototypes, boxed values, maps, sparse arrays, dates…) does too', () => {
    fc.assert(
      fc.property(anyValue, (input) => {
        parseChecked(input);
        parseChecked({ flags: input });
        parseChecked({ flags: { checkout: input } });
        parseChecked({ flags: { checkout: { rules: [input] } } });
        parseChecked({ overrides: input });
      }),
      { numRuns: 500 },
    );
  });

  /**
   * The part of the config an issue about `path` may point into: the enclosing rule, flag or overrides
   * section (their options depend on one another, e.g. a rule's operator decides what its values must be,
   * and overrides need some valid secret), else the parent.
   */
  function scopeOf(path: readonly (string | number)[]): string {
    const depth =
      path[0] === 'flags'
        ? Math.min(path.length - 1, path[2] === 'rules' ? 4 : 2)
        : path[0] === 'overrides'
          ? Math.min(path.length - 1, 1)
          : path.length - 1;
    return pathOf(path.slice(0, Math.max(depth, 0)));
  }

  it('valid configs with one location replaced by random JSON: rejected only with issues inside the enclosing flag, rule or section', () => {
    // Small configs, and the location picked by index (not chained), so that a failure shrinks well.
    fc.assert(
      fc.property(configArbOf(2), fc.nat(), fc.oneof(fc.jsonValue(), anyValue), (config, pick, value) => {
        const all = locations(JSON.parse(JSON.stringify(config)));
        const path = all[pick % all.length]!;
        const mutated = replaced(config, path, value);
        const outcome = parseChecked(mutated);
        if (!outcome.ok) {
          const scope = scopeOf(path);
          for (const issue of outcome.issues)
            expect(isUnder(issue.path, scope), `${issue.path} is not under ${scope}`).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('an unknown option anywhere (root, flag, rule, overrides) is reported at its exact path', () => {
    const unknownKey = fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== '__proto__');
    fc.assert(
      fc.property(
        flagKeyArb,
        flagInputArb,
        ruleArb,
        unknownKey,
        fc.jsonValue(),
        fc.nat(3),
        (key, flag, rule, extra, value, where) => {
          const known = [
            ['flags', 'overrides', 'store', 'metrics', 'service'],
            [
              'percentage',
              'enabled',
              'stickiness',
              'users',
              'excludeUsers',
              'groups',
              'rules',
              'seed',
              'bucketing',
              'description',
            ],
            ['attribute', 'operator', 'values'],
            ['header', 'cookie', 'trust', 'secret'],
          ][where]!;
          fc.pre(!known.includes(extra));
          const withExtra = <T extends object>(obj: T) =>
            Object.defineProperty({ ...obj }, extra, { value, enumerable: true });
          const config =
            where === 0
              ? withExtra({ flags: { [key]: flag } })
              : where === 1
                ? { flags: Object.defineProperty({}, key, { value: withExtra(flag), enumerable: true }) }
                : where === 2
                  ? {
                      flags: Object.defineProperty({}, key, {
                        value: { ...flag, rules: [withExtra(rule)] },
                        enumerable: true,
                      }),
                    }
                  : { overrides: withExtra({ secret: 'sixteen-chars-secret' }) };
          const at = [[], ['flags', key], ['flags', key, 'rules', 0], ['overrides']][where]!;
          expect(issuesOf(config)).toEqual([
            { path: childPath(pathOf(at), extra), message: 'unknown option' },
          ]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ── valid configs ───────────────────────────────────────────────────────────────────────────────────────

describe('valid configs', () => {
  it('parse without error into the documented normalized form', () => {
    fc.assert(
      fc.property(configArb, (config) => {
        const outcome = parseChecked(config);
        if (!outcome.ok) throw new Error(`rejected: ${JSON.stringify(outcome.issues)}`);
        const { flags } = outcome.value;
        expect(Object.keys(flags).sort()).toEqual(Object.keys(config.flags).sort());
        for (const [key, input] of Object.entries(config.flags))
          expect(flags[key]).toEqual(normalized(key, input));
        // createCanary accepts it too and serves those flags.
        expect(createCanary({ flags: config.flags }).flags).toEqual(flags);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trip: parseConfig(JSON.parse(JSON.stringify(normalized flags))) gives equal flags, and parsing is idempotent', () => {
    fc.assert(
      fc.property(configArb, (config) => {
        const first = parseConfig(config).flags;
        const again = parseConfig(JSON.parse(JSON.stringify({ flags: first }))).flags;
        expect(again).toEqual(first);
        expect(JSON.stringify(again)).toBe(JSON.stringify(first));
        expect(parseFlags(first)).toEqual(first);
      }),
      { numRuns: 300 },
    );
  });
});

// ── error paths ─────────────────────────────────────────────────────────────────────────────────────────

describe('issues name the location of the problem', () => {
  it('percentage 150 at flags.checkout', () => {
    expect(issuesOf({ flags: { checkout: { percentage: 150 } } })).toEqual([
      { path: 'flags.checkout.percentage', message: 'must be between 0 and 100' },
    ]);
  });

  it('any out-of-range percentage, at any flag key', () => {
    const outOfRange = fc.oneof(
      fc.double({ min: 100, max: 1e12, noNaN: true, minExcluded: true }),
      fc.double({ min: -1e12, max: 0, noNaN: true, maxExcluded: true }).filter((n) => !Object.is(n, -0)),
    );
    fc.assert(
      fc.property(flagKeyArb, outOfRange, flagInputArb, (key, percentage, rest) => {
        const flags = Object.defineProperty({}, key, { value: { ...rest, percentage }, enumerable: true });
        expect(issuesOf({ flags })).toEqual([
          { path: pathOf(['flags', key, 'percentage']), message: 'must be between 0 and 100' },
        ]);
      }),
      { numRuns: 200 },
    );
  });

  /** One invalid setting per option, with the issue it must produce (path relative to the flag). */
  const INVALID: Record<string, [value: unknown, issues: [path: (string | number)[], message: string][]][]> =
    {
      percentage: [
        [150, [[['percentage'], 'must be between 0 and 100']]],
        [-0.01, [[['percentage'], 'must be between 0 and 100']]],
        [12.345, [[['percentage'], 'must be a multiple of 0.01']]],
        ['50', [[['percentage'], 'must be a number, got string "50"']]],
        [Number.NaN, [[['percentage'], 'must be a number, got number NaN']]],
      ],
      enabled: [['yes', [[['enabled'], 'must be a boolean']]]],
      stickiness: [
        ['', [[['stickiness'], 'must be a context key such as "userId"']]],
        [[], [[['stickiness'], 'must not be empty']]],
        [['userId', 7], [[['stickiness', 1], 'must be a non-empty string, got number 7']]],
      ],
      users: [
        ['alice', [[['users'], 'must be an array of strings, got string "alice"']]],
        [['alice', ''], [[['users', 1], 'must be a non-empty string, got string ""']]],
      ],
      excludeUsers: [[[null], [[['excludeUsers', 0], 'must be a non-empty string, got null']]]],
      groups: [[{ beta: true }, [[['groups'], 'must be an array of strings, got an object']]]],
      rules: [
        [{}, [[['rules'], 'must be an array, got an object']]],
        [
          [{ attribute: '', operator: 'like', values: [] }],
          [
            [['rules', 0, 'attribute'], 'must be a non-empty string'],
            [['rules', 0, 'operator'], `must be one of ${RULE_OPERATORS.join(', ')}`],
            [['rules', 0, 'values'], 'must be a non-empty array'],
          ],
        ],
        [
          [
            { attribute: 'plan', operator: 'in', values: ['pro'] },
            { attribute: 'age', operator: 'gte', values: [18, '21'] },
            { attribute: 'version', operator: 'semver_lt', values: ['2.x'] },
          ],
          [
            [['rules', 1, 'values', 1], 'operator gte compares numbers: must be a number'],
            [['rules', 2, 'values', 0], 'operator semver_lt needs a semantic version such as "2.1.0"'],
          ],
        ],
      ],
      seed: [['', [[['seed'], 'must be a non-empty string']]]],
      bucketing: [['md5', [[['bucketing'], 'must be "murmur3" or "unleash"']]]],
      description: [[42, [[['description'], 'must be a string']]]],
      percent: [[10, [[['percent'], 'unknown option']]]],
    };
  const invalidFieldsArb = fc
    .subarray(Object.keys(INVALID), { minLength: 2 })
    .chain((fields) =>
      fc.tuple(...fields.map((f) => fc.constantFrom(...INVALID[f]!).map((variant) => [f, variant] as const))),
    );

  it('several invalid options at once, in several flags: every one is reported, nothing else', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(flagKeyArb, invalidFieldsArb), {
          minLength: 1,
          maxLength: 3,
          selector: ([key]) => key,
        }),
        fc.boolean(),
        (flagsWithProblems, unknownTopLevel) => {
          const flags: Record<string, unknown> = {};
          const expected: ConfigIssue[] = [];
          for (const [key, problems] of flagsWithProblems) {
            const flag: Record<string, unknown> = {};
            for (const [field, [value, issues]] of problems) {
              flag[field] = value;
              for (const [rel, message] of issues)
                expected.push({ path: pathOf(['flags', key, ...rel]), message });
            }
            Object.defineProperty(flags, key, { value: flag, enumerable: true });
          }
          const config: Record<string, unknown> = { flags };
          if (unknownTopLevel) {
            config.flag = {};
            expected.push({ path: 'flag', message: 'unknown option' });
          }
          expect(issuesOf(config).sort(byPath)).toEqual(expected.sort(byPath));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('invalid and reserved flag keys are reported at the key', () => {
    const badKey = fc.oneof(
      fc.constantFrom('', ' ', '-leading-dash', '.dot', 'with space', 'ümlaut', 'x'.repeat(129), 'a\nb'),
      fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !FLAG_KEY_PATTERN.test(k)),
    );
    fc.assert(
      fc.property(badKey, flagInputArb, (key, flag) => {
        const flags = Object.defineProperty({}, key, { value: flag, enumerable: true });
        const [issue, ...rest] = issuesOf({ flags });
        expect(rest).toEqual([]);
        expect(issue!.path).toBe(pathOf(['flags', key]));
        expect(issue!.message).toMatch(/^flag key must be 1–128 characters/);
      }),
      { numRuns: 200 },
    );
    for (const reserved of ['exp', 'sig']) {
      expect(issuesOf({ flags: { [reserved]: { percentage: 5 } } })).toEqual([
        { path: `flags.${reserved}`, message: `"${reserved}" is reserved for signed overrides` },
      ]);
    }
  });
});

// ── edge cases of the contract (each of these found a bug; see the report of the property-test change) ───

describe('parseConfig contract edge cases', () => {
  it('a rule operator that cannot be converted to a string is an issue, not a TypeError (JSON can hold one)', () => {
    const operators: unknown[] = [
      JSON.parse('{"toString": null}'),
      JSON.parse('{"toString": 1, "valueOf": 2}'),
      Object.create(null),
      [Object.create(null)],
    ];
    for (const operator of operators) {
      const config = { flags: { checkout: { rules: [{ attribute: 'plan', operator, values: ['pro'] }] } } };
      expect(issuesOf(config)).toEqual([
        { path: 'flags.checkout.rules[0].operator', message: `must be one of ${RULE_OPERATORS.join(', ')}` },
      ]);
    }
  });

  it('a BigInt anywhere is an issue at its location, not a TypeError', () => {
    const at: [build: (n: bigint) => unknown, path: string][] = [
      [(n) => n, ''],
      [(n) => ({ flags: n }), 'flags'],
      [(n) => ({ flags: { checkout: n } }), 'flags.checkout'],
      [(n) => ({ flags: { checkout: { percentage: n } } }), 'flags.checkout.percentage'],
      [(n) => ({ flags: { checkout: { users: ['alice', n] } } }), 'flags.checkout.users[1]'],
      [
        (n) => ({ flags: { checkout: { rules: [{ attribute: 'age', operator: 'gt', values: [n] }] } } }),
        'flags.checkout.rules[0].values[0]',
      ],
      [(n) => ({ overrides: n }), 'overrides'],
    ];
    fc.assert(
      fc.property(fc.bigInt(), fc.constantFrom(...at), (n, [build, path]) => {
        const issues = issuesOf(build(n));
        expect(issues.map((i) => i.path)).toContain(path);
      }),
      { numRuns: 50 },
    );
  });

  it('whatever parseConfig accepts survives the JSON round trip every store applies (sparse rule values)', () => {
    // `[, 'pro']` has a hole: forEach skips it, so it is not checked, and slice() keeps it. Written to a
    // store as JSON it becomes null, which the next parse (another process, a restart) rejects.
    /** An array of `length` holes, with `items` filled in. */
    const holey = (length: number, items: Record<number, string>) =>
      Object.assign(new Array<unknown>(length), items);
    const sparse: [values: unknown[], hole: number][] = [
      [holey(2, { 1: 'pro' }), 0],
      [holey(1, {}), 0],
      [holey(3, { 0: 'pro', 2: 'team' }), 1],
    ];
    for (const [values, hole] of sparse) {
      const config = { flags: { checkout: { rules: [{ attribute: 'plan', operator: 'in', values }] } } };
      const outcome = parseChecked(config);
      if (outcome.ok) {
        const stored = JSON.parse(JSON.stringify({ flags: outcome.value.flags }));
        expect(parseChecked(stored), `values ${fc.stringify(values)} accepted, but not once stored`).toEqual(
          outcome,
        );
      } else {
        expect(outcome.issues.map((i) => i.path)).toContain(`flags.checkout.rules[0].values[${hole}]`);
      }
    }
  });
});
