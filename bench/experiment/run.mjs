// Experiment benchmark: what `canary.experiment(name, { control, candidate })` costs per call, at 0 % and
// 100 % candidate share, sync and async, beside the npm `scientist` package (Trello's Node port of GitHub's
// Scientist) set up the same way and a bare call of the control. Run it with
//
//   npx -y pnpm@10 bench:experiment            (builds @canary-kit/core, then runs this file)
//   node --expose-gc bench/experiment/run.mjs   (after a build)
//
// Calls come 16 to a turn of the event loop (then a setImmediate), as requests would, and every contender gets
// the same turns. Two figures per contender:
// - ns/call: the whole run's wall time over its calls, everything included (the candidate's run and the
//   comparison too, waited for at the end). Overhead = this minus the bare call's.
// - caller ns/call: only the time inside the calls (sync) or until their promises settled (async): what the
//   caller waits for. canary-kit runs the candidate after that; scientist runs it inside the call.
// BENCH_N and BENCH_ROUNDS shrink the run for a quick check; the published figures use the defaults.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCanary } from '../../packages/core/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(import.meta.url);
const Scientist = require('scientist');

const N = Number(process.env.BENCH_N ?? 64_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
/** Calls per turn of the event loop; canary-kit's default maxConcurrency, so nothing is dropped. */
const CHUNK = 16;

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc (npx -y pnpm@10 bench:experiment does)');
  process.exit(1);
}

// ── the behaviours: a small computation returning a fresh object, the same for control and candidate ──

function work(i) {
  return { id: i, total: i * 3, items: [i, i + 1, i + 2], status: 'ok' };
}
const workAsync = async (i) => work(i);

// ── the libraries ──────────────────────────────────────────────────────────────────────────────────

const canary = createCanary({ metrics: false });
await canary.ready();
const defined0 = canary.defineExperiment('defined-0', { percentage: 0 });
const defined100 = canary.defineExperiment('defined-100', { percentage: 100 });
const totalOf = (name) => {
  const c = canary.stats().experiments[name];
  return c ? Object.values(c).reduce((a, b) => a + b, 0) : 0;
};

/** One Scientist per share, as its docs recommend (`sample` is per instance); results counted like ours. */
function scientistWith(share) {
  const scientist = new Scientist();
  const seen = { matched: 0, mismatched: 0, skipped: 0, errors: 0 };
  scientist.sample(share === 100 ? () => true : () => false);
  scientist.on('result', (result) => {
    seen.matched += result.matched.length;
    seen.mismatched += result.mismatched.length;
  });
  scientist.on('skip', () => seen.skipped++);
  scientist.on('error', () => seen.errors++);
  return { science: scientist.science.bind(scientist), seen };
}
const sci0 = scientistWith(0);
const sci100 = scientistWith(100);
const sciAsync0 = scientistWith(0);
const sciAsync100 = scientistWith(100);

// ── contenders ─────────────────────────────────────────────────────────────────────────────────────

const pkgVersion = (name) =>
  JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
const coreVersion = JSON.parse(readFileSync(join(root, 'packages', 'core', 'package.json'), 'utf8')).version;

/** `done()` says whether all the work the calls so far started (candidates, comparisons) has finished. */
const sync = [
  { key: 'bare', name: 'bare call work(i)', share: null, call: (i) => work(i), done: () => true },
  {
    key: 'canary-kit-0',
    name: 'canary.experiment(name, { control, candidate, percentage: 0 })',
    share: 0,
    call: (i) =>
      canary.experiment('sync-0', { control: () => work(i), candidate: () => work(i), percentage: 0 }),
    done: (n) => totalOf('sync-0') >= n,
  },
  {
    key: 'canary-kit-100',
    name: 'canary.experiment(name, { control, candidate, percentage: 100 })',
    share: 100,
    call: (i) =>
      canary.experiment('sync-100', { control: () => work(i), candidate: () => work(i), percentage: 100 }),
    done: (n) => totalOf('sync-100') >= n,
  },
  {
    key: 'canary-kit-defined-0',
    name: 'defineExperiment(name, { percentage: 0 }) → exp({ control, candidate })',
    share: 0,
    call: (i) => defined0({ control: () => work(i), candidate: () => work(i) }),
    done: (n) => totalOf('defined-0') >= n,
  },
  {
    key: 'canary-kit-defined-100',
    name: 'defineExperiment(name, { percentage: 100 }) → exp({ control, candidate })',
    share: 100,
    call: (i) => defined100({ control: () => work(i), candidate: () => work(i) }),
    done: (n) => totalOf('defined-100') >= n,
  },
  {
    key: 'scientist-0',
    name: 'scientist science(name, e => { e.use(control); e.try(candidate) }), sampler false',
    share: 0,
    call: (i) =>
      sci0.science('sync-0', (e) => {
        e.use(() => work(i));
        e.try(() => work(i));
      }),
    done: (n) => sci0.seen.skipped >= n,
  },
  {
    key: 'scientist-100',
    name: 'scientist science(name, e => { e.use(control); e.try(candidate) }), sampler true',
    share: 100,
    call: (i) =>
      sci100.science('sync-100', (e) => {
        e.use(() => work(i));
        e.try(() => work(i));
      }),
    done: (n) => sci100.seen.matched >= n,
  },
];

