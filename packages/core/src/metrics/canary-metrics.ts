import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CanaryConfigError } from '../config/errors.js';
import type { Version } from '../types.js';
import { FastHistogram } from './fast-histogram.js';

/** What one Canary contributes to the metrics of its registry, read at scrape time. */
export interface MetricsSource {
  forEachDecisionCount(visit: (flag: string, version: Version, reason: string, count: number) => void): void;
  forEachPercentage(visit: (flag: string, percentage: number) => void): void;
  forEachOverrideCount(visit: (source: string, outcome: string, count: number) => void): void;
  contextErrors(): number;
  forEachShadowCount(visit: (target: string, outcome: string, count: number) => void): void;
  forEachShadowInFlight(visit: (target: string, inFlight: number) => void): void;
  forEachFailover(visit: (flag: string, reason: string, count: number) => void): void;
  forEachRollout(visit: (flag: string, stepIndex: number, phase: string) => void): void;
  forEachAnalysisCount(visit: (flag: string, verdict: string, count: number) => void): void;
  forEachRecorderCount(visit: (outcome: string, count: number) => void): void;
  /** Optional so sources written before experiments existed still fit. */
  forEachExperimentCount?(visit: (experiment: string, outcome: string, count: number) => void): void;
}

export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/**
 * Buckets of `canary_kit_experiment_duration_seconds`: in-process functions take micro- to milliseconds,
 * well below the HTTP buckets' first 5 ms.
 */
export const EXPERIMENT_BUCKETS: readonly number[] = [
  0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5,
];
export const UNMATCHED_ROUTE = '(unmatched)';
/** Label order of `http_request_duration_seconds`. */
const REQUEST_LABELS = ['method', 'route', 'status_code', 'version'] as const;

/**
 * canary-kit's metrics on one prom-client Registry. Created once per registry and shared by every Canary
 * using it, so two instances (or two apps) on one registry never hit "already registered": counters
 * that canary-kit keeps as plain numbers on the request path are summed over all of them at scrape time.
 */
export class RegistryMetrics {
  readonly registry: Registry;
  readonly requestDuration: FastHistogram;
  /** Observed off the request path (when a shadow answer arrives), so prom-client's own histogram is fine. */
  readonly shadowDuration: Histogram<'target'>;
  /** Observed off the caller's path, once a candidate settled or timed out. */
  readonly experimentDuration: Histogram<'experiment' | 'side'>;
  readonly #sources = new Set<MetricsSource>();

