import { type CanaryConfig, createCanary, type FailoverReason, type UpstreamConfig } from '@canary-kit/core';
import canaryPlugin, { canaryHandler } from '@canary-kit/fastify';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  garbageServer,
  hungServer,
  payload,
  type Received,
  refusedUrl,
  resettingServer,
  send,
  serve,
  sha256,
  type TestServer,
  writeLarge,
} from '../../../test/helpers/servers.js';
import { Cleanup, LogLines, listen, sampleValue, scrape } from './helpers.js';

/**
 * Upstream routing: the canary share of a route bound to a flag with an `upstream` is proxied there (streamed
 * both ways, hop-by-hop headers removed, X-Forwarded-*), labelled canary; idempotent requests fail over to the
 * local stable handler, labelled stable and counted; non-idempotent ones are never replayed (502/504).
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FLAG = 'cart-v2';
const MiB = 1024 * 1024;
const CANARY_USER = { 'x-user': 'canary-user' };
const STABLE_USER = { 'x-user': 'someone-else' };
const OCTET = { 'content-type': 'application/octet-stream' };

/** The new service: answers with what it received. */
function echoUpstream(status = 200): Promise<TestServer> {
  return cleanup.server(
    serve((req: Received, res) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.setHeader('x-served', 'upstream');
      res.setHeader('x-upstream-private', 'hop');
      res.setHeader('connection', 'keep-alive, x-upstream-private');
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      res.end(
        JSON.stringify({ served: 'upstream', method: req.method, url: req.url, sha: sha256(req.body) }),
      );
    }),
  );
}

/** Local handlers record what they were given. */
interface Local {
  readonly calls: { version: string; sha: string; isCanary: boolean }[];
}

async function app(upstream: string | UpstreamConfig, options: { flags?: CanaryConfig['flags'] } = {}) {
  const canary = cleanup.canary(
    createCanary({
      flags: options.flags ?? { [FLAG]: { percentage: 0, users: ['canary-user'], upstream } },
    }),
  );
  const server = cleanup.app(Fastify({ bodyLimit: 8 * MiB }));
  server.register(canaryPlugin, {
    canary,
    metricsRoute: '/metrics',
    context: (request) => ({ userId: request.headers['x-user'] as string }),
  });
  server.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );
  const local: Local = { calls: [] };
  const handler = (version: string) =>
    async function localHandler(
      request: import('fastify').FastifyRequest,
      reply: import('fastify').FastifyReply,
    ) {
      const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
      local.calls.push({ version, sha: sha256(body), isCanary: request.canary.isCanary(FLAG) });
      reply.header('x-served', `local-${version}`);
      return { served: `local-${version}`, method: request.method, url: request.url, sha: sha256(body) };
    };
  const split = canaryHandler({ canary: handler('canary'), stable: handler('stable') });
  const bound = { config: { canary: { flag: FLAG } } };
  server.get('/base/cart/:id', bound, split);
  server.route({
    method: ['POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/base/cart/:id',
    ...bound,
    handler: split,
  });
  server.get('/unbound', handler('unbound'));
  const base = await listen(server);
  const versionCount = async (version: string, method = 'GET') =>
    sampleValue(await scrape(base), 'http_request_duration_seconds_count', {
      route: '/base/cart/:id',
      method,
      version,
    });
  return { canary, base, local, versionCount };
}

const json = (body: Buffer) => JSON.parse(body.toString()) as Record<string, unknown>;
const failovers = (canary: { stats(): { failovers: Record<string, Record<FailoverReason, number>> } }) =>
  canary.stats().failovers[FLAG];

