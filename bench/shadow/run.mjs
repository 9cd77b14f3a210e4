// Shadowing and the primary path: what mirroring live requests costs the user, canary-kit beside nginx's mirror.
//
//   npx -y pnpm@10 build && node bench/shadow/run.mjs
//
// One primary app (plain node:http, canary-kit's RequestBinding + captureRequestBody/captureResponseBody +
// finish(…, exchange), as in packages/core/test/shadow/shadow-target.test.ts) answering GET with a 5 KB JSON body,
// run as one child process per configuration; the shadow targets in another child; nginx (Debian `nginx`,
// single process) in front of the no-shadow app; the load generator in this process. Scenarios:
//
//   no-shadow             the app, no shadow target
//   canary-kit-slow       the app mirroring every GET to a target that answers after 1 s (shadow defaults:
//                         maxInFlight 64, timeoutMs 2000; past 64 in flight copies are dropped and counted)
//   nginx-no-mirror       nginx proxy_pass → the no-shadow app (upstream keepalive): the proxy hop alone
//   nginx-mirror-slow     nginx `mirror /mirror` → the same 1 s-slow target, proxy_pass → the no-shadow app
//   canary-kit-fast       the app mirroring every GET to a fast target answering the same bytes (the differ
//                         settles on equal bytes)
//   canary-kit-fast-json  the same, but the target answers the same JSON value with its keys in another order, so
//                         every pair is decoded, parsed and deep-diffed (all matches)
//
// The client is the same for every scenario: an undici Pool with BENCH_CONNECTIONS keep-alive connections
// (pipelining 1), one closed loop per connection for BENCH_DURATION seconds (BENCH_RATE > 0 paces the loops to
// that many req/s in total instead). Latency is taken per request with performance.now() and the percentiles
// are exact (autocannon's histogram has 1 ms resolution, too coarse for a 1.1× target on a ~1–3 ms p99).
// Scenarios alternate in BENCH_ROUNDS rounds with the order rotated every round, and the run waits for every
// copy in flight to be answered before the next scenario starts; reported are medians over the rounds and:
//
//   canary-kit-slow p99 / no-shadow p99         target ≤ 1.1
//   nginx-mirror-slow p99 / no-shadow p99       (and / nginx-no-mirror p99)
//   canary-kit-fast(-json) req/s / no-shadow    and the app's CPU µs per request, less sensitive to a busy machine
//
// BENCH_DURATION (s, default 10), BENCH_ROUNDS (3), BENCH_WARMUP (s, 2), BENCH_CONNECTIONS (10), BENCH_RATE
// (req/s, 0 = closed loop), BENCH_SLOW_MS (1000), BENCH_SCENARIOS (comma list, default all), NGINX (default
// /usr/sbin/nginx; its scenarios are skipped with a warning when it is missing: `apt-get install -y nginx`),
// BENCH_OUT (default bench/results/shadow.json), BENCH_CPU_PROF (a directory: each app writes a V8 CPU profile
// there when it stops).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { connect, createServer as createTcpServer } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CORE = join(root, 'packages', 'core', 'dist', 'index.js');
const PATH = '/items/42';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const SCENARIOS = {
  'no-shadow': 'node:http app + canary-kit RequestBinding, no shadow target',
  'canary-kit-slow':
    'the app + canary-kit shadow of every GET to a 1 s-slow target (defaults: maxInFlight 64, timeoutMs 2000)',
  'nginx-no-mirror': 'nginx proxy_pass (upstream keepalive) → the no-shadow app',
  'nginx-mirror-slow': 'nginx mirror → the 1 s-slow target, proxy_pass → the no-shadow app',
  'canary-kit-fast': 'the app + canary-kit shadow of every GET to a fast target, byte-identical 5 KB JSON',
  'canary-kit-fast-json':
    'the app + canary-kit shadow of every GET to a fast target, same 5 KB JSON value, keys reordered (parsed + deep-diffed)',
};

/** The shadow target each scenario's copies go to. */
const TARGET_OF = {
  'canary-kit-slow': 'slow',
  'nginx-mirror-slow': 'slow',
  'canary-kit-fast': 'fast',
  'canary-kit-fast-json': 'fastJson',
};

