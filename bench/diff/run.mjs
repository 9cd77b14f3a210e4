// Response differ benchmark: compareResponses / compareValues over ~5 KB JSON bodies, one scenario per road
// a shadow diff can take (byte-equal fast path, parse + walk, ignore paths, a real difference, gzip, array
// orders), beside JSON.parse and util.isDeepStrictEqual on the same bodies as yardsticks. Run it with
//
//   node --expose-gc bench/diff/run.mjs
//
// It bundles packages/core/src/diff itself (tsdown, into .tmp/), so it needs no build and measures the
// sources as they are. BENCH_N (diffs per round) and BENCH_ROUNDS shrink the run for a quick check.

import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import v8 from 'node:v8';
import zlib from 'node:zlib';
import { build } from 'tsdown';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const N = Number(process.env.BENCH_N ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ALLOC_N = Math.min(N, 2_000);

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc bench/diff/run.mjs');
  process.exit(1);
}

// ── the code under test, bundled from source ──────────────────────────────────────────────────────

const outDir = join(root, '.tmp', 'bench-diff');
await build({
  entry: {
    responses: join(root, 'packages/core/src/diff/compare-responses.ts'),
    values: join(root, 'packages/core/src/diff/compare-values.ts'),
  },
  outDir,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  dts: false,
  clean: true,
  config: false,
  logLevel: 'warn',
});
const { compareResponses } = await import(pathToFileURL(join(outDir, 'responses.mjs')).href);
const { compareValues } = await import(pathToFileURL(join(outDir, 'values.mjs')).href);

// ── bodies ────────────────────────────────────────────────────────────────────────────────────────

/** A ~5 KB product listing: metadata with a request id, 25 items with nested fields. */
function listing(requestId, stamp) {
  return {
    meta: { requestId, page: 1, pageSize: 20, total: 4321, generatedAt: `2025-01-01T00:00:${stamp}Z` },
    items: Array.from({ length: 25 }, (_, i) => ({
      id: 1000 + i,
      sku: `SKU-${(1000 + i).toString(36).toUpperCase()}`,
      name: `Product number ${i}`,
      price: Math.round((9.99 + i * 3.17) * 100) / 100,
      currency: 'EUR',
      inStock: i % 3 !== 0,
      tags: ['sale', i % 2 ? 'new' : 'classic'],
      updatedAt: `2025-01-0${(i % 9) + 1}T10:00:${stamp}Z`,
      dimensions: { w: i, h: i * 2, d: 3 },
    })),
  };
}

const base = listing('req-1', '00');
const plain = Buffer.from(JSON.stringify(base));
const reorderedText = JSON.stringify({ items: base.items, meta: base.meta }, null, 1);
const changed = structuredClone(base);
changed.items[7].price += 1;
const reversed = { ...base, items: [...base.items].reverse() };

const JSON_TYPE = { 'content-type': 'application/json' };
const res = (body, headers = JSON_TYPE) => ({ status: 200, headers, body });
const primary = res(plain);

// Bodies are built once, outside the timed loop: a shadow diff receives its buffers ready-made. Options
// objects are reused, as a shadow target reuses its config (compiled once, then cached).
const scenarios = [
  {
    key: 'fast-path',
    name: 'byte-equal bodies (no decode, no parse)',
    candidate: res(Buffer.from(plain)),
    expect: 'match',
  },
  {
    key: 'parse-equal',
    name: 'same JSON, other key order and whitespace (parse both + walk)',
    candidate: res(Buffer.from(reorderedText)),
    expect: 'match',
  },
  {
    key: 'ignore-noise',
    name: 'request id and 26 timestamps differ, all ignored',
    candidate: res(Buffer.from(JSON.stringify(listing('req-2', '59')))),
    options: { ignore: ['$.meta.requestId', '$.meta.generatedAt', '$.items[*].updatedAt'] },
    expect: 'match',
  },
  {
    key: 'one-difference',
    name: 'one price changed',
    candidate: res(Buffer.from(JSON.stringify(changed))),
    expect: 'mismatch',
  },
  {
    key: 'gzip',
    name: 'gzip candidate vs plain primary (gunzip + parse + walk)',
    candidate: res(zlib.gzipSync(reorderedText), { ...JSON_TYPE, 'content-encoding': 'gzip' }),
    expect: 'match',
  },
  {
    key: 'unordered',
    name: 'items reversed, $.items unordered',
    candidate: res(Buffer.from(JSON.stringify(reversed))),
    options: { arrays: { '$.items': 'unordered' } },
    expect: 'match',
  },
  {
    key: 'keyed',
    name: 'items reversed, $.items keyed by id',
    candidate: res(Buffer.from(JSON.stringify(reversed))),
    options: { arrays: { '$.items': { key: 'id' } } },
    expect: 'match',
  },
];

