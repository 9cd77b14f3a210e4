// A service with every canary-kit feature that exports metrics turned on, on Express 5 or Fastify 5: a flag with a
// rollout (in-process analysis), a flag proxied to an upstream that sometimes fails, a shadow target that matches,
// differs, times out and resets, an in-process experiment, the request recorder, trusted overrides and a context()
// that can throw. Driven
// with traffic that makes every metric family — and every label value the ops assets select on — appear.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Canary, createCanary, Registry } from '@canary-kit/core';
import { canaryMiddleware, canaryRoute, metricsHandler } from '@canary-kit/express';
import canaryPlugin, { canaryHandler } from '@canary-kit/fastify';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { ROOT } from '../helpers/build.js';
import { findSamples, type Sample, scrape } from '../helpers/exposition.js';

export const ROLLOUT_FLAG = 'checkout-v2';
export const UPSTREAM_FLAG = 'search-v2';
export const SHADOW_TARGET = 'orders-v2';
export const EXPERIMENT = 'order-total';

export type AdapterName = 'Express 5' | 'Fastify 5';
type ExpressFactory = typeof import('../../packages/express/node_modules/@types/express/index.js');

export interface Running {
  readonly base: string;
  /** `host:port`, as a Prometheus target. */
  readonly hostPort: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<Running> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const order = (id: string) => ({ id, total: 100, currency: 'EUR' });

/** The order, computed again in an in-process experiment whose candidate differs for `diff` and throws for `slow`. */
function orderWithExperiment(canary: Canary, id: string) {
  return canary.experiment(EXPERIMENT, {
    control: () => order(id),
    candidate: () => {
      if (id === 'slow') throw new Error('planted candidate failure');
      return id === 'diff' ? { ...order(id), total: 101 } : order(id);
    },
  });
}

/** The shadow candidate: like the app for `/orders/<n>`, a changed field, a hang or a reset for the planted ids. */
function serveCandidate(): Promise<Running> {
  return listen(
    createServer((req: IncomingMessage, res: ServerResponse) => {
      const id = (req.url ?? '').split('/').pop() ?? '';
      if (id === 'reset') {
        req.socket.destroy();
        return;
      }
      if (id === 'slow') return; // never answers: the copy times out (the connection is closed at teardown)
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(id === 'diff' ? { ...order(id), total: 101 } : order(id)));
    }),
  );
}

/** The upstream of UPSTREAM_FLAG: answers, except 503 for `?fail`, so some canary requests fail over. */
function serveUpstream(): Promise<Running> {
  return listen(
    createServer((req: IncomingMessage, res: ServerResponse) => {
      const fail = (req.url ?? '').includes('fail');
      res.writeHead(fail ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ results: [], version: 'v2' }));
    }),
  );
}

export interface OpsApp extends Running {
  readonly canary: Canary;
}

function createOpsCanary(candidate: string, upstream: string, recording: string): Canary {
  return createCanary({
    metrics: { registry: new Registry() },
    flags: {
      // minRequests 1: the first analysis (after 1 s) has data either way. The canary fails its analyses, but
      // a high failureLimit keeps it at 50 %, so canary traffic goes on for as long as a test needs it.
      [ROLLOUT_FLAG]: { rollout: { steps: [50, 100], intervalMs: 1000, minRequests: 1, failureLimit: 1000 } },
      [UPSTREAM_FLAG]: {
        percentage: 100,
        upstream: { url: upstream, timeoutMs: 5000, circuitBreaker: false },
      },
    },
    overrides: { trust: () => true },
    shadow: {
      name: SHADOW_TARGET,
      target: candidate,
      paths: ['/orders/*'],
      timeoutMs: 300,
      circuitBreaker: false,
    },
    recorder: { path: recording, sampleRate: 1 },
  });
}

/** The canary checkout fails for one user in four: 5xx on version="canary". */
const checkoutFails = (user: string | undefined) => (user ?? '').endsWith('3');

function context(headers: IncomingMessage['headers']) {
  if (headers['x-boom'] !== undefined) throw new Error('planted context() failure');
  return { userId: typeof headers['x-user'] === 'string' ? headers['x-user'] : undefined };
}

