import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CanaryConfigError, MAX_EXPERIMENTS } from '@canary-kit/core';
import { describe, expect, it } from 'vitest';
import { until } from '../support/until.js';
import {
  counts,
  deferred,
  expectNoUnhandledRejections,
  never,
  nextCheck,
  only,
  setup,
  total,
} from './support.js';

expectNoUnhandledRejections();

describe('the caller gets the control, unchanged', () => {
  it('a synchronous control returns its value synchronously, before the candidate starts', async () => {
    const { canary } = setup();
    const value = { total: 42 };
    let candidateStarted = false;
    const result = canary.experiment('sync-value', {
      control: () => value,
      candidate: () => {
        candidateStarted = true;
        return { total: 42 };
      },
    });
    expect(result).toBe(value);
    expect(result).not.toBeInstanceOf(Promise);
    expect(candidateStarted).toBe(false);
    await until(() => total(canary, 'sync-value') === 1, 'the candidate');
    expect(candidateStarted).toBe(true);
    expect(counts(canary, 'sync-value')).toEqual(only({ match: 1 }));
  });

  it('a synchronous control that throws: the same exception, thrown synchronously', async () => {
    const { canary } = setup();
    const error = new RangeError('no such order');
    let thrown: unknown;
    try {
      canary.experiment('sync-throw', {
        control: () => {
          throw error;
        },
        candidate: () => {
          throw new RangeError('no such order');
        },
      });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBe(error);
    // Both threw the same kind of error with the same message: the candidate behaves like the control.
    await until(() => total(canary, 'sync-throw') === 1, 'the comparison');
    expect(counts(canary, 'sync-throw')).toEqual(only({ match: 1 }));
  });

  it('an async control: the very same promise, which settles while the candidate hangs forever', async () => {
    const { canary } = setup();
    const value = { id: 7 };
    const control = Promise.resolve(value);
    const result = canary.experiment('async-hang', {
      control: () => control,
      candidate: () => never<{ id: number }>(),
      timeoutMs: 30,
    });
    expect(result).toBe(control);
    expect(await result).toBe(value);
    await until(() => counts(canary, 'async-hang').timeout === 1, 'the timeout');
    expect(counts(canary, 'async-hang')).toEqual(only({ timeout: 1 }));
  });

  it('an async control that rejects: the same promise, rejecting with the same error', async () => {
    const { canary } = setup();
    const error = new Error('payment declined');
    const control = Promise.reject(error);
    const result = canary.experiment('async-reject', {
      control: () => control,
      candidate: async () => 'paid',
    });
    expect(result).toBe(control);
    await expect(result).rejects.toBe(error);
    // The control failed where the candidate succeeded: a mismatch.
    await until(() => total(canary, 'async-reject') === 1, 'the comparison');
    expect(counts(canary, 'async-reject')).toEqual(only({ mismatch: 1 }));
  });

  it('an async control: the candidate starts only after the caller resumed from its await', async () => {
    const { canary } = setup();
    const gate = deferred<number>();
    let candidateStarted = false;
    const result = canary.experiment('async-order', {
      control: () => gate.promise,
      candidate: () => {
        candidateStarted = true;
        return 1;
      },
    });
    expect(candidateStarted).toBe(false);
    gate.resolve(1);
    expect(await result).toBe(1);
    // The caller's continuation ran before the candidate did: the candidate is never on the caller's path.
    expect(candidateStarted).toBe(false);
    await until(() => total(canary, 'async-order') === 1, 'the candidate');
    expect(counts(canary, 'async-order')).toEqual(only({ match: 1 }));
  });
});

describe('whatever the candidate does is only counted', () => {
  it('throws: candidate_error, the caller gets the value', async () => {
    const { canary, errors } = setup();
    const result = canary.experiment('cand-throws', {
      control: () => 'stable',
      candidate: () => {
        throw new Error('boom');
      },
    });
    expect(result).toBe('stable');
    await until(() => total(canary, 'cand-throws') === 1, 'the candidate');
    expect(counts(canary, 'cand-throws')).toEqual(only({ candidate_error: 1 }));
    expect(errors).toEqual([]);
  });

  it('rejects: candidate_error, no unhandled rejection', async () => {
    const { canary } = setup();
    const result = canary.experiment('cand-rejects', {
      control: async () => 'stable',
      candidate: () => Promise.reject(new Error('down')),
    });
    expect(await result).toBe('stable');
    await until(() => total(canary, 'cand-rejects') === 1, 'the candidate');
    expect(counts(canary, 'cand-rejects')).toEqual(only({ candidate_error: 1 }));
  });

  it('returns a different value: mismatch, with the differences on the event', async () => {
    const { canary, mismatches } = setup();
    const context = { userId: 'u-1', requestId: 'r-9' };
    const result = canary.experiment('cand-differs', {
      control: () => ({ total: 10, items: [1, 2] }),
      candidate: () => ({ total: 11, items: [1, 2] }),
      context,
    });
    expect(result).toEqual({ total: 10, items: [1, 2] });
    await until(() => mismatches.length === 1, 'the mismatch');
    expect(counts(canary, 'cand-differs')).toEqual(only({ mismatch: 1 }));
    const event = mismatches[0]!;
    expect(event).toMatchObject({
      kind: 'experiment',
      experiment: 'cand-differs',
      control: { total: 10, items: [1, 2] },
      candidate: { total: 11, items: [1, 2] },
      controlThrew: false,
      candidateThrew: false,
      truncated: false,
    });
    expect(event.context).toBe(context);
    expect(event.differences).toEqual([{ path: '$.total', kind: 'changed', primary: 10, candidate: 11 }]);
    expect(event.controlSeconds).toBeGreaterThanOrEqual(0);
    expect(event.candidateSeconds).toBeGreaterThanOrEqual(0);
  });

  it('returns the same value: match, no event', async () => {
    const { canary, mismatches } = setup();
    for (let i = 0; i < 5; i++) {
      canary.experiment('cand-same', {
        control: () => ({ at: new Date(0), tags: new Set(['a']) }),
        candidate: async () => ({ at: new Date(0), tags: new Set(['a']) }),
      });
    }
    await until(() => total(canary, 'cand-same') === 5, 'five candidates');
    expect(counts(canary, 'cand-same')).toEqual(only({ match: 5 }));
    expect(mismatches).toEqual([]);
  });

  it('a late answer after the timeout is ignored; the slot is held until the candidate settles', async () => {
    const { canary, mismatches } = setup();
    const late = deferred<string>();
    canary.experiment('late', {
      control: () => 'stable',
      candidate: () => late.promise,
      timeoutMs: 20,
      maxConcurrency: 1,
    });
    await until(() => counts(canary, 'late').timeout === 1, 'the timeout');
    expect(canary.experimentInFlight('late')).toBe(1);
    // Still running: the bound counts it, so the next call is dropped.
    expect(
      canary.experiment('late', { control: () => 'again', candidate: () => 'x', maxConcurrency: 1 }),
    ).toBe('again');
    expect(counts(canary, 'late')).toEqual(only({ timeout: 1, dropped: 1 }));
    late.resolve('something else entirely');
    await until(() => canary.experimentInFlight('late') === 0, 'the slot back');
    await nextCheck();
    expect(counts(canary, 'late')).toEqual(only({ timeout: 1, dropped: 1 }));
    expect(mismatches).toEqual([]);
  });

  it('a hung candidate keeps its slot but not the values: the control value and context are collectable', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { canary } = setup();
    // Held here, as a pending query or socket would hold it: its reactions (and so the trial) stay reachable.
    const hung = deferred<unknown>();
    const refs: WeakRef<object>[] = [];
    (() => {
      const value = { payload: new Uint8Array(1 << 20) };
      const context = { userId: 'u-1', big: new Uint8Array(1 << 20) };
      refs.push(new WeakRef(value), new WeakRef(context));
      canary.experiment('release', {
        control: () => value,
        candidate: () => hung.promise,
        context,
        timeoutMs: 10,
      });
    })();
    await until(() => counts(canary, 'release').timeout === 1, 'the timeout');
    await until(
      () => {
        gc();
        return refs.every((r) => r.deref() === undefined);
      },
      'the held values collected',
      5_000,
    );
    expect(canary.experimentInFlight('release')).toBe(1);
    hung.resolve(undefined);
    await until(() => canary.experimentInFlight('release') === 0, 'the slot back');
  });

  it('a synchronous candidate that runs past the timeout counts as timeout', async () => {
    const { canary } = setup();
    canary.experiment('slow-sync', {
      control: () => 1,
      candidate: () => {
        const end = performance.now() + 25;
        while (performance.now() < end) {
          // busy: a synchronous candidate cannot be interrupted, only judged afterwards
        }
        return 1;
      },
      timeoutMs: 5,
    });
    await until(() => total(canary, 'slow-sync') === 1, 'the candidate');
    expect(counts(canary, 'slow-sync')).toEqual(only({ timeout: 1 }));
  });
});

