import { CanaryConfigError } from '@canary-kit/core';
import { describe, expect, it } from 'vitest';
import { compareValues } from '../../src/diff/compare-values.js';
import { compileDiffOptions } from '../../src/diff/options.js';

const paths = (a: unknown, b: unknown, options?: Parameters<typeof compareValues>[2]) =>
  compareValues(a, b, options).differences.map((d) => `${d.kind} ${d.path}`);

describe('compareValues: JSON', () => {
  it('equal values are equal, whatever the key order', () => {
    const result = compareValues(
      { a: 1, b: [1, { c: 'x' }], d: null },
      { d: null, b: [1, { c: 'x' }], a: 1 },
    );
    expect(result).toEqual({ equal: true, differences: [], truncated: false, nodes: 7 });
  });

  it('reports changed, missing, added and type differences with their paths and values', () => {
    const primary = { a: 1, gone: true, nested: { list: [1, 2, 3] }, kind: '1', 'odd key': 1 };
    const candidate = { a: 2, nested: { list: [1, 2] }, kind: 1, extra: { x: 1 }, 'odd key': 2 };
    expect(compareValues(primary, candidate).differences).toEqual([
      { path: '$.a', kind: 'changed', primary: 1, candidate: 2 },
      { path: '$.gone', kind: 'missing', primary: true },
      { path: '$.nested.list[2]', kind: 'missing', primary: 3 },
      { path: '$.kind', kind: 'type', primary: '1', candidate: 1 },
      { path: "$['odd key']", kind: 'changed', primary: 1, candidate: 2 },
      { path: '$.extra', kind: 'added', candidate: '{"x":1}' },
    ]);
  });

  it('object vs array vs null vs primitive are type differences at the node, not below it', () => {
    expect(paths({ a: {} }, { a: [] })).toEqual(['type $.a']);
    expect(paths({ a: null }, { a: { b: 1 } })).toEqual(['type $.a']);
    expect(paths([1], { 0: 1 })).toEqual(['type $']);
    expect(paths('1', 1)).toEqual(['type $']);
  });

  it('reported values are previews cut to maxValueLength', () => {
    const long = 'x'.repeat(500);
    const [d] = compareValues(
      { s: long, o: { list: Array(300).fill(1) } },
      { s: `${long}!`, o: 1 },
    ).differences;
    expect(d!.primary).toBe(`${'x'.repeat(200)}…`);
    const [, o] = compareValues(
      { s: 1, o: { list: Array(300).fill(1) } },
      { s: 2, o: 1 },
      { maxValueLength: 20 },
    ).differences;
    expect(o!.primary).toBe('{"list":[1,1,1,1,1,1…');
  });
});

describe('ignore paths', () => {
  const primary = {
    meta: { requestId: 'r-1', page: 1 },
    items: [
      { id: 1, price: 10, updatedAt: '2024-01-01' },
      { id: 2, price: 20, updatedAt: '2024-01-02' },
    ],
  };
  const candidate = {
    meta: { requestId: 'r-2', page: 1 },
    items: [
      { id: 1, price: 10, updatedAt: '2025-05-05' },
      { id: 2, price: 20, updatedAt: '2025-05-06' },
    ],
  };

  it('$.meta.requestId and $.items[*].updatedAt hide exactly those fields', () => {
    expect(paths(primary, candidate)).toEqual([
      'changed $.meta.requestId',
      'changed $.items[0].updatedAt',
      'changed $.items[1].updatedAt',
    ]);
    expect(
      compareValues(primary, candidate, { ignore: ['$.meta.requestId', '$.items[*].updatedAt'] }).equal,
    ).toBe(true);
    const changed = structuredClone(candidate);
    changed.items[1]!.price = 21;
    expect(paths(primary, changed, { ignore: ['$.meta.requestId', '$.items[*].updatedAt'] })).toEqual([
      'changed $.items[1].price',
    ]);
  });

  it('an ignored field missing or added on one side is not reported either', () => {
    expect(compareValues({ a: 1, requestId: 'x' }, { a: 1 }, { ignore: ['$.requestId'] }).equal).toBe(true);
    expect(compareValues({ a: 1 }, { a: 1, requestId: 'x' }, { ignore: ['$.requestId'] }).equal).toBe(true);
  });

  it('recursive descent, quoted keys, indexes and the root', () => {
    const a = { x: { requestId: 1, y: [{ requestId: 2 }] }, 'a b': 1, list: [1, 2] };
    const b = { x: { requestId: 3, y: [{ requestId: 4 }] }, 'a b': 2, list: [1, 3] };
    expect(paths(a, b, { ignore: ['$..requestId', "$['a b']", '$.list[1]'] })).toEqual([]);
    expect(paths(a, b, { ignore: ['$..requestId', '$.list[0]'] })).toEqual([
      "changed $['a b']",
      'changed $.list[1]',
    ]);
    expect(compareValues(1, 2, { ignore: ['$'] }).equal).toBe(true);
  });

  it('an ignored subtree is not visited', () => {
    const big = { noise: Array.from({ length: 1000 }, (_, i) => ({ i })), a: 1 };
    const result = compareValues(big, { ...big, noise: [] }, { ignore: ['$.noise'] });
    expect(result).toMatchObject({ equal: true, nodes: 2 });
  });
});

