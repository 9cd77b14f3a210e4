// What the shoppers saw, over time: 250 ms buckets per version (checkouts served by v1 or v2, product views),
// each with its requests, errors and a bounded latency sample. The live view reads the last two seconds; the
// report folds the buckets into one point a second. Memory is bounded by the run's duration (capped by the
// options) times the per-bucket sample cap.

export const BUCKET_MS = 250;
/** Latency samples kept per bucket and version; past it, reservoir sampling keeps the sample uniform. */
export const SAMPLES_PER_BUCKET = 400;
export const VERSIONS = ['v1', 'v2', 'catalog'];

function emptySeries() {
  return { requests: 0, errors: 0, seen: 0, latencies: [] };
}

function addTo(series, isError, seconds) {
  series.requests++;
  if (isError) series.errors++;
  series.seen++;
  if (series.latencies.length < SAMPLES_PER_BUCKET) series.latencies.push(seconds);
  else {
    const slot = Math.floor(Math.random() * series.seen);
    if (slot < SAMPLES_PER_BUCKET) series.latencies[slot] = seconds;
  }
}

/** The p-th quantile (0–1) of unsorted numbers, or null for none. */
export function quantile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

export class Timeline {
  buckets = [];
  totals = { v1: emptySeries(), v2: emptySeries(), catalog: emptySeries(), other: emptySeries() };
  /** Status samples (percentage, phase, shadow counts) taken by the demo every refresh. */
  samples = [];
  /** Rollout and shadow events, in order: { at, kind, text, ... }. */
  events = [];

  /** One shopper's answer, as the traffic generator reports it. */
  observe({ at, route, servedBy, status, seconds }) {
    const version =
      route === 'product' ? 'catalog' : servedBy === 'v2' || servedBy === 'v1' ? servedBy : 'other';
    const isError = status === 0 || status >= 500;
    const index = Math.floor(at / BUCKET_MS);
    while (this.buckets.length <= index)
      this.buckets.push({
        v1: emptySeries(),
        v2: emptySeries(),
        catalog: emptySeries(),
        other: emptySeries(),
      });
    addTo(this.buckets[index][version], isError, seconds);
    const total = this.totals[version];
    total.requests++;
    if (isError) total.errors++;
  }

  /** Per-version requests/s, error rate and p95 over the `spanMs` before `atMs`. */
  window(atMs, spanMs) {
    const last = Math.floor(atMs / BUCKET_MS) - 1;
    const first = Math.max(0, last - Math.round(spanMs / BUCKET_MS) + 1);
    return this.#fold(first, last);
  }

  /** One point a second over the whole run, for the report. */
  perSecond() {
    const per = 1000 / BUCKET_MS;
    const points = [];
    for (let first = 0; first < this.buckets.length; first += per) {
      points.push({ t: first / per, ...this.#fold(first, Math.min(first + per, this.buckets.length) - 1) });
    }
    return points;
  }

  #fold(first, last) {
    const seconds = Math.max(1, last - first + 1) * (BUCKET_MS / 1000);
    const result = {};
    for (const version of VERSIONS) {
      let requests = 0;
      let errors = 0;
      const latencies = [];
      for (let i = Math.max(0, first); i <= last && i < this.buckets.length; i++) {
        const s = this.buckets[i][version];
        requests += s.requests;
        errors += s.errors;
        for (const l of s.latencies) latencies.push(l);
      }
      result[version] = {
        requests,
        rps: requests / seconds,
        errorRate: requests > 0 ? errors / requests : null,
        p95: quantile(latencies, 0.95),
      };
    }
    return result;
  }
}
