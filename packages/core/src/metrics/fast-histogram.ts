import type { Registry } from 'prom-client';

interface Series {
  readonly labels: Readonly<Record<string, string | number>>;
  /** Per-bucket (non-cumulative) counts; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

type Level<T> = Map<string, T>;

function child<T>(level: Level<Level<T>>, key: string): Level<T> {
  let next = level.get(key);
  if (next === undefined) {
    next = new Map();
    level.set(key, next);
  }
  return next;
}

/**
 * A Prometheus histogram for the request path. prom-client's `Histogram#observe` hashes a label object on
 * every call (≈ 1–2 µs); this keeps each series' buckets in a `Float64Array` found through nested maps keyed
 * by the label values (no string building, no allocation per observation) and formats them only when scraped.
 * Registered on the user's Registry as a regular metric, so it shows up in `registry.metrics()` with everything
 * else. Series are capped: past `maxSeries` label combinations, observations are dropped and counted.
 */
export class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly [string, string, string, string];
  readonly upperBounds: readonly number[];
  readonly maxSeries: number;
  /** Observations dropped because the series cap was reached. */
  dropped = 0;
  #root: Level<Level<Level<Level<Series>>>> = new Map();
  #series: Series[] = [];

  constructor(options: {
    name: string;
    help: string;
    labelNames: readonly [string, string, string, string];
    buckets: readonly number[];
    registry: Registry;
    maxSeries?: number;
  }) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    this.upperBounds = [...options.buckets];
    this.maxSeries = options.maxSeries ?? 10_000;
    // prom-client's Registry takes any object with its metric shape (name, help, type, get, reset).
    options.registry.registerMetric(this as never);
  }

  /** Records `value` under the four label values, in `labelNames` order. */
  observe(a: string, b: string, c: string, d: string, value: number): void {
    const l1 = child(this.#root, a);
    const l2 = child(l1, b);
    const l3 = child(l2, c);
    let series = l3.get(d);
    if (series === undefined) {
      if (this.#series.length >= this.maxSeries) {
        this.dropped++;
        return;
      }
      const [na, nb, nc, nd] = this.labelNames;
      series = {
        labels: { [na]: a, [nb]: b, [nc]: c, [nd]: d },
        counts: new Float64Array(this.upperBounds.length + 1),
        sum: 0,
        count: 0,
      };
      l3.set(d, series);
      this.#series.push(series);
    }
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  /** prom-client's metric interface: the exposition values, cumulative buckets first. */
  async get() {
    const bucketName = `${this.name}_bucket`;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.#series) {
      let cumulative = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({
          labels: { le: this.upperBounds[i]!, ...s.labels },
          value: cumulative,
          metricName: bucketName,
        });
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucketName });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#root = new Map();
    this.#series = [];
  }

  /** Count and sum of one series, for tests and in-process analysis. */
  snapshot(a: string, b: string, c: string, d: string): { count: number; sum: number } | undefined {
    const s = this.#root.get(a)?.get(b)?.get(c)?.get(d);
    return s ? { count: s.count, sum: s.sum } : undefined;
  }
}
