// The demo's picture of the rollout, built only from what canary-kit reports: its events (step, analysis,
// rollback, complete, mismatch, error) and its counters. The same events arrive in-process (one app) or over
// IPC from the replicas (--fleet), so both modes share this file.

import { count, ms, pct } from './format.mjs';
import { FLAG } from './shop.mjs';

export function createDemoState() {
  return {
    percentage: 0,
    phase: 'starting',
    stepIndex: 0,
    stepsReached: [],
    analyses: [],
    rollback: null,
    complete: null,
    shadow: { match: 0, mismatch: 0, error: 0, timeout: 0, dropped: 0, skipped: 0 },
    /** Differing paths of shadow mismatches: path → { count, example }. Bounded to 20 paths. */
    mismatchPaths: new Map(),
    errors: { count: 0, last: null },
  };
}

const MAX_PATHS = 20;

/** A short line for an analysis: verdict, the canary and stable figures, and the reason. */
export function describeAnalysis(a) {
  const side = (s) => `${count(s.requests)} req, ${pct(s.errorRate, 2)} errors, p95 ${ms(s.p95)}`;
  return `${a.verdict} at ${a.percentage} % — canary ${side(a.canary)} | stable ${side(a.stable)}`;
}

/**
 * Applies one canary-kit event to the state and appends what the live view and the report show to
 * `timeline.events`. `at` is ms since the demo started.
 */
export function applyEvent(state, timeline, kind, event, at) {
  const log = (type, text, extra = {}) => timeline.events.push({ at, type, text, ...extra });
  switch (kind) {
    case 'step': {
      if (event.flag !== FLAG) return;
      state.percentage = event.percentage;
      state.stepIndex = event.stepIndex;
      state.phase = event.cause === 'paused' ? 'paused' : 'progressing';
      if (!state.stepsReached.includes(event.percentage)) state.stepsReached.push(event.percentage);
      const how =
        event.cause === 'started'
          ? 'rollout started at'
          : event.cause === 'advanced'
            ? 'advanced'
            : event.cause;
      const text =
        event.cause === 'started'
          ? `step: ${how} ${event.percentage} %`
          : `step: ${event.previousPercentage} % → ${event.percentage} % (${how})`;
      log('step', text, { percentage: event.percentage });
      return;
    }
    case 'analysis': {
      if (event.flag !== FLAG) return;
      const summary = {
        at,
        verdict: event.verdict,
        reason: event.reason,
        percentage: event.percentage,
        source: event.source,
        stable: pick(event.stable),
        canary: pick(event.canary),
        failed: [...(event.failed ?? [])],
      };
      state.analyses.push(summary);
      log(
        'analysis',
        `analysis: ${describeAnalysis(summary)}${event.verdict === 'pass' ? '' : ` — ${event.reason}`}`,
        {
          verdict: event.verdict,
        },
      );
      return;
    }
    case 'rollback': {
      if (event.flag !== FLAG) return;
      state.phase = 'rolled-back';
      state.rollback = {
        at,
        percentage: event.percentage,
        reason: event.reason,
        analysis: event.analysis
          ? {
              verdict: event.analysis.verdict,
              reason: event.analysis.reason,
              stable: pick(event.analysis.stable),
              canary: pick(event.analysis.canary),
              failed: [...(event.analysis.failed ?? [])],
              checks: (event.analysis.checks ?? []).map((c) => ({
                name: c.name,
                status: c.status,
                observed: c.observed,
                threshold: c.threshold,
                pValue: c.pValue,
              })),
            }
          : null,
      };
      state.percentage = 0;
      log('rollback', `ROLLBACK at ${event.percentage} % → 0 %: ${event.reason}`, {
        percentage: event.percentage,
      });
      return;
    }
    case 'complete': {
      if (event.flag !== FLAG) return;
      state.phase = 'complete';
      state.complete = { at };
      log('complete', 'rollout complete: 100 % on v2');
      return;
    }
    case 'mismatch': {
      for (const d of event.differences ?? []) {
        const known = state.mismatchPaths.get(d.path);
        if (known) {
          known.count++;
          continue;
        }
        if (state.mismatchPaths.size >= MAX_PATHS) continue;
        state.mismatchPaths.set(d.path, {
          count: 1,
          example: { url: event.url, primary: d.primary, candidate: d.candidate, kind: d.kind },
        });
        log(
          'mismatch',
          `shadow ${event.target}: ${event.method} ${event.url} differs at ${d.path}: ${JSON.stringify(d.primary)} → ${JSON.stringify(d.candidate)}`,
        );
      }
      return;
    }
    case 'error': {
      state.errors.count++;
      state.errors.last = event?.message ?? String(event);
      if (state.errors.count <= 5) log('error', `canary-kit error: ${state.errors.last}`);
      return;
    }
    default:
  }
}

function pick(side) {
  if (!side) return { requests: 0, errors: 0, errorRate: null, p95: null };
  return {
    requests: side.requests,
    errors: side.errors,
    errorRate: side.errorRate ?? (side.requests > 0 ? side.errors / side.requests : null),
    p50: side.p50 ?? null,
    p95: side.p95 ?? null,
    p99: side.p99 ?? null,
  };
}

/** Subscribes to a Canary's events; returns a function that reads its live status into the state. */
export function attachCanary(canary, state, timeline, clock) {
  for (const kind of ['step', 'analysis', 'rollback', 'complete', 'mismatch', 'error']) {
    canary.on(kind, (event) => applyEvent(state, timeline, kind, event, clock()));
  }
  return () => readStatus(canary, state);
}

/** The live figures a Canary knows: the flag's percentage, the rollout phase and the shadow counters. */
export function statusOf(canary) {
  const rollout = canary.rolloutState(FLAG);
  return {
    percentage: canary.getFlag(FLAG)?.percentage ?? 0,
    phase: rollout?.phase ?? 'starting',
    stepIndex: rollout?.stepIndex ?? 0,
    shadow: canary.stats().shadow,
  };
}

function readStatus(canary, state) {
  mergeStatus(state, [statusOf(canary)]);
}

/** Folds the status of one or more apps (replicas) into the state: shadow counts are summed. */
export function mergeStatus(state, statuses) {
  if (statuses.length === 0) return;
  const first = statuses[0];
  state.percentage = first.percentage;
  if (state.phase !== 'rolled-back' && state.phase !== 'complete') state.phase = first.phase;
  state.stepIndex = first.stepIndex;
  const shadow = { match: 0, mismatch: 0, error: 0, timeout: 0, dropped: 0, skipped: 0 };
  for (const s of statuses) {
    for (const counts of Object.values(s.shadow ?? {})) {
      for (const key of Object.keys(shadow)) shadow[key] += counts[key] ?? 0;
    }
  }
  state.shadow = shadow;
}

/** Match share of the compared shadow copies (errors, timeouts, drops are not comparisons). */
export function matchRate(shadow) {
  const compared = shadow.match + shadow.mismatch;
  return compared > 0 ? shadow.match / compared : null;
}
