// Fleet benchmark (issue 7): how fast a change reaches every replica, and what the Redis store costs an
// evaluation. Run it with
//
//   npx -y pnpm@10 bench:fleet        (builds the packages, then runs this file)
//   node bench/fleet/run.mjs          (after a build)
//
// 1. Propagation: a real redis-server and three replica processes (test/fleet/replica.mjs: core + RedisStore +
//    leader lease). CHANGES percentage changes, each set on a different replica in turn, one at a time; for each,
//    the time from the start of the save on the origin to each replica's `change` event (timestamps taken in
//    the replicas with performance.timeOrigin + performance.now(), so comparable across processes). Reported:
//    p50/p99/max of "in force on all three" (the slowest replica per change) and of the remote replicas alone.
// 2. Evaluation: the same flags evaluated N times per round with the Redis store and with the memory store,
//    alternated over ROUNDS rounds in this process; the ratio Redis / memory is the figure (1.0 = no cost), and
//    Redis' own command counter, read before and after the loops, shows how many commands evaluation sent (0).
//
// BENCH_CHANGES, BENCH_N and BENCH_ROUNDS shrink the run for a quick check; the published figures use the defaults.

import { fork, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createCanary, createMemoryStore } from '../../packages/core/dist/index.js';
import { createRedisStore } from '../../packages/redis/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CHANGES = Number(process.env.BENCH_CHANGES ?? 500);
const N = Number(process.env.BENCH_N ?? 500_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
const TARGET_PROPAGATION_MS = 1_000;
const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const r = (x) => Math.round(x * 100) / 100;
  return {
    n: sorted.length,
    p50: r(quantile(sorted, 0.5)),
    p99: r(quantile(sorted, 0.99)),
    max: r(sorted.at(-1)),
  };
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  if (!existsSync(REDIS_BIN))
    throw new Error(`redis-server not found at ${REDIS_BIN} (apt-get install redis-server)`);
  const dir = mkdtempSync(join(os.tmpdir(), 'canary-kit-bench-redis-'));
  const port = await freePort();
  const child = spawn(
    REDIS_BIN,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  // The offline queue holds the PING until the server listens (retried every 20 ms); bounded by the timeout.
  const probe = new Redis(url, { retryStrategy: () => 20 });
  probe.on('error', () => {});
  const timeout = setTimeout(() => {
    throw new Error(`redis-server on ${port} not ready within 15 s`);
  }, 15_000);
  await probe.ping();
  clearTimeout(timeout);
  return {
    url,
    client: probe,
    async stop() {
      probe.disconnect();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startReplica(redisUrl, name, onChange) {
  const child = fork(join(root, 'test', 'fleet', 'replica.mjs'), [], {
    cwd: root,
    execArgv: [],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: {
      ...process.env,
      REPLICA_NAME: name,
      REDIS_URL: redisUrl,
      STORE_KEY: 'bench-fleet',
      FLAGS: JSON.stringify({ checkout: { percentage: 10 } }),
    },
  });
  child.on('message', (m) => m?.type === 'change' && onChange(m));
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`replica ${name} exited (${code})`)));
  });
  const { port } = JSON.parse(line);
  return { name, child, url: `http://127.0.0.1:${port}` };
}

async function propagation(redisUrl) {
  const waiters = new Map();
  const onChange = (m) => {
    if (m.flag !== 'checkout') return;
    const w = waiters.get(m.percentage);
    if (w) {
      w.seen.set(m.name, m.at);
      if (w.seen.size === 3) w.resolve();
    }
  };
  const replicas = [];
  for (const name of ['r1', 'r2', 'r3']) replicas.push(await startReplica(redisUrl, name, onChange));
  const all = [];
  const remote = [];
  try {
    for (let i = 0; i < CHANGES; i++) {
      // A new value each time (never the current one, so every change is a real change everywhere).
      const value = 11 + (i % 80) + (i % 2) * 0.5;
      const origin = replicas[i % 3];
      const waiter = { seen: new Map() };
      const done = new Promise((resolve) => {
        waiter.resolve = resolve;
      });
      waiters.set(value, waiter);
      const res = await fetch(`${origin.url}/control/percentage?flag=checkout&value=${value}`, {
        method: 'POST',
      });
      const { startedAt } = await res.json();
      await done;
      waiters.delete(value);
      const times = [...waiter.seen].map(([name, at]) => ({ name, ms: at - startedAt }));
      all.push(Math.max(...times.map((t) => t.ms)));
      for (const t of times) if (t.name !== origin.name) remote.push(t.ms);
    }
  } finally {
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise((resolve) => {
            r.child.once('exit', resolve);
            r.child.kill('SIGTERM');
          }),
      ),
    );
  }
  return { inForceOnAllMs: summary(all), remoteReplicaMs: summary(remote) };
}

const FLAGS = {
  checkout: {
    percentage: 10,
    groups: ['beta'],
    rules: [{ attribute: 'country', operator: 'in', values: ['NZ'] }],
  },
  search: { percentage: 50 },
};

