import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  checkTemplate,
  DEFAULT_QUERY_TEMPLATES,
  escapeRegex,
  PLACEHOLDERS,
  PrometheusSource,
  promString,
  queryNumber,
  renderTemplate,
  routeMatcher,
  selectorProblem,
} from '@canary-kit/prometheus';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** Reads a PromQL double-quoted string literal back (the escapes promString writes). */
function unquote(literal: string): string {
  expect(literal.startsWith('"') && literal.endsWith('"')).toBe(true);
  return literal.slice(1, -1).replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,12}$/).filter((n) => n !== 'version');
const op = fc.constantFrom('=', '!=', '=~', '!~');
const matcher = fc.tuple(labelName, op, fc.string()).map(([n, o, v]) => `${n}${o}${promString(v)}`);

describe('properties', () => {
  it('escapeRegex: the pattern matches exactly the route it was made from, anchored as Prometheus anchors', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (route, other) => {
        const re = new RegExp(`^(?:${escapeRegex(route)})$`, 'u');
        expect(re.test(route)).toBe(true);
        if (other !== route) expect(re.test(other)).toBe(false);
      }),
    );
  });

  it('promString round-trips any string, and routeMatcher any set of routes', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(unquote(promString(s))).toBe(s);
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 5 }),
        fc.string(),
        (routes, probe) => {
          const m = routeMatcher(routes);
          expect(m.startsWith('route=~')).toBe(true);
          const re = new RegExp(`^(?:${unquote(m.slice('route=~'.length))})$`, 'u');
          for (const r of routes) expect(re.test(r)).toBe(true);
          expect(re.test(probe)).toBe(routes.includes(probe));
        },
      ),
    );
  });

  it('selectorProblem accepts every list of well-formed matchers (with blanks and a trailing comma) and the source renders it', () => {
    fc.assert(
      fc.property(fc.array(matcher, { minLength: 1, maxLength: 4 }), fc.boolean(), (ms, trailing) => {
        const selector = ms.join(' , ') + (trailing ? ',' : '');
        expect(selectorProblem(selector)).toBeUndefined();
        const source = new PrometheusSource({ url: 'http://p:9090', selector });
        expect(source.selectorFor('f', 'canary')).toBe(`${ms.join(' , ')},version="canary"`);
      }),
    );
  });

  it('selectorProblem rejects unquoted values, braces, stray text and version matchers', () => {
    fc.assert(
      fc.property(labelName, op, fc.stringMatching(/^[a-z0-9]{1,8}$/), (n, o, v) => {
        expect(selectorProblem(`${n}${o}${v}`)).toMatch(/must be comma-separated label matchers/);
        expect(selectorProblem(`{${n}${o}"${v}"}`)).toMatch(/without the braces/);
        expect(selectorProblem(`${n}${o}"${v}" junk`)).toMatch(/must be comma-separated/);
        expect(selectorProblem(`${n}${o}"${v}",version${o}"x"`)).toMatch(/must not match on version/);
      }),
    );
  });

  it('renderTemplate fills every placeholder and leaves the rest of the template alone', () => {
    const names = Object.keys(PLACEHOLDERS) as (keyof typeof PLACEHOLDERS)[];
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.constantFrom(...names.map((n) => `{{${n}}}`)),
            fc.stringMatching(/^[a-z()[\], ]{0,6}$/),
          ),
        ),
        fc.dictionary(fc.constantFrom(...names), fc.stringMatching(/^[a-z0-9"=,]{1,8}$/)),
        (parts, values) => {
          const template = parts.join('');
          const rendered = renderTemplate(template, values);
          const expected = parts
            .map((p) => {
              const m = /^\{\{(\w+)\}\}$/.exec(p);
              return m ? (values[m[1] as keyof typeof values] ?? '') : p;
            })
            .join('');
          expect(rendered).toBe(expected);
        },
      ),
    );
  });

  it('the default templates pass their own checks', () => {
    for (const [name, t] of Object.entries(DEFAULT_QUERY_TEMPLATES)) {
      expect(checkTemplate(name as keyof typeof DEFAULT_QUERY_TEMPLATES, t)).toEqual([]);
    }
  });
});

describe('the answer parser, on whatever a server sends', () => {
  it('any body: one number, undefined for an empty vector, or an Error naming Prometheus and the query — never anything else', async () => {
    let body = '';
    let status = 200;
    const server = createServer((_req, res) => {
      res.statusCode = status;
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sample = fc.tuple(
      fc.double(),
      fc.oneof(fc.constantFrom('NaN', '+Inf', '-Inf', '1', '0.5'), fc.string()),
    );
    const answer = fc.oneof(
      fc.jsonValue(),
      fc.record({
        status: fc.constantFrom('success', 'error', 'weird'),
        data: fc.record({
          resultType: fc.constantFrom('vector', 'scalar', 'matrix', 'string'),
          result: fc.oneof(
            sample,
            fc.array(fc.record({ metric: fc.dictionary(fc.string(), fc.string()), value: sample }), {
              maxLength: 3,
            }),
            fc.jsonValue(),
          ),
        }),
        error: fc.string(),
      }),
    );
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            answer.map((a) => JSON.stringify(a)),
            fc.string(),
          ),
          fc.constantFrom(200, 400, 503),
          async (text, code) => {
            body = text;
            status = code;
            try {
              const value = await queryNumber({
                base,
                query: 'up',
                timeMs: Date.now(),
                signal: AbortSignal.timeout(10_000),
                timeoutMs: 10_000,
                headers: {},
                fetch,
                maxBodyBytes: 1 << 20,
              });
              expect(value === undefined || typeof value === 'number').toBe(true);
              expect(code).toBe(200);
            } catch (error) {
              expect(error).toBeInstanceOf(Error);
              expect((error as Error).message).toMatch(
                new RegExp(`^Prometheus at ${base} .*(query up|\\(query)`, 's'),
              );
            }
          },
        ),
        {
          numRuns: 300,
          // Shapes a random search finds rarely.
          examples: [
            ['{"status":"success","data":{"resultType":"\\r\\n","result":[]}}', 200],
            ['{"status":"success","data":{"resultType":"vector","result":[null]}}', 200],
            ['{"status":"success","data":{"resultType":"vector","result":[5]}}', 200],
            ['{"status":"success","data":{"resultType":"scalar","result":null}}', 200],
            ['{"status":"success","data":null}', 200],
            ['null', 200],
            ['{"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}}', 200],
          ],
        },
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