describe('the canary share is proxied to the upstream', () => {
  it('streams GETs there with forwarding headers and without hop-by-hop ones; stable users stay local', async () => {
    const upstream = await echoUpstream(201);
    const { base, local, versionCount } = await app(`${upstream.url}/v2`);
    const res = await send(`${base}/base/cart/7?q=1`, {
      headers: {
        ...CANARY_USER,
        'x-forwarded-for': '203.0.113.9',
        connection: 'keep-alive, x-client-private',
        'x-client-private': 'hop',
      },
    });
    expect(res.status).toBe(201);
    expect(json(res.body)).toEqual({
      served: 'upstream',
      method: 'GET',
      url: '/v2/base/cart/7?q=1',
      sha: sha256(Buffer.alloc(0)),
    });
    expect(res.headers['x-served']).toBe('upstream');
    expect(res.headers['x-upstream-private']).toBeUndefined();
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);

    const sent = upstream.received[0]!.headers;
    expect(sent['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(sent['x-forwarded-proto']).toBe('http');
    expect(sent['x-forwarded-host']).toBe(new URL(base).host);
    expect(sent.host).toBe(new URL(upstream.url).host);
    expect(sent['x-client-private']).toBeUndefined();
    expect(sent['x-user']).toBe('canary-user');

    const stable = await send(`${base}/base/cart/7`, { headers: STABLE_USER });
    expect(json(stable.body)).toMatchObject({ served: 'local-stable' });
    expect(upstream.received).toHaveLength(1);
    expect(local.calls).toEqual([{ version: 'stable', sha: sha256(Buffer.alloc(0)), isCanary: false }]);
    expect(await versionCount('canary')).toBe(1);
    expect(await versionCount('stable')).toBe(1);
  });

  it('streams POST bodies (1 MiB and chunked) to the upstream byte-identical, without the local handler', async () => {
    const upstream = await echoUpstream();
    const { base, local, versionCount } = await app(upstream.url);
    const large = payload(MiB, 31);
    const chunks = Array.from({ length: 29 }, (_, i) => payload(1 + ((i * 104_729) % 90_000), 40 + i));
    for (const body of [large, chunks]) {
      const res = await send(`${base}/base/cart/1`, {
        method: 'POST',
        headers: { ...CANARY_USER, ...OCTET },
        body,
      });
      expect(json(res.body)).toMatchObject({
        served: 'upstream',
        sha: sha256(Buffer.isBuffer(body) ? body : Buffer.concat(body)),
      });
    }
    expect(upstream.received[1]!.headers['transfer-encoding']).toBe('chunked');
    expect(local.calls).toEqual([]);
    expect(await versionCount('canary', 'POST')).toBe(2);
  });

  it('streams a 50 MB upstream answer to the client whole', async () => {
    const upstream = await cleanup.server(serve((_req, res) => writeLarge(res, 50 * MiB, 5)));
    const { base } = await app(upstream.url);
    const res = await send(`${base}/base/cart/1`, { headers: CANARY_USER });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(50 * MiB));
    expect(sha256(res.body)).toBe(sha256(payload(50 * MiB, 5)));
  });

  it('waits for a 1 s slow upstream within its timeout and serves its answer', async () => {
    const upstream = await cleanup.server(
      serve(async (_req, res) => {
        await new Promise((r) => setTimeout(r, 1000));
        res.end('slow but fine');
      }),
    );
    const { base, canary } = await app({ url: upstream.url, timeoutMs: 5000 });
    const res = await send(`${base}/base/cart/1`, { headers: CANARY_USER });
    expect(res.body.toString()).toBe('slow but fine');
    expect(failovers(canary)).toBeUndefined();
  });
});

interface Failure {
  name: string;
  reason: FailoverReason;
  upstream: () => Promise<string>;
  timeoutMs?: number;
  /** What a POST gets: a gateway error, or the upstream's own 5xx passed through. */
  post: number;
}

const FAILURES: Failure[] = [
  { name: 'refusing', reason: 'connect', upstream: refusedUrl, post: 502 },
  {
    name: 'hung',
    reason: 'timeout',
    upstream: async () => (await cleanup.server(hungServer())).url,
    timeoutMs: 300,
    post: 504,
  },
  {
    name: 'resetting',
    reason: 'reset',
    upstream: async () => (await cleanup.server(resettingServer())).url,
    post: 502,
  },
  {
    name: 'answering garbage',
    reason: 'protocol',
    upstream: async () => (await cleanup.server(garbageServer())).url,
    post: 502,
  },
  {
    name: 'answering 503',
    reason: 'status_5xx',
    upstream: async () => (await echoUpstream(503)).url,
    post: 503,
  },
];

