import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/analysis/random.js';
import { InProcessSource } from '../../src/analysis/source.js';
import { AnalysisWindows, VersionWindow } from '../../src/analysis/window.js';

describe('VersionWindow', () => {
  it('counts requests and errors, keeps every latency until the reservoir is full', () => {
    const w = new VersionWindow(5, seededRandom(1));
    w.record(false, 0.1);
    w.record(true, 0.2);
    w.record(false, 0.3);
    const s = w.samples();
    expect(s).toMatchObject({ requests: 3, errors: 1 });
    expect([...(s.latencySamples as Float64Array)]).toEqual([0.1, 0.2, 0.3]);
  });

  it('holds at most its capacity, however many requests', () => {
    const w = new VersionWindow(100, seededRandom(1));
    for (let i = 0; i < 100_000; i++) w.record(false, i);
    expect(w.requests).toBe(100_000);
    expect(w.sampled).toBe(100);
    expect(w.samples().latencySamples!.length).toBe(100);
  });

  it('keeps a uniform sample: every observation equally likely to be in it', () => {
    // 400 windows of capacity 50 over the stream 0 … 999: each value should be kept 400 × 50/1000 = 20
    // times on average. Sum by tenths of the stream: each tenth expects 2,000 (sd ≈ 42 with these draws).
    const kept = new Array(10).fill(0);
    for (let seed = 0; seed < 400; seed++) {
      const w = new VersionWindow(50, seededRandom(seed));
      for (let i = 0; i < 1000; i++) w.record(false, i);
      for (const x of w.samples().latencySamples!) kept[Math.floor(x / 100)]++;
    }
    for (const n of kept) expect(Math.abs(n - 2000)).toBeLessThan(200);
  });

  it('a bad latency counts the request but stays out of the sample', () => {
    const w = new VersionWindow(10, seededRandom(1));
    w.record(true, Number.NaN);
    w.record(false, -1);
    w.record(false, Number.POSITIVE_INFINITY);
    w.record(false, 0);
    expect(w.samples()).toMatchObject({ requests: 4, errors: 1 });
    expect([...(w.samples().latencySamples as Float64Array)]).toEqual([0]);
  });

  it('reset starts from nothing', () => {
    const w = new VersionWindow(10, seededRandom(1));
    for (let i = 0; i < 20; i++) w.record(true, i);
    w.reset();
    expect(w.samples()).toMatchObject({ requests: 0, errors: 0 });
    expect(w.sampled).toBe(0);
    w.record(false, 7);
    expect([...(w.samples().latencySamples as Float64Array)]).toEqual([7]);
  });

  it('the same seed gives the same sample', () => {
    const sample = (seed: number) => {
      const w = new VersionWindow(20, seededRandom(seed));
      for (let i = 0; i < 5000; i++) w.record(false, i);
      return [...w.samples().latencySamples!];
    };
    expect(sample(42)).toEqual(sample(42));
    expect(sample(42)).not.toEqual(sample(43));
  });
});

describe('AnalysisWindows', () => {
  function windows(options: ConstructorParameters<typeof AnalysisWindows>[0] = {}) {
    let now = 1_000;
    const w = new AnalysisWindows({ random: seededRandom(1), now: () => now, ...options });
    return { w, tick: (ms: number) => (now += ms) };
  }

  it('records per flag and version; a 5xx is an error, a 4xx is not', () => {
    const { w } = windows();
    w.reset('checkout');
    for (const status of [200, 404, 499, 500, 503, 599, 600]) w.record('checkout', 'canary', status, 0.1);
    w.record('checkout', 'stable', 200, 0.05);
    const snap = w.snapshot('checkout');
    expect(snap.canary).toMatchObject({ requests: 7, errors: 3 });
    expect(snap.stable).toMatchObject({ requests: 1, errors: 0 });
  });

  it('ignores flags without an open window (no allocation on the request path)', () => {
    const { w } = windows();
    w.record('other', 'canary', 500, 0.1);
    expect(w.has('other')).toBe(false);
    expect(w.snapshot('other')).toMatchObject({ canary: { requests: 0 }, stable: { requests: 0 } });
  });

  it('reset at a step change empties the window and moves its start', () => {
    const { w, tick } = windows();
    w.reset('checkout');
    w.record('checkout', 'canary', 500, 0.1);
    tick(60_000);
    expect(w.snapshot('checkout')).toMatchObject({ from: 1_000, to: 61_000, canary: { requests: 1 } });
    w.reset('checkout');
    expect(w.snapshot('checkout')).toMatchObject({ from: 61_000, canary: { requests: 0, errors: 0 } });
  });

  it('snapshots are copies', () => {
    const { w } = windows();
    w.reset('f');
    w.record('f', 'canary', 200, 0.1);
    const snap = w.snapshot('f');
    (snap.canary.latencySamples as Float64Array)[0] = 99;
    expect([...w.snapshot('f').canary.latencySamples!]).toEqual([0.1]);
  });

  it('opens at most maxWindows windows', () => {
    const { w } = windows({ maxWindows: 2 });
    expect(w.reset('a')).toBe(true);
    expect(w.reset('b')).toBe(true);
    expect(w.reset('c')).toBe(false);
    expect(w.reset('a')).toBe(true); // an open window can always restart
    expect(w.delete('b')).toBe(true);
    expect(w.reset('c')).toBe(true);
  });

  it('refuses a nonsensical reservoir size', () => {
    expect(() => new AnalysisWindows({ reservoirSize: 0 })).toThrow(RangeError);
    expect(() => new AnalysisWindows({ reservoirSize: 1.5 })).toThrow(/reservoirSize/);
  });
});

describe('InProcessSource', () => {
  it('serves the windows as snapshots', async () => {
    const windows = new AnalysisWindows({ random: seededRandom(3), now: () => 5 });
    const source = new InProcessSource(windows);
    expect(source.kind).toBe('in-process');
    windows.reset('checkout');
    windows.record('checkout', 'stable', 502, 0.25);
    const snap = await source.snapshot('checkout', 0);
    expect(snap).toMatchObject({ flag: 'checkout', from: 5, to: 5, stable: { requests: 1, errors: 1 } });
    expect([...snap.stable.latencySamples!]).toEqual([0.25]);
  });
});
