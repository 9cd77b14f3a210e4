import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fieldOf, NoiseFilter } from '../../src/diff/noise.js';

const at = (...paths: string[]) => paths.map((path) => ({ path }));

/** Feeds `requests` requests: the candidate differs at `path` on `candidate` of them, the secondary on `noise`. */
function learn(filter: NoiseFilter, path: string, requests: number, candidate: number, noise: number) {
  for (let i = 0; i < requests; i++) filter.observe(i < candidate ? at(path) : [], i < noise ? at(path) : []);
}

describe('NoiseFilter (Diffy rule)', () => {
  it('a field that differs on 100 % of requests for the secondary too is noise: filtered', () => {
    const filter = new NoiseFilter();
    learn(filter, '$.ts', 100, 100, 100);
    expect(filter.isSignal('$.ts')).toBe(false);
    expect(filter.filter(at('$.ts', '$.price'))).toEqual(at('$.price'));
  });

  it('a field the candidate changes on 5 % of requests and the secondary never does is reported', () => {
    const filter = new NoiseFilter();
    learn(filter, '$.price', 1000, 50, 0);
    expect(filter.isSignal('$.price')).toBe(true);
    expect(filter.filter(at('$.price'))).toEqual(at('$.price'));
  });

  it('candidate 10.0 % vs noise 9.0 % is noise (relative gap 1/19 ≈ 5 % < 20 %)', () => {
    const filter = new NoiseFilter();
    learn(filter, '$.score', 1000, 100, 90);
    expect(filter.isSignal('$.score')).toBe(false);
  });

  it('the relative gap is taken against the sum of both rates, as in Diffy: 15 % vs 10 % is noise, 16 % signal', () => {
    // |15 − 10| / (15 + 10) = 20 %, not above 20 %; |16 − 10| / 26 ≈ 23 %.
    const a = new NoiseFilter();
    learn(a, '$.x', 1000, 150, 100);
    expect(a.isSignal('$.x')).toBe(false);
    const b = new NoiseFilter();
    learn(b, '$.x', 1000, 160, 100);
    expect(b.isSignal('$.x')).toBe(true);
  });

  it('the absolute gap must exceed 0.03 % of requests', () => {
    // 3 of 10,000 = 0.03 %: not above. 4 of 10,000: above.
    const a = new NoiseFilter();
    learn(a, '$.rare', 10_000, 3, 0);
    expect(a.isSignal('$.rare')).toBe(false);
    const b = new NoiseFilter();
    learn(b, '$.rare', 10_000, 4, 0);
    expect(b.isSignal('$.rare')).toBe(true);
  });

  it('a candidate differing less often than the secondary is never a signal', () => {
    const filter = new NoiseFilter({ relativeThreshold: 0, absoluteThreshold: 0 });
    learn(filter, '$.x', 100, 10, 50);
    expect(filter.isSignal('$.x')).toBe(false);
  });

  it('both thresholds are configurable', () => {
    const strict = new NoiseFilter({ relativeThreshold: 0.01, absoluteThreshold: 0 });
    learn(strict, '$.score', 1000, 100, 90);
    expect(strict.isSignal('$.score')).toBe(true);
    expect(() => new NoiseFilter({ relativeThreshold: 20 })).toThrow(RangeError);
    expect(() => new NoiseFilter({ maxFields: -1 })).toThrow(RangeError);
  });

  it('fields never observed are reported: only what was learned to be noise is hidden', () => {
    expect(new NoiseFilter().isSignal('$.anything')).toBe(true);
  });

  it('array indices are one field; a field counts once per request however many elements differ', () => {
    const filter = new NoiseFilter();
    for (let i = 0; i < 100; i++)
      filter.observe(at('$.items[0].updatedAt', '$.items[7].updatedAt'), at('$.items[3].updatedAt'));
    expect(filter.isSignal('$.items[12].updatedAt')).toBe(false);
    expect(filter.report().fields).toEqual([
      {
        field: '$.items[*].updatedAt',
        candidateCount: 100,
        candidateRate: 1,
        noiseCount: 100,
        noiseRate: 1,
        signal: false,
      },
    ]);
  });

  it('requests without a secondary answer count toward the candidate rate only', () => {
    const filter = new NoiseFilter();
    for (let i = 0; i < 50; i++) filter.observe(at('$.ts'), at('$.ts'));
    for (let i = 0; i < 50; i++) filter.observe(at('$.ts'));
    const report = filter.report();
    expect(report).toMatchObject({ requests: 100, requestsWithSecondary: 50 });
    expect(report.fields[0]).toMatchObject({ candidateRate: 1, noiseRate: 1, signal: false });
  });

  it('tracks at most maxFields fields, then drops and counts; dropped fields are reported', () => {
    const filter = new NoiseFilter({ maxFields: 2 });
    filter.observe(at('$.a', '$.b', '$.c'), at('$.a', '$.b', '$.c', '$.d'));
    const report = filter.report();
    expect(report.fields.map((f) => f.field)).toEqual(['$.a', '$.b']);
    // $.c twice (candidate and secondary) and $.d once.
    expect(report.droppedFields).toBe(3);
    expect(filter.isSignal('$.a')).toBe(false);
    expect(filter.isSignal('$.c')).toBe(true);
  });

  it('report lists signals first, then by candidate rate', () => {
    const filter = new NoiseFilter();
    for (let i = 0; i < 100; i++)
      filter.observe(
        at('$.ts', ...(i < 5 ? ['$.price'] : []), ...(i < 50 ? ['status'] : [])),
        at('$.ts', 'status'),
      );
    expect(filter.report().fields.map((f) => [f.field, f.signal])).toEqual([
      ['$.price', true],
      ['$.ts', false],
      ['status', false],
    ]);
  });
});

describe('fieldOf', () => {
  it.each([
    ['$.items[3].price', '$.items[*].price'],
    ['$[0][12]', '$[*][*]'],
    ['$.items[id=42].price', '$.items[id=42].price'],
    ['$.items[sku="a[1]"][2]', '$.items[sku="a[1]"][*]'],
    ["$['a[1]'][1]", "$['a[1]'][*]"],
    ["$['it\\'s[0]'][0]", "$['it\\'s[0]'][*]"],
    ['$.a', '$.a'],
    ['status', 'status'],
    ['headers.content-type', 'headers.content-type'],
  ])('%s → %s', (path, field) => {
    expect(fieldOf(path)).toBe(field);
  });

  it('returns paths without brackets unchanged (no allocation) and never throws', () => {
    const path = '$.a.b.c';
    expect(fieldOf(path)).toBe(path);
    fc.assert(fc.property(fc.string(), (s) => typeof fieldOf(s) === 'string'));
  });
});
