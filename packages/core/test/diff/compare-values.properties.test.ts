import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareValues } from '../../src/diff/compare-values.js';
import { type ArrayOrder, compileDiffOptions, type DiffOptions } from '../../src/diff/options.js';

/**
 * JSON-like values as JSON.parse gives them: -0 is written as 0 (the differ treats them alike by design,
 * and isDeepStrictEqual does not), no undefined.
 */
const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);

/** Two values that are often close: y is x with a few random edits, so both verdicts are common. */
const nearPair = json.chain((x) =>
  fc.tuple(fc.constant(x), fc.oneof(fc.constant(structuredClone(x)), mutate(x), json)),
);

function mutate(x: unknown): fc.Arbitrary<unknown> {
  if (Array.isArray(x) && x.length > 0)
    return fc.nat(x.length - 1).chain((i) => mutate(x[i]).map((v) => x.map((e, j) => (j === i ? v : e))));
  if (x !== null && typeof x === 'object' && Object.keys(x).length > 0) {
    const keys = Object.keys(x);
    return fc.oneof(
      fc
        .constantFrom(...keys)
        .chain((k) => mutate((x as Record<string, unknown>)[k]).map((v) => ({ ...x, [k]: v }))),
      fc.constantFrom(...keys).map((k) => {
        const { [k]: _, ...rest } = x as Record<string, unknown>;
        return rest;
      }),
    );
  }
  return json;
}

const order: fc.Arbitrary<ArrayOrder> = fc.constantFrom<ArrayOrder>('ordered', 'unordered', { key: 'id' });
const anyOptions: fc.Arbitrary<DiffOptions> = fc.record(
  {
    ignore: fc.subarray(['$..a', '$[*]', '$.b[0]', '$..[*].id', "$['']"]),
    tolerance: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 10, noNaN: true })),
    arrayOrder: order,
    arrays: fc.dictionary(fc.constantFrom('$..a', '$[*]', '$.b'), order),
    maxDifferences: fc.nat(60),
    maxNodes: fc.integer({ min: 1, max: 5000 }),
  },
  { requiredKeys: [] },
);

describe('compareValues properties', () => {
  it('compareValues(x, x) is equal for every JSON value, under any options', () => {
    fc.assert(
      fc.property(json, anyOptions, (x, options) => {
        const result = compareValues(x, structuredClone(x), { ...options, maxNodes: 1_000_000 });
        expect(result.equal).toBe(true);
        expect(result.differences).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('under default options, equal ⇔ deep-equal for JSON values', () => {
    fc.assert(
      fc.property(nearPair, ([x, y]) => {
        const result = compareValues(x, y);
        expect(result.skipped).toBeUndefined();
        expect(result.equal).toBe(isDeepStrictEqual(x, y));
        expect(result.differences.length === 0).toBe(result.equal);
      }),
      { numRuns: 1000 },
    );
  });

  it('unordered: equal ⇔ the same multiset of canonical elements', () => {
    const canonical = (v: unknown): string =>
      Array.isArray(v)
        ? `<${v.map(canonical).sort().join(',')}>`
        : v !== null && typeof v === 'object'
          ? `{${Object.keys(v)
              .sort()
              .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
              .join(',')}}`
          : JSON.stringify(v);
    const shuffledPair = nearPair.chain(([x, y]) =>
      fc.tuple(
        fc.constant(x),
        Array.isArray(y) ? fc.shuffledSubarray(y, { minLength: y.length }) : fc.constant(y),
      ),
    );
    fc.assert(
      fc.property(shuffledPair, ([x, y]) => {
        const result = compareValues(x, y, { arrayOrder: 'unordered' });
        expect(result.equal).toBe(canonical(x) === canonical(y));
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on any pair of values, under any options', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withTypedArray: true,
          withNullPrototype: true,
          withSparseArray: true,
          withBoxedValues: true,
          withObjectString: true,
        }),
        fc.anything({
          withBigInt: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withTypedArray: true,
          withNullPrototype: true,
          withSparseArray: true,
          withBoxedValues: true,
        }),
        anyOptions,
        (a, b, options) => {
          const result = compareValues(a, b, options);
          expect(result.skipped === 'error').toBe(false);
          expect(compareValues(a, a, options).differences).toEqual([]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('any structured-cloneable value equals its clone (Maps, Sets, Dates, typed arrays, boxes, sparse arrays)', () => {
    const value = fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withNullPrototype: true,
      withSparseArray: true,
      withBoxedValues: true,
    });
    fc.assert(
      fc.property(value, (x) => {
        expect(compareValues(x, structuredClone(x), { maxNodes: 1_000_000 })).toMatchObject({ equal: true });
      }),
      { numRuns: 500 },
    );
  });

  it('never reports more than maxDifferences, and truncated means there were more', () => {
    fc.assert(
      fc.property(nearPair, fc.nat(10), ([x, y], maxDifferences) => {
        const capped = compareValues(x, y, { maxDifferences });
        const all = compareValues(x, y, { maxDifferences: 100_000 });
        expect(capped.differences.length).toBeLessThanOrEqual(maxDifferences);
        expect(capped.truncated).toBe(all.differences.length > maxDifferences);
        expect(capped.differences).toEqual(all.differences.slice(0, maxDifferences));
      }),
      { numRuns: 500 },
    );
  });

  it('ignoring every reported path makes the values equal (reported paths are valid ignore paths)', () => {
    fc.assert(
      fc.property(nearPair, order, ([x, y], arrayOrder) => {
        const options = { arrayOrder, maxDifferences: 100_000 };
        const { differences } = compareValues(x, y, options);
        const ignore = differences.map((d) => d.path);
        compileDiffOptions({ ignore });
        if (arrayOrder === 'ordered') expect(compareValues(x, y, { ...options, ignore }).equal).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