function evalRound(canary, ids) {
  let canaries = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < ids.length; i++) {
    if (canary.evaluate('checkout', ids[i]).version === 'canary') canaries++;
    if (canary.evaluate('search', ids[i]).version === 'canary') canaries++;
  }
  const ns = Number(process.hrtime.bigint() - start);
  return { nsPerEval: ns / (ids.length * 2), canaries };
}

async function commandsProcessed(client) {
  const info = await client.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)[1]);
}

async function evaluation(redis) {
  const ids = Array.from({ length: N }, (_, i) => ({
    userId: `user-${i}`,
    country: i % 7 === 0 ? 'NZ' : 'DE',
  }));
  const memory = createCanary({ store: createMemoryStore(), metrics: false, flags: FLAGS });
  const store = createRedisStore({ url: redis.url, key: 'bench-eval', resyncIntervalMs: 3_600_000 });
  const viaRedis = createCanary({ store, metrics: false, flags: FLAGS });
  await Promise.all([memory.ready(), viaRedis.ready()]);
  const rounds = { memory: [], redis: [] };
  // Warm both up before measuring.
  evalRound(memory, ids.slice(0, 50_000));
  evalRound(viaRedis, ids.slice(0, 50_000));
  const before = await commandsProcessed(redis.client);
  const ratios = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which store goes first, so drift in the machine's load hits both alike.
    let m;
    let x;
    if (r % 2 === 0) {
      m = evalRound(memory, ids);
      x = evalRound(viaRedis, ids);
    } else {
      x = evalRound(viaRedis, ids);
      m = evalRound(memory, ids);
    }
    ratios.push(x.nsPerEval / m.nsPerEval);
    if (m.canaries !== x.canaries) throw new Error('the two stores decided differently');
    rounds.memory.push(m.nsPerEval);
    rounds.redis.push(x.nsPerEval);
  }
  // The INFO call itself is the one command between the two readings.
  const commandsDuringEvaluation = (await commandsProcessed(redis.client)) - before - 1;
  await viaRedis.close();
  await memory.close();
  await store.close();
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const memoryNs = median(rounds.memory);
  const redisNs = median(rounds.redis);
  return {
    evaluationsPerRound: N * 2,
    rounds: ROUNDS,
    memoryNsPerEval: Math.round(memoryNs * 10) / 10,
    redisNsPerEval: Math.round(redisNs * 10) / 10,
    // The ratio of each round's adjacent pair, then the median: robust to load that changes between rounds.
    redisOverMemory: Math.round(median(ratios) * 1000) / 1000,
    roundRatios: ratios.map((x) => Math.round(x * 1000) / 1000),
    roundsNsPerEval: {
      memory: rounds.memory.map((x) => Math.round(x * 10) / 10),
      redis: rounds.redis.map((x) => Math.round(x * 10) / 10),
    },
    redisCommandsDuringEvaluation: commandsDuringEvaluation,
  };
}

const loadBefore = os.loadavg()[0];
const redis = await startRedis();
let result;
try {
  const prop = await propagation(redis.url);
  const evals = await evaluation(redis);
  result = {
    benchmark: 'fleet',
    date: new Date().toISOString(),
    command: 'npx -y pnpm@10 bench:fleet',
    machine: {
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpuModel: os.cpus()[0]?.model,
      cores: os.cpus().length,
      loadAverage1m: { before: loadBefore, after: os.loadavg()[0] },
      redis: (await redis.client.info('server')).match(/redis_version:(\S+)/)?.[1],
    },
    propagation: {
      replicas: 3,
      changes: CHANGES,
      statistic:
        'ms from the start of the save on the origin replica to the change event on each replica; inForceOnAll = the slowest of the three per change',
      targetMs: TARGET_PROPAGATION_MS,
      ...prop,
      targetMet: prop.inForceOnAllMs.p99 < TARGET_PROPAGATION_MS,
    },
    evaluation: {
      statistic:
        'wall-clock ns per evaluation, median of rounds; redisOverMemory = median over rounds of the ratio of the two adjacent runs (order alternated); the same flags and ids on both stores',
      ...evals,
    },
  };
} finally {
  await redis.stop();
}
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'fleet.json'), `${JSON.stringify(result, null, 2)}\n`);
const p = result.propagation;
const e = result.evaluation;
console.log(
  `propagation over ${p.changes} changes, 3 replicas: in force on all p50 ${p.inForceOnAllMs.p50} ms, p99 ${p.inForceOnAllMs.p99} ms, max ${p.inForceOnAllMs.max} ms (target < ${TARGET_PROPAGATION_MS} ms); remote replica p50 ${p.remoteReplicaMs.p50} ms, p99 ${p.remoteReplicaMs.p99} ms`,
);
console.log(
  `evaluation: redis store ${e.redisNsPerEval} ns, memory store ${e.memoryNsPerEval} ns per evaluation (ratio ${e.redisOverMemory}); Redis commands during ${e.evaluationsPerRound * e.rounds * 2} evaluations: ${e.redisCommandsDuringEvaluation}`,
);
console.log('wrote bench/results/fleet.json');
