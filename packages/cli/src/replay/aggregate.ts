import { type Difference, fieldOf, type ResponseDiff } from '@canary-kit/core';
import { LatencyHistogram } from './histogram.js';

/**
 * Everything a replay learns, in bounded memory: totals, per-route counts and latency histograms (at most
 * `MAX_ROUTES` routes; the rest share `(other routes)`), how often each field differed, and a few samples.
 */

export const MAX_ROUTES = 1_000;
export const OTHER_ROUTES = '(other routes)';
export const MAX_FIELDS = 10_000;
export const MAX_SAMPLES = 20;
export const MAX_SAMPLE_DIFFERENCES = 20;
export const MAX_MALFORMED_KEPT = 1_000;
export const MAX_ERROR_SAMPLES = 20;
/** Routes remembered per field (the field's count covers every route). */
export const MAX_ROUTES_PER_FIELD = 100;

export type Side = 'baseline' | 'candidate';

/** Where a request came from. */
export interface Origin {
  readonly file: string;
  readonly line: number;
  readonly method: string;
  readonly url: string;
  readonly route: string;
}

export interface RouteStats {
  readonly route: string;
  requests: number;
  match: number;
  mismatch: number;
  skipped: number;
  errors: number;
  statusMismatches: number;
  readonly baseline: LatencyHistogram;
  readonly candidate: LatencyHistogram;
}

export interface Sample extends Origin {
  readonly baselineStatus: number;
  readonly candidateStatus: number;
  readonly fields: readonly string[];
  readonly differences: readonly Difference[];
  /** More differences than shown. */
  readonly truncated: boolean;
}

/** Why one side gave no answer: the client's failure kind (`timeout`, `connect`, `reset`, …) and message. */
export interface Failure {
  readonly side: Side;
  readonly kind: string;
  readonly message: string;
}

export interface ErrorSample extends Origin, Failure {}

export interface Malformed {
  readonly file: string;
  readonly line: number;
  readonly error: string;
}

export interface FieldStats {
  readonly field: string;
  /** Requests that differed here (once per request, however often within it). */
  count: number;
  readonly routes: Map<string, number>;
}

export class ReplayAggregate {
  /** Valid records read. */
  records = 0;
  /** Records not replayed: method filtered out, request body truncated, no recorded response (target mode). */
  readonly notReplayed = new Map<string, number>();
  malformedCount = 0;
  readonly malformed: Malformed[] = [];
  /** Requests sent (a pair counts once). */
  replayed = 0;
  match = 0;
  mismatch = 0;
  /** Compared, but the comparison could not conclude (truncated body, budget, …). */
  skipped = 0;
  readonly skipReasons = new Map<string, number>();
  /** Requests where a side did not answer (timeout, connection refused, …): no comparison. */
  errors = 0;
  readonly errorKinds: Record<Side, Map<string, number>> = { baseline: new Map(), candidate: new Map() };
  readonly errorSamples: ErrorSample[] = [];
  statusMismatches = 0;
  /** Differences past the differ's `maxDifferences`, not looked for. */
  truncatedDiffs = 0;
  readonly routes = new Map<string, RouteStats>();
  readonly fields = new Map<string, FieldStats>();
  droppedFields = 0;
  readonly samples: Sample[] = [];
  readonly #sampled = new Set<string>();
  readonly baseline = new LatencyHistogram();
  readonly candidate = new LatencyHistogram();

  skip(reason: string): void {
    this.notReplayed.set(reason, (this.notReplayed.get(reason) ?? 0) + 1);
  }

  addMalformed(entry: Malformed): void {
    this.malformedCount++;
    if (this.malformed.length < MAX_MALFORMED_KEPT) this.malformed.push(entry);
  }

  route(name: string): RouteStats {
    let stats = this.routes.get(name);
    if (stats === undefined) {
      const key = this.routes.size >= MAX_ROUTES ? OTHER_ROUTES : name;
      stats = this.routes.get(key);
      if (stats === undefined) {
        stats = {
          route: key,
          requests: 0,
          match: 0,
          mismatch: 0,
          skipped: 0,
          errors: 0,
          statusMismatches: 0,
          baseline: new LatencyHistogram(),
          candidate: new LatencyHistogram(),
        };
        this.routes.set(key, stats);
      }
    }
    return stats;
  }

  latency(route: RouteStats, side: Side, ms: number | undefined): void {
    if (ms === undefined) return;
    this[side].add(ms);
    route[side].add(ms);
  }

  /** A request one side (or both) did not answer: counted once, each side's failure by kind. */
  failed(origin: Origin, route: RouteStats, failures: readonly Failure[]): void {
    this.errors++;
    route.errors++;
    for (const { side, kind, message } of failures) {
      const kinds = this.errorKinds[side];
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      if (this.errorSamples.length < MAX_ERROR_SAMPLES)
        this.errorSamples.push({ ...origin, side, kind, message });
    }
  }

  compared(
    origin: Origin,
    route: RouteStats,
    diff: ResponseDiff,
    baselineStatus: number,
    candidateStatus: number,
  ): void {
    if (diff.truncated) this.truncatedDiffs++;
    if (baselineStatus !== candidateStatus) {
      this.statusMismatches++;
      route.statusMismatches++;
    }
    if (diff.outcome === 'match') {
      this.match++;
      route.match++;
      return;
    }
    if (diff.outcome === 'skipped') {
      this.skipped++;
      route.skipped++;
      const reason = diff.reason ?? 'error';
      this.skipReasons.set(reason, (this.skipReasons.get(reason) ?? 0) + 1);
      return;
    }
    this.mismatch++;
    route.mismatch++;
    const fields: string[] = [];
    for (const difference of diff.differences) {
      const field = fieldOf(difference.path);
      if (fields.includes(field)) continue;
      fields.push(field);
      let stats = this.fields.get(field);
      if (stats === undefined) {
        if (this.fields.size >= MAX_FIELDS) {
          this.droppedFields++;
          continue;
        }
        stats = { field, count: 0, routes: new Map() };
        this.fields.set(field, stats);
      }
      stats.count++;
      const seen = stats.routes.get(route.route);
      if (seen !== undefined || stats.routes.size < MAX_ROUTES_PER_FIELD)
        stats.routes.set(route.route, (seen ?? 0) + 1);
    }
    if (diff.reason !== undefined)
      this.skipReasons.set(diff.reason, (this.skipReasons.get(diff.reason) ?? 0) + 1);
    // One sample per route and set of differing fields, so the samples show every kind of difference.
    if (this.samples.length < MAX_SAMPLES) {
      const signature = `${route.route}\n${[...fields].sort().join('\n')}`;
      if (!this.#sampled.has(signature)) {
        this.#sampled.add(signature);
        this.samples.push({
          ...origin,
          baselineStatus,
          candidateStatus,
          fields,
          differences: diff.differences.slice(0, MAX_SAMPLE_DIFFERENCES),
          truncated: diff.truncated || diff.differences.length > MAX_SAMPLE_DIFFERENCES,
        });
      }
    }
  }

  /** Match / (match + mismatch + errors), in percent; null when nothing was concluded. */
  get matchRate(): number | null {
    const decided = this.match + this.mismatch + this.errors;
    return decided === 0 ? null : (this.match * 100) / decided;
  }
}
