import type { Difference } from '@canary-kit/core';
import type { ErrorSample, Malformed, Sample } from '../replay/aggregate.js';
import { type LatencySummary, logEdges } from '../replay/histogram.js';
import type { ReplayOptions } from '../replay/options.js';
import type { ReplayRun } from '../replay/run.js';

/**
 * The replay report, as `--json` writes it and the HTML report and the terminal summary read it. Rates are
 * percentages; latencies milliseconds. `matchRate` is match / (match + mismatch + errors): a request a side
 * did not answer counts against it, a comparison that could not conclude (`skipped`) does not.
 */
export interface ReplayReport {
  readonly tool: 'canary-kit replay';
  readonly reportVersion: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Stopped early (Ctrl-C): the totals cover what was replayed, and the gate fails. */
  readonly interrupted: boolean;
  readonly mode: 'pair' | 'target';
  /** The baseline URL, or `recording` with --target. */
  readonly baseline: string;
  readonly candidate: string;
  readonly files: readonly string[];
  readonly options: {
    readonly concurrency: number;
    readonly rate: number | null;
    readonly speed: number | null;
    readonly timeoutMs: number;
    readonly methods: readonly string[] | 'ALL';
    readonly ignore: readonly string[];
    readonly ignoreOrder: boolean;
    readonly tolerance: unknown;
    readonly failUnder: number;
  };
  readonly totals: {
    /** Valid records read. */
    readonly records: number;
    readonly malformed: number;
    /** Valid records not sent, by reason. */
    readonly notReplayed: Readonly<Record<string, number>>;
    readonly replayed: number;
    readonly match: number;
    readonly mismatch: number;
    readonly skipped: number;
    readonly errors: number;
    readonly statusMismatches: number;
  };
  readonly matchRate: number | null;
  readonly gate: { readonly failUnder: number; readonly passed: boolean };
  readonly latency: {
    readonly baseline: LatencySummary;
    readonly candidate: LatencySummary;
    /** candidate / baseline per quantile; null when a side has none. */
    readonly ratio: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
    /** Log-spaced bins for the distribution chart: `edgesMs` has one more entry than each count list. */
    readonly histogram: {
      readonly edgesMs: readonly number[];
      readonly baseline: readonly number[];
      readonly candidate: readonly number[];
    };
  };
  readonly routes: readonly RouteReport[];
  /** Fields that differed, most often first; `count` requests, `rate` percent of compared requests. */
  readonly fields: readonly FieldReport[];
  /** Fields not tracked past the limit, counted per occurrence. */
  readonly droppedFields: number;
  /** Why comparisons could not conclude (`truncated`, `budget`, …). */
  readonly skipReasons: Readonly<Record<string, number>>;
  /** Requests whose differences went past the differ's limit (the rest were not looked for). */
  readonly truncatedDiffs: number;
  readonly errors: {
    readonly baseline: Readonly<Record<string, number>>;
    readonly candidate: Readonly<Record<string, number>>;
    readonly samples: readonly ErrorSample[];
  };
  /** Lines skipped as not valid records: all counted, the first 1,000 listed. */
  readonly malformed: { readonly count: number; readonly lines: readonly Malformed[] };
  readonly samples: readonly SampleReport[];
}

export interface RouteReport {
  readonly route: string;
  readonly requests: number;
  readonly match: number;
  readonly mismatch: number;
  readonly skipped: number;
  readonly errors: number;
  readonly statusMismatches: number;
  readonly matchRate: number | null;
  readonly baseline: {
    readonly p50: number | null;
    readonly p95: number | null;
    readonly p99: number | null;
  };
  readonly candidate: {
    readonly p50: number | null;
    readonly p95: number | null;
    readonly p99: number | null;
  };
}

export interface FieldReport {
  readonly field: string;
  readonly count: number;
  readonly rate: number;
  /** Requests that differed here, per route, most first. */
  readonly routes: Readonly<Record<string, number>>;
}

export interface SampleReport extends Omit<Sample, 'differences'> {
  readonly differences: readonly Difference[];
}

const HISTOGRAM_BINS = 30;

