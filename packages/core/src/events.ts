import { EventEmitter } from 'eventemitter3';
import type { FlagConfig } from './config/types.js';
import type { ExperimentMismatchEvent } from './experiment/experiment.js';
import type {
  AnalysisEvent,
  CompleteEvent,
  PromoteEvent,
  RollbackEvent,
  StepEvent,
} from './rollout/controller.js';
import type { MismatchEvent as ShadowMismatchEvent } from './shadow/shadow-target.js';

export type ChangeSource = 'init' | 'api' | 'store' | 'rollout';

/** A flag was added, changed or removed. `before` / `after` are undefined for an added / removed flag. */
export interface ChangeEvent {
  readonly flag: string;
  readonly before: FlagConfig | undefined;
  readonly after: FlagConfig | undefined;
  readonly source: ChangeSource;
}

export type WarningCode =
  | 'unknown-flag'
  | 'rollout-stalled'
  /** A control returned a thenable that is not a native promise: the experiment cannot observe it safely. */
  | 'experiment-unobservable'
  /** More distinct experiment names than canary-kit keeps series for: the rest are counted as `(other)`. */
  | 'experiment-limit';

/**
 * A candidate answered differently from its primary: a shadow target (no `kind`, as before experiments
 * existed) or an in-process experiment (`kind: 'experiment'`). Narrow with `event.kind === 'experiment'`.
 */
export type MismatchEvent = (ShadowMismatchEvent & { readonly kind?: undefined }) | ExperimentMismatchEvent;

export type { ExperimentMismatchEvent, ShadowMismatchEvent };

export interface CanaryWarning {
  readonly code: WarningCode;
  readonly message: string;
  readonly flag?: string;
  readonly experiment?: string;
}

export interface CanaryEvents {
  change: (event: ChangeEvent) => void;
  /** Something failed off the request path (store, listener, trust function); the Canary keeps serving. */
  error: (error: Error) => void;
  warning: (warning: CanaryWarning) => void;
  /**
   * A shadow target answered differently from the primary (after noise filtering), or an experiment's
   * candidate from its control (`kind: 'experiment'`).
   */
  mismatch: (event: MismatchEvent) => void;
  /** The rollout controller analysed a flag: every input, the verdict and why. */
  analysis: (event: AnalysisEvent) => void;
  /** A rollout started, advanced, resumed or paused at a step. */
  step: (event: StepEvent) => void;
  /** A person promoted a rollout past a gate (`canary.promote`). */
  promote: (event: PromoteEvent) => void;
  /** A rollout was rolled back: percentage 0, phase `rolled-back`, until a person resumes or a new build arrives. */
  rollback: (event: RollbackEvent) => void;
  /** A rollout reached 100 %. */
  complete: (event: CompleteEvent) => void;
}

export type CanaryEventName = keyof CanaryEvents;

/**
 * An emitter whose `emit` never throws into its caller: a listener that throws is reported through
 * `error` (and a throwing `error` listener is dropped silently), so a user's bug cannot fail a request.
 */
export class SafeEmitter<Events extends { error: (error: Error) => void }> {
  readonly #emitter = new EventEmitter();

  on<E extends keyof Events & string>(event: E, listener: Events[E]): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Runs once; implemented here, not by EventEmitter's own `once`, because `emit` below calls listeners itself. */
  once<E extends keyof Events & string>(event: E, listener: Events[E]): this {
    const wrapper = (...args: unknown[]) => {
      this.#emitter.off(event, wrapper);
      (listener as (...a: unknown[]) => void)(...args);
    };
    wrapper.listener = listener;
    this.#emitter.on(event, wrapper);
    return this;
  }

  off<E extends keyof Events & string>(event: E, listener?: Events[E]): this {
    if (listener === undefined) {
      this.#emitter.removeAllListeners(event);
      return this;
    }
    for (const fn of this.#emitter.listeners(event)) {
      if (fn === listener || (fn as { listener?: unknown }).listener === listener)
        this.#emitter.off(event, fn);
    }
    return this;
  }

  listenerCount(event: keyof Events & string): number {
    return this.#emitter.listenerCount(event);
  }

  emit<E extends keyof Events & string>(
    event: E,
    ...args: Parameters<Events[E] & ((...a: any[]) => any)>
  ): void {
    const listeners = this.#emitter.listeners(event);
    for (const listener of listeners) {
      try {
        listener(...args);
      } catch (error) {
        if (event !== 'error') {
          const wrapped = new Error(
            `a "${event}" listener threw: ${(error as Error)?.message ?? String(error)}`,
            { cause: error },
          );
          this.emit('error', ...([wrapped] as unknown as Parameters<Events[E] & ((...a: any[]) => any)>));
        }
      }
    }
  }

  removeAllListeners(): void {
    this.#emitter.removeAllListeners();
  }
}
