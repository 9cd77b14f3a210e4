import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CanaryConfig,
  captureRequestBody,
  captureResponseBody,
  createCanary,
  type MismatchEvent,
  RequestBinding,
} from '@canary-kit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../support/until.js';

/** A real HTTP server on 127.0.0.1:0. */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** The primary app: plain node:http with canary-kit's request binding, as an adapter would use it. */
/** Request bodies as the primary's handler read them. */
const received: Buffer[] = [];

async function primary(config: CanaryConfig, body: (url: string) => unknown) {
  const canary = createCanary(config);
  const binding = new RequestBinding(canary, {
    context: (req: IncomingMessage) => ({ userId: req.headers['x-user'] as string }),
  });
  const app = await serve((req, res) => {
    const state = binding.start(req, req.headers, false, req.method);
    const capture = state.capture;
    if (capture) {
      captureRequestBody(req, capture);
      captureResponseBody(res, capture);
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push(Buffer.concat(chunks));
      const text = JSON.stringify(body(req.url ?? '/'));
      res.setHeader('content-type', 'application/json');
      res.on('finish', () =>
        binding.finish(state, req.method ?? 'GET', '/items', res.statusCode, undefined, {
          url: req.url ?? '/',
          requestHeaders: req.headers,
          responseHeaders: () => res.getHeaders() as Record<string, string>,
        }),
      );
      res.end(text);
    });
  });
  closers.push(
    () => canary.close(),
    () => new Promise((r) => app.server.close(r)),
  );
  return { canary, url: app.url };
}

