import { compareValues } from '@canary-kit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { until } from '../support/until.js';
import { counts, expectNoUnhandledRejections, never, only, setup, total } from './support.js';

expectNoUnhandledRejections();

/** How one side behaves: returns or throws, synchronously or through a promise; a candidate may also hang. */
type Behaviour =
  | { readonly how: 'return' | 'throw' | 'resolve' | 'reject'; readonly value: unknown }
  | { readonly how: 'hang' };

const controlBehaviour: fc.Arbitrary<Behaviour> = fc.record({
  how: fc.constantFrom('return', 'throw', 'resolve', 'reject'),
  value: fc.anything(),
}) as fc.Arbitrary<Behaviour>;

const candidateBehaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  controlBehaviour,
  fc.constant({ how: 'hang' } as const),
);

/** A behaviour as a function; the same (identical) value or exception each time it is called. */
function act(b: Behaviour): () => unknown {
  switch (b.how) {
    case 'return':
      return () => b.value;
    case 'throw':
      return () => {
        throw b.value;
      };
    case 'resolve':
      return () => Promise.resolve(b.value);
    case 'reject':
      return () => Promise.reject(b.value);
    case 'hang':
      return () => never();
  }
}

/** What a caller observes: a value or exception, and for a promise, what it settles to. */
type Observed =
  | { readonly sync: true; readonly ok: boolean; readonly value: unknown }
  | { readonly sync: false; readonly ok: boolean; readonly value: unknown };

async function observe(call: () => unknown): Promise<Observed> {
  let returned: unknown;
  try {
    returned = call();
  } catch (error) {
    return { sync: true, ok: false, value: error };
  }
  if (!(returned instanceof Promise)) return { sync: true, ok: true, value: returned };
  try {
    return { sync: false, ok: true, value: await returned };
  } catch (error) {
    return { sync: false, ok: false, value: error };
  }
}

/** What the experiment should count for one selected call. */
function expectedOutcome(control: Behaviour, candidate: Behaviour): string[] {
  if (candidate.how === 'hang') return ['timeout'];
  const controlOk = control.how === 'return' || control.how === 'resolve';
  const candidateOk = candidate.how === 'return' || candidate.how === 'resolve';
  if (controlOk && !candidateOk) return ['candidate_error'];
  if (controlOk !== candidateOk) return ['mismatch'];
  const diff = compareValues(control.how === 'hang' ? undefined : control.value, candidate.value);
  if (diff.skipped && diff.differences.length === 0) return ['skipped'];
  return [diff.equal ? 'match' : 'mismatch'];
}

describe('property: an experiment never changes what the caller observes', () => {
  it('for arbitrary control and candidate behaviour, the caller sees exactly the control alone; one outcome is counted', async () => {
    await fc.assert(
      fc.asyncProperty(
        controlBehaviour,
        candidateBehaviour,
        fc.constantFrom(0, 100),
        async (control, candidate, percentage) => {
          const { canary } = setup();
          const alone = await observe(act(control));
          const seen = await observe(() =>
            canary.experiment('prop', {
              control: act(control),
              candidate: act(candidate) as () => unknown,
              percentage,
              timeoutMs: 5,
            }),
          );
          expect(seen.sync).toBe(alone.sync);
          expect(seen.ok).toBe(alone.ok);
          // Identity, not equality: the very value or exception control produced.
          expect(Object.is(seen.value, alone.value)).toBe(true);
          await until(() => total(canary, 'prop') === 1, 'the outcome');
          const c = counts(canary, 'prop');
          if (percentage === 0) expect(c).toEqual(only({ skipped: 1 }));
          else {
            const [outcome] = expectedOutcome(control, candidate);
            expect(c).toEqual(only({ [outcome!]: 1 }));
          }
          await canary.close();
        },
      ),
      { numRuns: 300 },
    );
  });
});
