import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastHistogram } from '../src/metrics/fast-histogram.js';

const LABELS = ['method', 'route', 'status_code', 'version'] as const;
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

describe('FastHistogram', () => {
  it('exposes exactly what a prom-client Histogram exposes for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new FastHistogram({
      name: 'h',
      help: 'help',
      labelNames: LABELS,
      buckets: BUCKETS,
      registry: ours,
    });
    const reference = new Histogram({
      name: 'h',
      help: 'help',
      labelNames: LABELS,
      buckets: BUCKETS,
      registers: [theirs],
    });
    const values = [0, 0.005, 0.0051, 0.01, 0.3, 1, 2.5, 9.99, 10, 11, 1e6];
    const series: [string, string, string, string][] = [
      ['GET', '/a', '200', 'stable'],
      ['GET', '/a', '200', 'canary'],
      ['POST', '/b/:id', '500', 'canary'],
    ];
    values.forEach((v, i) => {
      const [m, r, s, ver] = series[i % series.length]!;
      fast.observe(m, r, s, ver, v);
      reference.observe({ method: m, route: r, status_code: s, version: ver }, v);
    });
    const sortLines = (text: string) => text.trim().split('\n').sort();
    expect(sortLines(await ours.metrics())).toEqual(sortLines(await theirs.metrics()));
    expect(fast.snapshot('GET', '/a', '200', 'stable')).toEqual({ count: 4, sum: 0 + 0.01 + 2.5 + 11 });
  });

  it('caps the number of series: further label combinations are dropped and counted', async () => {
    const registry = new Registry();
    const fast = new FastHistogram({
      name: 'h',
      help: 'h',
      labelNames: LABELS,
      buckets: [1],
      registry,
      maxSeries: 3,
    });
    for (let i = 0; i < 10; i++) fast.observe('GET', `/r${i}`, '200', 'stable', 0.1);
    fast.observe('GET', '/r0', '200', 'stable', 0.1); // an existing series still records
    expect(fast.dropped).toBe(7);
    expect(fast.snapshot('GET', '/r0', '200', 'stable')?.count).toBe(2);
    expect((await registry.metrics()).match(/_count/g)).toHaveLength(3);
  });

  it('reset clears every series (registry.resetMetrics)', async () => {
    const registry = new Registry();
    const fast = new FastHistogram({ name: 'h', help: 'h', labelNames: LABELS, buckets: [1], registry });
    fast.observe('GET', '/', '200', 'stable', 0.1);
    registry.resetMetrics();
    expect(fast.snapshot('GET', '/', '200', 'stable')).toBeUndefined();
  });
});
