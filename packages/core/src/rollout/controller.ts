import { type AnalysisResult, analyze } from '../analysis/analyze.js';
import type { AnalysisSource } from '../analysis/source.js';
import type { AnalysisWindows } from '../analysis/window.js';
import type { FlagConfig, FlagsConfig } from '../config/types.js';
import type { NormalizedRollout } from '../config/validate-rollout.js';
import type { RolloutState, SaveOptions } from '../stores/store.js';

/** Every input and the verdict of one analysis, as the `analysis` event carries it. */
export interface AnalysisEvent extends AnalysisResult {
  readonly flag: string;
  readonly stepIndex: number;
  readonly percentage: number;
  readonly source: string;
  readonly from: number;
  readonly to: number;
}

export interface StepEvent {
  readonly flag: string;
  readonly stepIndex: number;
  readonly percentage: number;
  readonly previousPercentage: number;
  readonly canaryVersionId: string | null;
  /** `started` (fresh rollout), `advanced` (analysis passed), `resumed` (by a person), `paused` (gate or stall). */
  readonly cause: 'started' | 'advanced' | 'resumed' | 'paused';
}

export interface RollbackEvent {
  readonly flag: string;
  readonly stepIndex: number;
  readonly percentage: number;
  readonly canaryVersionId: string | null;
  /** The last failing analysis's reason, or `manual`. */
  readonly reason: string;
  readonly analysis?: AnalysisEvent;
}

export interface PromoteEvent {
  readonly flag: string;
  readonly stepIndex: number;
  readonly percentage: number;
}

export interface CompleteEvent {
  readonly flag: string;
  readonly canaryVersionId: string | null;
}

/** A transition: the new state and, when it changes, the flag's new percentage. */
export interface Transition {
  readonly state: RolloutState;
  readonly percentage?: number;
}

/** What the controller needs from the Canary; keeps the controller free of store and event plumbing. */
export interface RolloutHost {
  flags(): FlagsConfig;
  state(flag: string): RolloutState | undefined;
  /**
   * Applies `update` to the freshest state with compare-and-set (retrying on conflicts); `update` returns
   * undefined when the transition no longer applies (another replica made it), and nothing is written.
   */
  transition(
    flag: string,
    update: (state: RolloutState | undefined, flag: FlagConfig) => Transition | undefined,
    options?: SaveOptions,
  ): Promise<boolean>;
  emitAnalysis(event: AnalysisEvent): void;
  emitStep(event: StepEvent): void;
  emitRollback(event: RollbackEvent): void;
  emitComplete(event: CompleteEvent): void;
  error(error: Error): void;
  /** Only the leader runs analyses (fleets: a Redis lease); a single process always is. */
  isLeader(): boolean | Promise<boolean>;
  now(): number;
}

/** Transitions made because this process is the leader: a fenced store rejects them once the lease is lost. */
const LEADER: SaveOptions = Object.freeze({ leader: true });

function fresh(flag: string, rollout: NormalizedRollout, now: number): Transition {
  return {
    state: {
      flag,
      canaryVersionId: rollout.canaryVersionId ?? null,
      phase: 'progressing',
      stepIndex: 0,
      stepStartedAt: now,
      failures: 0,
    },
    percentage: rollout.steps[0]!,
  };
}

/**
 * Steps each flag with a `rollout` through its percentages: every interval it analyses the flag's stable and
 * canary data since the step began, advances on a pass, holds on an inconclusive verdict (never failing or
 * passing for lack of data), and rolls back after `failureLimit` failures in a row. Every transition is a
 * compare-and-set on the stored state, so a step is applied once even when several replicas race.
 */
export class RolloutController {
  readonly #host: RolloutHost;
  readonly #source: AnalysisSource;
  readonly #windows: AnalysisWindows | undefined;
  readonly #timers = new Map<string, { timer: NodeJS.Timeout; intervalMs: number }>();
  readonly #warmups = new Map<string, NodeJS.Timeout>();
  readonly #busy = new Set<string>();
  readonly #ticks = new Set<Promise<void>>();
  readonly analysisCounts = new Map<string, { pass: number; fail: number; inconclusive: number }>();
  #stopped = false;

  constructor(host: RolloutHost, source: AnalysisSource, windows: AnalysisWindows | undefined) {
    this.#host = host;
    this.#source = source;
    this.#windows = windows;
  }