  constructor(registry: Registry, buckets: readonly number[]) {
    this.registry = registry;
    const sources = this.#sources;
    this.requestDuration = new FastHistogram({
      name: 'http_request_duration_seconds',
      help: 'Duration of HTTP requests in seconds, by the version that served them',
      labelNames: REQUEST_LABELS,
      buckets,
      registry,
    });
    new Counter({
      name: 'canary_kit_decisions_total',
      help: 'Flag decisions, by flag, version and reason',
      labelNames: ['flag', 'version', 'reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources)
          s.forEachDecisionCount((flag, version, reason, n) => this.inc({ flag, version, reason }, n));
      },
    });
    new Gauge({
      name: 'canary_kit_flag_percentage',
      help: 'Share of identities a flag puts on the canary, in percent',
      labelNames: ['flag'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources) s.forEachPercentage((flag, percentage) => this.set({ flag }, percentage));
      },
    });
    new Counter({
      name: 'canary_kit_overrides_total',
      help: 'Override values seen in requests, by source and outcome (honoured, untrusted, invalid, expired, bad-signature)',
      labelNames: ['source', 'outcome'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources)
          s.forEachOverrideCount((source, outcome, n) => this.inc({ source, outcome }, n));
      },
    });
    this.shadowDuration = new Histogram({
      name: 'canary_kit_shadow_duration_seconds',
      help: 'Time for a shadow target to answer a mirrored request',
      labelNames: ['target'],
      buckets: [...buckets],
      registers: [registry],
    });
    new Counter({
      name: 'canary_kit_shadow_requests_total',
      help: 'Mirrored requests by target and outcome (match, mismatch, error, timeout, dropped, skipped)',
      labelNames: ['target', 'outcome'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources)
          s.forEachShadowCount((target, outcome, n) => this.inc({ target, outcome }, n));
      },
    });
    new Gauge({
      name: 'canary_kit_shadow_in_flight',
      help: 'Mirrored requests sent and not yet answered, by target',
      labelNames: ['target'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources) s.forEachShadowInFlight((target, n) => this.inc({ target }, n));
      },
    });
    new Counter({
      name: 'canary_kit_upstream_failovers_total',
      help: 'Canary requests served by the local stable handler because the upstream failed, by flag and reason',
      labelNames: ['flag', 'reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources) s.forEachFailover((flag, reason, n) => this.inc({ flag, reason }, n));
      },
    });
    new Gauge({
      name: 'canary_kit_rollout_step',
      help: 'Index of the step a flag rollout is on (0 = the first percentage)',
      labelNames: ['flag'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources) s.forEachRollout((flag, step) => this.set({ flag }, step));
      },
    });
    new Gauge({
      name: 'canary_kit_rollout_phase',
      help: 'A flag rollout phase: 1 for the current one (progressing, paused, complete, rolled-back)',
      labelNames: ['flag', 'phase'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources) {
          s.forEachRollout((flag, _step, current) => {
            for (const phase of ['progressing', 'paused', 'complete', 'rolled-back'])
              this.set({ flag, phase }, phase === current ? 1 : 0);
          });
        }
      },
    });
    new Counter({
      name: 'canary_kit_analysis_total',
      help: 'Canary analyses by flag and verdict (pass, fail, inconclusive)',
      labelNames: ['flag', 'verdict'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources) s.forEachAnalysisCount((flag, verdict, n) => this.inc({ flag, verdict }, n));
      },
    });
    new Counter({
      name: 'canary_kit_recorder_records_total',
      help: 'Sampled requests by what became of their record: written, dropped (full queue, closed) or error (redaction or disk failure)',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources) s.forEachRecorderCount((outcome, n) => this.inc({ outcome }, n));
      },
    });
    this.experimentDuration = new Histogram({
      name: 'canary_kit_experiment_duration_seconds',
      help: 'Time an experiment side took to return or settle, by experiment and side (control, candidate)',
      labelNames: ['experiment', 'side'],
      buckets: [...EXPERIMENT_BUCKETS],
      registers: [registry],
    });
    new Counter({
      name: 'canary_kit_experiment_total',
      help: 'Experiment calls by experiment and outcome (match, mismatch, candidate_error, timeout, dropped, skipped)',
      labelNames: ['experiment', 'outcome'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources)
          s.forEachExperimentCount?.((experiment, outcome, n) => this.inc({ experiment, outcome }, n));
      },
    });
    new Counter({
      name: 'canary_kit_context_errors_total',
      help: 'Requests whose context() function threw; they were served by stable',
      registers: [registry],
      collect() {
        this.reset();
        let total = 0;
        for (const s of sources) total += s.contextErrors();
        this.inc(total);
      },
    });
  }

  attach(source: MetricsSource): void {
    this.#sources.add(source);
  }

  detach(source: MetricsSource): void {
    this.#sources.delete(source);
  }

  /** Records one request. `route` is the route pattern, never the raw URL. */
  observeRequest(method: string, route: string, statusCode: number, version: string, seconds: number): void {
    this.requestDuration.observe(method, route, statusCodeLabel(statusCode), version, seconds);
  }
}

/** Status codes as label strings, without a String() allocation per request for the common ones. */
const STATUS_LABELS = Array.from({ length: 600 }, (_, i) => String(i));
function statusCodeLabel(code: number): string {
  return code >= 0 && code < 600 ? STATUS_LABELS[code | 0]! : String(code);
}

const byRegistry = new WeakMap<Registry, RegistryMetrics>();

/** The shared metrics of `registry`, creating them on first use. */
export function metricsFor(
  registry: Registry,
  buckets: readonly number[] = DEFAULT_BUCKETS,
): RegistryMetrics {
  let metrics = byRegistry.get(registry);
  if (metrics === undefined) {
    const taken = ['http_request_duration_seconds', 'canary_kit_decisions_total'].find((n) =>
      registry.getSingleMetric(n),
    );
    if (taken) {
      throw new CanaryConfigError([
        {
          path: 'metrics.registry',
          message: `already has a metric named ${taken} that canary-kit did not create; remove it (e.g. a second metrics plugin) or give canary-kit its own Registry`,
        },
      ]);
    }
    metrics = new RegistryMetrics(registry, buckets);
    byRegistry.set(registry, metrics);
  }
  return metrics;
}

export { Registry };
