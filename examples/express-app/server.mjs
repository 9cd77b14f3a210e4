// A small Express app with canary-kit: GET /checkout is split between the stable and the canary
// implementation by the `checkout-v2` flag, every request is labelled with the version that served it, and
// Prometheus scrapes /metrics.
//
//   PORT=3000 CANARY_PERCENTAGE=20 node examples/express-app/server.mjs     (after building the packages)
//   curl -H 'x-user-id: alice' localhost:3000/checkout
//   curl localhost:3000/metrics
//
// Identified users (x-user-id) keep their version by user id; anonymous visitors get a sticky cookie.
import { createCanary } from '@canary-kit/core';
import { canaryMiddleware, canaryRoute, metricsHandler } from '@canary-kit/express';
import express from 'express';

const FLAG = 'checkout-v2';
const percentage = Number(process.env.CANARY_PERCENTAGE ?? 20);

const canary = createCanary({
  flags: { [FLAG]: { percentage, stickiness: ['userId', 'sessionId'] } },
  // Engineers can force a version with `x-canary: always|never` — only from loopback in this example.
  overrides: { trust: (context) => ['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(context.ip) },
});
canary.on('error', (error) => console.error('canary-kit:', error));

const app = express();
app.use(canaryMiddleware(canary, { context: (req) => ({ userId: req.get('x-user-id'), ip: req.ip }) }));

app.get(
  '/checkout',
  canaryRoute(FLAG, {
    stable: (_req, res) => {
      res.json({ version: 'stable', total: 41.5 });
    },
    canary: (_req, res) => {
      res.json({ version: 'canary', total: 41.5, currency: 'NZD' });
    },
  }),
);
app.get('/metrics', metricsHandler(canary));

const host = process.env.HOST ?? '127.0.0.1';
const server = app.listen(Number(process.env.PORT ?? 3000), host, () => {
  const { port } = server.address();
  console.log(
    `express-app listening on http://${host.includes(':') ? `[${host}]` : host}:${port} (${FLAG} at ${percentage} %)`,
  );
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close(() => canary.close().then(() => process.exit(0)));
    server.closeAllConnections();
  });
}