// ── the body both sides serve ─────────────────────────────────────────────────────────────────────────

/** A deterministic order document of at least 5 KiB serialized. */
function buildPayload() {
  const items = [];
  const doc = {
    id: 'order-42',
    status: 'confirmed',
    currency: 'EUR',
    customer: { id: 'c-7', name: 'Ada Lovelace', tier: 'gold', email: 'ada@example.com' },
    shipping: { method: 'express', address: { street: '12 Analytical Row', city: 'London', zip: 'N1 9GU' } },
    items,
    total: 0,
    updatedAt: '2025-01-01T00:00:00.000Z',
  };
  for (let i = 0; JSON.stringify(doc).length < 5120; i++) {
    const price = Math.round((i * 7.31 + 3) * 100) / 100;
    items.push({
      sku: `SKU-${1000 + i}`,
      name: `Catalogue item number ${i}`,
      price,
      qty: (i % 5) + 1,
      tags: ['alpha', 'beta', 'gamma'].slice(0, (i % 3) + 1),
      inStock: i % 2 === 0,
    });
    doc.total = Math.round((doc.total + price * ((i % 5) + 1)) * 100) / 100;
  }
  return doc;
}

/** The same value with every object's keys in reverse order: other bytes, equal JSON. */
function reverseKeys(value) {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .reverse()
      .map((k) => [k, reverseKeys(value[k])]),
  );
}

/** The built core, retried while another engineer's build is rewriting dist. */
async function importCore() {
  for (let attempt = 0; ; attempt++) {
    try {
      if (!existsSync(CORE)) throw new Error(`${CORE} is missing`);
      return await import(`${pathToFileURL(CORE).href}?attempt=${attempt}`);
    } catch (error) {
      if (attempt >= 30)
        throw new Error(
          `cannot load ${CORE} (build it: cd packages/core && ../../node_modules/.bin/tsdown): ${error.message}`,
        );
      await sleep(2000);
    }
  }
}

