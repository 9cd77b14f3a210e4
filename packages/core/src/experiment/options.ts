import { CanaryConfigError, type ConfigIssue } from '../config/errors.js';
import { validatePercentage } from '../config/validate-helpers.js';
import { type CompiledDiffOptions, compileDiffOptions, type DiffOptions } from '../diff/options.js';

/**
 * What an experiment is set up with: which calls run the candidate, how results are compared and reported,
 * and the candidate's limits. The same for every call of `defineExperiment`'s function; read on each call by
 * `canary.experiment`. The differ's options (`ignore`, `tolerance`, `arrayOrder`, `arrays`, ...) are the ones
 * shadow targets and replays use.
 */
export interface ExperimentSettings<V = unknown> extends DiffOptions {
  /** The candidate runs only for calls this flag decides `canary` for, in the call's `context`. */
  readonly flag?: string;
  /**
   * Share of calls (after `flag`, when both are set) that run the candidate, 0–100 in steps of 0.01, drawn
   * at random per call. Default 100.
   */
  readonly percentage?: number;
  /** Decides whether two results match, instead of the differ. Not called when either side threw. */
  readonly compare?: (control: V, candidate: V) => boolean;
  /** Shapes a result before it is put on a `mismatch` event (drop secrets, shrink). Comparison sees the raw value. */
  readonly clean?: (value: V) => unknown;
  /** A candidate that has not settled this long after it started counts as `timeout`. Default 1000. */
  readonly timeoutMs?: number;
  /** Candidates of this experiment running (or waiting for their control) at once; past it, `dropped`. Default 16. */
  readonly maxConcurrency?: number;
}

/** One call of an experiment: the two behaviours and what travels with the report. */
export interface ExperimentCall<T> {
  /** The behaviour the caller gets: its value, promise or exception is returned unchanged. */
  readonly control: () => T;
  /** The behaviour on trial: run after the control settled, off the caller's path; whatever it does is only observed. */
  readonly candidate: () => Awaited<T> | PromiseLike<Awaited<T>>;
  /**
   * Evaluated against `flag` (as an EvalContext) and carried on the `mismatch` event as it is.
   */
  readonly context?: unknown;
}

export interface ExperimentOptions<T> extends ExperimentSettings<Awaited<T>>, ExperimentCall<T> {}

export const DEFAULT_TIMEOUT_MS = 1_000;
export const DEFAULT_MAX_CONCURRENCY = 16;
/** Setting a timer longer than this makes Node fire it at once (with a warning). */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** The differ options an experiment passes through to compileDiffOptions, in a fixed order. */
const DIFF_KEYS = [
  'ignore',
  'tolerance',
  'arrayOrder',
  'arrays',
  'maxDifferences',
  'maxNodes',
  'budgetMs',
  'maxDepth',
  'maxValueLength',
] as const satisfies readonly (keyof DiffOptions)[];

/** The settings as passed, kept to tell whether the next call passes the same ones. */
type SettingKey = keyof ExperimentSettings;
/** Every setting present, possibly undefined (a mapping over an alias of the keys copies no `?`). */
export type SettingsSnapshot = { readonly [K in SettingKey]: ExperimentSettings[K] };

/** Named reads, not a loop over keys: each stays a monomorphic property load on the caller's options shape. */
export function snapshotSettings(o: ExperimentSettings): SettingsSnapshot {
  return {
    flag: o.flag,
    percentage: o.percentage,
    compare: o.compare,
    clean: o.clean,
    timeoutMs: o.timeoutMs,
    maxConcurrency: o.maxConcurrency,
    ignore: o.ignore,
    tolerance: o.tolerance,
    arrayOrder: o.arrayOrder,
    arrays: o.arrays,
    maxDifferences: o.maxDifferences,
    maxNodes: o.maxNodes,
    budgetMs: o.budgetMs,
    maxDepth: o.maxDepth,
    maxValueLength: o.maxValueLength,
  };
}

/** True when `o` passes every setting identical (===) to the snapshot. */
export function sameSettings(o: ExperimentSettings, s: SettingsSnapshot): boolean {
  return (
    o.flag === s.flag &&
    o.percentage === s.percentage &&
    o.compare === s.compare &&
    o.clean === s.clean &&
    o.timeoutMs === s.timeoutMs &&
    o.maxConcurrency === s.maxConcurrency &&
    o.ignore === s.ignore &&
    o.tolerance === s.tolerance &&
    o.arrayOrder === s.arrayOrder &&
    o.arrays === s.arrays &&
    o.maxDifferences === s.maxDifferences &&
    o.maxNodes === s.maxNodes &&
    o.budgetMs === s.budgetMs &&
    o.maxDepth === s.maxDepth &&
    o.maxValueLength === s.maxValueLength
  );
}