describe('numeric tolerance', () => {
  it('a number is an absolute tolerance, inclusive', () => {
    expect(compareValues({ p: 1.0 }, { p: 1.01 }, { tolerance: 0.01 }).equal).toBe(true);
    expect(compareValues({ p: 1.0 }, { p: 1.02 }, { tolerance: 0.01 }).equal).toBe(false);
    expect(compareValues({ p: 100 }, { p: 100.5 }).equal).toBe(false);
  });

  it('relative is a fraction of the larger magnitude; either bound suffices', () => {
    expect(compareValues(1000, 1009, { tolerance: { relative: 0.01 } }).equal).toBe(true);
    expect(compareValues(1000, 1011, { tolerance: { relative: 0.01 } }).equal).toBe(false);
    expect(compareValues(0.001, 0.002, { tolerance: { relative: 0.01, absolute: 0.01 } }).equal).toBe(true);
  });

  it('never bridges infinities, NaN or types', () => {
    const tolerance = { relative: 1, absolute: 1e9 };
    expect(compareValues(Infinity, 1, { tolerance }).equal).toBe(false);
    expect(compareValues(Infinity, -Infinity, { tolerance }).equal).toBe(false);
    expect(compareValues(Number.NaN, 1, { tolerance }).equal).toBe(false);
    expect(compareValues(1, '1', { tolerance }).equal).toBe(false);
    expect(compareValues(1n, 1, { tolerance }).equal).toBe(false);
  });

  it('NaN equals NaN and -0 equals 0, with or without tolerance', () => {
    expect(compareValues([Number.NaN, -0], [Number.NaN, 0]).equal).toBe(true);
    expect(compareValues([Number.NaN, -0], [Number.NaN, 0], { tolerance: 0.5 }).equal).toBe(true);
  });
});