const asyncContenders = [
  {
    key: 'bare',
    name: 'bare call await workAsync(i)',
    share: null,
    call: (i) => workAsync(i),
    done: () => true,
  },
  {
    key: 'canary-kit-0',
    name: 'canary.experiment(name, { control, candidate (async), percentage: 0 })',
    share: 0,
    call: (i) =>
      canary.experiment('async-0', {
        control: () => workAsync(i),
        candidate: () => workAsync(i),
        percentage: 0,
      }),
    done: (n) => totalOf('async-0') >= n,
  },
  {
    key: 'canary-kit-100',
    name: 'canary.experiment(name, { control, candidate (async), percentage: 100 })',
    share: 100,
    call: (i) =>
      canary.experiment('async-100', {
        control: () => workAsync(i),
        candidate: () => workAsync(i),
        percentage: 100,
      }),
    done: (n) => totalOf('async-100') >= n,
  },
  {
    key: 'scientist-0',
    name: 'scientist science(...) with e.async(true), sampler false',
    share: 0,
    call: (i) =>
      sciAsync0.science('async-0', (e) => {
        e.async(true);
        e.use(() => workAsync(i));
        e.try(() => workAsync(i));
      }),
    done: (n) => sciAsync0.seen.skipped >= n,
  },
  {
    key: 'scientist-100',
    name: 'scientist science(...) with e.async(true), sampler true',
    share: 100,
    call: (i) =>
      sciAsync100.science('async-100', (e) => {
        e.async(true);
        e.use(() => workAsync(i));
        e.try(() => workAsync(i));
      }),
    done: (n) => sciAsync100.seen.matched >= n,
  },
];

// ── timing ─────────────────────────────────────────────────────────────────────────────────────────

const turn = () => new Promise((resolve) => setImmediate(resolve));
let calls = Object.create(null);
let sink = 0;

/** One round of `n` calls: [total ns per call, caller ns per call]. */
async function round(contender, n, isAsync) {
  const before = calls[contender.key] ?? 0;
  let callerNs = 0n;
  const t0 = process.hrtime.bigint();
  for (let base = 0; base < n; base += CHUNK) {
    const c0 = process.hrtime.bigint();
    if (isAsync) {
      const pending = new Array(CHUNK);
      for (let j = 0; j < CHUNK; j++) pending[j] = contender.call(base + j);
      for (let j = 0; j < CHUNK; j++) sink += (await pending[j]).total;
    } else {
      for (let j = 0; j < CHUNK; j++) sink += contender.call(base + j).total;
    }
    callerNs += process.hrtime.bigint() - c0;
    await turn();
  }
  // Whatever the calls left running (candidates, comparisons, scientist's result events) counts too.
  while (!contender.done(before + n)) await turn();
  const totalNs = process.hrtime.bigint() - t0;
  calls[contender.key] = before + n;
  return [Number(totalNs) / n, Number(callerNs) / n];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function measure(contenders, isAsync) {
  calls = Object.create(null);
  const n = isAsync ? N / 2 : N;
  // Warm-up, untimed: everything optimized before round 1.
  for (const c of contenders) await round(c, n, isAsync);
  const samples = Object.fromEntries(contenders.map((c) => [c.key, { total: [], caller: [] }]));
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order each round, so no contender always runs right after the same neighbour's garbage.
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(k + r) % contenders.length];
      globalThis.gc();
      const [total, caller] = await round(c, n, isAsync);
      samples[c.key].total.push(total);
      samples[c.key].caller.push(caller);
    }
  }
  const bare = median(samples.bare.total);
  const bareCaller = median(samples.bare.caller);
  const rows = contenders.map((c) => ({
    key: c.key,
    name: c.name,
    share: c.share,
    version: c.key.startsWith('scientist') ? pkgVersion('scientist') : c.key === 'bare' ? null : coreVersion,
    nsPerCall: median(samples[c.key].total),
    callerNsPerCall: median(samples[c.key].caller),
    overheadNs: median(samples[c.key].total) - bare,
    callerOverheadNs: median(samples[c.key].caller) - bareCaller,
    roundsNsPerCall: samples[c.key].total,
    roundsCallerNsPerCall: samples[c.key].caller,
  }));
  for (const row of rows) {
    if (row.share === null) continue;
    const peer = rows.find((r) => r.key === `scientist-${row.share}`);
    if (row.key.startsWith('canary-kit') && peer) {
      row.vsScientist = {
        nsPerCall: row.nsPerCall / peer.nsPerCall,
        callerNsPerCall: row.callerNsPerCall / peer.callerNsPerCall,
        overhead: row.overheadNs / peer.overheadNs,
      };
    }
  }
  return { callsPerRound: n, rows };
}

