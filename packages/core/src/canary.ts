import { Registry } from 'prom-client';
import { InProcessSource } from './analysis/source.js';
import { AnalysisWindows } from './analysis/window.js';
import { CanaryConfigError, type ConfigIssue } from './config/errors.js';
import { childPath } from './config/path.js';
import type {
  CanaryConfig,
  FlagConfig,
  FlagsConfig,
  FlagsConfigInput,
  NormalizedOverrides,
} from './config/types.js';
import { isPlainObject, parseConfig, parseFlags, validatePercentage } from './config/validate.js';
import {
  type CompiledFlag,
  compileFlag,
  type StickinessKey,
  unknownFlagDecision,
} from './evaluation/compile.js';
import { evaluateFlag, identityFrom } from './evaluation/evaluate.js';
import { type CanaryEvents, type ChangeSource, SafeEmitter } from './events.js';
import type { ExperimentOutcome } from './experiment/experiment.js';
import { type Experiment, Experiments } from './experiment/experiments.js';
import type { ExperimentOptions, ExperimentSettings } from './experiment/options.js';
import {
  DEFAULT_BUCKETS,
  type MetricsSource,
  metricsFor,
  type RegistryMetrics,
} from './metrics/canary-metrics.js';
import { OVERRIDE_OUTCOMES, type OverrideOutcome } from './overrides/parse.js';
import {
  type OverrideSource,
  overrideFor,
  type RequestOverrides,
  resolveOverrides,
} from './overrides/resolve.js';
import { RECORDER_OUTCOMES, Recorder } from './recorder/recorder.js';
import { RolloutController, type RolloutHost } from './rollout/controller.js';
import { WebhookNotifier } from './rollout/webhook.js';
import {
  type CapturedExchange,
  type RouteShadowOptIn,
  SHADOW_OUTCOMES,
  type ShadowOutcome,
  ShadowTarget,
} from './shadow/shadow-target.js';
import { MemoryStore } from './stores/memory-store.js';
import type { CanaryStore, RolloutState, SaveOptions, StoreContent, StoreDocument } from './stores/store.js';
import { type Decision, type EvalContext, REASONS, type Reason, type Version } from './types.js';
import { FAILOVER_REASONS, type FailoverReason, UpstreamProxy } from './upstream/upstream-proxy.js';

const EMPTY_CONTEXT: EvalContext = Object.freeze({});
/** Unknown flag keys remembered for the once-per-flag warning; past this, no more warnings (bounded memory). */
const MAX_WARNED_FLAGS = 10_000;
/** Conflicting concurrent writers a change retries against before it gives up. */
const MAX_SAVE_ATTEMPTS = 10;
/** Distinct unknown flag keys that get their own `flag` label; the rest are counted as `(other)`. */
const MAX_UNKNOWN_FLAG_SERIES = 100;

/** Decision counters per flag: slot `reason × 2 + (canary ? 1 : 0)`, kept across config changes. */
const REASON_SLOT = Object.fromEntries(REASONS.map((r, i) => [r, i * 2])) as Record<Reason, number>;
const PERCENTAGE_SLOT = REASON_SLOT.percentage;

export interface CanaryStats {
  /** Override values seen, by where they came from and what became of them. */
  readonly overrides: Readonly<Record<OverrideSource, Readonly<Record<OverrideOutcome, number>>>>;
  /** Evaluations of flags the config does not define. */
  readonly unknownFlagEvaluations: number;
  /** Evaluations that failed and served stable with reason `error`. */
  readonly evaluationErrors: number;
  /** Requests whose `context()` function threw (served by stable). */
  readonly contextErrors: number;
  /** Requests whose `Cookie` header was malformed where canary-kit looked (skipped). */
  readonly malformedCookies: number;
  /** Mirrored requests per shadow target and outcome. */
  readonly shadow: Readonly<Record<string, Readonly<Record<ShadowOutcome, number>>>>;
  /** Upstream failovers per flag and reason. */
  readonly failovers: Readonly<Record<string, Readonly<Record<FailoverReason, number>>>>;
  /** Recorded requests: written, dropped, error. */
  readonly recorder: Readonly<Record<'written' | 'dropped' | 'error', number>> | undefined;
  /** Experiment calls per experiment and outcome. */
  readonly experiments: Readonly<Record<string, Readonly<Record<ExperimentOutcome, number>>>>;
}

function emptyOutcomes(): Record<OverrideOutcome, number> {
  return Object.fromEntries(OVERRIDE_OUTCOMES.map((o) => [o, 0])) as Record<OverrideOutcome, number>;
}

interface StateUpdate {
  readonly flags: FlagsConfig;
  readonly rollouts: Readonly<Record<string, RolloutState>>;
}

/** Same config, written in the same key order by the validator: equal JSON means equal flag. */
const sameFlag = (a: FlagConfig | undefined, b: FlagConfig | undefined) =>
  JSON.stringify(a) === JSON.stringify(b);