describe('array order', () => {
  const primary = {
    items: [
      { id: 1, name: 'a', price: 10 },
      { id: 2, name: 'b', price: 20 },
      { id: 3, name: 'c', price: 30 },
    ],
  };
  /** Reordered, and item 2's price changed. */
  const candidate = {
    items: [
      { id: 3, name: 'c', price: 30 },
      { id: 1, name: 'a', price: 10 },
      { id: 2, name: 'b', price: 25 },
    ],
  };

  it('ordered (the default) pairs by position', () => {
    expect(paths(primary, candidate)).toHaveLength(9);
  });

  it('unordered pairs equal elements wherever they are and reports the real change', () => {
    expect(compareValues(primary, candidate, { arrayOrder: 'unordered' }).differences).toEqual([
      { path: '$.items[1].price', kind: 'changed', primary: 20, candidate: 25 },
    ]);
    const reordered = { items: [primary.items[2], primary.items[0], primary.items[1]] };
    expect(compareValues(primary, reordered, { arrayOrder: 'unordered' }).equal).toBe(true);
  });

  it('unordered is a multiset: duplicates count', () => {
    expect(compareValues([1, 1, 2], [1, 2, 2], { arrayOrder: 'unordered' }).differences).toEqual([
      { path: '$[1]', kind: 'changed', primary: 1, candidate: 2 },
    ]);
    expect(paths([1, 1, 2], [2, 1], { arrayOrder: 'unordered' })).toEqual(['missing $[0]']);
    expect(paths([2, 1], [1, 1, 2], { arrayOrder: 'unordered' })).toEqual(['added $[0]']);
    expect(compareValues([], [], { arrayOrder: 'unordered' }).equal).toBe(true);
  });

  it('unordered honours ignore paths and tolerance inside elements', () => {
    const a = [
      { id: 1, at: 't1', v: 1.0 },
      { id: 2, at: 't2', v: 2.0 },
    ];
    const b = [
      { id: 2, at: 't3', v: 2.001 },
      { id: 1, at: 't4', v: 0.999 },
    ];
    expect(compareValues(a, b, { arrayOrder: 'unordered', ignore: ['$[*].at'], tolerance: 0.01 }).equal).toBe(
      true,
    );
    expect(compareValues(a, b, { arrayOrder: 'unordered', ignore: ['$[*].at'] }).equal).toBe(false);
  });

  it('unordered arrays nest, and key order inside elements does not matter', () => {
    const a = [{ tags: ['x', 'y'], n: 1 }, { tags: ['z'] }];
    const b = [{ tags: ['z'] }, { n: 1, tags: ['y', 'x'] }];
    expect(compareValues(a, b, { arrayOrder: 'unordered' }).equal).toBe(true);
  });

  it('unordered pairing is linear: 20,000 shuffled elements in one pass', () => {
    const a = Array.from({ length: 20_000 }, (_, i) => ({ id: i, v: `v${i}` }));
    const b = [...a].reverse();
    const result = compareValues(a, b, { arrayOrder: 'unordered', maxNodes: 1_000_000 });
    expect(result.equal).toBe(true);
    // Each element: one failed positional probe, a key on each side, one confirming probe — a small constant.
    expect(result.nodes).toBeLessThan(20_000 * 3 * 8);
  });

  it('unordered under a tolerance stays linear: exact matches pair first, only near-misses need probing', () => {
    const a = Array.from({ length: 5000 }, (_, i) => ({ id: i, price: i * 1.1 }));
    const b = a.map((item) => ({ ...item })).reverse();
    b[10]!.price += 0.001;
    b[20]!.price -= 0.001;
    const tolerant = compareValues(a, b, { arrayOrder: 'unordered', tolerance: 0.01, maxNodes: 1_000_000 });
    expect(tolerant.equal).toBe(true);
    expect(tolerant.nodes).toBeLessThan(5000 * 3 * 12);
    b[30]!.price += 1;
    expect(paths(a, b, { arrayOrder: 'unordered', tolerance: 0.01, maxNodes: 1_000_000 })).toEqual([
      'changed $[4969].price',
    ]);
  });

  it('keyed pairs by the key field and reports paths by key', () => {
    expect(compareValues(primary, candidate, { arrayOrder: { key: 'id' } }).differences).toEqual([
      { path: '$.items[id=2].price', kind: 'changed', primary: 20, candidate: 25 },
    ]);
  });

  it('keyed reports missing and added elements by key, string keys quoted', () => {
    const a = [
      { sku: 'a', n: 1 },
      { sku: 'b', n: 2 },
    ];
    const b = [
      { sku: 'c', n: 3 },
      { sku: 'a', n: 1 },
    ];
    expect(compareValues(a, b, { arrayOrder: { key: 'sku' } }).differences).toEqual([
      { path: '$[sku="b"]', kind: 'missing', primary: '{"sku":"b","n":2}' },
      { path: '$[sku="c"]', kind: 'added', candidate: '{"sku":"c","n":3}' },
    ]);
  });

  it('keyed: elements without a usable key or with a repeated key fall back to multiset comparison', () => {
    const a = [{ id: 1 }, { name: 'no key' }, { id: 1, dup: true }, 'text'];
    const b = ['text', { id: 1, dup: true }, { name: 'no key' }, { id: 1 }];
    expect(compareValues(a, b, { arrayOrder: { key: 'id' } }).equal).toBe(false);
    // Key 1 is repeated on both sides: the first of each pairs by key, so reorder the duplicates to match.
    const c = ['text', { id: 1 }, { name: 'no key' }, { id: 1, dup: true }];
    expect(compareValues(a, c, { arrayOrder: { key: 'id' } }).equal).toBe(true);
  });

  it('keyed ignore paths can name one key', () => {
    const a = [
      { id: 1, v: 1 },
      { id: 2, v: 2 },
    ];
    const b = [
      { id: 2, v: 3 },
      { id: 1, v: 4 },
    ];
    expect(paths(a, b, { arrayOrder: { key: 'id' }, ignore: ['$[id=1].v'] })).toEqual(['changed $[id=2].v']);
  });

  it('per-path overrides beat the global order; the first matching override wins', () => {
    const a = { items: [{ id: 1 }, { id: 2 }], tags: ['a', 'b'], order: [1, 2] };
    const b = { items: [{ id: 2 }, { id: 1 }], tags: ['b', 'a'], order: [2, 1] };
    expect(
      paths(a, b, { arrays: { '$.items': { key: 'id' }, '$.tags': 'unordered', '$.*': 'ordered' } }),
    ).toEqual(['changed $.order[0]', 'changed $.order[1]']);
    expect(paths(a, b, { arrayOrder: 'unordered', arrays: { '$.order': 'ordered' } })).toEqual([
      'changed $.order[0]',
      'changed $.order[1]',
    ]);
    expect(paths({ x: [[1, 2]] }, { x: [[2, 1]] }, { arrays: { '$..[*]': 'unordered' } })).toEqual([]);
  });
});

