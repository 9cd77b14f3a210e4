import { createHash } from 'node:crypto';
import { Agent, request as httpRequest, type ServerResponse } from 'node:http';
import type { Canary, CanaryConfig, FailoverReason, UpstreamConfig } from '@canary-kit/core';
import { BODY_UNAVAILABLE, canaryMiddleware, canaryRoute, metricsHandler } from '@canary-kit/express';
import type { Express, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import {
  type Answer,
  garbageServer,
  hungServer,
  payload,
  type Received,
  refusedUrl,
  resettingServer,
  send,
  serve,
  sha256,
  slowServer,
  until,
  writeAll,
} from '../../../test/helpers/servers.js';
import { closeAfterEach, EXPRESS_MAJORS, itRunsAgainst, scrape, value } from './helpers.js';

const DURATION = 'http_request_duration_seconds_count';
const FAILOVERS = 'canary_kit_upstream_failovers_total';

const opened = closeAfterEach();
const { start, target: track } = opened;

const json = (answer: Answer): unknown => JSON.parse(answer.body.toString());

/** The upstream's usual answer: what it received, so the test can check it. */
function describeRequest(req: Received, res: ServerResponse): void {
  res.statusCode = 201;
  res.setHeader('content-type', 'application/json');
  res.setHeader('x-upstream', 'yes');
  res.setHeader('set-cookie', 'u=1; Path=/');
  res.setHeader('proxy-authenticate', 'Basic');
  res.end(
    JSON.stringify({
      served: 'upstream',
      method: req.method,
      url: req.url,
      sha: sha256(req.body),
      length: req.body.length,
    }),
  );
}

describe.each(EXPRESS_MAJORS)('%s', (name, express, module) => {
  itRunsAgainst(name, module);

  function canaryFor(upstream: string | UpstreamConfig, extra: Partial<CanaryConfig> = {}): Canary {
    return opened.canaryFor({ flags: { checkout: { percentage: 100, upstream } }, ...extra });
  }

  /**
   * GET and PUT /items/:id, POST /orders (express.json: the body is consumed before the route), POST /upload
   * (nothing reads the body before the route), all split by `checkout`. The local handlers say who served.
   */
  function appFor(canary: Canary, options: { parserFirst?: boolean; warn?: () => void } = {}): Express {
    const app = express();
    if (options.parserFirst) app.use(express.json());
    // One identity for every request: at 100 % it is on the canary.
    const context = () => ({ userId: 'everyone' });
    app.use(canaryMiddleware(canary, options.warn ? { context, warn: options.warn } : { context }));
    const localCanary = (_req: Request, res: Response) => {
      res.json({ served: 'local-canary' });
    };
    const stable = (req: Request, res: Response) => {
      res.json({ served: 'stable', method: req.method, got: req.body ?? null });
    };
    const streamStable = async (req: Request, res: Response) => {
      const hash = createHash('sha256');
      let length = 0;
      for await (const chunk of req) {
        hash.update(chunk as Buffer);
        length += (chunk as Buffer).length;
      }
      res.json({ served: 'stable', sha: hash.digest('hex'), length });
    };
    const split = canaryRoute('checkout', { canary: localCanary, stable });
    app.get('/items/:id', split);
    app.put('/items/:id', express.json(), split);
    app.post('/orders', express.json({ limit: '5mb' }), split);
    app.post('/upload', canaryRoute('checkout', { canary: localCanary, stable: streamStable }));
    app.get('/metrics', metricsHandler(canary));
    return app;
  }

  it('proxies the canary share with status, headers and body streamed both ways, labelled canary', async () => {
    const upstream = await track(serve(describeRequest));
    const canary = canaryFor({ url: upstream.url, circuitBreaker: false });
    const base = await start(appFor(canary));
    const host = new URL(base).host;

    const get = await send(`${base}/items/1?x=1`, {
      headers: {
        connection: 'keep-alive, x-hop',
        'x-hop': 'connection-scoped',
        te: 'trailers',
        'proxy-authorization': 'Basic eA==',
        'x-forwarded-for': '203.0.113.9',
        'x-user-id': 'u1',
      },
    });
    expect(get.status).toBe(201);
    expect(get.headers['x-upstream']).toBe('yes');
    expect(get.headers['set-cookie']).toEqual(['u=1; Path=/']);
    expect(get.headers['proxy-authenticate']).toBeUndefined();
    expect(json(get)).toMatchObject({ served: 'upstream', method: 'GET', url: '/items/1?x=1', length: 0 });
    const seen = upstream.received[0]!.headers;
    expect(seen['x-hop']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen['x-user-id']).toBe('u1');
    expect(seen['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe(host);
    expect(seen.host).toBe(new URL(upstream.url).host);

    const head = await send(`${base}/items/2`, { method: 'HEAD' });
    expect(head.status).toBe(201);
    expect(head.headers['x-upstream']).toBe('yes');
    expect(head.body.length).toBe(0);

    // Bodies a parser consumed are sent as the raw bytes captured, never re-serialized (note the spacing).
    const raw = '{ "id" :  7,\n  "note": "caf\u00e9" }';
    for (const [method, path] of [
      ['PUT', '/items/7'],
      ['POST', '/orders'],
    ] as const) {
      const answer = await send(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: raw,
      });
      expect(answer.status).toBe(201);
      expect(json(answer)).toEqual({
        served: 'upstream',
        method,
        url: path,
        sha: sha256(Buffer.from(raw)),
        length: Buffer.byteLength(raw),
      });
    }
    // A body nothing read yet is streamed: 2 MiB with a Content-Length, and chunked.
    const big = payload(2 * 1024 * 1024, 5);
    const streamed = await send(`${base}/upload`, { method: 'POST', body: big });
    expect(json(streamed)).toMatchObject({ served: 'upstream', sha: sha256(big), length: big.length });
    const chunkedBody = await send(`${base}/upload`, {
      method: 'POST',
      body: Array.from({ length: 10 }, (_, i) => big.subarray(i * 1000, (i + 1) * 1000)),
    });
    expect(json(chunkedBody)).toMatchObject({ sha: sha256(big.subarray(0, 10_000)), length: 10_000 });

    const samples = await scrape(base);
    const canaryRoutes = { status_code: '201', version: 'canary' };
    expect(value(samples, DURATION, { method: 'GET', route: '/items/:id', ...canaryRoutes })).toBe(1);
    expect(value(samples, DURATION, { method: 'HEAD', route: '/items/:id', ...canaryRoutes })).toBe(1);
    expect(value(samples, DURATION, { method: 'PUT', route: '/items/:id', ...canaryRoutes })).toBe(1);
    expect(value(samples, DURATION, { method: 'POST', route: '/orders', ...canaryRoutes })).toBe(1);
    expect(value(samples, DURATION, { method: 'POST', route: '/upload', ...canaryRoutes })).toBe(2);
    expect(canary.stats().failovers).toEqual({});
  });

  it('streams a 50 MB upstream answer through without buffering it', async () => {
    const size = 50 * 1024 * 1024;
    const first = 1024 * 1024;
    const bytes = payload(size, 11);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const upstream = await track(
      serve(async (_req, res) => {
        res.setHeader('content-type', 'application/octet-stream');
        res.setHeader('content-length', String(size));
        await writeAll(res, bytes.subarray(0, first));
        // The rest only once the client has the first MiB: proof the proxy passes bytes on as they come.
        await gate;
        await writeAll(res, bytes.subarray(first));
        res.end();
      }),
    );
    const canary = canaryFor({ url: upstream.url, circuitBreaker: false });
    const base = await start(appFor(canary));
    const digest = await new Promise<{ status: number; length: number; sha: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/items/big`, (res) => {
        const hash = createHash('sha256');
        let length = 0;
        res.on('data', (c: Buffer) => {
          hash.update(c);
          length += c.length;
          if (length >= first) release();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, length, sha: hash.digest('hex') }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(digest).toEqual({ status: 200, length: size, sha: sha256(bytes) });
  });

  it('a client aborting its upload mid-way aborts the upstream request; nothing is reported', async () => {
    const upstream = await track(hungServer());
    const canary = canaryFor({ url: upstream.url, circuitBreaker: false });
    const errors: Error[] = [];
    canary.on('error', (error) => errors.push(error));
    const base = await start(appFor(canary));
    const req = httpRequest(`${base}/upload`, {
      method: 'POST',
      headers: { 'content-length': String(10 * 1024 * 1024) },
    });
    req.on('error', () => {});
    req.write(payload(256 * 1024));
    await until(() => upstream.arrived() === 1, 'the upload at the upstream');
    req.destroy();
    await until(() => upstream.cutShort() === 1, 'the upstream request aborted');
    expect((await send(`${base}/metrics`)).status).toBe(200);
    expect(errors).toEqual([]);
  });

  describe('a failing upstream: idempotent requests fail over to stable, the rest are answered 502/504', () => {
    type Make = () => Promise<{ url: string }>;
    const answerWith = (status: number) => (_req: unknown, res: ServerResponse) => {
      res.statusCode = status;
      res.setHeader('content-type', 'text/plain');
      res.end(`upstream says ${status}`);
    };
    const cases: [string, Make, FailoverReason, number][] = [
      ['hung (accepts, never answers)', () => track(hungServer()), 'timeout', 504],
      ['resetting connections', () => track(resettingServer()), 'reset', 502],
      ['refusing connections', async () => ({ url: await refusedUrl() }), 'connect', 502],
      ['answering garbage', () => track(garbageServer()), 'protocol', 502],
      ['answering 503', () => track(serve(answerWith(503))), 'status_5xx', 503],
    ];

    it.each(cases)('%s', async (_name, make, reason, postStatus) => {
      const upstream = await make();
      const canary = canaryFor({ url: upstream.url, timeoutMs: 300, circuitBreaker: false });
      const errors: Error[] = [];
      canary.on('error', (error) => errors.push(error));
      const base = await start(appFor(canary));

      // Idempotent: served by the local stable handler, which still gets the request body.
      // One agent, one socket, for the upload and a request after it: the connection must survive.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const [get, put, order, upload] = await Promise.all([
        send(`${base}/items/1`),
        send(`${base}/items/2`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: '{"qty":3}',
        }),
        send(`${base}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"qty":1}',
        }),
        send(`${base}/upload`, { method: 'POST', body: payload(200_000), agent }),
      ]);
      // Idempotent: served by the local stable handler, which still gets the request body.
      expect(get.status).toBe(200);
      expect(json(get)).toEqual({ served: 'stable', method: 'GET', got: null });
      expect(json(put)).toEqual({ served: 'stable', method: 'PUT', got: { qty: 3 } });
      // Not idempotent: never replayed. A 5xx answer is the upstream's own and is passed on as it is.
      for (const answer of [order, upload]) {
        expect(answer.status).toBe(postStatus);
        expect(answer.body.toString()).toBe(
          postStatus === 504 ? 'Gateway Timeout' : postStatus === 502 ? 'Bad Gateway' : 'upstream says 503',
        );
      }
      // The rest of the upload was read and dropped, so the client's connection is still usable.
      const after = await send(`${base}/metrics`, { agent });
      expect(after.status).toBe(200);
      expect(after.reused).toBe(true);
      agent.destroy();

      expect(canary.stats().failovers.checkout).toMatchObject({ [reason]: 2 });
      const total = Object.values(canary.stats().failovers.checkout!).reduce((a, b) => a + b, 0);
      expect(total).toBe(2);
      const samples = await scrape(base);
      expect(value(samples, FAILOVERS, { flag: 'checkout', reason })).toBe(2);
      const stableItems = { route: '/items/:id', version: 'stable', status_code: '200' };
      expect(value(samples, DURATION, { method: 'GET', ...stableItems })).toBe(1);
      expect(value(samples, DURATION, { method: 'PUT', ...stableItems })).toBe(1);
      expect(
        value(samples, DURATION, { route: '/orders', version: 'canary', status_code: String(postStatus) }),
      ).toBe(1);
      expect(
        value(samples, DURATION, { route: '/upload', version: 'canary', status_code: String(postStatus) }),
      ).toBe(1);
      expect(errors.filter((e) => /cannot be replayed/.test(e.message))).toHaveLength(
        postStatus === 503 ? 0 : 2,
      );
    });

    it('1 s slow within its timeout: the upstream still serves', async () => {
      const upstream = await track(slowServer(1_000, describeRequest));
      const canary = canaryFor({ url: upstream.url, timeoutMs: 5_000, circuitBreaker: false });
      const base = await start(appFor(canary));
      const answer = await send(`${base}/items/1`);
      expect(answer.status).toBe(201);
      expect(json(answer)).toMatchObject({ served: 'upstream' });
      expect(canary.stats().failovers).toEqual({});
    });

    it('an open circuit fails over before sending, so even a streamed upload reaches stable intact', async () => {
      const url = await refusedUrl();
      const canary = canaryFor({
        url,
        timeoutMs: 300,
        circuitBreaker: { failureThreshold: 2, cooldownMs: 60_000 },
      });
      const base = await start(appFor(canary));
      for (let i = 0; i < 2; i++)
        expect(json(await send(`${base}/items/${i}`))).toMatchObject({ served: 'stable' });
      const bytes = payload(300_000, 3);
      const upload = await send(`${base}/upload`, { method: 'POST', body: bytes });
      expect(upload.status).toBe(200);
      expect(json(upload)).toEqual({ served: 'stable', sha: sha256(bytes), length: bytes.length });
      expect(canary.stats().failovers.checkout).toMatchObject({ connect: 2, circuit_open: 1 });
      const samples = await scrape(base);
      expect(value(samples, DURATION, { route: '/upload', version: 'stable' })).toBe(1);
    });
  });

  describe('a body that cannot be sent faithfully is served locally by stable', () => {
    it('when a body parser ran before canaryMiddleware', async () => {
      const upstream = await track(serve(describeRequest));
      const canary = canaryFor({ url: upstream.url, circuitBreaker: false });
      let warnings = 0;
      const base = await start(appFor(canary, { parserFirst: true, warn: () => warnings++ }));
      for (let i = 0; i < 2; i++) {
        const answer = await send(`${base}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: `{"n":${i}}`,
        });
        expect(json(answer)).toEqual({ served: 'stable', method: 'POST', got: { n: i } });
      }
      expect(warnings).toBe(1);
      expect(upstream.arrived()).toBe(0);
      expect(canary.stats().failovers.checkout).toMatchObject({ [BODY_UNAVAILABLE]: 2 });
      const samples = await scrape(base);
      expect(value(samples, FAILOVERS, { flag: 'checkout', reason: BODY_UNAVAILABLE })).toBe(2);
      expect(value(samples, DURATION, { route: '/orders', version: 'stable' })).toBe(2);
    });

    it('when a parser consumed a body larger than the 1 MiB kept for proxying', async () => {
      const upstream = await track(serve(describeRequest));
      const canary = canaryFor({ url: upstream.url, circuitBreaker: false });
      const base = await start(appFor(canary));
      const items = Array.from({ length: 100_000 }, (_, i) => `item-${i}`);
      const body = JSON.stringify({ items });
      expect(body.length).toBeGreaterThan(1024 * 1024);
      const answer = await send(`${base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(answer.status).toBe(200);
      expect((json(answer) as { got: { items: string[] } }).got.items).toEqual(items);
      expect(upstream.arrived()).toBe(0);
      expect(canary.stats().failovers.checkout).toMatchObject({ [BODY_UNAVAILABLE]: 1 });
    });
  });
});