function validRollouts(value: unknown): Record<string, RolloutState> {
  return isPlainObject(value) ? (value as Record<string, RolloutState>) : {};
}

/**
 * The decisions of one request, bound to its context: every flag is evaluated at most once per request, so
 * a request keeps its version even if the percentage changes while it runs. Adapters expose it as
 * `req.canary` / `request.canary`.
 */
export class RequestCanary {
  readonly context: EvalContext;
  readonly #canary: Canary;
  #decisions: Map<string, Decision> | undefined;

  constructor(canary: Canary, context: EvalContext) {
    this.#canary = canary;
    this.context = context;
  }

  evaluate(flag: string): Decision {
    let decision = this.#decisions?.get(flag);
    if (decision === undefined) {
      decision = this.#canary.evaluate(flag, this.context);
      this.#decisions ??= new Map();
      this.#decisions.set(flag, decision);
    }
    return decision;
  }

  isCanary(flag: string): boolean {
    return this.evaluate(flag).version === 'canary';
  }

  /** The decisions made so far in this request, in evaluation order. */
  decisions(): Decision[] {
    return this.#decisions ? [...this.#decisions.values()] : [];
  }
}

/**
 * Decides, per request, whether the stable or the canary version serves it. Evaluation is synchronous,
 * allocation-light and never throws; changes go through the store and reach every Canary sharing it.
 */
