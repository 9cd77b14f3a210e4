import type { AnalysisSource } from '../analysis/source.js';
import { type AnalysisThresholds, resolveThresholds } from '../analysis/thresholds.js';
import type { WebhookConfig } from '../rollout/webhook.js';
import { CanaryConfigError, type ConfigIssue } from './errors.js';
import { childPath } from './path.js';
import { describe, isPlainObject, positiveInteger, unknownKeys, validateUrl } from './validate-helpers.js';

type Issues = ConfigIssue[];

/** A flag's progressive rollout: run by the rollout controller, stored with the flag (so every replica has it). */
export interface RolloutConfig {
  /** Percentages, increasing, the last one 100. Default `[1, 5, 10, 25, 50, 100]`. */
  steps?: readonly number[];
  /** Time between analyses (and the least time on a step). Default 60,000 ms; at least 1,000. */
  intervalMs?: number;
  /** Traffic right after a step change is left out of its analysis for this long. Default 0. */
  warmupMs?: number;
  /** Requests each version needs in a step's window before a verdict (otherwise the step holds). Default 50. */
  minRequests?: number;
  /** A step still inconclusive after this long pauses the rollout for a person (never rolls it back). */
  maxStepDurationMs?: number;
  /** Manual gates: on reaching one of these percentages the rollout pauses until `canary.promote(flag)`. */
  pauseAt?: readonly number[];
  /** Failed analyses in a row before a rollback. Default 2. */
  failureLimit?: number;
  /** Analysis thresholds over the defaults (docs/analysis.md). */
  thresholds?: Partial<AnalysisThresholds>;
  /** The canary build being rolled out: a new id starts a fresh rollout, even after a rollback. */
  canaryVersionId?: string;
}

export interface NormalizedRollout {
  readonly steps: readonly number[];
  readonly intervalMs: number;
  readonly warmupMs: number;
  readonly maxStepDurationMs: number | undefined;
  readonly pauseAt: readonly number[];
  readonly failureLimit: number;
  readonly thresholds: AnalysisThresholds;
  readonly canaryVersionId: string | undefined;
}

export const DEFAULT_STEPS: readonly number[] = [1, 5, 10, 25, 50, 100];

const KEYS = new Set([
  'steps',
  'intervalMs',
  'warmupMs',
  'minRequests',
  'maxStepDurationMs',
  'pauseAt',
  'failureLimit',
  'thresholds',
  'canaryVersionId',
]);

function percentList(value: unknown, path: string, issues: Issues): number[] | undefined {
  if (!Array.isArray(value)) {
    issues.push({ path, message: `must be an array of percentages, got ${describe(value)}` });
    return undefined;
  }
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      v <= 0 ||
      v > 100 ||
      Math.abs(Math.round(v * 100) - v * 100) > 1e-6
    ) {
      issues.push({
        path: childPath(path, i),
        message: 'must be a percentage above 0 and at most 100, in steps of 0.01',
      });
      return undefined;
    }
    out.push(v);
  }
  return out;
}

/** Validates `flags.<key>.rollout`. */
export function validateRollout(value: unknown, path: string, issues: Issues): NormalizedRollout | undefined {
  if (!isPlainObject(value)) {
    issues.push({ path, message: `must be an object, got ${describe(value)}` });
    return undefined;
  }
  const before = issues.length;
  unknownKeys(value, KEYS, path, issues);
  const at = (k: string) => childPath(path, k);
  let steps: readonly number[] = DEFAULT_STEPS;
  if (value.steps !== undefined) {
    const list = percentList(value.steps, at('steps'), issues);
    if (list) {
      if (list.length === 0) issues.push({ path: at('steps'), message: 'must not be empty' });
      else if (list.some((s, i) => i > 0 && s <= list[i - 1]!))
        issues.push({ path: at('steps'), message: 'must be increasing' });
      else if (list.at(-1) !== 100) issues.push({ path: at('steps'), message: 'must end at 100' });
      else steps = list;
    }
  }
  const intervalMs = positiveInteger(value.intervalMs, 60_000, at('intervalMs'), issues, 86_400_000);
  if (intervalMs < 1000) issues.push({ path: at('intervalMs'), message: 'must be at least 1000 (1 s)' });
  let warmupMs = 0;
  if (value.warmupMs !== undefined) {
    if (typeof value.warmupMs !== 'number' || !Number.isInteger(value.warmupMs) || value.warmupMs < 0) {
      issues.push({ path: at('warmupMs'), message: 'must be a whole number of milliseconds, 0 or more' });
    } else warmupMs = value.warmupMs;
  }
  const maxStepDurationMs =
    value.maxStepDurationMs === undefined
      ? undefined
      : positiveInteger(value.maxStepDurationMs, 0, at('maxStepDurationMs'), issues);
  const pauseAt =
    value.pauseAt === undefined ? [] : (percentList(value.pauseAt, at('pauseAt'), issues) ?? []);
  pauseAt.forEach((p, i) => {
    if (!steps.includes(p))
      issues.push({
        path: childPath(at('pauseAt'), i),
        message: `must be one of the steps (${steps.join(', ')})`,
      });
  });
  const failureLimit = positiveInteger(value.failureLimit, 2, at('failureLimit'), issues, 1000);
  let thresholds: AnalysisThresholds | undefined;
  try {
    const input = isPlainObject(value.thresholds) ? { ...value.thresholds } : (value.thresholds ?? {});
    // `minRequests` is a rollout option too (the issue names it there); it feeds the analysis.
    if (value.minRequests !== undefined && isPlainObject(input))
      (input as Record<string, unknown>).minRequests = value.minRequests;
    thresholds = resolveThresholds(input, at('thresholds'));
  } catch (error) {
    if (!(error instanceof CanaryConfigError)) throw error;
    for (const issue of error.issues) {
      issues.push(
        issue.path.endsWith('.minRequests') && value.minRequests !== undefined
          ? { ...issue, path: at('minRequests') }
          : issue,
      );
    }
  }
  let canaryVersionId: string | undefined;
  if (value.canaryVersionId !== undefined) {
    if (
      typeof value.canaryVersionId !== 'string' ||
      value.canaryVersionId === '' ||
      value.canaryVersionId.length > 200
    ) {
      issues.push({
        path: at('canaryVersionId'),
        message: 'must be a non-empty string (a build or image id)',
      });
    } else canaryVersionId = value.canaryVersionId;
  }
  if (issues.length > before || !thresholds) return undefined;
  return {
    steps,
    intervalMs,
    warmupMs,
    maxStepDurationMs,
    pauseAt,
    failureLimit,
    thresholds,
    canaryVersionId,
  };
}

