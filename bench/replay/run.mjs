// Replay benchmark: paired replays per second of the real `canary-kit replay` binary against two local HTTP
// servers answering 1 KB JSON bodies. Each replayed record is one request to the baseline and one to the
// candidate, both answers diffed by core's compareResponses; "pairs/s" is records replayed over the replay's
// own duration (from the JSON report: reading, sending, diffing, reporting; not Node's startup).
//
//   node bench/replay/run.mjs                    (after `npx -y pnpm@10 build`)
//
// Scenarios, one CLI run each per round:
//   equal      both servers answer byte-identical bodies (the common case: the differ's fast path)
//   differ     the candidate changes one field in every body (decode, parse and walk both sides)
//
// The servers share one child process (one core on a 2-core machine; the CLI gets the other). BENCH_N
// (records per run, default 100,000), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default 16) change the
// run; BENCH_SMOKE=1 runs a short check (10,000 records, one round) and writes nothing. A full run writes
// bench/results/replay.json; the figure is the median of the rounds.

import { execFileSync, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CLI = join(root, 'packages', 'cli', 'dist', 'cli.js');
const IDS = 1000;

// ── the servers (a child process) ──────────────────────────────────────────────────────────────────

/** A ~1 KB JSON body for item `id`; the candidate's differs in `price` when `differ`. */
function itemBody(id, candidate) {
  const item = {
    id,
    sku: `SKU-${(100000 + id).toString(36).toUpperCase()}`,
    name: `Product number ${id}`,
    description: 'A sturdy, dependable product for everyday use, made to last and easy to repair. '.repeat(9),
    price: Math.round((9.99 + id * 0.37) * 100) / 100 + (candidate ? 1 : 0),
    currency: 'EUR',
    stock: (id * 7) % 113,
    tags: ['catalog', `group-${id % 17}`, id % 2 ? 'odd' : 'even'],
    dimensions: { width: 10 + (id % 5), height: 20 + (id % 3), depth: 5, unit: 'cm' },
    ratings: { average: 3 + (id % 20) / 10, count: id * 3 },
    updatedAt: '2025-01-01T00:00:00.000Z',
    related: [id + 1, id + 2, id + 3, id + 4],
  };
  return Buffer.from(JSON.stringify(item));
}

async function serve() {
  const start = (bodies) =>
    new Promise((resolve) => {
      const server = createServer((req, res) => {
        const match = /^\/items\/(\d+)/.exec(req.url ?? '');
        const body = match ? bodies[Number(match[1]) % IDS] : undefined;
        if (body === undefined) {
          res.writeHead(404);
          res.end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      });
      server.keepAliveTimeout = 30_000;
      server.listen(0, '127.0.0.1', () => resolve(server.address().port));
    });
  const plain = Array.from({ length: IDS }, (_, id) => itemBody(id, false));
  const changed = Array.from({ length: IDS }, (_, id) => itemBody(id, true));
  const ports = {
    baseline: await start(plain),
    equal: await start(plain),
    differ: await start(changed),
  };
  process.on('message', () => process.send(process.cpuUsage()));
  process.send(ports);
}

// ── the benchmark ──────────────────────────────────────────────────────────────────────────────────

function writeRecording(file, n) {
  const lines = [];
  for (let i = 0; i < n; i++) {
    const id = i % IDS;
    lines.push(
      JSON.stringify({
        v: 1,
        id: `r${i}`,
        ts: 1_735_732_800_000 + i,
        method: 'GET',
        url: `/items/${id}?view=full`,
        headers: {
          accept: 'application/json',
          'accept-language': 'en-GB,en;q=0.9',
          'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) bench',
          'x-request-id': `req-${i}`,
        },
        body: null,
        body_truncated: false,
        version: 'stable',
      }),
    );
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** CPU time the CLI used, written by a preload at exit (robust when other work shares the machine). */
const CPU_PRELOAD = `process.on('exit', () => require('node:fs').writeFileSync(process.env.BENCH_CPU_OUT, JSON.stringify(process.cpuUsage())));\n`;

function runCli(args, cpuOut, preload) {
  return new Promise((resolve, reject) => {
    const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
    const child = spawn(process.execPath, [...prof, '--require', preload, CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BENCH_CPU_OUT: cpuOut },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const smoke = process.env.BENCH_SMOKE === '1';
  const n = Number(process.env.BENCH_N ?? (smoke ? 10_000 : 100_000));
  const rounds = Number(process.env.BENCH_ROUNDS ?? (smoke ? 1 : 3));
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
  if (!existsSync(CLI))
    execFileSync(join(root, 'node_modules', '.bin', 'tsdown'), [], { cwd: join(root, 'packages', 'cli') });

  const dir = mkdtempSync(join(os.tmpdir(), 'canary-kit-bench-replay-'));
  const recording = join(dir, 'recording.jsonl');
  writeRecording(recording, n);
  const preload = join(dir, 'cpu.cjs');
  writeFileSync(preload, CPU_PRELOAD);
  const cpuOut = join(dir, 'cpu.json');
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: 'inherit' });
  const [ports] = await once(child, 'message');
  const url = (port) => `http://127.0.0.1:${port}`;
  const serverCpu = async () => {
    child.send('cpu');
    const [usage] = await once(child, 'message');
    return usage.user + usage.system;
  };
  console.log(
    `replay bench: ${n} records, concurrency ${concurrency}, ${rounds} round(s)${smoke ? ' (smoke)' : ''}`,
  );

  const runs = { equal: [], differ: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const scenario of ['equal', 'differ']) {
        const serverBefore = await serverCpu();
        const started = performance.now();
        const result = await runCli(
          [
            'replay',
            recording,
            '--baseline',
            url(ports.baseline),
            '--candidate',
            url(ports[scenario]),
            '--concurrency',
            String(concurrency),
            '--fail-under',
            '0',
            '--json',
            '-',
            '--quiet',
          ],
          cpuOut,
          preload,
        );
        const wallMs = performance.now() - started;
        const serverUs = (await serverCpu()) - serverBefore;
        const cli = JSON.parse(readFileSync(cpuOut, 'utf8'));
        const cliUsPerPair = (cli.user + cli.system) / n;
        if (result.code !== 0) throw new Error(`canary-kit replay exited ${result.code}:\n${result.stderr}`);
        const report = JSON.parse(result.stdout);
        const expected = scenario === 'equal' ? { match: n, mismatch: 0 } : { match: 0, mismatch: n };
        if (report.totals.match !== expected.match || report.totals.mismatch !== expected.mismatch)
          throw new Error(`${scenario}: unexpected totals ${JSON.stringify(report.totals)}`);
        const run = {
          pairsPerSec: Math.round((n * 1000) / report.durationMs),
          pairsPerSecWithStartup: Math.round((n * 1000) / wallMs),
          durationMs: report.durationMs,
          baselineP50Ms: Number(report.latency.baseline.p50.toFixed(3)),
          baselineP99Ms: Number(report.latency.baseline.p99.toFixed(3)),
          // CPU per pair, whole CLI process (startup included) and both servers: what the machine must supply.
          cliCpuUsPerPair: Math.round(cliUsPerPair),
          serversCpuUsPerPair: Math.round(serverUs / n),
          // Pairs/s one core of CLI could sustain if the CLI had it to itself.
          cliCorePairsPerSec: Math.round(1e6 / cliUsPerPair),
        };
        runs[scenario].push(run);
        console.log(
          `  round ${round + 1}  ${scenario.padEnd(6)} ${String(run.pairsPerSec).padStart(7)} pairs/s  (${run.pairsPerSecWithStartup} with startup; p50 ${run.baselineP50Ms} ms, p99 ${run.baselineP99Ms} ms; CPU/pair: CLI ${run.cliCpuUsPerPair} µs, servers ${run.serversCpuUsPerPair} µs)`,
        );
      }
    }
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }

  const results = Object.fromEntries(
    Object.entries(runs).map(([scenario, list]) => [
      scenario,
      {
        pairsPerSec: median(list.map((r) => r.pairsPerSec)),
        cliCpuUsPerPair: median(list.map((r) => r.cliCpuUsPerPair)),
        serversCpuUsPerPair: median(list.map((r) => r.serversCpuUsPerPair)),
        rounds: list,
      },
    ]),
  );
  console.log('\nmedian of rounds:');
  for (const [scenario, r] of Object.entries(results))
    console.log(
      `  ${scenario.padEnd(6)} ${String(r.pairsPerSec).padStart(7)} pairs/s   CPU per pair: CLI ${r.cliCpuUsPerPair} µs + servers ${r.serversCpuUsPerPair} µs`,
    );
  const target = 5000;
  console.log(
    `  target ≥ ${target} pairs/s (equal bodies): ${results.equal.pairsPerSec >= target ? 'met' : 'NOT met'}`,
  );
  if (smoke) return;

  const cpus = os.cpus();
  const out = join(root, 'bench', 'results', 'replay.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        benchmark: 'replay',
        date: new Date().toISOString(),
        command: 'node bench/replay/run.mjs',
        machine: {
          node: process.version,
          platform: `${process.platform} ${process.arch}`,
          cpuModel: cpus[0]?.model.trim(),
          cores: cpus.length,
        },
        settings: { records: n, rounds, concurrency, bodyBytes: itemBody(1, false).length },
        statistic:
          'median of rounds of records / replay duration (JSON report durationMs); both servers in one child process',
        target: { pairsPerSec: target, scenario: 'equal' },
        results,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwrote ${out}`);
}

if (process.argv[2] === '--serve') await serve();
else await main();