export async function startOpsApp(adapter: AdapterName): Promise<OpsApp> {
  const candidate = await serveCandidate();
  const upstream = await serveUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'canary-kit-ops-'));
  const canary = createOpsCanary(candidate.base, upstream.base, join(dir, 'requests.jsonl'));
  canary.on('error', () => {}); // the planted context() failures are reported here
  let app: Running;
  if (adapter === 'Express 5') {
    // express's types live in packages/express's devDependencies: load Express 5 from there.
    const require = createRequire(join(ROOT, 'packages', 'express', 'package.json'));
    const express = ((await import(require.resolve('express'))) as { default: ExpressFactory }).default;
    const server = express();
    server.use(canaryMiddleware(canary, { context: (req) => context(req.headers) }));
    server.get(
      '/checkout',
      canaryRoute(ROLLOUT_FLAG, {
        stable: (_req, res) => {
          res.json({ version: 'v1' });
        },
        canary: (req, res) => {
          res.status(checkoutFails(req.get('x-user')) ? 500 : 200).json({ version: 'v2' });
        },
      }),
    );
    server.get(
      '/search',
      canaryRoute(UPSTREAM_FLAG, {
        stable: (_req, res) => {
          res.json({ results: [], version: 'v1' });
        },
        canary: (_req, res) => {
          res.status(500).json({ error: 'the upstream serves the canary' });
        },
      }),
    );
    server.get('/orders/:id', (req, res) => {
      res.json(orderWithExperiment(canary, req.params.id));
    });
    server.get('/metrics', metricsHandler(canary));
    app = await listen(createServer(server));
  } else {
    const server = Fastify();
    await server.register(canaryPlugin, {
      canary,
      context: (request) => context(request.headers),
      metricsRoute: '/metrics',
    });
    server.get(
      '/checkout',
      { config: { canary: { flag: ROLLOUT_FLAG } } },
      canaryHandler({
        stable: async (_request: FastifyRequest, reply: FastifyReply) => reply.send({ version: 'v1' }),
        canary: async (request: FastifyRequest, reply: FastifyReply) => {
          const user = request.headers['x-user'];
          return reply.code(checkoutFails(typeof user === 'string' ? user : undefined) ? 500 : 200).send({
            version: 'v2',
          });
        },
      }),
    );
    server.get('/search', { config: { canary: { flag: UPSTREAM_FLAG } } }, async () => ({
      results: [],
      version: 'v1',
    }));
    server.get<{ Params: { id: string } }>('/orders/:id', async (request) =>
      orderWithExperiment(canary, request.params.id),
    );
    await server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.server.address() as AddressInfo;
    app = { base: `http://127.0.0.1:${port}`, hostPort: `127.0.0.1:${port}`, close: () => server.close() };
  }
  return {
    ...app,
    canary,
    async close() {
      await app.close();
      await canary.close();
      await candidate.close();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One round of traffic touching every feature. */
export async function drive(base: string, round = 0): Promise<void> {
  const requests: [string, Record<string, string>][] = [];
  for (let i = 0; i < 40; i++) requests.push(['/checkout', { 'x-user': `user-${round}-${i}` }]);
  requests.push(['/checkout', { 'x-user': 'qa-3', 'x-canary': `${ROLLOUT_FLAG}=always` }]);
  requests.push(['/checkout', { 'x-user': 'qa-4', 'x-canary': '%%% not an override' }]);
  requests.push(['/checkout', { 'x-boom': '1' }]);
  for (const id of ['1', '2', '3', 'diff', 'slow', 'reset']) requests.push([`/orders/${id}`, {}]);
  for (let i = 0; i < 6; i++)
    requests.push([i % 2 === 0 ? '/search?q=a' : '/search?q=a&fail=1', { 'x-user': `searcher-${i}` }]);
  for (let i = 0; i < requests.length; i += 10) {
    await Promise.all(
      requests.slice(i, i + 10).map(async ([path, headers]) => {
        const response = await fetch(`${base}${path}`, { headers });
        await response.arrayBuffer();
      }),
    );
  }
}

/** What must be in a scrape before it stands for everything the assets query. */
export function missingFromScrape(samples: readonly Sample[]): string[] {
  const wanted: [string, Record<string, string>][] = [
    ['http_request_duration_seconds_count', { version: 'canary', status_code: '500' }],
    ['http_request_duration_seconds_count', { version: 'stable' }],
    ['canary_kit_analysis_total', { flag: ROLLOUT_FLAG }],
    ['canary_kit_upstream_failovers_total', { flag: UPSTREAM_FLAG, reason: 'status_5xx' }],
    ['canary_kit_overrides_total', { outcome: 'honoured' }],
    ['canary_kit_overrides_total', { outcome: 'invalid' }],
    ...['match', 'mismatch', 'timeout', 'error'].map((outcome): [string, Record<string, string>] => [
      'canary_kit_shadow_requests_total',
      { target: SHADOW_TARGET, outcome },
    ]),
    ['canary_kit_shadow_duration_seconds_count', { target: SHADOW_TARGET }],
    ...['match', 'mismatch', 'candidate_error'].map((outcome): [string, Record<string, string>] => [
      'canary_kit_experiment_total',
      { experiment: EXPERIMENT, outcome },
    ]),
    ['canary_kit_experiment_duration_seconds_count', { experiment: EXPERIMENT, side: 'candidate' }],
    ['canary_kit_recorder_records_total', { outcome: 'written' }],
  ];
  const missing = wanted
    .filter(([name, labels]) => findSamples(samples, name, labels).every((s) => s.value === 0))
    .map(([name, labels]) => `${name}${JSON.stringify(labels)}`);
  // Gauges that may rightly be 0: there at all is enough.
  if (findSamples(samples, 'canary_kit_rollout_step', { flag: ROLLOUT_FLAG }).length === 0)
    missing.push(`canary_kit_rollout_step{flag="${ROLLOUT_FLAG}"}`);
  return missing;
}

/** Drives traffic until a scrape has every feature's series, then returns that scrape. */
export async function driveUntilComplete(base: string, timeoutMs = 60_000): Promise<Sample[]> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; ; round++) {
    await drive(base, round);
    const samples = await scrape(base);
    const missing = missingFromScrape(samples);
    if (missing.length === 0) return samples;
    if (Date.now() > deadline)
      throw new Error(`after ${round + 1} rounds of traffic, still no ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
