// `--fleet`: the same demo across three replica processes of the stable app that share a Redis store; the
// replica holding the leader lease runs the analyses on the fleet's histogram from Prometheus (scraping all
// three every second). v2, the inventory and the shadow candidate stay in this process, as does the traffic
// generator, which spreads its requests over the replicas. Needs `redis-server` and `prometheus`.

import { fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRunContext, runDemo } from './run.mjs';
import { startServices } from './services.mjs';
import { applyEvent, mergeStatus } from './state.mjs';

const REPLICAS = 3;
const JOB = 'canary-kit-demo';
const SCRAPE_INTERVAL_MS = 1_000;
const START_TIMEOUT_MS = 30_000;
const here = dirname(fileURLToPath(import.meta.url));

/**
 * The binary: the path in `envName` when set (and only it), else /usr/bin, /usr/local/bin or PATH; undefined
 * when none exists.
 */
export function findBinary(name, envName) {
  const pinned = process.env[envName];
  if (pinned) return existsSync(pinned) ? pinned : undefined;
  const dirs = ['/usr/bin', '/usr/local/bin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  return dirs.map((dir) => join(dir, name)).find((path) => existsSync(path));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it resolves true, or throws `what` after the timeout. */
async function waitFor(what, check, timeoutMs = START_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
}

function redisPing(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.setTimeout(500, () => socket.destroy());
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      resolve(data.toString().startsWith('+PONG'));
      socket.destroy();
    });
  });
}

/** A child process we started, stopped by its pid: SIGTERM, then SIGKILL after `graceMs`. */
function stopChild(child, graceMs = 5_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function spawnService(binary, args, name) {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-8_192);
  });
  child.once('error', (error) => {
    stderr += `\n${name} failed to start: ${error.message}`;
  });
  child.describe = () => `${name} (pid ${child.pid}): ${stderr.trim() || 'no output'}`;
  return child;
}

export async function runFleet(options, plan) {
  const redisBin = findBinary('redis-server', 'REDIS_SERVER_BIN');
  const prometheusBin = findBinary('prometheus', 'PROMETHEUS_BIN');
  const missing = [!redisBin && 'redis-server', !prometheusBin && 'prometheus'].filter(Boolean);
  if (missing.length > 0) {
    process.stderr.write(
      `canary-kit demo --fleet needs redis-server and prometheus; not found: ${missing.join(', ')} ` +
        '(looked at $REDIS_SERVER_BIN / $PROMETHEUS_BIN when set, else /usr/bin, /usr/local/bin and PATH).\n' +
        'Install them (Debian/Ubuntu: apt-get install redis-server prometheus) or run the demo without --fleet.\n',
    );
    return 1;
  }

  const context = createRunContext();
  const { clock, state, timeline } = context;
  const dir = mkdtempSync(join(tmpdir(), 'canary-kit-demo-fleet-'));
  const children = [];
  const services = [];
  const replicas = [];
  const statuses = new Map();
  const cleanup = async () => {
    for (const r of replicas) if (r.connected) r.send({ type: 'stop' });
    await Promise.all(replicas.map((r) => stopChild(r, 5_000)));
    await Promise.all(children.map((c) => stopChild(c)));
    await Promise.all(services.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const redisPort = await freePort();
    const redis = spawnService(
      redisBin,
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      'redis-server',
    );
    children.push(redis);
    await waitFor('redis-server', () => redisPing(redisPort)).catch((error) => {
      throw new Error(`${error.message}\n${redis.describe()}`);
    });
    const redisUrl = `redis://127.0.0.1:${redisPort}`;

    const leaderPercentage = () => {
      for (const s of statuses.values()) if (s.leader) return s.percentage;
      return Math.max(0, ...[...statuses.values()].map((s) => s.percentage));
    };
    const started = await startServices({
      regressionFrom: plan.regressionFrom,
      currentPercentage: leaderPercentage,
    });
    services.push(started);
    const { v2, candidate, inventory } = started;

    const prometheusPort = await freePort();
    const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
    const urls = [];
    for (let index = 0; index < REPLICAS; index++) {
      const child = fork(join(here, 'replica.mjs'), [], {
        env: {
          ...process.env,
          CANARY_KIT_DEMO_REPLICA: JSON.stringify({
            index,
            redisUrl,
            prometheusUrl,
            job: JOB,
            scrapeIntervalMs: SCRAPE_INTERVAL_MS,
            v2Url: v2.url,
            shadowUrl: candidate.url,
            inventoryUrl: inventory.url,
            plan,
          }),
        },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      replicas.push(child);
      child.on('message', (message) => {
        if (message?.type === 'event') applyEvent(state, timeline, message.kind, message.event, clock());
        else if (message?.type === 'status') statuses.set(index, message.status);
        else if (message?.type === 'ready') urls[index] = message.url;
      });
    }
    await waitFor('the three replicas', async () => urls.filter(Boolean).length === REPLICAS);
    for (const r of replicas) {
      r.on('exit', (code, signal) => {
        if (!r.stopping)
          applyEvent(state, timeline, 'error', { message: `a replica exited (${signal ?? code})` }, clock());
      });
    }

    const configFile = join(dir, 'prometheus.yml');
    // JSON is YAML: no quoting rules to get wrong.
    writeFileSync(
      configFile,
      JSON.stringify({
        global: { scrape_interval: `${SCRAPE_INTERVAL_MS}ms`, scrape_timeout: `${SCRAPE_INTERVAL_MS}ms` },
        scrape_configs: [{ job_name: JOB, static_configs: [{ targets: urls.map((u) => new URL(u).host) }] }],
      }),
    );
    const prometheus = spawnService(
      prometheusBin,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'prometheus')}`,
        `--web.listen-address=127.0.0.1:${prometheusPort}`,
        '--log.level=warn',
      ],
      'prometheus',
    );
    children.push(prometheus);
    await waitFor('prometheus', async () => (await fetch(`${prometheusUrl}/-/ready`)).ok).catch((error) => {
      throw new Error(`${error.message}\n${prometheus.describe()}`);
    });

    const apps = {
      targets: urls,
      // The leader's status first: its percentage is the one the controller last wrote.
      refresh: () =>
        mergeStatus(
          state,
          [...statuses.values()].sort((a, b) => b.leader - a.leader),
        ),
      mode: `${REPLICAS} replicas, Redis store, leader lease, Prometheus analysis`,
    };
    return await runDemo({ ...context, options, plan, v2Counts: v2.counts, apps });
  } finally {
    for (const r of replicas) r.stopping = true;
    await cleanup();
  }
}