describe('caps and budgets', () => {
  it('1,000 differing fields: 50 reported, then truncated', () => {
    const a = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`f${i}`, i]));
    const b = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`f${i}`, -i - 1]));
    const result = compareValues(a, b);
    expect(result.equal).toBe(false);
    expect(result.truncated).toBe(true);
    expect(result.differences).toHaveLength(50);
    expect(result.differences[49]!.path).toBe('$.f49');
    // It stopped looking: 51 fields visited, not 1,000.
    expect(result.nodes).toBe(52);
  });

  it('maxDifferences: 0 answers only "equal?"', () => {
    expect(compareValues({ a: 1 }, { a: 2 }, { maxDifferences: 0 })).toMatchObject({
      equal: false,
      differences: [],
      truncated: true,
    });
    expect(compareValues({ a: 1 }, { a: 1 }, { maxDifferences: 0 })).toMatchObject({
      equal: true,
      truncated: false,
    });
  });

  it('a 1,000,000-node value is skipped by the node budget, deterministically', () => {
    const a = { items: Array.from({ length: 1_000_000 }, (_, i) => i) };
    const b = { items: Array.from({ length: 1_000_000 }, (_, i) => i) };
    const result = compareValues(a, b);
    expect(result).toMatchObject({ equal: false, skipped: 'budget', nodes: 100_001, truncated: false });
    expect(compareValues(a, b, { maxNodes: 2_000_000 })).toMatchObject({ equal: true, nodes: 1_000_002 });
  });

  it('differences found before the budget ran out are kept', () => {
    const a = { first: 1, rest: Array(100).fill(0) };
    const b = { first: 2, rest: Array(100).fill(0) };
    const result = compareValues(a, b, { maxNodes: 50 });
    expect(result.skipped).toBe('budget');
    expect(result.differences.map((d) => d.path)).toEqual(['$.first']);
  });

  it('budgetMs stops a comparison that runs past it', () => {
    // A clock that has already run out: the first check (after 1,024 nodes) stops the walk.
    const a = Array.from({ length: 5000 }, (_, i) => i);
    const result = compareValues(a, [...a], { budgetMs: Number.MIN_VALUE, maxNodes: 1e9 });
    expect(result).toMatchObject({ skipped: 'budget', nodes: 1024 });
  });

  it('nesting past maxDepth is skipped by budget rather than overflowing the stack', () => {
    const deep = (n: number) => {
      let v: unknown = 0;
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    expect(compareValues(deep(100_000), deep(100_000))).toMatchObject({ skipped: 'budget', equal: false });
    expect(compareValues(deep(400), deep(400)).equal).toBe(true);
    expect(compareValues(deep(400), deep(400), { arrayOrder: 'unordered' }).equal).toBe(true);
  });
});

