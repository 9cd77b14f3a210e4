// Memory bounds of @canary-kit/nestjs, measured in a child process run with --expose-gc on the built packages
// (dist), like the example tests:
// - 20,000 requests through a Nest app whose shadow target accepts copies and never answers: every primary
//   answers correctly, exactly maxInFlight copies stay in flight, every other one is dropped and counted, and
//   the heap after a forced GC stays bounded (platform-express; Fastify shares the whole shadow path but the
//   response-header capture, and runs the hung-target fault in the exchange suite);
// - requests proxied to an upstream, whose Nest guard chain canary-kit leaves pending on purpose, are
//   garbage-collected like any finished request (both platforms).
import { type ChildProcess, fork } from 'node:child_process';
import { Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../../test/helpers/build.js';
import { hungServer, send, serve, type TestServer } from '../../../test/helpers/servers.js';

const REQUESTS = 20_000;
const WARM_UP = 2_000;
const MAX_IN_FLIGHT = 64;
const PROXIED = 500;
const CONCURRENCY = 16;
/** The bound on heap growth from the warmed-up baseline to the end. */
const HEAP_BOUND = 30 * 1024 * 1024;
const MB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

interface Measure {
  heapUsed: number;
  inFlight: number;
  shadow: { dropped: number; match: number; error: number; timeout: number; skipped: number };
}

let child: ChildProcess | undefined;
const servers: TestServer[] = [];
async function shutdown(): Promise<void> {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.send('exit');
    await exited;
  }
  for (const server of servers.splice(0)) await server.close();
}

function nextMessage<T>(from: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    from.once('message', (message) => resolve(message as T));
    from.once('exit', (code) => reject(new Error(`the app exited (${code})`)));
  });
}

interface App {
  readonly url: string;
  readonly hung: TestServer;
  readonly upstream: TestServer;
  ask<T>(message: string): Promise<T>;
  /** GETs `path(id)` for ids [from, to) with CONCURRENCY keep-alive connections; how many answered wrong. */
  load(
    from: number,
    to: number,
    path: (id: number) => string,
    expected: (id: number) => string,
  ): Promise<number>;
}

async function boot(platform: 'express' | 'fastify'): Promise<App> {
  ensureBuilt('core', 'nestjs');
  const hung = await hungServer();
  const upstream = await serve((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, served: 'upstream' }));
  });
  servers.push(hung, upstream);
  child = fork(fileURLToPath(new URL('./support/heap-app.mjs', import.meta.url)), [], {
    execArgv: ['--expose-gc'],
    env: {
      ...process.env,
      HUNG_URL: hung.url,
      UPSTREAM_URL: upstream.url,
      PLATFORM: platform,
      MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const running = child;
  const { url } = await nextMessage<{ url: string }>(running);
  return {
    url,
    hung,
    upstream,
    ask: <T>(message: string) => {
      const reply = nextMessage<T>(running);
      running.send(message);
      return reply;
    },
    async load(from, to, path, expected) {
      const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      let next = from;
      let wrong = 0;
      const worker = async () => {
        while (next < to) {
          const id = next++;
          const answer = await send(`${url}${path(id)}`, { agent });
          if (answer.status !== 200 || answer.body.toString() !== expected(id)) wrong++;
        }
      };
      try {
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      } finally {
        agent.destroy();
      }
      return wrong;
    },
  };
}

const proxiedAreCollected = (platform: 'express' | 'fastify', app: () => App) =>
  it(`platform-${platform}: ${PROXIED} requests proxied to an upstream are all garbage-collected`, async () => {
    const { load, upstream, ask } = app();
    const wrong = await load(
      0,
      PROXIED,
      (id) => `/up/${id}`,
      (id) => `{"url":"/up/${id}","served":"upstream"}`,
    );
    expect(wrong).toBe(0);
    expect(upstream.received).toHaveLength(PROXIED);
    const { registered, finalized } = await ask<{ registered: number; finalized: number }>('finalized');
    console.log(`platform-${platform}: ${finalized} of ${registered} proxied requests collected`);
    expect(registered).toBe(PROXIED);
    expect(finalized).toBe(PROXIED);
  });

describe('memory on platform-express', () => {
  let app: App;
  beforeAll(async () => {
    app = await boot('express');
  });
  afterAll(shutdown);

  it(`${REQUESTS} requests against a hung shadow target: ${MAX_IN_FLIGHT} copies in flight, the rest dropped, heap bounded`, async () => {
    const item = (id: number) => `/items/${id}`;
    const expected = (id: number) => `{"id":"${id}","ok":true}`;
    let wrong = await app.load(0, WARM_UP, item, expected);
    const baseline = await app.ask<Measure>('measure');
    wrong += await app.load(WARM_UP, REQUESTS, item, expected);
    const end = await app.ask<Measure>('measure');
    console.log(
      `platform-express: heapUsed after GC ${MB(baseline.heapUsed)} after ${WARM_UP} requests, ` +
        `${MB(end.heapUsed)} after ${REQUESTS} (growth ${MB(end.heapUsed - baseline.heapUsed)}, ` +
        `bound ${MB(HEAP_BOUND)}); in flight ${end.inFlight}, dropped ${end.shadow.dropped}`,
    );
    expect(wrong).toBe(0);
    expect(end.inFlight).toBe(MAX_IN_FLIGHT);
    expect(end.shadow).toMatchObject({ dropped: REQUESTS - MAX_IN_FLIGHT, match: 0, error: 0, timeout: 0 });
    expect(app.hung.arrived()).toBe(MAX_IN_FLIGHT);
    expect(end.heapUsed - baseline.heapUsed).toBeLessThan(HEAP_BOUND);
  });

  proxiedAreCollected('express', () => app);
});

describe('memory on platform-fastify', () => {
  let app: App;
  beforeAll(async () => {
    app = await boot('fastify');
  });
  afterAll(shutdown);

  proxiedAreCollected('fastify', () => app);
});