// Yardsticks on the same bodies: what any structural diff must at least pay (parsing both), and the
// walk alone next to Node's own deep equality.
const reorderedBody = Buffer.from(reorderedText);
const parsedA = JSON.parse(plain.toString());
const parsedB = JSON.parse(reorderedText);
const yardsticks = [
  {
    key: 'json-parse-both',
    name: 'JSON.parse of both bodies (yardstick)',
    run: () => (JSON.parse(plain.toString()) && JSON.parse(reorderedBody.toString()) ? 1 : 0),
  },
  {
    key: 'compare-values',
    name: 'compareValues on the parsed bodies (the walk alone)',
    run: () => (compareValues(parsedA, parsedB).equal ? 1 : 0),
  },
  {
    key: 'is-deep-strict-equal',
    name: 'util.isDeepStrictEqual on the parsed bodies (yardstick)',
    run: () => (isDeepStrictEqual(parsedA, parsedB) ? 1 : 0),
  },
];

// Each scenario must take the road it is named for.
for (const s of scenarios) {
  const result = await compareResponses(primary, s.candidate, s.options);
  if (result.outcome !== s.expect)
    throw new Error(`${s.key}: expected ${s.expect}, got ${JSON.stringify(result)}`);
}

// ── timing ────────────────────────────────────────────────────────────────────────────────────────

async function timeScenario(s, n) {
  globalThis.gc();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await compareResponses(primary, s.candidate, s.options);
  return Number(process.hrtime.bigint() - t0) / n;
}

function timeYardstick(y, n) {
  globalThis.gc();
  let sum = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sum += y.run();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  if (sum !== n) throw new Error(`${y.key}: unexpected result`);
  return ns;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Bytes allocated per call: growth of the used heap plus what collections in between freed. */
async function allocatedPer(run) {
  const used = () => v8.getHeapStatistics().used_heap_size;
  const results = [];
  for (let k = 0; k < 3; k++) {
    globalThis.gc();
    const profiler = new v8.GCProfiler();
    profiler.start();
    const before = used();
    for (let i = 0; i < ALLOC_N; i++) await run();
    const after = used();
    const { statistics } = profiler.stop();
    let freed = 0;
    for (const s of statistics)
      freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
    results.push((after - before + freed) / ALLOC_N);
  }
  return Math.max(0, median(results));
}

const loadBefore = os.loadavg();
// Warm-up, untimed, so everything is optimized before round 1.
for (const s of scenarios) await timeScenario(s, N);
for (const y of yardsticks) timeYardstick(y, N);

const samples = Object.fromEntries([...scenarios, ...yardsticks].map((c) => [c.key, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const s of scenarios) samples[s.key].push(await timeScenario(s, N));
  for (const y of yardsticks) samples[y.key].push(timeYardstick(y, N));
}

const results = [];
for (const s of scenarios)
  results.push({
    key: s.key,
    name: `compareResponses, ${s.name}`,
    nsPerDiff: median(samples[s.key]),
    roundsNsPerDiff: samples[s.key],
    bytesPerDiff: await allocatedPer(() => compareResponses(primary, s.candidate, s.options)),
  });
for (const y of yardsticks)
  results.push({
    key: y.key,
    name: y.name,
    nsPerDiff: median(samples[y.key]),
    roundsNsPerDiff: samples[y.key],
    bytesPerDiff: await allocatedPer(y.run),
  });

const bodyBytes = plain.length;
const fmt = (x, digits = 1) => x.toLocaleString('en-US', { maximumFractionDigits: digits });
console.log(`body: ${bodyBytes} bytes of JSON, ${N} diffs per round, ${ROUNDS} rounds, median per diff\n`);
for (const r of results)
  console.log(
    `${fmt(r.nsPerDiff / 1000, 2).padStart(8)} µs  ${fmt(1e9 / r.nsPerDiff, 0).padStart(9)}/s  ${fmt((bodyBytes * 1e9) / r.nsPerDiff / 2 ** 20, 0).padStart(5)} MiB/s  ${fmt(r.bytesPerDiff, 0).padStart(7)} B/diff  ${r.name}`,
  );
console.log(`\n1-minute load average: ${fmt(loadBefore[0], 2)} before, ${fmt(os.loadavg()[0], 2)} after`);

const cpus = os.cpus();
const output = {
  benchmark: 'diff',
  date: new Date().toISOString(),
  command: 'node --expose-gc bench/diff/run.mjs',
  machine: {
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    loadAverage1m: { before: loadBefore[0], after: os.loadavg()[0] },
  },
  bodyBytes,
  diffsPerRound: N,
  rounds: ROUNDS,
  statistic:
    'median of rounds, ns per diff, wall clock (process.hrtime); compareResponses awaited one at a time; MiB/s counts one body',
  results,
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'diff.json'), `${JSON.stringify(output, null, 2)}\n`);
console.log('written to bench/results/diff.json');
