import type { AnalysisWindows } from './window.js';

/**
 * What one version did in the analysed window. A source gives either a uniform sample of latencies (the
 * in-process windows) or latency quantiles without samples (a Prometheus source, from
 * `histogram_quantile`); the analysis tests samples and only compares quantiles (docs/analysis.md).
 */
export interface VersionSamples {
  /** Requests served by this version in the window. */
  readonly requests: number;
  /** Of those, responses with a 5xx status. */
  readonly errors: number;
  /** A uniform random sample of the requests' latencies, in seconds. */
  readonly latencySamples?: Float64Array | readonly number[];
  /** Latency quantiles in seconds, for sources without samples. Ignored when there are enough samples. */
  readonly p50?: number;
  readonly p95?: number;
  readonly p99?: number;
}

/** The two versions to compare: the analysis only ever compares rates and distributions, never counts. */
export interface AnalysisInput {
  readonly stable: VersionSamples;
  readonly canary: VersionSamples;
}

/** One flag's data as a source saw it. */
export interface AnalysisSnapshot extends AnalysisInput {
  readonly flag: string;
  /** Start of the data, ms since the epoch: the window's last reset, or the start of the source's query. */
  readonly from: number;
  /** When the snapshot was taken, ms since the epoch. */
  readonly to: number;
}

/**
 * Where the rollout controller reads a flag's per-version data each interval. The default is
 * {@link InProcessSource}; a Prometheus-backed source (fleets) implements the same interface.
 */
export interface AnalysisSource {
  /** For events and messages: `in-process`, `prometheus`. */
  readonly kind: string;
  /**
   * The flag's data since `sinceMs` (the start of the current step). Rejects only when the backing is
   * unreachable; the controller then treats the interval as inconclusive.
   */
  snapshot(flag: string, sinceMs: number): Promise<AnalysisSnapshot>;
}

/**
 * The in-process source: the windows fed by the same observations as the version-labelled histogram.
 * In-process windows cannot be sliced by time, so `sinceMs` is not applied: a window holds everything since
 * its last `reset`, which the controller calls when a step starts; `from` says where the data begins.
 */
export class InProcessSource implements AnalysisSource {
  readonly kind = 'in-process';
  readonly windows: AnalysisWindows;

  constructor(windows: AnalysisWindows) {
    this.windows = windows;
  }

  snapshot(flag: string, _sinceMs: number): Promise<AnalysisSnapshot> {
    return Promise.resolve(this.windows.snapshot(flag));
  }
}
