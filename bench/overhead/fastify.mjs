// Overhead of @canary-kit/fastify on a hello-world route, beside bare Fastify and fastify-metrics alone.
//
//   npx -y pnpm@10 build && node bench/overhead/fastify.mjs
//
// Three servers, one child process each, all started before the first round; autocannon (in this process)
// loads them in alternating rounds with the order rotated every round, so drift on the machine (thermal,
// neighbours) falls on every variant alike. Reported per variant: the median req/s over the rounds, and
// the ratios the targets are about:
//   canary-kit / bare Fastify     ≥ 0.90
//   canary-kit / fastify-metrics  ≥ 1.00 (canary-kit costs no more throughput than fastify-metrics alone)
//
// BENCH_DURATION (s per round, default 10), BENCH_ROUNDS (default 5), BENCH_WARMUP (s, default 3) and
// BENCH_CONNECTIONS (default 50) shrink or grow the run; results go to bench/results/overhead-fastify.json.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const FLAG = 'hello-v2';
const USER_HEADER = 'x-user-id';

const VARIANTS = {
  bare: 'bare Fastify',
  'canary-kit': 'Fastify + @canary-kit/fastify (plugin, bound-flag decision, version-labelled histogram)',
  'fastify-metrics': 'Fastify + fastify-metrics (defaults: route histogram + summary)',
  'empty-hooks': 'Fastify + an empty onRequest and onResponse hook (the floor of any hook-based plugin)',
  'core-hooks': "Fastify + canary-kit core's RequestBinding in two plain hooks (no adapter)",
};

// ── server side: `node fastify.mjs --serve <variant>` ─────────────────────────────────────────────────

async function serve(variant) {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  const hello = async () => ({ hello: 'world' });
  let close = async () => {};

  if (variant === 'bare') {
    app.get('/hello', hello);
  } else if (variant === 'canary-kit') {
    const { createCanary } = await import(join(root, 'packages/core/dist/index.js'));
    const { default: canaryPlugin, canaryHandler } = await import(
      join(root, 'packages/fastify/dist/index.js')
    );
    const canary = createCanary({ flags: { [FLAG]: { percentage: 50 } } });
    app.register(canaryPlugin, {
      canary,
      context: (request) => ({ userId: request.headers[USER_HEADER] }),
      metricsRoute: '/metrics',
    });
    // Both versions answer alike: what is measured is the decision, the dispatch and the labelled histogram.
    app.get(
      '/hello',
      { config: { canary: { flag: FLAG } } },
      canaryHandler({ canary: hello, stable: hello }),
    );
    close = () => canary.close();
  } else if (variant === 'core-hooks') {
    // canary-kit's core work in two plain hooks, without the adapter: what the adapter adds is the difference.
    const { createCanary, RequestBinding } = await import(join(root, 'packages/core/dist/index.js'));
    const canary = createCanary({ flags: { [FLAG]: { percentage: 50 } } });
    const binding = new RequestBinding(canary, {
      context: (request) => ({ userId: request.headers[USER_HEADER] }),
    });
    const states = new WeakMap();
    app.addHook('onRequest', (request, _reply, done) => {
      states.set(request, binding.start(request, request.headers, false));
      done();
    });
    app.addHook('onResponse', (request, reply, done) => {
      const state = states.get(request);
      binding.finish(state, request.method, request.routeOptions.url, reply.statusCode, FLAG);
      done();
    });
    app.get('/hello', hello);
    close = () => canary.close();
  } else if (variant === 'empty-hooks') {
    // The floor any hook-based plugin pays: an onRequest and an onResponse hook that do nothing.
    app.addHook('onRequest', (_request, _reply, done) => done());
    app.addHook('onResponse', (_request, _reply, done) => done());
    app.get('/hello', hello);
  } else if (variant === 'fastify-metrics') {
    const { default: metrics } = await import('fastify-metrics');
    await app.register(metrics.default ?? metrics, { endpoint: '/metrics' });
    app.get('/hello', hello);
  } else {
    throw new Error(`unknown variant ${variant}`);
  }

  await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);
  // The load side asks for the server's CPU time around each round: CPU µs per request is far less
  // sensitive to a busy machine than req/s.
  process.on('message', (message) => {
    if (message === 'cpu') process.send(process.cpuUsage());
  });
  process.once('SIGTERM', async () => {
    await app.close();
    await close();
    process.exit(0);
  });
}

// ── load side ─────────────────────────────────────────────────────────────────────────────────────────

function startServer(variant) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', variant], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve({ child, url: `http://127.0.0.1:${JSON.parse(line).port}` });
    });
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
  });
}

function serverCpu(child) {
  return new Promise((resolve) => {
    child.once('message', ({ user, system }) => resolve(user + system));
    child.send('cpu');
  });
}

