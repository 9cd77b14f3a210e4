// The stable app: a Fastify shop with canary-kit, as a user would write it.
//
// - POST /api/checkout is bound to the flag `checkout-v2`, whose `upstream` is the v2 service: the canary share
//   of checkouts is proxied there, the rest served here by v1. The flag's `rollout` steps the share up.
// - GET /api/products/:id is mirrored to the shadow candidate `catalog-v2` (picked by path), whose answers are
//   diffed against v1's with `$.servedAt` ignored.

import { createCanary } from '@canary-kit/core';
import canaryPlugin from '@canary-kit/fastify';
import Fastify from 'fastify';
import { Pool } from 'undici';
import { checkout, FLAG, PRODUCT_COUNT, productResponse, SHADOW_TARGET } from './shop.mjs';

/** The canary-kit config of the demo; `plan` carries the schedule (normal or --fast). */
export function demoConfig({ v2Url, shadowUrl, plan, store, source, isLeader }) {
  return {
    flags: {
      [FLAG]: {
        description: 'The rewritten checkout, served by the v2 service',
        stickiness: 'userId',
        upstream: { url: v2Url, timeoutMs: 5_000 },
        rollout: {
          steps: plan.steps,
          intervalMs: plan.intervalMs,
          minRequests: plan.minRequests,
          failureLimit: plan.failureLimit,
          thresholds: plan.thresholds,
          canaryVersionId: 'checkout-v2-demo',
        },
      },
    },
    shadow: {
      name: SHADOW_TARGET,
      target: shadowUrl,
      percentage: 100,
      paths: ['/api/products/**'],
      diff: { ignore: ['$.servedAt'] },
    },
    ...(store ? { store } : {}),
    ...(source || isLeader
      ? { rollout: { ...(source ? { source } : {}), ...(isLeader ? { isLeader } : {}) } }
      : {}),
  };
}

/**
 * Starts the app on 127.0.0.1 (port 0) around `options.canary`, or a Canary made from `demoConfig(options)`.
 * Closing it closes the Canary too.
 */
export async function startStableApp(options) {
  const canary = options.canary ?? createCanary(demoConfig(options));
  const inventory = new Pool(options.inventoryUrl, { connections: 32, keepAliveTimeout: 10_000 });
  const app = Fastify({ logger: false, keepAliveTimeout: 10_000 });
  await app.register(canaryPlugin, {
    canary,
    context: (request) => ({ userId: request.headers['x-user-id'] }),
    metricsRoute: '/metrics',
  });

  app.get('/health', { config: { canary: { metrics: false } } }, async () => ({ ok: true }));

  app.get('/api/products/:id', async (request, reply) => {
    const id = Number(request.params.id);
    if (!Number.isInteger(id) || id < 1 || id > PRODUCT_COUNT) {
      reply.code(404);
      return { error: 'no such product' };
    }
    reply.header('x-served-by', 'v1');
    return productResponse(id);
  });

  app.post('/api/checkout', { config: { canary: { flag: FLAG } } }, async (request, reply) => {
    // v1 checks stock with the inventory service (v2 was rewritten with the check built in).
    const stock = await inventory.request({
      method: 'GET',
      path: `/stock/${request.body?.items?.[0]?.id ?? 1}`,
    });
    await stock.body.dump();
    reply.header('x-served-by', 'v1');
    return checkout(request.body, 'v1');
  });

  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address();
  return {
    app,
    canary,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      await canary.close();
      await inventory.close();
    },
  };
}
