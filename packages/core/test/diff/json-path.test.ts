import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatPath,
  type MatchState,
  PathMatcher,
  type PathStep,
  parsePath,
} from '../../src/diff/json-path.js';

/** Compiles `patterns` (tagged by their text) and walks `steps` from the root. */
function walk(patterns: string[], steps: PathStep[]): MatchState<string> {
  const compiled = patterns.map((text) => {
    const parsed = parsePath(text);
    if (!parsed.ok) throw new Error(parsed.message);
    return { segments: parsed.segments, tag: text };
  });
  let state = new PathMatcher(compiled).root;
  for (const step of steps) state = state.step(step);
  return state;
}

const matched = (patterns: string[], steps: PathStep[]) => walk(patterns, steps).matches;

describe('parsePath', () => {
  it('reads every form of the grammar', () => {
    expect(parsePath('$')).toEqual({ ok: true, segments: [] });
    expect(parsePath('$.a[\'weird key\'][0][*].b..c.*[id=42][sku="a-1"]')).toEqual({
      ok: true,
      segments: [
        { kind: 'name', name: 'a', deep: false },
        { kind: 'name', name: 'weird key', deep: false },
        { kind: 'index', index: 0, deep: false },
        { kind: 'any', deep: false },
        { kind: 'name', name: 'b', deep: false },
        { kind: 'name', name: 'c', deep: true },
        { kind: 'any', deep: false },
        { kind: 'keyed', id: 'id=42', deep: false },
        { kind: 'keyed', id: 'sku="a-1"', deep: false },
      ],
    });
    expect(parsePath('$..[*]')).toEqual({ ok: true, segments: [{ kind: 'any', deep: true }] });
    expect(parsePath("$['it\\'s']")).toEqual({
      ok: true,
      segments: [{ kind: 'name', name: "it's", deep: false }],
    });
    expect(parsePath('$["dq"]')).toEqual({ ok: true, segments: [{ kind: 'name', name: 'dq', deep: false }] });
    expect(parsePath('$.content-type')).toEqual({
      ok: true,
      segments: [{ kind: 'name', name: 'content-type', deep: false }],
    });
  });

  it('a bare key value is a string, a numeric one a number', () => {
    expect(parsePath('$.a[sku=abc]')).toMatchObject({ ok: true, segments: [{}, { id: 'sku="abc"' }] });
    expect(parsePath('$.a[id=-1.5]')).toMatchObject({ ok: true, segments: [{}, { id: 'id=-1.5' }] });
  });

  it.each([
    ['', 'must start with "$"'],
    ['items', 'must start with "$"'],
    ['$.', 'expected a name or "*" after "." at column 3'],
    ['$..', 'expected a name, "*" or "[" after ".."'],
    ['$.items[*.x', 'expected "]" at column 10'],
    ["$['open", 'unterminated quoted name'],
    ['$[]', 'expected an index, "*", a quoted name or field=value'],
    ['$.a[id=]', 'expected a number or a quoted string after "="'],
    ['$ .a', 'unexpected " "'],
    ['$[99999999999999999999]', 'index too large'],
  ])('rejects %j: %s', (text, message) => {
    const parsed = parsePath(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain(message);
  });

  it('rejects a non-string', () => {
    expect(parsePath(42 as unknown as string).ok).toBe(false);
  });
});

describe('formatPath', () => {
  it('renders names, indexes, quoted keys and keyed elements', () => {
    expect(formatPath([])).toBe('$');
    expect(formatPath(['items', 3, 'price'])).toBe('$.items[3].price');
    expect(formatPath(['a b', "it's", 'back\\slash'])).toBe("$['a b']['it\\'s']['back\\\\slash']");
    expect(formatPath(['items', { field: 'id', value: 42 }, 'price'])).toBe('$.items[id=42].price');
    expect(formatPath(['items', { field: 'sku', value: 'a]"b' }])).toBe('$.items[sku="a]\\"b"]');
    expect(formatPath(['a', 'b', 'c'], 2)).toBe('$.a.b');
  });

  it('every reported path parses back to a pattern matching exactly that node', () => {
    const anyString = fc.string({ unit: 'binary' });
    const step = fc.oneof(
      anyString,
      fc.nat(1000),
      fc.record({ field: fc.stringMatching(/^[a-z_]\w{0,5}$/), value: fc.oneof(anyString, fc.integer()) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 6 }), (steps) => {
        const text = formatPath(steps);
        const parsed = parsePath(text);
        expect(parsed.ok, text).toBe(true);
        expect(matched([text], steps)).toEqual([text]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('PathMatcher', () => {
  it('matches exact paths and nothing around them', () => {
    const p = ['$.meta.requestId'];
    expect(matched(p, ['meta', 'requestId'])).toEqual(p);
    expect(matched(p, ['meta'])).toEqual([]);
    expect(matched(p, ['meta', 'requestId', 'x'])).toEqual([]);
    expect(matched(p, ['other', 'requestId'])).toEqual([]);
  });

  it('[*] matches any element, property or keyed element; an index only its own element', () => {
    const p = ['$.items[*].updatedAt'];
    expect(matched(p, ['items', 0, 'updatedAt'])).toEqual(p);
    expect(matched(p, ['items', 917, 'updatedAt'])).toEqual(p);
    expect(matched(p, ['items', { field: 'id', value: 4 }, 'updatedAt'])).toEqual(p);
    expect(matched(p, ['items', 'x', 'updatedAt'])).toEqual(p);
    expect(matched(['$.a[1]'], ['a', 1])).toEqual(['$.a[1]']);
    expect(matched(['$.a[1]'], ['a', 2])).toEqual([]);
    expect(matched(['$.a[1]'], ['a', '1'])).toEqual([]);
  });

  it('keyed selectors match their key only', () => {
    const p = ['$.items[id=42].price'];
    expect(matched(p, ['items', { field: 'id', value: 42 }, 'price'])).toEqual(p);
    expect(matched(p, ['items', { field: 'id', value: '42' }, 'price'])).toEqual([]);
    expect(matched(p, ['items', { field: 'id', value: 43 }, 'price'])).toEqual([]);
    expect(matched(p, ['items', 42, 'price'])).toEqual([]);
  });

  it('recursive descent matches at every depth, including repeated names', () => {
    const p = ['$..requestId'];
    expect(matched(p, ['requestId'])).toEqual(p);
    expect(matched(p, ['a', 0, 'b', 'requestId'])).toEqual(p);
    expect(matched(p, ['requestId', 'requestId'])).toEqual(p);
    expect(matched(p, ['a', 'requestIdx'])).toEqual([]);
    const q = ['$..a.b'];
    expect(matched(q, ['a', 'a', 'b'])).toEqual(q);
    expect(matched(q, ['x', 'a', 'b'])).toEqual(q);
    expect(matched(q, ['a', 'x', 'b'])).toEqual([]);
  });

  it('reports every pattern ending at a node, in declaration order', () => {
    expect(matched(['$.a.b', '$..b', '$.*.b', '$.a.c'], ['a', 'b'])).toEqual(['$.a.b', '$..b', '$.*.b']);
    expect(matched(['$'], [])).toEqual(['$']);
  });

  it('goes dead below nodes no pattern can reach, and stays dead', () => {
    const root = walk(['$.meta.requestId'], []);
    expect(root.dead).toBe(false);
    const other = root.name('data');
    expect(other.dead).toBe(true);
    expect(other.name('meta').step(3).keyed('id', 1)).toBe(other);
    expect(walk([], []).dead).toBe(true);
    expect(walk(['$..x'], ['a', 'b', 'c']).dead).toBe(false);
  });

  it('shares states: the same position set is one object, transitions are cached', () => {
    const root = walk(['$.a.b', '$.c'], []);
    expect(root.name('zzz')).toBe(root.name('yyy'));
    expect(root.name('a')).toBe(root.name('a'));
    expect(root.index(3)).toBe(root.anyIndex());
  });
});
