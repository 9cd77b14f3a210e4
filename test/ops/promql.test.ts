// The PromQL reader the ops checks rest on: it must find every series a query selects — no more (a function,
// keyword or label taken for a metric) and no fewer — with its matchers and the labels of its grouping clauses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AGGREGATIONS, analyzeQuery, type Matcher, parseLabelValues } from './promql.js';

describe('analyzeQuery', () => {
  it('finds the selectors of an alert expression, not its functions, keywords or numbers', () => {
    const { selectors, groupings } = analyzeQuery(`
      histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket{version="canary"}[5m])))
      > 1.5 * histogram_quantile(0.99, sum(rate(x_bucket[5m] offset 1h)) by (le))
      and on (job) group_left (flag) max without (instance) (canary_kit_rollout_step @ end()) == bool 1e3
      or vector(0) unless absent(up)   # a comment naming not_a_metric
    `);
    expect(selectors.map((s) => s.name)).toEqual([
      'http_request_duration_seconds_bucket',
      'x_bucket',
      'canary_kit_rollout_step',
      'up',
    ]);
    expect(selectors[0]!.matchers).toEqual([{ label: 'version', op: '=', value: 'canary' }]);
    expect(groupings.map((g) => [g.keyword, g.labels, g.selectors.map((s) => s.name)])).toEqual([
      ['by', ['job', 'le'], ['http_request_duration_seconds_bucket']],
      ['by', ['le'], ['x_bucket']],
      ['on', ['job'], ['http_request_duration_seconds_bucket', 'x_bucket', 'canary_kit_rollout_step', 'up']],
      [
        'group_left',
        ['flag'],
        ['http_request_duration_seconds_bucket', 'x_bucket', 'canary_kit_rollout_step', 'up'],
      ],
      ['without', ['instance'], ['canary_kit_rollout_step']],
    ]);
  });

  it('reads Grafana variables as values and skips interval variables in ranges', () => {
    const { selectors } = analyzeQuery(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
      'sum by (version) (rate(m_count{job=~"$job", route=~"${route:regex}", flag="[[flag]]"}[$__rate_interval]))',
    );
    expect(selectors).toEqual([
      {
        name: 'm_count',
        matchers: [
          { label: 'job', op: '=~', value: '$job' },
          // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
          { label: 'route', op: '=~', value: '${route:regex}' },
          { label: 'flag', op: '=', value: '[[flag]]' },
        ],
      },
    ]);
  });

  it('reads escaped quotes, single quotes, backticks and bare {__name__} selectors', () => {
    const { selectors } = analyzeQuery(`a{x="q\\"uote", y!~'s', z!=\`raw\\\`} + {__name__="b", k="v"}`);
    expect(selectors).toEqual([
      {
        name: 'a',
        matchers: [
          { label: 'x', op: '=', value: 'q"uote' },
          { label: 'y', op: '!~', value: 's' },
          { label: 'z', op: '!=', value: 'raw\\' },
        ],
      },
      {
        name: 'b',
        matchers: [
          { label: '__name__', op: '=', value: 'b' },
          { label: 'k', op: '=', value: 'v' },
        ],
      },
    ]);
  });

  it('names the position of what it cannot read', () => {
    expect(() => analyzeQuery('rate(x{a="b"[5m])')).toThrow(/PromQL at \d+: expected label="value"/);
    expect(() => analyzeQuery('sum(x')).toThrow(/unclosed \(/);
    expect(() => analyzeQuery('x{a="b}')).toThrow(/unterminated string/);
    expect(() => analyzeQuery('x ; y')).toThrow(/unexpected ";"/);
  });

  // ── property: generated expressions ──────────────────────────────────────────────────────────────────
  const RESERVED = new Set([
    ...AGGREGATIONS,
    ...['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless'],
    ...['offset', 'atan2', 'inf', 'nan', 'start', 'end'],
  ]);
  const name = fc
    .stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,12}$/)
    .filter((n) => !RESERVED.has(n.toLowerCase()) && !/^(?:0x|\d)/.test(n));
  const label = fc
    .stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/)
    .filter((n) => !RESERVED.has(n.toLowerCase()));
  const matcher = fc.record({
    label,
    op: fc.constantFrom<Matcher['op']>('=', '!=', '=~', '!~'),
    value: fc.string({ unit: fc.constantFrom(...'ab "\\\'x5{}()[],#$'.split('')), maxLength: 8 }),
  });
  const selector = fc.record({ name, matchers: fc.array(matcher, { maxLength: 3 }) });
  const space = fc.constantFrom('', ' ', '\n  ', '\t');

  interface Built {
    readonly text: string;
    readonly names: string[];
  }
  const leaf: fc.Arbitrary<Built> = fc.oneof(
    fc.tuple(selector, space, fc.boolean()).map(([s, sp, ranged]) => {
      const body = s.matchers
        .map((m) => `${m.label}${sp}${m.op}${sp}${JSON.stringify(m.value)}`)
        .join(`,${sp}`);
      const text = `${s.name}${s.matchers.length > 0 || sp === '' ? `{${body}}` : ''}`;
      return { text: ranged ? `rate(${text}[5m:1m] offset 10m)` : text, names: [s.name] };
    }),
    fc.double({ min: 0, max: 1e6, noNaN: true }).map((n) => ({ text: String(n), names: [] })),
  );
  const expression: fc.Arbitrary<Built> = fc.letrec<{ e: Built }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc
        .tuple(
          fc.constantFrom(...AGGREGATIONS),
          fc.array(label, { maxLength: 3 }),
          fc.boolean(),
          tie('e'),
          space,
        )
        .map(([agg, labels, before, inner, sp]) => {
          const clause = `by${sp}(${labels.join(`,${sp}`)})`;
          const text = before
            ? `${agg} ${clause}${sp}(${inner.text})`
            : `${agg}(${inner.text})${sp}${clause}`;
          return { text, names: inner.names };
        }),
      fc
        .tuple(
          tie('e'),
          fc.constantFrom('+', '-', '*', '/', '>', '== bool', 'and', 'or', 'unless'),
          tie('e'),
          space,
        )
        .map(([a, op, b, sp]) => ({
          text: `(${a.text})${sp}${op}${sp}(${b.text})`,
          names: [...a.names, ...b.names],
        })),
      fc
        .tuple(fc.constantFrom('abs', 'histogram_quantile', 'label_replace', 'clamp_min'), tie('e'))
        .map(([fn, inner]) => ({
          text:
            fn === 'histogram_quantile'
              ? `${fn}(0.9, ${inner.text})`
              : fn === 'label_replace'
                ? `${fn}(${inner.text}, "dst", "$1", "src", "(.*)")`
                : fn === 'clamp_min'
                  ? `${fn}(${inner.text}, 0)`
                  : `${fn}(${inner.text})`,
          names: inner.names,
        })),
    ),
  })).e;

  it('finds exactly the selectors and `by` labels of any generated expression, in order', () => {
    fc.assert(
      fc.property(expression, (built) => {
        const { selectors, groupings } = analyzeQuery(built.text);
        expect(selectors.map((s) => s.name)).toEqual(built.names);
        expect(groupings.map((g) => g.labels)).toEqual(groupingsInTextOrder(built.text));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps every matcher of a generated selector, values unescaped', () => {
    fc.assert(
      fc.property(selector, space, (s, sp) => {
        const text = `${s.name}{${s.matchers.map((m) => `${m.label}${sp}${m.op}${sp}${JSON.stringify(m.value)}`).join(',')}}`;
        expect(analyzeQuery(text).selectors).toEqual([{ name: s.name, matchers: s.matchers }]);
      }),
    );
  });
});

/** The `by (...)` lists of `text` in the order they are written (the oracle for the generated expressions). */
function groupingsInTextOrder(text: string): string[][] {
  // Label lists in generated text hold no strings, so a plain scan is exact — outside quoted values.
  const out: string[][] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    const m = /^by\s*\(([^)]*)\)/.exec(text.slice(i));
    if (m && !/[a-zA-Z0-9_:]/.test(text[i - 1] ?? '')) {
      out.push(
        m[1]!
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean),
      );
      i += m[0].length;
      continue;
    }
    i++;
  }
  return out;
}

describe('parseLabelValues', () => {
  it('splits a Grafana label_values() query into its selector and label', () => {
    expect(parseLabelValues('label_values(m{job=~"$job", a="b,c"}, flag)')).toEqual({
      expr: 'm{job=~"$job", a="b,c"}',
      label: 'flag',
    });
    expect(parseLabelValues('label_values(job)')).toEqual({ expr: undefined, label: 'job' });
    expect(() => parseLabelValues('query_result(up)')).toThrow(/not a label_values/);
  });
});