function listen(server) {
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

// ── the primary app: `node run.mjs --app none|<shadow target url>` ────────────────────────────────────

async function serveApp(target) {
  const { createCanary, RequestBinding, captureRequestBody, captureResponseBody } = await importCore();
  const canary = createCanary(target === 'none' ? {} : { shadow: { name: 'candidate', target } });
  const binding = new RequestBinding(canary, {
    context: (req) => ({ userId: req.headers['x-user'] }),
  });
  const payload = buildPayload();
  const errors = [];
  canary.on('error', (error) => {
    if (errors.length < 5) errors.push(String(error?.stack ?? error));
  });

  // As the shadow test's primary does it, and as an adapter would.
  const server = createServer((req, res) => {
    const state = binding.start(req, req.headers, false, req.method);
    const capture = state.capture;
    if (capture) {
      captureRequestBody(req, capture);
      captureResponseBody(res, capture);
    }
    req.on('data', () => {});
    req.on('end', () => {
      const text = JSON.stringify(payload);
      res.setHeader('content-type', 'application/json');
      res.on('finish', () =>
        binding.finish(state, req.method ?? 'GET', '/items/:id', res.statusCode, undefined, {
          url: req.url ?? '/',
          requestHeaders: req.headers,
          responseHeaders: () => res.getHeaders(),
        }),
      );
      res.end(text);
    });
  });
  const port = await listen(server);
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.on('message', (message) => {
    if (message !== 'stats') return;
    process.send({
      cpu: process.cpuUsage(),
      shadow: canary.stats().shadow.candidate ?? null,
      inFlight: canary.shadows.reduce((sum, s) => sum + s.inFlight, 0),
      errors,
    });
  });
  process.once('SIGTERM', async () => {
    server.closeAllConnections();
    server.close();
    await canary.close();
    process.exit(0);
  });
}

// ── the shadow targets: `node run.mjs --targets <slowMs>` ─────────────────────────────────────────────

async function serveTargets(slowMs) {
  const same = JSON.stringify(buildPayload());
  const reordered = JSON.stringify(reverseKeys(buildPayload()));
  const hits = {
    slow: 0,
    fast: 0,
    fastJson: 0,
    slowConnections: 0,
    fastConnections: 0,
    fastJsonConnections: 0,
  };
  let slowInFlight = 0;
  const answer = (res, body) => {
    res.setHeader('content-type', 'application/json');
    res.end(body);
  };
  const slow = createServer((req, res) => {
    req.resume();
    hits.slow++;
    slowInFlight++;
    setTimeout(() => {
      slowInFlight--;
      answer(res, same);
    }, slowMs);
  });
  const fast = createServer((req, res) => {
    req.resume();
    hits.fast++;
    answer(res, same);
  });
  const fastJson = createServer((req, res) => {
    req.resume();
    hits.fastJson++;
    answer(res, reordered);
  });
  // Connections accepted: a keep-alive pool opens a handful once; a steady count means sockets are being reused.
  slow.on('connection', () => hits.slowConnections++);
  fast.on('connection', () => hits.fastConnections++);
  fastJson.on('connection', () => hits.fastJsonConnections++);
  const ports = { slow: await listen(slow), fast: await listen(fast), fastJson: await listen(fastJson) };
  process.stdout.write(`${JSON.stringify(ports)}\n`);
  process.on('message', (message) => {
    if (message === 'stats') process.send({ hits, slowInFlight });
  });
  process.once('SIGTERM', () => process.exit(0));
}

// ── nginx ─────────────────────────────────────────────────────────────────────────────────────────────

/** A free port: bind port 0, read it, let it go. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createTcpServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function nginxConfig(dir, { mirrorPort, plainPort, appPort, slowPort }) {
  return `# generated by bench/shadow/run.mjs
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body_temp;
  proxy_temp_path ${dir}/proxy_temp;
  fastcgi_temp_path ${dir}/fastcgi_temp;
  uwsgi_temp_path ${dir}/uwsgi_temp;
  scgi_temp_path ${dir}/scgi_temp;
  # Node's server closes no keep-alive connection after N requests; nginx's default would (1000).
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  upstream app {
    server 127.0.0.1:${appPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  upstream slow {
    server 127.0.0.1:${slowPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${mirrorPort};
    location / {
      mirror /mirror;
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location = /mirror {
      internal;
      proxy_pass http://slow$request_uri;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
  server {
    listen 127.0.0.1:${plainPort};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

async function startNginx(binary, appPort, slowPort) {
  const dir = mkdtempSync(join(os.tmpdir(), 'canary-kit-bench-nginx-'));
  const ports = { mirrorPort: await freePort(), plainPort: await freePort(), appPort, slowPort };
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, ports));
  const args = ['-p', `${dir}/`, '-c', conf, '-e', join(dir, 'error.log')];
  const test = spawnSync(binary, ['-t', '-q', ...args], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx -t failed:\n${test.stderr}${test.stdout}`);
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const nginx = { child, dir, ...ports };
  const deadline = Date.now() + 5000;
  while (!((await canConnect(ports.mirrorPort)) && (await canConnect(ports.plainPort)))) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw Object.assign(new Error(`nginx did not start: ${stderr}${readLog(dir)}`), { nginx });
    await sleep(50);
  }
  return nginx;
}

function readLog(dir) {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8');
  } catch {
    return '';
  }
}

// ── children ──────────────────────────────────────────────────────────────────────────────────────────

const children = new Set();

function startChild(args, label) {
  // BENCH_CPU_PROF=<dir>: each app writes a V8 CPU profile of its scenario there when it stops.
  const profile =
    process.env.BENCH_CPU_PROF && args[0] === '--app'
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`, `--cpu-prof-name=${label}.cpuprofile`]
      : [];
  const child = spawn(process.execPath, [...profile, fileURLToPath(import.meta.url), ...args], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve({ child, ...JSON.parse(out.split('\n')[0]) });
    });
    child.once('exit', (code) => reject(new Error(`${label} exited with ${code}`)));
  });
}

function ask(child) {
  return new Promise((resolve, reject) => {
    const exited = (code, signal) => reject(new Error(`a server exited mid-run (${signal ?? code})`));
    child.once('exit', exited);
    child.once('message', (message) => {
      child.off('exit', exited);
      resolve(message);
    });
    child.send('stats', (error) => error && reject(error));
  });
}

function stop(child, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(signal);
  });
}

// ── load ──────────────────────────────────────────────────────────────────────────────────────────────

/** One scenario's run: the same client for all (keep-alive connections, one request in flight on each). */
async function load(pool, { seconds, connections, rate, expectedBytes }) {
  const latencies = [];
  let failures = 0;
  let firstFailure;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const interval = rate > 0 ? (connections * 1000) / rate : 0;

  async function loop(i) {
    let next = started + (interval * i) / connections;
    for (;;) {
      if (interval > 0) {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        next = Math.max(next + interval, performance.now());
      }
      const t0 = performance.now();
      if (t0 >= deadline) return;
      try {
        const { statusCode, body } = await pool.request({
          path: PATH,
          method: 'GET',
          headers: { 'x-user': `user-${i}`, accept: 'application/json' },
        });
        const bytes = (await body.arrayBuffer()).byteLength;
        const ms = performance.now() - t0;
        if (statusCode !== 200 || bytes !== expectedBytes) {
          failures++;
          firstFailure ??= `status ${statusCode}, ${bytes} bytes`;
        } else latencies.push(ms);
      } catch (error) {
        failures++;
        firstFailure ??= error.message;
        await sleep(10);
      }
    }
  }
  await Promise.all(Array.from({ length: connections }, (_, i) => loop(i)));
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const at = (p) => (sorted.length ? sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);
  return {
    requests: sorted.length,
    failures,
    firstFailure,
    seconds: elapsed,
    requestsPerSecond: sorted.length / elapsed,
    latencyMs: {
      mean: latencies.reduce((a, b) => a + b, 0) / (latencies.length || 1),
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max: sorted.length ? sorted[sorted.length - 1] : NaN,
    },
  };
}

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const diffCounts = (after, before) =>
  after ? Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before?.[k] ?? 0)])) : null;

