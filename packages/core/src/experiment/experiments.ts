import { CanaryConfigError } from '../config/errors.js';
import {
  EXPERIMENT_OUTCOMES,
  type ExperimentHooks,
  type ExperimentOutcome,
  ExperimentRunner,
} from './experiment.js';
import {
  checkName,
  DiffOptionsCache,
  type ExperimentCall,
  type ExperimentOptions,
  type ExperimentSettings,
  experimentPath,
  type NormalizedSettings,
  normalizeSettings,
  type SettingsSnapshot,
  sameSettings,
  snapshotSettings,
} from './options.js';

/** Distinct experiment names with their own series; later ones share `(other)` (metric cardinality, memory). */
export const MAX_EXPERIMENTS = 1_000;
export const OTHER_EXPERIMENTS = '(other)';

/**
 * A defined experiment: call it with the two behaviours of one call. Returns what `control` returns.
 * `V` is the control's settled value type, which `compare` and `clean` receive.
 */
export type Experiment<V = unknown> = <T extends V | PromiseLike<V>>(call: ExperimentCall<T>) => T;

/** What `canary.experiment` keeps per name: the runner and the last options it validated. */
interface Entry {
  readonly runner: ExperimentRunner;
  readonly diffCache: DiffOptionsCache;
  /** The settings as passed that `lastSettings` was validated from. */
  lastSeen: SettingsSnapshot | undefined;
  lastSettings: NormalizedSettings | undefined;
  /** The last invalid-options message reported, so a bad call site reports once, not once per call. */
  lastError: string | undefined;
}

/** Every experiment of one Canary, by name. */
export class Experiments {
  readonly #hooks: ExperimentHooks;
  readonly #entries = new Map<string, Entry>();
  readonly #limitReached: () => void;
  #limitWarned = false;

  constructor(hooks: ExperimentHooks, limitReached: () => void) {
    this.#hooks = hooks;
    this.#limitReached = limitReached;
  }

  #entry(name: string): Entry {
    let entry = this.#entries.get(name);
    if (entry === undefined) {
      if (this.#entries.size >= MAX_EXPERIMENTS) {
        if (!this.#limitWarned) {
          this.#limitWarned = true;
          this.#limitReached();
        }
        name = OTHER_EXPERIMENTS;
        entry = this.#entries.get(name);
        if (entry !== undefined) return entry;
      }
      entry = {
        runner: new ExperimentRunner(name, this.#hooks),
        diffCache: new DiffOptionsCache(),
        lastSeen: undefined,
        lastSettings: undefined,
        lastError: undefined,
      };
      this.#entries.set(name, entry);
    }
    return entry;
  }

  /**
   * `canary.experiment`: options are read on every call. Options written inline are a new object each time,
   * so what is remembered is the setting values: the same values as last call (by identity) are not
   * validated again; an inline `ignore` array or `compare` arrow function is, on every call.
   * Invalid options never fail the call: the control runs alone, the call counts as `skipped` and the
   * CanaryConfigError goes to `error`.
   */
  run<T>(name: string, options: ExperimentOptions<T>): T {
    if (options === null || typeof options !== 'object' || typeof options.control !== 'function') {
      throw new TypeError(`canary.experiment(${JSON.stringify(name)}): options.control must be a function`);
    }
    if (typeof name !== 'string' || name === '') {
      this.#hooks.error(
        new CanaryConfigError([{ path: 'experiment', message: 'the name must be a non-empty string' }]),
      );
      return options.control();
    }
    const entry = this.#entry(name);
    let settings = entry.lastSettings;
    if (
      settings === undefined ||
      typeof options.candidate !== 'function' ||
      !sameSettings(options as ExperimentSettings, entry.lastSeen!)
    ) {
      try {
        settings = normalizeSettings(name, options as ExperimentSettings, entry.diffCache);
        if (typeof options.candidate !== 'function')
          throw new CanaryConfigError([
            { path: experimentPath(name, 'candidate'), message: 'must be a function' },
          ]);
      } catch (error) {
        entry.runner.counts.skipped++;
        const message = (error as Error).message;
        if (message !== entry.lastError) {
          entry.lastError = message;
          this.#hooks.error(error as Error);
        }
        return options.control();
      }
      entry.lastSeen = snapshotSettings(options as ExperimentSettings);
      entry.lastSettings = settings;
    }
    return entry.runner.run(settings, options);
  }

  /**
   * `canary.defineExperiment`: settings validated once, here (throws CanaryConfigError); each call of the
   * returned function only checks that it got two functions.
   */
  define<V>(name: string, settings: ExperimentSettings<V>): Experiment<V> {
    checkName(name);
    const entry = this.#entry(name);
    const normalized = normalizeSettings(name, settings as ExperimentSettings, new DiffOptionsCache());
    const runner = entry.runner;
    const hooks = this.#hooks;
    return <T extends V | PromiseLike<V>>(call: ExperimentCall<T>): T => {
      if (call === null || typeof call !== 'object' || typeof call.control !== 'function') {
        throw new TypeError(`experiment ${JSON.stringify(name)}: control must be a function`);
      }
      if (typeof call.candidate !== 'function') {
        runner.counts.skipped++;
        hooks.error(
          new CanaryConfigError([{ path: experimentPath(name, 'candidate'), message: 'must be a function' }]),
        );
        return call.control();
      }
      return runner.run(normalized, call);
    };
  }

  /** Counts by experiment and outcome (copies). */
  stats(): Record<string, Record<ExperimentOutcome, number>> {
    const out: Record<string, Record<ExperimentOutcome, number>> = {};
    for (const [name, entry] of this.#entries) out[name] = { ...entry.runner.counts };
    return out;
  }

  /** Calls admitted per experiment and not yet finished. */
  inFlight(name: string): number {
    return this.#entries.get(name)?.runner.inFlight ?? 0;
  }

  forEachCount(visit: (experiment: string, outcome: ExperimentOutcome, count: number) => void): void {
    for (const [name, entry] of this.#entries) {
      const counts = entry.runner.counts;
      for (const outcome of EXPERIMENT_OUTCOMES)
        if (counts[outcome] > 0) visit(name, outcome, counts[outcome]);
    }
  }
}