describe('arbitrary values (experiments)', () => {
  it('Dates by time, RegExps by source and flags', () => {
    expect(compareValues(new Date(5), new Date(5)).equal).toBe(true);
    expect(compareValues(new Date(Number.NaN), new Date(Number.NaN)).equal).toBe(true);
    expect(compareValues({ at: new Date(5) }, { at: new Date(6) }).differences).toEqual([
      {
        path: '$.at',
        kind: 'changed',
        primary: 'Date(1970-01-01T00:00:00.005Z)',
        candidate: 'Date(1970-01-01T00:00:00.006Z)',
      },
    ]);
    expect(compareValues(/a/g, /a/g).equal).toBe(true);
    expect(compareValues(/a/g, /a/i).equal).toBe(false);
    expect(paths(new Date(0), 0)).toEqual(['type $']);
  });

  it('Maps by key, Sets as multisets', () => {
    const a = new Map<unknown, unknown>([
      ['x', 1],
      [2, { y: 1 }],
    ]);
    const b = new Map<unknown, unknown>([
      [2, { y: 2 }],
      ['x', 1],
      ['z', 0],
    ]);
    expect(paths(a, b)).toEqual(['changed $[2].y', 'added $.z']);
    expect(compareValues(new Set([1, { a: 1 }]), new Set([{ a: 1 }, 1])).equal).toBe(true);
    expect(paths(new Set([1, 2]), new Set([1, 3]))).toEqual(['changed $[1]']);
    expect(paths(new Map(), new Set())).toEqual(['type $']);
    // Object keys: by identity first, then by content, so a cloned Map equals its original.
    const key = { id: 1 };
    const byObject = new Map<unknown, unknown>([
      [key, 'a'],
      [{ id: 2 }, 'b'],
    ]);
    expect(compareValues(byObject, structuredClone(byObject)).equal).toBe(true);
    expect(
      paths(
        byObject,
        new Map<unknown, unknown>([
          [{ id: 2 }, 'B'],
          [{ id: 3 }, 'c'],
        ]),
      ),
    ).toEqual(['missing $[\'{"id":1}\']', 'changed $[\'{"id":2}\']', 'added $[\'{"id":3}\']']);
  });

  it('BigInt, undefined, symbols and functions', () => {
    expect(compareValues(10n, 10n).equal).toBe(true);
    expect(compareValues({ n: 10n }, { n: 11n }).differences).toEqual([
      { path: '$.n', kind: 'changed', primary: '10n', candidate: '11n' },
    ]);
    // An undefined property is an absent one, as in JSON.
    expect(compareValues({ a: 1, b: undefined }, { a: 1 }).equal).toBe(true);
    expect(paths({ b: undefined }, { b: 1 })).toEqual(['added $.b']);
    expect(paths([undefined], [null])).toEqual(['type $[0]']);
    const f = () => 1;
    expect(compareValues({ f }, { f }).equal).toBe(true);
    expect(compareValues({ f }, { f: () => 1 }).differences).toEqual([
      { path: '$.f', kind: 'changed', primary: '[Function f]', candidate: '[Function f]' },
    ]);
    const s = Symbol('s');
    expect(compareValues(s, s).equal).toBe(true);
    expect(compareValues(Symbol('s'), Symbol('s')).equal).toBe(false);
  });

  it('Buffers and typed arrays byte for byte, same class only', () => {
    expect(compareValues(Buffer.from('abc'), Buffer.from('abc')).equal).toBe(true);
    expect(compareValues({ b: Buffer.from('abc') }, { b: Buffer.from('abd') }).differences).toEqual([
      {
        path: '$.b',
        kind: 'changed',
        primary: 'Buffer(3) <61 62 63>',
        candidate: 'Buffer(3) <61 62 64>',
        detail: 'first difference at byte 2 (3 vs 3 bytes)',
      },
    ]);
    expect(paths(Buffer.from('abc'), new Uint8Array([97, 98, 99]))).toEqual(['type $']);
    expect(compareValues(new Float64Array([1, 2]), new Float64Array([1, 2])).equal).toBe(true);
    expect(compareValues(new Uint8Array([1]).buffer, new Uint8Array([1]).buffer).equal).toBe(true);
  });

  it('class instances: same prototype, then fields; boxed primitives by value; errors by name and message', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    class Other {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    expect(compareValues(new Point(1, 2), new Point(1, 2)).equal).toBe(true);
    expect(paths(new Point(1, 2), new Point(1, 3))).toEqual(['changed $.y']);
    expect(paths(new Point(1, 2), new Other(1, 2))).toEqual(['type $']);
    expect(paths(new Point(1, 2), { x: 1, y: 2 })).toEqual(['type $']);
    expect(compareValues({ a: 1 }, Object.assign(Object.create(null), { a: 1 })).equal).toBe(true);
    expect(compareValues(Object(1), Object(1)).equal).toBe(true);
    expect(compareValues(Object('a'), Object('b')).equal).toBe(false);
    expect(compareValues(new Error('x'), new Error('x')).equal).toBe(true);
    expect(compareValues(new Error('x'), new Error('y')).equal).toBe(false);
    expect(paths(new Error('x'), new TypeError('x'))).toEqual(['type $']);
    const p = Promise.resolve(1);
    expect(compareValues(p, p).equal).toBe(true);
    expect(compareValues(p, Promise.resolve(1)).equal).toBe(false);
  });

  it('cycles: isomorphic cyclic structures are equal; a difference inside a cycle is found', () => {
    const cyclic = (v: number) => {
      const node: Record<string, unknown> = { v };
      node.self = node;
      node.list = [node, { back: node }];
      return node;
    };
    // Linear, not unrolled: each branch stops where its pair of nodes repeats.
    expect(compareValues(cyclic(1), cyclic(1))).toMatchObject({ equal: true, nodes: 7 });
    expect(paths(cyclic(1), cyclic(2))).toEqual(['changed $.v']);
    const a: unknown[] = [];
    a.push(a);
    const b: unknown[] = [[]];
    (b[0] as unknown[]).push(b);
    // Different periods (1 and 2) still terminate.
    expect(compareValues(a, b).equal).toBe(true);
    expect(compareValues(a, b, { arrayOrder: 'unordered' }).skipped).toBeUndefined();
  });

  it('a getter that throws ends the comparison as skipped: error, not a throw', () => {
    const hostile = {
      get boom() {
        throw new Error('no');
      },
    };
    expect(compareValues({ boom: 1 }, hostile)).toMatchObject({ equal: false, skipped: 'error' });
    const proxy = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('trap');
        },
      },
    );
    expect(compareValues(proxy, {}).skipped).toBe('error');
  });
});