const loadBefore = os.loadavg();
const syncResults = await measure(sync, false);
const asyncResults = await measure(asyncContenders, true);

// ── correctness: every experiment ran and matched as it should (not timed) ─────────────────────────

const stats = canary.stats().experiments;
for (const name of ['sync-100', 'async-100', 'defined-100']) {
  const c = stats[name];
  if (c.mismatch || c.candidate_error || c.timeout || c.dropped || c.skipped)
    throw new Error(`${name}: expected only matches, got ${JSON.stringify(c)}`);
}
for (const name of ['sync-0', 'async-0', 'defined-0']) {
  const c = stats[name];
  if (c.skipped !== totalOf(name)) throw new Error(`${name}: expected only skips, got ${JSON.stringify(c)}`);
}
for (const s of [sci100, sciAsync100])
  if (s.seen.mismatched || s.seen.errors) throw new Error(`scientist: ${JSON.stringify(s.seen)}`);

// ── report ─────────────────────────────────────────────────────────────────────────────────────────

const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits });
for (const [label, res] of [
  ['sync', syncResults],
  ['async', asyncResults],
]) {
  console.log(
    `\n${label}: ${res.callsPerRound} calls per round, ${CHUNK} per event-loop turn, median of ${ROUNDS}`,
  );
  console.log('   ns/call  overhead   caller ns  caller overhead  vs scientist (total, caller)');
  for (const r of res.rows) {
    const vs = r.vsScientist
      ? `${fmt(r.vsScientist.nsPerCall, 2)}×, ${fmt(r.vsScientist.callerNsPerCall, 2)}×`
      : '';
    console.log(
      `${fmt(r.nsPerCall).padStart(10)} ${fmt(r.overheadNs).padStart(9)} ${fmt(r.callerNsPerCall).padStart(11)} ${fmt(r.callerOverheadNs).padStart(16)}  ${vs.padEnd(14)} ${r.name}`,
    );
  }
}
console.log(`\n1-minute load average: ${fmt(loadBefore[0], 2)} before, ${fmt(os.loadavg()[0], 2)} after`);
if (sink === 0) console.log('(sink)');

const cpus = os.cpus();
const output = {
  benchmark: 'experiment',
  date: new Date().toISOString(),
  command: 'node --expose-gc bench/experiment/run.mjs',
  machine: {
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    loadAverage1m: { before: loadBefore[0], after: os.loadavg()[0] },
  },
  callsPerTurn: CHUNK,
  rounds: ROUNDS,
  statistic:
    'median of rounds; ns/call = wall time of the whole round (candidates and comparisons waited for) over its calls; caller ns/call = time inside the calls (sync) or until their promises settled (async); overhead = minus the bare call',
  work: 'work(i) → { id, total, items: [3 numbers], status } (control and candidate alike; they always match)',
  sync: syncResults,
  async: asyncResults,
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'experiment.json'), `${JSON.stringify(output, null, 2)}\n`);
console.log('written to bench/results/experiment.json');
