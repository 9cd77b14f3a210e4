import { types } from 'node:util';
import { compareValues, type Difference } from '../diff/compare-values.js';
import type { ExperimentCall, NormalizedSettings } from './options.js';

export type ExperimentOutcome = 'match' | 'mismatch' | 'candidate_error' | 'timeout' | 'dropped' | 'skipped';

export const EXPERIMENT_OUTCOMES: readonly ExperimentOutcome[] = Object.freeze([
  'match',
  'mismatch',
  'candidate_error',
  'timeout',
  'dropped',
  'skipped',
]);

/** A candidate that behaved differently from the control. Emitted as a Canary `mismatch` event. */
export interface ExperimentMismatchEvent {
  readonly kind: 'experiment';
  readonly experiment: string;
  /** The call's `context`, as it was passed. */
  readonly context: unknown;
  /** The control's value after `clean`, or its exception as thrown. */
  readonly control: unknown;
  readonly candidate: unknown;
  readonly controlThrew: boolean;
  readonly candidateThrew: boolean;
  /** The differ's findings (previews of the raw values); empty when a custom `compare` decided. */
  readonly differences: readonly Difference[];
  readonly truncated: boolean;
  readonly controlSeconds: number;
  readonly candidateSeconds: number;
}

/** What an experiment reports to its Canary. */
export interface ExperimentHooks {
  isCanary(flag: string, context: unknown): boolean;
  duration(experiment: string, side: 'control' | 'candidate', seconds: number): void;
  /** False when nobody listens: the event (and `clean`) is skipped. */
  wantsMismatch(): boolean;
  mismatch(event: ExperimentMismatchEvent): void;
  error(error: Error): void;
  /** A control returned a thenable that is not a native promise: not observed (see `run`). */
  unobservable(experiment: string): void;
}

/** One call that runs the candidate: holds a concurrency slot from admission until the candidate settles. */
class Trial {
  readonly runner: ExperimentRunner;
  readonly settings: NormalizedSettings;
  candidate: ExperimentCall<unknown>['candidate'] | undefined;
  context: unknown;
  controlOk = true;
  control: unknown;
  controlSeconds = 0;
  started = 0;
  /** An outcome was counted: a late candidate result (after a timeout) is ignored. */
  done = false;
  timer: ReturnType<typeof setTimeout> | undefined;

  constructor(runner: ExperimentRunner, settings: NormalizedSettings, call: ExperimentCall<unknown>) {
    this.runner = runner;
    this.settings = settings;
    this.candidate = call.candidate;
    this.context = call.context;
  }

  /** Called by the control's settlement; only records and queues, so the caller's continuation runs first. */
  controlSettled(ok: boolean, value: unknown, seconds: number): void {
    this.controlOk = ok;
    this.control = value;
    this.controlSeconds = seconds;
    queued.push(this);
    if (!drainScheduled) {
      drainScheduled = true;
      setImmediate(drain);
    }
  }
}

/**
 * Trials whose control settled, started in the next check phase: after the caller's synchronous code and
 * its promise continuations (microtasks) have run. One setImmediate serves every trial queued meanwhile.
 * Bounded: every trial in it holds a concurrency slot of its experiment.
 */
let queued: Trial[] = [];
let drainScheduled = false;

function drain(): void {
  drainScheduled = false;
  const batch = queued;
  queued = [];
  for (const trial of batch) {
    try {
      trial.runner.start(trial);
    } catch (error) {
      // start() catches what the candidate does; this is a bug of ours, reported, never thrown into the loop.
      trial.runner.hooks.error(error as Error);
    }
  }
}

const now = () => performance.now();

const PLAIN = 0;
/** A native promise (any realm): observing it with the intrinsic `then` has no effect on the caller. */
const PROMISE = 1;
/** Any other thenable, or an object whose `then` cannot even be read (a throwing getter, a revoked Proxy). */
const OTHER_THENABLE = 2;

