import {
  type Canary,
  type CanaryConfig,
  createCanary,
  EXPERIMENT_OUTCOMES,
  type ExperimentMismatchEvent,
  type ExperimentOutcome,
  Registry,
} from '@canary-kit/core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';

/** A Canary with its own registry, and what it emits, for one test. */
export function setup(config: CanaryConfig = {}) {
  const registry = new Registry();
  const canary = createCanary({ ...config, metrics: { registry } });
  const mismatches: ExperimentMismatchEvent[] = [];
  const errors: Error[] = [];
  const warnings: string[] = [];
  canary.on('mismatch', (event) => {
    if (event.kind === 'experiment') mismatches.push(event);
  });
  canary.on('error', (error) => errors.push(error));
  canary.on('warning', (warning) => warnings.push(warning.code));
  return { canary, registry, mismatches, errors, warnings };
}

/** One experiment's counts, every outcome present (0 when none). */
export function counts(canary: Canary, name: string): Record<ExperimentOutcome, number> {
  const found = canary.stats().experiments[name];
  return Object.fromEntries(EXPERIMENT_OUTCOMES.map((o) => [o, found?.[o] ?? 0])) as Record<
    ExperimentOutcome,
    number
  >;
}

export function total(canary: Canary, name: string): number {
  return Object.values(counts(canary, name)).reduce((a, b) => a + b, 0);
}

/** Exactly these outcomes, zero elsewhere. */
export function only(
  expected: Partial<Record<ExperimentOutcome, number>>,
): Record<ExperimentOutcome, number> {
  return Object.fromEntries(EXPERIMENT_OUTCOMES.map((o) => [o, expected[o] ?? 0])) as Record<
    ExperimentOutcome,
    number
  >;
}

/** A promise that never settles: a hung dependency. */
export const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** A promise settled from outside. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves after the current check phase: everything queued with setImmediate before it has run. */
export const nextCheck = () => new Promise<void>((r) => setImmediate(r));

/**
 * Fails the test file's tests if any promise rejection goes unhandled: experiments must never leave one
 * behind (a rejecting or late candidate, a rejecting control the caller handles).
 */
export function expectNoUnhandledRejections(): void {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    // Node reports unhandled rejections after the microtask queue drains: let a full turn pass first.
    await nextCheck();
    await nextCheck();
    expect(unhandled).toEqual([]);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });
}