/** Validated settings, as the runner uses them. */
export interface NormalizedSettings {
  readonly flag: string | undefined;
  readonly percentage: number;
  readonly compare: ((control: unknown, candidate: unknown) => boolean) | undefined;
  readonly clean: ((value: unknown) => unknown) | undefined;
  readonly timeoutMs: number;
  readonly maxConcurrency: number;
  /** Compiled once per distinct set of differ options. */
  readonly diff: CompiledDiffOptions;
}

/** `experiment("checkout-total")` + `percentage` → `experiment("checkout-total").percentage`. */
export function experimentPath(name: string, key?: string): string {
  const base = `experiment(${JSON.stringify(name)})`;
  return key === undefined ? base : `${base}.${key}`;
}

/**
 * Differ options compiled per distinct content, remembered by the experiment that uses them: an options
 * object written inline is a new object on every call, so the compiled form is found by value, not identity.
 */
export class DiffOptionsCache {
  #key: string | undefined;
  #compiled: CompiledDiffOptions | undefined;

  compile(settings: ExperimentSettings, name: string, issues: ConfigIssue[]): CompiledDiffOptions {
    let picked: Record<string, unknown> | undefined;
    for (const key of DIFF_KEYS) {
      const value = settings[key];
      if (value === undefined) continue;
      picked ??= {};
      picked[key] = value;
    }
    if (picked === undefined) return compileDiffOptions();
    const key = JSON.stringify(picked);
    if (key === this.#key && this.#compiled) return this.#compiled;
    try {
      const compiled = compileDiffOptions(picked);
      this.#key = key;
      this.#compiled = compiled;
      return compiled;
    } catch (error) {
      if (!(error instanceof CanaryConfigError)) throw error;
      for (const issue of error.issues)
        issues.push({ path: experimentPath(name, issue.path), message: issue.message });
      return compileDiffOptions();
    }
  }
}

/** Validates an experiment's settings, collecting every issue with its path (`experiment("x").timeoutMs`). */
export function normalizeSettings(
  name: string,
  settings: ExperimentSettings,
  diffCache: DiffOptionsCache,
): NormalizedSettings {
  const issues: ConfigIssue[] = [];
  if (settings === null || typeof settings !== 'object') {
    throw new CanaryConfigError([{ path: experimentPath(name), message: 'options must be an object' }]);
  }
  const { flag, compare, clean } = settings;
  if (flag !== undefined && (typeof flag !== 'string' || flag === ''))
    issues.push({ path: experimentPath(name, 'flag'), message: 'must be a non-empty flag key' });
  const percentage =
    settings.percentage === undefined
      ? 100
      : validatePercentage(settings.percentage, experimentPath(name, 'percentage'), issues);
  if (compare !== undefined && typeof compare !== 'function')
    issues.push({
      path: experimentPath(name, 'compare'),
      message: 'must be a function (control, candidate) => boolean',
    });
  if (clean !== undefined && typeof clean !== 'function')
    issues.push({ path: experimentPath(name, 'clean'), message: 'must be a function (value) => unknown' });
  const timeoutMs = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS))
    issues.push({
      path: experimentPath(name, 'timeoutMs'),
      message: `must be a number of milliseconds > 0 and <= ${MAX_TIMEOUT_MS}`,
    });
  const maxConcurrency = settings.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  if (!Number.isSafeInteger(maxConcurrency) || maxConcurrency < 1)
    issues.push({ path: experimentPath(name, 'maxConcurrency'), message: 'must be an integer >= 1' });
  const diff = diffCache.compile(settings, name, issues);
  if (issues.length > 0) throw new CanaryConfigError(issues);
  return {
    flag: flag as string | undefined,
    percentage,
    compare: compare as NormalizedSettings['compare'],
    clean: clean as NormalizedSettings['clean'],
    timeoutMs,
    maxConcurrency,
    diff,
  };
}

/** Checks an experiment's name: it is a metric label, so a non-empty string. */
export function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '')
    throw new CanaryConfigError([{ path: 'experiment', message: 'the name must be a non-empty string' }]);
}
