/**
 * Shadow copies, raw body capture, response capture and upstream routing through @canary-kit/nestjs, on both
 * HTTP platforms, against real servers (well-behaved and misbehaving ones). `full` runs the whole matrix (the
 * Nest 12 file); otherwise a smoke set (one integrity size, one fault, upstream proxying and failover), which
 * the Nest 11 file runs. Like nest-suite.ts, it imports no Nest package: the test file passes them in.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import {
  type CanaryConfig,
  type Canary as CanaryType,
  createCanary,
  type Decision,
  type EvalContext,
  type MismatchEvent,
  Registry,
} from '@canary-kit/core';
import type * as NestCommon from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bigBodyServer,
  bigBodySha,
  garbageServer,
  hungServer,
  payload,
  type Received,
  readAll,
  refusedUrl,
  resettingServer,
  send,
  sendJson,
  serve,
  sha256,
  slowServer,
  type TestServer,
  until,
} from '../../../../test/helpers/servers.js';
import { parseMetrics, sampleValue } from './http.js';
import type { NestKit } from './nest-suite.js';

type Platform = 'express' | 'fastify';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The 3 MiB `GET /big` streams: what `bigBodyServer(BIG)` sends, in 64 KiB chunks. */
const BIG = 3 * MiB;

function context(req: { headers: Record<string, string | string[] | undefined> }): EvalContext {
  const id = req.headers['x-user-id'];
  return typeof id === 'string' ? { userId: id } : {};
}

const users = (prefix: string, n = 200) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** What the candidate answers: the primary's answers, except `price` 11 for item 2. */
function candidate(req: Received, res: import('node:http').ServerResponse): void {
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const path = req.url.split('?')[0]!;
  if (path === '/upload') json(201, { bytes: req.body.length, sha256: sha256(req.body) });
  else if (path.startsWith('/items/')) {
    const id = path.slice('/items/'.length);
    json(200, { id, price: id === '2' ? 11 : 10, requestId: `other-${id}` });
  } else json(200, {});
}

/** The upstream: echoes what it received, with headers a proxy must pass (and one it must not). */
function upstreamEcho(req: Received, res: import('node:http').ServerResponse): void {
  res.setHeader('x-upstream', '1');
  res.setHeader('connection', 'keep-alive, x-hop');
  res.setHeader('x-hop', 'must not reach the client');
  res.setHeader('set-cookie', 'up=1; Path=/');
  res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      served: 'upstream',
      method: req.method,
      url: req.url,
      headers: req.headers,
      bytes: req.body.length,
      sha256: sha256(req.body),
    }),
  );
}