/** The process's part in rollouts (`createCanary({ rollout })`); the plans themselves live on the flags. */
export interface RolloutRuntimeConfig {
  /** Run the rollout controller in this process. Default true. */
  controller?: boolean;
  /** Where analyses read per-version data. Default: in-process windows fed by this process's requests. */
  source?: AnalysisSource;
  /** POST every step, promote, rollback, complete and failed analysis here. */
  webhook?: WebhookConfig;
  /** Fleets: only the leader runs analyses (the Redis store's lease provides one). Default: always. */
  isLeader?: () => boolean | Promise<boolean>;
}

export interface NormalizedRolloutRuntime {
  readonly controller: boolean;
  readonly source: AnalysisSource | undefined;
  readonly webhook: WebhookConfig | undefined;
  readonly isLeader: (() => boolean | Promise<boolean>) | undefined;
}

export function validateRolloutRuntime(value: unknown, issues: Issues): NormalizedRolloutRuntime {
  const none: NormalizedRolloutRuntime = {
    controller: true,
    source: undefined,
    webhook: undefined,
    isLeader: undefined,
  };
  if (value === undefined) return none;
  const path = 'rollout';
  if (!isPlainObject(value)) {
    issues.push({
      path,
      message: `must be an object { controller, source, webhook, isLeader }, got ${describe(value)}`,
    });
    return none;
  }
  unknownKeys(value, new Set(['controller', 'source', 'webhook', 'isLeader']), path, issues);
  let controller = true;
  if (value.controller !== undefined) {
    if (typeof value.controller !== 'boolean')
      issues.push({ path: childPath(path, 'controller'), message: 'must be a boolean' });
    else controller = value.controller;
  }
  let source: AnalysisSource | undefined;
  if (value.source !== undefined) {
    const ok =
      value.source !== null &&
      typeof value.source === 'object' &&
      typeof (value.source as AnalysisSource).snapshot === 'function';
    if (!ok)
      issues.push({
        path: childPath(path, 'source'),
        message: 'must implement the analysis source interface: snapshot(flag, sinceMs)',
      });
    else source = value.source as AnalysisSource;
  }
  let webhook: WebhookConfig | undefined;
  if (value.webhook !== undefined) {
    const w = value.webhook;
    const at = childPath(path, 'webhook');
    if (!isPlainObject(w)) issues.push({ path: at, message: 'must be { url, timeoutMs?, headers? }' });
    else {
      unknownKeys(w, new Set(['url', 'timeoutMs', 'headers']), at, issues);
      const url = validateUrl(w.url, childPath(at, 'url'), issues);
      const timeoutMs = positiveInteger(w.timeoutMs, 5000, childPath(at, 'timeoutMs'), issues, 600_000);
      const headersOk =
        w.headers === undefined ||
        (isPlainObject(w.headers) && Object.values(w.headers).every((h) => typeof h === 'string'));
      if (!headersOk)
        issues.push({ path: childPath(at, 'headers'), message: 'must map header names to strings' });
      if (url && headersOk)
        webhook = { url, timeoutMs, headers: w.headers as Record<string, string> | undefined };
    }
  }
  let isLeader: NormalizedRolloutRuntime['isLeader'];
  if (value.isLeader !== undefined) {
    if (typeof value.isLeader !== 'function')
      issues.push({ path: childPath(path, 'isLeader'), message: 'must be a function () => boolean' });
    else isLeader = value.isLeader as NormalizedRolloutRuntime['isLeader'];
  }
  return { controller, source, webhook, isLeader };
}
