// The app of heap.test.ts, run by it in a child process started with `node --expose-gc` so that it can
// measure its heap after a forced GC. Plain JavaScript on the built packages (dist), decorators applied by
// hand: a Nest app with CanaryModule, a shadow target (the parent's hung server) that never answers, and a
// route whose flag proxies every request to the parent's upstream.
import 'reflect-metadata';
import { createCanary } from '@canary-kit/core';
import { CanaryFlag, CanaryModule } from '@canary-kit/nestjs';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';

const { HUNG_URL, UPSTREAM_URL, PLATFORM, MAX_IN_FLIGHT } = process.env;

class ItemsController {
  item(id) {
    return { id, ok: true };
  }
  proxied(id) {
    return { id, served: 'local' };
  }
}
Reflect.decorate([Controller()], ItemsController);
const method = (name, decorators) =>
  Reflect.decorate(
    decorators,
    ItemsController.prototype,
    name,
    Object.getOwnPropertyDescriptor(ItemsController.prototype, name),
  );
method('item', [Get('items/:id')]);
method('proxied', [Get('up/:id'), CanaryFlag('beta')]);
Param('id')(ItemsController.prototype, 'item', 0);
Param('id')(ItemsController.prototype, 'proxied', 0);

/** The raw requests of proxied routes, to see them collected once answered. */
let registered = 0;
let finalized = 0;
const requests = new FinalizationRegistry(() => finalized++);
const track = (req, _res, next) => {
  if ((req.originalUrl ?? req.url).startsWith('/up/')) {
    registered++;
    requests.register(req, undefined);
  }
  next();
};

const canary = createCanary({
  shadow: {
    name: 'hung',
    target: HUNG_URL,
    maxInFlight: Number(MAX_IN_FLIGHT),
    timeoutMs: 600_000,
    circuitBreaker: false,
  },
  flags: { beta: { percentage: 100, upstream: UPSTREAM_URL } },
});

class AppModule {
  configure(consumer) {
    consumer.apply(track).forRoutes('*');
  }
}
Reflect.decorate(
  [
    Module({
      imports: [CanaryModule.forRoot({ canary, context: () => ({ userId: 'everyone' }) })],
      controllers: [ItemsController],
    }),
  ],
  AppModule,
);

const adapter = PLATFORM === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
const app = await NestFactory.create(AppModule, adapter, { logger: false });
await app.listen(0, '127.0.0.1');
const { port } = app.getHttpServer().address();

process.on('message', async (message) => {
  if (message === 'finalized') {
    // Finalizers run after a collection, on a later turn: collect until every one ran (or 50 rounds).
    for (let round = 0; round < 50 && finalized < registered; round++) {
      global.gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    process.send({ registered, finalized });
  } else if (message === 'measure') {
    global.gc();
    global.gc();
    process.send({
      heapUsed: process.memoryUsage().heapUsed,
      inFlight: canary.shadows[0].inFlight,
      shadow: canary.stats().shadow.hung,
    });
  } else if (message === 'exit') {
    // The hung copies would hold close() for their timeout: the process just ends.
    process.exit(0);
  }
});
process.send({ url: `http://127.0.0.1:${port}` });