function kindOf(value: unknown): number {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return PLAIN;
  try {
    if (typeof (value as { then?: unknown }).then !== 'function') return PLAIN;
    return types.isPromise(value) ? PROMISE : OTHER_THENABLE;
  } catch {
    return OTHER_THENABLE;
  }
}

const promiseThen = Promise.prototype.then;

/**
 * One named experiment: its counts, its in-flight bound and the run of each call. Never throws into the
 * caller for anything the candidate, `compare`, `clean` or a listener does.
 */
export class ExperimentRunner {
  readonly name: string;
  readonly hooks: ExperimentHooks;
  readonly counts: Record<ExperimentOutcome, number> = {
    match: 0,
    mismatch: 0,
    candidate_error: 0,
    timeout: 0,
    dropped: 0,
    skipped: 0,
  };
  #inFlight = 0;
  #warnedUnobservable = false;

  constructor(name: string, hooks: ExperimentHooks) {
    this.name = name;
    this.hooks = hooks;
  }

  /** Calls admitted and not yet finished: waiting for their control, queued, or with their candidate running. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Runs `call.control` and returns exactly what it returns (the same value or promise) or throws exactly
   * what it throws. When the call is selected and a slot is free, the candidate runs later, off this path.
   */
  run<T>(settings: NormalizedSettings, call: ExperimentCall<T>): T {
    const control = call.control;
    if (!this.#selected(settings, call.context)) {
      this.counts.skipped++;
      return control();
    }
    if (this.#inFlight >= settings.maxConcurrency) {
      this.counts.dropped++;
      return control();
    }
    this.#inFlight++;
    const trial = new Trial(this, settings, call as ExperimentCall<unknown>);
    const started = now();
    let value: T;
    try {
      value = control();
    } catch (error) {
      trial.controlSettled(false, error, (now() - started) / 1000);
      throw error;
    }
    const kind = kindOf(value);
    if (kind === PLAIN) {
      trial.controlSettled(true, value, (now() - started) / 1000);
      return value;
    }
    if (kind === PROMISE) {
      try {
        // The intrinsic then: a subclass's own `then` is the caller's business, not ours to call.
        promiseThen.call(
          value,
          (v) => trial.controlSettled(true, v, (now() - started) / 1000),
          (e) => trial.controlSettled(false, e, (now() - started) / 1000),
        );
        return value;
      } catch {
        // A subclass whose species constructor throws: not observable either.
      }
    }
    // A thenable that is not a promise (a query builder, say) may do its work each time `then` is called:
    // observing it could run the control twice. Handed back untouched; the candidate does not run.
    this.#inFlight--;
    this.counts.skipped++;
    if (!this.#warnedUnobservable) {
      this.#warnedUnobservable = true;
      this.hooks.unobservable(this.name);
    }
    return value;
  }