describe('bounds and shares', () => {
  it('maxConcurrency: exactly the overflow is dropped, and slots come back', async () => {
    const { canary } = setup();
    const gates = Array.from({ length: 3 }, () => deferred<number>());
    let started = 0;
    const results: number[] = [];
    for (let i = 0; i < 10; i++) {
      results.push(
        canary.experiment('bounded', {
          control: () => i,
          candidate: () => gates[started++]!.promise,
          maxConcurrency: 3,
          timeoutMs: 60_000,
        }),
      );
    }
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(counts(canary, 'bounded')).toEqual(only({ dropped: 7 }));
    expect(canary.experimentInFlight('bounded')).toBe(3);
    await until(() => started === 3, 'three candidates');
    for (const [i, gate] of gates.entries()) gate.resolve(i);
    await until(() => canary.experimentInFlight('bounded') === 0, 'the slots back');
    // Candidate i answered i for calls 0, 1, 2: all three match.
    expect(counts(canary, 'bounded')).toEqual(only({ dropped: 7, match: 3 }));
    canary.experiment('bounded', { control: () => 1, candidate: () => 1, maxConcurrency: 3 });
    await until(() => counts(canary, 'bounded').match === 4, 'a new candidate');
  });

  it('the bound holds over async controls still pending', async () => {
    const { canary } = setup();
    const gate = deferred<string>();
    const a = canary.experiment('pending', {
      control: () => gate.promise,
      candidate: () => 'x',
      maxConcurrency: 1,
    });
    const b = canary.experiment('pending', {
      control: async () => 'y',
      candidate: () => 'y',
      maxConcurrency: 1,
    });
    expect(counts(canary, 'pending')).toEqual(only({ dropped: 1 }));
    expect(await b).toBe('y');
    gate.resolve('x');
    expect(await a).toBe('x');
    await until(() => counts(canary, 'pending').match === 1, 'the admitted call');
  });

  it('percentage 0: every call skipped, the candidate never runs', async () => {
    const { canary } = setup();
    let runs = 0;
    for (let i = 0; i < 200; i++)
      expect(canary.experiment('zero', { control: () => i, candidate: () => runs++, percentage: 0 })).toBe(i);
    await nextCheck();
    expect(runs).toBe(0);
    expect(counts(canary, 'zero')).toEqual(only({ skipped: 200 }));
  });

  it('percentage 100: every call runs the candidate', async () => {
    const { canary } = setup();
    let runs = 0;
    for (let i = 0; i < 200; i++)
      canary.experiment('hundred', {
        control: () => i,
        candidate: () => {
          runs++;
          return i;
        },
        percentage: 100,
        maxConcurrency: 200,
      });
    await until(() => total(canary, 'hundred') === 200, 'every call');
    expect(runs).toBe(200);
    expect(counts(canary, 'hundred')).toEqual(only({ match: 200 }));
  });

  it('percentage 30: roughly that share (a binomial bound, not an exact count)', async () => {
    const { canary } = setup();
    const n = 4000;
    for (let i = 0; i < n; i++)
      canary.experiment('thirty', {
        control: () => i,
        candidate: () => i,
        percentage: 30,
        maxConcurrency: n,
      });
    await until(() => total(canary, 'thirty') === n, 'every call');
    const c = counts(canary, 'thirty');
    expect(c.match + c.skipped).toBe(n);
    // 30 % of 4000 = 1200, sd ≈ 29: ±6 sd never fails by chance in practice.
    expect(Math.abs(c.match - 1200)).toBeLessThan(174);
  });

  it('flag: the candidate runs exactly for the contexts the flag puts on the canary', async () => {
    const { canary } = setup({ flags: { 'new-pricing': { percentage: 0, users: ['beta-1', 'beta-2'] } } });
    const seen: string[] = [];
    for (const userId of ['beta-1', 'alice', 'beta-2', 'bob']) {
      canary.experiment('by-flag', {
        flag: 'new-pricing',
        context: { userId },
        control: () => userId,
        candidate: () => {
          seen.push(userId);
          return userId;
        },
      });
    }
    await until(() => total(canary, 'by-flag') === 4, 'every call');
    expect(seen).toEqual(['beta-1', 'beta-2']);
    expect(counts(canary, 'by-flag')).toEqual(only({ match: 2, skipped: 2 }));
  });
});

