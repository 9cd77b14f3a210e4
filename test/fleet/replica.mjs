// One replica of a fleet, as a real service runs it: @canary-kit/core with the Redis store and a leader lease,
// a version-labelled histogram on /metrics, and (when PROMETHEUS_URL is set) the rollout analysed from
// Prometheus over the whole fleet. Used by test/fleet/fleet.test.ts and bench/fleet/run.mjs.
//
// Routes: GET /checkout and /payments?user=ID (the app; a canary of `payments` answers 500 when
// FAIL_PAYMENTS_CANARY=1), GET /metrics, and a control API for the test:
//   POST /control/percentage?flag=F&value=P   → { startedAt, savedAt, revision }
//   POST /control/config  (body: { flags })   → replaceConfig
//   GET  /control/decisions?flag=F&n=N        → "0101…" (1 = canary) for users user-0 … user-(N-1)
//   GET  /control/state                       → leader, token, revision, flags, rollouts, events, store stats
// Times are ms since the epoch with sub-ms precision (performance.timeOrigin + performance.now()), so the
// parent can compare them across processes on one machine.
// Prints one JSON line {"port": N} on stdout once it serves and has applied the store's document; with an IPC
// channel (fork), also sends every `change` event to the parent.

import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createCanary, Registry, RequestBinding } from '@canary-kit/core';
import { createLeaderLease, createRedisStore } from '@canary-kit/redis';

const env = process.env;
const name = env.REPLICA_NAME ?? `replica-${process.pid}`;
const key = env.STORE_KEY ?? 'canary-kit';
const now = () => performance.timeOrigin + performance.now();
const MAX_EVENTS = 10_000;

const lease = createLeaderLease({
  url: env.REDIS_URL,
  key: `${key}:leader`,
  ttlMs: Number(env.LEASE_TTL_MS ?? 2_000),
  id: name,
  reconnect: { minDelayMs: 20, maxDelayMs: 500 },
});
const store = createRedisStore({
  url: env.REDIS_URL,
  key,
  lease,
  resyncIntervalMs: Number(env.RESYNC_INTERVAL_MS ?? 1_000),
  reconnect: { minDelayMs: 20, maxDelayMs: 500 },
});

let source;
if (env.PROMETHEUS_URL) {
  const { PrometheusSource } = await import('@canary-kit/prometheus');
  source = new PrometheusSource({
    url: env.PROMETHEUS_URL,
    selector: 'job="canary-kit"',
    flags: { payments: { routes: ['/payments'] } },
    scrapeIntervalMs: 1_000,
    timeoutMs: 2_000,
  });
}

const registry = new Registry();
const canary = createCanary({
  store,
  metrics: { registry },
  service: { version: name },
  flags: JSON.parse(env.FLAGS ?? '{"checkout":{"percentage":10}}'),
  rollout: { isLeader: lease.isLeader, ...(source && { source }) },
});

const events = { changes: [], steps: [], rollbacks: [], acquired: [], lost: [], errors: 0, lastError: '' };
const keep = (list, item) => {
  if (list.length < MAX_EVENTS) list.push(item);
};
canary.on('change', (e) => {
  const change = { flag: e.flag, percentage: e.after?.percentage, source: e.source, at: now() };
  keep(events.changes, change);
  // Forked with an IPC channel (bench/fleet): every change as it happens, no polling needed.
  if (process.send) process.send({ type: 'change', name, ...change });
});
canary.on('step', (e) => keep(events.steps, { ...e, at: now() }));
canary.on('rollback', (e) =>
  keep(events.rollbacks, { flag: e.flag, reason: e.reason, source: e.analysis?.source, at: now() }),
);
canary.on('error', (e) => {
  events.errors++;
  events.lastError = e.message;
});
lease.on('acquired', (token) => keep(events.acquired, { token, at: now() }));
lease.on('lost', (reason) => keep(events.lost, { reason, at: now() }));
lease.on('error', () => {
  events.errors++;
});

const binding = new RequestBinding(canary, {
  context: (req) => ({ userId: new URL(req.url, 'http://replica').searchParams.get('user') ?? undefined }),
});
const failPayments = env.FAIL_PAYMENTS_CANARY === '1';

async function body(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text === '' ? {} : JSON.parse(text);
}

function json(res, status, value) {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(value));
}

async function control(req, res, url) {
  const q = url.searchParams;
  switch (url.pathname) {
    case '/control/percentage': {
      const startedAt = now();
      await canary.setPercentage(q.get('flag'), Number(q.get('value')));
      return json(res, 200, { startedAt, savedAt: now(), revision: canary.revision });
    }
    case '/control/config': {
      await canary.replaceConfig(await body(req));
      return json(res, 200, { revision: canary.revision });
    }
    case '/control/decisions': {
      const flag = q.get('flag');
      const n = Number(q.get('n') ?? 10_000);
      let out = '';
      for (let i = 0; i < n; i++) out += canary.isCanary(flag, { userId: `user-${i}` }) ? '1' : '0';
      res.end(out);
      return;
    }
    case '/control/state':
      return json(res, 200, {
        name,
        pid: process.pid,
        leader: lease.isLeader(),
        token: lease.token ?? null,
        revision: canary.revision,
        flags: canary.flags,
        rollouts: canary.rollouts,
        events,
        store: store.stats,
        lease: lease.counts,
      });
    default:
      return json(res, 404, { error: 'no such control' });
  }
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://replica');
  if (url.pathname === '/metrics') {
    registry.metrics().then(
      (text) => {
        res.setHeader('content-type', registry.contentType);
        res.end(text);
      },
      () => json(res, 500, { error: 'metrics failed' }),
    );
    return;
  }
  if (url.pathname.startsWith('/control/')) {
    control(req, res, url).catch((error) => json(res, 500, { error: String(error?.message ?? error) }));
    return;
  }
  const flag =
    url.pathname === '/payments' ? 'payments' : url.pathname === '/checkout' ? 'checkout' : undefined;
  if (flag === undefined) return json(res, 404, { error: 'not found' });
  // The request path: a decision from memory, never a call to Redis.
  const state = binding.start(req, req.headers, false);
  const version = state.canary.evaluate(flag).version;
  res.on('finish', () => binding.finish(state, req.method ?? 'GET', url.pathname, res.statusCode, flag));
  res.statusCode = failPayments && flag === 'payments' && version === 'canary' ? 500 : 200;
  res.end(version);
});

await canary.ready();
server.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, pid: process.pid })}\n`);
});

async function shutdown() {
  server.closeAllConnections();
  server.close();
  await canary.close();
  await lease.close();
  await store.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