  #selected(settings: NormalizedSettings, context: unknown): boolean {
    if (settings.flag !== undefined && !this.hooks.isCanary(settings.flag, context)) return false;
    const p = settings.percentage;
    return p >= 100 || (p > 0 && Math.random() * 10_000 < p * 100);
  }

  /** Starts a queued trial's candidate (in the check phase, after its control settled). */
  start(trial: Trial): void {
    const candidate = trial.candidate!;
    trial.candidate = undefined;
    trial.started = now();
    let result: unknown;
    let kind: number;
    try {
      result = candidate();
      kind = kindOf(result);
    } catch (error) {
      this.#finish(trial, false, error);
      return;
    }
    if (kind === PLAIN) {
      this.#finish(trial, true, result);
      return;
    }
    trial.timer = setTimeout(() => this.#timeout(trial), trial.settings.timeoutMs);
    trial.timer.unref?.();
    // The candidate's thenable is ours alone to observe. A fresh promise adopts it: a `then` that throws (or
    // cannot be read) becomes a rejection, never an exception here; the handlers never throw, so the chain
    // never leaves an unhandled rejection.
    new Promise((resolve) => resolve(result)).then(
      (value) => this.#settled(trial, true, value),
      (error) => this.#settled(trial, false, error),
    );
  }

  #timeout(trial: Trial): void {
    if (trial.done) return;
    trial.done = true;
    this.counts.timeout++;
    this.hooks.duration(this.name, 'control', trial.controlSeconds);
    // The slot stays taken until the candidate settles (the bound is on candidates really running); what the
    // trial holds is let go now, so a candidate that never settles keeps no more than this small object.
    trial.control = undefined;
    trial.context = undefined;
  }

  #settled(trial: Trial, ok: boolean, value: unknown): void {
    this.#inFlight--;
    if (trial.done) return;
    clearTimeout(trial.timer);
    this.#reportSafely(trial, ok, value, (now() - trial.started) / 1000);
  }

  /** A synchronous candidate finished (or threw) within `start`. */
  #finish(trial: Trial, ok: boolean, value: unknown): void {
    this.#inFlight--;
    const seconds = (now() - trial.started) / 1000;
    // A synchronous candidate cannot be interrupted; one that ran past the timeout counts as one.
    if (seconds * 1000 > trial.settings.timeoutMs) {
      trial.done = true;
      this.counts.timeout++;
      this.hooks.duration(this.name, 'control', trial.controlSeconds);
      return;
    }
    this.#reportSafely(trial, ok, value, seconds);
  }

  /** `#report` runs in promise handlers and the drain: anything it throws (a bug of ours) goes to `error`. */
  #reportSafely(trial: Trial, candidateOk: boolean, candidate: unknown, candidateSeconds: number): void {
    try {
      this.#report(trial, candidateOk, candidate, candidateSeconds);
    } catch (error) {
      this.hooks.error(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #report(trial: Trial, candidateOk: boolean, candidate: unknown, candidateSeconds: number): void {
    trial.done = true;
    const { settings } = trial;
    this.hooks.duration(this.name, 'control', trial.controlSeconds);
    this.hooks.duration(this.name, 'candidate', candidateSeconds);
    if (trial.controlOk && !candidateOk) {
      this.counts.candidate_error++;
      return;
    }
    let outcome: ExperimentOutcome;
    let differences: readonly Difference[] = [];
    let truncated = false;
    if (trial.controlOk !== candidateOk) {
      // The control threw and the candidate returned a value.
      outcome = 'mismatch';
    } else if (settings.compare && candidateOk) {
      let same = false;
      try {
        same = settings.compare(trial.control, candidate) === true;
      } catch (error) {
        this.hooks.error(
          new Error(`experiment "${this.name}": compare threw; counted as a mismatch`, { cause: error }),
        );
      }
      outcome = same ? 'match' : 'mismatch';
    } else {
      // Two values, or two exceptions (compared by name, message and fields, as the differ does Errors).
      const diff = compareValues(trial.control, candidate, settings.diff);
      if (diff.skipped !== undefined && diff.differences.length === 0) outcome = 'skipped';
      else outcome = diff.equal ? 'match' : 'mismatch';
      differences = diff.differences;
      truncated = diff.truncated;
    }
    this.counts[outcome]++;
    if (outcome === 'mismatch' && this.hooks.wantsMismatch()) {
      this.hooks.mismatch({
        kind: 'experiment',
        experiment: this.name,
        context: trial.context,
        control: trial.controlOk ? this.#clean(settings, trial.control) : trial.control,
        candidate: candidateOk ? this.#clean(settings, candidate) : candidate,
        controlThrew: !trial.controlOk,
        candidateThrew: !candidateOk,
        differences,
        truncated,
        controlSeconds: trial.controlSeconds,
        candidateSeconds,
      });
    }
  }

  #clean(settings: NormalizedSettings, value: unknown): unknown {
    if (!settings.clean) return value;
    try {
      return settings.clean(value);
    } catch (error) {
      this.hooks.error(
        new Error(`experiment "${this.name}": clean threw; the value is reported as undefined`, {
          cause: error,
        }),
      );
      return undefined;
    }
  }
}
