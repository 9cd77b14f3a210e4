// A Fastify app shipping a new greeting to half of its users, from inside the running app.
//
//   npx -y pnpm@10 build && PORT=3000 npx -y pnpm@10 --filter canary-kit-fastify-app start
//   curl -H 'x-user-id: ann' localhost:3000/greeting     # stable or canary, always the same for ann
//   curl -c jar -b jar localhost:3000/greeting           # anonymous: the canary_sid cookie keeps you on one version
//   curl localhost:3000/metrics                          # http_request_duration_seconds{version="canary"|"stable"}
//
// PORT=0 picks a free port; the URL is printed either way.

import { createCanary } from '@canary-kit/core';
import canaryPlugin, { canaryHandler } from '@canary-kit/fastify';
import Fastify from 'fastify';

const canary = createCanary({
  flags: {
    // Logged-in users are bucketed by id; anonymous visitors by the sticky cookie canary-kit issues.
    'greeting-v2': { percentage: 50, stickiness: ['userId', 'sessionId'] },
  },
});
canary.on('error', (error) => console.error('canary-kit:', error));

const app = Fastify({ logger: process.env.LOG === '1' });

app.register(canaryPlugin, {
  canary,
  context: (request) => ({ userId: request.headers['x-user-id'] }),
  metricsRoute: '/metrics',
});

app.get(
  '/greeting',
  { config: { canary: { flag: 'greeting-v2' } } },
  canaryHandler({
    stable: async () => ({ version: 'stable', greeting: 'Hello' }),
    canary: async () => ({ version: 'canary', greeting: 'Hello, and welcome back' }),
  }),
);

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
await app.listen({ port, host });
const { port: actualPort } = app.server.address();
console.log(`fastify-app listening on http://${host}:${actualPort}`);

async function shutdown() {
  await app.close();
  await canary.close();
  process.exit(0);
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