describe('comparison and reports', () => {
  it('honours the differ options: ignore paths, tolerance, array order', async () => {
    const { canary, mismatches } = setup();
    const control = () => ({
      id: 1,
      requestId: 'a',
      price: 10.0,
      tags: ['x', 'y'],
      rows: [{ k: 1 }, { k: 2 }],
    });
    const candidate = () => ({
      id: 1,
      requestId: 'b',
      price: 10.004,
      tags: ['y', 'x'],
      rows: [{ k: 2 }, { k: 1 }],
    });
    const options = {
      ignore: ['$.requestId'],
      tolerance: 0.01,
      arrayOrder: 'unordered' as const,
      arrays: { '$.rows': { key: 'k' } },
    };
    canary.experiment('differ-ok', { control, candidate, ...options });
    // Without the options, each of those is a difference.
    canary.experiment('differ-strict', { control, candidate });
    await until(() => total(canary, 'differ-ok') === 1 && total(canary, 'differ-strict') === 1, 'both');
    expect(counts(canary, 'differ-ok')).toEqual(only({ match: 1 }));
    expect(counts(canary, 'differ-strict')).toEqual(only({ mismatch: 1 }));
    expect(mismatches[0]!.differences.map((d) => d.path)).toEqual([
      '$.requestId',
      '$.price',
      '$.tags[0]',
      '$.tags[1]',
      '$.rows[0].k',
      '$.rows[1].k',
    ]);
  });

  it('a custom compare decides; clean shapes what is reported; context travels as it is', async () => {
    const { canary, mismatches } = setup();
    const compared: [unknown, unknown][] = [];
    const exp = canary.defineExperiment<{ name: string; secret: string }>('custom', {
      compare: (a, b) => {
        compared.push([a, b]);
        return a.name.toLowerCase() === b.name.toLowerCase();
      },
      clean: (v) => v.name,
    });
    const ctx = { tenant: 't-1' };
    exp({ control: () => ({ name: 'Ada', secret: 's1' }), candidate: () => ({ name: 'ada', secret: 's2' }) });
    exp({
      control: () => ({ name: 'Ada', secret: 's1' }),
      candidate: () => ({ name: 'Bob', secret: 's1' }),
      context: ctx,
    });
    await until(() => total(canary, 'custom') === 2, 'both');
    expect(counts(canary, 'custom')).toEqual(only({ match: 1, mismatch: 1 }));
    expect(compared).toHaveLength(2);
    expect(mismatches).toEqual([
      expect.objectContaining({ control: 'Ada', candidate: 'Bob', differences: [], context: ctx }),
    ]);
  });

  it('a compare or clean that throws is reported on `error`, never to the caller', async () => {
    const { canary, errors, mismatches } = setup();
    const result = canary.experiment('buggy-compare', {
      control: () => 1,
      candidate: () => 1,
      compare: () => {
        throw new Error('compare bug');
      },
      clean: () => {
        throw new Error('clean bug');
      },
    });
    expect(result).toBe(1);
    await until(() => total(canary, 'buggy-compare') === 1, 'the comparison');
    expect(counts(canary, 'buggy-compare')).toEqual(only({ mismatch: 1 }));
    expect(errors.map((e) => e.message)).toEqual([
      'experiment "buggy-compare": compare threw; counted as a mismatch',
      'experiment "buggy-compare": clean threw; the value is reported as undefined',
      'experiment "buggy-compare": clean threw; the value is reported as undefined',
    ]);
    expect(mismatches[0]).toMatchObject({ control: undefined, candidate: undefined });
  });

  it('a mismatch listener that throws is reported on `error`, never to the caller', async () => {
    const { canary, errors } = setup();
    canary.on('mismatch', () => {
      throw new Error('listener bug');
    });
    expect(canary.experiment('bad-listener', { control: () => 1, candidate: () => 2 })).toBe(1);
    await until(() => errors.length === 1, 'the error');
    expect(errors[0]!.message).toContain('listener bug');
  });

  it('a control thenable that is not a promise is handed back untouched, the candidate does not run', async () => {
    const { canary, warnings } = setup();
    let thenCalls = 0;
    const query = {
      // biome-ignore lint/suspicious/noThenProperty: a lazy query builder runs its query each time `then` is called
      then(resolve: (v: number) => void) {
        thenCalls++;
        resolve(1);
      },
    };
    let candidateRuns = 0;
    for (let i = 0; i < 3; i++) {
      const result = canary.experiment('lazy', {
        control: () => query as unknown as PromiseLike<number>,
        candidate: () => {
          candidateRuns++;
          return 1;
        },
      });
      expect(result).toBe(query);
    }
    await nextCheck();
    expect(thenCalls).toBe(0);
    expect(candidateRuns).toBe(0);
    expect(counts(canary, 'lazy')).toEqual(only({ skipped: 3 }));
    // Once per experiment, not once per call.
    expect(warnings).toEqual(['experiment-unobservable']);
  });
});