describe('shadow targets', () => {
  it('mirrors GETs, strips credentials, and reports match and mismatch with the differing fields', async () => {
    const seen: IncomingMessage['headers'][] = [];
    const candidate = await serve((req, res) => {
      seen.push(req.headers);
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify(
          req.url === '/items/2'
            ? { id: 2, price: 11, requestId: 'zzz' }
            : { id: 1, price: 10, requestId: 'yyy' },
        ),
      );
    });
    closers.push(() => new Promise((r) => candidate.server.close(r)));
    const { canary, url } = await primary(
      { shadow: { name: 'v2', target: candidate.url, diff: { ignore: ['$.requestId'] } } },
      (u) => (u === '/items/2' ? { id: 2, price: 10, requestId: 'a' } : { id: 1, price: 10, requestId: 'b' }),
    );
    const mismatches: MismatchEvent[] = [];
    canary.on('mismatch', (e) => mismatches.push(e));
    const first = await fetch(`${url}/items/1`, {
      headers: { authorization: 'Bearer secret', cookie: 'sid=1', 'x-user': 'u1' },
    });
    expect(await first.json()).toEqual({ id: 1, price: 10, requestId: 'b' });
    await fetch(`${url}/items/2`);
    await until(
      () => canary.stats().shadow.v2!.match + canary.stats().shadow.v2!.mismatch === 2,
      'both diffs',
    );
    expect(canary.stats().shadow.v2).toMatchObject({ match: 1, mismatch: 1 });
    expect(mismatches[0]?.differences).toEqual([
      { path: '$.price', kind: 'changed', primary: 10, candidate: 11 },
    ]);
    expect(seen[0]?.authorization).toBeUndefined();
    expect(seen[0]?.cookie).toBeUndefined();
    expect(seen[0]?.['x-canary-kit-shadow']).toBe('1');
    expect(seen[0]?.['x-user']).toBe('u1');
  });

  it('never mirrors a request that is itself a shadow copy (no copies of copies), counting it skipped', async () => {
    let hits = 0;
    const candidate = await serve((_req, res) => {
      hits++;
      res.setHeader('content-type', 'application/json');
      res.end('{"id":1}');
    });
    closers.push(() => new Promise((r) => candidate.server.close(r)));
    const { canary, url } = await primary({ shadow: { name: 'v2', target: candidate.url } }, () => ({
      id: 1,
    }));
    const copy = await fetch(`${url}/items/1`, { headers: { 'x-canary-kit-shadow': '1' } });
    expect(await copy.json()).toEqual({ id: 1 });
    const secondary = await fetch(`${url}/items/1`, { headers: { 'x-canary-kit-shadow': 'secondary' } });
    expect(secondary.status).toBe(200);
    await fetch(`${url}/items/1`);
    await until(() => canary.stats().shadow.v2!.match === 1, 'the one real request diffed');
    expect(canary.stats().shadow.v2).toMatchObject({ match: 1, skipped: 2, mismatch: 0, error: 0 });
    expect(hits).toBe(1);
  });

  it('does not mirror writes unless the target lists them and the route opts in', async () => {
    let hits = 0;
    const candidate = await serve((_req, res) => {
      hits++;
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
    closers.push(() => new Promise((r) => candidate.server.close(r)));
    const { canary, url } = await primary(
      { shadow: { name: 'v2', target: candidate.url, methods: ['GET', 'POST'] } },
      () => ({}),
    );
    const response = await fetch(`${url}/items`, {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
    await fetch(`${url}/items`);
    await until(() => canary.stats().shadow.v2!.match === 1, 'the GET copy');
    expect(hits).toBe(1);
  });

  it('mirrors an opted-in write with the exact request bytes, which the handler also reads intact', async () => {
    const bodies: Buffer[] = [];
    const candidate = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks));
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      });
    });
    closers.push(() => new Promise((r) => candidate.server.close(r)));
    const canary = createCanary({ shadow: { name: 'v2', target: candidate.url, methods: ['POST'] } });
    closers.push(() => canary.close());
    const binding = new RequestBinding(canary);
    const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    const app = await serve((req, res) => {
      const state = binding.start(req, req.headers, false, req.method);
      captureRequestBody(req, state.capture!);
      captureResponseBody(res, state.capture!);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.length = 0;
        received.push(Buffer.concat(chunks));
        res.setHeader('content-type', 'application/json');
        res.on('finish', () =>
          binding.finish(state, 'POST', '/upload', res.statusCode, undefined, {
            url: req.url ?? '/',
            requestHeaders: req.headers,
            responseHeaders: () => res.getHeaders() as Record<string, string>,
            shadow: { targets: true, writes: true },
          }),
        );
        res.end('{}');
      });
    });
    closers.push(() => new Promise((r) => app.server.close(r)));
    await fetch(`${app.url}/upload`, { method: 'POST', body: payload });
    await until(() => canary.stats().shadow.v2!.match === 1, 'the mirrored write, diffed');
    expect(received[0]!.equals(payload)).toBe(true);
    expect(bodies[0]!.equals(payload)).toBe(true);
    expect(canary.stats().shadow.v2!.match).toBe(1);
  });

  it('a hung target never delays the primary; copies past maxInFlight are dropped and counted', async () => {
    const hung = await serve(() => {});
    closers.push(
      () =>
        new Promise((r) => {
          hung.server.closeAllConnections();
          hung.server.close(r);
        }),
    );
    const { canary, url } = await primary(
      {
        shadow: { name: 'hung', target: hung.url, maxInFlight: 5, timeoutMs: 60_000, circuitBreaker: false },
      },
      () => ({ ok: true }),
    );
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${url}/items/${i}`);
      expect(await response.json()).toEqual({ ok: true });
    }
    expect(canary.shadows[0]!.inFlight).toBe(5);
    expect(canary.stats().shadow.hung!.dropped).toBe(15);
  });

  it('counts timeouts and errors, and the circuit breaker stops sending to a failing target', async () => {
    const refused = await serve(() => {});
    const deadUrl = refused.url;
    await new Promise((r) => refused.server.close(r));
    const { canary, url } = await primary(
      {
        shadow: {
          name: 'dead',
          target: deadUrl,
          circuitBreaker: { failureThreshold: 3, cooldownMs: 60_000 },
        },
      },
      () => ({}),
    );
    for (let i = 0; i < 10; i++) await fetch(`${url}/items`);
    await until(
      () => canary.shadows[0]!.inFlight === 0 && canary.stats().shadow.dead!.error >= 3,
      'the errors',
    );
    const counts = canary.stats().shadow.dead!;
    expect(counts.error + counts.dropped).toBe(10);
    expect(counts.error).toBeGreaterThanOrEqual(3);
    expect(canary.shadows[0]!.circuit).toBe('open');
  });
});