export class Canary {
  readonly #events = new SafeEmitter<CanaryEvents>();
  readonly #experiments = new Experiments(
    {
      isCanary: (flag, context) => this.isCanary(flag, context as EvalContext | undefined),
      duration: (experiment, side, seconds) =>
        this.#metrics?.experimentDuration.observe({ experiment, side }, seconds),
      wantsMismatch: () => this.#events.listenerCount('mismatch') > 0,
      mismatch: (event) => this.#events.emit('mismatch', event),
      error: (error) => this.#events.emit('error', error),
      unobservable: (experiment) =>
        this.#events.emit('warning', {
          code: 'experiment-unobservable',
          experiment,
          message: `experiment "${experiment}": the control returned a thenable that is not a native Promise; observing it could run it twice, so the candidate did not run (counted as skipped)`,
        }),
    },
    () =>
      this.#events.emit('warning', {
        code: 'experiment-limit',
        message: 'more than 1000 experiment names: calls of the new ones are counted as "(other)"',
      }),
  );
  readonly #store: CanaryStore;
  readonly #ownsStore: boolean;
  readonly #overrides: NormalizedOverrides | undefined;
  readonly #overrideCache = new WeakMap<object, RequestOverrides | null>();
  readonly #warnedFlags = new Set<string>();
  readonly #overrideCounts: Record<OverrideSource, Record<OverrideOutcome, number>> = {
    header: emptyOutcomes(),
    cookie: emptyOutcomes(),
  };
  #unknownFlagEvaluations = 0;
  #evaluationErrors = 0;
  #contextErrors = 0;
  #malformedCookies = 0;
  readonly #decisionCounts = new Map<string, Float64Array>();
  readonly #unknownFlagCounts = new Map<string, number>();
  readonly #unknownDecisions = new Map<string, Decision>();
  /** Flags bucketing by `sessionId`, with the stickiness keys tried before it. */
  #sessionFlags: { readonly before: readonly StickinessKey[] }[] = [];
  readonly #metrics: RegistryMetrics | undefined;
  readonly #metricsSource: MetricsSource | undefined;
  readonly serviceVersion: string;
  readonly #shadows: readonly ShadowTarget[];
  readonly #shadowCounts = new Map<string, Record<ShadowOutcome, number>>();
  /** Upstream proxies by their normalized config, shared by flags naming the same one, rebuilt on change. */
  #upstreams = new Map<string, UpstreamProxy>();
  #upstreamByFlag = new Map<string, UpstreamProxy>();
  readonly #failoverCounts = new Map<string, Record<FailoverReason, number>>();
  readonly #windows: AnalysisWindows | undefined;
  readonly #controller: RolloutController | undefined;
  readonly #webhook: WebhookNotifier | undefined;
  readonly #recorder: Recorder | undefined;
  #compiled = new Map<string, CompiledFlag>();
  #flags: FlagsConfig = Object.create(null);
  #rollouts: Readonly<Record<string, RolloutState>> = {};
  #revision = 0;
  /** Store documents installed so far: a pending write redoes its change when one came in meanwhile. */
  #documentsApplied = 0;
  /** Changes made here, and how many of them the last successful save wrote (at which revision). */
  #localChanges = 0;
  #saved = { changes: -1, revision: -1 };
  readonly #ready: Promise<void>;
  #writes: Promise<unknown>;
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(config?: CanaryConfig) {
    const normalized = parseConfig(config);
    this.#overrides = normalized.overrides;
    this.#ownsStore = normalized.store === undefined;
    this.#store = normalized.store ?? new MemoryStore();
    this.serviceVersion = normalized.service.version;
    if (normalized.metrics !== false) {
      const { registry = new Registry(), buckets = DEFAULT_BUCKETS } = normalized.metrics;
      this.#metrics = metricsFor(registry, buckets);
      this.#metricsSource = this.#createMetricsSource();
      this.#metrics.attach(this.#metricsSource);
    }
    this.#shadows = normalized.shadows.map((config) => {
      const counts = Object.fromEntries(SHADOW_OUTCOMES.map((o) => [o, 0])) as Record<ShadowOutcome, number>;
      this.#shadowCounts.set(config.name, counts);
      return new ShadowTarget(config, {
        count: (_target, outcome) => {
          counts[outcome]++;
        },
        duration: (target, seconds) => this.#metrics?.shadowDuration.observe({ target }, seconds),
        mismatch: (event) => this.#events.emit('mismatch', event),
        error: (error) => this.#events.emit('error', error),
      });
    });
    const rollout = normalized.rollout;
    if (rollout.controller) {
      // The default source: windows fed by this process's own requests (RequestBinding.finish).
      this.#windows = rollout.source ? undefined : new AnalysisWindows();
      this.#controller = new RolloutController(
        this.#rolloutHost(rollout.isLeader),
        rollout.source ?? new InProcessSource(this.#windows!),
        this.#windows,
      );
    }
    this.#webhook = rollout.webhook ? new WebhookNotifier(rollout.webhook) : undefined;
    this.#recorder = normalized.recorder
      ? new Recorder(normalized.recorder, { error: (error) => this.#events.emit('error', error) })
      : undefined;
    this.#install(normalized.flags, {}, 'init');
    this.#ready = this.#connect();
    this.#writes = this.#ready;
    // The controller starts once the store's state is known: a restarted process resumes at its saved step.
    void this.#ready.then(() => this.#controller?.sync());
  }

  // ── evaluation (the request path) ─────────────────────────────────────────────────────────────────

  /** The decision for `flag` in `context`. Never throws: an unknown flag is stable with reason `unknown-flag`. */
  evaluate(flag: string, context?: EvalContext): Decision {
    const compiled = this.#compiled.get(flag);
    if (compiled === undefined) return this.#unknownFlag(flag);
    const ctx = context !== null && typeof context === 'object' ? context : EMPTY_CONTEXT;
    let decision: Decision;
    try {
      // The kill switch and a rollback beat overrides: don't even parse them then.
      const override =
        this.#overrides !== undefined &&
        ctx.overrides !== undefined &&
        compiled.enabled &&
        !compiled.rolledBack
          ? this.#overrideFor(flag, ctx)
          : undefined;
      decision = evaluateFlag(compiled, ctx, override);
    } catch (error) {
      this.#evaluationErrors++;
      this.#events.emit(
        'error',
        new Error(`evaluating flag "${flag}" failed; serving stable`, { cause: error }),
      );
      decision = compiled.fixed.error;
    }
    const slot = decision.reason === 'percentage' ? PERCENTAGE_SLOT : REASON_SLOT[decision.reason];
    compiled.counts[decision.version === 'canary' ? slot + 1 : slot]!++;
    return decision;
  }

  isCanary(flag: string, context?: EvalContext): boolean {
    return this.evaluate(flag, context).version === 'canary';
  }

  /** A per-request view that memoizes decisions; what adapters put on the request. */
  forContext(context: EvalContext): RequestCanary {
    return new RequestCanary(this, context);
  }

  #unknownFlag(flag: string): Decision {
    this.#unknownFlagEvaluations++;
    const key = typeof flag === 'string' ? flag : String(flag);
    const series =
      this.#unknownFlagCounts.has(key) || this.#unknownFlagCounts.size < MAX_UNKNOWN_FLAG_SERIES
        ? key
        : '(other)';
    this.#unknownFlagCounts.set(series, (this.#unknownFlagCounts.get(series) ?? 0) + 1);
    if (!this.#warnedFlags.has(key) && this.#warnedFlags.size < MAX_WARNED_FLAGS) {
      this.#warnedFlags.add(key);
      this.#events.emit('warning', {
        code: 'unknown-flag',
        flag: key,
        message: `flag "${key}" is not configured; serving stable (reported once per flag)`,
      });
    }
    // One frozen decision per unknown key (bounded like the series), not an allocation per request.
    let decision = this.#unknownDecisions.get(key);
    if (decision === undefined) {
      decision = unknownFlagDecision(key);
      if (this.#unknownDecisions.size < MAX_UNKNOWN_FLAG_SERIES) this.#unknownDecisions.set(key, decision);
    }
    return decision;
  }

  #overrideFor(flag: string, context: EvalContext) {
    let resolved = this.#overrideCache.get(context);
    if (resolved === undefined) {
      resolved =
        resolveOverrides(
          context,
          this.#overrides!,
          (source, outcome) => {
            this.#overrideCounts[source][outcome]++;
          },
          (error) =>
            this.#events.emit(
              'error',
              new Error('overrides.trust threw; override ignored', { cause: error }),
            ),
        ) ?? null;
      this.#overrideCache.set(context, resolved);
    }
    return resolved === null ? undefined : overrideFor(flag, resolved);
  }

  #rolloutHost(isLeader: (() => boolean | Promise<boolean>) | undefined): RolloutHost {
    const emit = <E extends 'analysis' | 'step' | 'rollback' | 'complete'>(
      event: E,
      payload: Parameters<CanaryEvents[E]>[0],
    ) => {
      this.#events.emit(event, ...([payload] as Parameters<CanaryEvents[E]>));
      if (event !== 'analysis' || (payload as { verdict?: string }).verdict === 'fail')
        this.#webhook?.notify(event, payload as object);
    };
    return {
      flags: () => this.#flags,
      state: (flag) => this.#rollouts[flag],
      transition: (flag, update, options) =>
        this.#changeState(
          'rollout',
          (flags, rollouts) => {
            const config = flags[flag];
            if (!config) return undefined;
            const next = update(rollouts[flag], config);
            if (!next) return undefined;
            const nextFlags =
              next.percentage === undefined
                ? flags
                : { ...flags, [flag]: { ...config, percentage: next.percentage } };
            return { flags: nextFlags, rollouts: { ...rollouts, [flag]: next.state } };
          },
          options,
        ),
      emitAnalysis: (e) => emit('analysis', e),
      emitStep: (e) => {
        emit('step', e);
        if (e.cause === 'paused' && e.previousPercentage === e.percentage) {
          this.#events.emit('warning', {
            code: 'rollout-stalled',
            flag: e.flag,
            message: `rollout of "${e.flag}" paused at ${e.percentage} %: canary.promote("${e.flag}") continues it`,
          });
        }
      },
      emitRollback: (e) => emit('rollback', e),
      emitComplete: (e) => emit('complete', e),
      error: (error) => this.#events.emit('error', error),
      isLeader: isLeader ?? (() => true),
      now: Date.now,
    };
  }

  // ── experiments ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Runs `control` and returns exactly what it returns (the same value, the same promise) or throws exactly
   * what it throws. For the calls `flag`/`percentage` select, `candidate` runs after the control settled,
   * off the caller's path, under `timeoutMs` and `maxConcurrency`; the two results are compared and counted
   * in `canary_kit_experiment_total`, with a `mismatch` event when they differ. See docs/experiments.md.
   */
  experiment<T>(name: string, options: ExperimentOptions<T>): T {
    return this.#experiments.run(name, options);
  }

  /**
   * An experiment whose settings are validated once, here (throws CanaryConfigError): call the returned
   * function with `{ control, candidate, context }` per call. Cheaper per call than `experiment`.
   */
  defineExperiment<V = unknown>(name: string, settings: ExperimentSettings<V> = {}): Experiment<V> {
    return this.#experiments.define(name, settings);
  }

  /** Experiment calls admitted and not finished yet: waiting for their control or running their candidate. */
  experimentInFlight(name: string): number {
    return this.#experiments.inFlight(name);
  }

  // ── rollouts ─────────────────────────────────────────────────────────────────────────────────────

  /** A flag's rollout state: phase, step, failures and the last analysis. */
  rolloutState(flag: string): RolloutState | undefined {
    return this.#rollouts[flag];
  }

  /** Moves a paused (gate or stalled) or progressing rollout to its next step now. Resolves false when it can't. */
  async promote(flag: string): Promise<boolean> {
    await this.#ready;
    const state = this.#rollouts[flag];
    const done = (await this.#controller?.promote(flag)) ?? false;
    if (done && state) {
      const next = this.#rollouts[flag];
      this.#events.emit('promote', {
        flag,
        stepIndex: next?.stepIndex ?? state.stepIndex,
        percentage: this.#flags[flag]?.percentage ?? 0,
      });
      this.#webhook?.notify('promote', { flag, percentage: this.#flags[flag]?.percentage });
    }
    return done;
  }

  /** Rolls a flag back by hand: percentage 0, phase `rolled-back`; it stays so until `resumeRollout`. */
  async rollback(flag: string, reason = 'manual'): Promise<boolean> {
    await this.#ready;
    const previous = this.#rollouts[flag];
    const percentage = this.#flags[flag]?.percentage ?? 0;
    const done = await this.#changeState('rollout', (flags, rollouts) => {
      const config = flags[flag];
      if (!config) return undefined;
      const state: RolloutState = {
        flag,
        canaryVersionId: rollouts[flag]?.canaryVersionId ?? config.rollout?.canaryVersionId ?? null,
        phase: 'rolled-back',
        stepIndex: rollouts[flag]?.stepIndex ?? 0,
        stepStartedAt: rollouts[flag]?.stepStartedAt ?? Date.now(),
        failures: rollouts[flag]?.failures ?? 0,
      };
      return {
        flags: { ...flags, [flag]: { ...config, percentage: 0 } },
        rollouts: { ...rollouts, [flag]: state },
      };
    });
    if (done) {
      const event = {
        flag,
        stepIndex: previous?.stepIndex ?? 0,
        percentage,
        canaryVersionId: previous?.canaryVersionId ?? null,
        reason,
      };
      this.#events.emit('rollback', event);
      this.#webhook?.notify('rollback', event);
    }
    return done;
  }

  /** A person's decision after a rollback (or to restart): the rollout starts again from its first step. */
  async resumeRollout(flag: string): Promise<boolean> {
    await this.#ready;
    return (await this.#controller?.restart(flag)) ?? false;
  }

  /** Feeds the in-process analysis windows; called by RequestBinding.finish for flag-bound routes. */
  observeRollout(flag: string, version: Version, statusCode: number, seconds: number): void {
    this.#windows?.record(flag, version, statusCode, seconds);
  }

  /** Analyses per flag and verdict so far (this process's controller). */
  get analysisCounts(): ReadonlyMap<string, { pass: number; fail: number; inconclusive: number }> {
    return this.#controller?.analysisCounts ?? new Map();
  }

  /** Keeps one proxy per distinct upstream config; closes the ones no flag names any more. */
  #syncUpstreams(flags: FlagsConfig): void {
    const next = new Map<string, UpstreamProxy>();
    const byFlag = new Map<string, UpstreamProxy>();
    for (const [key, flag] of Object.entries(flags)) {
      if (!flag.upstream) continue;
      const id = JSON.stringify(flag.upstream);
      let proxy = next.get(id) ?? this.#upstreams.get(id);
      if (proxy === undefined) proxy = new UpstreamProxy(flag.upstream);
      next.set(id, proxy);
      byFlag.set(key, proxy);
    }
    for (const [id, proxy] of this.#upstreams) {
      if (!next.has(id)) void proxy.close().catch((error) => this.#events.emit('error', error as Error));
    }
    this.#upstreams = next;
    this.#upstreamByFlag = byFlag;
  }

  // ── what adapters need ───────────────────────────────────────────────────────────────────────────

  /** The metrics this Canary records into, shared with every Canary on the same registry; undefined when off. */
  get metrics(): RegistryMetrics | undefined {
    return this.#metrics;
  }

  /** True when some flag buckets by `sessionId`, so adapters may need to issue a sticky anonymous id. */
  get usesSessionStickiness(): boolean {
    return this.#sessionFlags.length > 0;
  }

  /**
   * Whether a flag would bucket this context by `sessionId` and finds none: no key before `sessionId` in
   * its stickiness list has a value. Adapters then issue a sticky id.
   */
  needsSessionId(context: EvalContext): boolean {
    if (typeof context.sessionId === 'string' && context.sessionId !== '') return false;
    return this.#sessionFlags.some((f) => identityFrom(f.before, context) === undefined);
  }

  /** Reports a failure off the request path (an adapter's metrics hook, a shadow copy) through `error`. */
  reportError(error: unknown): void {
    this.#events.emit('error', error instanceof Error ? error : new Error(String(error)));
  }

  /** An adapter's `context()` function threw: counted, reported via `error`; the request is served by stable. */
  recordContextError(error: unknown): void {
    this.#contextErrors++;
    this.#events.emit(
      'error',
      new Error('the context() function threw; request served by stable', { cause: error }),
    );
  }

  /** The proxy to the flag's `upstream`, when it has one. */
  upstreamFor(flag: string): UpstreamProxy | undefined {
    return this.#upstreamByFlag.get(flag);
  }

  /** A canary request was served by the local stable handler because its upstream failed. */
  recordFailover(flag: string, reason: FailoverReason): void {
    let counts = this.#failoverCounts.get(flag);
    if (counts === undefined) {
      counts = Object.fromEntries(FAILOVER_REASONS.map((r) => [r, 0])) as Record<FailoverReason, number>;
      this.#failoverCounts.set(flag, counts);
    }
    counts[reason]++;
  }

  /** The request recorder, when configured (adapters record through RequestBinding). */
  get recorder(): Recorder | undefined {
    return this.#recorder;
  }

  /** True when some flag proxies its canary share to an upstream. */
  get hasUpstreams(): boolean {
    return this.#upstreamByFlag.size > 0;
  }

  /** True when shadow targets are configured: adapters then capture request and response bodies. */
  get hasShadows(): boolean {
    return this.#shadows.length > 0;
  }

  /** The largest request body a shadow target for this method may need, or 0 when none considers the method. */
  shadowCaptureLimit(method: string): number {
    let limit = 0;
    for (const s of this.#shadows)
      if (s.considers(method) && s.options.maxBodyBytes > limit) limit = s.options.maxBodyBytes;
    return limit;
  }

  /** The largest primary response body a shadow target keeps for its diff. */
  get shadowResponseLimit(): number {
    let limit = 0;
    for (const s of this.#shadows) if (s.options.maxResponseBytes > limit) limit = s.options.maxResponseBytes;
    return limit;
  }

  /**
   * Mirrors a finished exchange to every shadow target that wants it; `build` runs once, only if one does.
   * Never throws, never waits.
   */
  mirror(
    request: { method: string; url: string; identity: string | undefined },
    flag: string | undefined,
    optIn: RouteShadowOptIn | undefined,
    build: () => CapturedExchange,
  ): void {
    let exchange: CapturedExchange | undefined;
    for (const target of this.#shadows) {
      try {
        if (!target.wants(request.method, request.url, flag, optIn, request.identity) || !target.admit())
          continue;
        exchange ??= build();
        target.mirror(exchange);
      } catch (error) {
        this.#events.emit('error', error as Error);
      }
    }
  }

  /** The shadow targets, for their in-flight counts, circuit state and noise reports. */
  get shadows(): readonly ShadowTarget[] {
    return this.#shadows;
  }

  /** An adapter met a malformed `Cookie` header while reading overrides: counted and skipped. */
  recordMalformedCookie(): void {
    this.#malformedCookies++;
  }

  #createMetricsSource(): MetricsSource {
    return {
      forEachDecisionCount: (visit) => {
        for (const [flag, counts] of this.#decisionCounts) {
          for (let i = 0; i < counts.length; i++) {
            const n = counts[i]!;
            if (n > 0) visit(flag, i % 2 === 1 ? 'canary' : 'stable', REASONS[i >> 1]!, n);
          }
        }
        for (const [flag, n] of this.#unknownFlagCounts) visit(flag, 'stable', 'unknown-flag', n);
      },
      forEachPercentage: (visit) => {
        for (const [flag, compiled] of this.#compiled) visit(flag, compiled.effectivePercentage);
      },
      forEachOverrideCount: (visit) => {
        for (const source of ['header', 'cookie'] as const) {
          for (const outcome of OVERRIDE_OUTCOMES) {
            const n = this.#overrideCounts[source][outcome];
            if (n > 0) visit(source, outcome, n);
          }
        }
      },
      contextErrors: () => this.#contextErrors,
      forEachShadowCount: (visit) => {
        for (const [target, counts] of this.#shadowCounts) {
          for (const outcome of SHADOW_OUTCOMES)
            if (counts[outcome] > 0) visit(target, outcome, counts[outcome]);
        }
      },
      forEachShadowInFlight: (visit) => {
        for (const target of this.#shadows) visit(target.name, target.inFlight);
      },
      forEachRollout: (visit) => {
        for (const [flag, state] of Object.entries(this.#rollouts)) visit(flag, state.stepIndex, state.phase);
      },
      forEachAnalysisCount: (visit) => {
        for (const [flag, counts] of this.analysisCounts) {
          for (const verdict of ['pass', 'fail', 'inconclusive'] as const)
            if (counts[verdict] > 0) visit(flag, verdict, counts[verdict]);
        }
      },
      forEachRecorderCount: (visit) => {
        const counts = this.#recorder?.counts;
        if (counts) for (const outcome of RECORDER_OUTCOMES) visit(outcome, counts[outcome]);
      },
      forEachExperimentCount: (visit) => this.#experiments.forEachCount(visit),
      forEachFailover: (visit) => {
        for (const [flag, counts] of this.#failoverCounts) {
          for (const reason of FAILOVER_REASONS) if (counts[reason] > 0) visit(flag, reason, counts[reason]);
        }
      },
    };
  }

  // ── configuration ────────────────────────────────────────────────────────────────────────────────

  /** The header and cookie names adapters read overrides from; undefined when overrides are off. */
  get overrideSources(): { readonly header: string | false; readonly cookie: string | false } | undefined {
    const o = this.#overrides;
    return o ? { header: o.header, cookie: o.cookie } : undefined;
  }

  /** The validated config of one flag, or undefined. */
  getFlag(flag: string): FlagConfig | undefined {
    return this.#flags[flag];
  }

  /** Every flag's validated config. */
  get flags(): FlagsConfig {
    return this.#flags;
  }

  /** Rollout state per flag, as last read from or written to the store. */
  get rollouts(): Readonly<Record<string, RolloutState>> {
    return this.#rollouts;
  }

  /** The store revision this Canary last applied (0 before the store answered). */
  get revision(): number {
    return this.#revision;
  }

  /**
   * Sets a flag's percentage. Takes effect in this process at once and resolves once the store has it;
   * rejects with CanaryConfigError for an unknown flag or an invalid percentage (nothing changes then).
   */
  async setPercentage(flag: string, percentage: number): Promise<void> {
    const issues: ConfigIssue[] = [];
    const path = childPath(childPath('flags', String(flag)), 'percentage');
    const value = validatePercentage(percentage, path, issues);
    if (issues.length > 0) throw new CanaryConfigError(issues);
    await this.#change('api', (flags) => {
      const current = flags[flag];
      if (!current)
        throw new CanaryConfigError([{ path: childPath('flags', String(flag)), message: 'unknown flag' }]);
      return { ...flags, [flag]: { ...current, percentage: value } };
    });
  }

  /**
   * Replaces every flag at once (flags missing from `config.flags` are removed). Validated as a whole:
   * on any issue it rejects with CanaryConfigError and the current config keeps serving.
   */
  async replaceConfig(config: { flags: FlagsConfigInput }): Promise<void> {
    if (!isPlainObject(config))
      throw new CanaryConfigError([{ path: '', message: 'must be an object { flags }' }]);
    const flags = parseFlags(config.flags);
    await this.#change('api', () => flags);
  }

  /** Runs `update` on the current flags, applies the result here at once, then saves it with compare-and-set. */
  #change(source: ChangeSource, update: (flags: FlagsConfig) => FlagsConfig): Promise<boolean> {
    return this.#changeState(source, (flags, rollouts) => ({ flags: update(flags), rollouts }));
  }

  /**
   * Runs `update` on the current flags and rollout states, applies the result here at once, then saves it with
   * compare-and-set. On a conflict it takes the store's document and runs `update` again on top of it; when
   * `update` returns undefined (the change no longer applies) nothing more is written and it resolves false.
   */
  #changeState(
    source: ChangeSource,
    update: (flags: FlagsConfig, rollouts: Readonly<Record<string, RolloutState>>) => StateUpdate | undefined,
    options?: SaveOptions,
  ): Promise<boolean> {
    const first = update(this.#flags, this.#rollouts);
    if (first === undefined) return Promise.resolve(false);
    this.#install(first.flags, first.rollouts, source);
    this.#localChanges++;
    let installedAt = this.#documentsApplied;
    // A conflict's document, unless a newer one (or the same) already arrived from the store while we waited.
    const take = (current: StoreDocument) => {
      if (this.#documentsApplied === installedAt || current.revision > this.#revision)
        this.#applyDocument(current);
    };
    const write = this.#writes.then(async () => {
      for (let attempt = 0; attempt < MAX_SAVE_ATTEMPTS; attempt++) {
        // A store document applied while this write waited its turn replaced our change in memory: saving
        // now would write their document without it. Redo the change on top of theirs first.
        if (this.#documentsApplied !== installedAt) {
          const again = update(this.#flags, this.#rollouts);
          if (again === undefined) return false;
          this.#install(again.flags, again.rollouts, source);
          this.#localChanges++;
          installedAt = this.#documentsApplied;
        }
        // Queued behind a save that already wrote every change made here, this one included, and nothing
        // came in since: the store has it. (A burst of changes costs one write, not one per change, so it
        // does not starve other replicas' writers.) Leader writes always go to the store, to be fenced.
        if (
          options?.leader !== true &&
          this.#saved.changes === this.#localChanges &&
          this.#saved.revision === this.#revision
        )
          return true;
        const changes = this.#localChanges;
        const result = await this.#store.save(this.#content(), this.#revision, options);
        if (result.ok) {
          // A newer document may have come by pub/sub before this reply: never step the revision back.
          if (result.revision > this.#revision) this.#revision = result.revision;
          this.#saved = { changes, revision: result.revision };
          return true;
        }
        // A fenced store refused a leader write (the lease is gone): take the store's document, write nothing.
        if (result.fenced) {
          if (result.current) take(result.current);
          return false;
        }
        // Someone else wrote first: take their document, redo our change on top of it, try again — after a
        // short random pause from the second conflict on, so two busy writers stop colliding in lockstep.
        if (attempt > 0)
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 ** attempt * 5));
        if (result.current) take(result.current);
        else this.#revision = 0;
        const again = update(this.#flags, this.#rollouts);
        if (again === undefined) return false;
        this.#install(again.flags, again.rollouts, source);
        this.#localChanges++;
        installedAt = this.#documentsApplied;
      }
      throw new Error(
        `canary-kit: gave up saving after ${MAX_SAVE_ATTEMPTS} conflicting writes to the ${this.#store.kind} store`,
      );
    });
    this.#writes = write.catch(() => {});
    return write;
  }

  #content(): StoreContent {
    return { flags: { ...this.#flags }, rollouts: this.#rollouts };
  }

  /** Compiles and swaps in a new set of flags, then reports each flag that changed. */
  #install(flags: FlagsConfig, rollouts: Readonly<Record<string, RolloutState>>, source: ChangeSource): void {
    const before = this.#flags;
    const compiled = new Map<string, CompiledFlag>();
    const sessionFlags: { before: StickinessKey[] }[] = [];
    for (const [key, flag] of Object.entries(flags)) {
      let counts = this.#decisionCounts.get(key);
      if (counts === undefined) {
        counts = new Float64Array(REASONS.length * 2);
        this.#decisionCounts.set(key, counts);
      }
      const compiledFlag = compileFlag(key, flag, rollouts[key]?.phase === 'rolled-back', counts);
      compiled.set(key, compiledFlag);
      const at = flag.stickiness.indexOf('sessionId');
      if (at !== -1) sessionFlags.push({ before: compiledFlag.stickiness.slice(0, at) });
    }
    this.#sessionFlags = sessionFlags;
    this.#syncUpstreams(flags);
    this.#flags = flags;
    this.#rollouts = rollouts;
    this.#compiled = compiled;
    if (source === 'init') return;
    if (this.#ready !== undefined) this.#controller?.sync();
    for (const key of new Set([...Object.keys(before), ...Object.keys(flags)])) {
      if (!sameFlag(before[key], flags[key])) {
        this.#events.emit('change', { flag: key, before: before[key], after: flags[key], source });
      }
    }
  }

  /** Applies a store document. An invalid one is reported and skipped: the last good config keeps serving. */
  #applyDocument(document: StoreDocument): boolean {
    // The revision is taken even from a rejected document, so the next write replaces it.
    this.#revision = document.revision;
    let flags: FlagsConfig;
    try {
      flags = parseFlags(document.flags);
    } catch (error) {
      const e = error as Error;
      this.#events.emit(
        'error',
        new CanaryConfigError(
          error instanceof CanaryConfigError
            ? error.issues.map((i) => ({
                path: i.path,
                message: `${i.message} (store revision ${document.revision} rejected; last good config kept)`,
              }))
            : [{ path: 'flags', message: e.message }],
        ),
      );
      return false;
    }
    this.#install(flags, validRollouts(document.rollouts), 'store');
    this.#documentsApplied++;
    return true;
  }

  async #connect(): Promise<void> {
    this.#unsubscribe = this.#store.subscribe({
      change: (document) => {
        if (!this.#closed && document.revision > this.#revision) this.#applyDocument(document);
      },
      error: (error) => this.#events.emit('error', error),
    });
    try {
      const document = await this.#store.load();
      if (this.#closed) return;
      if (document) {
        if (document.revision > this.#revision) this.#applyDocument(document);
        return;
      }
      // An empty store is seeded with the config we were given.
      const result = await this.#store.save(this.#content(), 0);
      if (result.ok) this.#revision = result.revision;
      else if (result.current) this.#applyDocument(result.current);
    } catch (error) {
      this.#events.emit('error', error instanceof Error ? error : new Error(String(error)));
    }
  }

  // ── lifecycle and events ─────────────────────────────────────────────────────────────────────────

  /** Resolves once the store's document has been applied (or the store failed, reported via `error`). */
  ready(): Promise<void> {
    return this.#ready;
  }

  on<E extends keyof CanaryEvents>(event: E, listener: CanaryEvents[E]): this {
    this.#events.on(event, listener);
    return this;
  }

  once<E extends keyof CanaryEvents>(event: E, listener: CanaryEvents[E]): this {
    this.#events.once(event, listener);
    return this;
  }

  off<E extends keyof CanaryEvents>(event: E, listener?: CanaryEvents[E]): this {
    this.#events.off(event, listener);
    return this;
  }

  stats(): CanaryStats {
    const shadow: Record<string, Record<ShadowOutcome, number>> = {};
    for (const [name, counts] of this.#shadowCounts) shadow[name] = { ...counts };
    const failovers: Record<string, Record<FailoverReason, number>> = {};
    for (const [flag, counts] of this.#failoverCounts) failovers[flag] = { ...counts };
    return {
      shadow,
      failovers,
      recorder: this.#recorder ? { ...this.#recorder.counts } : undefined,
      experiments: this.#experiments.stats(),
      overrides: { header: { ...this.#overrideCounts.header }, cookie: { ...this.#overrideCounts.cookie } },
      unknownFlagEvaluations: this.#unknownFlagEvaluations,
      evaluationErrors: this.#evaluationErrors,
      contextErrors: this.#contextErrors,
      malformedCookies: this.#malformedCookies,
    };
  }

  /**
   * Waits for pending writes, stops listening to the store and closes the store canary-kit created.
   * A store you passed in is yours to close. Decisions keep working on the last config.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ready;
    await this.#writes;
    await this.#controller?.stop();
    await this.#webhook?.close();
    this.#unsubscribe?.();
    await Promise.allSettled([
      this.#recorder?.close(),
      ...this.#shadows.map((s) => s.close()),
      ...[...this.#upstreams.values()].map((u) => u.close()),
    ]);
    if (this.#metricsSource) this.#metrics?.detach(this.#metricsSource);
    if (this.#ownsStore) await this.#store.close();
  }
}

/** Validates `config` (throwing CanaryConfigError with every issue) and returns a ready-to-use Canary. */
export function createCanary(config?: CanaryConfig): Canary {
  return new Canary(config);
}