async function load(autocannon, { url, child }, seconds, connections) {
  const cpuBefore = await serverCpu(child);
  const result = await autocannon({
    url: `${url}/hello`,
    connections,
    duration: seconds,
    headers: { [USER_HEADER]: 'user-42' },
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  const cpuMicros = (await serverCpu(child)) - cpuBefore;
  return {
    requestsPerSecond: result.requests.average,
    latencyP99Ms: result.latency.p99,
    total: result.requests.total,
    serverCpuMicrosPerRequest: cpuMicros / result.requests.total,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main() {
  const DURATION = Number(process.env.BENCH_DURATION ?? 10);
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
  const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
  const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const { default: autocannon } = await import('autocannon');

  const names = Object.keys(VARIANTS);
  const servers = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await startServer(n)])));
  const rounds = Object.fromEntries(names.map((n) => [n, []]));
  try {
    if (WARMUP > 0) for (const n of names) await load(autocannon, servers[n], WARMUP, CONNECTIONS);
    for (let round = 0; round < ROUNDS; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const n of order) {
        const r = await load(autocannon, servers[n], DURATION, CONNECTIONS);
        rounds[n].push(r);
        console.log(
          `round ${round + 1}/${ROUNDS}  ${n.padEnd(16)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s  ` +
            `p99 ${r.latencyP99Ms} ms  server CPU ${r.serverCpuMicrosPerRequest.toFixed(1)} µs/req`,
        );
      }
    }
    // Sanity: canary-kit really recorded version-labelled requests while it was being measured.
    const exposition = await (await fetch(`${servers['canary-kit'].url}/metrics`)).text();
    const recorded = exposition
      .split('\n')
      .filter((l) => l.startsWith('http_request_duration_seconds_count{') && l.includes('route="/hello"'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    if (recorded === 0) throw new Error('canary-kit recorded no requests on /hello');

    const medians = Object.fromEntries(
      names.map((n) => [n, median(rounds[n].map((r) => r.requestsPerSecond))]),
    );
    const cpu = Object.fromEntries(
      names.map((n) => [n, median(rounds[n].map((r) => r.serverCpuMicrosPerRequest))]),
    );
    const ratios = {
      canaryKitVsBare: medians['canary-kit'] / medians.bare,
      canaryKitVsFastifyMetrics: medians['canary-kit'] / medians['fastify-metrics'],
      fastifyMetricsVsBare: medians['fastify-metrics'] / medians.bare,
      // Throughput one core would give, from server CPU per request: bare's CPU over the variant's.
      cpuCapacityCanaryKitVsBare: cpu.bare / cpu['canary-kit'],
      cpuCapacityCanaryKitVsFastifyMetrics: cpu['fastify-metrics'] / cpu['canary-kit'],
    };
    const targets = {
      canaryKitVsBare: { atLeast: 0.9, met: ratios.canaryKitVsBare >= 0.9 },
      canaryKitVsFastifyMetrics: { atLeast: 1, met: ratios.canaryKitVsFastifyMetrics >= 1 },
    };

    console.log('\nmedian req/s, median server CPU per request');
    for (const n of names) {
      console.log(
        `  ${n.padEnd(16)} ${medians[n].toFixed(0).padStart(7)} req/s  ${cpu[n].toFixed(1).padStart(6)} µs/req   ${VARIANTS[n]}`,
      );
    }
    console.log('ratios');
    for (const [k, v] of Object.entries(ratios)) {
      const target = targets[k];
      console.log(
        `  ${k.padEnd(38)} ${v.toFixed(3)}${target ? `  (target ≥ ${target.atLeast}: ${target.met ? 'met' : 'NOT met'})` : ''}`,
      );
    }

    const report = {
      benchmark: 'overhead-fastify',
      date: new Date().toISOString(),
      command: 'node bench/overhead/fastify.mjs',
      machine: {
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        cpuModel: os.cpus()[0]?.model.trim(),
        cores: os.cpus().length,
      },
      settings: {
        durationSeconds: DURATION,
        rounds: ROUNDS,
        warmupSeconds: WARMUP,
        connections: CONNECTIONS,
        route: 'GET /hello',
      },
      statistic:
        'median over rounds of autocannon average req/s; rounds alternate the variants, order rotated per round',
      variants: VARIANTS,
      medians,
      serverCpuMicrosPerRequest: cpu,
      ratios,
      targets,
      canaryKitRequestsRecorded: recorded,
      rounds,
    };
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(
      join(root, 'bench', 'results', 'overhead-fastify.json'),
      `${JSON.stringify(report, null, 2)}\n`,
    );
    console.log('\nwrote bench/results/overhead-fastify.json');
  } finally {
    await Promise.all(
      Object.values(servers).map(
        ({ child }) =>
          new Promise((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', resolve);
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}

if (process.argv[2] === '--serve') await serve(process.argv[3]);
else await main();
