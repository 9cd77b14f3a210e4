// The app under the heap test, in its own process so it can run with --expose-gc:
//
//   node --expose-gc --conditions=@canary-kit/source --import ./ts-register.mjs app-child.mjs <target> <express module>
//
// An Express app with canaryMiddleware and one shadow target (the test's hung server) mirroring every GET.
// It reports its port over IPC, then answers 'measure' with its heap after a full GC, the shadow target's
// in-flight count and its outcome counts.
import { createCanary } from '@canary-kit/core';
import { canaryMiddleware } from '@canary-kit/express';

const [target, expressModule, maxInFlight] = process.argv.slice(2);
const { default: express } = await import(expressModule);

const canary = createCanary({
  shadow: {
    name: 'hung',
    target,
    maxInFlight: Number(maxInFlight),
    // Far longer than the test: a copy stays in flight until the test ends.
    timeoutMs: 300_000,
    circuitBreaker: false,
  },
});
const app = express();
app.use(canaryMiddleware(canary));
app.get('/items/:id', (req, res) => {
  res.json({ id: req.params.id, ok: true });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.send({ port: server.address().port });
});

process.on('message', (message) => {
  if (message === 'measure') {
    for (let i = 0; i < 5; i++) globalThis.gc();
    process.send({
      memory: process.memoryUsage(),
      inFlight: canary.shadows[0].inFlight,
      counts: canary.stats().shadow.hung,
    });
  } else if (message === 'exit') {
    server.closeAllConnections();
    process.exit(0);
  }
});
