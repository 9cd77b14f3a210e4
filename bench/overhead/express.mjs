// Express overhead benchmark: one hello-world route served three ways, each in its own server process, loaded
// by autocannon from this process in alternating rounds of the same run:
//
//   bare         express 5 alone
//   canary-kit   + canaryMiddleware, the route bound to a flag by canaryRoute (one decision per request),
//                  the version-labelled http_request_duration_seconds histogram
//   prom-bundle  + express-prom-bundle alone (method/path/status histogram), the usual metrics middleware
//
//   node bench/overhead/express.mjs          (after `npx -y pnpm@10 build`)
//
// BENCH_DURATION (seconds per measurement, default 10), BENCH_ROUNDS (default 5), BENCH_CONNECTIONS
// (default 50) and BENCH_WARMUP (seconds, default 3) shrink or grow the run. Rounds rotate which server goes
// first; the figure reported is the median of the rounds. Absolute req/s move with the machine; the ratios
// between servers measured side by side are the point.

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const VARIANTS = ['bare', 'canary-kit', 'prom-bundle'];
const PATH = '/hello';
const HEADERS = { 'x-user-id': 'user-42' };

// ── the servers (child processes) ──────────────────────────────────────────────────────────────────

async function serve(variant) {
  const { default: express } = await import('express');
  const app = express();
  const hello = (_req, res) => {
    res.send('hello world');
  };
  if (variant === 'canary-kit') {
    const { createCanary } = await import('@canary-kit/core');
    const { canaryMiddleware, canaryRoute, metricsHandler } = await import('@canary-kit/express');
    const canary = createCanary({ flags: { 'hello-v2': { percentage: 50 } } });
    app.use(canaryMiddleware(canary, { context: (req) => ({ userId: req.get('x-user-id') }) }));
    app.get(PATH, canaryRoute('hello-v2', { canary: hello, stable: hello }));
    app.get('/metrics', metricsHandler(canary));
  } else if (variant === 'prom-bundle') {
    const { default: promBundle } = await import('express-prom-bundle');
    app.use(promBundle({ includeMethod: true, includePath: true, includeStatusCode: true }));
    app.get(PATH, hello);
  } else {
    app.get(PATH, hello);
  }
  const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('disconnect', () => process.exit(0));
}

// ── the load (this process) ────────────────────────────────────────────────────────────────────────

async function startServer(variant) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', variant], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = await once(child, 'message');
  return { variant, child, base: `http://127.0.0.1:${message.port}` };
}

async function load(base, seconds, connections) {
  const { default: autocannon } = await import('autocannon');
  const result = await autocannon({
    url: `${base}${PATH}`,
    headers: HEADERS,
    connections,
    duration: seconds,
  });
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(
      `${base}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`,
    );
  }
  return { reqPerSec: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99 };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main() {
  const duration = Number(process.env.BENCH_DURATION ?? 10);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const warmup = Number(process.env.BENCH_WARMUP ?? 3);

  const servers = await Promise.all(VARIANTS.map(startServer));
  try {
    // Each server does what it claims before it is measured.
    const kit = servers.find((s) => s.variant === 'canary-kit');
    const bundle = servers.find((s) => s.variant === 'prom-bundle');
    await fetch(`${kit.base}${PATH}`, { headers: HEADERS }).then((r) => r.text());
    const kitMetrics = await (await fetch(`${kit.base}/metrics`)).text();
    if (
      !/http_request_duration_seconds_count\{[^}]*route="\/hello"[^}]*version="(canary|stable)"/.test(
        kitMetrics,
      )
    ) {
      throw new Error('the canary-kit server did not record a version-labelled request');
    }
    if (!(await (await fetch(`${bundle.base}/metrics`)).text()).includes('http_request_duration_seconds')) {
      throw new Error('the prom-bundle server exposes no histogram');
    }

    console.log(
      `Express overhead: ${rounds} rounds × ${duration} s, ${connections} connections, GET ${PATH}\n`,
    );
    for (const server of servers) await load(server.base, warmup, connections);

    const runs = Object.fromEntries(VARIANTS.map((v) => [v, []]));
    for (let round = 0; round < rounds; round++) {
      const order = servers.map((_, i) => servers[(i + round) % servers.length]);
      for (const server of order) {
        const run = await load(server.base, duration, connections);
        runs[server.variant].push(run);
        console.log(
          `  round ${round + 1}  ${server.variant.padEnd(12)} ${run.reqPerSec.toFixed(0).padStart(7)} req/s  p99 ${run.p99Ms} ms`,
        );
      }
    }

    const results = Object.fromEntries(
      VARIANTS.map((v) => [
        v,
        {
          reqPerSec: median(runs[v].map((r) => r.reqPerSec)),
          p50Ms: median(runs[v].map((r) => r.p50Ms)),
          p99Ms: median(runs[v].map((r) => r.p99Ms)),
          rounds: runs[v],
        },
      ]),
    );
    const ratio = (a, b) => Number((results[a].reqPerSec / results[b].reqPerSec).toFixed(3));
    const ratios = {
      'canary-kit / bare': ratio('canary-kit', 'bare'),
      'prom-bundle / bare': ratio('prom-bundle', 'bare'),
      'canary-kit / prom-bundle': ratio('canary-kit', 'prom-bundle'),
    };

    console.log('\nmedian of rounds:');
    for (const v of VARIANTS)
      console.log(`  ${v.padEnd(12)} ${results[v].reqPerSec.toFixed(0).padStart(7)} req/s`);
    for (const [name, value] of Object.entries(ratios))
      console.log(`  ${name.padEnd(26)} ${value.toFixed(3)}`);

    const cpus = os.cpus();
    const out = join(root, 'bench', 'results', 'overhead-express.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          benchmark: 'overhead-express',
          date: new Date().toISOString(),
          command: 'node bench/overhead/express.mjs',
          machine: {
            node: process.version,
            platform: `${process.platform} ${process.arch}`,
            cpuModel: cpus[0]?.model.trim(),
            cores: cpus.length,
          },
          settings: { durationSeconds: duration, rounds, connections, warmupSeconds: warmup, path: PATH },
          statistic:
            'median of rounds of autocannon requests.average; servers in separate processes, rounds rotate the order',
          results,
          ratios,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`\nwrote ${out}`);
  } finally {
    for (const server of servers) server.child.kill();
  }
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3]);
} else {
  await main();
}
