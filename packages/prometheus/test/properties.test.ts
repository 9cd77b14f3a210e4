import {
  checkTemplate,
  DEFAULT_QUERY_TEMPLATES,
  escapeRegex,
  PLACEHOLDERS,
  PrometheusSource,
  promString,
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