export function exchangeSuite(kit: NestKit, { full }: { full: boolean }): void {
  const { Body, Controller, Get, Inject, Injectable, Module, Param, Post, Req, StreamableFile } = kit.common;
  const { CanaryDecision, CanaryFlag, CanaryGuard, CanaryModule, CanaryShadow, getRequestCanary } =
    kit.adapter;

  @Injectable()
  class Hits {
    local = 0;
    uploads = 0;
  }

  const rawOf = (req: unknown): IncomingMessage =>
    ((req as { raw?: IncomingMessage }).raw ?? req) as IncomingMessage;

  @Controller()
  class ExchangeController {
    constructor(@Inject(Hits) private readonly hits: Hits) {}

    @Get('items/:id')
    item(@Param('id') id: string) {
      return { id, price: 10, requestId: `r-${id}` };
    }

    /** Reads the body as the app would: Fastify's parsed Buffer, else the raw stream on Express. */
    @Post('upload')
    @CanaryShadow({ writes: true })
    async upload(@Req() req: { body?: unknown }) {
      const body = Buffer.isBuffer(req.body) ? req.body : await readAll(rawOf(req));
      this.hits.uploads++;
      return { bytes: body.length, sha256: sha256(body) };
    }

    @Post('no-writes')
    @CanaryShadow()
    noWrites() {
      return { ok: true };
    }

    @Post('json')
    @CanaryShadow({ writes: true })
    json(@Body() body: unknown) {
      return { parsed: body };
    }

    @Get('big')
    @CanaryShadow()
    big() {
      const bytes = payload(BIG);
      const chunks = Array.from({ length: BIG / (64 * KiB) }, (_, i) =>
        bytes.subarray(i * 64 * KiB, (i + 1) * 64 * KiB),
      );
      return new StreamableFile(Readable.from(chunks), { type: 'application/octet-stream', length: BIG });
    }

    @Get('up/:id')
    @CanaryFlag('beta')
    up(@Param('id') id: string, @CanaryDecision() decision: Decision, @Req() req: unknown) {
      this.hits.local++;
      return {
        served: 'local',
        id,
        version: decision.version,
        isCanary: getRequestCanary(req)?.isCanary('beta'),
      };
    }

    @Post('up')
    @CanaryFlag('beta')
    upPost() {
      this.hits.local++;
      return { served: 'local' };
    }

    @Get('guarded')
    @CanaryGuard('beta')
    guarded() {
      this.hits.local++;
      return { served: 'local-canary' };
    }
  }

  interface Running {
    readonly url: string;
    readonly canary: CanaryType;
    readonly hits: Hits;
    readonly registry: Registry;
  }

  const closers: (() => Promise<unknown>)[] = [];
  const servers: TestServer[] = [];
  afterEach(async () => {
    // The targets first: copies still in flight to a hung one then fail at once instead of holding the
    // Canary's close() for their timeout.
    for (const server of servers.splice(0)) await server.close();
    for (const close of closers.splice(0).reverse()) await close();
  });

  function track(server: TestServer): TestServer {
    servers.push(server);
    return server;
  }

  async function start(
    platform: Platform,
    config: CanaryConfig,
    options: { rawBody?: boolean } = {},
  ): Promise<Running> {
    const registry = new Registry();
    const canary = createCanary({ ...config, metrics: { registry } });
    closers.push(() => canary.close());

    @Module({
      imports: [CanaryModule.forRoot({ canary, context })],
      controllers: [ExchangeController],
      providers: [Hits],
    })
    class ExchangeModule {}

    let adapter: unknown;
    if (platform === 'express') adapter = new kit.express.ExpressAdapter();
    else {
      const fastify = new kit.fastify.FastifyAdapter({ bodyLimit: 64 * MiB });
      // Fastify answers 415 to a content type it has no parser for: the app reads binary uploads as Buffers.
      fastify
        .getInstance()
        .addContentTypeParser(
          'application/octet-stream',
          { parseAs: 'buffer', bodyLimit: 64 * MiB },
          (_req: unknown, body: Buffer, done: (error: null, body: Buffer) => void) => done(null, body),
        );
      adapter = fastify;
    }
    const app = await kit.core.NestFactory.create(
      ExchangeModule,
      adapter as NestCommon.INestApplication & never,
      {
        logger: false,
        abortOnError: false,
        rawBody: options.rawBody ?? false,
      },
    );
    closers.push(() => app.close());
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as import('node:net').AddressInfo;
    return { url: `http://127.0.0.1:${port}`, canary, hits: app.get(Hits), registry };
  }

  const shadowOf = (canary: CanaryType, name = 't') =>
    canary.stats().shadow[name] ?? {
      match: 0,
      mismatch: 0,
      error: 0,
      timeout: 0,
      dropped: 0,
      skipped: 0,
    };
  const settled = (canary: CanaryType, name = 't') => {
    const s = shadowOf(canary, name);
    return s.match + s.mismatch + s.error + s.timeout + s.dropped + s.skipped;
  };

  const failovers = (canary: CanaryType) =>
    Object.values(canary.stats().failovers.beta ?? {}).reduce((sum, n) => sum + n, 0);

  /** `n` users `flag` puts on the canary (or stable). */
  const pick = (canary: CanaryType, version: 'canary' | 'stable', n: number, prefix = 'u') =>
    users(prefix)
      .filter((userId) => canary.isCanary('beta', { userId }) === (version === 'canary'))
      .slice(0, n);

  const requestCount = async (registry: Registry, labels: Record<string, string>) =>
    sampleValue(parseMetrics(await registry.metrics()), 'http_request_duration_seconds_count', labels);

  /** GET /items/:id N times: every primary answer must be the handler's, whatever the shadow target does. */
  async function primariesIntact(url: string, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const answer = await sendJson(`${url}/items/${i}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ id: String(i), price: 10, requestId: `r-${i}` });
    }
  }

  describe(`NestJS ${kit.major}: shadow copies, body capture, upstream routing`, () => {
    for (const platform of ['express', 'fastify'] as const) {
      describe(`platform-${platform}`, () => {
        // ── body integrity ──────────────────────────────────────────────────────────────────────────

        const sizes: readonly [string, number][] = full
          ? [
              ['0 B', 0],
              ['1 KiB', KiB],
              ['1 MiB', MiB],
              ['10 MiB', 10 * MiB],
            ]
          : [['1 MiB', MiB]];
        const sizeNames = sizes.map(([name]) => name).join(', ');

        it(`uploads of ${sizeNames}${full ? ' and chunked' : ''} reach the handler byte-identical with shadow on; the copy carries the same bytes${full ? '; over maxBodyBytes it is skipped and counted' : ''}`, async () => {
          const target = track(await serve(candidate));
          const { url, canary, hits } = await start(platform, {
            shadow: { name: 't', target: target.url, methods: ['GET', 'POST'], circuitBreaker: false },
          });
          const cases = sizes.map(([name, size]) => ({
            name,
            bytes: payload(size, size + 1),
            chunked: false,
          }));
          if (full) {
            const chunks = Array.from({ length: 40 }, (_, i) => payload(7 * KiB, 100 + i));
            cases.push({ name: 'chunked', bytes: Buffer.concat(chunks), chunked: true });
            const sent = await send(`${url}/upload`, {
              method: 'POST',
              headers: { 'content-type': 'application/octet-stream' },
              body: chunks,
            });
            expect(sent.status).toBe(201);
            expect(JSON.parse(sent.body.toString())).toEqual({
              bytes: 40 * 7 * KiB,
              sha256: sha256(Buffer.concat(chunks)),
            });
          }
          for (const c of cases.filter((x) => !x.chunked)) {
            const answer = await sendJson(`${url}/upload`, {
              method: 'POST',
              headers: { 'content-type': 'application/octet-stream' },
              body: c.bytes,
            });
            expect(answer.status, c.name).toBe(201);
            expect(answer.body, c.name).toEqual({ bytes: c.bytes.length, sha256: sha256(c.bytes) });
          }
          expect(hits.uploads).toBe(cases.length);
          const mirrored = cases.filter((c) => c.bytes.length <= MiB);
          const over = cases.length - mirrored.length;
          await until(() => settled(canary) === cases.length, 'every copy settled');
          expect(shadowOf(canary)).toMatchObject({ match: mirrored.length, skipped: over, error: 0 });
          expect(target.received.map((r) => sha256(r.body)).sort()).toEqual(
            mirrored.map((c) => sha256(c.bytes)).sort(),
          );
          for (const r of target.received) {
            expect(r.method).toBe('POST');
            expect(r.headers['x-canary-kit-shadow']).toBe('1');
          }
        });

        if (full) {
          it('mirrors GETs with the captured primary response: a match, and a mismatch naming the field; credentials stripped', async () => {
            const target = track(await serve(candidate));
            const { url, canary } = await start(platform, {
              shadow: { name: 't', target: target.url, diff: { ignore: ['$.requestId'] } },
            });
            const mismatches: MismatchEvent[] = [];
            canary.on('mismatch', (event) => mismatches.push(event));
            const first = await sendJson(`${url}/items/1`, {
              headers: { authorization: 'Bearer secret', cookie: 'sid=1', 'x-user-id': 'u1' },
            });
            expect(first).toMatchObject({ status: 200, body: { id: '1', price: 10, requestId: 'r-1' } });
            await primariesIntact(url, 3);
            await until(() => settled(canary) === 4, 'the diffs');
            expect(shadowOf(canary)).toMatchObject({ match: 3, mismatch: 1 });
            expect(mismatches).toHaveLength(1);
            expect(mismatches[0]).toMatchObject({ route: '/items/:id', url: '/items/2', method: 'GET' });
            expect(mismatches[0]!.differences).toEqual([
              { path: '$.price', kind: 'changed', primary: 10, candidate: 11 },
            ]);
            const copy = target.received.find((r) => r.url === '/items/1')!;
            expect(copy.headers.authorization).toBeUndefined();
            expect(copy.headers.cookie).toBeUndefined();
            expect(copy.headers['x-user-id']).toBe('u1');
            expect(copy.headers['x-canary-kit-shadow']).toBe('1');
          });

          it("mirrors the routes bound to a flag in the target's `flags`, and no others", async () => {
            const target = track(await serve(candidate));
            const { url, canary } = await start(platform, {
              flags: { beta: { percentage: 50 } },
              shadow: { name: 't', target: target.url, flags: ['beta'] },
            });
            await primariesIntact(url, 2);
            for (const userId of ['a', 'b', 'c']) {
              const answer = await sendJson(`${url}/up/${userId}`, { headers: { 'x-user-id': userId } });
              expect(answer).toMatchObject({ status: 200, body: { served: 'local', id: userId } });
            }
            await until(() => settled(canary) === 3, 'the flag-bound copies');
            expect(target.received.map((r) => r.url).sort()).toEqual(['/up/a', '/up/b', '/up/c']);
          });

          it('@CanaryShadow() rejects bad targets and options at decoration time', () => {
            const { CanaryShadow: shadow } = kit.adapter;
            expect(() => shadow('')).toThrow(/@CanaryShadow\(\) takes a target name/);
            expect(() => shadow([])).toThrow(/@CanaryShadow\(\) takes a target name/);
            expect(() => shadow(['a', 3 as never])).toThrow(/@CanaryShadow\(\) takes a target name/);
            expect(() => shadow({ writes: 'yes' as never })).toThrow(/`writes` must be a boolean/);
            expect(() => shadow('a', null as never)).toThrow(/options must be an object/);
            expect(() => shadow(['a', 'b'], { writes: true })).not.toThrow();
          });

          it('mirrors a write only on a route opted in with `writes: true`', async () => {
            const target = track(await serve(candidate));
            const { url, canary } = await start(platform, {
              shadow: { name: 't', target: target.url, methods: ['GET', 'POST'] },
            });
            const body = payload(512);
            const headers = { 'content-type': 'application/octet-stream' };
            expect((await send(`${url}/no-writes`, { method: 'POST', headers, body })).status).toBe(201);
            expect((await send(`${url}/upload`, { method: 'POST', headers, body })).status).toBe(201);
            await until(() => settled(canary) === 1, 'the opted-in write');
            expect(target.received.map((r) => r.url)).toEqual(['/upload']);
          });

          it(
            platform === 'express'
              ? 'JSON bodies: with rawBody the copy carries the bytes the client sent; without it, one CANARY_KIT_BODY_PARSER_ORDER warning and the copies are skipped and counted, never re-serialized'
              : 'JSON bodies: the copy carries the bytes the client sent, captured before Fastify parses them (no rawBody needed, no warning)',
            async () => {
              const warnings: Error[] = [];
              const onWarning = (warning: Error) => warnings.push(warning);
              process.on('warning', onWarning);
              try {
                const text = '{ "a" :  1,\n  "list": [1, 2 ,3] }';
                const headers = { 'content-type': 'application/json' };
                const shadow = { name: 't', methods: ['GET', 'POST'], diff: { ignore: ['$.requestId'] } };
                const exact = track(await serve(candidate));
                const withRaw = await start(
                  platform,
                  { shadow: { ...shadow, target: exact.url } },
                  { rawBody: platform === 'express' },
                );
                for (let i = 0; i < 2; i++) {
                  const answer = await sendJson(`${withRaw.url}/json`, {
                    method: 'POST',
                    headers,
                    body: text,
                  });
                  expect(answer).toMatchObject({ status: 201, body: { parsed: JSON.parse(text) } });
                }
                await until(() => exact.received.length === 2, 'the JSON copies');
                expect(exact.received.map((r) => r.body.toString())).toEqual([text, text]);

                if (platform === 'express') {
                  const target = track(await serve(candidate));
                  const { url, canary } = await start(platform, {
                    shadow: { ...shadow, target: target.url },
                  });
                  for (let i = 0; i < 3; i++) {
                    const answer = await sendJson(`${url}/json`, { method: 'POST', headers, body: text });
                    expect(answer).toMatchObject({ status: 201, body: { parsed: JSON.parse(text) } });
                  }
                  await primariesIntact(url, 1);
                  await until(() => settled(canary) === 4, 'the copies');
                  expect(shadowOf(canary)).toMatchObject({ skipped: 3, match: 1 });
                  expect(target.received.map((r) => r.method)).toEqual(['GET']);
                }
                await new Promise((resolve) => setImmediate(resolve));
                const ours = warnings.filter(
                  (w) => (w as { code?: string }).code === kit.adapter.BODY_PARSER_ORDER_WARNING,
                );
                expect(ours).toHaveLength(platform === 'express' ? 1 : 0);
                if (ours[0]) expect(ours[0].message).toMatch(/rawBody: true/);
              } finally {
                process.off('warning', onWarning);
              }
            },
          );

          it('streams a response larger than maxResponseBytes to the client whole; its diff is skipped as truncated', async () => {
            const target = track(await bigBodyServer(BIG));
            const { url, canary } = await start(platform, {
              shadow: { name: 't', target: target.url, maxResponseBytes: 64 * KiB },
            });
            const answer = await send(`${url}/big`);
            expect(answer.status).toBe(200);
            expect(answer.body.length).toBe(BIG);
            expect(sha256(answer.body)).toBe(bigBodySha(BIG));
            await until(() => settled(canary) === 1, 'the diff');
            // Only the first 64 KiB of each side were kept: too little to call a match or a mismatch.
            expect(shadowOf(canary)).toMatchObject({ skipped: 1, match: 0, mismatch: 0, error: 0 });
          });

          // ── shadow target faults ───────────────────────────────────────────────────────────────────

          it('a 1 s slow shadow target: primaries answer before any copy is answered, then all match', async () => {
            let answered = 0;
            const slow = track(
              await slowServer(1_000, (req, res) => {
                answered++;
                candidate(req, res);
              }),
            );
            const { url, canary } = await start(platform, {
              shadow: { name: 't', target: slow.url, timeoutMs: 10_000, diff: { ignore: ['$.requestId'] } },
            });
            const seen = await Promise.all(
              [0, 1, 3].map(async (i) => {
                const answer = await sendJson(`${url}/items/${i}`);
                expect(answer.body).toEqual({ id: String(i), price: 10, requestId: `r-${i}` });
                return answered;
              }),
            );
            expect(seen).toEqual([0, 0, 0]);
            await until(() => shadowOf(canary).match === 3, 'the slow copies');
            expect(answered).toBe(3);
          });

          for (const [fault, make] of [
            ['resetting connections', resettingServer],
            ['answering garbage', garbageServer],
          ] as const) {
            it(`a shadow target ${fault}: primaries intact, every copy counted as an error`, async () => {
              const bad = track(await make());
              const { url, canary } = await start(platform, {
                shadow: { name: 't', target: bad.url, circuitBreaker: false },
              });
              await primariesIntact(url, 5);
              await until(() => settled(canary) === 5 && canary.shadows[0]!.inFlight === 0, 'the errors');
              expect(shadowOf(canary)).toMatchObject({ error: 5, dropped: 0, match: 0 });
              expect(bad.arrived()).toBe(5);
            });
          }

          it('a shadow target refusing connections: primaries intact, every copy counted as an error', async () => {
            const { url, canary } = await start(platform, {
              shadow: { name: 't', target: await refusedUrl(), circuitBreaker: false },
            });
            await primariesIntact(url, 5);
            await until(() => settled(canary) === 5 && canary.shadows[0]!.inFlight === 0, 'the errors');
            expect(shadowOf(canary)).toMatchObject({ error: 5, dropped: 0 });
          });

          it('a shadow target answering 50 MB: primaries intact, read up to maxResponseBytes, a truncated mismatch', async () => {
            const big = track(await bigBodyServer(50 * MiB));
            const { url, canary } = await start(platform, {
              shadow: { name: 't', target: big.url, circuitBreaker: false },
            });
            await primariesIntact(url, 2);
            await until(() => settled(canary) === 2 && canary.shadows[0]!.inFlight === 0, 'the diffs');
            expect(shadowOf(canary)).toMatchObject({ mismatch: 2, error: 0, dropped: 0 });
          });
        }

        // In both sets, the smoke set with fewer copies.
        const [maxInFlight, primaries] = full ? [4, 10] : [2, 5];
        it('a hung shadow target never delays a primary: copies past maxInFlight are dropped, exactly', async () => {
          const hung = track(await hungServer());
          const { url, canary } = await start(platform, {
            shadow: { name: 't', target: hung.url, maxInFlight, timeoutMs: 60_000, circuitBreaker: false },
          });
          await primariesIntact(url, primaries);
          // Every primary answered while the target holds maxInFlight copies unanswered.
          expect(canary.shadows[0]!.inFlight).toBe(maxInFlight);
          expect(shadowOf(canary)).toMatchObject({
            dropped: primaries - maxInFlight,
            match: 0,
            error: 0,
            timeout: 0,
          });
          await until(() => hung.arrived() === maxInFlight, 'the hung copies to arrive');
        });

        // ── upstream routing ────────────────────────────────────────────────────────────────────────

        const upstreamConfig = (url: string, extra: Record<string, unknown> = {}): CanaryConfig => ({
          flags: { beta: { percentage: 50, upstream: { url, circuitBreaker: false, ...extra } } },
        });

        it('proxies the canary share of a flag-bound route to its upstream (X-Forwarded-*, hop-by-hop removed, labelled canary); stable is served locally', async () => {
          const upstream = track(await serve(upstreamEcho));
          const { url, canary, hits, registry } = await start(platform, upstreamConfig(upstream.url));
          const host = new URL(url).host;
          const canaries = pick(canary, 'canary', 3);
          const stables = pick(canary, 'stable', 3);
          for (const userId of canaries) {
            const answer = await sendJson(`${url}/up/${userId}?q=1`, {
              headers: { 'x-user-id': userId, 'x-forwarded-for': '10.0.0.9' },
            });
            expect(answer.status).toBe(200);
            expect(answer.body).toMatchObject({
              served: 'upstream',
              method: 'GET',
              url: `/up/${userId}?q=1`,
            });
            expect(answer.body.headers).toMatchObject({
              'x-forwarded-for': '10.0.0.9, 127.0.0.1',
              'x-forwarded-proto': 'http',
              'x-forwarded-host': host,
              host: new URL(upstream.url).host,
              'x-user-id': userId,
            });
            expect(answer.headers['x-upstream']).toBe('1');
            expect(answer.headers['x-hop']).toBeUndefined();
            expect(answer.headers['set-cookie']).toEqual(['up=1; Path=/']);
          }
          for (const userId of stables) {
            const answer = await sendJson(`${url}/up/${userId}`, { headers: { 'x-user-id': userId } });
            expect(answer).toMatchObject({ status: 200, body: { served: 'local', version: 'stable' } });
          }
          expect(hits.local).toBe(stables.length);
          expect(upstream.received).toHaveLength(canaries.length);
          const labels = { method: 'GET', route: '/up/:id', status_code: '200' };
          expect(await requestCount(registry, { ...labels, version: 'canary' })).toBe(canaries.length);
          expect(await requestCount(registry, { ...labels, version: 'stable' })).toBe(stables.length);
          expect(failovers(canary)).toBe(0);
        });

        it('fails over to the local stable handler when the upstream refuses: counted, labelled stable, the decision says stable', async () => {
          const { url, canary, hits, registry } = await start(platform, upstreamConfig(await refusedUrl()));
          const canaries = pick(canary, 'canary', 3);
          for (const userId of canaries) {
            const answer = await sendJson(`${url}/up/${userId}`, { headers: { 'x-user-id': userId } });
            expect(answer).toMatchObject({
              status: 200,
              body: { served: 'local', id: userId, version: 'stable', isCanary: false },
            });
          }
          expect(hits.local).toBe(3);
          expect(canary.stats().failovers.beta).toMatchObject({ connect: 3 });
          const labels = { method: 'GET', route: '/up/:id', status_code: '200' };
          expect(await requestCount(registry, { ...labels, version: 'stable' })).toBe(3);
          expect(await requestCount(registry, { ...labels, version: 'canary' })).toBe(0);
          const metrics = parseMetrics(await registry.metrics());
          expect(
            sampleValue(metrics, 'canary_kit_upstream_failovers_total', { flag: 'beta', reason: 'connect' }),
          ).toBe(3);
        });

        if (!full) return;

        it('@CanaryGuard route bound to an upstream flag: canary requests proxied, stable ones 404 without reaching it', async () => {
          const upstream = track(await serve(upstreamEcho));
          const { url, canary, hits } = await start(platform, upstreamConfig(upstream.url));
          for (const userId of pick(canary, 'canary', 2)) {
            const answer = await sendJson(`${url}/guarded`, { headers: { 'x-user-id': userId } });
            expect(answer).toMatchObject({ status: 200, body: { served: 'upstream', url: '/guarded' } });
          }
          for (const userId of pick(canary, 'stable', 2)) {
            expect((await sendJson(`${url}/guarded`, { headers: { 'x-user-id': userId } })).status).toBe(404);
          }
          expect(upstream.received).toHaveLength(2);
          expect(hits.local).toBe(0);

          // No local stable handler exists for a canary-only route: on failover it answers as for stable.
          const down = await start(platform, upstreamConfig(await refusedUrl()));
          const [userId] = pick(down.canary, 'canary', 1);
          expect((await sendJson(`${down.url}/guarded`, { headers: { 'x-user-id': userId! } })).status).toBe(
            404,
          );
          expect(down.canary.stats().failovers.beta).toMatchObject({ connect: 1 });
          expect(down.hits.local).toBe(0);
        });

        it('forwards request bodies exactly: JSON as sent, 1 MiB binary', async () => {
          const upstream = track(await serve(upstreamEcho));
          const { url, canary, hits } = await start(platform, upstreamConfig(upstream.url), {
            rawBody: platform === 'express',
          });
          const [userId] = pick(canary, 'canary', 1);
          const text = '{ "order" : 42,\n "items": [ 1,2 ] }';
          const json = await sendJson(`${url}/up`, {
            method: 'POST',
            headers: { 'x-user-id': userId!, 'content-type': 'application/json' },
            body: text,
          });
          expect(json).toMatchObject({ status: 201, body: { served: 'upstream', sha256: sha256(text) } });
          const bytes = payload(MiB, 5);
          const binary = await sendJson(`${url}/up`, {
            method: 'POST',
            headers: { 'x-user-id': userId!, 'content-type': 'application/octet-stream' },
            body: bytes,
          });
          expect(binary).toMatchObject({ status: 201, body: { bytes: MiB, sha256: sha256(bytes) } });
          expect(hits.local).toBe(0);
        });

        it(
          platform === 'express'
            ? 'without rawBody a parsed JSON canary request is served locally by stable (counted), never sent re-serialized'
            : 'a body past the 1 MiB capture on Fastify (already parsed) is served locally by stable (counted), never sent truncated',
          async () => {
            const upstream = track(await serve(upstreamEcho));
            const { url, canary, hits } = await start(platform, upstreamConfig(upstream.url));
            const [userId] = pick(canary, 'canary', 1);
            const answer =
              platform === 'express'
                ? await sendJson(`${url}/up`, {
                    method: 'POST',
                    headers: { 'x-user-id': userId!, 'content-type': 'application/json' },
                    body: '{"a":1}',
                  })
                : await sendJson(`${url}/up`, {
                    method: 'POST',
                    headers: { 'x-user-id': userId!, 'content-type': 'application/octet-stream' },
                    body: payload(2 * MiB),
                  });
            expect(answer).toMatchObject({ status: 201, body: { served: 'local' } });
            expect(hits.local).toBe(1);
            expect(upstream.received).toHaveLength(0);
            expect(canary.stats().failovers.beta).toMatchObject({ body_unavailable: 1 });
          },
        );

        for (const [fault, make, reason, extra] of [
          ['hung', hungServer, 'timeout', { timeoutMs: 300 }],
          ['resetting connections', resettingServer, 'reset', {}],
          ['answering garbage', garbageServer, 'protocol', {}],
          [
            'answering 503',
            () =>
              serve((_req, res) => {
                res.writeHead(503);
                res.end('down');
              }),
            'status_5xx',
            {},
          ],
        ] as const) {
          it(`an upstream ${fault}: idempotent canary requests fail over to stable (reason ${reason})`, async () => {
            const bad = track(await make());
            const { url, canary, hits } = await start(platform, upstreamConfig(bad.url, extra));
            const answers = await Promise.all(
              pick(canary, 'canary', 3).map((userId) =>
                sendJson(`${url}/up/${userId}`, { headers: { 'x-user-id': userId } }),
              ),
            );
            for (const answer of answers) {
              expect(answer).toMatchObject({ status: 200, body: { served: 'local', version: 'stable' } });
            }
            expect(hits.local).toBe(3);
            expect(canary.stats().failovers.beta).toMatchObject({ [reason]: 3 });
            await until(() => bad.arrived() === 3, 'the 3 attempts');
          });
        }

        for (const [fault, make, status, extra] of [
          ['resets', resettingServer, 502, {}],
          ['hangs', hungServer, 504, { timeoutMs: 300 }],
        ] as const) {
          it(`a non-idempotent canary request whose upstream ${fault} gets ${status}: never replayed, no failover`, async () => {
            const bad = track(await make());
            const { url, canary, hits } = await start(platform, upstreamConfig(bad.url, extra), {
              rawBody: platform === 'express',
            });
            const [userId] = pick(canary, 'canary', 1);
            const answer = await sendJson(`${url}/up`, {
              method: 'POST',
              headers: { 'x-user-id': userId!, 'content-type': 'application/json' },
              body: '{"pay":1}',
            });
            expect(answer.status).toBe(status);
            expect(answer.body.message).toMatch(/never replayed/);
            expect(hits.local).toBe(0);
            expect(bad.arrived()).toBe(1);
            expect(failovers(canary)).toBe(0);
          });
        }

        it('a 1 s slow upstream is waited for (within timeoutMs); a 50 MB answer streams through whole', async () => {
          const slow = track(await slowServer(1_000, upstreamEcho));
          const big = track(await bigBodyServer(50 * MiB));
          const config: CanaryConfig = {
            flags: {
              beta: { percentage: 50, upstream: { url: slow.url, timeoutMs: 10_000, circuitBreaker: false } },
            },
          };
          const { url, canary } = await start(platform, config);
          const [userId] = pick(canary, 'canary', 1);
          const answer = await sendJson(`${url}/up/${userId}`, { headers: { 'x-user-id': userId! } });
          expect(answer).toMatchObject({ status: 200, body: { served: 'upstream' } });

          const second = await start(platform, upstreamConfig(big.url));
          const [other] = pick(second.canary, 'canary', 1);
          const whole = await send(`${second.url}/up/${other}`, { headers: { 'x-user-id': other! } });
          expect(whole.status).toBe(200);
          expect(whole.headers['content-length']).toBe(String(50 * MiB));
          expect(whole.body.length).toBe(50 * MiB);
          expect(sha256(whole.body)).toBe(bigBodySha(50 * MiB));
          expect(second.hits.local).toBe(0);
        });
      });
    }
  });
}