describe('hostile values', () => {
  const trap = () =>
    Object.defineProperty({}, 'then', {
      get() {
        throw new Error('then getter');
      },
    });

  it('a control value whose `then` cannot be read is returned untouched, without an exception', async () => {
    const { canary, warnings } = setup();
    const value = trap();
    expect(canary.experiment('trap-control', { control: () => value, candidate: () => 1 as never })).toBe(
      value,
    );
    await nextCheck();
    expect(counts(canary, 'trap-control')).toEqual(only({ skipped: 1 }));
    expect(warnings).toEqual(['experiment-unobservable']);
  });

  it('a promise subclass whose species constructor throws is handed back untouched', async () => {
    const { canary } = setup();
    class Hostile<T> extends Promise<T> {
      static override get [Symbol.species](): PromiseConstructor {
        throw new Error('species');
      }
    }
    const value = new Hostile<number>((resolve) => resolve(1));
    expect(canary.experiment('species', { control: () => value, candidate: () => 1 })).toBe(value);
    expect(counts(canary, 'species')).toEqual(only({ skipped: 1 }));
    expect(canary.experimentInFlight('species')).toBe(0);
  });

  it('a candidate result whose `then` cannot be read is a candidate_error, and its slot comes back', async () => {
    const { canary, errors } = setup();
    expect(canary.experiment('trap-candidate', { control: () => 1, candidate: () => trap() as never })).toBe(
      1,
    );
    await until(() => total(canary, 'trap-candidate') === 1, 'the candidate');
    expect(counts(canary, 'trap-candidate')).toEqual(only({ candidate_error: 1 }));
    expect(canary.experimentInFlight('trap-candidate')).toBe(0);
    expect(errors).toEqual([]);
  });
});

