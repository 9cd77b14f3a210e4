// One replica of the stable app for `--fleet`, forked by fleet.mjs: the same app and config as the single
// process, with the fleet's parts — a Redis store shared by the replicas, a leader lease so one replica runs
// the analyses, and a Prometheus source reading the whole fleet's histogram. Its events and status go to the
// parent over IPC.

import { createCanary } from '@canary-kit/core';
import { PrometheusSource } from '@canary-kit/prometheus';
import { createLeaderLease, createRedisStore } from '@canary-kit/redis';
import { demoConfig, startStableApp } from './app.mjs';
import { FLAG } from './shop.mjs';
import { statusOf } from './state.mjs';

const STATUS_EVERY_MS = 250;
const config = JSON.parse(process.env.CANARY_KIT_DEMO_REPLICA ?? '{}');
const send = (message) => {
  if (process.connected) process.send(message);
};

const lease = createLeaderLease({ url: config.redisUrl, ttlMs: 3_000, id: `replica-${config.index}` });
const store = createRedisStore({ url: config.redisUrl, lease });
const source = new PrometheusSource({
  url: config.prometheusUrl,
  selector: `job="${config.job}"`,
  // Only the flag's route: product views are labelled `stable` too, and would dilute stable's figures.
  flags: { [FLAG]: { routes: ['/api/checkout'] } },
  scrapeIntervalMs: config.scrapeIntervalMs,
});
const canary = createCanary(
  demoConfig({ ...config, store, source, isLeader: lease.isLeader, plan: config.plan }),
);
for (const kind of ['step', 'analysis', 'rollback', 'complete', 'mismatch']) {
  // Events are plain data: they cross the IPC channel as JSON.
  canary.on(kind, (event) => send({ type: 'event', kind, event }));
}
canary.on('error', (error) => send({ type: 'event', kind: 'error', event: { message: error?.message } }));
lease.on('error', (error) => send({ type: 'event', kind: 'error', event: { message: error?.message } }));

const app = await startStableApp({ canary, inventoryUrl: config.inventoryUrl });
send({ type: 'ready', url: app.url, hostPort: new URL(app.url).host });
const timer = setInterval(
  () => send({ type: 'status', status: { ...statusOf(canary), leader: lease.isLeader() } }),
  STATUS_EVERY_MS,
);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  await app.close().catch(() => {});
  await store.close().catch(() => {});
  await lease.close().catch(() => {});
  process.exit(0);
}
process.on('message', (message) => {
  if (message?.type === 'stop') void stop();
});
// Ctrl-C reaches the whole process group: the parent ends the run and stops the replicas itself.
process.on('SIGINT', () => {});
// The parent went away (killed, crashed): do not outlive it.
process.on('disconnect', () => void stop());