  /** Matches timers to the flags that have a rollout; called after every config or state change. */
  sync(): void {
    if (this.#stopped) return;
    const flags = this.#host.flags();
    for (const [flag, entry] of this.#timers) {
      const rollout = flags[flag]?.rollout;
      if (!rollout || rollout.intervalMs !== entry.intervalMs) {
        clearInterval(entry.timer);
        this.#timers.delete(flag);
      }
    }
    for (const [flag, config] of Object.entries(flags)) {
      const rollout = config.rollout;
      if (!rollout) continue;
      const state = this.#host.state(flag);
      // In-process windows only see traffic from when they open: open one for every live rollout.
      if (
        this.#windows &&
        state &&
        (state.phase === 'progressing' || state.phase === 'paused') &&
        !this.#windows.has(flag)
      ) {
        this.#windows.reset(flag);
      }
      if (!this.#timers.has(flag)) {
        const timer = setInterval(() => this.#schedule(flag), rollout.intervalMs);
        timer.unref();
        this.#timers.set(flag, { timer, intervalMs: rollout.intervalMs });
        // A flag with a rollout and no state (or a new canary build) starts now, not one interval later.
        if (
          !state ||
          (rollout.canaryVersionId !== undefined && state.canaryVersionId !== rollout.canaryVersionId)
        ) {
          this.#schedule(flag);
        }
      }
    }
  }

  #schedule(flag: string): void {
    if (this.#busy.has(flag) || this.#stopped) return;
    this.#busy.add(flag);
    const tick = this.tick(flag)
      .catch((error) => this.#host.error(error as Error))
      .finally(() => {
        this.#busy.delete(flag);
        this.#ticks.delete(tick);
      });
    this.#ticks.add(tick);
  }

  /** One analysis of one flag, and the transition it leads to. Public for tests and manual runs. */
  async tick(flag: string): Promise<void> {
    const host = this.#host;
    const config = host.flags()[flag];
    const rollout = config?.rollout;
    if (!config || !rollout) return;
    if (!(await host.isLeader())) return;
    const state = host.state(flag);
    const now = host.now();

    if (
      !state ||
      (rollout.canaryVersionId !== undefined && state.canaryVersionId !== rollout.canaryVersionId)
    ) {
      await this.#start(flag, rollout, state);
      return;
    }
    if (state.phase !== 'progressing' && state.phase !== 'paused') return;
    if (now - state.stepStartedAt < rollout.warmupMs) return;

    let snapshot: Awaited<ReturnType<AnalysisSource['snapshot']>>;
    try {
      snapshot = await this.#source.snapshot(flag, state.stepStartedAt + rollout.warmupMs);
    } catch (error) {
      host.error(
        new Error(
          `rollout of "${flag}": the ${this.#source.kind} source failed; this interval is inconclusive`,
          { cause: error },
        ),
      );
      return;
    }
    const result = analyze(snapshot, rollout.thresholds);
    const percentage = rollout.steps[state.stepIndex] ?? config.percentage;
    const event: AnalysisEvent = {
      ...result,
      flag,
      stepIndex: state.stepIndex,
      percentage,
      source: this.#source.kind,
      from: snapshot.from,
      to: snapshot.to,
    };
    const counts = this.analysisCounts.get(flag) ?? { pass: 0, fail: 0, inconclusive: 0 };
    counts[result.verdict]++;
    this.analysisCounts.set(flag, counts);
    host.emitAnalysis(event);

    const sameStep = (s: RolloutState | undefined): s is RolloutState =>
      s !== undefined &&
      s.stepIndex === state.stepIndex &&
      s.stepStartedAt === state.stepStartedAt &&
      (s.phase === 'progressing' || s.phase === 'paused');

    if (result.verdict === 'fail') {
      const failures = state.failures + 1;
      if (failures >= rollout.failureLimit) {
        const done = await host.transition(
          flag,
          (s) =>
            sameStep(s)
              ? { state: { ...s, phase: 'rolled-back', failures, lastAnalysis: event }, percentage: 0 }
              : undefined,
          LEADER,
        );
        if (done) {
          this.#windows?.delete(flag);
          host.emitRollback({
            flag,
            stepIndex: state.stepIndex,
            percentage,
            canaryVersionId: state.canaryVersionId,
            reason: result.reason,
            analysis: event,
          });
        }
      } else {
        await host.transition(
          flag,
          (s) => (sameStep(s) ? { state: { ...s, failures, lastAnalysis: event } } : undefined),
          LEADER,
        );
      }
      return;
    }

    if (
      result.verdict === 'pass' &&
      state.phase === 'progressing' &&
      now - state.stepStartedAt >= rollout.intervalMs
    ) {
      await this.#advance(flag, rollout, state, event, 'advanced');
      return;
    }

    // Inconclusive (or a pass while paused at a gate): hold; a step stuck too long waits for a person.
    const stalled =
      result.verdict === 'inconclusive' &&
      state.phase === 'progressing' &&
      rollout.maxStepDurationMs !== undefined &&
      now - state.stepStartedAt > rollout.maxStepDurationMs;
    const done = await host.transition(
      flag,
      (s) =>
        sameStep(s)
          ? { state: { ...s, ...(stalled && { phase: 'paused' as const }), lastAnalysis: event } }
          : undefined,
      LEADER,
    );
    if (done && stalled) {
      host.emitStep({
        flag,
        stepIndex: state.stepIndex,
        percentage,
        previousPercentage: percentage,
        canaryVersionId: state.canaryVersionId,
        cause: 'paused',
      });
    }
  }

  async #start(flag: string, rollout: NormalizedRollout, previous: RolloutState | undefined): Promise<void> {
    const host = this.#host;
    const now = host.now();
    const done = await host.transition(
      flag,
      (s) => {
        // Someone else started it in the meantime (same build id): nothing to do.
        if (
          s &&
          s !== previous &&
          (rollout.canaryVersionId === undefined || s.canaryVersionId === rollout.canaryVersionId)
        )
          return undefined;
        return fresh(flag, rollout, now);
      },
      LEADER,
    );
    if (!done) return;
    this.#openWindow(flag, rollout);
    host.emitStep({
      flag,
      stepIndex: 0,
      percentage: rollout.steps[0]!,
      previousPercentage: host.flags()[flag]?.percentage ?? 0,
      canaryVersionId: rollout.canaryVersionId ?? null,
      cause: 'started',
    });
  }

  /** Moves to the next step (or completes); `cause` says whether an analysis or a person did it. */
  async #advance(
    flag: string,
    rollout: NormalizedRollout,
    state: RolloutState,
    analysis: AnalysisEvent | undefined,
    cause: 'advanced' | 'resumed',
  ): Promise<boolean> {
    const host = this.#host;
    const now = host.now();
    const next = state.stepIndex + 1;
    // The last step is 100 %: reaching it completes the rollout (with no stable traffic left, there is
    // nothing to compare against, so it would never be analysed anyway).
    const last = next >= rollout.steps.length - 1;
    const percentage = last ? 100 : rollout.steps[next]!;
    const gate = !last && rollout.pauseAt.includes(percentage);
    const done = await host.transition(
      flag,
      (s) => {
        if (!s || s.stepIndex !== state.stepIndex || s.stepStartedAt !== state.stepStartedAt)
          return undefined;
        const lastAnalysis = analysis ?? s.lastAnalysis;
        return last
          ? { state: { ...s, phase: 'complete', failures: 0, lastAnalysis }, percentage: 100 }
          : {
              state: {
                ...s,
                phase: gate ? 'paused' : 'progressing',
                stepIndex: next,
                stepStartedAt: now,
                failures: 0,
                lastAnalysis,
              },
              percentage,
            };
      },
      cause === 'advanced' ? LEADER : undefined,
    );
    if (!done) return false;
    const previousPercentage = rollout.steps[state.stepIndex] ?? 0;
    if (last) {
      this.#windows?.delete(flag);
      host.emitComplete({ flag, canaryVersionId: state.canaryVersionId });
    } else {
      this.#openWindow(flag, rollout);
      host.emitStep({
        flag,
        stepIndex: next,
        percentage,
        previousPercentage,
        canaryVersionId: state.canaryVersionId,
        cause,
      });
      if (gate)
        host.emitStep({
          flag,
          stepIndex: next,
          percentage,
          previousPercentage: percentage,
          canaryVersionId: state.canaryVersionId,
          cause: 'paused',
        });
    }
    return true;
  }

  /** A new step's data start from nothing; traffic in the warm-up is left out too. */
  #openWindow(flag: string, rollout: NormalizedRollout): void {
    if (!this.#windows) return;
    this.#windows.reset(flag);
    const pending = this.#warmups.get(flag);
    if (pending) clearTimeout(pending);
    if (rollout.warmupMs > 0) {
      const timer = setTimeout(() => {
        this.#warmups.delete(flag);
        this.#windows?.reset(flag);
      }, rollout.warmupMs);
      timer.unref();
      this.#warmups.set(flag, timer);
    }
  }

  /** A person's go: leaves a gate or a stall and moves to the next step now. */
  async promote(flag: string): Promise<boolean> {
    const config = this.#host.flags()[flag];
    const state = this.#host.state(flag);
    if (!config?.rollout || !state || (state.phase !== 'paused' && state.phase !== 'progressing'))
      return false;
    return this.#advance(flag, config.rollout, state, undefined, 'resumed');
  }

  /** Starts over from the first step: after a rollback, or to restart a rollout on purpose. */
  async restart(flag: string): Promise<boolean> {
    const config = this.#host.flags()[flag];
    if (!config?.rollout) return false;
    const rollout = config.rollout;
    const now = this.#host.now();
    const done = await this.#host.transition(flag, (s) => {
      const t = fresh(flag, rollout, now);
      return { ...t, state: { ...t.state, canaryVersionId: s?.canaryVersionId ?? t.state.canaryVersionId } };
    });
    if (done) {
      this.#openWindow(flag, rollout);
      this.#host.emitStep({
        flag,
        stepIndex: 0,
        percentage: rollout.steps[0]!,
        previousPercentage: 0,
        canaryVersionId: this.#host.state(flag)?.canaryVersionId ?? null,
        cause: 'resumed',
      });
    }
    return done;
  }

  /** Stops the timers and waits for an analysis in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const { timer } of this.#timers.values()) clearInterval(timer);
    for (const timer of this.#warmups.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#warmups.clear();
    await Promise.allSettled([...this.#ticks]);
  }
}