describe('metrics and stats', () => {
  it('canary_kit_experiment_total and canary_kit_experiment_duration_seconds on the Canary registry', async () => {
    const { canary, registry } = setup();
    canary.experiment('m', { control: () => 1, candidate: () => 1 });
    canary.experiment('m', { control: () => 1, candidate: () => 2 });
    canary.experiment('m', { control: () => 1, candidate: () => 1, percentage: 0 });
    await until(() => total(canary, 'm') === 3, 'three calls');
    const text = await registry.metrics();
    expect(text).toContain('canary_kit_experiment_total{experiment="m",outcome="match"} 1');
    expect(text).toContain('canary_kit_experiment_total{experiment="m",outcome="mismatch"} 1');
    expect(text).toContain('canary_kit_experiment_total{experiment="m",outcome="skipped"} 1');
    // Durations only for calls that ran the candidate: both sides of each.
    expect(text).toContain('canary_kit_experiment_duration_seconds_count{experiment="m",side="control"} 2');
    expect(text).toContain('canary_kit_experiment_duration_seconds_count{experiment="m",side="candidate"} 2');
  });
});

describe('bad input', () => {
  it('canary.experiment with invalid options: the control alone, skipped, one error naming the path', async () => {
    const { canary, errors } = setup();
    let candidateRuns = 0;
    for (let i = 0; i < 3; i++) {
      const result = canary.experiment('bad', {
        control: () => i,
        candidate: () => candidateRuns++,
        percentage: 150,
        timeoutMs: -1,
      });
      expect(result).toBe(i);
    }
    await nextCheck();
    expect(candidateRuns).toBe(0);
    expect(counts(canary, 'bad')).toEqual(only({ skipped: 3 }));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CanaryConfigError);
    expect((errors[0] as CanaryConfigError).issues).toEqual([
      { path: 'experiment("bad").percentage', message: 'must be between 0 and 100' },
      {
        path: 'experiment("bad").timeoutMs',
        message: 'must be a number of milliseconds > 0 and <= 2147483647',
      },
    ]);
  });

  it('defineExperiment throws CanaryConfigError at definition, naming every bad field', () => {
    const { canary } = setup();
    expect(() =>
      canary.defineExperiment('def', { ignore: ['$.ok', 'not a path'], maxConcurrency: 0, flag: '' }),
    ).toThrowError(CanaryConfigError);
    try {
      canary.defineExperiment('def', { ignore: ['$.ok', 'not a path'], maxConcurrency: 0, flag: '' });
    } catch (error) {
      expect((error as CanaryConfigError).issues.map((i) => i.path)).toEqual([
        'experiment("def").flag',
        'experiment("def").maxConcurrency',
        'experiment("def").ignore[1]',
      ]);
    }
    expect(() => canary.defineExperiment('', {})).toThrowError(/name must be a non-empty string/);
  });

  it('a control that is not a function is a TypeError: there is nothing to run', () => {
    const { canary } = setup();
    expect(() => canary.experiment('x', { control: 1 as never, candidate: () => 1 })).toThrowError(TypeError);
  });
});