// ── main ──────────────────────────────────────────────────────────────────────────────────────────────

async function main() {
  const DURATION = Number(process.env.BENCH_DURATION ?? 10);
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
  const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
  const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
  const RATE = Number(process.env.BENCH_RATE ?? 0);
  const SLOW_MS = Number(process.env.BENCH_SLOW_MS ?? 1000);
  const NGINX = process.env.NGINX ?? '/usr/sbin/nginx';
  const OUT = process.env.BENCH_OUT ?? join(root, 'bench', 'results', 'shadow.json');
  let names = process.env.BENCH_SCENARIOS
    ? process.env.BENCH_SCENARIOS.split(',').map((s) => s.trim())
    : Object.keys(SCENARIOS);
  for (const n of names) if (!(n in SCENARIOS)) throw new Error(`unknown scenario ${n}`);
  if (!existsSync(NGINX) && names.some((n) => n.startsWith('nginx'))) {
    console.warn(`${NGINX} not found (apt-get install -y nginx, or NGINX=/path): nginx scenarios skipped`);
    names = names.filter((n) => !n.startsWith('nginx'));
  }
  if (!names.includes('no-shadow')) throw new Error('no-shadow is the baseline every ratio needs');
  await importCore(); // fail early (or wait out a concurrent rebuild) before starting anything

  const undici = createRequire(join(root, 'packages', 'core', 'package.json'))('undici');
  const expectedBytes = Buffer.byteLength(JSON.stringify(buildPayload()));

  let nginx;
  let cleaned;
  const pools = [];
  const cleanup = () =>
    (cleaned ??= (async () => {
      await Promise.allSettled(pools.map((p) => p.destroy()));
      if (nginx) {
        await stop(nginx.child, 'SIGQUIT');
        const log = readLog(nginx.dir).trim();
        if (!process.env.BENCH_KEEP_TMP) rmSync(nginx.dir, { recursive: true, force: true });
        nginx.log = log;
      }
      await Promise.all([...children].map((c) => stop(c)));
    })());
  let interrupted = false;
  const onSignal = (signal) => {
    interrupted = true;
    console.error(`\n${signal}: stopping nginx and the servers`);
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Last resort (an uncaught error past cleanup): nothing this run started outlives it.
  process.once('exit', () => {
    for (const c of [...children, nginx?.child]) if (c && c.exitCode === null) c.kill('SIGKILL');
  });

  try {
    const targets = await startChild(['--targets', String(SLOW_MS)], 'targets');
    const url = (port) => `http://127.0.0.1:${port}`;
    const needs = (n) => names.includes(n);
    const apps = {};
    apps.none = await startChild(['--app', 'none'], 'app-none');
    if (needs('canary-kit-slow')) apps.slow = await startChild(['--app', url(targets.slow)], 'app-slow');
    if (needs('canary-kit-fast')) apps.fast = await startChild(['--app', url(targets.fast)], 'app-fast');
    if (needs('canary-kit-fast-json'))
      apps.fastJson = await startChild(['--app', url(targets.fastJson)], 'app-fast-json');
    if (names.some((n) => n.startsWith('nginx'))) {
      try {
        nginx = await startNginx(NGINX, apps.none.port, targets.slow);
      } catch (error) {
        nginx = error.nginx;
        throw error;
      }
    }
    for (const c of [nginx?.child]) if (c) children.add(c);

    const where = {
      'no-shadow': { port: apps.none.port, app: apps.none },
      'canary-kit-slow': apps.slow && { port: apps.slow.port, app: apps.slow },
      'nginx-no-mirror': nginx && { port: nginx.plainPort, app: apps.none },
      'nginx-mirror-slow': nginx && { port: nginx.mirrorPort, app: apps.none },
      'canary-kit-fast': apps.fast && { port: apps.fast.port, app: apps.fast },
      'canary-kit-fast-json': apps.fastJson && { port: apps.fastJson.port, app: apps.fastJson },
    };
    const poolOf = Object.fromEntries(
      names.map((n) => {
        const pool = new undici.Pool(url(where[n].port), {
          connections: CONNECTIONS,
          pipelining: 1,
          keepAliveTimeout: 60_000,
          keepAliveMaxTimeout: 600_000,
        });
        pools.push(pool);
        return [n, pool];
      }),
    );

    /** Until every copy is answered (canary-kit's in flight, the slow target's open requests). */
    const settle = async () => {
      const deadline = Date.now() + SLOW_MS + 10_000;
      for (;;) {
        const [t, ...a] = await Promise.all([targets, ...Object.values(apps)].map((s) => ask(s.child)));
        if (t.slowInFlight === 0 && a.every((s) => s.inFlight === 0)) return;
        if (Date.now() > deadline) throw new Error('copies still in flight 10 s past the slow target delay');
        await sleep(50);
      }
    };

    const run = async (n, seconds) => {
      const { app } = where[n];
      const [appBefore, targetsBefore] = await Promise.all([ask(app.child), ask(targets.child)]);
      const r = await load(poolOf[n], { seconds, connections: CONNECTIONS, rate: RATE, expectedBytes });
      const [appAfter, targetsAfter] = await Promise.all([ask(app.child), ask(targets.child)]);
      await settle();
      const appSettled = await ask(app.child);
      if (r.failures > 0) throw new Error(`${n}: ${r.failures} failed requests (first: ${r.firstFailure})`);
      if (appSettled.errors.length > 0) throw new Error(`${n}: canary-kit error: ${appSettled.errors[0]}`);
      const cpu = (s) => s.cpu.user + s.cpu.system;
      return {
        ...r,
        appCpuMicrosPerRequest: (cpu(appAfter) - cpu(appBefore)) / r.requests,
        // Outcomes counted from the first request of the run until every copy it sent was answered.
        shadow: diffCounts(appSettled.shadow, appBefore.shadow),
        targetHits: diffCounts(targetsAfter.hits, targetsBefore.hits),
      };
    };

    const settings = {
      durationSeconds: DURATION,
      rounds: ROUNDS,
      warmupSeconds: WARMUP,
      connections: CONNECTIONS,
      rate: RATE > 0 ? RATE : 'closed loop (as fast as the server answers)',
      slowTargetMs: SLOW_MS,
      path: `GET ${PATH}`,
      bodyBytes: expectedBytes,
      shadowConfig: '{ name, target } only: defaults maxInFlight 64, timeoutMs 2000, circuit breaker on',
    };
    console.log(
      `shadow bench: ${names.length} scenarios × ${ROUNDS} rounds × ${DURATION} s, ${CONNECTIONS} connections, ` +
        `${RATE > 0 ? `${RATE} req/s` : 'closed loop'}, ${expectedBytes}-byte JSON, slow target ${SLOW_MS} ms` +
        (nginx ? `, nginx ${nginxVersion(NGINX)}` : ''),
    );

    if (WARMUP > 0) for (const n of names) await run(n, WARMUP);
    const rounds = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const n of order) {
        const r = await run(n, DURATION);
        rounds[n].push(r);
        const s = r.shadow;
        console.log(
          `round ${round + 1}/${ROUNDS}  ${n.padEnd(21)} ${r.requestsPerSecond.toFixed(0).padStart(6)} req/s  ` +
            `p50 ${fmt(r.latencyMs.p50)}  p99 ${fmt(r.latencyMs.p99)} ms  app ${r.appCpuMicrosPerRequest.toFixed(0)} µs/req` +
            (s ? `  shadow ${shadowSummary(s)}` : '') +
            (n === 'nginx-mirror-slow' ? `  mirrored ${r.targetHits.slow}` : '') +
            (TARGET_OF[n] ? `  (${r.targetHits[`${TARGET_OF[n]}Connections`]} new target connections)` : ''),
        );
      }
    }

    const medians = Object.fromEntries(
      names.map((n) => {
        const rs = rounds[n];
        return [
          n,
          {
            requestsPerSecond: median(rs.map((r) => r.requestsPerSecond)),
            p50Ms: median(rs.map((r) => r.latencyMs.p50)),
            p99Ms: median(rs.map((r) => r.latencyMs.p99)),
            appCpuMicrosPerRequest: median(rs.map((r) => r.appCpuMicrosPerRequest)),
          },
        ];
      }),
    );
    const m = (n, k) => medians[n]?.[k] ?? NaN;
    /** Median over rounds of the per-round ratio (each round's pair ran minutes apart at most). */
    const paired = (a, b, k) =>
      rounds[a] && rounds[b] ? median(rounds[a].map((r, i) => pick(r, k) / pick(rounds[b][i], k))) : NaN;
    const ratios = {
      canaryKitSlowP99VsNoShadow: m('canary-kit-slow', 'p99Ms') / m('no-shadow', 'p99Ms'),
      canaryKitSlowP99VsNoShadowPaired: paired('canary-kit-slow', 'no-shadow', 'p99'),
      canaryKitSlowP50VsNoShadow: m('canary-kit-slow', 'p50Ms') / m('no-shadow', 'p50Ms'),
      nginxMirrorP99VsNoShadow: m('nginx-mirror-slow', 'p99Ms') / m('no-shadow', 'p99Ms'),
      nginxMirrorP50VsNoShadow: m('nginx-mirror-slow', 'p50Ms') / m('no-shadow', 'p50Ms'),
      nginxMirrorP99VsNginxNoMirror: m('nginx-mirror-slow', 'p99Ms') / m('nginx-no-mirror', 'p99Ms'),
      nginxNoMirrorP99VsNoShadow: m('nginx-no-mirror', 'p99Ms') / m('no-shadow', 'p99Ms'),
      fastShadowThroughputVsNoShadow:
        m('canary-kit-fast', 'requestsPerSecond') / m('no-shadow', 'requestsPerSecond'),
      fastJsonShadowThroughputVsNoShadow:
        m('canary-kit-fast-json', 'requestsPerSecond') / m('no-shadow', 'requestsPerSecond'),
      // Throughput one core would give, from the app's CPU per request: no-shadow's CPU over the variant's.
      fastShadowCpuCapacityVsNoShadow:
        m('no-shadow', 'appCpuMicrosPerRequest') / m('canary-kit-fast', 'appCpuMicrosPerRequest'),
      fastJsonShadowCpuCapacityVsNoShadow:
        m('no-shadow', 'appCpuMicrosPerRequest') / m('canary-kit-fast-json', 'appCpuMicrosPerRequest'),
    };
    for (const k of Object.keys(ratios)) if (!Number.isFinite(ratios[k])) delete ratios[k];
    const targetsMet = {};
    if ('canaryKitSlowP99VsNoShadow' in ratios)
      targetsMet.canaryKitSlowP99VsNoShadow = {
        atMost: 1.1,
        met: ratios.canaryKitSlowP99VsNoShadow <= 1.1,
      };
    const shadowTotals = Object.fromEntries(
      names
        .filter((n) => rounds[n][0]?.shadow)
        .map((n) => [
          n,
          rounds[n].reduce((sum, r) => {
            for (const [k, v] of Object.entries(r.shadow)) sum[k] = (sum[k] ?? 0) + v;
            return sum;
          }, {}),
        ]),
    );
    const mirroredByNginx = rounds['nginx-mirror-slow']?.reduce((s, r) => s + r.targetHits.slow, 0);

    console.log(
      `\nmedians over ${ROUNDS} rounds (${CONNECTIONS} keep-alive connections, ${DURATION} s each)`,
    );
    console.log(
      `  ${'scenario'.padEnd(21)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'app µs/req'.padStart(11)}  shadow outcomes (all rounds)`,
    );
    for (const n of names) {
      const x = medians[n];
      const outcomes = shadowTotals[n]
        ? shadowSummary(shadowTotals[n])
        : n === 'nginx-mirror-slow'
          ? `${mirroredByNginx} mirrored by nginx`
          : '';
      // At a few req/s the app's background CPU (timers, GC) swamps the per-request figure.
      const cpu = x.requestsPerSecond >= 200 ? x.appCpuMicrosPerRequest.toFixed(0) : 'n/a';
      console.log(
        `  ${n.padEnd(21)} ${x.requestsPerSecond.toFixed(0).padStart(7)} ${fmt(x.p50Ms).padStart(9)} ${fmt(x.p99Ms).padStart(9)} ${cpu.padStart(11)}  ${outcomes}`,
      );
    }
    console.log('ratios');
    for (const [k, v] of Object.entries(ratios)) {
      const t = targetsMet[k];
      console.log(
        `  ${k.padEnd(38)} ${v.toFixed(3)}${t ? `  (target ≤ ${t.atMost}: ${t.met ? 'met' : 'NOT met'})` : ''}`,
      );
    }

    await cleanup();
    const report = {
      benchmark: 'shadow',
      date: new Date().toISOString(),
      command: 'node bench/shadow/run.mjs',
      note:
        DURATION < 10 || ROUNDS < 3
          ? 'short run (smoke): figures are indicative only'
          : 'latency percentiles exact per round (performance.now() per request); medians over rounds',
      machine: {
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        cpuModel: os.cpus()[0]?.model.trim(),
        cores: os.cpus().length,
        loadAverage: os.loadavg(),
      },
      nginx: nginx ? { version: nginxVersion(NGINX), errorLog: tail(nginx.log, 20) } : 'not run',
      settings,
      statistic:
        'per round: exact p50/p99 over every request, req/s = answered / wall time; reported: median over rounds. ' +
        'Rounds alternate the scenarios, order rotated per round; each run waits for all copies to be answered.',
      scenarios: Object.fromEntries(names.map((n) => [n, SCENARIOS[n]])),
      medians,
      ratios,
      targets: targetsMet,
      shadowOutcomes: shadowTotals,
      mirroredByNginx,
      rounds,
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${OUT.startsWith(root) ? OUT.slice(root.length + 1) : OUT}`);
  } catch (error) {
    // Interrupted: the servers went away under the run; the signal handler exits once all is stopped.
    if (interrupted) await new Promise(() => {});
    throw error;
  } finally {
    await cleanup();
  }
}

function pick(r, k) {
  return k === 'requestsPerSecond' ? r.requestsPerSecond : r.latencyMs[k];
}

function fmt(ms) {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(2);
}

function shadowSummary(s) {
  return Object.entries(s)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

function tail(text, lines) {
  return text ? text.split('\n').slice(-lines) : [];
}

function nginxVersion(binary) {
  const r = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  return (r.stderr || r.stdout).trim().replace(/^nginx version: /, '');
}

if (process.argv[2] === '--app') await serveApp(process.argv[3]);
else if (process.argv[2] === '--targets') await serveTargets(Number(process.argv[3]));
else await main();
