// Canary analysis simulation: thousands of simulated rollouts judged by the real analysis, healthy and bad
// canaries, statistical verdicts beside plain thresholds. Run it with
//
//   node bench/analysis/run.mjs
//
// It bundles bench/analysis/simulate.ts (and the analysis sources it imports) with tsdown into a temporary
// directory — no package build needed — then runs the scenarios on worker threads (one per core, at most 2 by
// default), prints a table and writes bench/results/analysis.json. Every run is seeded: the figures are
// the same on every machine; only the wall time varies. BENCH_SCALE=0.1 shrinks the run counts for a quick
// look (the published figures use 1); BENCH_WORKERS sets the thread count.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

if (isMainThread) await main();
else await worker();

async function main() {
  const scale = Number(process.env.BENCH_SCALE ?? 1);
  const threads = Number(process.env.BENCH_WORKERS ?? Math.min(2, os.availableParallelism()));
  const started = performance.now();

  const outDir = mkdtempSync(join(os.tmpdir(), 'canary-kit-analysis-'));
  try {
    const { build } = await import('tsdown');
    await build({
      entry: [join(here, 'simulate.ts')],
      outDir,
      format: 'esm',
      platform: 'node',
      target: 'node20.19',
      config: false,
      dts: false,
      clean: false,
      fixedExtension: true,
      logLevel: 'warn',
    });
    const bundle = join(outDir, 'simulate.mjs');
    const sim = await import(pathToFileURL(bundle).href);
    const jobs = sim.jobs(scale);
    const summaries = await runJobs(bundle, scale, jobs.length, threads);
    const seconds = (performance.now() - started) / 1000;

    const bounds = [100, 200, 400].map((n) => sim.detectionBound(n, 0.005, 0.035, 0.01));
    const targets = evaluateTargets(summaries, bounds);
    const results = {
      generatedAt: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      threads,
      wallSeconds: Math.round(seconds * 10) / 10,
      scale,
      settings: sim.settings(),
      targets,
      detectionBoundsPlus3pp: bounds,
      summaries,
    };
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'analysis.json'), `${JSON.stringify(results, null, 2)}\n`);

    console.log(table(summaries));
    console.log();
    for (const t of targets) console.log(`${t.met ? 'MET    ' : 'NOT MET'}  ${t.target}: ${t.figure}`);
    console.log();
    for (const b of bounds) {
      console.log(
        `bound: from the first ${b.requests} canary requests, the best rule with ≤ 1 % false alarms ` +
          `(fail at ≥ ${b.failAtErrors} errors, ${pct(b.falseAlarm, 2)} false) catches ${pct(b.detection)} of +3 pp canaries`,
      );
    }
    console.log(
      `\n${summaries.length} scenario × system pairs in ${seconds.toFixed(1)} s on ${threads} threads`,
    );
    console.log('wrote bench/results/analysis.json');
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** Hands jobs to the threads one at a time (their costs differ tenfold), keeps results in job order. */
function runJobs(bundle, scale, count, threads) {
  return new Promise((resolve, reject) => {
    const results = new Array(count);
    let next = 0;
    let done = 0;
    const pool = Array.from({ length: Math.max(1, Math.min(threads, count)) }, () => {
      const w = new Worker(fileURLToPath(import.meta.url), { workerData: { bundle, scale } });
      w.on('error', reject);
      w.on('message', (message) => {
        if (message.summary) {
          results[message.index] = message.summary;
          done++;
        }
        if (next < count) w.postMessage(next++);
        else w.postMessage(-1);
        if (done === count) resolve(results);
      });
      return w;
    });
    return pool;
  });
}

async function worker() {
  const sim = await import(pathToFileURL(workerData.bundle).href);
  const jobs = sim.jobs(workerData.scale);
  parentPort.on('message', (index) => {
    if (index < 0) {
      parentPort.close();
      return;
    }
    const { scenario, system } = jobs[index];
    parentPort.postMessage({ index, summary: sim.summarize(scenario, system) });
  });
  parentPort.postMessage({ ready: true });
}

function evaluateTargets(summaries, bounds) {
  const find = (scenario, system) => summaries.find((s) => s.scenario === scenario && s.system === system);
  const healthy = find('healthy', 'statistical');
  const plus3 = find('errors +3 pp', 'statistical');
  const out = [];
  if (healthy) {
    out.push({
      target: 'healthy rollouts falsely rolled back ≤ 1 %',
      met: healthy.rollbackShareUpper95 <= 0.01,
      figure:
        `${healthy.rolledBack} of ${healthy.runs} (${pct(healthy.rollbackShare, 2)}; ` +
        `95 % upper bound ${pct(healthy.rollbackShareUpper95, 2)})`,
    });
  }
  if (plus3) {
    const bound200 = bounds.find((b) => b.requests === 200);
    out.push({
      target: '+3 pp caught within 2 intervals in ≥ 95 % of runs',
      met: plus3.within2Share >= 0.95,
      figure:
        `${pct(plus3.within2Share)} within 2 intervals, ${pct(plus3.rollbackShare)} before promotion ` +
        `(median ${plus3.intervalsMedian}, p95 ${plus3.intervalsP95} intervals); no rule can reach ` +
        `${pct(bound200.detection)} on the first 200 canary requests at ≤ 1 % false alarms`,
    });
  }
  return out;
}

function pct(x, digits = 1) {
  return `${(x * 100).toFixed(digits)} %`;
}

function table(summaries) {
  const head = [
    'scenario',
    'system',
    'runs',
    'rolled back',
    'within 2 intervals',
    'intervals to rollback (median / p95)',
    'rolled back at step',
    'canary requests served (median)',
    'promoted',
  ];
  const rows = summaries.map((s) => [
    s.extra ? `${s.scenario} *` : s.scenario,
    s.system,
    String(s.runs),
    pct(s.rollbackShare),
    pct(s.within2Share),
    s.intervalsMedian === null ? '–' : `${s.intervalsMedian} / ${s.intervalsP95}`,
    Object.entries(s.rollbackSteps)
      .sort((a, b) => Number.parseFloat(a[0]) - Number.parseFloat(b[0]))
      .map(([step, n]) => `${step}: ${n}`)
      .join(', ') || '–',
    s.canaryRequestsMedian === null ? '–' : s.canaryRequestsMedian.toLocaleString('en-US'),
    pct(s.promoted / s.runs),
  ]);
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [
    line(head),
    line(head.map(() => '---')),
    ...rows.map(line),
    '',
    '* extra scenario, for context',
  ].join('\n');
}
