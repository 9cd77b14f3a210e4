/**
 * The app of heap.test.ts, run in a child process started with `--expose-gc` so the heap can be measured after a
 * full collection: Fastify with canary-kit mirroring every request to SHADOW_TARGET (which never answers), at most
 * MAX_IN_FLIGHT copies in flight. Prints `{ port }` over IPC, then answers `measure` messages with the heap after
 * GC and the shadow counts.
 */
import { createCanary } from '@canary-kit/core';
import canaryPlugin from '@canary-kit/fastify';
import Fastify from 'fastify';

const target = process.env.SHADOW_TARGET;
const maxInFlight = Number(process.env.MAX_IN_FLIGHT);
const gc = (globalThis as { gc?: () => void }).gc;
if (!target || !Number.isInteger(maxInFlight) || gc === undefined || process.send === undefined) {
  throw new Error('run by heap.test.ts: SHADOW_TARGET, MAX_IN_FLIGHT, --expose-gc and an IPC channel');
}
const send = process.send.bind(process);

const canary = createCanary({
  flags: { 'items-v2': { percentage: 50 } },
  shadow: {
    name: 'hung',
    target,
    maxInFlight,
    methods: ['GET', 'POST'],
    // Copies stay in flight for the whole run: the target never answers and nothing times out.
    timeoutMs: 600_000,
    circuitBreaker: false,
  },
});
const app = Fastify();
app.register(canaryPlugin, {
  canary,
  context: (request) => ({ userId: request.headers['x-user'] as string | undefined }),
});
/** About 4 KB of JSON per answer: a leaked response capture per request would show at once. */
const ITEMS = {
  items: Array.from({ length: 64 }, (_, i) => ({
    id: i,
    name: `item number ${i}`,
    price: i * 1.25,
    tags: ['a', 'b'],
  })),
};
app.get('/items', { config: { canary: { flag: 'items-v2' } } }, async () => ITEMS);
app.post(
  '/orders',
  { config: { canary: { flag: 'items-v2', shadow: { writes: true } } } },
  async (request) => ({ n: (request.body as { n: number }).n }),
);

await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
send({ port: typeof address === 'object' && address !== null ? address.port : 0 });

process.on('message', (message) => {
  if (message !== 'measure') return;
  gc();
  gc();
  const memory = process.memoryUsage();
  send({
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    inFlight: canary.shadows[0]!.inFlight,
    shadow: canary.stats().shadow.hung,
  });
});
process.on('disconnect', () => {
  // The test is done with us: leave without waiting for the copies that never end.
  process.exit(0);
});