describe('options', () => {
  it('are validated with every issue named', () => {
    let error: unknown;
    try {
      compileDiffOptions({
        ignore: ['$.ok', 'nope', '$.a['],
        tolerance: -1,
        arrayOrder: 'sorted' as never,
        arrays: { '$.x': { key: '' }, bad: 'ordered' },
        maxDifferences: 1.5,
        maxNodes: 0,
        budgetMs: 0,
        headers: [''],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CanaryConfigError);
    expect((error as CanaryConfigError).issues.map((i) => i.path)).toEqual([
      'ignore[1]',
      'ignore[2]',
      'arrayOrder',
      'arrays["$.x"]',
      'arrays["bad"]',
      'tolerance',
      'headers',
      'budgetMs',
      'maxDifferences',
      'maxNodes',
    ]);
    expect((error as CanaryConfigError).issues[1]!.message).toBe(
      'expected an index, "*", a quoted name or field=value at column 5 in "$.a["',
    );
  });

  it('compile once: the same options object is compiled once, a compiled one passes through', () => {
    const options = { ignore: ['$.a'] };
    const compiled = compileDiffOptions(options);
    expect(compileDiffOptions(options)).toBe(compiled);
    expect(compileDiffOptions(compiled)).toBe(compiled);
    expect(compareValues({ a: 1 }, { a: 2 }, compiled).equal).toBe(true);
  });

  it('compareValues throws on invalid options (a config error, not a value)', () => {
    expect(() => compareValues(1, 1, { ignore: ['x'] })).toThrow(CanaryConfigError);
  });
});
