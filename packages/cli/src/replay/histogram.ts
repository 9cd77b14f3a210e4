/**
 * Latency histogram with bounded memory: log-spaced buckets 2 % wide from 1 µs to one hour, so a quantile is
 * within 1 % of the exact one (the bucket's geometric middle, clamped to the values seen) however many
 * requests a replay sends. The same buckets draw the report's latency chart.
 */
const MIN_MS = 0.001;
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(3_600_000 / MIN_MS) / LOG_GROWTH) + 2;

export interface LatencySummary {
  readonly count: number;
  readonly min: number | null;
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export class LatencyHistogram {
  #counts: Uint32Array | undefined;
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;

  add(ms: number): void {
    if (!(ms >= 0)) return;
    this.#counts ??= new Uint32Array(BUCKETS);
    this.#counts[indexOf(ms)]!++;
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  /** The nearest-rank quantile, `q` in [0, 1]; null with no values. */
  quantile(q: number): number | null {
    const counts = this.#counts;
    if (counts === undefined || this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, middleOf(i)));
    }
    return this.max;
  }

  summary(): LatencySummary {
    const none = this.count === 0;
    return {
      count: this.count,
      min: none ? null : this.min,
      mean: none ? null : this.sum / this.count,
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
      max: none ? null : this.max,
    };
  }

  /** Counts between consecutive `edges` (ascending, milliseconds); values outside go to the end bins. */
  bin(edges: readonly number[]): number[] {
    const out = new Array<number>(Math.max(0, edges.length - 1)).fill(0);
    const counts = this.#counts;
    if (counts === undefined || out.length === 0) return out;
    for (let i = 0; i < counts.length; i++) {
      const n = counts[i]!;
      if (n === 0) continue;
      const value = Math.min(this.max, Math.max(this.min, middleOf(i)));
      let bin = 0;
      while (bin < out.length - 1 && value >= edges[bin + 1]!) bin++;
      out[bin]! += n;
    }
    return out;
  }
}

function indexOf(ms: number): number {
  if (ms <= MIN_MS) return 0;
  return Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH));
}

/** The geometric middle of bucket `i` (bucket i ≥ 1 holds (MIN·G^(i−1), MIN·G^i]). */
function middleOf(i: number): number {
  return i === 0 ? MIN_MS : MIN_MS * GROWTH ** (i - 0.5);
}

/** `count` log-spaced bin edges covering [min, max] of every histogram given (null when none has values). */
export function logEdges(histograms: readonly LatencyHistogram[], count: number): number[] | null {
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const h of histograms)
    if (h.count > 0) {
      min = Math.min(min, h.min);
      max = Math.max(max, h.max);
    }
  if (min === Number.POSITIVE_INFINITY) return null;
  const low = Math.max(MIN_MS, min);
  const high = Math.max(max, low * 1.5);
  const edges: number[] = [];
  for (let i = 0; i <= count; i++) edges.push(low * (high / low) ** (i / count));
  return edges;
}