export function buildReport(options: ReplayOptions, run: ReplayRun): ReplayReport {
  const a = run.aggregate;
  const matchRate = a.matchRate;
  const compared = a.match + a.mismatch + a.skipped;
  const edges = logEdges([a.baseline, a.candidate], HISTOGRAM_BINS);
  const baseline = a.baseline.summary();
  const candidate = a.candidate.summary();
  return {
    tool: 'canary-kit replay',
    reportVersion: 1,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    durationMs: run.finishedAt.getTime() - run.startedAt.getTime(),
    interrupted: run.interrupted,
    mode: options.mode,
    baseline: options.baseline ?? 'recording',
    candidate: options.candidate,
    files: options.files,
    options: {
      concurrency: options.concurrency,
      rate: options.rate ?? null,
      speed: options.speed ?? null,
      timeoutMs: options.timeoutMs,
      methods: options.methods === undefined ? 'ALL' : [...options.methods],
      ignore: options.diff.ignore ?? [],
      ignoreOrder: options.diff.arrayOrder === 'unordered',
      tolerance: options.diff.tolerance ?? 0,
      failUnder: options.failUnder,
    },
    totals: {
      records: a.records,
      malformed: a.malformedCount,
      notReplayed: Object.fromEntries(a.notReplayed),
      replayed: a.replayed,
      match: a.match,
      mismatch: a.mismatch,
      skipped: a.skipped,
      errors: a.errors,
      statusMismatches: a.statusMismatches,
    },
    matchRate,
    gate: { failUnder: options.failUnder, passed: !run.interrupted && passes(matchRate, options.failUnder) },
    latency: {
      baseline,
      candidate,
      ratio: {
        p50: ratio(candidate.p50, baseline.p50),
        p95: ratio(candidate.p95, baseline.p95),
        p99: ratio(candidate.p99, baseline.p99),
      },
      histogram: {
        edgesMs: edges ?? [],
        baseline: edges ? a.baseline.bin(edges) : [],
        candidate: edges ? a.candidate.bin(edges) : [],
      },
    },
    routes: [...a.routes.values()]
      .sort((x, y) => y.requests - x.requests || x.route.localeCompare(y.route))
      .map((r) => {
        const decided = r.match + r.mismatch + r.errors;
        return {
          route: r.route,
          requests: r.requests,
          match: r.match,
          mismatch: r.mismatch,
          skipped: r.skipped,
          errors: r.errors,
          statusMismatches: r.statusMismatches,
          matchRate: decided === 0 ? null : (r.match * 100) / decided,
          baseline: quantiles(r.baseline.summary()),
          candidate: quantiles(r.candidate.summary()),
        };
      }),
    fields: [...a.fields.values()]
      .sort((x, y) => y.count - x.count || x.field.localeCompare(y.field))
      .map((f) => ({
        field: f.field,
        count: f.count,
        rate: compared === 0 ? 0 : (f.count * 100) / compared,
        routes: Object.fromEntries([...f.routes].sort((x, y) => y[1] - x[1])),
      })),
    droppedFields: a.droppedFields,
    skipReasons: Object.fromEntries(a.skipReasons),
    truncatedDiffs: a.truncatedDiffs,
    errors: {
      baseline: Object.fromEntries(a.errorKinds.baseline),
      candidate: Object.fromEntries(a.errorKinds.candidate),
      samples: a.errorSamples,
    },
    malformed: { count: a.malformedCount, lines: a.malformed },
    samples: a.samples,
  };
}

/** The gate: passes at or above `failUnder`; a replay that concluded nothing (or was interrupted) never does. */
export function passes(matchRate: number | null, failUnder: number): boolean {
  return matchRate !== null && matchRate >= failUnder;
}

function ratio(candidate: number | null, baseline: number | null): number | null {
  return candidate === null || baseline === null || baseline === 0 ? null : candidate / baseline;
}

function quantiles(s: LatencySummary) {
  return { p50: s.p50, p95: s.p95, p99: s.p99 };
}

/** The report as JSON text; values the differ previews (bigints and the like) are made printable. */
export function reportJson(report: ReplayReport): string {
  return `${JSON.stringify(report, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`;
}
