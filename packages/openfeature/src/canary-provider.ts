import type { Canary, ChangeEvent, Decision } from '@canary-kit/core';
import {
  ErrorCode,
  type EvaluationContext,
  type FlagMetadata,
  type JsonValue,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import { type OverrideSources, toEvalContext } from './context-mapping.js';
import { resolutionReason } from './reason-mapping.js';

export const PROVIDER_NAME = 'canary-kit';

export interface CanaryProviderOptions {
  /**
   * Close the Canary when OpenFeature closes the provider (`OpenFeature.close()`, or another provider replacing
   * it). Default false: the Canary is yours, and usually still serves your HTTP adapters.
   */
  readonly closeCanary?: boolean;
  /**
   * Which of the Canary's `error` events become `PROVIDER_ERROR`. Default: all of them. canary-kit keeps
   * evaluating through every one of them; return false for the ones your handlers should not hear about.
   */
  readonly forwardError?: (error: Error) => boolean;
  /**
   * How long `initialize` (and so `OpenFeature.setProviderAndWait`) waits for the Canary's store, in ms. Past
   * it the provider is ready on the Canary's configured flags and reports `PROVIDER_STALE` until the store
   * answers (then `PROVIDER_READY`): a hung store must not hold an app's start. Default 5,000.
   */
  readonly readyTimeoutMs?: number;
}

export const DEFAULT_READY_TIMEOUT_MS = 5_000;

/** The one resolution both value types share for a flag canary-kit knows nothing about. */
function notFound<T>(flagKey: string, defaultValue: T): ResolutionDetails<T> {
  return {
    value: defaultValue,
    reason: StandardResolutionReasons.ERROR,
    errorCode: ErrorCode.FLAG_NOT_FOUND,
    errorMessage: `flag "${flagKey}" is not configured in canary-kit`,
    flagMetadata: { canaryKitReason: 'unknown-flag' },
  };
}

/**
 * An OpenFeature server provider over an existing Canary: a boolean flag is `true` when canary-kit puts the
 * context on the canary, its variant `canary` or `stable`, its reason one of OpenFeature's (docs/openfeature.md).
 * Evaluation is canary-kit's own — synchronous, deterministic per identity and never throwing — so a
 * decision read here is the one the HTTP adapters make for the same context.
 */
export class CanaryProvider implements Provider {
  readonly metadata = { name: PROVIDER_NAME } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly canary: Canary;
  readonly #options: CanaryProviderOptions;
  readonly #readyTimeoutMs: number;
  /** Fixed for a Canary's lifetime (its overrides config is), so read once rather than per evaluation. */
  readonly #overrideSources: OverrideSources;
  /** Flags changed in the current tick: one `PROVIDER_CONFIGURATION_CHANGED` for a replaceConfig of many. */
  #pending: { flags: Set<string>; sources: Set<string> } | undefined;
  /** Set after a forwarded error, cleared by the next change: the provider then reports itself ready again. */
  #errored = false;
  #attached = false;

  constructor(canary: Canary, options: CanaryProviderOptions = {}) {
    if (canary === null || typeof canary !== 'object' || typeof canary.evaluate !== 'function')
      throw new TypeError('CanaryProvider: expected a Canary (createCanary(config)) as its first argument');
    this.canary = canary;
    this.#options = options;
    const timeout = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout < 0)
      throw new TypeError(`CanaryProvider: readyTimeoutMs must be a finite number ≥ 0, got ${timeout}`);
    this.#readyTimeoutMs = timeout;
    this.#overrideSources = canary.overrideSources;
  }

  /**
   * Resolves once the Canary has loaded its store, or after `readyTimeoutMs` (then STALE until it has). A store
   * that fails is reported through `error`, never fatal: canary-kit serves its configured flags meanwhile.
   */
  async initialize(): Promise<void> {
    this.#attach();
    const ready = this.canary.ready().then(
      () => true,
      () => true, // ready() reports store failures through `error` and resolves; this is only a guard
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(resolve, this.#readyTimeoutMs, false);
      timer.unref();
    });
    const inTime = await Promise.race([ready, timeout]);
    clearTimeout(timer);
    if (inTime) return;
    // The SDK marks the provider READY when this resolves, after its own promise callbacks run: STALE goes
    // out on the next turn so it lands after that, and READY follows once the store has answered.
    setImmediate(() => {
      if (!this.#attached) return;
      this.events.emit(ProviderEvents.Stale, {
        message: `canary-kit's store did not load within ${this.#readyTimeoutMs} ms; serving the configured flags`,
      });
      void ready.then(() => {
        if (this.#attached) this.events.emit(ProviderEvents.Ready, { message: "canary-kit's store loaded" });
      });
    });
  }

  /** Stops forwarding the Canary's events; closes the Canary only with `closeCanary: true`. */
  async onClose(): Promise<void> {
    this.#detach();
    if (this.#options.closeCanary) await this.canary.close();
  }

  resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(this.#resolve(flagKey, defaultValue, context, (d) => d.version === 'canary'));
  }

  /** The variant as a string: `'canary'` or `'stable'`. */
  resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<string>> {
    return Promise.resolve(this.#resolve(flagKey, defaultValue, context, (d) => d.version));
  }

  /** canary-kit flags are two-way, not numbers: TYPE_MISMATCH with the caller's default. */
  resolveNumberEvaluation(flagKey: string, defaultValue: number): Promise<ResolutionDetails<number>> {
    return Promise.resolve(this.#mismatch(flagKey, defaultValue, 'number'));
  }

  /** canary-kit flags are two-way, not objects: TYPE_MISMATCH with the caller's default. */
  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
  ): Promise<ResolutionDetails<T>> {
    return Promise.resolve(this.#mismatch(flagKey, defaultValue, 'object'));
  }

  #resolve<T>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
    value: (decision: Decision) => T,
  ): ResolutionDetails<T> {
    let decision: Decision;
    try {
      decision = this.canary.evaluate(flagKey, toEvalContext(context, this.#overrideSources));
    } catch (error) {
      // Canary.evaluate never throws; a hostile context (a Proxy whose traps throw) might still.
      return {
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.INVALID_CONTEXT,
        errorMessage: `canary-kit could not read the evaluation context: ${(error as Error)?.message ?? error}`,
      };
    }
    if (decision.reason === 'unknown-flag') return notFound(flagKey, defaultValue);
    const flagMetadata: FlagMetadata = { canaryKitReason: decision.reason };
    if (decision.reason === 'error') {
      return {
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.GENERAL,
        errorMessage: `canary-kit failed to evaluate flag "${flagKey}" (reported through its error event)`,
        flagMetadata,
      };
    }
    const percentage = this.canary.getFlag(flagKey)?.percentage;
    if (percentage !== undefined) flagMetadata.percentage = percentage;
    if (decision.bucket !== null) flagMetadata.bucket = decision.bucket;
    return {
      value: value(decision),
      variant: decision.version,
      reason: resolutionReason(decision.reason, percentage),
      flagMetadata,
    };
  }

  #mismatch<T>(flagKey: string, defaultValue: T, type: string): ResolutionDetails<T> {
    if (typeof flagKey !== 'string' || this.canary.getFlag(flagKey) === undefined)
      return notFound(flagKey, defaultValue);
    return {
      value: defaultValue,
      reason: StandardResolutionReasons.ERROR,
      errorCode: ErrorCode.TYPE_MISMATCH,
      errorMessage: `canary-kit flag "${flagKey}" is a boolean (or the string variant 'canary' | 'stable'), not ${type === 'object' ? 'an' : 'a'} ${type}`,
    };
  }

  // ── events ───────────────────────────────────────────────────────────────────────────────────────

  readonly #onChange = (event: ChangeEvent): void => {
    if (this.#pending === undefined) {
      this.#pending = { flags: new Set(), sources: new Set() };
      queueMicrotask(this.#flush);
    }
    this.#pending.flags.add(event.flag);
    this.#pending.sources.add(event.source);
  };

  readonly #flush = (): void => {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined || !this.#attached) return;
    this.events.emit(ProviderEvents.ConfigurationChanged, {
      flagsChanged: [...pending.flags],
      message: `canary-kit flags changed: ${[...pending.flags].join(', ')}`,
      metadata: { source: [...pending.sources].join(',') },
    });
    // A change applied means the Canary is working (a store delivering again): back to READY after an error.
    if (this.#errored) {
      this.#errored = false;
      this.events.emit(ProviderEvents.Ready, { message: 'canary-kit applied a change after an error' });
    }
  };

  readonly #onError = (error: Error): void => {
    const forward = this.#options.forwardError;
    if (forward !== undefined) {
      try {
        if (!forward(error)) return;
      } catch {
        // A filter that throws forwards the error: better one event too many than a failure unheard.
      }
    }
    this.#errored = true;
    this.events.emit(ProviderEvents.Error, {
      message: `canary-kit: ${error?.message ?? String(error)} (flags keep evaluating)`,
      metadata: { name: error?.name ?? 'Error' },
    });
  };

  #attach(): void {
    if (this.#attached) return;
    this.#attached = true;
    this.canary.on('change', this.#onChange);
    this.canary.on('error', this.#onError);
  }

  #detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    this.canary.off('change', this.#onChange);
    this.canary.off('error', this.#onError);
  }
}

/** `new CanaryProvider(canary, options)`, for symmetry with `createCanary`. */
export function createCanaryProvider(canary: Canary, options?: CanaryProviderOptions): CanaryProvider {
  return new CanaryProvider(canary, options);
}