describe('names and settings', () => {
  it('settings read on every call: a change between two calls takes effect at once', async () => {
    const { canary } = setup();
    let share = 0;
    for (let i = 0; i < 6; i++) {
      if (i === 3) share = 100;
      canary.experiment('changing', { control: () => i, candidate: () => i, percentage: share });
    }
    await until(() => total(canary, 'changing') === 6, 'every call');
    expect(counts(canary, 'changing')).toEqual(only({ skipped: 3, match: 3 }));
  });

  it(`past ${MAX_EXPERIMENTS} names, new ones share the "(other)" series, with one warning`, async () => {
    const { canary, warnings } = setup();
    for (let i = 0; i < MAX_EXPERIMENTS + 5; i++)
      canary.experiment(`name-${i}`, { control: () => i, candidate: () => i, percentage: 0 });
    const stats = canary.stats().experiments;
    expect(Object.keys(stats)).toHaveLength(MAX_EXPERIMENTS + 1);
    expect(stats['(other)']?.skipped).toBe(5);
    expect(stats[`name-${MAX_EXPERIMENTS}`]).toBeUndefined();
    expect(warnings.filter((w) => w === 'experiment-limit')).toHaveLength(1);
  });
});

describe('defineExperiment', () => {
  it('runs sync and async calls with settings validated once', async () => {
    const { canary } = setup();
    const exp = canary.defineExperiment('defined', { ignore: ['$.at'], timeoutMs: 500 });
    const v = exp({ control: () => ({ n: 1, at: 1 }), candidate: () => ({ n: 1, at: 2 }) });
    expect(v).toEqual({ n: 1, at: 1 });
    const p = exp({ control: async () => ({ n: 2, at: 1 }), candidate: async () => ({ n: 3, at: 1 }) });
    expect(p).toBeInstanceOf(Promise);
    expect(await p).toEqual({ n: 2, at: 1 });
    await until(() => total(canary, 'defined') === 2, 'both');
    expect(counts(canary, 'defined')).toEqual(only({ match: 1, mismatch: 1 }));
  });
});
