import type { Version } from '../types.js';
import type { Random } from './random.js';
import type { AnalysisSnapshot, VersionSamples } from './source.js';

/** Latencies kept per version: enough for a stable p99 (20 samples above it) and a sharp Mann–Whitney test. */
export const DEFAULT_RESERVOIR_SIZE = 2000;
/** Flags with an open window at once; each costs two reservoirs (32 KB at the default size). */
export const DEFAULT_MAX_WINDOWS = 256;

/**
 * One version's share of a window: request and 5xx counts, and a uniform sample of latencies kept by
 * reservoir sampling (Vitter's algorithm R): after n observations every one of them is in the reservoir
 * with the same probability capacity / n, so quantiles and rank tests on it are unbiased whatever the
 * traffic. Recording is O(1) and allocates nothing; the reservoir is allocated once.
 */
export class VersionWindow {
  #requests = 0;
  #errors = 0;
  /** Latencies offered to the reservoir (requests with a usable latency). */
  #seen = 0;
  readonly #reservoir: Float64Array;
  readonly #random: Random;

  constructor(capacity: number = DEFAULT_RESERVOIR_SIZE, random: Random = Math.random) {
    this.#reservoir = new Float64Array(capacity);
    this.#random = random;
  }

  get requests(): number {
    return this.#requests;
  }

  get errors(): number {
    return this.#errors;
  }

  /** Latencies held: min(requests with a latency, capacity). */
  get sampled(): number {
    return Math.min(this.#seen, this.#reservoir.length);
  }

  /**
   * One request. A latency that is not a finite non-negative number (a clock glitch) still counts the
   * request and its status but stays out of the sample.
   */
  record(isError: boolean, seconds: number): void {
    this.#requests++;
    if (isError) this.#errors++;
    if (!(seconds >= 0 && seconds < Number.POSITIVE_INFINITY)) return;
    const seen = this.#seen++;
    const reservoir = this.#reservoir;
    if (seen < reservoir.length) {
      reservoir[seen] = seconds;
      return;
    }
    const slot = Math.floor(this.#random() * (seen + 1));
    if (slot < reservoir.length) reservoir[slot] = seconds;
  }

  reset(): void {
    this.#requests = 0;
    this.#errors = 0;
    this.#seen = 0;
  }

  /** A copy of the counts and the sample (allocates here, never on `record`). */
  samples(): VersionSamples {
    return {
      requests: this.#requests,
      errors: this.#errors,
      latencySamples: this.#reservoir.slice(0, this.sampled),
    };
  }
}

class FlagWindow {
  startedAt: number;
  readonly stable: VersionWindow;
  readonly canary: VersionWindow;

  constructor(startedAt: number, capacity: number, random: Random) {
    this.startedAt = startedAt;
    this.stable = new VersionWindow(capacity, random);
    this.canary = new VersionWindow(capacity, random);
  }
}

export interface AnalysisWindowsOptions {
  /** Latency samples kept per version. Default 2,000. */
  readonly reservoirSize?: number;
  /** The reservoir's random source; inject a seeded one (`seededRandom`) for reproducible tests. */
  readonly random?: Random;
  /** Clock for window start times, ms since the epoch. */
  readonly now?: () => number;
  /** Flags with an open window at once. Default 256. */
  readonly maxWindows?: number;
}

const EMPTY: VersionSamples = Object.freeze({ requests: 0, errors: 0, latencySamples: new Float64Array(0) });

/**
 * Per-flag, per-version analysis windows in this process. A flag's window opens with `reset(flag)` — the
 * controller calls it when a rollout starts and at every step change — and `record` feeds only open
 * windows, so the request path never allocates and flags without a rollout cost one map lookup.
 */
export class AnalysisWindows {
  readonly #windows = new Map<string, FlagWindow>();
  readonly #capacity: number;
  readonly #random: Random;
  readonly #now: () => number;
  readonly #maxWindows: number;

  constructor(options: AnalysisWindowsOptions = {}) {
    const capacity = options.reservoirSize ?? DEFAULT_RESERVOIR_SIZE;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1_000_000) {
      throw new RangeError(`reservoirSize must be a whole number from 1 to 1,000,000, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#maxWindows = options.maxWindows ?? DEFAULT_MAX_WINDOWS;
  }

  /**
   * Records one request served by `version` for `flag`: a 5xx status counts as an error. A no-op for a
   * flag without an open window.
   */
  record(flag: string, version: Version, statusCode: number, seconds: number): void {
    const window = this.#windows.get(flag);
    if (window === undefined) return;
    (version === 'canary' ? window.canary : window.stable).record(
      statusCode >= 500 && statusCode <= 599,
      seconds,
    );
  }

  /**
   * Opens the flag's window, or empties it: a new step starts from nothing, since the data of the previous
   * step describe a different traffic split. Returns false (and opens nothing) past `maxWindows`.
   */
  reset(flag: string): boolean {
    const window = this.#windows.get(flag);
    if (window !== undefined) {
      window.startedAt = this.#now();
      window.stable.reset();
      window.canary.reset();
      return true;
    }
    if (this.#windows.size >= this.#maxWindows) return false;
    this.#windows.set(flag, new FlagWindow(this.#now(), this.#capacity, this.#random));
    return true;
  }

  /** Closes the flag's window (rollout finished or rolled back). */
  delete(flag: string): boolean {
    return this.#windows.delete(flag);
  }

  has(flag: string): boolean {
    return this.#windows.has(flag);
  }

  /** The flag's data so far, copied; empty counts for a flag without a window. */
  snapshot(flag: string): AnalysisSnapshot {
    const now = this.#now();
    const window = this.#windows.get(flag);
    if (window === undefined) return { flag, from: now, to: now, stable: EMPTY, canary: EMPTY };
    return {
      flag,
      from: window.startedAt,
      to: now,
      stable: window.stable.samples(),
      canary: window.canary.samples(),
    };
  }
}
