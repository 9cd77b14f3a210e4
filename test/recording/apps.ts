// The same small orders service on Express 5, Fastify 5 and NestJS 12 (express platform, rawBody), each
// behind canary-kit, plus plain node:http twins used as replay targets.
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Canary, type CanaryConfig, createCanary, Registry } from '@canary-kit/core';
import { canaryMiddleware } from '@canary-kit/express';
import canaryPlugin from '@canary-kit/fastify';
import Fastify from 'fastify';
import { ROOT } from '../helpers/build.js';

// ── the service ─────────────────────────────────────────────────────────────────────────────────────

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** What every version of the service answers; `candidate` plants the differences the replay must find. */
export function answer(method: string, path: string, body: unknown, candidate = false): Answer {
  const get = /^\/orders\/([^/?]+)/.exec(path);
  if (method === 'GET' && get) {
    const n = Number(get[1]!.replace(/\D/g, '')) || 0;
    return {
      status: 200,
      body: {
        id: get[1],
        total: 100 + n + (candidate ? 1 : 0),
        currency: 'EUR',
        items: [{ sku: 'a', qty: n }],
      },
    };
  }
  if (method === 'POST' && path.startsWith('/orders')) {
    const input = (body ?? {}) as { qty?: unknown; card?: { brand?: unknown } };
    const created: Record<string, unknown> = {
      created: true,
      qty: input.qty ?? null,
      brand: input.card?.brand ?? null,
    };
    if (candidate) created.extra = 'planted';
    return { status: 201, body: created };
  }
  return { status: 404, body: { error: 'not found' } };
}

// ── running things ──────────────────────────────────────────────────────────────────────────────────

export interface Running {
  readonly base: string;
  close(): Promise<void>;
}

async function listenHttp(server: import('node:http').Server): Promise<Running> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A plain node:http server answering like the app (baseline) or with the planted differences (candidate). */
export function serveTwin(candidate: boolean): Promise<Running> {
  return listenHttp(
    createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = raw === '' ? undefined : JSON.parse(raw);
        } catch {
          parsed = undefined;
        }
        const out = answer(req.method ?? 'GET', req.url ?? '/', parsed, candidate);
        res.writeHead(out.status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(out.body));
      });
    }),
  );
}

export type AdapterName = 'Express 5' | 'Fastify 5' | 'NestJS 12';
export const ADAPTERS: readonly AdapterName[] = ['Express 5', 'Fastify 5', 'NestJS 12'];

export interface App extends Running {
  readonly canary: Canary;
}

/** A canary with its own metrics registry (so several can live in one process). */
export function canaryWith(recorder: CanaryConfig['recorder'] | undefined): Canary {
  return createCanary({
    flags: { checkout: { percentage: 50 } },
    metrics: { registry: new Registry() },
    ...(recorder === undefined ? {} : { recorder }),
  });
}

const context = (headers: IncomingMessage['headers']) => ({
  userId: typeof headers['x-user'] === 'string' ? headers['x-user'] : undefined,
});

export async function startApp(adapter: AdapterName, canary: Canary): Promise<App> {
  let running: Running;
  if (adapter === 'Express 5') {
    // express's types live in packages/express's devDependencies: load Express 5 (and its types) from there.
    const require = createRequire(join(ROOT, 'packages', 'express', 'package.json'));
    const express = ((await import(require.resolve('express'))) as { default: ExpressFactory }).default;
    const app = express();
    app.use(canaryMiddleware(canary, { context: (req) => context(req.headers) }));
    app.use(express.json());
    app.get('/orders/:id', (req, res) => {
      const out = answer('GET', req.path, undefined);
      res.status(out.status).json(out.body);
    });
    app.post('/orders', (req, res) => {
      const out = answer('POST', req.path, req.body);
      res.status(out.status).json(out.body);
    });
    running = await listenHttp(createServer(app));
  } else if (adapter === 'Fastify 5') {
    const app = Fastify();
    await app.register(canaryPlugin, { canary, context: (request) => context(request.headers) });
    app.get('/orders/:id', async (request, reply) => {
      const out = answer('GET', request.url, undefined);
      return reply.code(out.status).send(out.body);
    });
    app.post('/orders', async (request, reply) => {
      const out = answer('POST', request.url, request.body);
      return reply.code(out.status).send(out.body);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    running = { base: `http://127.0.0.1:${port}`, close: () => app.close() };
  } else {
    running = await startNest(canary);
  }
  return { ...running, canary };
}

type ExpressFactory = typeof import('../../packages/express/node_modules/@types/express/index.js');

// NestJS lives in packages/nestjs's dependencies, not the workspace root's: load it from there.
type NestCommon = typeof import('../../packages/nestjs/node_modules/@nestjs/common/index.js');
type NestCore = typeof import('../../packages/nestjs/node_modules/@nestjs/core/index.js');
type NestExpress = typeof import('../../packages/nestjs/node_modules/@nestjs/platform-express/index.js');
type NestAdapter = typeof import('@canary-kit/nestjs');

async function startNest(canary: Canary): Promise<Running> {
  const require = createRequire(join(ROOT, 'packages', 'nestjs', 'package.json'));
  await import(require.resolve('reflect-metadata'));
  const common = (await import(require.resolve('@nestjs/common'))) as NestCommon;
  const core = (await import(require.resolve('@nestjs/core'))) as NestCore;
  const platform = (await import(require.resolve('@nestjs/platform-express'))) as NestExpress;
  const adapter = (await import('@canary-kit/nestjs')) as NestAdapter;
  const { Body, Controller, Get, HttpCode, Module, Param, Post } = common;

  @Controller()
  class OrdersController {
    @Get('orders/:id')
    order(@Param('id') id: string) {
      return answer('GET', `/orders/${id}`, undefined).body;
    }

    @Post('orders')
    @HttpCode(201)
    create(@Body() body: unknown) {
      return answer('POST', '/orders', body).body;
    }
  }

  @Module({
    imports: [adapter.CanaryModule.forRoot({ canary, context: (req) => context(req.headers) })],
    controllers: [OrdersController],
  })
  class OrdersModule {}

  const app = await core.NestFactory.create(OrdersModule, new platform.ExpressAdapter(), {
    logger: false,
    abortOnError: false,
    rawBody: true,
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, close: () => app.close() };
}

// ── files ───────────────────────────────────────────────────────────────────────────────────────────

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every file in `dir` whose name starts with `base` (the recording and its rotated files), with its bytes. */
export function recordingBytes(dir: string, base: string): { name: string; bytes: Buffer }[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith(base))
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

/** `canary_kit_recorder_records_total` by outcome, from the canary's Prometheus exposition. */
export async function recorderMetric(canary: Canary): Promise<Record<string, number>> {
  const text = await canary.metrics!.registry.metrics();
  const out: Record<string, number> = { written: 0, dropped: 0, error: 0 };
  for (const m of text.matchAll(/^canary_kit_recorder_records_total\{[^}]*outcome="(\w+)"[^}]*\} (\S+)$/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

/** Polls (no fixed sleep) until `check` holds; throws with `what` after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}
