// OpenFeature benchmark: what reading a canary-kit flag through @openfeature/server-sdk costs. Four ways to the same
// answer over the same precomputed contexts, in one process:
//
//   sdk + CanaryProvider     client.getBooleanValue(flag, false, context) — what an app using OpenFeature pays
//   sdk + InMemoryProvider   the same SDK call with OpenFeature's own static in-memory provider: the SDK's floor
//                            (hooks, context merge, promise, details), the named peer beside which the provider's
//                            own share is read
//   provider direct          provider.resolveBooleanEvaluation(...) without the SDK: context mapping + evaluate
//   canary.evaluate          canary-kit's own call on a canary-kit context, no mapping
//
// Run it with `npx -y pnpm@10 bench:openfeature` (builds first) or `node --expose-gc bench/openfeature/run.mjs`
// after a build. BENCH_N and BENCH_ROUNDS shrink it for a quick check; the published figures use the defaults.

import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InMemoryProvider, OpenFeature } from '@openfeature/server-sdk';
import { createCanary } from '../../packages/core/dist/index.js';
import { CanaryProvider, toEvalContext } from '../../packages/openfeature/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

const N = Number(process.env.BENCH_N ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc (npx -y pnpm@10 bench:openfeature does)');
  process.exit(1);
}

const FLAG = 'checkout-v2';
const canaryFlag = {
  percentage: 10,
  groups: ['beta'],
  rules: [{ attribute: 'country', operator: 'in', values: ['NZ'] }],
};

// ── inputs (precomputed, not timed): the evaluator bench's mix, as OpenFeature contexts ──────────────

let prngState = 0x2545f491; // mulberry32, fixed seed: every run sees the same contexts
function random() {
  prngState = (prngState + 0x6d2b79f5) | 0;
  let t = prngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const COUNTRIES = ['US', 'DE', 'GB', 'FR', 'JP', 'AU', 'BR', 'IN', 'CA'];
const MIX = {
  ids: 'user-<n>@example.com, n scattered over 0–99,999,999',
  groups: "1 % ['beta'] (group match), 9 % ['staff'], 90 % no groups key",
  country: "1 % 'NZ' (rule match), 99 % one of US DE GB FR JP AU BR IN CA",
  plan: '70 % free, 25 % pro, 5 % enterprise',
};
const ofContexts = new Array(N);
for (let i = 0; i < N; i++) {
  const g = random();
  const p = random();
  const context = {
    targetingKey: JSON.parse(JSON.stringify(`user-${Math.floor(random() * 100_000_000)}@example.com`)),
    country: random() < 0.01 ? 'NZ' : COUNTRIES[(random() * COUNTRIES.length) | 0],
    plan: p < 0.7 ? 'free' : p < 0.95 ? 'pro' : 'enterprise',
  };
  if (g < 0.1) context.groups = [g < 0.01 ? 'beta' : 'staff'];
  ofContexts[i] = context;
}

// ── contenders ─────────────────────────────────────────────────────────────────────────────────────

const canary = createCanary({ flags: { [FLAG]: canaryFlag }, metrics: false });
await canary.ready();
const provider = new CanaryProvider(canary);
await OpenFeature.setProviderAndWait('canary', provider);
await OpenFeature.setProviderAndWait(
  'in-memory',
  new InMemoryProvider({
    [FLAG]: { variants: { on: true, off: false }, defaultVariant: 'on', disabled: false },
  }),
);
const canaryClient = OpenFeature.getClient('canary');
const memoryClient = OpenFeature.getClient('in-memory');
// canary.evaluate gets the contexts already mapped (not timed): its row is the evaluation alone.
const evalContexts = ofContexts.map((c) => toEvalContext(c, undefined));

const contenders = {
  'sdk + CanaryProvider': async (n) => {
    let hits = 0;
    for (let i = 0; i < n; i++) if (await canaryClient.getBooleanValue(FLAG, false, ofContexts[i])) hits++;
    return hits;
  },
  'sdk + InMemoryProvider': async (n) => {
    let hits = 0;
    for (let i = 0; i < n; i++) if (await memoryClient.getBooleanValue(FLAG, false, ofContexts[i])) hits++;
    return hits;
  },
  'provider direct': async (n) => {
    let hits = 0;
    for (let i = 0; i < n; i++)
      if ((await provider.resolveBooleanEvaluation(FLAG, false, ofContexts[i])).value) hits++;
    return hits;
  },
  'canary.evaluate': async (n) => {
    let hits = 0;
    for (let i = 0; i < n; i++) if (canary.evaluate(FLAG, evalContexts[i]).version === 'canary') hits++;
    return hits;
  },
};

// The three canary-kit paths must agree exactly before anything is timed.
const expectedHits = await contenders['canary.evaluate'](N);
for (const name of ['sdk + CanaryProvider', 'provider direct']) {
  const hits = await contenders[name](N);
  if (hits !== expectedHits)
    throw new Error(`${name}: ${hits} canary decisions, canary.evaluate ${expectedHits}`);
}

// ── measurement: rounds interleave the contenders; each figure is the median of its rounds ────────

const load = () => Number(os.loadavg()[0].toFixed(2));
const loadBefore = load();
const samples = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(contenders)) {
    globalThis.gc();
    const start = process.hrtime.bigint();
    await run(N);
    samples[name].push(Number(process.hrtime.bigint() - start) / N);
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ns = Object.fromEntries(
  Object.entries(samples).map(([name, xs]) => [name, Number(median(xs).toFixed(1))]),
);
const ratio = (a, b) => Number((ns[a] / ns[b]).toFixed(2));

const result = {
  benchmark: 'openfeature',
  date: new Date().toISOString(),
  command: 'npx -y pnpm@10 bench:openfeature',
  machine: {
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    cpuModel: os.cpus()[0]?.model.trim(),
    cores: os.cpus().length,
    loadAverage1m: { before: loadBefore, after: load() },
  },
  evaluations: N,
  rounds: ROUNDS,
  statistic:
    'median of rounds, wall-clock ns per evaluation (process.hrtime), each evaluation awaited in turn',
  flag: { key: FLAG, canaryKit: canaryFlag },
  mix: MIX,
  canaryShare: Number((expectedHits / N).toFixed(4)),
  nsPerEval: ns,
  ratios: {
    'sdk + CanaryProvider / sdk + InMemoryProvider': ratio('sdk + CanaryProvider', 'sdk + InMemoryProvider'),
    'provider direct / canary.evaluate': ratio('provider direct', 'canary.evaluate'),
  },
  providerShareNs: Number((ns['sdk + CanaryProvider'] - ns['sdk + InMemoryProvider']).toFixed(1)),
  samples,
};

mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'openfeature.json'), `${JSON.stringify(result, null, 2)}\n`);
console.table(Object.entries(ns).map(([contender, nsPerEval]) => ({ contender, nsPerEval })));
console.log(result.ratios, `provider's share over the SDK floor: ${result.providerShareNs} ns`);
await OpenFeature.close();
await canary.close();