describe('failover', () => {
  it.each(FAILURES)(
    'upstream $name: GET and a buffered PUT are served by local stable; a POST is never replayed',
    async (failure) => {
      const url = await failure.upstream();
      const { base, canary, local, versionCount } = await app({
        url,
        timeoutMs: failure.timeoutMs ?? 5000,
        circuitBreaker: false,
      });
      const get = await send(`${base}/base/cart/3?x=y`, { headers: CANARY_USER });
      expect(get.status).toBe(200);
      expect(get.headers['x-served']).toBe('local-stable');
      expect(json(get.body)).toMatchObject({ served: 'local-stable', url: '/base/cart/3?x=y' });

      const body = payload(300_000, 77);
      const put = await send(`${base}/base/cart/3`, {
        method: 'PUT',
        headers: { ...CANARY_USER, ...OCTET },
        body,
      });
      expect(json(put.body)).toMatchObject({ served: 'local-stable', method: 'PUT', sha: sha256(body) });

      const post = await send(`${base}/base/cart/3`, {
        method: 'POST',
        headers: { ...CANARY_USER, ...OCTET },
        body,
      });
      expect(post.status).toBe(failure.post);
      if (failure.post !== 503) {
        expect(json(post.body)).toMatchObject({ statusCode: failure.post, code: 'CANARY_UPSTREAM_FAILED' });
      }
      // The local handler ran for the GET and the PUT, as stable, and never for the POST.
      expect(local.calls).toEqual([
        { version: 'stable', sha: sha256(Buffer.alloc(0)), isCanary: false },
        { version: 'stable', sha: sha256(body), isCanary: false },
      ]);
      expect(failovers(canary)?.[failure.reason]).toBe(2);
      expect(
        sampleValue(await scrape(base), 'canary_kit_upstream_failovers_total', {
          flag: FLAG,
          reason: failure.reason,
        }),
      ).toBe(2);
      expect(await versionCount('stable')).toBe(1);
      expect(await versionCount('stable', 'PUT')).toBe(1);
      expect(await versionCount('canary', 'POST')).toBe(1);
    },
  );

  it('streams an idempotent body over the buffer limit, so it is not replayed: the 503 is the answer', async () => {
    const upstream = await echoUpstream(503);
    const { base, local, canary } = await app({ url: upstream.url, circuitBreaker: false });
    const body = payload(2 * MiB, 8);
    const announced = await send(`${base}/base/cart/1`, {
      method: 'PUT',
      headers: { ...CANARY_USER, ...OCTET },
      body,
    });
    const chunks = Array.from({ length: 40 }, (_, i) => payload(64 * 1024, 100 + i));
    const chunked = await send(`${base}/base/cart/1`, {
      method: 'PUT',
      headers: { ...CANARY_USER, ...OCTET },
      body: chunks,
    });
    expect([announced.status, chunked.status]).toEqual([503, 503]);
    expect(upstream.received.map((r) => sha256(r.body))).toEqual([
      sha256(body),
      sha256(Buffer.concat(chunks)),
    ]);
    expect(local.calls).toEqual([]);
    expect(failovers(canary)).toBeUndefined();
  });

  it('fails a POST over when the circuit is open (nothing was sent): the local handler reads the untouched body', async () => {
    const url = await refusedUrl();
    const { base, canary, local } = await app({
      url,
      circuitBreaker: { failureThreshold: 1, cooldownMs: 60_000 },
    });
    const body = payload(500_000, 3);
    const first = await send(`${base}/base/cart/1`, {
      method: 'POST',
      headers: { ...CANARY_USER, ...OCTET },
      body,
    });
    expect(first.status).toBe(502);
    const second = await send(`${base}/base/cart/1`, {
      method: 'POST',
      headers: { ...CANARY_USER, ...OCTET },
      body,
    });
    expect(json(second.body)).toMatchObject({ served: 'local-stable', sha: sha256(body) });
    expect(failovers(canary)).toMatchObject({ connect: 0, circuit_open: 1 });
    expect(local.calls).toHaveLength(1);
  });
  it('warns once when a flag gains an upstream after the plugin was registered without any', async () => {
    const logs = new LogLines();
    const canary = cleanup.canary(createCanary({ flags: { [FLAG]: { percentage: 100 } } }));
    const server = cleanup.app(Fastify({ logger: { level: 'warn', stream: logs } }));
    server.register(canaryPlugin, { canary, context: () => ({ userId: 'u' }) });
    server.get('/x', { config: { canary: { flag: FLAG } } }, async (request) => ({
      canary: request.canary.isCanary(FLAG),
    }));
    const base = await listen(server);
    await canary.replaceConfig({ flags: { [FLAG]: { percentage: 100, upstream: 'http://127.0.0.1:9' } } });
    await canary.replaceConfig({ flags: { [FLAG]: { percentage: 100, upstream: 'http://127.0.0.1:10' } } });
    // Served locally (the decision is still canary), not proxied: the plugin installed no proxy hook.
    expect(json((await send(`${base}/x`)).body)).toEqual({ canary: true });
    expect(logs.matching('now names an upstream, but the Canary had none')).toBe(1);
  });
});
